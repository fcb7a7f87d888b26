/*
 * racy_flag.c - a progress flag polled without a lock (a data race).
 *
 * One worker thread computes in STEPS small steps and after each one stores
 * how far it got in `progress`, a plain volatile int; MONITORS threads poll
 * `progress`, counting their polls, until it reaches STEPS.  The worker's
 * stores and the monitors' loads touch the same four bytes with no lock in
 * common, one side writing: a data race by C11's rules (volatile keeps the
 * compiler from caching the flag, it orders nothing between threads).  The
 * race recurs at every step, about a second of CPU in three threads, so a
 * sampler sees it many times.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, a data-race on
 * `progress` between worker() and monitor() in most runs; exit status 66
 * when reported.  ThreadSanitizer reports it in every run.  locked_flag.c is
 * the same with the flag under a mutex (race-free); acqrel_flag.c the same
 * with C11 release/acquire atomics (race-free).
 */
#include <pthread.h>
#include <stdio.h>

#define STEPS 20000000
#define WORK 4      /* iterations of private work per step */
#define MONITORS 2

volatile int progress;   /* the bug: written and polled with no lock */

static void *worker(void *arg)
{
    unsigned long h = 1;
    (void)arg;
    for (int i = 1; i <= STEPS; i++) {
        for (int j = 0; j < WORK; j++)
            h = h * 31 + (unsigned long)j;
        progress = i;
    }
    return (void *)h;
}

static void *monitor(void *arg)
{
    unsigned long polls = 0;
    (void)arg;
    while (progress < STEPS) {
        polls++;
    }
    return (void *)polls;
}

int main(void)
{
    pthread_t w, m[MONITORS];
    pthread_create(&w, NULL, worker, NULL);
    for (int i = 0; i < MONITORS; i++)
        pthread_create(&m[i], NULL, monitor, NULL);
    pthread_join(w, NULL);
    for (int i = 0; i < MONITORS; i++)
        pthread_join(m[i], NULL);
    printf("racy_flag: done at %d\n", progress);
    return 0;
}
