/*
 * racy_toctou.c - a balance checked outside its lock, then changed under it
 * (time of check to time of use; a data race).
 *
 * An account's `balance` is changed only under account_lock: a depositor
 * thread adds one unit at a time, enough for all withdrawals; WITHDRAWERS
 * threads each make WITHDRAWALS withdrawals of AMOUNT units, and each
 * decides whether there is enough money by reading `balance` WITHOUT the
 * lock, again and again until there is, then takes the lock and subtracts
 * (an overdraft is repaid by later deposits, so the program ends).  The
 * unlocked read races with the other threads' updates under the lock (no
 * lock in common, one side writing): a data race by C11's rules, and the
 * logic bug it causes (two withdrawers both see enough money for one of
 * them, and the balance goes negative) is the usual consequence.  It recurs
 * at every try (most find too little money and try again).
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, a data-race on
 * `balance` between withdrawer()'s check and an update under account_lock
 * in most runs; exit status 66 when reported.  ThreadSanitizer reports it.
 * locked_toctou.c checks inside the lock (race-free).
 */
#include <pthread.h>
#include <stdio.h>

#define WITHDRAWERS 2
#define WITHDRAWALS 300000L   /* per withdrawer */
#define AMOUNT 10             /* units a withdrawal takes */
#define DEPOSITS (WITHDRAWERS * WITHDRAWALS * AMOUNT)   /* of one unit: enough for all */

static pthread_mutex_t account_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long balance;   /* written under account_lock; the bug: read without it */

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
        if (balance >= AMOUNT) {   /* the check, without the lock */
            pthread_mutex_lock(&account_lock);
            balance -= AMOUNT;     /* the use: may overdraw */
            pthread_mutex_unlock(&account_lock);
            done++;
        }
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
    printf("racy_toctou: done\n");
    return 0;
}
