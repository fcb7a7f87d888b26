/*
 * unlock_not_owned.c - unlocking a mutex the thread does not hold
 * (terminates without lockwatch).
 *
 *  1. A worker thread locks `shared` and keeps it; while it holds it, the
 *     main thread unlocks `shared` (it is held by another thread).  glibc
 *     does not check the owner of a normal mutex and simply releases it,
 *     so the lock no longer protects anything.  The worker unlocks it
 *     afterwards as it always did.  This is done ROUNDS times (same sites).
 *  2. The main thread unlocks `idle`, a mutex nobody has locked, ROUNDS
 *     times at one call site.
 * The threads hand over with atomic flags and sched_yield, not with calls
 * that could block.
 *
 * Expected lockwatch result: exactly two `unlock-not-owned` reports, each
 * once although its call site runs ROUNDS times: one for "shared" whose
 * "owner_tid" is the worker's thread id, one for "idle" with "owner_tid"
 * null ("which is not locked"); exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t idle = PTHREAD_MUTEX_INITIALIZER;
static int step; /* atomic: 2*round+1 worker holds shared, 2*round+2 main unlocked it */
static int failed; /* unlocks that returned an error (none: glibc does not check) */

static void wait_step(int s)
{
    while (__atomic_load_n(&step, __ATOMIC_SEQ_CST) < s)
        sched_yield();
}

static void set_step(int s)
{
    __atomic_store_n(&step, s, __ATOMIC_SEQ_CST);
}

static void *worker(void *arg)
{
    int r;

    (void)arg;
    for (r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&shared);
        set_step(2 * r + 1);
        wait_step(2 * r + 2); /* main unlocks shared behind our back */
        pthread_mutex_unlock(&shared);
    }
    return NULL;
}

/* noinline, and no tail call: each call site stays one place in the
 * optimised program, whatever the compiler does with the loops below. */
__attribute__((noinline)) static void unlock_shared(void)
{
    failed += pthread_mutex_unlock(&shared) != 0; /* held by the worker thread */
}

__attribute__((noinline)) static void unlock_idle(void)
{
    failed += pthread_mutex_unlock(&idle) != 0; /* not locked at all */
}

int main(void)
{
    pthread_t t;
    int r;

    if (lockwatch_name_lock) {
        lockwatch_name_lock(&shared, "shared");
        lockwatch_name_lock(&idle, "idle");
    }
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    for (r = 0; r < ROUNDS; r++) {
        wait_step(2 * r + 1);
        unlock_shared();
        set_step(2 * r + 2);
    }
    pthread_join(t, NULL);
    for (r = 0; r < ROUNDS; r++)
        unlock_idle();
    printf("unlock_not_owned: %d rounds done, %d unlocks failed\n", ROUNDS, failed);
    return 0;
}
