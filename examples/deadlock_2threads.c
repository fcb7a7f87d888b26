/*
 * deadlock_2threads.c - two threads that really deadlock (hangs without
 * lockwatch).
 *
 * Thread T1 locks lock_a, thread T2 locks lock_b; each waits (by spinning on
 * a flag, holding its lock) until the other holds its first lock, then asks
 * for the other lock: T1 wants lock_b (held by T2), T2 wants lock_a (held by
 * T1).  Neither can go on.  The flag spinning is plain atomics and
 * sched_yield, so no call that lockwatch counts as blocking is made while a
 * lock is held.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: once the wait-for cycle has lasted
 * LOCKWATCH_DEADLOCK_MS (default 1000 ms), one `deadlock` report: T1 waits
 * for lock_a's partner lock_b held by T2, T2 waits for lock_a held by T1;
 * each thread section lists the lock it holds.  Then LOCKWATCH_ON_DEADLOCK
 * applies: by default the process exits at once with status 66.
 * Locks are named "lock_a" and "lock_b" through lockwatch_name_lock.
 * That exit skips exit handlers (they could need the very locks of the
 * cycle): the atexit handler's line never appears.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int holding; /* atomic: how many threads hold their first lock */

static void both_hold_first_lock(void)
{
    __atomic_add_fetch(&holding, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&holding, __ATOMIC_SEQ_CST) < 2)
        sched_yield();
}

static void *take_a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    both_hold_first_lock();
    pthread_mutex_lock(&lock_b); /* blocks forever: T2 holds lock_b */
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

static void *take_b_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    both_hold_first_lock();
    pthread_mutex_lock(&lock_a); /* blocks forever: T1 holds lock_a */
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

static void exit_handler(void)
{
    printf("deadlock_2threads: exit handlers ran\n");
}

int main(void)
{
    pthread_t t1, t2;

    atexit(exit_handler);
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&lock_a, "lock_a");
        lockwatch_name_lock(&lock_b, "lock_b");
    }
    printf("deadlock_2threads: starting\n");
    fflush(stdout);
    if (pthread_create(&t1, NULL, take_a_then_b, NULL) != 0 ||
        pthread_create(&t2, NULL, take_b_then_a, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("deadlock_2threads: not reached\n");
    return 0;
}
