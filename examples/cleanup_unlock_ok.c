/*
 * cleanup_unlock_ok.c - threads that end while holding mutexes that their
 * cleanup handlers or thread-specific-data destructors release: correct
 * use (terminates without lockwatch).
 *
 *  1. exiter() locks `exit_lock`, pushes a cleanup handler that unlocks it
 *     and calls pthread_exit (from a nested function).  pthread_exit runs
 *     the cleanup handlers before the thread ends.  ROUNDS threads.
 *  2. nested_exiter() locks `outer` and then `inner`, each with its own
 *     unlocking cleanup handler, and calls pthread_exit: the handlers run
 *     innermost first and release both.
 *  3. sleeper() locks `sleep_lock`, pushes an unlocking cleanup handler and
 *     sleeps; the main thread cancels it in the sleep (a cancellation
 *     point).  Nobody else takes sleep_lock: the handler says it ran.
 *  4. keeper() locks `tsd_lock`, stores its address in a thread-specific
 *     data key whose destructor unlocks it, and returns from its start
 *     routine.  The key is created after the first thread started, so it is
 *     not the process's first key.
 * The main thread locks exit_lock, outer, inner and tsd_lock afterwards:
 * each is free again.
 *
 * Expected lockwatch result: no report (in particular no
 * exit-holding-lock), exit status 0, the same output.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 3

static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t tsd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t tsd_key;
static int sleeping, released; /* atomic */

static void unlock_it(void *m)
{
    pthread_mutex_unlock(m);
}

static void unlock_and_say(void *m)
{
    if (pthread_mutex_unlock(m) == 0)
        __atomic_store_n(&released, 1, __ATOMIC_SEQ_CST);
}

__attribute__((noinline)) static void finish(void)
{
    pthread_exit(NULL); /* the cleanup handlers unlock */
}

static void *exiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&exit_lock);
    pthread_cleanup_push(unlock_it, &exit_lock);
    finish();
    pthread_cleanup_pop(1);
    return NULL;
}

static void *nested_exiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&outer);
    pthread_cleanup_push(unlock_it, &outer);
    pthread_mutex_lock(&inner);
    pthread_cleanup_push(unlock_it, &inner);
    pthread_exit(NULL);
    pthread_cleanup_pop(1);
    pthread_cleanup_pop(1);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sleep_lock);
    pthread_cleanup_push(unlock_and_say, &sleep_lock);
    __atomic_store_n(&sleeping, 1, __ATOMIC_SEQ_CST);
    for (;;)
        sleep(10); /* cancelled here */
    pthread_cleanup_pop(1);
    return NULL;
}

static void tsd_unlock(void *m)
{
    pthread_mutex_unlock(m);
}

static void *keeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&tsd_lock);
    pthread_setspecific(tsd_key, &tsd_lock);
    return NULL; /* the key's destructor unlocks */
}

static int run(void *(*fn)(void *))
{
    pthread_t t;

    if (pthread_create(&t, NULL, fn, NULL) != 0)
        return 0;
    return pthread_join(t, NULL) == 0;
}

static int check_free(pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) != 0)
        return 0;
    pthread_mutex_unlock(m);
    return 1;
}

int main(void)
{
    pthread_t t;
    void *res;
    int i, ended = 0, cancelled, free_after = 0;

    for (i = 0; i < ROUNDS; i++)
        ended += run(exiter);
    ended += run(nested_exiter);

    if (pthread_create(&t, NULL, sleeper, NULL) != 0)
        return 1;
    while (!__atomic_load_n(&sleeping, __ATOMIC_SEQ_CST))
        sched_yield();
    pthread_cancel(t);
    pthread_join(t, &res);
    cancelled = res == PTHREAD_CANCELED && __atomic_load_n(&released, __ATOMIC_SEQ_CST);

    if (pthread_key_create(&tsd_key, tsd_unlock) != 0)
        return 1;
    ended += run(keeper);

    free_after += check_free(&exit_lock);
    free_after += check_free(&outer);
    free_after += check_free(&inner);
    free_after += check_free(&tsd_lock);
    printf("cleanup_unlock_ok: %d threads ended, sleeper cancelled and released: %s, "
           "%d of 4 mutexes free\n",
           ended, cancelled ? "yes" : "no", free_after);
    return ended == ROUNDS + 2 && cancelled && free_after == 4 ? 0 : 1;
}
