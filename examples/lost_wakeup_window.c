/*
 * lost_wakeup_window.c - a lost wake-up in the waiter's window: the
 * condition is set and the condvar signalled without the mutex, between the
 * waiter's check of the condition and its wait.
 *
 * Three rounds.  In round r the main thread starts a notifier thread, which
 * sleeps 100 ms, sets `done` to r and signals `ready` WITHOUT taking `lock`
 * (the bug); the main thread, holding `lock`, waits on `ready` until `done`
 * reaches r, in a loop that re-checks it.  Rounds 1 and 2: the main thread
 * is already waiting when the signal comes, which wakes it.  Round 3: the
 * main thread is slow between its check and its wait (200 ms of work with
 * the lock held), the notifier signals at 100 ms, while the
 * main thread holds `lock` and nobody waits: the signal is lost, and the
 * wait sleeps until its timeout (1 s); then the loop sees `done` and goes
 * on.  Had the notifier held `lock` to set `done` and signal, the signal
 * could not have fallen into the window (lost_wakeup_window_ok.c).
 *
 * With the argument `hang` the waits are untimed: round 3 then hangs.
 * THAT MODE HANGS WITHOUT LOCKWATCH.  With `resignal` the notifier signals
 * a second time 300 ms after the first, which wakes round 3's wait: the
 * first signal was lost all the same, but nothing came of it.
 *
 * Expected lockwatch result: one `lost-wakeup` report naming the main
 * thread's wait (mutex `lock` held since before the signal) and the
 * notifier's pthread_cond_signal, when the round-3 wait times out; the
 * program goes on and prints the same as without lockwatch; exit status 66.
 * `hang`: after LOCKWATCH_DEADLOCK_MS, the same `lost-wakeup` report, then
 * the all-threads-asleep `deadlock` report, then LOCKWATCH_ON_DEADLOCK
 * (default: exit 66).  `resignal`: no report (a wait that is woken is never
 * reported), exit status 0.
 *
 * Helgrind and DRD: see README.md, "Lost wake-ups".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int done; /* BUG: written without `lock` (atomically, so no data race) */
static int resignal; /* `resignal`: the notifier signals a second time */

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
    __atomic_store_n(&done, r, __ATOMIC_RELEASE); /* BUG: not under `lock` */
    pthread_cond_signal(&ready);                  /* round 3: nobody waits yet */
    if (resignal) {
        usleep(300 * 1000);
        pthread_cond_signal(&ready);              /* round 3: wakes the wait */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int hang = argc > 1 && strcmp(argv[1], "hang") == 0;
    resignal = argc > 1 && strcmp(argv[1], "resignal") == 0;

    for (int r = 1; r <= 3; r++) {
        pthread_t t;
        int timed_out = 0;
        if (pthread_create(&t, NULL, notifier, (void *)(size_t)r) != 0)
            return 1;
        pthread_mutex_lock(&lock);
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < r) {
            if (r == 3)
                busy(200);        /* the window: checked, not yet waiting */
            if (hang) {
                pthread_cond_wait(&ready, &lock);
                continue;
            }
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
