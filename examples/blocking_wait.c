/*
 * blocking_wait.c - waiting for a child process and a semaphore while
 * holding a mutex.
 *
 * The main thread starts a child process (before it takes any lock), then
 * takes jobs_lock and calls waitpid() for the child while still holding it:
 * however long the child runs, jobs_lock stays taken.  Then, again under
 * jobs_lock, it waits on a semaphore with sem_wait() (a helper thread has
 * posted it).
 *
 * Expected lockwatch result: exactly two `blocking-call-under-lock`
 * reports, both with jobs_lock held and family wait: waitpid in
 * reap_child and sem_wait in take_token.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static int finished_jobs; /* guarded by jobs_lock */
static sem_t tokens;

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static int reap_child(pid_t child)
{
    int status = 0;
    pid_t r;

    pthread_mutex_lock(&jobs_lock);
    r = waitpid(child, &status, 0); /* waits for the child with jobs_lock held */
    if (r == child && WIFEXITED(status) && WEXITSTATUS(status) == 7)
        finished_jobs++;
    pthread_mutex_unlock(&jobs_lock);
    return r == child;
}

static void *poster(void *arg)
{
    int *jobs_seen = arg;

    sem_post(&tokens);
    pthread_mutex_lock(&jobs_lock); /* after the post: main holds it in take_token */
    *jobs_seen = finished_jobs;
    pthread_mutex_unlock(&jobs_lock);
    return NULL;
}

__attribute__((noinline)) static int take_token(void)
{
    int r;

    pthread_mutex_lock(&jobs_lock);
    r = sem_wait(&tokens); /* waits for the semaphore with jobs_lock held */
    pthread_mutex_unlock(&jobs_lock);
    return r == 0;
}

int main(void)
{
    pthread_t t;
    pid_t child;
    int jobs_seen = -1;

    if (sem_init(&tokens, 0, 0) != 0)
        return 1;
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0)
        _exit(7);
    if (!reap_child(child))
        return 1;
    if (pthread_create(&t, NULL, poster, &jobs_seen) != 0)
        return 1;
    if (!take_token())
        return 1;
    pthread_join(t, NULL);
    sem_destroy(&tokens);
    printf("blocking_wait: %d job(s) reaped, 1 token taken\n", finished_jobs);
    return finished_jobs == 1 && jobs_seen == 1 ? 0 : 1;
}
