/*
 * robust_ok.c - a robust mutex whose owner thread dies holding it, and the
 * recovery: correct use (terminates without lockwatch).
 *
 * owner() locks the robust mutex `state_lock`, half-updates `state` and
 * returns without unlocking (as if it had crashed).  The next locker, the
 * main thread, gets EOWNERDEAD, repairs `state`, marks the mutex
 * consistent with pthread_mutex_consistent and unlocks it.  ROUNDS times.
 * Dying with a robust mutex held is what robust mutexes exist for.
 *
 * Expected lockwatch result: no report (in particular no
 * exit-holding-lock), exit status 0, the same output.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_mutex_t state_lock;
static int state; /* under state_lock; odd: an update is half done */

static void *owner(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&state_lock);
    state++;         /* starts an update */
    return NULL;     /* dies holding the robust mutex */
}

int main(void)
{
    pthread_mutexattr_t a;
    pthread_t t;
    int i, recovered = 0;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (pthread_mutex_init(&state_lock, &a) != 0)
        return 1;
    pthread_mutexattr_destroy(&a);
    for (i = 0; i < ROUNDS; i++) {
        if (pthread_create(&t, NULL, owner, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
        if (pthread_mutex_lock(&state_lock) == EOWNERDEAD) {
            state++; /* finishes the update */
            pthread_mutex_consistent(&state_lock);
            recovered++;
        }
        pthread_mutex_unlock(&state_lock);
    }
    pthread_mutex_destroy(&state_lock);
    printf("robust_ok: recovered %d of %d times, state=%d\n", recovered, ROUNDS, state);
    return recovered == ROUNDS ? 0 : 1;
}
