/*
 * acqrel_flag.c - racy_flag.c with the progress flag a C11 atomic, stored
 * with memory_order_release and loaded with memory_order_acquire:
 * race-free.
 *
 * One worker thread computes in STEPS small steps and after each one stores
 * how far it got in `progress` (atomic_store_explicit, release); MONITORS
 * threads poll it (atomic_load_explicit, acquire), counting their polls,
 * until it reaches STEPS.  Atomic accesses never form a data race.  On x86
 * both compile to plain `mov`s, which a binary-level sampler cannot tell
 * from the plain accesses of racy_flag.c: this program measures whether
 * lockwatch's sampler reports it.
 *
 * Expected lockwatch result: no data race exists; with
 * LOCKWATCH_RACES=sample the sampler, which skips only LOCK-prefixed
 * instructions and xchg, can report a (false) data-race on `progress` (see
 * README, "Races").  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define STEPS 20000000
#define WORK 4      /* iterations of private work per step */
#define MONITORS 2

static atomic_int progress;

static void *worker(void *arg)
{
    unsigned long h = 1;
    (void)arg;
    for (int i = 1; i <= STEPS; i++) {
        for (int j = 0; j < WORK; j++)
            h = h * 31 + (unsigned long)j;
        atomic_store_explicit(&progress, i, memory_order_release);
    }
    return (void *)h;
}

static void *monitor(void *arg)
{
    unsigned long polls = 0;
    (void)arg;
    while (atomic_load_explicit(&progress, memory_order_acquire) < STEPS) {
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
    printf("acqrel_flag: done at %d\n",
           atomic_load_explicit(&progress, memory_order_acquire));
    return 0;
}
