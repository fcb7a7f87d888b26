/*
 * cancel_cond_ok.c - a thread cancelled while it waits on a condition
 * variable, with a cleanup handler that unlocks the mutex: correct use
 * (terminates without lockwatch).
 *
 * waiter() locks `lock`, pushes a cleanup handler that unlocks it, and
 * waits on `cv` for a flag that is never set.  The main thread makes sure
 * it is waiting, cancels it and joins it.  pthread_cond_wait is a
 * cancellation point that re-acquires the mutex before the cleanup
 * handlers run, so the handler's unlock leaves the thread holding nothing.
 * ROUNDS times.
 *
 * Expected lockwatch result: no report (in particular no
 * exit-holding-lock), exit status 0, the same output.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int never;    /* under lock: never set */
static int waiting;  /* under lock */

static void unlock_it(void *m)
{
    pthread_mutex_unlock(m);
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    pthread_cleanup_push(unlock_it, &lock);
    waiting = 1;
    while (!never)
        pthread_cond_wait(&cv, &lock); /* cancelled here */
    pthread_cleanup_pop(1);
    return NULL;
}

int main(void)
{
    pthread_t t;
    void *res;
    int i, cancelled = 0;

    for (i = 0; i < ROUNDS; i++) {
        int w = 0;

        waiting = 0;
        if (pthread_create(&t, NULL, waiter, NULL) != 0)
            return 1;
        while (!w) {
            pthread_mutex_lock(&lock);
            w = waiting; /* set before the wait released the mutex */
            pthread_mutex_unlock(&lock);
            if (!w)
                sched_yield();
        }
        pthread_cancel(t);
        pthread_join(t, &res);
        cancelled += res == PTHREAD_CANCELED;
    }
    /* The mutex is free again: the cleanup handlers released it. */
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    printf("cancel_cond_ok: %d of %d waiters cancelled\n", cancelled, ROUNDS);
    return cancelled == ROUNDS ? 0 : 1;
}
