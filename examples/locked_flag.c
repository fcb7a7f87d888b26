/*
 * locked_flag.c - racy_flag.c with the progress flag under a mutex:
 * race-free.
 *
 * One worker thread computes in STEPS small steps and after each one stores
 * how far it got in `progress` holding `progress_lock`; MONITORS threads
 * read `progress` holding the same lock, counting their polls, until it
 * reaches STEPS.  Every access to the flag is under the lock, so no two of
 * them are concurrent.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, no report (the
 * sampler arms watchpoints on `progress`, but every thread that touches it
 * holds progress_lock); exit status 0.  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdio.h>

#define STEPS 20000000
#define WORK 4      /* iterations of private work per step */
#define MONITORS 2

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static int progress;   /* under progress_lock */

static void *worker(void *arg)
{
    unsigned long h = 1;
    (void)arg;
    for (int i = 1; i <= STEPS; i++) {
        for (int j = 0; j < WORK; j++)
            h = h * 31 + (unsigned long)j;
        pthread_mutex_lock(&progress_lock);
        progress = i;
        pthread_mutex_unlock(&progress_lock);
    }
    return (void *)h;
}

static int read_progress(void)
{
    pthread_mutex_lock(&progress_lock);
    int p = progress;
    pthread_mutex_unlock(&progress_lock);
    return p;
}

static void *monitor(void *arg)
{
    unsigned long polls = 0;
    (void)arg;
    while (read_progress() < STEPS) {
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
    printf("locked_flag: done at %d\n", read_progress());
    return 0;
}
