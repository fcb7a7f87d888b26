/*
 * double_lock_errorcheck.c - relocks that fail with EDEADLK instead of
 * hanging (terminates without lockwatch).
 *
 *  - `checked`, an errorcheck mutex, is locked again by its owner: glibc
 *    returns EDEADLK.  This happens ROUNDS times at the same call site.
 *  - `table`, an rwlock, is write-locked again by the thread that holds it
 *    for writing: glibc returns EDEADLK too.  Also ROUNDS times, one site.
 *
 * The program checks both results and prints them.
 *
 * Expected lockwatch result: exactly two `double-lock` reports, one for
 * "checked" (message: the call returns EDEADLK) and one for "table", each
 * once although its call site runs ROUNDS times; exit status 66.
 */
#include <errno.h>
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 3

static pthread_mutex_t checked;
static pthread_rwlock_t table = PTHREAD_RWLOCK_INITIALIZER;

__attribute__((noinline)) static int relock_checked(void)
{
    int first = pthread_mutex_lock(&checked);
    int again = pthread_mutex_lock(&checked); /* owner relocks: EDEADLK */
    pthread_mutex_unlock(&checked);
    return first == 0 ? again : -1;
}

__attribute__((noinline)) static int relock_table(void)
{
    int first = pthread_rwlock_wrlock(&table);
    int again = pthread_rwlock_wrlock(&table); /* write-held by us: EDEADLK */
    pthread_rwlock_unlock(&table);
    return first == 0 ? again : -1;
}

static void *worker(void *arg)
{
    int i, edeadlk = 0;

    (void)arg;
    for (i = 0; i < ROUNDS; i++) {
        edeadlk += relock_checked() == EDEADLK;
        edeadlk += relock_table() == EDEADLK;
    }
    return (void *)(long)edeadlk;
}

int main(void)
{
    pthread_mutexattr_t a;
    pthread_t t;
    void *res;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    if (pthread_mutex_init(&checked, &a) != 0)
        return 1;
    pthread_mutexattr_destroy(&a);
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&checked, "checked");
        lockwatch_name_lock(&table, "table");
    }
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t, &res);
    printf("double_lock_errorcheck: %ld of %d relocks returned EDEADLK\n", (long)res,
           2 * ROUNDS);
    pthread_mutex_destroy(&checked);
    return (long)res == 2 * ROUNDS ? 0 : 1;
}
