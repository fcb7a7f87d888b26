/* race_guarded: LOCKWATCH_GUARDED_BY with race sampling, in one thread.
 *
 * `acct.balance` is declared guarded by `acct.lock`.  The only thread
 * deposits under the lock, and now and then (the bug) reads the balance
 * without it to decide whether to print.  There is no second thread, so
 * no two accesses ever overlap: sampling alone cannot see a race here.
 * The declaration can: under LOCKWATCH_RACES=sample the guarded range gets
 * a watchpoint, in every thread, and an access without `acct.lock` held is
 * a data-race report (expected: a `data-race` naming acct.lock, one thread,
 * its stack in peek_balance).  examples/race_guarded_ok is the same
 * program with the read under the lock: no report.
 *
 * Built with -I../include (include/lockwatch.h); runs unchanged without
 * lockwatch. */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 4000000L

static struct {
    pthread_mutex_t lock;
    long balance;
} acct = { PTHREAD_MUTEX_INITIALIZER, 0 };

static long __attribute__((noinline)) peek_balance(void)
{
#ifdef GUARDED_OK
    pthread_mutex_lock(&acct.lock);
    long b = *(volatile long *)&acct.balance;
    pthread_mutex_unlock(&acct.lock);
    return b;
#else
    return *(volatile long *)&acct.balance;   /* the bug: no lock */
#endif
}

int main(void)
{
    LOCKWATCH_GUARDED_BY(&acct.balance, sizeof(acct.balance), &acct.lock);
    long printed = 0;
    for (long i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&acct.lock);
        *(volatile long *)&acct.balance += 1;
        pthread_mutex_unlock(&acct.lock);
        if (peek_balance() % 1000000 == 0)
            printed++;
    }
    printf("race_guarded: balance %ld, %ld milestones\n", acct.balance, printed);
    return 0;
}
