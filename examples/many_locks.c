/*
 * many_locks.c - a thread that holds a thousand locks at once, and a fork
 * handler that does what jemalloc's does: its prepare handler takes every
 * one of its 200 arena mutexes, the parent handler unlocks them, and the
 * child handler initialises them again (pthread_mutex_init) instead of
 * unlocking them.
 *
 * The main thread takes 1,000 mutexes in order, releases them in reverse
 * order, takes them again and releases the odd ones first, then the even
 * ones; it read-locks 1,000 rwlocks and releases them in the order it took
 * them (a read lock has no owner in its lock word: only the held stack
 * knows the thread holds it); then it forks, and the child takes and releases each arena mutex
 * once more and exits.  All of it is correct.
 *
 * Expected lockwatch result: no report at all (no unlock-not-owned at any
 * depth, no "holds more than N locks" warning, no exit-holding-lock in the
 * child), exit status 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NLOCKS 1000
#define NARENAS 200

static pthread_mutex_t locks[NLOCKS];
static pthread_rwlock_t rw[NLOCKS];
static pthread_mutex_t arenas[NARENAS];

static void prepare(void)
{
    for (int i = 0; i < NARENAS; i++)
        pthread_mutex_lock(&arenas[i]);
}

static void parent(void)
{
    for (int i = NARENAS; i-- > 0;)
        pthread_mutex_unlock(&arenas[i]);
}

static void child(void)
{
    for (int i = 0; i < NARENAS; i++)
        pthread_mutex_init(&arenas[i], NULL);
}

int main(void)
{
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
    for (int i = 0; i < NARENAS; i++)
        pthread_mutex_init(&arenas[i], NULL);
    for (int i = 0; i < NLOCKS; i++)
        pthread_rwlock_init(&rw[i], NULL);

    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_lock(&locks[i]);
    for (int i = NLOCKS; i-- > 0;)
        pthread_mutex_unlock(&locks[i]);

    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_lock(&locks[i]);
    for (int i = 1; i < NLOCKS; i += 2)
        pthread_mutex_unlock(&locks[i]);
    for (int i = 0; i < NLOCKS; i += 2)
        pthread_mutex_unlock(&locks[i]);

    /* Read locks: no owner in the lock word, only the held stack knows. */
    for (int i = 0; i < NLOCKS; i++)
        pthread_rwlock_rdlock(&rw[i]);
    for (int i = 0; i < NLOCKS; i++)
        pthread_rwlock_unlock(&rw[i]);

    pthread_atfork(prepare, parent, child);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        for (int i = 0; i < NARENAS; i++) {
            pthread_mutex_lock(&arenas[i]);
            pthread_mutex_unlock(&arenas[i]);
        }
        exit(0);   /* exit handlers run: a thread ending with locks is checked */
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        printf("many_locks: the child did not exit normally\n");
        return 1;
    }
    printf("many_locks: %d locks held at once, child status %d\n", NLOCKS, WEXITSTATUS(status));
    return WEXITSTATUS(status);
}
