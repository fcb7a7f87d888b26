/*
 * locked_toctou.c - racy_toctou.c with the balance checked inside the lock:
 * race-free.
 *
 * An account's `balance` is read and changed only under account_lock: a
 * depositor thread adds one unit at a time, enough for all withdrawals;
 * WITHDRAWERS threads each make WITHDRAWALS withdrawals of AMOUNT units,
 * each trying again and again: take the lock, check that there is enough
 * money and subtract, under the same hold.  The balance never goes negative,
 * and no two accesses to it are concurrent.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, no report; exit
 * status 0.  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdio.h>

#define WITHDRAWERS 2
#define WITHDRAWALS 300000L   /* per withdrawer */
#define AMOUNT 10             /* units a withdrawal takes */
#define DEPOSITS (WITHDRAWERS * WITHDRAWALS * AMOUNT)   /* of one unit: enough for all */

static pthread_mutex_t account_lock = PTHREAD_MUTEX_INITIALIZER;
static long balance;   /* under account_lock */

static void *depositor(void *arg)
{
    (void)arg;
    for (long i = 0; i < DEPOSITS; i++) {
        pthread_mutex_lock(&account_lock);
        balance += 1;
        pthread_mutex_unlock(&account_lock);
    }
    return NULL;
}

static void *withdrawer(void *arg)
{
    long tries = 0;
    (void)arg;
    for (long done = 0; done < WITHDRAWALS; tries++) {
        pthread_mutex_lock(&account_lock);
        if (balance >= AMOUNT) {   /* check and use under one hold */
            balance -= AMOUNT;
            done++;
        }
        pthread_mutex_unlock(&account_lock);
    }
    return (void *)tries;
}

int main(void)
{
    pthread_t d, w[WITHDRAWERS];
    pthread_create(&d, NULL, depositor, NULL);
    for (int i = 0; i < WITHDRAWERS; i++)
        pthread_create(&w[i], NULL, withdrawer, NULL);
    pthread_join(d, NULL);
    for (int i = 0; i < WITHDRAWERS; i++)
        pthread_join(w[i], NULL);
    printf("locked_toctou: done\n");
    return 0;
}
