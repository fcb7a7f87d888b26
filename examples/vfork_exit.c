/*
 * vfork_exit.c - a vfork child's exit status after its parent reported.
 *
 * The main thread and a worker take two locks in opposite orders, one
 * after the other (a lock-order inversion, reported, that cannot hang).
 * Then the main thread vforks; the child does nothing but _exit(3), and a
 * fork child exits with status 4 by exit(4).  The parent prints both
 * statuses.
 *
 * Expected lockwatch result: one `lock-order-inversion` report; the
 * children's statuses stay 3 and 4 (they reported nothing themselves:
 * a vfork child shares its parent's memory, report count included); the
 * parent exits with 66, for its report.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
    return arg;
}

static int status_of(pid_t pid)
{
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int main(void)
{
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);

    fflush(stdout);
    pid_t v = vfork();
    if (v == 0)
        _exit(3);
    int vst = status_of(v);
    pid_t f = fork();
    if (f == 0)
        exit(4);
    int fst = status_of(f);
    printf("vfork_exit: vfork child %d, fork child %d\n", vst, fst);
    return vst == 3 && fst == 4 ? 0 : 1;
}
