/*
 * blocking_sleep.c - sleeping while holding a mutex.
 *
 * update_stats() takes stats_lock and then calls usleep() "to let the disk
 * settle" before it releases the lock.  Every other thread that needs
 * stats_lock now waits for the sleep as well: the lock is held for the whole
 * sleep although nothing is done under it.
 *
 * The sleep lasts 1000 microseconds, or the number given as the first
 * argument (the tests use it with LOCKWATCH_BLOCKING_MIN_US).
 *
 * A reporter thread reads the count under stats_lock afterwards: the lock
 * is shared, so the sleep did delay (or could have delayed) another thread.
 * lockwatch makes the report when the reporter takes the lock.
 *
 * Expected lockwatch result: exactly one `blocking-call-under-lock` report:
 * usleep (family sleep) called in update_stats while the thread holds
 * stats_lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long updates; /* guarded by stats_lock */

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static void update_stats(useconds_t pause_us)
{
    pthread_mutex_lock(&stats_lock);
    updates++;
    usleep(pause_us); /* blocking call with stats_lock held */
    pthread_mutex_unlock(&stats_lock);
}

static void *reporter(void *arg)
{
    long *seen = arg;

    pthread_mutex_lock(&stats_lock);
    *seen = updates;
    pthread_mutex_unlock(&stats_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    useconds_t pause_us = argc > 1 ? (useconds_t)strtoul(argv[1], NULL, 10) : 1000;
    pthread_t t;
    long seen = -1;

    update_stats(pause_us);
    if (pthread_create(&t, NULL, reporter, &seen) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    printf("blocking_sleep: %ld update(s), slept %u us under the lock\n", seen,
           (unsigned)pause_us);
    return 0;
}
