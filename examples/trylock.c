/*
 * trylock.c - a reversed order that uses trylock and backs off.
 *
 * Thread 1 locks a then b.  Thread 2 locks b and then only *tries* to lock a
 * with pthread_mutex_trylock; if a is busy (EBUSY) it releases b, yields and
 * starts again.  A trylock never blocks, so thread 2 can never wait while
 * holding b, and the opposite orders cannot deadlock.
 *
 * The program first runs the two threads one after the other (so the trylock
 * certainly succeeds), then runs them concurrently for a while.
 *
 * Expected lockwatch result: no report, exit status 0.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 1000

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static long work_done; /* guarded by lock_a and lock_b together */

static void *lock_a_then_b(void *arg)
{
    int rounds = *(int *)arg;
    int i;

    for (i = 0; i < rounds; i++) {
        pthread_mutex_lock(&lock_a);
        pthread_mutex_lock(&lock_b); /* a -> b */
        work_done++;
        pthread_mutex_unlock(&lock_b);
        pthread_mutex_unlock(&lock_a);
    }
    return NULL;
}

static void *lock_b_then_try_a(void *arg)
{
    int rounds = *(int *)arg;
    int i;

    for (i = 0; i < rounds; i++) {
        for (;;) {
            int rc;

            pthread_mutex_lock(&lock_b);
            rc = pthread_mutex_trylock(&lock_a); /* b -> a, but never blocks */
            if (rc == 0)
                break;
            pthread_mutex_unlock(&lock_b);
            if (rc != EBUSY)
                return NULL; /* cannot happen with a normal mutex */
            sched_yield(); /* EBUSY: back off, let the other thread finish, retry */
        }
        work_done++;
        pthread_mutex_unlock(&lock_a);
        pthread_mutex_unlock(&lock_b);
    }
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;
    int once = 1, many = ROUNDS;

    /* Phase 1: one after the other. */
    if (pthread_create(&t1, NULL, lock_a_then_b, &once) != 0)
        return 1;
    pthread_join(t1, NULL);
    if (pthread_create(&t2, NULL, lock_b_then_try_a, &once) != 0)
        return 1;
    pthread_join(t2, NULL);

    /* Phase 2: concurrently; the back-off makes it safe. */
    if (pthread_create(&t1, NULL, lock_a_then_b, &many) != 0)
        return 1;
    if (pthread_create(&t2, NULL, lock_b_then_try_a, &many) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    printf("trylock: %ld units of work, no deadlock possible\n", work_done);
    return work_done == 2 + 2 * ROUNDS ? 0 : 1;
}
