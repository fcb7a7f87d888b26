/*
 * blocking_repeat.c - one blocking call site hit many times.
 *
 * poll_device() sleeps for a microsecond with device_lock held, and is
 * called 1000 times: the same call site with the same lock held.  lockwatch
 * reports a blocking call once per call site and set of held locks, so this
 * is one report, not 1000.  flush_all() then calls nanosleep() with both
 * device_lock and config_lock held: another call site, another report.
 *
 * Expected lockwatch result: exactly two `blocking-call-under-lock`
 * reports: usleep in poll_device (holding device_lock) and nanosleep in
 * flush_all (holding config_lock and device_lock).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define POLLS 1000

static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static int polls; /* guarded by device_lock */

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static void poll_device(void)
{
    pthread_mutex_lock(&device_lock);
    polls++;
    usleep(1); /* the same site, 1000 times */
    pthread_mutex_unlock(&device_lock);
}

__attribute__((noinline)) static void flush_all(void)
{
    struct timespec ts = { 0, 1000 };

    pthread_mutex_lock(&config_lock);
    pthread_mutex_lock(&device_lock);
    nanosleep(&ts, NULL); /* another site, two locks held */
    pthread_mutex_unlock(&device_lock);
    pthread_mutex_unlock(&config_lock);
}

/* Takes both locks, one at a time, before main polls: the locks are
 * shared from the start, so each report is made at the call itself. */
static void *monitor(void *arg)
{
    int *seen = arg;

    pthread_mutex_lock(&device_lock);
    *seen = polls;
    pthread_mutex_unlock(&device_lock);
    pthread_mutex_lock(&config_lock);
    pthread_mutex_unlock(&config_lock);
    return NULL;
}

int main(void)
{
    pthread_t t;
    int i, seen = -1;

    if (pthread_create(&t, NULL, monitor, &seen) != 0 || pthread_join(t, NULL) != 0 || seen != 0)
        return 1;
    for (i = 0; i < POLLS; i++)
        poll_device();
    flush_all();
    printf("blocking_repeat: %d polls and one flush\n", polls);
    return polls == POLLS ? 0 : 1;
}
