/*
 * pgroup_signal.c - a signal to the program's whole process group between
 * two reports, as a service manager's stop or ^C at a terminal sends it.
 *
 * Two lock-order inversions (each lock pair taken in both orders by the
 * main thread: they cannot hang): the first before the program sends
 * SIGTERM to its own process group (it catches SIGTERM), the second after.
 *
 * Expected lockwatch result: two `lock-order-inversion` reports, both with
 * source lines: lockwatch's symbolizer helper, started at the first
 * report, is in a session of its own and survives the signal.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER,
                       c = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t got;

static void on_term(int s)
{
    (void)s;
    got = 1;
}

static void pair(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

int main(void)
{
    signal(SIGTERM, on_term);
    pair(&a, &b);
    pair(&b, &a); /* first report */
    kill(0, SIGTERM);
    usleep(200000);
    pair(&b, &c);
    pair(&c, &b); /* second report, after the signal */
    printf("pgroup_signal: SIGTERM %s\n", got ? "caught" : "not caught");
    return 0;
}
