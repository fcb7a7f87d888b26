/*
 * cycle4.c - a four-lock cycle, repeated 100,000 times.
 *
 * A single worker thread repeatedly takes the pairs (A,B), (B,C), (C,D) and
 * (D,A), releasing each pair before taking the next.  The lock-order graph
 * therefore contains the cycle A -> B -> C -> D -> A.  (Four threads each
 * doing one of the pairs concurrently could deadlock.)
 *
 * The same cycle is re-traversed 100,000 times; a detector must report it
 * once, not once per iteration, and must stay fast on already-known edges.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report whose
 * cycle contains the 4 locks.
 */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 100000

static pthread_mutex_t lock_A = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_B = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_C = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_D = PTHREAD_MUTEX_INITIALIZER;
static long pairs_taken;

static void take_pair(pthread_mutex_t *first, pthread_mutex_t *second)
{
    pthread_mutex_lock(first);
    pthread_mutex_lock(second); /* edge first -> second */
    pairs_taken++;
    pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
}

static void *cycle_worker(void *arg)
{
    long i;

    (void)arg;
    for (i = 0; i < ROUNDS; i++) {
        take_pair(&lock_A, &lock_B);
        take_pair(&lock_B, &lock_C);
        take_pair(&lock_C, &lock_D);
        take_pair(&lock_D, &lock_A); /* closes the cycle */
    }
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, cycle_worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL);

    printf("cycle4: %d rounds, %ld lock pairs\n", ROUNDS, pairs_taken);
    return 0;
}
