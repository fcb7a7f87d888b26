/* racy_counter: two threads increment a shared counter without a lock, in
 * a loop long enough (a second or so of CPU) to be sampled many times.
 * LOCKWATCH_RACES=sample reports a data-race on `counter`. */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 200000000L

volatile long counter;

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < ROUNDS; i++)
        counter++;
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, worker, NULL);
    pthread_create(&b, NULL, worker, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("racy_counter: done\n");
    return 0;
}
