/*
 * destroy_state.c - rwlocks and spinlocks destroyed in each state: after
 * they were used and released (correct), and while another thread holds
 * them (terminates without lockwatch).
 *
 *  1. `rw_written`: init, write-lock, unlock, destroy.  glibc leaves its
 *     "write phase" bit set after the writer unlocks; the rwlock is free.
 *     ROUNDS times, one call site.  Correct.
 *  2. `rw_read`: init, read-lock twice (a recursive reader), unlock twice,
 *     destroy.  Correct.
 *  3. `spin_used`: init, lock, unlock, destroy.  glibc's x86 spinlock reads
 *     1 when free.  ROUNDS times, one call site.  Correct.
 *  4. `spin_held`: a worker thread locks it; the main thread destroys it
 *     (glibc's pthread_spin_destroy does nothing and returns 0) and only
 *     then lets the worker unlock it.
 *  5. `pp_mutex`: a priority-protect mutex (PTHREAD_PRIO_PROTECT), never
 *     locked (that needs a real-time priority), destroyed.  glibc keeps the
 *     priority ceiling in the mutex's lock word, which is not 0 although
 *     the mutex is free.  Correct.
 *  6. `rw_reader_held`: a worker thread holds it for reading and never
 *     lets go; the main thread destroys it (glibc's pthread_rwlock_destroy
 *     does nothing and returns 0), then returns from main: the process ends
 *     with the worker still holding the read lock.
 * Threads hand over with atomic flags and sched_yield.
 *
 * Expected lockwatch result: exactly two `destroy-locked` reports, each
 * naming the lock destroyed while another thread held it ("spin_held" and
 * "rw_reader_held"), each "while it is locked" with no holder tid (neither
 * lock records its holders); nothing for rw_written, rw_read, spin_used or
 * pp_mutex; exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_rwlock_t rw_written, rw_read, rw_reader_held;
static pthread_spinlock_t spin_used, spin_held;
static int spin_flag, reader_flag; /* atomic */

static void wait_flag(int *f, int v)
{
    while (__atomic_load_n(f, __ATOMIC_SEQ_CST) != v)
        sched_yield();
}

static void set_flag(int *f, int v)
{
    __atomic_store_n(f, v, __ATOMIC_SEQ_CST);
}

static void name(void *lock, const char *n)
{
    if (lockwatch_name_lock)
        lockwatch_name_lock(lock, n);
}

__attribute__((noinline)) static int written_then_destroyed(void)
{
    pthread_rwlock_init(&rw_written, NULL);
    name(&rw_written, "rw_written");
    pthread_rwlock_wrlock(&rw_written);
    pthread_rwlock_unlock(&rw_written);
    return pthread_rwlock_destroy(&rw_written); /* free: no report */
}

__attribute__((noinline)) static int read_then_destroyed(void)
{
    pthread_rwlock_init(&rw_read, NULL);
    name(&rw_read, "rw_read");
    pthread_rwlock_rdlock(&rw_read);
    pthread_rwlock_rdlock(&rw_read);
    pthread_rwlock_unlock(&rw_read);
    pthread_rwlock_unlock(&rw_read);
    return pthread_rwlock_destroy(&rw_read); /* free: no report */
}

__attribute__((noinline)) static int spun_then_destroyed(void)
{
    pthread_spin_init(&spin_used, PTHREAD_PROCESS_PRIVATE);
    name((void *)&spin_used, "spin_used");
    pthread_spin_lock(&spin_used);
    pthread_spin_unlock(&spin_used);
    return pthread_spin_destroy(&spin_used); /* free: no report */
}

__attribute__((noinline)) static int pp_destroyed(void)
{
    pthread_mutexattr_t a;
    pthread_mutex_t pp_mutex;
    int r = -1;

    pthread_mutexattr_init(&a);
    if (pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT) == 0 &&
        pthread_mutex_init(&pp_mutex, &a) == 0) {
        name(&pp_mutex, "pp_mutex");
        r = pthread_mutex_destroy(&pp_mutex); /* free: no report */
    }
    pthread_mutexattr_destroy(&a);
    return r;
}

static void *spin_holder(void *arg)
{
    (void)arg;
    pthread_spin_lock(&spin_held);
    set_flag(&spin_flag, 1);
    wait_flag(&spin_flag, 2);
    pthread_spin_unlock(&spin_held);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    pthread_rwlock_rdlock(&rw_reader_held);
    set_flag(&reader_flag, 1);
    for (;;) /* holds the read lock until the process exits */
        sched_yield();
    return NULL;
}

int main(void)
{
    pthread_t t;
    int i, ok = 0;

    for (i = 0; i < ROUNDS; i++) {
        ok += written_then_destroyed() == 0;
        ok += spun_then_destroyed() == 0;
    }
    ok += read_then_destroyed() == 0;
    ok += pp_destroyed() == 0;

    pthread_spin_init(&spin_held, PTHREAD_PROCESS_PRIVATE);
    name((void *)&spin_held, "spin_held");
    if (pthread_create(&t, NULL, spin_holder, NULL) != 0)
        return 1;
    wait_flag(&spin_flag, 1);
    ok += pthread_spin_destroy(&spin_held) == 0; /* BUG: the worker holds it */
    set_flag(&spin_flag, 2);
    pthread_join(t, NULL);

    pthread_rwlock_init(&rw_reader_held, NULL);
    name(&rw_reader_held, "rw_reader_held");
    if (pthread_create(&t, NULL, reader, NULL) != 0)
        return 1;
    wait_flag(&reader_flag, 1);
    ok += pthread_rwlock_destroy(&rw_reader_held) == 0; /* BUG: the worker reads under it */

    printf("destroy_state: %d of %d destroy calls returned 0\n", ok, 2 * ROUNDS + 4);
    fflush(stdout);
    return 0; /* the reader still holds rw_reader_held */
}
