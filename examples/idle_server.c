/*
 * idle_server.c - a correct server, idle: its workers sleep in
 * pthread_cond_wait for jobs, its main thread sleeps in epoll_wait for
 * connections.  Only the outside world (here a child process that writes
 * to a pipe after a while) can wake it, so it is not a deadlock: lockwatch
 * must never report it, however long it stays idle.
 *
 * argv[1]: how long the child waits before it writes (ms, default 3000).
 * Then the main thread hands each worker a job, stops them and exits 0.
 *
 * Expected lockwatch result: nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWORKERS 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static int jobs, stop, done;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!jobs && !stop)
            pthread_cond_wait(&work, &lock);
        if (jobs) {
            jobs--;
            done++;
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int ms = argc > 1 ? atoi(argv[1]) : 3000;
    int p[2];
    if (pipe(p) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        usleep((useconds_t)ms * 1000);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    pthread_t t[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);

    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = p[0] }, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    if (epoll_wait(ep, &got, 1, -1) != 1)   /* idle until the child writes */
        return 1;
    char c;
    if (read(p[0], &c, 1) != 1)
        return 1;

    pthread_mutex_lock(&lock);
    jobs = NWORKERS;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&lock);
    pthread_mutex_lock(&lock);
    stop = 1;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(t[i], NULL);
    waitpid(child, NULL, 0);
    printf("served %d jobs\n", done);
    return 0;
}
