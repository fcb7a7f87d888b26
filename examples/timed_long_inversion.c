/*
 * timed_long_inversion.c - a lock-order inversion through timed locks whose
 * timeout is long.
 *
 * A worker takes `table` and then `journal` with pthread_mutex_timedlock
 * and a 30-second timeout; a flusher takes `journal` and then `table` the
 * same way.  Timed locks cannot hang for ever, so lockwatch does not count
 * a timed lock with a short timeout (a back-off) as an order edge.  But a
 * 30-second timeout stalls both threads for 30 seconds when they meet, a
 * hang in all but name: with a timeout of at least LOCKWATCH_DEADLOCK_MS
 * the acquisition adds its edge like a blocking one.  The threads run one
 * after the other, so the run itself never stalls.
 *
 * Expected lockwatch result: one `lock-order-inversion` between table and
 * journal whose two edges say they were timed acquisitions (JSON
 * "timed_ms" about 30000).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t table = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t journal = PTHREAD_MUTEX_INITIALIZER;
static long rows, entries;

static int lock_within(pthread_mutex_t *m, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return pthread_mutex_timedlock(m, &ts);
}

static void *worker(void *arg)
{
    (void)arg;
    if (lock_within(&table, 30) == 0) {
        if (lock_within(&journal, 30) == 0) {
            rows++;
            entries++;
            pthread_mutex_unlock(&journal);
        }
        pthread_mutex_unlock(&table);
    }
    return NULL;
}

static void *flusher(void *arg)
{
    (void)arg;
    if (lock_within(&journal, 30) == 0) {
        if (lock_within(&table, 30) == 0) {
            entries--;
            pthread_mutex_unlock(&table);
        }
        pthread_mutex_unlock(&journal);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, flusher, NULL);
    pthread_join(t, NULL);
    printf("timed_long_inversion: rows=%ld entries=%ld\n", rows, entries);
    return 0;
}
