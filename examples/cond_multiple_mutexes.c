/*
 * cond_multiple_mutexes.c - one condition variable used with two different
 * mutexes at the same time (terminates without lockwatch).
 *
 * Thread W1 waits on `cv` with mutex `m1`; while it is waiting, thread W2
 * waits on the same `cv` with mutex `m2`.  POSIX leaves that undefined (a
 * condvar is bound to one mutex while it has waiters): the predicate of
 * each waiter is protected by a different lock than the other's.  The main
 * thread then sets `done` under both mutexes and broadcasts.  Each waiter
 * announces that it is about to wait under its own mutex, so when main has
 * seen the announcement through that mutex the thread is in the wait.  The
 * whole sequence runs ROUNDS times (same call sites).
 *
 * Expected lockwatch result: exactly one `cond-multiple-mutexes` report, for
 * W2's wait, naming "m2" (the mutex of this wait) and "m1" (the mutex other
 * waiters use); exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m2 = PTHREAD_MUTEX_INITIALIZER;
static int done;        /* written under m1 and m2, read under either */
static int waiting1;    /* under m1 */
static int waiting2;    /* under m2 */

static void *waiter1(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m1);
    waiting1 = 1;
    while (!done)
        pthread_cond_wait(&cv, &m1);
    waiting1 = 0;
    pthread_mutex_unlock(&m1);
    return NULL;
}

static void *waiter2(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m2);
    waiting2 = 1;
    while (!done)
        pthread_cond_wait(&cv, &m2); /* cv already has a waiter using m1 */
    waiting2 = 0;
    pthread_mutex_unlock(&m2);
    return NULL;
}

static void wait_until_waiting(pthread_mutex_t *m, int *flag)
{
    for (;;) {
        int w;

        pthread_mutex_lock(m);
        w = *flag;
        pthread_mutex_unlock(m);
        if (w)
            return;
        sched_yield();
    }
}

int main(void)
{
    pthread_t w1, w2;
    int r;

    if (lockwatch_name_lock) {
        lockwatch_name_lock(&m1, "m1");
        lockwatch_name_lock(&m2, "m2");
    }
    for (r = 0; r < ROUNDS; r++) {
        done = 0;
        if (pthread_create(&w1, NULL, waiter1, NULL) != 0)
            return 1;
        wait_until_waiting(&m1, &waiting1);
        if (pthread_create(&w2, NULL, waiter2, NULL) != 0)
            return 1;
        wait_until_waiting(&m2, &waiting2);
        pthread_mutex_lock(&m1);
        pthread_mutex_lock(&m2);
        done = 1;
        pthread_mutex_unlock(&m2);
        pthread_mutex_unlock(&m1);
        pthread_cond_broadcast(&cv);
        pthread_join(w1, NULL);
        pthread_join(w2, NULL);
    }
    printf("cond_multiple_mutexes: %d rounds done\n", ROUNDS);
    return 0;
}
