/*
 * timedlock_backoff.c - two threads take two mutexes in opposite orders,
 * but the second lock is a pthread_mutex_timedlock with back-off and retry
 * (terminates without lockwatch).
 *
 * Thread T1 locks `a` and then tries `b` with a timed lock; thread T2 locks
 * `b` and then tries `a` the same way.  When the timed lock fails
 * (ETIMEDOUT), the thread releases its first lock, backs off for a short
 * pseudo-random time (holding nothing) and starts again.  Each thread does
 * ROUNDS rounds.
 *
 * The first attempt is made to collide: both threads take their first lock,
 * wait for each other (atomic counter, no blocking call), and then both
 * wait FIRST_TIMEOUT_MS for the other's lock: for that long the two threads
 * are blocked on each other, like a deadlock, but it ends by itself when
 * the timeouts expire.  Later attempts wait 1 ms.  The program always makes
 * progress.
 *
 * Expected lockwatch result: no report with the default LOCKWATCH_DEADLOCK_MS
 * (timed acquisitions with timeouts shorter than it cannot hang: they add
 * no lock-order edge); exit status 0, the same output.  With
 * LOCKWATCH_DEADLOCK_MS shorter than FIRST_TIMEOUT_MS the 200 ms waits
 * stall the threads longer than a deadlock takes to report: they add their
 * edges and the inversion is reported (edges with "timed_ms"), but never a
 * deadlock (timed waits recover by themselves).  With TIMEDLOCK_BACKOFF_RETRIES set in the environment
 * the number of retries is printed on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 2000
#define FIRST_TIMEOUT_MS 200

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static long work;   /* under a and b */
static int arrived; /* atomic: threads holding their first lock, first attempt */

struct order {
    pthread_mutex_t *first, *second;
    unsigned seed;
    long retries;
};

static void deadline_in_ms(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void back_off(unsigned *seed)
{
    struct timespec d;

    *seed = *seed * 1103515245u + 12345u;
    d.tv_sec = 0;
    d.tv_nsec = (long)((*seed >> 16) % 200) * 1000L; /* 0-200 us */
    nanosleep(&d, NULL); /* holding no lock */
}

static void *worker(void *arg)
{
    struct order *o = arg;
    struct timespec ts;
    int i, r, first_attempt = 1;

    for (i = 0; i < ROUNDS; i++) {
        for (;;) {
            pthread_mutex_lock(o->first);
            if (first_attempt) {
                /* Both threads now hold their first lock. */
                __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
                while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < 2)
                    ;
            }
            deadline_in_ms(&ts, first_attempt ? FIRST_TIMEOUT_MS : 1);
            first_attempt = 0;
            r = pthread_mutex_timedlock(o->second, &ts);
            if (r == 0)
                break;
            pthread_mutex_unlock(o->first);
            if (r != ETIMEDOUT)
                return NULL;
            o->retries++;
            back_off(&o->seed);
        }
        work++;
        pthread_mutex_unlock(o->second);
        pthread_mutex_unlock(o->first);
    }
    return NULL;
}

int main(void)
{
    struct order ab = { &a, &b, 1, 0 }, ba = { &b, &a, 2, 0 };
    pthread_t t1, t2;

    if (pthread_create(&t1, NULL, worker, &ab) != 0 ||
        pthread_create(&t2, NULL, worker, &ba) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    /* The retry count depends on timing: only the work done is printed. */
    if (getenv("TIMEDLOCK_BACKOFF_RETRIES"))
        fprintf(stderr, "timedlock_backoff: %ld + %ld retries\n", ab.retries, ba.retries);
    printf("timedlock_backoff: work=%ld\n", work);
    return work == 2 * ROUNDS ? 0 : 1;
}
