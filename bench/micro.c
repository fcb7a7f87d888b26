/*
 * micro.c: lockwatch's microbenchmarks (bench/run.py runs them natively,
 * under the null interposer and under lockwatch, side by side).
 *
 *     micro MODE [SCALE]
 *
 * Each mode times its own loop (set-up such as creating the locks or the
 * worker threads is outside the timed part), checks its own result, and
 * prints one line
 *
 *     RESULT mode=MODE ns_per_op=N ops=N [key=value ...]
 *
 * then exits 0, or prints "CHECK FAILED: ..." and exits 1.  SCALE (default
 * 1) multiplies the iteration counts (bench-quick uses less than 1).
 * "op" is, per mode: uncontended, nested*: one lock+unlock pair (the *-mt
 * forms first create and join one idle thread: glibc's lock and unlock
 * skip their atomic instructions while a process has never had a second
 * thread, which no program that needs lockwatch is);
 * contended*, rwlock: one lock+unlock by any thread; fresh*: one mutex's
 * whole life (malloc, init, lock, unlock, destroy, free); prodcons: one item
 * through the queue; churn: one thread created, run and joined (the first
 * 10,000 are timed; 20,000 more measure memory); write: one
 * write(2); graph: one lock+unlock pair of the nested4 loop, timed after a
 * 100,000-lock / 1,000,000-edge order graph was built; malloc-free,
 * malloc-free-held: one malloc(64) + free pair, with nothing held or with
 * one mutex (on the stack, above the blocks) held throughout; chain-cycle:
 * one new order edge of a 34,000-lock chain, built before and after an
 * unrelated cycle exists (chain_before/after_ns_per_edge); cache: one query
 * of a cache with a lock per entry (see mode_cache).
 *
 * Memory figures (kB, from /proc/self/status) are printed where a mode's
 * target is about memory: the driver subtracts the native run's figures.
 *
 * All programs here are correct: a lockwatch report about any of them is a
 * benchmark failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lockwatch.h"

/* Exported by the null interposer (bench/nullpreload.c) when it is loaded:
 * the main thread's count of interposed calls, proof that it is active. */
unsigned long null_interposer_calls(void) __attribute__((weak));

static double scale = 1.0;

static long scaled(long n)
{
    long v = (long)((double)n * scale);
    return v < 1 ? 1 : v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A field of /proc/self/status in kB (VmRSS, VmHWM), -1 if unreadable. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("CHECK FAILED: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
    exit(1);
}

static void check0(int r, const char *what)
{
    if (r != 0)
        fail("%s returned %d (%s)", what, r, strerror(r));
}

#define CHECK0(call) check0((call), #call)

/* Prints the RESULT line: mode, ns per op, ops, then "key=value" pairs. */
static void result(const char *mode, uint64_t ns, long ops, const char *extra_fmt, ...)
{
    printf("RESULT mode=%s ns_per_op=%.3f ops=%ld", mode, (double)ns / (double)ops, ops);
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        putchar(' ');
        vprintf(extra_fmt, ap);
        va_end(ap);
    }
    printf(" hwm_kb=%ld", status_kb("VmHWM"));
    if (lockwatch_report_count)
        printf(" lw_reports=%lu", lockwatch_report_count());
    if (null_interposer_calls)
        printf(" null_calls=%lu", null_interposer_calls());
    putchar('\n');
    fflush(stdout);
}

/* Runs fn(i, arg) on n threads, started together after creation; returns
 * the nanoseconds from the start signal to the last join. */
typedef struct {
    void (*fn)(int, void *);
    void *arg;
    int idx;
} worker;

static atomic_int go;
static atomic_int ready_count;

static void *worker_main(void *p)
{
    worker *w = p;
    atomic_fetch_add(&ready_count, 1);
    while (!atomic_load_explicit(&go, memory_order_acquire))
        ;
    w->fn(w->idx, w->arg);
    return NULL;
}

static uint64_t run_threads(int n, void (*fn)(int, void *), void *arg)
{
    pthread_t th[16];
    worker w[16];
    atomic_store(&go, 0);
    atomic_store(&ready_count, 0);
    for (int i = 0; i < n; i++) {
        w[i] = (worker){ fn, arg, i };
        CHECK0(pthread_create(&th[i], NULL, worker_main, &w[i]));
    }
    while (atomic_load(&ready_count) < n)
        sched_yield();
    uint64_t t0 = now_ns();
    atomic_store_explicit(&go, 1, memory_order_release);
    for (int i = 0; i < n; i++)
        CHECK0(pthread_join(th[i], NULL));
    return now_ns() - t0;
}

/* ---- uncontended, nested ---- */

static pthread_mutex_t locks[4] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER };
static volatile long counter;

static void nest_loop(pthread_mutex_t *m, int depth, long n)
{
    for (long i = 0; i < n; i++) {
        for (int d = 0; d < depth; d++)
            pthread_mutex_lock(&m[d]);
        counter++;
        for (int d = depth; d-- > 0;)
            pthread_mutex_unlock(&m[d]);
    }
}

/* ns per lock+unlock pair of a depth-deep nest (depth 1: uncontended). */
static uint64_t time_nested(pthread_mutex_t *m, int depth, long n)
{
    nest_loop(m, depth, 1000);   /* warm-up: every edge known */
    counter = 0;
    uint64_t t0 = now_ns();
    nest_loop(m, depth, n);
    uint64_t ns = now_ns() - t0;
    if (counter != n)
        fail("counter %ld, expected %ld", counter, n);
    return ns;
}

/* nested2-helper: the same nest taken through a lock helper (a C xlock(),
 * as std::lock_guard at -O0): every acquisition at the helper's one call
 * site, whose frame returns with the lock held. */
static __attribute__((noinline)) void xlock(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    __asm__ volatile("" ::: "memory");   /* not a tail call */
}

static __attribute__((noinline)) void xunlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
    __asm__ volatile("" ::: "memory");
}

static void helper_loop(pthread_mutex_t *m, int depth, long n)
{
    for (long i = 0; i < n; i++) {
        for (int d = 0; d < depth; d++)
            xlock(&m[d]);
        counter++;
        for (int d = depth; d-- > 0;)
            xunlock(&m[d]);
    }
}

static int mode_helper(const char *mode, int depth)
{
    long n = scaled(20000000 / depth);
    helper_loop(locks, depth, 1000);   /* warm-up: every edge known */
    counter = 0;
    uint64_t t0 = now_ns();
    helper_loop(locks, depth, n);
    uint64_t ns = now_ns() - t0;
    if (counter != n)
        fail("counter %ld, expected %ld", counter, n);
    result(mode, ns, n * depth, "depth=%d", depth);
    return 0;
}

static void *idle_thread(void *arg)
{
    return arg;
}

static int mode_nested(const char *mode, int depth)
{
    long n = scaled(depth == 1 ? 20000000 : 20000000 / depth);
    if (strstr(mode, "-mt")) {
        pthread_t t;
        if (pthread_create(&t, NULL, idle_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
            fail("cannot create the idle thread");
    }
    uint64_t ns = time_nested(locks, depth, n);
    result(mode, ns, n * depth, "depth=%d", depth);
    return 0;
}

/* ---- contended ---- */

static long contended_per_thread;

static void contended_fn(int idx, void *arg)
{
    (void)idx;
    pthread_mutex_t *m = arg;
    for (long i = 0; i < contended_per_thread; i++) {
        pthread_mutex_lock(m);
        counter++;
        pthread_mutex_unlock(m);
    }
}

static int mode_contended(const char *mode, int nthreads)
{
    contended_per_thread = scaled(8000000) / nthreads;
    counter = 0;
    uint64_t ns = run_threads(nthreads, contended_fn, &locks[0]);
    long total = contended_per_thread * nthreads;
    if (counter != total)
        fail("counter %ld, expected %ld", counter, total);
    result(mode, ns, total, "threads=%d", nthreads);
    return 0;
}

/* ---- one million fresh mutexes ---- */

/* destroy: destroy each mutex before freeing it ("fresh"), or free it
 * still initialised, never destroyed ("fresh-free"). */
static int mode_fresh(const char *mode, bool destroy)
{
    long n = scaled(1000000);
    const int rounds = 3;
    pthread_mutex_t **p = malloc((size_t)n * sizeof(*p));
    if (!p)
        fail("out of memory");
    memset(p, 0, (size_t)n * sizeof(*p));
    counter = 0;
    long rss_base = status_kb("VmRSS");
    long rss_live = 0, rss_after[3];
    uint64_t ns = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            p[i] = malloc(sizeof(pthread_mutex_t));
            if (!p[i])
                fail("out of memory");
            CHECK0(pthread_mutex_init(p[i], NULL));
        }
        for (long i = 0; i < n; i++) {
            CHECK0(pthread_mutex_lock(p[i]));
            counter++;
            CHECK0(pthread_mutex_unlock(p[i]));
        }
        ns += now_ns() - t0;
        long live = status_kb("VmRSS");   /* n locks live */
        if (live > rss_live)
            rss_live = live;
        t0 = now_ns();
        for (long i = 0; i < n; i++) {
            if (destroy)
                CHECK0(pthread_mutex_destroy(p[i]));
            free(p[i]);
        }
        ns += now_ns() - t0;
        rss_after[r] = status_kb("VmRSS");
    }
    if (counter != n * rounds)
        fail("counter %ld, expected %ld", counter, n * rounds);
    free(p);
    result(mode, ns, n * rounds,
           "live_locks=%ld rss_base_kb=%ld rss_live_kb=%ld rss_after1_kb=%ld rss_after3_kb=%ld",
           n, rss_base, rss_live, rss_after[0], rss_after[rounds - 1]);
    return 0;
}

/* ---- rwlock, read-mostly ---- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_per_thread;
static volatile long rw_a, rw_b;
static atomic_long rw_bad;

static void rwlock_fn(int idx, void *arg)
{
    (void)idx;
    (void)arg;
    long bad = 0;
    for (long i = 0; i < rw_per_thread; i++) {
        if (i % 100 == 0) {
            pthread_rwlock_wrlock(&rw);
            rw_a++;
            rw_b++;
            pthread_rwlock_unlock(&rw);
        } else {
            pthread_rwlock_rdlock(&rw);
            if (rw_a != rw_b)
                bad++;
            pthread_rwlock_unlock(&rw);
        }
    }
    atomic_fetch_add(&rw_bad, bad);
}

static int mode_rwlock(const char *mode, int nthreads)
{
    rw_per_thread = scaled(10000000) / nthreads;
    uint64_t ns = run_threads(nthreads, rwlock_fn, NULL);
    long writes = nthreads * ((rw_per_thread + 99) / 100);
    if (rw_bad != 0 || rw_a != writes || rw_b != writes)
        fail("rwlock: %ld torn reads, %ld/%ld writes, expected %ld", (long)rw_bad, rw_a, rw_b,
             writes);
    result(mode, ns, rw_per_thread * nthreads, "threads=%d reads_pct=99", nthreads);
    return 0;
}

/* ---- producer / consumer ---- */

#define QCAP 64
static struct {
    pthread_mutex_t m;
    pthread_cond_t not_full, not_empty;
    long buf[QCAP];
    unsigned head, count;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0,
        0 };
static long pc_items;
static long pc_sum;

static void prodcons_fn(int idx, void *arg)
{
    (void)arg;
    if (idx == 0) {   /* producer */
        for (long i = 1; i <= pc_items; i++) {
            pthread_mutex_lock(&q.m);
            while (q.count == QCAP)
                pthread_cond_wait(&q.not_full, &q.m);
            q.buf[(q.head + q.count) % QCAP] = i;
            q.count++;
            pthread_cond_signal(&q.not_empty);
            pthread_mutex_unlock(&q.m);
        }
    } else {          /* consumer */
        long sum = 0;
        for (long i = 0; i < pc_items; i++) {
            pthread_mutex_lock(&q.m);
            while (q.count == 0)
                pthread_cond_wait(&q.not_empty, &q.m);
            sum += q.buf[q.head];
            q.head = (q.head + 1) % QCAP;
            q.count--;
            pthread_cond_signal(&q.not_full);
            pthread_mutex_unlock(&q.m);
        }
        pc_sum = sum;
    }
}

static int mode_prodcons(const char *mode)
{
    pc_items = scaled(1000000);
    uint64_t ns = run_threads(2, prodcons_fn, NULL);
    long expect = pc_items * (pc_items + 1) / 2;
    if (pc_sum != expect)
        fail("consumer sum %ld, expected %ld", pc_sum, expect);
    result(mode, ns, pc_items, "queue=%d", QCAP);
    return 0;
}

/* ---- signals nobody waits for ----
 * The signal-after-unlock idiom with no waiter, one thread: lock, unlock,
 * signal.  The condvar was waited on once (a timed wait that has already
 * expired), so lockwatch knows it and its mutex: every signal takes the
 * lost-wake-up check's path as far as the sender's log of the locks it took
 * (lost.h).  ns per lock + unlock + signal. */
static pthread_mutex_t sig_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_c = PTHREAD_COND_INITIALIZER;

static int mode_signal(const char *mode)
{
    struct timespec past = { 0, 0 };
    pthread_mutex_lock(&sig_m);
    if (pthread_cond_timedwait(&sig_c, &sig_m, &past) != ETIMEDOUT)
        fail("signal: the expired timed wait did not time out");
    pthread_mutex_unlock(&sig_m);
    long n = scaled(10000000);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&sig_m);
        pthread_mutex_unlock(&sig_m);
        pthread_cond_signal(&sig_c);
    }
    result(mode, now_ns() - t0, n, "no waiter");
    return 0;
}

/* The worst case of the lost-wake-up check: a sender that never takes the
 * mutex signals over and over while another thread holds it (paired with
 * the condvar by one expired timed wait, then spinning with it held): every
 * signal is recorded as possibly lost (lost.h), from the same call.  No
 * wait follows, so nothing is reported.  ns per signal. */
static atomic_int lost_stop, lost_ready;

static void *lost_holder(void *arg)
{
    (void)arg;
    struct timespec past = { 0, 0 };
    pthread_mutex_lock(&sig_m);
    if (pthread_cond_timedwait(&sig_c, &sig_m, &past) != ETIMEDOUT)
        fail("signal-unlocked: the expired timed wait did not time out");
    atomic_store(&lost_ready, 1);
    while (!atomic_load_explicit(&lost_stop, memory_order_relaxed))
        ;
    pthread_mutex_unlock(&sig_m);
    return NULL;
}

static int mode_signal_unlocked(const char *mode)
{
    pthread_t th;
    CHECK0(pthread_create(&th, NULL, lost_holder, NULL));
    while (!atomic_load(&lost_ready))
        sched_yield();
    long n = scaled(200000);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        pthread_cond_signal(&sig_c);
    uint64_t ns = now_ns() - t0;
    atomic_store(&lost_stop, 1);
    CHECK0(pthread_join(th, NULL));
    result(mode, ns, n, "mutex held by another thread");
    return 0;
}

/* ---- thread churn ---- */

static pthread_mutex_t churn_a = PTHREAD_MUTEX_INITIALIZER, churn_b = PTHREAD_MUTEX_INITIALIZER,
                       churn_c = PTHREAD_MUTEX_INITIALIZER;
static long churn_ab, churn_c_count;   /* under churn_b, under churn_c */
static atomic_long churn_done;

/* Each thread: a nest of two global locks, and a lock of its own (on its
 * stack: a new lock every time) taken before a third global one. */
static void *churn_thread(void *arg)
{
    (void)arg;
    pthread_mutex_t own;
    CHECK0(pthread_mutex_init(&own, NULL));
    for (int i = 0; i < 4; i++) {
        pthread_mutex_lock(&churn_a);
        pthread_mutex_lock(&churn_b);
        churn_ab++;
        pthread_mutex_unlock(&churn_b);
        pthread_mutex_unlock(&churn_a);
        pthread_mutex_lock(&own);
        pthread_mutex_lock(&churn_c);
        churn_c_count++;
        pthread_mutex_unlock(&churn_c);
        pthread_mutex_unlock(&own);
    }
    CHECK0(pthread_mutex_destroy(&own));
    atomic_fetch_add(&churn_done, 1);
    return NULL;
}

static int mode_churn(const char *mode)
{
    long n = scaled(10000);
    const int batch = 4;
    if (n < 2000)
        n = 2000;
    n -= n % batch;
    /* The first n threads are timed.  Memory: 2n more threads follow
     * (untimed), and the growth per ended thread is taken over the second
     * half of all 3n, past any one-time warm-up such as the first touches
     * of fixed-size tables; the figures after 1000 threads and at half show
     * that warm-up. */
    long total = 3 * n;
    long half = total / 2 - (total / 2) % batch;
    long rss_1000 = 0, rss_half = 0;
    uint64_t ns = 0;
    for (long done = 0; done < total; done += batch) {
        pthread_t th[batch];
        uint64_t t0 = now_ns();
        for (int i = 0; i < batch; i++)
            CHECK0(pthread_create(&th[i], NULL, churn_thread, NULL));
        for (int i = 0; i < batch; i++)
            CHECK0(pthread_join(th[i], NULL));
        if (done < n)
            ns += now_ns() - t0;
        if (done + batch == 1000)
            rss_1000 = status_kb("VmRSS");
        if (done + batch == half)
            rss_half = status_kb("VmRSS");
    }
    if (churn_done != total || churn_ab != total * 4 || churn_c_count != total * 4)
        fail("churn: %ld threads done, counters %ld, %ld; expected %ld, %ld", (long)churn_done,
             churn_ab, churn_c_count, total, total * 4);
    long rss_end = status_kb("VmRSS");
    result(mode, ns, n,
           "threads=%ld threads_total=%ld rss_at_1000_kb=%ld rss_at_half_kb=%ld rss_end_kb=%ld "
           "growth_b_per_thread=%.1f",
           n, total, rss_1000, rss_half, rss_end,
           (double)(rss_end - rss_half) * 1024.0 / (double)(total - half));
    return 0;
}

/* ---- write(2) with no lock held ---- */

static long write_n;
static long write_ok;
static int write_fd;

static void write_fn(int idx, void *arg)
{
    (void)idx;
    (void)arg;
    long ok = 0;
    char c = 'x';
    for (long i = 0; i < write_n; i++)
        ok += write(write_fd, &c, 1) == 1;
    write_ok = ok;
}

static int mode_write(const char *mode)
{
    write_n = scaled(1000000);
    write_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (write_fd < 0)
        fail("open /dev/null: %s", strerror(errno));
    uint64_t ns = run_threads(1, write_fn, NULL);
    close(write_fd);
    if (write_ok != write_n)
        fail("%ld of %ld writes succeeded", write_ok, write_n);
    result(mode, ns, write_n, NULL);
    return 0;
}

/* ---- malloc + free, with and without a lock held ---- */

/* The block goes through a volatile pointer, so that the compiler keeps
 * each malloc/free pair (it may drop a pair whose memory is unused). */
static void *volatile mf_sink;

/* held: the thread holds one mutex throughout ("malloc-free-held"), so
 * every free asks lockwatch whether the block holds a held lock.  The mutex
 * is on the stack, above the heap: lockwatch then takes its whole check
 * (the block's size, then the held stack) where a held global, below the
 * blocks, would cost it one comparison.  Without it ("malloc-free") free
 * only tests that nothing is held. */
static int mode_malloc_free(const char *mode, bool held)
{
    long n = scaled(20000000);
    long touched = 0;
    pthread_mutex_t above = PTHREAD_MUTEX_INITIALIZER;
    if (held)
        CHECK0(pthread_mutex_lock(&above));
    for (long i = 0; i < 1000; i++)   /* warm-up: the allocator's caches */
        free(malloc(64));
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        char *p = malloc(64);
        if (!p)
            fail("out of memory");
        p[0] = (char)i;
        mf_sink = p;
        touched += ((char *)mf_sink)[0] == (char)i;
        free(mf_sink);
    }
    uint64_t ns = now_ns() - t0;
    if (held)
        CHECK0(pthread_mutex_unlock(&above));
    if (touched != n)
        fail("%ld of %ld blocks kept their byte", touched, n);
    result(mode, ns, n, "bytes=64 held=%d", held ? 1 : 0);
    return 0;
}

/* ---- a large order graph, then known-edge acquisitions ---- */

/* Edges L[i] -> L[i+k], k = 1..fan: one consistent order, no cycle. */
static uint64_t build_graph(pthread_mutex_t *L, long nlocks, int fan)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < nlocks; i++) {
        pthread_mutex_lock(&L[i]);
        for (int k = 1; k <= fan && i + k < nlocks; k++) {
            pthread_mutex_lock(&L[i + k]);
            pthread_mutex_unlock(&L[i + k]);
        }
        pthread_mutex_unlock(&L[i]);
    }
    return now_ns() - t0;
}

/* New edges: `fresh` locks never seen before, each taken once before
 * `into` (an edge from the newest lock into an old one: under a dynamic
 * topological order this is the case that needs a search). */
static uint64_t time_new_edges(pthread_mutex_t *fresh, int n, pthread_mutex_t *into)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&fresh[i]);
        pthread_mutex_lock(into);
        pthread_mutex_unlock(into);
        pthread_mutex_unlock(&fresh[i]);
    }
    return now_ns() - t0;
}

static int mode_graph(const char *mode)
{
    long nlocks = scaled(100000);
    const int fan = 10;
    const int nfresh = 20;
    long n = scaled(20000000 / 4);
    pthread_mutex_t *L = malloc((size_t)nlocks * sizeof(*L));
    pthread_mutex_t *fresh = malloc(2 * nfresh * sizeof(*fresh));
    if (!L || !fresh)
        fail("out of memory");
    for (long i = 0; i < nlocks; i++)
        CHECK0(pthread_mutex_init(&L[i], NULL));
    for (int i = 0; i < 2 * nfresh; i++)
        CHECK0(pthread_mutex_init(&fresh[i], NULL));
    pthread_mutex_t small[4];
    for (int i = 0; i < 4; i++)
        CHECK0(pthread_mutex_init(&small[i], NULL));

    /* Before the graph: known-edge nest, and new edges into L[0] (which
     * has no outgoing edge yet). */
    uint64_t before = time_nested(small, 4, n);
    uint64_t new_before = time_new_edges(fresh, nfresh, &L[0]);
    long edges = 0;
    for (long i = 0; i < nlocks; i++)
        edges += (nlocks - 1 - i) < fan ? (nlocks - 1 - i) : fan;
    uint64_t build = build_graph(L, nlocks, fan);
    /* After: the same known-edge nest (its edges were made before the
     * graph, so they are still known), and new edges into L[0], from which
     * the whole graph is reachable. */
    uint64_t after = time_nested(small, 4, n);
    uint64_t new_after = time_new_edges(fresh + nfresh, nfresh, &L[1]);
    result(mode, after, n * 4,
           "locks=%ld edges=%ld build_ns_per_edge=%.1f nested4_before_ns=%.3f "
           "nested4_after_ns=%.3f new_edge_before_ns=%.1f new_edge_after_ns=%.1f",
           nlocks, edges, (double)build / (double)edges, (double)before / (double)(n * 4),
           (double)after / (double)(n * 4), (double)new_before / nfresh,
           (double)new_after / nfresh);
    return 0;
}

/* chain-cycle: the cost of a new order edge before and after the graph
 * has a cycle somewhere else.  A chain of N mutexes (each taken while the
 * one before it is held: N-1 new edges), then an inversion of two other
 * mutexes under a gate lock they share (a cycle lockwatch does not report:
 * the gate serialises it), then a second chain of N.  The second chain's
 * new edges must cost what the first one's did. */
static uint64_t build_chain(pthread_mutex_t *L, long n, pthread_mutex_t *hub)
{
    /* Untimed: a hub lock before every lock of the chain, so no new edge
     * of the chain starts at a lock without an edge into it (the graph's
     * shortcut for those). */
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(hub);
        pthread_mutex_lock(&L[i]);
        pthread_mutex_unlock(&L[i]);
        pthread_mutex_unlock(hub);
    }
    /* From the far end back: each new edge L[i] -> L[i+1] leads into the
     * whole chain built so far (a search from L[i+1] walks it). */
    uint64_t t0 = now_ns();
    for (long i = n - 2; i >= 0; i--) {
        pthread_mutex_lock(&L[i]);
        pthread_mutex_lock(&L[i + 1]);
        pthread_mutex_unlock(&L[i + 1]);
        pthread_mutex_unlock(&L[i]);
    }
    return now_ns() - t0;
}

static int mode_chain_cycle(const char *mode)
{
    long n = scaled(34000);
    if (n < 2)
        n = 2;
    pthread_mutex_t *L = malloc(2 * (size_t)n * sizeof(*L));
    if (!L)
        fail("out of memory");
    for (long i = 0; i < 2 * n; i++)
        CHECK0(pthread_mutex_init(&L[i], NULL));
    pthread_mutex_t hub1 = PTHREAD_MUTEX_INITIALIZER, hub2 = PTHREAD_MUTEX_INITIALIZER;
    uint64_t before = build_chain(L, n, &hub1);
    pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER, a = PTHREAD_MUTEX_INITIALIZER,
                    b = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&g);
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&g);
    uint64_t after = build_chain(L + n, n, &hub2);
    result(mode, after, n - 1, "locks=%ld chain_before_ns_per_edge=%.1f chain_after_ns_per_edge=%.1f",
           2 * n, (double)before / (double)(n - 1), (double)after / (double)(n - 1));
    return 0;
}

/* ---- cache: a lock per entry, born, ordered and destroyed by thousands ----
 * The shape of unbound's lruhash (and of many caches): a table spinlock, a
 * spinlock per bin, an rwlock per entry.  A lookup takes the table, then the
 * bin, lets the table go and read-locks the entry under the bin; an insert
 * links a new entry under the table and its bin, and past the capacity
 * evicts the least recently used entry: under the table and that entry's
 * bin it write-locks the entry, then destroys its lock and frees it after
 * the table is let go.  As in unbound, entries refer to long-lived records
 * with locks of their own (its rrset keys): a hit read-locks the entry's
 * record while it holds the entry, and counts the hit under a statistics
 * mutex while it holds the record.  Every entry's life adds new order
 * edges (bin -> entry and entry -> record at its first hit, the second
 * against the order the graph had: the record is older and has an edge
 * out; table -> entry and bin -> entry at its eviction) and removes them
 * again.  One op: one query (a lookup; one in four misses and inserts a
 * new entry). */
#define CACHE_BINS 1024
#define CACHE_CAP 8192
#define CACHE_RECORDS 64

struct centry {
    pthread_rwlock_t lock;
    long key, value;
    struct centry *bin_next, *lru_prev, *lru_next;
};

static struct {
    pthread_spinlock_t table;
    pthread_spinlock_t bin[CACHE_BINS];
    struct centry *head[CACHE_BINS];
    struct centry *lru_first, *lru_last;
    long num;
    pthread_rwlock_t record[CACHE_RECORDS];
    pthread_mutex_t stats;
    long record_hits;
} cache;

static unsigned cache_bin(long key)
{
    return (unsigned)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 54) & (CACHE_BINS - 1);
}

static void lru_unlink(struct centry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        cache.lru_first = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        cache.lru_last = e->lru_prev;
}

static void lru_front(struct centry *e)
{
    e->lru_prev = NULL;
    e->lru_next = cache.lru_first;
    if (cache.lru_first)
        cache.lru_first->lru_prev = e;
    cache.lru_first = e;
    if (!cache.lru_last)
        cache.lru_last = e;
}

/* The entry of `key`, read-locked, or NULL. */
static struct centry *cache_lookup(long key)
{
    unsigned b = cache_bin(key);
    CHECK0(pthread_spin_lock(&cache.table));
    CHECK0(pthread_spin_lock(&cache.bin[b]));
    struct centry *e = cache.head[b];
    while (e && e->key != key)
        e = e->bin_next;
    if (e) {
        lru_unlink(e);
        lru_front(e);
    }
    CHECK0(pthread_spin_unlock(&cache.table));
    if (e)
        CHECK0(pthread_rwlock_rdlock(&e->lock));
    CHECK0(pthread_spin_unlock(&cache.bin[b]));
    return e;
}

static void cache_insert(long key)
{
    struct centry *e = malloc(sizeof(*e)), *evicted = NULL;
    if (!e)
        fail("out of memory");
    CHECK0(pthread_rwlock_init(&e->lock, NULL));
    e->key = key;
    e->value = key * 3;
    unsigned b = cache_bin(key);
    CHECK0(pthread_spin_lock(&cache.table));
    CHECK0(pthread_spin_lock(&cache.bin[b]));
    e->bin_next = cache.head[b];
    cache.head[b] = e;
    lru_front(e);
    cache.num++;
    CHECK0(pthread_spin_unlock(&cache.bin[b]));
    if (cache.num > CACHE_CAP) {
        struct centry *d = cache.lru_last;
        lru_unlink(d);
        cache.num--;
        unsigned db = cache_bin(d->key);
        CHECK0(pthread_spin_lock(&cache.bin[db]));
        struct centry **pp = &cache.head[db];
        while (*pp != d)
            pp = &(*pp)->bin_next;
        *pp = d->bin_next;
        CHECK0(pthread_rwlock_wrlock(&d->lock));
        d->value = -1;
        CHECK0(pthread_rwlock_unlock(&d->lock));
        CHECK0(pthread_spin_unlock(&cache.bin[db]));
        evicted = d;
    }
    CHECK0(pthread_spin_unlock(&cache.table));
    if (evicted) {
        CHECK0(pthread_rwlock_destroy(&evicted->lock));
        free(evicted);
    }
}

static int mode_cache(const char *mode)
{
    long n = scaled(2000000);
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
        fail("cannot create the idle thread");
    CHECK0(pthread_spin_init(&cache.table, PTHREAD_PROCESS_PRIVATE));
    for (int i = 0; i < CACHE_BINS; i++)
        CHECK0(pthread_spin_init(&cache.bin[i], PTHREAD_PROCESS_PRIVATE));
    for (int i = 0; i < CACHE_RECORDS; i++)
        CHECK0(pthread_rwlock_init(&cache.record[i], NULL));
    CHECK0(pthread_mutex_init(&cache.stats, NULL));
    long next_key = 0, hits = 0, misses = 0;
    uint64_t rnd = 88172645463325252ull;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        long key;
        if (i % 4 == 0 || next_key == 0) {
            key = next_key++;   /* never seen: a miss */
        } else {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            long back = (long)(rnd % 2048) + 1;
            key = next_key - back < 0 ? 0 : next_key - back;
        }
        struct centry *e = cache_lookup(key);
        if (e) {
            pthread_rwlock_t *rec = &cache.record[key % CACHE_RECORDS];
            CHECK0(pthread_rwlock_rdlock(rec));
            if (e->value != key * 3)
                fail("entry %ld holds %ld", key, e->value);
            CHECK0(pthread_mutex_lock(&cache.stats));
            cache.record_hits++;
            CHECK0(pthread_mutex_unlock(&cache.stats));
            CHECK0(pthread_rwlock_unlock(rec));
            CHECK0(pthread_rwlock_unlock(&e->lock));
            hits++;
        } else {
            cache_insert(key);
            misses++;
        }
    }
    uint64_t ns = now_ns() - t0;
    if (misses != next_key || cache.record_hits != hits)
        fail("%ld misses for %ld keys, %ld record hits for %ld", misses, next_key,
             cache.record_hits, hits);
    result(mode, ns, n, "entries_born=%ld hits=%ld cap=%d", next_key, hits, CACHE_CAP);
    return 0;
}

/* "contended8" with prefix "contended" -> 8; 0 if m is not prefix+N. */
static int thread_suffix(const char *m, const char *prefix)
{
    size_t len = strlen(prefix);
    if (strncmp(m, prefix, len) != 0 || !m[len])
        return 0;
    char *end;
    long n = strtol(m + len, &end, 10);
    return (*end == '\0' && n >= 1 && n <= 256) ? (int)n : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr,
                "usage: %s MODE [SCALE]\n"
                "modes: uncontended nested2 nested3 nested4 uncontended-mt nested2-mt nested4-mt\n"
                "       nested2-helper\n"
                "       contended2 contended4 fresh\n"
                "       fresh-free rwlock prodcons signal signal-unlocked churn write graph\n"
                "       malloc-free\n"
                "       malloc-free-held chain-cycle cache\n"
                "       contendedN rwlockN (N threads, 1 to 256)\n",
                argv[0]);
        return 2;
    }
    if (argc == 3) {
        scale = strtod(argv[2], NULL);
        if (!(scale > 0))
            scale = 1;
    }
    const char *m = argv[1];
    if (!strcmp(m, "uncontended"))
        return mode_nested(m, 1);
    if (!strcmp(m, "nested2"))
        return mode_nested(m, 2);
    if (!strcmp(m, "nested3"))
        return mode_nested(m, 3);
    if (!strcmp(m, "nested4"))
        return mode_nested(m, 4);
    if (!strcmp(m, "nested2-helper"))
        return mode_helper(m, 2);
    if (!strcmp(m, "uncontended-mt"))
        return mode_nested(m, 1);
    if (!strcmp(m, "nested2-mt"))
        return mode_nested(m, 2);
    if (!strcmp(m, "nested4-mt"))
        return mode_nested(m, 4);
    if (!strcmp(m, "contended2"))
        return mode_contended(m, 2);
    if (!strcmp(m, "contended4"))
        return mode_contended(m, 4);
    if (!strcmp(m, "fresh"))
        return mode_fresh(m, true);
    if (!strcmp(m, "fresh-free"))
        return mode_fresh(m, false);
    if (!strcmp(m, "rwlock"))
        return mode_rwlock(m, 2);
    if (!strcmp(m, "signal"))
        return mode_signal(m);
    if (!strcmp(m, "signal-unlocked"))
        return mode_signal_unlocked(m);
    if (!strcmp(m, "prodcons"))
        return mode_prodcons(m);
    if (!strcmp(m, "churn"))
        return mode_churn(m);
    if (!strcmp(m, "write"))
        return mode_write(m);
    if (!strcmp(m, "graph"))
        return mode_graph(m);
    if (!strcmp(m, "chain-cycle"))
        return mode_chain_cycle(m);
    if (!strcmp(m, "cache"))
        return mode_cache(m);
    if (!strcmp(m, "malloc-free"))
        return mode_malloc_free(m, false);
    if (!strcmp(m, "malloc-free-held"))
        return mode_malloc_free(m, true);
    /* contendedN, rwlockN: N threads (the scaling runs: 1 to 16 and more) */
    int n = thread_suffix(m, "contended");
    if (n > 0)
        return mode_contended(m, n);
    n = thread_suffix(m, "rwlock");
    if (n > 0)
        return mode_rwlock(m, n);
    fprintf(stderr, "%s: unknown mode %s\n", argv[0], m);
    return 2;
}
