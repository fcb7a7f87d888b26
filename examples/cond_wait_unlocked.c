/*
 * cond_wait_unlocked.c - waiting on a condition variable without holding
 * its mutex (terminates without lockwatch).
 *
 * poll_ready() forgot to lock `mtx` before pthread_cond_timedwait(&cv,
 * &mtx, ...).  The wait is supposed to release the mutex atomically with
 * going to sleep; here there is nothing to release, so a signal sent
 * between the caller's check of `ready` and the wait is lost.  (Also, the
 * wait returns with `mtx` locked, so the caller has to unlock it.)  The
 * waits time out after 10 ms; poll_ready runs ROUNDS times at one site.
 *
 * Expected lockwatch result: exactly one `cond-wait-unlocked` report (once
 * for the call site although it runs ROUNDS times) naming the mutex "mtx";
 * exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 3

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

__attribute__((noinline)) static int poll_ready(void)
{
    struct timespec ts;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    /* BUG: mtx is not locked here */
    pthread_cond_timedwait(&cv, &mtx, &ts);
    r = ready;
    pthread_mutex_unlock(&mtx); /* the wait returned with mtx locked */
    return r;
}

static void *worker(void *arg)
{
    int i, seen = 0;

    (void)arg;
    for (i = 0; i < ROUNDS; i++)
        seen += poll_ready();
    return (void *)(long)seen;
}

int main(void)
{
    pthread_t t;
    void *seen;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&mtx, "mtx");
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, &seen);
    printf("cond_wait_unlocked: %d polls, ready seen %ld times\n", ROUNDS, (long)seen);
    return 0;
}
