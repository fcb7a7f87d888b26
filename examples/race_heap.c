/*
 * race_heap.c - a data race on a field of a heap object.
 *
 * The main thread allocates a `struct stats` (calloc) and hands it to two
 * workers.  Each worker counts its lookups in `misses` under `st->lock`,
 * correctly, and its hits in `hits` without it: two threads increment
 * `hits` at the same time.  The memory has no variable name: a report names
 * it as a heap lock is named, by its allocation and the offset in it
 * ("heap object 0x...+0x28", the offset of `hits` after the 40-byte mutex).
 *
 * Expected lockwatch result: nothing by default; with
 * LOCKWATCH_RACES=sample a data-race on heap object 0x...+0x28, the two
 * workers holding no lock in common, and never one on `misses`.  The output
 * does not depend on the race (the hit count is not printed).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 60000000L

struct stats {
    pthread_mutex_t lock;
    volatile long hits;   /* racy: incremented without the lock */
    long misses;          /* guarded by lock */
};

static void *worker(void *arg)
{
    struct stats *st = arg;
    for (long i = 0; i < ROUNDS; i++) {
        if (i % 1024) {
            st->hits++;
        } else {
            pthread_mutex_lock(&st->lock);
            st->misses++;
            pthread_mutex_unlock(&st->lock);
        }
    }
    return NULL;
}

int main(void)
{
    struct stats *st = calloc(1, sizeof(*st));
    if (!st)
        return 1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, worker, st);
    pthread_create(&b, NULL, worker, st);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("race_heap: %ld misses\n", st->misses);
    pthread_mutex_destroy(&st->lock);
    free(st);
    return 0;
}
