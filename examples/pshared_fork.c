/*
 * pshared_fork.c - process-shared mutexes and a condition variable in
 * MAP_SHARED memory, used by a parent and its children at the same time,
 * and a robust process-shared mutex whose owner process dies holding it
 * (terminates without lockwatch).
 *
 * `shared` lives in an anonymous MAP_SHARED mapping, so the parent and the
 * children it forks see the same memory.  Its mutexes and condition
 * variable are initialised with PTHREAD_PROCESS_SHARED:
 *
 *  1. CHILDREN children and the parent each add to `counter` ITERATIONS
 *     times, taking `m` then `stats` (one order in every process).  Each
 *     child, when done, increments `done` under `m` and signals `all_done`;
 *     the parent waits on `all_done` in a loop until every child is done,
 *     then reaps them.
 *  2. A child locks the robust mutex `owner` (PTHREAD_MUTEX_ROBUST), starts
 *     an update and exits without unlocking it, as if it had crashed.  The
 *     parent's next lock returns EOWNERDEAD; it finishes the update, calls
 *     pthread_mutex_consistent and unlocks.  Then parent and a new child
 *     take `owner` then `m`, the same order.
 *
 * Lock words of process-shared mutexes hold the tid of the owner, which may
 * be a thread of another process; each process's lockwatch sees only its
 * own threads.
 *
 * Expected lockwatch result: no report in any process, exit status 0
 * everywhere, the same output.
 *
 * Helgrind (valgrind 3.19) takes EOWNERDEAD for a failed lock ("call to
 * pthread_mutex_lock failed with error code 130"), then reports the
 * unlock ("unlocked a not-locked lock"), and reports the child that dies
 * holding `owner` ("Exiting thread still holds 1 lock"); DRD reports the
 * unlock ("Mutex not locked").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 3
#define ITERATIONS 300

struct shared {
    pthread_mutex_t m;     /* protects counter, done */
    pthread_mutex_t stats; /* taken inside m */
    pthread_cond_t all_done;
    pthread_mutex_t owner; /* robust: protects state */
    long counter, stat_ops;
    int done;
    int state; /* odd: an update is half done */
};

static struct shared *sh;

static void add(long n)
{
    pthread_mutex_lock(&sh->m);
    sh->counter += n;
    pthread_mutex_lock(&sh->stats); /* m -> stats */
    sh->stat_ops++;
    pthread_mutex_unlock(&sh->stats);
    pthread_mutex_unlock(&sh->m);
}

static void child_work(void)
{
    for (int i = 0; i < ITERATIONS; i++)
        add(1);
    pthread_mutex_lock(&sh->m);
    sh->done++;
    pthread_cond_signal(&sh->all_done);
    pthread_mutex_unlock(&sh->m);
}

static void owner_then_m(void)
{
    pthread_mutex_lock(&sh->owner);
    add(0); /* owner -> m -> stats */
    pthread_mutex_unlock(&sh->owner);
}

static int reap(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int init_shared(void)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return -1;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->m, &ma);
    pthread_mutex_init(&sh->stats, &ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sh->owner, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&sh->all_done, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

int main(void)
{
    pid_t kids[CHILDREN], pid;
    int ok = 0, recovered = 0;

    if (init_shared() != 0)
        return 1;

    /* 1. Parent and children at once, one lock order. */
    for (int i = 0; i < CHILDREN; i++) {
        kids[i] = fork();
        if (kids[i] < 0)
            return 1;
        if (kids[i] == 0) {
            child_work();
            exit(0);
        }
    }
    for (int i = 0; i < ITERATIONS; i++)
        add(1);
    pthread_mutex_lock(&sh->m);
    while (sh->done < CHILDREN)
        pthread_cond_wait(&sh->all_done, &sh->m);
    pthread_mutex_unlock(&sh->m);
    for (int i = 0; i < CHILDREN; i++)
        ok += reap(kids[i]);

    /* 2. A child dies holding the robust mutex. */
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        pthread_mutex_lock(&sh->owner);
        sh->state++; /* starts an update */
        _exit(0);    /* dies holding `owner` */
    }
    ok += reap(pid);
    if (pthread_mutex_lock(&sh->owner) == EOWNERDEAD) {
        sh->state++; /* finishes it */
        pthread_mutex_consistent(&sh->owner);
        recovered = 1;
    }
    pthread_mutex_unlock(&sh->owner);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        owner_then_m();
        exit(0);
    }
    owner_then_m();
    ok += reap(pid);

    printf("pshared_fork: counter %ld (expected %d), %d of %d children exited 0, "
           "owner died: %s, state %d\n",
           sh->counter, (CHILDREN + 1) * ITERATIONS, ok, CHILDREN + 2,
           recovered ? "recovered" : "NOT RECOVERED", sh->state);
    pthread_mutex_destroy(&sh->m);
    pthread_mutex_destroy(&sh->stats);
    pthread_mutex_destroy(&sh->owner);
    pthread_cond_destroy(&sh->all_done);
    munmap(sh, sizeof(*sh));
    return ok == CHILDREN + 2 && recovered ? 0 : 1;
}
