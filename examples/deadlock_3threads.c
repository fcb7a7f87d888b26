/*
 * deadlock_3threads.c - a deadlock cycle through three threads and three
 * mutexes (hangs without lockwatch).
 *
 * Thread T1 holds m1 and wants m2, T2 holds m2 and wants m3, T3 holds m3
 * and wants m1.  Each thread first takes its own lock and waits (spinning
 * on an atomic counter with sched_yield, not a blocking call) until all
 * three hold theirs, so the cycle always forms.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: one `deadlock` report with the three threads,
 * each waiting for the lock the next one holds (m1, m2, m3 by name), after
 * LOCKWATCH_DEADLOCK_MS; then LOCKWATCH_ON_DEADLOCK (default: exit 66).
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define N 3

static pthread_mutex_t m[N] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                PTHREAD_MUTEX_INITIALIZER };
static int holding; /* atomic */

static void *worker(void *arg)
{
    int i = (int)(long)arg;

    pthread_mutex_lock(&m[i]);
    __atomic_add_fetch(&holding, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&holding, __ATOMIC_SEQ_CST) < N)
        sched_yield();
    pthread_mutex_lock(&m[(i + 1) % N]); /* held by the next thread: blocks */
    pthread_mutex_unlock(&m[(i + 1) % N]);
    pthread_mutex_unlock(&m[i]);
    return NULL;
}

int main(void)
{
    pthread_t th[N];
    int i;

    if (lockwatch_name_lock) {
        lockwatch_name_lock(&m[0], "m1");
        lockwatch_name_lock(&m[1], "m2");
        lockwatch_name_lock(&m[2], "m3");
    }
    printf("deadlock_3threads: starting\n");
    fflush(stdout);
    for (i = 0; i < N; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(long)i) != 0)
            return 1;
    for (i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    printf("deadlock_3threads: not reached\n");
    return 0;
}
