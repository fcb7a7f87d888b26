/*
 * atfork_locks.c - pthread_atfork handlers that take the program's own
 * mutexes, while threads use those mutexes (terminates without lockwatch).
 *
 * Three mutexes are always nested in one order, outer before inner:
 * `config` -> `cache` -> `stats`.  WORKERS threads loop taking the three
 * in that order, or just the inner two, or one alone, until told to stop.
 * So that a child never inherits one of them locked by a thread it does
 * not have, the program registers one pthread_atfork handler triple per
 * mutex, innermost first: glibc runs prepare handlers in the reverse order
 * of registration, so prepare takes config, then cache, then stats (the
 * program's order), and runs the parent and child handlers in the order of
 * registration, so they release stats, cache, config.
 *
 * The main thread forks FORKS times while the workers run.  Each child
 * (one thread) takes the three mutexes in the same order, exits 0; the
 * parent waits for it holding nothing.
 *
 * Expected lockwatch result: no report in the parent or any child (the
 * prepare handlers' acquisitions are in the program's order; the child's
 * handlers release what its one thread holds), exit status 0 everywhere,
 * the same output.
 *
 * Helgrind and DRD (valgrind 3.19): silent.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 3
#define FORKS 4
#define CHILD_ROUNDS 50

static pthread_mutex_t config = PTHREAD_MUTEX_INITIALIZER; /* outermost */
static pthread_mutex_t cache = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats = PTHREAD_MUTEX_INITIALIZER; /* innermost */
static long config_gen, cache_items, stats_ops;           /* under their mutex */
static int stop;                                          /* atomic */

static void take_config(void)
{
    pthread_mutex_lock(&config);
}
static void give_config(void)
{
    pthread_mutex_unlock(&config);
}
static void take_cache(void)
{
    pthread_mutex_lock(&cache);
}
static void give_cache(void)
{
    pthread_mutex_unlock(&cache);
}
static void take_stats(void)
{
    pthread_mutex_lock(&stats);
}
static void give_stats(void)
{
    pthread_mutex_unlock(&stats);
}

static void all_three(void)
{
    pthread_mutex_lock(&config);
    pthread_mutex_lock(&cache);
    pthread_mutex_lock(&stats);
    config_gen++;
    cache_items++;
    stats_ops++;
    pthread_mutex_unlock(&stats);
    pthread_mutex_unlock(&cache);
    pthread_mutex_unlock(&config);
}

static void *worker(void *arg)
{
    unsigned i = (unsigned)(size_t)arg;

    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        switch (i++ % 3) {
        case 0:
            all_three();
            break;
        case 1:
            pthread_mutex_lock(&cache);
            pthread_mutex_lock(&stats);
            cache_items++;
            stats_ops++;
            pthread_mutex_unlock(&stats);
            pthread_mutex_unlock(&cache);
            break;
        default:
            pthread_mutex_lock(&stats);
            stats_ops++;
            pthread_mutex_unlock(&stats);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[WORKERS];
    int ok = 0;

    /* Innermost first: prepare handlers run last-registered first. */
    pthread_atfork(take_stats, give_stats, give_stats);
    pthread_atfork(take_cache, give_cache, give_cache);
    pthread_atfork(take_config, give_config, give_config);

    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(size_t)i) != 0)
            return 1;
    for (int f = 0; f < FORKS; f++) {
        int status;
        pid_t pid;

        all_three(); /* let the workers run a little between forks */
        pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            for (int r = 0; r < CHILD_ROUNDS; r++)
                all_three();
            exit(0);
        }
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);

    printf("atfork_locks: %d of %d children exited 0\n", ok, FORKS);
    return ok == FORKS ? 0 : 1;
}
