/*
 * signal_locks.c - a signal handler that takes a lock of its own while the
 * interrupted thread is inside its lock and unlock calls.
 *
 * A profiling-style timer (ITIMER_PROF, every 100 us of CPU time) interrupts
 * the main loop, which locks and unlocks data_lock and, nested inside it,
 * stats_lock, until the handler has run 100 times.  The handler locks and
 * unlocks sample_lock, which the main loop never holds (taking a lock in a
 * handler is not async-signal-safe by POSIX, but it works with a lock the
 * interrupted code never holds, and real profilers and loggers do it).  Whatever instruction
 * of a lock call the signal lands on, the thread's held-lock bookkeeping
 * must stay right.
 *
 * Expected lockwatch result: no report.  A wrong entry left on the held
 * stack would show as an unlock-not-owned report, a lock-order inversion
 * (sample_lock against data_lock in both orders) or an exit-holding-lock.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static pthread_mutex_t data_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static long data, stats;          /* under data_lock, stats_lock */
static volatile sig_atomic_t samples;

static void on_prof(int sig)
{
    (void)sig;
    pthread_mutex_lock(&sample_lock);
    samples++;
    pthread_mutex_unlock(&sample_lock);
}

int main(void)
{
    struct sigaction sa;
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    long i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, NULL) != 0 || setitimer(ITIMER_PROF, &it, NULL) != 0)
        return 1;
    /* sample_lock first taken outside the handler, before data_lock, in
     * the order the handler can be seen to use it from the main loop. */
    pthread_mutex_lock(&sample_lock);
    pthread_mutex_unlock(&sample_lock);
    for (i = 0; samples < 100 && i < 2000000000L; i++) {
        pthread_mutex_lock(&data_lock);
        data++;
        if (i % 2 == 0) {
            pthread_mutex_lock(&stats_lock);
            stats++;
            pthread_mutex_unlock(&stats_lock);
        }
        pthread_mutex_unlock(&data_lock);
    }
    setitimer(ITIMER_PROF, &off, NULL);
    printf("signal_locks: %s\n", data == i && stats == (i + 1) / 2 ? "counts agree" : "WRONG");
    return data == i && stats == (i + 1) / 2 && samples >= 100 ? 0 : 1;
}
