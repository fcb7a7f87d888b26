/*
 * blocking_private_lock.c - sleeping under a lock that no other thread takes.
 *
 * Each worker owns a `struct worker` with its own mutex, as a program with
 * one connection (or one session, or one buffer) per thread does: the
 * worker locks it around every step, and a step sleeps with it held.  No
 * other thread ever takes a worker's lock, main reads the totals only
 * after pthread_join, so holding the lock across the sleep delays nobody.
 *
 * Expected lockwatch result: no report by default.  With
 * LOCKWATCH_BLOCKING_UNSHARED=1, one `blocking-call-under-lock` report:
 * usleep in do_step (both workers' findings have one fingerprint: the same
 * code path is one problem, reported once).
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define WORKERS 2
#define STEPS   20

struct worker {
    pthread_mutex_t lock; /* this worker's own */
    long steps;           /* guarded by lock */
};

__attribute__((noinline)) static void do_step(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->steps++;
    usleep(100); /* blocking call under a lock only this thread takes */
    pthread_mutex_unlock(&w->lock);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    int i;

    for (i = 0; i < STEPS; i++)
        do_step(w);
    return NULL;
}

int main(void)
{
    struct worker w[WORKERS];
    pthread_t t[WORKERS];
    long total = 0;
    int i;

    for (i = 0; i < WORKERS; i++) {
        pthread_mutex_init(&w[i].lock, NULL);
        w[i].steps = 0;
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            return 1;
    }
    for (i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        total += w[i].steps; /* the join orders it: no lock needed */
        pthread_mutex_destroy(&w[i].lock);
    }
    printf("blocking_private_lock: %ld steps\n", total);
    return total == WORKERS * STEPS ? 0 : 1;
}
