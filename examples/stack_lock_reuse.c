/*
 * stack_lock_reuse.c - a function returns leaving the mutex (and rwlock)
 * on its stack locked; a later call of the same function puts a new,
 * statically initialised one at the same address and locks it
 * (terminates without lockwatch).
 *
 * frame(LEAVE_LOCKED) has a pthread_mutex_t and a pthread_rwlock_t on its
 * stack, initialised with PTHREAD_MUTEX_INITIALIZER and
 * PTHREAD_RWLOCK_INITIALIZER (no init call), locks both (the rwlock for
 * writing) and returns without unlocking: sloppy, but the memory is simply
 * gone.  frame(LOCK_UNLOCK), called next from the same place, gets the same
 * stack addresses, sets up new locks there the same way, locks them (glibc
 * grants both at once: they are new, free locks) and unlocks them.  A
 * worker thread does this ROUNDS times.
 *
 * Expected lockwatch result: no report (neither double-lock, which would
 * say the thread waits for itself, nor exit-holding-lock: the locks it
 * left behind were replaced), exit status 0, the same output.  The program
 * prints whether the second frame really reused the first one's addresses.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 3

enum { LEAVE_LOCKED, LOCK_UNLOCK };

static void *seen_m[2], *seen_rw[2];
static int granted; /* lock calls that returned 0 */

__attribute__((noinline)) static void frame(int what)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

    seen_m[what] = &m;
    seen_rw[what] = &rw;
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&m, "frame_mutex");
        lockwatch_name_lock(&rw, "frame_rwlock");
    }
    granted += pthread_mutex_lock(&m) == 0;
    granted += pthread_rwlock_wrlock(&rw) == 0;
    if (what == LOCK_UNLOCK) {
        pthread_rwlock_unlock(&rw);
        pthread_mutex_unlock(&m);
    }
    /* LEAVE_LOCKED: returns holding both */
}

static void *worker(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < ROUNDS; i++) {
        frame(LEAVE_LOCKED);
        frame(LOCK_UNLOCK);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    printf("stack_lock_reuse: %d of %d lock calls returned 0, same addresses: %s\n", granted,
           4 * ROUNDS, seen_m[0] == seen_m[1] && seen_rw[0] == seen_rw[1] ? "yes" : "no");
    return 0;
}
