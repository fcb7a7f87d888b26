/*
 * double_lock.c - a thread locks a normal (default) mutex it already holds
 * (hangs without lockwatch).
 *
 * update_total() locks `totals` and calls add_item(), which locks `totals`
 * again: with a normal mutex the second lock waits for the thread itself,
 * for ever.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: at once, one `double-lock` report on "totals"
 * (the thread's holds show where it was first locked, in update_total; the
 * stack shows add_item).  The thread then waits for itself; after
 * LOCKWATCH_DEADLOCK_MS the deadlock detector applies LOCKWATCH_ON_DEADLOCK
 * (default: exit 66) without a second report.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t totals = PTHREAD_MUTEX_INITIALIZER;
static long total;

__attribute__((noinline)) static void add_item(long v)
{
    pthread_mutex_lock(&totals); /* already held by the caller: self-deadlock */
    total += v;
    pthread_mutex_unlock(&totals);
}

__attribute__((noinline)) static void update_total(long v)
{
    pthread_mutex_lock(&totals);
    add_item(v);
    pthread_mutex_unlock(&totals);
}

static void *worker(void *arg)
{
    (void)arg;
    update_total(42);
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&totals, "totals");
    printf("double_lock: starting\n");
    fflush(stdout);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("double_lock: not reached (total=%ld)\n", total);
    return 0;
}
