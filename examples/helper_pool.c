/*
 * helper_pool.c - a lock-order inversion through a C lock helper, as C
 * programs are written: xlock()/xunlock() wrap pthread_mutex_lock and
 * pthread_mutex_unlock and check their result (yarn's possess(), sqlite's
 * sqlite3_mutex_enter() and many more), so every lock in the program is
 * taken at one call site, inside xlock, whose frame has returned by the
 * time the next lock is taken.
 *
 * A worker thread moves items from the queue to the statistics 1000 times
 * (queue, then stats: in move_item).  Later the main thread audits the
 * statistics and peeks at the queue (stats, then queue: in audit).  The
 * two never overlap, so the program cannot hang, but an audit during a
 * move would deadlock.
 *
 * Expected lockwatch result: one `lock-order-inversion` report; each
 * edge's held lock shows the stack of its acquisition through xlock into
 * the function that called xlock, at the line of that call (move_item's
 * xlock(&queue_lock), audit's xlock(&stats_lock)), with the default
 * LOCKWATCH_HELD_STACKS.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static int queue_len = 1000;
static long moved;

static __attribute__((noinline)) void xlock(pthread_mutex_t *m)
{
    int r = pthread_mutex_lock(m);
    if (r != 0) {
        fprintf(stderr, "helper_pool: pthread_mutex_lock: %s\n", strerror(r));
        abort();
    }
}

static __attribute__((noinline)) void xunlock(pthread_mutex_t *m)
{
    int r = pthread_mutex_unlock(m);
    if (r != 0) {
        fprintf(stderr, "helper_pool: pthread_mutex_unlock: %s\n", strerror(r));
        abort();
    }
}

static __attribute__((noinline)) void move_item(void)
{
    xlock(&queue_lock);   /* first lock of the worker */
    queue_len--;
    xlock(&stats_lock);
    moved++;
    xunlock(&stats_lock);
    xunlock(&queue_lock);
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        move_item();
    return NULL;
}

static __attribute__((noinline)) long audit(void)
{
    xlock(&stats_lock);   /* first lock of the audit: the inversion */
    xlock(&queue_lock);
    long total = moved + queue_len;
    xunlock(&queue_lock);
    xunlock(&stats_lock);
    return total;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    long total = audit();
    printf("helper_pool: moved=%ld total=%ld\n", moved, total);
    return total == 1000 ? 0 : 1;
}
