/* race_sigwait: the main thread blocks every signal before it starts its
 * threads (they inherit the mask); a worker burns CPU, a waiter takes
 * signals with sigwait.  Under LOCKWATCH_RACES=sample no thread born with
 * the sampling signal blocked is sampled, and a thread that blocks it
 * later stops being sampled, so sigwait returns only the program's own
 * SIGUSR1. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static volatile long work;

static void *burn(void *arg)
{
    (void)arg;
    for (long i = 0; i < 100000000L; i++)
        work = i;
    return NULL;
}

static void *waiter(void *arg)
{
    sigset_t all;
    int sig = 0;
    (void)arg;
    burn(NULL);
    sigfillset(&all);
    sigwait(&all, &sig);
    printf("sigwait returned signal %s\n", sig == SIGUSR1 ? "SIGUSR1" : "other");
    return NULL;
}

int main(void)
{
    sigset_t all;
    pthread_t a, b;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_create(&a, NULL, burn, NULL);
    pthread_create(&b, NULL, waiter, NULL);
    pthread_join(a, NULL);
    pthread_kill(b, SIGUSR1);
    pthread_join(b, NULL);
    return 0;
}
