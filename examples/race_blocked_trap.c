/* race_blocked_trap: a thread that blocks every signal (as a thread meant
 * to sigwait does) and races on a counter with the main thread, then polls
 * for a pending signal with sigtimedwait on the full set.
 *
 * Natively no signal is pending: "race_blocked_trap: waiter got -1".
 * Under LOCKWATCH_RACES=sample the main thread's samples arm watchpoints;
 * a watchpoint's SIGTRAP in a thread that blocks SIGTRAP would wait,
 * pending, and the program's sigtimedwait would take it (it printed
 * "waiter got 5" before lockwatch stopped arming such threads).  Expected:
 * the native output, and data-race reports on `counter` when the waiter's
 * side is sampled (it is not: its sampling signal is blocked) or the main
 * thread's is hit (it is not armed either): usually none. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 200000000L

static volatile long counter;
static volatile int stop;

static void *waiter(void *arg)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (long i = 0; i < ROUNDS && !stop; i++)
        counter++;
    struct timespec zero = { 0, 0 };
    siginfo_t si;
    int sig = sigtimedwait(&all, &si, &zero);
    printf("race_blocked_trap: waiter got %d\n", sig);
    return arg;
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, waiter, NULL);
    for (long i = 0; i < ROUNDS; i++)
        counter++;
    stop = 1;
    pthread_join(th, NULL);
    return 0;
}
