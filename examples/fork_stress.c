/*
 * fork_stress.c - fork() many times while other threads keep lockwatch's
 * internal locks busy; every child must run to its end (correct use:
 * terminates without lockwatch).
 *
 * Usage: fork_stress [FORKS]   (default 200)
 *
 * While the main thread forks, these threads run until it is done:
 *  - CONTENDERS threads each lock their own mutex, then the shared `hot`
 *    mutex, and keep `hot` for a few milliseconds: the others block on it
 *    while holding their own, long enough to publish wait records and check
 *    them slice after slice (run with a short LOCKWATCH_DEADLOCK_MS);
 *  - a namer calls lockwatch_name_lock() in a tight loop over an array of
 *    mutexes, locking one now and then;
 *  - a creator initialises, nests, locks and destroys fresh mutexes (new
 *    lock nodes, new order edges with their backtraces, node removal);
 *  - a reporter makes a lock-order inversion of two fresh mutexes every 20
 *    milliseconds, in one thread (a real report each time, never a hang).
 * The child of each fork (alarm: CHILD_LIMIT seconds) nests two locks,
 * creates a lock, creates a thread that holds a lock while the child's main
 * thread, holding another, blocks on it for several milliseconds (a wait
 * record), joins it, names a lock and exits 0.  It touches no mutex of the parent's
 * threads.  The parent waits for each child with a time limit too, and
 * kills one that is still there; after MAX_HUNG hung children it stops
 * forking.
 *
 * Expected lockwatch result: in the parent, lock-order inversions of the
 * reporter's fresh mutexes and, at most, blocking-call reports of the
 * contenders (they sleep holding `hot`); nothing from any child; every child
 * exits 0.  The last line of output counts the children.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockwatch.h"

#define CONTENDERS 4
#define NAMED 1024
#define FRESH 64
#define CHILD_LIMIT 5           /* seconds: alarm() in the child */
#define PARENT_LIMIT_MS 8000    /* then the parent kills the child */
#define MAX_HUNG 3              /* stop forking after this many hung children */

static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t own[CONTENDERS];
static pthread_mutex_t named[NAMED];
static pthread_mutex_t anchor = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fresh[FRESH];
static pthread_mutex_t inv[2];
static int stop; /* atomic */

/* The child's own locks: no thread of the parent ever takes them. */
static pthread_mutex_t child_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_new;
static int child_state; /* atomic: 1 helper holds child_b, 2 main is about to block */

static int stopping(void) { return __atomic_load_n(&stop, __ATOMIC_SEQ_CST); }

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

static void *contender(void *arg)
{
    int i = (int)(long)arg;
    while (!stopping()) {
        pthread_mutex_lock(&own[i]);
        pthread_mutex_lock(&hot);
        sleep_us(6000 + 1000 * i);
        pthread_mutex_unlock(&hot);
        pthread_mutex_unlock(&own[i]);
    }
    return NULL;
}

static void *namer(void *arg)
{
    static const char *names[] = { "named-a", "named-b", "named-c", "named-d" };
    unsigned long k = 0;
    (void)arg;
    while (!stopping()) {
        if (lockwatch_name_lock)
            lockwatch_name_lock(&named[k % NAMED], names[k % 4]);
        if (k % 64 == 0) {
            pthread_mutex_lock(&named[k % NAMED]);
            pthread_mutex_unlock(&named[k % NAMED]);
        }
        k++;
    }
    return NULL;
}

static void *creator(void *arg)
{
    unsigned long k = 0;
    (void)arg;
    while (!stopping()) {
        pthread_mutex_t *m = &fresh[k++ % FRESH];
        pthread_mutex_init(m, NULL);
        pthread_mutex_lock(&anchor);
        pthread_mutex_lock(m); /* a new edge anchor -> m each time */
        pthread_mutex_unlock(m);
        pthread_mutex_unlock(&anchor);
        pthread_mutex_destroy(m);
    }
    return NULL;
}

static void *reporter(void *arg)
{
    (void)arg;
    while (!stopping()) {
        pthread_mutex_init(&inv[0], NULL);
        pthread_mutex_init(&inv[1], NULL);
        pthread_mutex_lock(&inv[0]);
        pthread_mutex_lock(&inv[1]);
        pthread_mutex_unlock(&inv[1]);
        pthread_mutex_unlock(&inv[0]);
        pthread_mutex_lock(&inv[1]);
        pthread_mutex_lock(&inv[0]); /* inversion of two new locks: a report */
        pthread_mutex_unlock(&inv[0]);
        pthread_mutex_unlock(&inv[1]);
        pthread_mutex_destroy(&inv[0]);
        pthread_mutex_destroy(&inv[1]);
        sleep_us(20000);
    }
    return NULL;
}

static void *child_helper(void *arg)
{
    long long t0;
    (void)arg;
    pthread_mutex_lock(&child_b);
    __atomic_store_n(&child_state, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&child_state, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    /* Keep child_b while the main thread blocks on it for a few slices
     * (no blocking call under the lock: spin on the clock). */
    t0 = now_us();
    while (now_us() - t0 < 15000)
        ;
    pthread_mutex_unlock(&child_b);
    return NULL;
}

static int child_main(void)
{
    pthread_t th;

    alarm(CHILD_LIMIT);
    pthread_mutex_lock(&child_a);
    pthread_mutex_lock(&child_b); /* child_a -> child_b */
    pthread_mutex_unlock(&child_b);
    pthread_mutex_unlock(&child_a);
    pthread_mutex_init(&child_new, NULL);
    pthread_mutex_lock(&child_new);
    pthread_mutex_unlock(&child_new);
    pthread_mutex_destroy(&child_new);

    if (pthread_create(&th, NULL, child_helper, NULL) != 0)
        return 2;
    while (__atomic_load_n(&child_state, __ATOMIC_SEQ_CST) != 1)
        sched_yield();
    pthread_mutex_lock(&child_a);
    __atomic_store_n(&child_state, 2, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&child_b); /* blocks for ~15 ms holding child_a */
    pthread_mutex_unlock(&child_b);
    pthread_mutex_unlock(&child_a);
    if (pthread_join(th, NULL) != 0)
        return 3;
    if (lockwatch_name_lock)
        lockwatch_name_lock(&child_a, "child_a");
    return 0;
}

/* Waits for pid at most PARENT_LIMIT_MS; kills it after that.
 * Returns 0 (exited 0), 1 (hung: killed by the alarm or by us), 2 (other). */
static int wait_child(pid_t pid, int *status)
{
    long long t0 = now_us();
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return 2;
        if (now_us() - t0 > PARENT_LIMIT_MS * 1000LL) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return 1;
        }
        sleep_us(1000);
    }
    if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        return 0;
    if (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGALRM)
        return 1;
    return 2;
}

int main(int argc, char **argv)
{
    pthread_t th[CONTENDERS + 3];
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    int i, nth = 0, ok = 0, hung = 0, failed = 0;

    for (i = 0; i < CONTENDERS; i++)
        pthread_mutex_init(&own[i], NULL);
    for (i = 0; i < NAMED; i++)
        pthread_mutex_init(&named[i], NULL);
    for (i = 0; i < CONTENDERS; i++)
        if (pthread_create(&th[nth++], NULL, contender, (void *)(long)i) != 0)
            return 1;
    if (pthread_create(&th[nth++], NULL, namer, NULL) != 0 ||
        pthread_create(&th[nth++], NULL, creator, NULL) != 0 ||
        pthread_create(&th[nth++], NULL, reporter, NULL) != 0)
        return 1;
    fflush(stdout);
    sleep_us(50000); /* let every thread get going */
    for (i = 0; i < forks && hung < MAX_HUNG; i++) {
        int status = 0;
        pid_t pid = fork();

        if (pid < 0)
            return 1;
        if (pid == 0)
            exit(child_main());
        switch (wait_child(pid, &status)) {
        case 0:
            ok++;
            break;
        case 1:
            hung++;
            fprintf(stderr, "fork_stress: child %d of %d hung\n", i + 1, forks);
            break;
        default:
            failed++;
            fprintf(stderr, "fork_stress: child %d of %d: status 0x%x\n", i + 1, forks, status);
            break;
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    printf("fork_stress: %d children: %d exited 0, %d hung, %d failed\n", forks, ok, hung,
           failed);
    return ok == forks ? 0 : 1;
}
