/*
 * fork_stale_cond.c - fork() while another thread waits on a condition
 * variable; the child waits on it too, with a mutex of its own: correct use
 * (terminates without lockwatch).
 *
 * Thread `waiter` waits on `cond` with mutex `ma` until the main thread
 * signals it.  While it waits, the main thread forks.  In the child the
 * waiter does not exist: the child's only thread waits on `cond` with
 * mutex `mb` (a timed wait of 50 ms) and exits 0.  Then the parent signals
 * the waiter and joins it.
 *
 * Two mutexes are used with one condition variable, but never at the same
 * time in one process: in the child nobody else waits.  A detector that
 * counted the vanished waiter would report cond-multiple-mutexes in the
 * child.
 *
 * Expected lockwatch result: no report in either process; the child exits
 * 0 and the parent prints its status and exits 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t ma = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mb = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int waiting, go; /* under ma */

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ma);
    waiting = 1;
    while (!go)
        pthread_cond_wait(&cond, &ma);
    pthread_mutex_unlock(&ma);
    return NULL;
}

static int child_main(void)
{
    struct timespec ts;

    alarm(10);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&mb);
    pthread_cond_timedwait(&cond, &mb, &ts); /* times out: nobody signals */
    pthread_mutex_unlock(&mb);
    return 0;
}

int main(void)
{
    pthread_t th;
    int status = 0, w = 0;
    pid_t pid;

    if (pthread_create(&th, NULL, waiter, NULL) != 0)
        return 1;
    while (!w) {
        /* ma is free only while the waiter is inside its wait. */
        pthread_mutex_lock(&ma);
        w = waiting;
        pthread_mutex_unlock(&ma);
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        exit(child_main());
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    pthread_mutex_lock(&ma);
    go = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&ma);
    pthread_join(th, NULL);
    if (WIFEXITED(status))
        printf("fork_stale_cond: child exited %d\n", WEXITSTATUS(status));
    else
        printf("fork_stale_cond: child killed by signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
