/*
 * locked_lazy_init.c - racy_lazy_init.c with the check made under the lock:
 * race-free.
 *
 * A table of SLOTS entries, each initialised on first use by whichever
 * thread gets there first: get() takes init_lock, reads the slot's pointer,
 * initialises the entry and stores the pointer when it is NULL, and lets
 * the lock go.  THREADS threads walk the table from slot 0 together, ROUNDS
 * times; between rounds, behind two barriers, thread 0 empties the table.
 * Every access to `table` is under init_lock or between the barriers, and
 * an entry is read only after the lock that published it.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, no report; exit
 * status 0.  ThreadSanitizer: no report.
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
static struct entry *table[SLOTS];   /* under init_lock, or between the barriers */

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
    pthread_mutex_lock(&init_lock);
    struct entry *e = table[i];
    if (!e) {
        e = make(i);
        table[i] = e;
    }
    pthread_mutex_unlock(&init_lock);
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
    printf("locked_lazy_init: done\n");
    return 0;
}
