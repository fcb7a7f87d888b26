/*
 * fork_child_ok.c - fork() while other threads lock and unlock mutexes;
 * the child uses mutexes and exits 0: correct use (terminates without
 * lockwatch).
 *
 * WORKERS threads loop locking and unlocking `work_lock`.  The main thread
 * forks FORKS times.  pthread_atfork handlers take `work_lock` before the
 * fork and release it after, in the parent and in the child, so the child
 * never inherits it locked by a thread that does not exist there.  The
 * child (single-threaded) locks and unlocks `work_lock` and `child_lock`,
 * nests them, and exits 0.  The parent holds no lock while it waits for the
 * child (waitpid).
 *
 * Expected lockwatch result: no report in the parent or in any child, exit
 * status 0 everywhere, the same output.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 3
#define FORKS 5

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static long work;  /* under work_lock */
static int stop;   /* atomic */

static void prepare(void) { pthread_mutex_lock(&work_lock); }
static void parent(void) { pthread_mutex_unlock(&work_lock); }
static void child(void) { pthread_mutex_unlock(&work_lock); }

static void *worker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&work_lock);
        work++;
        pthread_mutex_unlock(&work_lock);
    }
    return NULL;
}

static int child_main(void)
{
    int i;

    for (i = 0; i < 100; i++) {
        pthread_mutex_lock(&work_lock);
        pthread_mutex_lock(&child_lock); /* same order as below: no inversion */
        work++;
        pthread_mutex_unlock(&child_lock);
        pthread_mutex_unlock(&work_lock);
    }
    return 0;
}

int main(void)
{
    pthread_t th[WORKERS];
    int i, ok = 0;

    if (pthread_atfork(prepare, parent, child) != 0)
        return 1;
    for (i = 0; i < WORKERS; i++)
        if (pthread_create(&th[i], NULL, worker, NULL) != 0)
            return 1;
    fflush(stdout);
    for (i = 0; i < FORKS; i++) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
            return 1;
        if (pid == 0)
            _exit(child_main());
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    printf("fork_child_ok: %d of %d children exited 0\n", ok, FORKS);
    return ok == FORKS ? 0 : 1;
}
