/* race_thread_churn: creates and joins N threads (argv[1], default 50),
 * one after the other, each taking a mutex once, then creates one POSIX
 * timer of its own and prints its id.  Linux numbers a process's timers
 * in creation order, so the id says how many timers the process created
 * before: under LOCKWATCH_RACES=sample one per thread (its sampling timer)
 * and the main thread's, not one for every signal-mask change lockwatch's
 * own unwinding (libunwind) makes.  No data race, no report. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return arg;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 50;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, work, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    struct sigevent sev = {.sigev_notify = SIGEV_NONE};
    timer_t id;
    if (timer_create(CLOCK_MONOTONIC, &sev, &id) != 0) {
        perror("timer_create");
        return 1;
    }
    printf("race_thread_churn: %d threads, then timer id %ld\n", n, (long)(intptr_t)id);
    return 0;
}
