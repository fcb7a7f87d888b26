/*
 * signal_after_unlock.c - condition variables signalled and broadcast after
 * the mutex is released (terminates without lockwatch).
 *
 * A bounded queue of SLOTS entries under `lock`, with condition variables
 * `not_empty` and `not_full`.  PRODUCERS threads put ITEMS numbers each,
 * CONSUMERS threads take them.  Every state change is made under `lock`;
 * the signal that announces it (pthread_cond_signal) is sent after
 * pthread_mutex_unlock, which POSIX allows and which spares the woken
 * thread from blocking at once on the mutex.  Every wait is in a loop that
 * re-checks its predicate under the mutex, so a wakeup that comes late,
 * early or spuriously is harmless.  When the producers are done the last
 * one sets `closed` under the lock and, after unlocking, broadcasts
 * `not_empty` so that every consumer sees it.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * Helgrind (valgrind 3.19) reports each signal ("dubious: associated lock
 * is not held by any thread"), DRD too ("Probably a race condition:
 * condition variable ... has been signaled but the associated mutex ... is
 * not locked by the signalling thread").
 */
#include <pthread.h>
#include <stdio.h>

#define PRODUCERS 2
#define CONSUMERS 3
#define ITEMS 3000
#define SLOTS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static long ring[SLOTS];
static unsigned head, count;      /* under lock */
static int producing = PRODUCERS; /* under lock */
static int closed;                /* under lock */

static void put(long v)
{
    pthread_mutex_lock(&lock);
    while (count == SLOTS)
        pthread_cond_wait(&not_full, &lock);
    ring[(head + count) % SLOTS] = v;
    count++;
    pthread_mutex_unlock(&lock);
    pthread_cond_signal(&not_empty); /* after the unlock */
}

/* 0 when the queue is closed and empty. */
static int get(long *v)
{
    pthread_mutex_lock(&lock);
    while (count == 0 && !closed)
        pthread_cond_wait(&not_empty, &lock);
    if (count == 0) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    *v = ring[head];
    head = (head + 1) % SLOTS;
    count--;
    pthread_mutex_unlock(&lock);
    pthread_cond_signal(&not_full); /* after the unlock */
    return 1;
}

static void *producer(void *arg)
{
    long base = (long)(size_t)arg * ITEMS;
    int last;

    for (long i = 1; i <= ITEMS; i++)
        put(base + i);
    pthread_mutex_lock(&lock);
    last = --producing == 0;
    if (last)
        closed = 1;
    pthread_mutex_unlock(&lock);
    if (last)
        pthread_cond_broadcast(&not_empty); /* after the unlock */
    return NULL;
}

static long sums[CONSUMERS];

static void *consumer(void *arg)
{
    long *sum = arg, v;

    while (get(&v))
        *sum += v;
    return NULL;
}

int main(void)
{
    pthread_t p[PRODUCERS], c[CONSUMERS];
    long total = 0, n = (long)PRODUCERS * ITEMS;

    for (int i = 0; i < CONSUMERS; i++)
        if (pthread_create(&c[i], NULL, consumer, &sums[i]) != 0)
            return 1;
    for (int i = 0; i < PRODUCERS; i++)
        if (pthread_create(&p[i], NULL, producer, (void *)(size_t)i) != 0)
            return 1;
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(c[i], NULL);
        total += sums[i];
    }
    printf("signal_after_unlock: consumed total %ld (expected %ld)\n", total, n * (n + 1) / 2);
    return total == n * (n + 1) / 2 ? 0 : 1;
}
