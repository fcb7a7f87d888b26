/*
 * producer_consumer.c - a correct bounded buffer with two condition
 * variables (terminates without lockwatch).
 *
 * PRODUCERS threads put ITEMS numbers each into a ring buffer of SLOTS
 * entries, waiting on `not_full` when it is full; CONSUMERS threads take
 * them out, waiting on `not_empty` when it is empty.  Every wait is made
 * holding `lock`, in a loop re-checking its predicate; every signal is made
 * after changing the state under `lock`.  A consumer stops at a sentinel.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 */
#include <pthread.h>
#include <stdio.h>

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 20000
#define SLOTS 8
#define SENTINEL (-1L)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long ring[SLOTS];
static unsigned head, count; /* under lock */

static void put(long v)
{
    pthread_mutex_lock(&lock);
    while (count == SLOTS)
        pthread_cond_wait(&not_full, &lock);
    ring[(head + count) % SLOTS] = v;
    count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

static long get(void)
{
    long v;

    pthread_mutex_lock(&lock);
    while (count == 0)
        pthread_cond_wait(&not_empty, &lock);
    v = ring[head];
    head = (head + 1) % SLOTS;
    count--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    return v;
}

static void *producer(void *arg)
{
    long base = (long)arg * ITEMS, i;

    for (i = 1; i <= ITEMS; i++)
        put(base + i);
    return NULL;
}

static void *consumer(void *arg)
{
    long sum = 0, v;

    (void)arg;
    while ((v = get()) != SENTINEL)
        sum += v;
    return (void *)sum;
}

int main(void)
{
    pthread_t p[PRODUCERS], c[CONSUMERS];
    long total = 0, expect = 0;
    void *part;
    int i;

    for (i = 0; i < CONSUMERS; i++)
        if (pthread_create(&c[i], NULL, consumer, NULL) != 0)
            return 1;
    for (i = 0; i < PRODUCERS; i++)
        if (pthread_create(&p[i], NULL, producer, (void *)(long)i) != 0)
            return 1;
    for (i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (i = 0; i < CONSUMERS; i++)
        put(SENTINEL);
    for (i = 0; i < CONSUMERS; i++) {
        pthread_join(c[i], &part);
        total += (long)part;
    }
    for (i = 0; i < PRODUCERS * ITEMS; i++)
        expect += i + 1;
    printf("producer_consumer: total=%ld expected=%ld\n", total, expect);
    return total == expect ? 0 : 1;
}
