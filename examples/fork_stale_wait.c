/*
 * fork_stale_wait.c - fork() while another thread is blocked in a mutex
 * lock; the child joins a thread of its own while holding the mutex the
 * vanished thread was waiting for: correct use (terminates without
 * lockwatch).
 *
 * Thread `waiter` locks `m0`, then `m1`, which the main thread holds: it
 * stays blocked (lockwatch publishes its wait: holds m0, waits for m1).
 * After 200 ms the main thread, still holding m1, forks.  The child has one
 * thread, which still holds m1.  It creates `sleeper` (glibc reuses the
 * vanished waiter's stack for it, so sleeper usually has the waiter's
 * pthread_t), and joins it: sleeper ends after 400 ms.  The parent waits for
 * the child, then releases m1 and joins `waiter`.
 *
 * The waiter does not exist in the child: its wait must not count there.
 * Counting it, a detector sees the child's main thread join a thread that
 * waits for m1, which the main thread holds: a wait-for cycle that is not
 * there.
 *
 * Expected lockwatch result (run with LOCKWATCH_BLOCKING=none: the join
 * under m1 is a blocking call by design here): no report in either process;
 * the child exits 0 and the parent prints its status and exits 0.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER;
static pthread_t waiter_th;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m0);
    pthread_mutex_lock(&m1); /* held by main until the child is done */
    pthread_mutex_unlock(&m1);
    pthread_mutex_unlock(&m0);
    return NULL;
}

static void *sleeper(void *arg)
{
    struct timespec ts = { 0, 400 * 1000 * 1000 };
    (void)arg;
    nanosleep(&ts, NULL); /* holds nothing */
    return NULL;
}

static int child_main(void)
{
    pthread_t th;

    alarm(10);
    if (pthread_create(&th, NULL, sleeper, NULL) != 0)
        return 2;
    printf("fork_stale_wait: child's thread %s the waiter's pthread_t\n",
           pthread_equal(th, waiter_th) ? "reuses" : "does not reuse");
    if (pthread_join(th, NULL) != 0) /* holding m1 */
        return 3;
    pthread_mutex_unlock(&m1);
    return 0;
}

int main(void)
{
    long long t0;
    int status = 0;
    pid_t pid;

    pthread_mutex_lock(&m1);
    if (pthread_create(&waiter_th, NULL, waiter, NULL) != 0)
        return 1;
    /* Let the waiter block on m1 for a while (no blocking call under m1). */
    t0 = now_ms();
    while (now_ms() - t0 < 200)
        sched_yield();
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        exit(child_main());
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    pthread_mutex_unlock(&m1);
    pthread_join(waiter_th, NULL);
    if (WIFEXITED(status))
        printf("fork_stale_wait: child exited %d\n", WEXITSTATUS(status));
    else
        printf("fork_stale_wait: child killed by signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
