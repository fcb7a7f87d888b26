/*
 * fork_unwind.c - fork() while other threads make lockwatch unwind.
 *
 * Usage: fork_unwind [CHILDREN]   (default 600)
 *
 * Two threads keep taking random ordered pairs of 4,096 mutexes (each new
 * pair is a new order edge, for which lockwatch captures a backtrace with
 * libunwind), while the main thread forks CHILDREN times.  Each child
 * nests two mutexes of its own (a new edge: it unwinds too) and exits 0.
 * A child that inherited a lock of libunwind's from a thread that is not
 * in it would wait for ever: the parent gives each child 10 seconds, then
 * kills it and counts it as hung.  Children touch no mutex of the
 * parent's threads.
 *
 * Expected lockwatch result: no report (every pair is taken in index
 * order), every child exits 0, none hangs.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NL 4096

static volatile int stop;
static pthread_mutex_t *locks;

static __attribute__((noinline)) void pair(int i, int j)
{
    pthread_mutex_lock(&locks[i]);
    pthread_mutex_lock(&locks[j]);
    pthread_mutex_unlock(&locks[j]);
    pthread_mutex_unlock(&locks[i]);
}

static void *spin(void *arg)
{
    unsigned k = (unsigned)(long)arg;
    while (!stop) {
        int i = rand_r(&k) % NL, j = rand_r(&k) % NL;
        if (i < j)
            pair(i, j);
    }
    return NULL;
}

/* The child's status, or -1 when it was still there after 10 s. */
static int wait_child(pid_t p)
{
    for (int k = 0; k < 1000; k++) {
        int st = 0;
        if (waitpid(p, &st, WNOHANG) == p)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    return -1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 600;
    locks = calloc(NL, sizeof(*locks));
    if (!locks)
        return 1;
    for (int i = 0; i < NL; i++)
        pthread_mutex_init(&locks[i], NULL);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, spin, (void *)(long)(i + 1));
    int hung = 0, failed = 0;
    for (int c = 0; c < n; c++) {
        pid_t p = fork();
        if (p == 0) {
            pthread_mutex_t x = PTHREAD_MUTEX_INITIALIZER, y = PTHREAD_MUTEX_INITIALIZER;
            pthread_mutex_lock(&x);
            pthread_mutex_lock(&y);   /* a new edge: lockwatch unwinds */
            pthread_mutex_unlock(&y);
            pthread_mutex_unlock(&x);
            _exit(0);
        }
        if (p < 0) {
            failed++;
            continue;
        }
        int st = wait_child(p);
        hung += st == -1;
        failed += st > 0;
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("fork_unwind: %d children, %d hung, %d failed\n", n, hung, failed);
    return hung || failed;
}
