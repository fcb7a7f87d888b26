/*
 * clean_ordered.c - a busy but correctly ordered program (no false alarms).
 *
 * Four threads share 64 mutexes.  Each thread repeatedly picks a random set
 * of up to 4 of them and always locks that set in ascending index order, so
 * every thread agrees on one global lock order and no cycle can form.
 *
 * In addition every thread, now and then:
 *   - read-locks the rwlock `config_lock` and then locks the mutex
 *     `config_stats_lock` (always in that order);
 *   - locks the recursive mutex `registry_lock`, then one of the 64 mutexes,
 *     and then locks `registry_lock` again.  The second lock is a re-lock by
 *     the owner of a recursive mutex: it can never block, so it does not make
 *     an order "mutex -> registry_lock" that could deadlock.
 *
 * The random choices come from rand_r with fixed per-thread seeds, so the
 * printed totals are the same on every run.
 *
 * Expected lockwatch result: no report at all, exit status 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define N_THREADS 4
#define N_LOCKS 64
#define MAX_SET 4
#define ITERATIONS 5000

static pthread_mutex_t locks[N_LOCKS];
static long slot_counter[N_LOCKS]; /* slot_counter[i] is guarded by locks[i] */

static pthread_rwlock_t config_lock = PTHREAD_RWLOCK_INITIALIZER;
static int config_value = 3; /* guarded by config_lock */
static pthread_mutex_t config_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long config_reads; /* guarded by config_stats_lock */

static pthread_mutex_t registry_lock; /* recursive, initialised in main */
static long registry_updates;         /* guarded by registry_lock */

struct worker {
    unsigned int seed;
    long acquisitions; /* private to the thread until it is joined */
};

/* Choose up to MAX_SET distinct indices, sorted ascending. */
static int choose_ascending_set(unsigned int *seed, int set[MAX_SET])
{
    int want = 1 + rand_r(seed) % MAX_SET;
    int n = 0;

    while (n < want) {
        int candidate = rand_r(seed) % N_LOCKS;
        int pos = n, dup = 0, j;

        for (j = 0; j < n; j++)
            if (set[j] == candidate)
                dup = 1;
        if (dup)
            continue;
        /* insertion sort keeps the set ascending */
        while (pos > 0 && set[pos - 1] > candidate) {
            set[pos] = set[pos - 1];
            pos--;
        }
        set[pos] = candidate;
        n++;
    }
    return n;
}

static void update_ordered_set(struct worker *w)
{
    int set[MAX_SET];
    int n = choose_ascending_set(&w->seed, set);
    int i;

    for (i = 0; i < n; i++) /* ascending: the one global order */
        pthread_mutex_lock(&locks[set[i]]);
    for (i = 0; i < n; i++)
        slot_counter[set[i]]++;
    for (i = n - 1; i >= 0; i--)
        pthread_mutex_unlock(&locks[set[i]]);
    w->acquisitions += n;
}

static void read_config(void)
{
    pthread_rwlock_rdlock(&config_lock);
    pthread_mutex_lock(&config_stats_lock); /* always rwlock -> mutex */
    config_reads += config_value;
    pthread_mutex_unlock(&config_stats_lock);
    pthread_rwlock_unlock(&config_lock);
}

static void registry_relock(struct worker *w)
{
    int idx = rand_r(&w->seed) % N_LOCKS;

    pthread_mutex_lock(&registry_lock);
    pthread_mutex_lock(&locks[idx]); /* registry_lock -> locks[idx] */
    pthread_mutex_lock(&registry_lock); /* owner re-lock: cannot block */
    registry_updates++;
    slot_counter[idx]++;
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&locks[idx]);
    pthread_mutex_unlock(&registry_lock);
    w->acquisitions += 1;
}

static void *ordered_worker(void *arg)
{
    struct worker *w = arg;
    int i;

    for (i = 0; i < ITERATIONS; i++) {
        update_ordered_set(w);
        if (i % 16 == 0)
            read_config();
        if (i % 16 == 8)
            registry_relock(w);
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[N_THREADS];
    struct worker workers[N_THREADS];
    pthread_mutexattr_t attr;
    long expected = 0, counted = 0;
    int i;

    for (i = 0; i < N_LOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&registry_lock, &attr);
    pthread_mutexattr_destroy(&attr);

    for (i = 0; i < N_THREADS; i++) {
        workers[i].seed = 12345u + 7919u * (unsigned int)i;
        workers[i].acquisitions = 0;
        if (pthread_create(&threads[i], NULL, ordered_worker, &workers[i]) != 0)
            return 1;
    }
    for (i = 0; i < N_THREADS; i++) {
        pthread_join(threads[i], NULL);
        expected += workers[i].acquisitions;
    }

    for (i = 0; i < N_LOCKS; i++) {
        counted += slot_counter[i];
        pthread_mutex_destroy(&locks[i]);
    }
    pthread_mutex_destroy(&registry_lock);

    printf("clean_ordered: %d threads, %d locks, %ld acquisitions (%s)\n", N_THREADS, N_LOCKS,
           counted, counted == expected ? "consistent" : "INCONSISTENT");
    printf("clean_ordered: config reads %ld, registry updates %ld\n", config_reads,
           registry_updates);
    return counted == expected ? 0 : 1;
}
