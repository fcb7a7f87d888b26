/*
 * rare_blocking.c - a blocking call under a shared lock, on a rare,
 * timing-dependent path.
 *
 * A worker thread updates a shared state in many short critical sections
 * under state_lock (it stores a value and formats its description).  A
 * monitor thread samples the state with pthread_mutex_trylock, napping
 * 20 us between samples (70-100 us with the kernel's timer slack).  When
 * the trylock finds the state busy (the worker is inside a critical
 * section) the monitor takes the slow path: it waits for state_lock and
 * logs the contention to its log pipe with write() while still holding
 * state_lock.  That write may block (a full pipe, a slow
 * reader), and the worker needs state_lock: the bug lockwatch reports.
 *
 * Why the path is rare: a critical section lasts some 100-200 ns, every
 * 50 us or so, and the monitor looks about 10,000 times a second, so
 * natively the trylock fails in about 5 % of runs on a quiet 2-CPU machine,
 * more on a loaded one (bench/rare_paths.py measures it).  Anything that
 * stretches a critical section - a preemption, or LOCKWATCH_JITTER's sleep
 * inside it (after the acquisition of state_lock, the only jitter point
 * inside the section) - makes it likely.
 *
 * The monitor starts sampling once the worker has published its first
 * state (so lockwatch's first sight of state_lock, which takes a backtrace,
 * is not inside a sampled section).
 *
 * RARE_PATH=always (tests only) keeps the second critical section going
 * until the monitor has found the state busy: the rare path is taken in
 * every run.  RARE_PATH=never lets the monitor sample only once the worker
 * has finished: the rare path is never taken.
 *
 * Output: "rare path taken" on a line of its own when the monitor logged at
 * least one contention, then a summary line; exit status 0.
 *
 * Expected lockwatch result, in a run that took the rare path: exactly one
 * `blocking-call-under-lock` report: write (family pipe) called in
 * log_contention while the thread holds state_lock, which the worker also
 * takes.  In a run that did not take it, and with RARE_PATH=never: no
 * report.
 */
#include <lockwatch.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UPDATES 60        /* critical sections per run */
#define WORK_ROUNDS 40000 /* computation between them (~50 us) */
#define POLL_NS 20000     /* the monitor's nap between samples */
#define MAX_LOGGED 1000   /* lines: the pipe (64 KiB) never fills */

enum { MODE_NATURAL, MODE_ALWAYS, MODE_NEVER };

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned long state_value; /* guarded by state_lock */
static char state_text[48];       /* guarded by state_lock */
static long updates;              /* guarded by state_lock */
static unsigned long last_seen;   /* monitor only: the state it last sampled */
static int logged;                /* monitor only: lines written to the pipe */

static int log_pipe[2];
static atomic_int started; /* the worker has published its first state */
static atomic_int worker_done;
static atomic_int saw_busy; /* RARE_PATH=always: the monitor found it busy */
static int mode;

static unsigned long work(unsigned long seed)
{
    volatile unsigned long x = seed | 1;
    for (int i = 0; i < WORK_ROUNDS; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

static void update_state(int n, unsigned long v)
{
    pthread_mutex_lock(&state_lock);
    state_value = v;
    snprintf(state_text, sizeof(state_text), "update %d: %lx", n, v);
    updates++;
    if (mode == MODE_ALWAYS && n == 1) {
        while (!atomic_load(&saw_busy))
            sched_yield();
    }
    pthread_mutex_unlock(&state_lock);
}

static void *worker(void *arg)
{
    unsigned long v = 1;

    (void)arg;
    for (int n = 0; n < UPDATES; n++) {
        v = work(v);
        update_state(n, v);
        if (n == 0)
            atomic_store(&started, 1);
    }
    atomic_store(&worker_done, 1);
    return NULL;
}

/* The rare path: the state was busy; wait for it, and log under the lock. */
static void log_contention(void)
{
    char line[64];
    int len;

    atomic_store(&saw_busy, 1);
    pthread_mutex_lock(&state_lock);
    len = snprintf(line, sizeof(line), "busy at %s\n", state_text);
    if (logged++ < MAX_LOGGED && write(log_pipe[1], line, (size_t)len) != len)
        perror("write"); /* write may block, with state_lock held */
    pthread_mutex_unlock(&state_lock);
}

static void sample(void)
{
    int r = pthread_mutex_trylock(&state_lock);

    if (r == 0) {
        last_seen = state_value;
        pthread_mutex_unlock(&state_lock);
    } else if (r == EBUSY) {
        log_contention();
    }
}

static void *monitor(void *arg)
{
    struct timespec nap = {0, POLL_NS};

    (void)arg;
    while (!atomic_load(&started)) /* the first state is published */
        nanosleep(&nap, NULL);
    if (mode == MODE_NEVER) {
        while (!atomic_load(&worker_done))
            nanosleep(&nap, NULL);
        sample();
        return NULL;
    }
    while (!atomic_load(&worker_done)) {
        nanosleep(&nap, NULL);
        sample();
    }
    return NULL;
}

/* RARE_PATH=always|never (tests); anything else: the natural timing. */
static int rare_mode(void)
{
    const char *rp = getenv("RARE_PATH");

    if (rp && !strcmp(rp, "always"))
        return MODE_ALWAYS;
    if (rp && !strcmp(rp, "never"))
        return MODE_NEVER;
    return MODE_NATURAL;
}

int main(void)
{
    pthread_t w, m;
    char buf[4096];
    ssize_t n;
    int lines = 0;

    mode = rare_mode();
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&state_lock, "state_lock");
    }
    if (pipe(log_pipe) != 0)
        return 1;
    if (pthread_create(&w, NULL, worker, NULL) != 0 || pthread_create(&m, NULL, monitor, NULL) != 0)
        return 1;
    pthread_join(w, NULL);
    pthread_join(m, NULL);
    close(log_pipe[1]);
    while ((n = read(log_pipe[0], buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    close(log_pipe[0]);
    if (updates != UPDATES)
        return 1;
    if (lines > 0)
        printf("rare path taken\n");
    printf("rare_blocking: %d updates, %d contention%s logged\n", UPDATES, lines,
           lines == 1 ? "" : "s");
    return 0;
}
