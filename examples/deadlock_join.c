/*
 * deadlock_join.c - a deadlock between pthread_join and a mutex (hangs
 * without lockwatch).
 *
 * The main thread locks `state` and joins the worker thread while still
 * holding it; the worker, to finish, needs `state`.  The main thread waits
 * for the worker to end, the worker waits for the main thread to unlock.
 * The worker is started only after main holds `state`, so it always blocks.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result:
 *  - at once, a `blocking-call-under-lock` report: pthread_join() (family
 *    "wait") called while holding `state` (unless LOCKWATCH_BLOCKING
 *    excludes "wait");
 *  - after LOCKWATCH_DEADLOCK_MS, one `deadlock` report: T0 joins T1 while
 *    holding "state", T1 waits for "state" held by T0; then
 *    LOCKWATCH_ON_DEADLOCK (default: exit 66).
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t state = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&state); /* held by main, which is joining us */
    counter++;
    pthread_mutex_unlock(&state);
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&state, "state");
    printf("deadlock_join: starting\n");
    fflush(stdout);
    pthread_mutex_lock(&state);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL); /* waits for a thread that waits for us */
    pthread_mutex_unlock(&state);
    printf("deadlock_join: not reached (counter=%d)\n", counter);
    return 0;
}
