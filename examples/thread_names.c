/*
 * thread_names.c - threads named three ways, and one not at all, in one
 * lock-order cycle.
 *
 * T1 is named "by-creator" by main with pthread_setname_np right after
 * pthread_create (it waits until that is done); T2 names itself "by-prctl"
 * with prctl(PR_SET_NAME); T3 never gets a name, so the kernel shows the
 * name it inherited, the program's.  They run one after another (no hang)
 * and take lock_a -> lock_b, lock_b -> lock_c, lock_c -> lock_a.
 *
 * Expected lockwatch result: one `lock-order-inversion` through three
 * threads, named "by-creator" and "by-prctl", the third with no name (JSON
 * null, no name in the text), never "thread_names".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;
static atomic_int named;

static void take(pthread_mutex_t *first, pthread_mutex_t *second)
{
    pthread_mutex_lock(first);
    pthread_mutex_lock(second);
    pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
}

static void *named_by_creator(void *arg)
{
    (void)arg;
    while (!atomic_load(&named))
        ;
    take(&lock_a, &lock_b);
    return NULL;
}

static void *named_by_prctl(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "by-prctl", 0, 0, 0);
    take(&lock_b, &lock_c);
    return NULL;
}

static void *unnamed(void *arg)
{
    (void)arg;
    take(&lock_c, &lock_a);
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, named_by_creator, NULL) != 0)
        return 1;
    pthread_setname_np(t, "by-creator");
    atomic_store(&named, 1);
    pthread_join(t, NULL);
    if (pthread_create(&t, NULL, named_by_prctl, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    if (pthread_create(&t, NULL, unnamed, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("thread_names: done\n");
    return 0;
}
