/*
 * readers_only_cycle.c - a cycle of reader-writer locks taken only for
 * reading, and a cycle through a mutex that enters and leaves an rwlock
 * only as a reader (terminates without lockwatch).
 *
 * The rwlocks prefer readers (PTHREAD_RWLOCK_PREFER_READER_NP, glibc's
 * default, set explicitly here): a read lock is granted whenever no writer
 * holds the lock, even while writers wait.  So a reader can only wait for
 * a writer that holds the lock, never for another reader.
 *
 *  1. Three readers take rd(a) then rd(b), rd(b) then rd(c), rd(c) then
 *     rd(a): the orders form a cycle a -> b -> c -> a, but every lock of it
 *     is only read, and readers do not block one another.
 *  2. Two threads take rd(d) then mutex m, and m then rd(d): a cycle
 *     through d, which is entered and left only for reading.  The thread
 *     holding m and wanting rd(d) is never refused by a thread that only
 *     reads d.
 *  A writer thread meanwhile write-locks a, b, c and d, one at a time and
 *  holding nothing else: it waits for readers to leave, and while it holds
 *  one lock it waits for nothing, so it ends every cycle it interrupts.
 *
 * Expected lockwatch result: no report (lockwatch(7), "Reader-writer
 * locks"), exit status 0, the same output.
 *
 * For contrast, `readers_only_cycle writers-first` makes the rwlocks prefer
 * writers (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP): a writer waiting
 * for the readers of a lock makes new readers of it wait too, so with the
 * writer at the wrong moment the read cycle a -> b -> c -> a deadlocks (each
 * reader holds one lock, and waits behind the writer queued on the next).
 * This mode runs the three readers once each, one after the other, then
 * the writer, so that it terminates.  Expected: one lock-order-inversion
 * report over a, b and c, "confidence":"feasible", exit status 66.
 *
 * Helgrind (valgrind 3.19) reports both cycles as lock order violations
 * (its order check ignores read mode), and the writers-first one; DRD has
 * no lock-order check.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 2000
#define WRITES 300

static int rounds = ROUNDS, writes = WRITES; /* set before the threads start */

static pthread_rwlock_t a, b, c, d;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long value_a, value_b, value_c, value_d; /* written under the write lock */
static long reads;                              /* atomic */
static long m_count;                            /* under m */

struct pair {
    pthread_rwlock_t *first, *second;
};

static void *reader(void *arg)
{
    struct pair *p = arg;

    for (int i = 0; i < rounds; i++) {
        pthread_rwlock_rdlock(p->first);
        pthread_rwlock_rdlock(p->second); /* read -> read */
        __atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED);
        pthread_rwlock_unlock(p->second);
        pthread_rwlock_unlock(p->first);
    }
    return NULL;
}

static void *read_d_then_m(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_rwlock_rdlock(&d);
        pthread_mutex_lock(&m); /* d (read) -> m */
        m_count += value_d >= 0;
        pthread_mutex_unlock(&m);
        pthread_rwlock_unlock(&d);
    }
    return NULL;
}

static void *m_then_read_d(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&m);
        pthread_rwlock_rdlock(&d); /* m -> d (read) */
        m_count += value_d >= 0;
        pthread_rwlock_unlock(&d);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < writes; i++) {
        pthread_rwlock_wrlock(&a);
        value_a++;
        pthread_rwlock_unlock(&a);
        pthread_rwlock_wrlock(&b);
        value_b++;
        pthread_rwlock_unlock(&b);
        pthread_rwlock_wrlock(&c);
        value_c++;
        pthread_rwlock_unlock(&c);
        pthread_rwlock_wrlock(&d);
        value_d++;
        pthread_rwlock_unlock(&d);
    }
    return NULL;
}

static int writers_first(struct pair *pairs)
{
    pthread_t t;

    rounds = 1;
    writes = 1;
    for (int i = 0; i < 3; i++) {
        if (pthread_create(&t, NULL, reader, &pairs[i]) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    if (pthread_create(&t, NULL, writer, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("readers_only_cycle writers-first: %ld nested reads, writes %ld/%ld/%ld\n", reads,
           value_a, value_b, value_c);
    return 0;
}

int main(int argc, char **argv)
{
    pthread_rwlockattr_t attr;
    struct pair pairs[3] = {{&a, &b}, {&b, &c}, {&c, &a}};
    pthread_t t[6];
    int n = 0, wf = argc > 1 && strcmp(argv[1], "writers-first") == 0;

    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, wf ? PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
                                            : PTHREAD_RWLOCK_PREFER_READER_NP);
    pthread_rwlock_init(&a, &attr);
    pthread_rwlock_init(&b, &attr);
    pthread_rwlock_init(&c, &attr);
    pthread_rwlock_init(&d, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (wf)
        return writers_first(pairs);

    for (int i = 0; i < 3; i++)
        if (pthread_create(&t[n++], NULL, reader, &pairs[i]) != 0)
            return 1;
    if (pthread_create(&t[n++], NULL, read_d_then_m, NULL) != 0 ||
        pthread_create(&t[n++], NULL, m_then_read_d, NULL) != 0 ||
        pthread_create(&t[n++], NULL, writer, NULL) != 0)
        return 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);

    printf("readers_only_cycle: %ld nested reads, %ld under m, writes %ld/%ld/%ld/%ld\n", reads,
           m_count, value_a, value_b, value_c, value_d);
    pthread_rwlock_destroy(&a);
    pthread_rwlock_destroy(&b);
    pthread_rwlock_destroy(&c);
    pthread_rwlock_destroy(&d);
    return 0;
}
