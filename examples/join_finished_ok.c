/*
 * join_finished_ok.c - joining, with a mutex held, a thread that has
 * already finished its work.
 *
 * The worker records its result under results_lock and returns.  Later the
 * main thread, holding results_lock, reads the result and joins the worker.
 * By then the worker has long returned from its start routine (the main
 * thread first waits 300 ms), so the join does not wait for any of the
 * program's code: it only reaps a thread that is exiting or gone.
 *
 * Expected lockwatch result: nothing.  (A join of a thread still running
 * its start routine, with a lock held, is a blocking-call-under-lock: see
 * deadlock_join.c; and a join cycle when that thread took the lock: see
 * join_cycle.c.  A thread that has returned is only reaped.)
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t results_lock = PTHREAD_MUTEX_INITIALIZER;
static int result; /* guarded by results_lock */

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&results_lock);
    result = 42;
    pthread_mutex_unlock(&results_lock);
    return NULL;
}

int main(void)
{
    pthread_t t;
    int seen;

    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    usleep(300000); /* not under a lock */
    pthread_mutex_lock(&results_lock);
    seen = result;
    pthread_join(t, NULL); /* the worker has finished: not a blocking wait */
    pthread_mutex_unlock(&results_lock);
    printf("join_finished_ok: result %d\n", seen);
    return seen == 42 ? 0 : 1;
}
