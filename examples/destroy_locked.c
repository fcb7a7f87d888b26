/*
 * destroy_locked.c - destroying locks that are in use (terminates without
 * lockwatch).
 *
 *  1. The main thread destroys the mutex `self_held` while it holds it
 *     (glibc returns EBUSY and leaves it alone; the program then unlocks and
 *     destroys it properly).  ROUNDS times, one call site.
 *  2. The main thread destroys the mutex `other_held` while a worker thread
 *     holds it (EBUSY again).
 *  3. The main thread destroys the condition variable `cv` while a worker
 *     waits on it.  glibc's pthread_cond_destroy waits until the waiters
 *     have left, so the waiter uses pthread_cond_timedwait with a short
 *     timeout: the program terminates, but a waiter that is still asleep
 *     when its condvar is destroyed is undefined behaviour.  ROUNDS times
 *     (the condvar is initialised again each round), one call site.
 * Threads hand over with atomic flags and sched_yield, or under the mutex.
 *
 * Expected lockwatch result: exactly three `destroy-locked` reports, each
 * once: "self_held" (the thread holds it), "other_held" (held by the
 * worker's tid), and the condvar "cv" (1 thread waits on it); exit status 66.
 */
#include <errno.h>
#include <lockwatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 3

static pthread_mutex_t self_held, other_held;
static pthread_mutex_t cv_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static int flag; /* atomic */
static int waiting; /* under cv_mutex */

static void wait_flag(int v)
{
    while (__atomic_load_n(&flag, __ATOMIC_SEQ_CST) != v)
        sched_yield();
}

__attribute__((noinline)) static int destroy_own(void)
{
    int r;

    pthread_mutex_lock(&self_held);
    r = pthread_mutex_destroy(&self_held); /* we hold it: EBUSY */
    pthread_mutex_unlock(&self_held);
    return r;
}

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&other_held);
    __atomic_store_n(&flag, 1, __ATOMIC_SEQ_CST);
    wait_flag(2);
    pthread_mutex_unlock(&other_held);
    return NULL;
}

static void *cv_waiter(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L; /* 100 ms */
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cv_mutex);
    waiting = 1;
    /* nobody signals: this wait times out, after the condvar is destroyed */
    pthread_cond_timedwait(&cv, &cv_mutex, &ts);
    waiting = 0;
    pthread_mutex_unlock(&cv_mutex);
    return NULL;
}

__attribute__((noinline)) static int destroy_cv_with_waiter(void)
{
    pthread_t t;
    int in_wait = 0, r;

    pthread_cond_init(&cv, NULL);
    if (pthread_create(&t, NULL, cv_waiter, NULL) != 0)
        return -1;
    /* When we get the mutex and see `waiting`, the waiter is in the wait. */
    while (!in_wait) {
        pthread_mutex_lock(&cv_mutex);
        in_wait = waiting;
        pthread_mutex_unlock(&cv_mutex);
        if (!in_wait)
            sched_yield();
    }
    r = pthread_cond_destroy(&cv); /* a thread waits on cv */
    pthread_join(t, NULL);
    return r;
}

int main(void)
{
    pthread_t t;
    int i, busy = 0, cv_ok = 0;

    pthread_mutex_init(&self_held, NULL);
    pthread_mutex_init(&other_held, NULL);
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&self_held, "self_held");
        lockwatch_name_lock(&other_held, "other_held");
        lockwatch_name_lock(&cv_mutex, "cv_mutex");
        lockwatch_name_lock(&cv, "cv"); /* names go by address: a condvar too */
    }

    for (i = 0; i < ROUNDS; i++)
        busy += destroy_own() == EBUSY;

    if (pthread_create(&t, NULL, holder, NULL) != 0)
        return 1;
    wait_flag(1);
    busy += pthread_mutex_destroy(&other_held) == EBUSY; /* the holder thread has it */
    __atomic_store_n(&flag, 2, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);

    for (i = 0; i < ROUNDS; i++)
        cv_ok += destroy_cv_with_waiter() == 0;

    pthread_mutex_destroy(&self_held);
    pthread_mutex_destroy(&other_held);
    printf("destroy_locked: %d destroys of held mutexes returned EBUSY, %d condvar destroys\n",
           busy, cv_ok);
    return 0;
}
