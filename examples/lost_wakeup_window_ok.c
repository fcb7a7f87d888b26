/*
 * lost_wakeup_window_ok.c - lost_wakeup_window.c done right (terminates
 * without lockwatch).
 *
 * The same three rounds, the same slow round 3 (the main thread works
 * 200 ms with `lock` held between its check of `done` and its wait), but
 * the notifier takes `lock` to set `done`: it waits for the main thread's
 * wait to release the lock, so its signal finds the waiter.  The signal is
 * sent under the lock (default, or `under`) or after the unlock (`after`:
 * legal, and what Helgrind calls "dubious").
 *
 * Expected lockwatch result: no report, exit status 0, the same output
 * ("round N: woken" three times).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int done;   /* under lock */
static int after;  /* signal after the unlock */

/* Computes for ms milliseconds (a slow step of the critical section; not
 * a sleep, which lockwatch would report as a blocking call under a lock). */
static void busy(long ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void *notifier(void *arg)
{
    int r = (int)(size_t)arg;
    usleep(100 * 1000);
    pthread_mutex_lock(&lock);
    done = r;
    if (!after)
        pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    if (after)
        pthread_cond_signal(&ready);
    return NULL;
}

int main(int argc, char **argv)
{
    after = argc > 1 && strcmp(argv[1], "after") == 0;

    for (int r = 1; r <= 3; r++) {
        pthread_t t;
        int timed_out = 0;
        if (pthread_create(&t, NULL, notifier, (void *)(size_t)r) != 0)
            return 1;
        pthread_mutex_lock(&lock);
        while (done < r) {
            if (r == 3)
                busy(200);        /* the same window: checked, not yet waiting */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&ready, &lock, &until) == ETIMEDOUT)
                timed_out = 1;
        }
        pthread_mutex_unlock(&lock);
        pthread_join(t, NULL);
        printf("round %d: %s\n", r, timed_out ? "timed out (the wake-up was lost)" : "woken");
    }
    return 0;
}
