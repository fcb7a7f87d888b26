/*
 * copied_mutex.c - a mutex copied byte for byte after it was used, and a
 * lock-order inversion through the copy.
 *
 * Copying a pthread_mutex_t is not allowed by POSIX, but programs do it
 * (struct assignment of an object that embeds an unlocked mutex).  lockwatch
 * keeps a hint to its bookkeeping inside glibc's mutex (see lockwatch(7),
 * "Cost"); the copy carries the original's hint, which must not make
 * lockwatch confuse the two mutexes.
 *
 * `orig` is initialised and used; `copy` is a byte copy of it.  T1 takes
 * copy then other; T2 (after T1 ended) takes other then copy: an inversion
 * between copy and other.  orig is taken before other in both threads: no
 * cycle through orig.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report over
 * two locks, `copy` and `other` (their addresses are printed on stdout), and
 * never `orig`; exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t orig, copy;
static pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;

static void *take_copy_then_other(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&copy);
    pthread_mutex_lock(&other);
    pthread_mutex_unlock(&other);
    pthread_mutex_unlock(&copy);
    pthread_mutex_lock(&orig);
    pthread_mutex_lock(&other);
    pthread_mutex_unlock(&other);
    pthread_mutex_unlock(&orig);
    return NULL;
}

static void *take_other_then_copy(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&other);
    pthread_mutex_lock(&copy);
    pthread_mutex_unlock(&copy);
    pthread_mutex_unlock(&other);
    return NULL;
}

int main(void)
{
    pthread_t t;

    pthread_mutex_init(&orig, NULL);
    pthread_mutex_lock(&orig);
    pthread_mutex_unlock(&orig);
    memcpy(&copy, &orig, sizeof(copy));
    printf("copy=%p other=%p orig=%p\n", (void *)&copy, (void *)&other, (void *)&orig);
    fflush(stdout);
    if (pthread_create(&t, NULL, take_copy_then_other, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    if (pthread_create(&t, NULL, take_other_then_copy, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("copied_mutex: done\n");
    return 0;
}
