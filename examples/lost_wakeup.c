/*
 * lost_wakeup.c - a lost wake-up: the signal comes before the wait (hangs
 * without lockwatch).
 *
 * The main thread starts a worker that prepares a result and signals
 * `ready`; then the main thread waits on `ready`.  The wait is not guarded
 * by a predicate (the bug): the worker has already signalled and ended
 * before the main thread waits, so nothing will ever wake it.  It is no
 * wait-for cycle of locks: one thread is left, waiting for a thread that is
 * gone.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: after LOCKWATCH_DEADLOCK_MS, one `deadlock`
 * report: all 1 thread is asleep, T0 waits on the condition variable
 * `ready` (with mutex `lock`) and no thread is left to signal it; then
 * LOCKWATCH_ON_DEADLOCK (default: exit 66).  No `lost-wakeup` report: the
 * signal comes before the main thread takes the mutex (and before any wait
 * on `ready`), so the main thread could have seen `result`; its bug is the
 * wait without a condition loop, which the `deadlock` shows
 * (lost_wakeup_window.c is the lost wake-up lockwatch reports as such).
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int result;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    result = 42;
    pthread_cond_signal(&ready);   /* nobody waits yet: lost */
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);   /* the worker is done, and so is its signal */
    pthread_mutex_lock(&lock);
    pthread_cond_wait(&ready, &lock);   /* BUG: no `while (!result)` */
    printf("result %d\n", result);
    pthread_mutex_unlock(&lock);
    return 0;
}
