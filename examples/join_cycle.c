/*
 * join_cycle.c - a join cycle that did not hang this time.
 *
 * The worker thread adds its result to `stats` under `stats_lock`, then
 * goes on with other work (here a 1.5 s nap: long enough that the join
 * waits a whole wait slice for it on a loaded machine) before it ends.  The main
 * thread, to publish a summary atomically, locks `stats_lock` and joins
 * the worker while still holding it, waiting for the rest of the worker's
 * work.  Here the worker happens to have added its result before the main
 * thread locks (it waits for the worker's flag first), so nothing hangs;
 * but if the worker's update comes later (it is moved, or done again in
 * the rest of its work), the worker blocks on `stats_lock` and the main
 * thread waits for ever in pthread_join.
 *
 * The end of a thread is a lock the thread holds for its whole life, and
 * pthread_join acquires it: stats_lock => end(worker) in the main thread,
 * end(worker) => stats_lock in the worker, a cycle.
 *
 * Expected lockwatch result: one `lock-order-inversion` (confidence
 * feasible) whose cycle is stats_lock => the end of the worker thread
 * (a lock of kind "thread") => stats_lock, the join named in its
 * message, made once the join has waited a wait slice for the worker;
 * and one `blocking-call-under-lock` for the join.  Exit status 66.
 *
 * Variants (argv[1]) with no join cycle:
 *   other    the main thread joins holding another lock, which the worker
 *            never takes (no report: the lock is not shared either);
 *   readers  `table`, an rwlock, read-locked by the worker and held for
 *            reading by the joining main thread: readers do not wait for
 *            readers (the join is still a blocking-call-under-lock).
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table = PTHREAD_RWLOCK_INITIALIZER;
static long stats;
static atomic_int finished;
static int readers;

static void *worker(void *arg)
{
    (void)arg;
    if (readers) {
        pthread_rwlock_rdlock(&table);
        stats += 42;
        pthread_rwlock_unlock(&table);
    } else {
        pthread_mutex_lock(&stats_lock);
        stats += 42;
        pthread_mutex_unlock(&stats_lock);
    }
    atomic_store(&finished, 1);
    usleep(1500000);   /* the rest of its work */
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "bug";
    readers = strcmp(mode, "readers") == 0;
    pthread_t t;
    if (lockwatch_name_lock)
        lockwatch_name_lock(&stats_lock, "stats_lock");
    pthread_create(&t, NULL, worker, NULL);
    while (!atomic_load(&finished))
        usleep(1000);
    if (strcmp(mode, "other") == 0) {
        pthread_mutex_lock(&log_lock);
        pthread_join(t, NULL);   /* fine: the worker never takes log_lock */
        pthread_mutex_unlock(&log_lock);
    } else if (readers) {
        pthread_rwlock_rdlock(&table);
        pthread_join(t, NULL);   /* fine: a reader does not wait for a reader */
        pthread_rwlock_unlock(&table);
    } else {
        pthread_mutex_lock(&stats_lock);
        pthread_join(t, NULL);   /* BUG: joins while holding a lock the worker takes */
        pthread_mutex_unlock(&stats_lock);
    }
    printf("stats %ld\n", stats);
    return 0;
}
