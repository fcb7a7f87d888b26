/*
 * racy_lazy_init.c - double-checked initialisation with a plain pointer (a
 * data race).
 *
 * A table of SLOTS entries, each initialised on first use by whichever
 * thread gets there first: get() reads the slot's pointer WITHOUT the lock
 * and, only when it is NULL, takes init_lock, checks again, initialises the
 * entry and stores the pointer.  THREADS threads walk the table from slot 0
 * together, ROUNDS times; between rounds, behind two barriers, thread 0
 * empties the table (a cache being flushed).  The unlocked read of
 * `table[i]` races with another thread's store of it under init_lock (no
 * lock in common, one side writing), and so does the read of the entry's
 * fields, which nothing orders after their initialisation: a data race by
 * C11's rules, whatever x86 does.  It recurs at every slot of every round.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, a data-race on
 * `table` between get()'s unlocked check and its store under init_lock in
 * most runs; exit status 66 when reported.  ThreadSanitizer reports it.
 * locked_lazy_init.c checks under the lock (race-free); acqrel_lazy_init.c
 * uses release/acquire atomics for the pointer (race-free).
 */
#include <pthread.h>
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
static struct entry *table[SLOTS];   /* the bug: read without init_lock */

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
    struct entry *e = table[i];   /* the unlocked first check */
    if (!e) {
        pthread_mutex_lock(&init_lock);
        e = table[i];
        if (!e) {
            e = make(i);
            table[i] = e;
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
                table[i] = NULL;
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
    printf("racy_lazy_init: done\n");
    return 0;
}
