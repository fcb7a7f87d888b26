/*
 * deadlock_rwlock.c - a deadlock through a reader-writer lock and a mutex
 * (hangs without lockwatch).
 *
 * Default (no argument): thread "reader" holds rw for reading and wants the
 * mutex mtx; thread "writer" holds mtx and wants rw for writing, which the
 * read lock keeps it from getting.
 * With the argument "write": the rwlock side is write-held and the other
 * thread wants it for reading: "writer" holds rw for writing and wants mtx,
 * "reader" holds mtx and wants rw for reading.
 *
 * Each thread first takes its first lock and waits (atomic counter and
 * sched_yield: not a blocking call) until the other holds its own.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: one `deadlock` report with both threads: one
 * waits for "rw" (in write mode, or read mode with "write") held by the
 * other, which waits for "mtx"; then LOCKWATCH_ON_DEADLOCK (default: exit 66).
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static int holding; /* atomic */
static int rw_write_held; /* the "write" variant */

static void both_hold_first_lock(void)
{
    __atomic_add_fetch(&holding, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&holding, __ATOMIC_SEQ_CST) < 2)
        sched_yield();
}

/* Takes rw first (read lock, or write lock in the "write" variant). */
static void *rw_then_mutex(void *arg)
{
    (void)arg;
    if (rw_write_held)
        pthread_rwlock_wrlock(&rw);
    else
        pthread_rwlock_rdlock(&rw);
    both_hold_first_lock();
    pthread_mutex_lock(&mtx); /* held by the other thread: blocks */
    pthread_mutex_unlock(&mtx);
    pthread_rwlock_unlock(&rw);
    return NULL;
}

/* Takes mtx first, then rw in the other mode. */
static void *mutex_then_rw(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mtx);
    both_hold_first_lock();
    if (rw_write_held)
        pthread_rwlock_rdlock(&rw); /* write-held by the other thread: blocks */
    else
        pthread_rwlock_wrlock(&rw); /* read-held by the other thread: blocks */
    pthread_rwlock_unlock(&rw);
    pthread_mutex_unlock(&mtx);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t1, t2;

    rw_write_held = argc > 1 && strcmp(argv[1], "write") == 0;
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&rw, "rw");
        lockwatch_name_lock(&mtx, "mtx");
    }
    printf("deadlock_rwlock: starting (rwlock %s-held)\n", rw_write_held ? "write" : "read");
    fflush(stdout);
    if (pthread_create(&t1, NULL, rw_then_mutex, NULL) != 0 ||
        pthread_create(&t2, NULL, mutex_then_rw, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("deadlock_rwlock: not reached\n");
    return 0;
}
