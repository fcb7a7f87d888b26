/*
 * missed_broadcast.c - notify-one where notify-all was needed (hangs
 * without lockwatch).
 *
 * Three workers wait, each in a correct predicate loop, for `go`.  The main
 * thread sets `go` and calls pthread_cond_signal (the bug: it wakes one
 * waiter; pthread_cond_broadcast was needed), then joins the workers.  One
 * worker runs; the two others sleep on for ever, and the main thread waits
 * in pthread_join for the first of them.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: after LOCKWATCH_DEADLOCK_MS, one `deadlock`
 * report: all 3 threads left are asleep: T0 joins a worker, two workers
 * wait on condition variable `start` (with mutex `lock`); then
 * LOCKWATCH_ON_DEADLOCK (default: exit 66).
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define NWORKERS 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static int go, waiting;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    waiting++;
    while (!go)
        pthread_cond_wait(&start, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t t[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (;;) {   /* until every worker waits */
        pthread_mutex_lock(&lock);
        int w = waiting;
        pthread_mutex_unlock(&lock);
        if (w == NWORKERS)
            break;
        usleep(1000);
    }
    pthread_mutex_lock(&lock);
    go = 1;
    pthread_cond_signal(&start);   /* BUG: wakes one worker of three */
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(t[i], NULL);
    printf("all workers started\n");
    return 0;
}
