/*
 * use_after_destroy.c - locks used after they were destroyed
 * (terminates without lockwatch).
 *
 * `gone` (a mutex) and `rw_gone` (an rwlock) are initialised, used and
 * destroyed; then, ROUNDS times at the same call sites, the program locks
 * and unlocks `gone` (glibc marks a destroyed mutex invalid, so these
 * calls fail with EINVAL) and read-locks and unlocks `rw_gone` (glibc does
 * not notice: the calls "succeed" on a dead object).  Finally `gone` is
 * initialised again and used correctly: a re-initialised lock is a new,
 * valid lock.
 *
 * Expected lockwatch result: exactly four `use-after-destroy` reports, one
 * per call site (pthread_mutex_lock and pthread_mutex_unlock on the mutex,
 * pthread_rwlock_rdlock and pthread_rwlock_unlock on the rwlock), each
 * giving where the lock was destroyed; nothing for the use after the new
 * pthread_mutex_init; exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_mutex_t gone;
static pthread_rwlock_t rw_gone;
static int rw_results; /* sum of the rwlock calls' results */

__attribute__((noinline)) static int retire(void)
{
    int r = 0;

    pthread_mutex_lock(&gone);
    pthread_mutex_unlock(&gone);
    r |= pthread_mutex_destroy(&gone);
    pthread_rwlock_rdlock(&rw_gone);
    pthread_rwlock_unlock(&rw_gone);
    r |= pthread_rwlock_destroy(&rw_gone); /* used result: not a tail call */
    return r;
}

/* noinline, and no tail calls: each call site stays one place in the
 * optimised program, whatever the compiler does with the loop in main. */
__attribute__((noinline)) static int use_mutex(void)
{
    int a = pthread_mutex_lock(&gone);   /* destroyed */
    int b = pthread_mutex_unlock(&gone); /* destroyed */
    return a != 0 && b != 0;
}

__attribute__((noinline)) static void use_rwlock(void)
{
    rw_results += pthread_rwlock_rdlock(&rw_gone);  /* destroyed */
    rw_results += pthread_rwlock_unlock(&rw_gone);  /* destroyed */
}

int main(void)
{
    int i, failed = 0;

    pthread_mutex_init(&gone, NULL);
    pthread_rwlock_init(&rw_gone, NULL);
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&gone, "gone");
        lockwatch_name_lock(&rw_gone, "rw_gone");
    }
    if (retire() != 0)
        return 1;
    for (i = 0; i < ROUNDS; i++) {
        failed += use_mutex();
        use_rwlock();
    }
    /* Initialised again: a valid lock, no report. */
    pthread_mutex_init(&gone, NULL);
    pthread_mutex_lock(&gone);
    pthread_mutex_unlock(&gone);
    pthread_mutex_destroy(&gone);
    printf("use_after_destroy: %d of %d uses of the destroyed mutex failed, "
           "rwlock results %d\n", failed, ROUNDS, rw_results);
    return 0;
}
