/* race_long: two threads increment a shared counter without a lock for a
 * few seconds of wall time (argv[1], default 3), with no thread event in
 * between (no thread created, joined or ended until the end): a
 * long-running server's data race.  LOCKWATCH_RACES=sample reports a
 * data-race on `hits` while the program still runs, not only at exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile long hits;
static double seconds = 3.0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    (void)arg;
    double end = now() + seconds;
    while (now() < end)
        for (int i = 0; i < 100000; i++)
            hits++;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    pthread_t a, b;
    pthread_create(&a, NULL, worker, NULL);
    pthread_create(&b, NULL, worker, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("race_long: done\n");
    return 0;
}
