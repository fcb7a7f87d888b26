/*
 * sem_lost.c - a semaphore posted once for two waiters, and a barrier
 * that waits for a thread that never arrives (hangs without lockwatch).
 *
 * Mode "sem" (default): two workers sem_wait on `items`; the main thread
 * posts once (the bug: one post per worker was needed) and joins both.
 * Mode "barrier": a barrier for 3 threads, but only 2 workers are started;
 * the main thread joins them.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: after LOCKWATCH_DEADLOCK_MS, one `deadlock`
 * report naming every thread left: T0 joins, the worker(s) wait on the
 * semaphore (or at the barrier); then LOCKWATCH_ON_DEADLOCK.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

static sem_t items;
static pthread_barrier_t gate;

static void *sem_worker(void *arg)
{
    (void)arg;
    sem_wait(&items);
    return NULL;
}

static void *barrier_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&gate);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[2];
    int barrier = argc > 1 && strcmp(argv[1], "barrier") == 0;
    sem_init(&items, 0, 0);
    pthread_barrier_init(&gate, NULL, 3);   /* BUG (barrier mode): 3, but 2 arrive */
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, barrier ? barrier_worker : sem_worker, NULL);
    if (!barrier)
        sem_post(&items);   /* BUG: one post, two waiters */
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("done\n");
    return 0;
}
