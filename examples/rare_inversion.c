/*
 * rare_inversion.c - a lock-order inversion on a rare, timing-dependent path.
 *
 * A worker thread fills a cache in batches: each batch takes cache_lock, then
 * stats_lock (order cache -> stats).  Between batches it is idle for a
 * moment: it opens an "idle window" (an atomic flag), appends a line to its
 * log under log_lock, and closes the window.  A janitor thread wakes up
 * every 20 us (70-100 us with the kernel's timer slack); when it finds the
 * window open it claims it and compacts the cache, taking stats_lock, then
 * cache_lock (order stats -> cache: the inversion).
 *
 * Why the path is rare: the window lasts one uncontended lock, the
 * formatting of a log line and an unlock (some 100-200 ns) per batch, every
 * 50 us or so, and the janitor looks about 10,000 times a second, so it
 * catches the window in about 5 % of runs on a quiet 2-CPU machine, more on
 * a loaded one (bench/rare_paths.py measures it).  Anything that stretches
 * the window - a preemption, or LOCKWATCH_JITTER's sleep at the log_lock
 * acquisition or release - makes it likely.
 *
 * Why it never deadlocks: the janitor takes stats -> cache only after it
 * has claimed the window (a compare-and-swap 1 -> 2), and the worker, which
 * holds neither lock inside the window, cannot leave it before the janitor
 * has given it back.  The handshake is plain atomics, which lockwatch does
 * not see: the two orders are taken under no common lock, so lockwatch
 * reports the cycle (confidence feasible), as it should: the handshake is
 * what makes this program safe, and it is one change away from a deadlock.
 *
 * RARE_PATH=always (tests only) keeps the first window open until the
 * janitor has claimed it: the rare path is taken in every run.
 * RARE_PATH=never never opens the window: the rare path is never taken.
 *
 * Output: "rare path taken" on a line of its own when the janitor compacted
 * at least once, then a summary line; exit status 0.
 *
 * Expected lockwatch result, in a run that took the rare path: exactly one
 * `lock-order-inversion` report whose cycle names cache_lock and stats_lock
 * (cache_lock => stats_lock => cache_lock), with fill_batch and compact_cache
 * in the backtraces.  In a run that did not take it, and with
 * RARE_PATH=never: no report.
 */
#include <lockwatch.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCHES 40        /* idle windows per run */
#define WORK_ROUNDS 40000 /* computation between batches (~50 us) */
#define POLL_NS 20000     /* the janitor's nap between looks */
#define CACHE_SLOTS 64
#define LOG_LINES 16

enum { WINDOW_CLOSED, WINDOW_OPEN, WINDOW_CLAIMED };
enum { MODE_NATURAL, MODE_ALWAYS, MODE_NEVER };

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static long cache[CACHE_SLOTS];      /* guarded by cache_lock */
static long fills;                   /* guarded by stats_lock */
static char log_text[LOG_LINES][48]; /* guarded by log_lock */
static long log_lines;               /* guarded by log_lock */
static int compactions;              /* janitor only; read by main after the join */

static atomic_int window; /* WINDOW_*: the worker opens, the janitor claims */
static atomic_int worker_done;
static int mode;

static unsigned long work(unsigned long seed)
{
    volatile unsigned long x = seed | 1;
    for (int i = 0; i < WORK_ROUNDS; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

/* The order cache -> stats. */
static void fill_batch(int batch, unsigned long value)
{
    pthread_mutex_lock(&cache_lock);
    pthread_mutex_lock(&stats_lock);
    cache[batch % CACHE_SLOTS] = (long)(value >> 8);
    fills++;
    pthread_mutex_unlock(&stats_lock);
    pthread_mutex_unlock(&cache_lock);
}

/* The rare path: the order stats -> cache. */
static void compact_cache(void)
{
    pthread_mutex_lock(&stats_lock);
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++)
        cache[i] &= 0xffff;
    pthread_mutex_unlock(&cache_lock);
    pthread_mutex_unlock(&stats_lock);
    compactions++;
}

static void idle_window(int batch, unsigned long value)
{
    int expected = WINDOW_OPEN;

    if (mode != MODE_NEVER)
        atomic_store(&window, WINDOW_OPEN);
    pthread_mutex_lock(&log_lock);
    snprintf(log_text[log_lines++ % LOG_LINES], sizeof(log_text[0]), "batch %d filled %lx", batch,
             value);
    pthread_mutex_unlock(&log_lock);
    if (mode == MODE_ALWAYS && batch == 0)
        while (atomic_load(&window) == WINDOW_OPEN)
            sched_yield();
    if (mode != MODE_NEVER && !atomic_compare_exchange_strong(&window, &expected, WINDOW_CLOSED))
        while (atomic_load(&window) != WINDOW_CLOSED) /* claimed: wait until given back */
            sched_yield();
}

static void *worker(void *arg)
{
    unsigned long v = 1;

    (void)arg;
    /* Open the log before the first window (lockwatch sees log_lock for the
     * first time here, not inside a window). */
    pthread_mutex_lock(&log_lock);
    log_lines = 0;
    pthread_mutex_unlock(&log_lock);
    for (int b = 0; b < BATCHES; b++) {
        v = work(v);
        fill_batch(b, v);
        idle_window(b, v);
    }
    atomic_store(&worker_done, 1);
    return NULL;
}

static void *janitor(void *arg)
{
    struct timespec nap = {0, POLL_NS};

    (void)arg;
    while (!atomic_load(&worker_done)) {
        int expected = WINDOW_OPEN;
        nanosleep(&nap, NULL);
        if (atomic_compare_exchange_strong(&window, &expected, WINDOW_CLAIMED)) {
            compact_cache();
            atomic_store(&window, WINDOW_CLOSED);
        }
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
    pthread_t w, j;

    mode = rare_mode();
    if (lockwatch_name_lock) {
        lockwatch_name_lock(&cache_lock, "cache_lock");
        lockwatch_name_lock(&stats_lock, "stats_lock");
        lockwatch_name_lock(&log_lock, "log_lock");
    }
    if (pthread_create(&w, NULL, worker, NULL) != 0 || pthread_create(&j, NULL, janitor, NULL) != 0)
        return 1;
    pthread_join(w, NULL);
    pthread_join(j, NULL);
    if (fills != BATCHES || log_lines != BATCHES)
        return 1;
    if (compactions > 0)
        printf("rare path taken\n");
    printf("rare_inversion: %d batches, %d compaction%s\n", BATCHES, compactions,
           compactions == 1 ? "" : "s");
    return 0;
}
