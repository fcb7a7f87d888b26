/*
 * acqrel_lazy_init.c - racy_lazy_init.c with the slot pointers C11 atomics:
 * double-checked initialisation done right, race-free.
 *
 * A table of SLOTS entries, each initialised on first use by whichever
 * thread gets there first: get() loads the slot's pointer with
 * memory_order_acquire WITHOUT the lock and, only when it is NULL, takes
 * init_lock, loads it again (relaxed: the lock orders it), initialises the
 * entry and stores the pointer with memory_order_release.  THREADS threads
 * walk the table from slot 0 together, ROUNDS times; between rounds, behind
 * two barriers, thread 0 empties the table.  The release store orders the
 * entry's initialisation before any acquire load that sees the pointer: no
 * data race.  On x86 the acquire loads and release stores are plain `mov`s,
 * which a binary-level sampler cannot tell from racy_lazy_init.c's.
 *
 * Expected lockwatch result: no data race exists; with
 * LOCKWATCH_RACES=sample the sampler, which skips only LOCK-prefixed
 * instructions and xchg, can report a (false) data-race on `table` (see
 * README, "Races").  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define SLOTS 8192
#define ROUNDS 1500
#define THREADS 3
#define INIT_WORK 4    /* iterations to compute an entry */

struct entry {
    long key, value;
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t round_barrier;
static struct entry pool[SLOTS];     /* the entries, written by their initialiser */
static struct entry *_Atomic table[SLOTS];

static struct entry *make(long i)
{
    long v = i;
    for (int j = 0; j < INIT_WORK; j++)
        v = v * 31 + j;
    pool[i].key = i;
    pool[i].value = v;
    return &pool[i];
}

static struct entry *get(long i)
{
    struct entry *e = atomic_load_explicit(&table[i], memory_order_acquire);
    if (!e) {
        pthread_mutex_lock(&init_lock);
        e = atomic_load_explicit(&table[i], memory_order_relaxed);
        if (!e) {
            e = make(i);
            atomic_store_explicit(&table[i], e, memory_order_release);
        }
        pthread_mutex_unlock(&init_lock);
    }
    return e;
}

static void *walker(void *arg)
{
    long id = (long)arg, sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (long i = 0; i < SLOTS; i++)
            sum += get(i)->value;
        pthread_barrier_wait(&round_barrier);
        if (id == 0)   /* the others wait at the barrier below */
            for (long i = 0; i < SLOTS; i++)
                atomic_store_explicit(&table[i], NULL, memory_order_relaxed);
        pthread_barrier_wait(&round_barrier);
    }
    return (void *)sum;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&round_barrier, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, walker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("acqrel_lazy_init: done\n");
    return 0;
}
