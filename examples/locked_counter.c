/* locked_counter: racy_counter's loop with every increment under one
 * mutex: no data race, and LOCKWATCH_RACES=sample must report none. */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 1000000L
#define BATCH 100   /* increments per hold: most samples land under the lock */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
volatile long counter;

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        for (int j = 0; j < BATCH; j++)
            counter++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, worker, NULL);
    pthread_create(&b, NULL, worker, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("locked_counter: %ld\n", counter);
    return 0;
}
