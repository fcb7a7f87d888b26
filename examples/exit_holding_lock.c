/*
 * exit_holding_lock.c - threads that end while holding a mutex
 * (terminates without lockwatch).
 *
 *  1. returner() locks a mutex and returns from its start routine without
 *     unlocking it.  Run by ROUNDS threads one after the other, each with a
 *     mutex of its own (ret_lock[i]), from the same code.
 *  2. quitter() locks `exit_lock` and calls pthread_exit.
 *  3. spinner() locks `cancel_lock` and loops on pthread_testcancel(); the
 *     main thread cancels it, and it has no cleanup handler to unlock.
 * Any thread that later locked one of those mutexes would wait for ever;
 * this program does not, so it terminates.  (A cancelled thread whose
 * cleanup handler unlocks is correct: see cancel_cond_ok.c and
 * cleanup_unlock_ok.c.)
 *
 * Expected lockwatch result: `exit-holding-lock` reports for each way of
 * ending: one for returner (once for its site, although ROUNDS threads run
 * it), one for quitter ("called pthread_exit"), one for spinner (it
 * "ended": cancelled); each lists the mutex held ("ret_lock", "exit_lock",
 * "cancel_lock"); exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_mutex_t ret_lock[ROUNDS] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                            PTHREAD_MUTEX_INITIALIZER };
static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static int spinning; /* atomic */

static void *returner(void *arg)
{
    pthread_mutex_lock(arg);
    return NULL; /* BUG: still holds the mutex */
}

static void *quitter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&exit_lock);
    pthread_exit(NULL); /* BUG: still holds exit_lock */
}

static void *spinner(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cancel_lock);
    __atomic_store_n(&spinning, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        pthread_testcancel(); /* cancelled here, holding cancel_lock */
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    int i;

    if (lockwatch_name_lock) {
        for (i = 0; i < ROUNDS; i++)
            lockwatch_name_lock(&ret_lock[i], "ret_lock");
        lockwatch_name_lock(&exit_lock, "exit_lock");
        lockwatch_name_lock(&cancel_lock, "cancel_lock");
    }
    for (i = 0; i < ROUNDS; i++) {
        if (pthread_create(&t, NULL, returner, &ret_lock[i]) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    if (pthread_create(&t, NULL, quitter, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    if (pthread_create(&t, NULL, spinner, NULL) != 0)
        return 1;
    while (!__atomic_load_n(&spinning, __ATOMIC_SEQ_CST))
        sched_yield();
    pthread_cancel(t);
    pthread_join(t, NULL);
    printf("exit_holding_lock: %d threads ended holding a mutex\n", ROUNDS + 2);
    return 0;
}
