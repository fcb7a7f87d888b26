/*
 * rwlock_upgrade.c - a thread holding a read lock asks for the write lock
 * of the same rwlock (hangs without lockwatch).
 *
 * lookup_or_insert() read-locks `index_lock` to search, and on a miss asks
 * for the write lock to insert, without releasing the read lock first.
 * The write lock waits until every reader is gone, including the thread
 * itself: it waits for ever.  (POSIX rwlocks cannot be upgraded.)
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: at once, one `rwlock-upgrade` report on
 * "index_lock" (held for reading); then, after LOCKWATCH_DEADLOCK_MS, the
 * deadlock detector applies LOCKWATCH_ON_DEADLOCK (default: exit 66) without
 * a second report.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

static pthread_rwlock_t index_lock = PTHREAD_RWLOCK_INITIALIZER;
static int keys[16], nkeys;

__attribute__((noinline)) static int lookup_or_insert(int key)
{
    int i;

    pthread_rwlock_rdlock(&index_lock);
    for (i = 0; i < nkeys; i++)
        if (keys[i] == key) {
            pthread_rwlock_unlock(&index_lock);
            return i;
        }
    pthread_rwlock_wrlock(&index_lock); /* still read-held by this thread */
    keys[nkeys] = key;
    i = nkeys++;
    pthread_rwlock_unlock(&index_lock);
    pthread_rwlock_unlock(&index_lock);
    return i;
}

static void *worker(void *arg)
{
    (void)arg;
    lookup_or_insert(7);
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&index_lock, "index_lock");
    printf("rwlock_upgrade: starting\n");
    fflush(stdout);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("rwlock_upgrade: not reached\n");
    return 0;
}
