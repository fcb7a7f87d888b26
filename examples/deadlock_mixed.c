/*
 * deadlock_mixed.c - a deadlock between a pthread spin lock and a C11 mutex
 * (hangs, spinning, without lockwatch).
 *
 * Thread T1 holds the spin lock `spin` and wants the C11 mutex `cmtx`;
 * thread T2 (a C11 thread) holds `cmtx` and wants `spin`.  Each first takes
 * its own lock and waits (atomic counter, sched_yield) until the other
 * holds its lock, so the cycle always forms.  T2 spins on `spin` for ever,
 * using a CPU.
 *
 * THIS PROGRAM HANGS WITHOUT LOCKWATCH.  Run it only under lockwatch (or
 * with a timeout).
 *
 * Expected lockwatch result: one `deadlock` report with both threads, one
 * waiting for the spinlock "spin", the other for the c11-mutex "cmtx";
 * then LOCKWATCH_ON_DEADLOCK (default: exit 66).
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <threads.h>

static pthread_spinlock_t spin;
static mtx_t cmtx;
static int holding; /* atomic */

static void both_hold_first_lock(void)
{
    __atomic_add_fetch(&holding, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&holding, __ATOMIC_SEQ_CST) < 2)
        sched_yield();
}

static void *spin_then_mtx(void *arg)
{
    (void)arg;
    pthread_spin_lock(&spin);
    both_hold_first_lock();
    mtx_lock(&cmtx); /* held by T2: blocks */
    mtx_unlock(&cmtx);
    pthread_spin_unlock(&spin);
    return NULL;
}

static int mtx_then_spin(void *arg)
{
    (void)arg;
    mtx_lock(&cmtx);
    both_hold_first_lock();
    pthread_spin_lock(&spin); /* held by T1: spins for ever */
    pthread_spin_unlock(&spin);
    mtx_unlock(&cmtx);
    return 0;
}

int main(void)
{
    pthread_t t1;
    thrd_t t2;

    if (pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE) != 0 ||
        mtx_init(&cmtx, mtx_plain) != thrd_success)
        return 1;
    if (lockwatch_name_lock) {
        lockwatch_name_lock((const void *)&spin, "spin");
        lockwatch_name_lock(&cmtx, "cmtx");
    }
    printf("deadlock_mixed: starting\n");
    fflush(stdout);
    if (pthread_create(&t1, NULL, spin_then_mtx, NULL) != 0 ||
        thrd_create(&t2, mtx_then_spin, NULL) != thrd_success)
        return 1;
    pthread_join(t1, NULL);
    thrd_join(t2, NULL);
    printf("deadlock_mixed: not reached\n");
    return 0;
}
