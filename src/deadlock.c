/*
 * deadlock.c: wait records and wait-for cycles (see deadlock.h).
 * Owns: the list of published waits.  Must never: be on the path of an
 * uncontended acquisition; hold wait_lock while unwinding, symbolising or
 * writing a report.
 */
#include "deadlock.h"
#include "lw_sys.h"
#include "arena.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "lw_clock.h"
#include "lw_core.h"
#include "options.h"
#include "finding.h"
#include "stacks.h"
#include "suppress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LW_MAX_WAIT_CHAIN 32

struct lw_waitrec {
    void *pool_link;              /* first word: pool free list */
    lw_waitrec *next, *prev;      /* wait_lock */
    uint64_t seq;                 /* this wait episode, unique */
    pthread_t self;
    lw_thread_snap who;           /* thread, backtrace at the wait, held locks */
    lw_lock_snap lock;            /* what it waits for (lock.addr 0: a join) */
    unsigned mode;
    bool is_join;
    pthread_t target;
    bool relocked;
    /* Written by the owning thread under wait_lock. */
    uint64_t cycle_sig, cycle_since_ns;
    bool reported;                /* part of a reported cycle */
    uint64_t mark;                /* search epoch */
};

/* protects: waiters (the list), every lw_waitrec field after publication,
 * search_epoch.  A leaf lock. */
static lw_mutex wait_lock = LW_MUTEX_INIT;
static lw_waitrec *waiters;
static uint64_t next_seq = 1;
static uint64_t search_epoch;
static lw_pool wait_pool = LW_POOL_INIT(sizeof(lw_waitrec));

/* Under wait_lock. */
static void link_wait(lw_waitrec *w)
{
    w->prev = NULL;
    w->next = waiters;
    if (waiters)
        waiters->prev = w;
    waiters = w;
}

static void unlink_wait(lw_waitrec *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

uint64_t lw_wait_slice_ns(void)
{
    /* An eighth of the persistence time, within [5 ms, 200 ms]: a cycle is
     * seen about one slice after its last member blocks and reported at
     * most two slices after LOCKWATCH_DEADLOCK_MS more. */
    uint64_t s = (uint64_t)lw_opt.deadlock_ms * 1000000ull / 8;
    if (s < 5000000ull)
        s = 5000000ull;
    if (s > 200000000ull)
        s = 200000000ull;
    return s;
}

void lw_wait_deadline(struct timespec *ts)
{
    uint64_t t = lw_mono_ns() + lw_wait_slice_ns();
    ts->tv_sec = (time_t)(t / 1000000000ull);
    ts->tv_nsec = (long)(t % 1000000000ull);
}

lw_waitrec *lw_wait_begin(lw_thread *t, lw_lock *l, unsigned mode, const pthread_t *target,
                          bool relocked)
{
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    uint32_t stack = lw_depot_put(pcs, n < depth ? n : depth);

    lw_waitrec *w = lw_pool_get(&wait_pool);
    if (!w)
        return NULL;
    memset((char *)w + sizeof(void *), 0, sizeof(*w) - sizeof(void *));
    w->self = pthread_self();
    /* The thread section is built like a finding's, with held-lock stacks
     * reconstructed from this backtrace. */
    lw_snap_thread(t, stack, pcs, sps, n, 0, &w->who);
    if (l)
        lw_snap_lock(l, &w->lock);
    w->mode = mode;
    w->is_join = l == NULL;
    if (target)
        w->target = *target;
    w->relocked = relocked;

    lw_mutex_lock(&wait_lock);
    w->seq = next_seq++;
    link_wait(w);
    lw_mutex_unlock(&wait_lock);
    return w;
}

void lw_wait_end(lw_waitrec *w)
{
    if (!w)
        return;
    lw_mutex_lock(&wait_lock);
    unlink_wait(w);
    lw_mutex_unlock(&wait_lock);
    lw_pool_put(&wait_pool, w);
}

/* Does q hold what w waits for, in a way that blocks w?  Under wait_lock. */
static bool blocks(const lw_waitrec *w, const lw_waitrec *q)
{
    if (w->is_join)
        return pthread_equal(q->self, w->target);
    for (unsigned i = 0; i < q->who.nholds; i++) {
        const lw_hold_snap *h = &q->who.holds[i];
        if (h->lock.id == w->lock.id && h->lock.addr == w->lock.addr &&
            (w->mode == LW_MODE_WRITE || h->mode == LW_MODE_WRITE))
            return true;
    }
    return false;
}

/* Depth-first search for a path of "waits for something held by" edges
 * from start back to start.  Explicit stack; under wait_lock.  Fills
 * members[] with the cycle, start first. */
static unsigned find_cycle(lw_waitrec *start, lw_waitrec **members)
{
    lw_waitrec *path[LW_MAX_WAIT_CHAIN];
    lw_waitrec *iter[LW_MAX_WAIT_CHAIN];   /* next candidate holder per level */
    unsigned depth = 1;
    uint64_t epoch = ++search_epoch;
    path[0] = start;
    iter[0] = waiters;
    start->mark = epoch;
    while (depth > 0) {
        lw_waitrec *cur = path[depth - 1];
        lw_waitrec *q = iter[depth - 1];
        if (!q) {
            depth--;
            continue;
        }
        iter[depth - 1] = q->next;
        if (!blocks(cur, q))
            continue;
        if (q == start) {
            memcpy(members, path, depth * sizeof(*path));
            return depth;
        }
        if (q->mark == epoch || depth == LW_MAX_WAIT_CHAIN)
            continue;
        q->mark = epoch;
        path[depth] = q;
        iter[depth] = waiters;
        depth++;
    }
    return 0;
}

static uint64_t cycle_sig(lw_waitrec **m, unsigned n)
{
    uint64_t s = n;
    for (unsigned i = 0; i < n; i++)
        s += lw_hash_mix(m[i]->seq, 0xdead);
    return s;
}

static void describe(lw_finding *f, lw_waitrec **m, unsigned n)
{
    lw_buf b;
    lw_buf_init(&b, f->message, sizeof(f->message));
    lw_buf_printf(&b, "%u thread%s blocked in a wait-for cycle: ", n, n == 1 ? " is" : "s are");
    /* The locks waited for first: they are what the finding is about. */
    int waits[LW_MAX_WAIT_CHAIN];
    for (unsigned i = 0; i < n; i++)
        waits[i] = m[i]->is_join ? -1 : lw_finding_lock(f, &m[i]->lock, true, NULL, 0);
    for (unsigned i = 0; i < n; i++) {
        const lw_waitrec *w = m[i];
        lw_fthread *ft = lw_finding_thread(f, &w->who);
        if (!ft)
            break;
        const lw_waitrec *next = m[(i + 1) % n];
        if (w->is_join) {
            ft->waits_thread = (int)next->who.num;
            lw_finding_what(ft, "is blocked joining thread T%u", next->who.num);
            lw_buf_printf(&b, "T%u joins T%u", w->who.num, next->who.num);
        } else {
            ft->waits_lock = waits[i];
            lw_finding_what(ft, "is blocked %s M%lu, held by thread T%u",
                            w->mode == LW_MODE_READ ? "read-locking" : "locking",
                            (unsigned long)w->lock.id, next->who.num);
            lw_buf_printf(&b, "T%u waits for M%lu held by T%u", w->who.num,
                          (unsigned long)w->lock.id, next->who.num);
        }
        if (i + 1 < n)
            lw_buf_puts(&b, ", ");
    }
}

void lw_deadlock_act(void)
{
    if (lw_opt.on_deadlock != LW_ON_DEADLOCK_WAIT)
        lw_supp_summary();
    switch (lw_opt.on_deadlock) {
    case LW_ON_DEADLOCK_EXIT:
        /* No exit handlers or destructors: they could block on the very
         * locks of the cycle.  Its own status, never 0 (the option's
         * minimum is 1): LOCKWATCH_EXITCODE=0 keeps the status of a program
         * that ends by itself, but one that lockwatch ends must not pass.
         * The run's graph first (JSON output): it takes only lockwatch's
         * own locks, none of which a thread of the cycle holds while it
         * waits, and the report just made has the symbolizer running. */
        lw_core_write_graph();
        lw_syscall(SYS_exit_group, (int)lw_opt.deadlock_exitcode);
        break;
    case LW_ON_DEADLOCK_ABORT:
        abort();
    default:
        break;   /* wait: keep hanging for a debugger */
    }
}

/* ---- waits of the fast path ----
 * A thread that holds nothing blocks in glibc's lock directly and publishes
 * no record, only what it waits for (lw_thread.fast_wait).  It can be on a
 * cycle only through a thread joining it, so each check builds records for
 * the targets of published joins that have none, from those two words, for
 * the length of the search: the thread snapshot has no held locks (there
 * are none) and the call site as its stack. */
#define LW_MAX_FAST_WAITS 8

static bool has_record(pthread_t pt)
{
    for (lw_waitrec *q = waiters; q; q = q->next)
        if (pthread_equal(q->self, pt))
            return true;
    return false;
}

/* Under wait_lock: the join targets without a record (at most max). */
static unsigned silent_targets(pthread_t *out, unsigned max)
{
    unsigned n = 0;
    for (lw_waitrec *q = waiters; q && n < max; q = q->next) {
        if (!q->is_join || has_record(q->target))
            continue;
        bool dup = false;
        for (unsigned i = 0; i < n; i++)
            dup |= pthread_equal(out[i], q->target);
        if (!dup)
            out[n++] = q->target;
    }
    return n;
}

/* Not under wait_lock (the depot has its own lock). */
static lw_waitrec *fast_record(pthread_t pt)
{
    const lw_thread *a = lw_thread_of(pt);
    uintptr_t addr = __atomic_load_n(&a->fast_wait, __ATOMIC_RELAXED);
    /* The call site is in the entry the fast path fills before it waits
     * (held[0]: it holds nothing). */
    /* (held is NULL for a moment while a state is being reused.) */
    const lw_held *h0 = __atomic_load_n(&a->held, __ATOMIC_RELAXED);
    uintptr_t pc = h0 ? __atomic_load_n(&h0[0].pc, __ATOMIC_RELAXED) : 0;
    lw_lock *l = addr ? lw_registry_find(addr) : NULL;
    if (!l)
        return NULL;
    lw_lock_user_num(a->num, l);   /* it waits for l: one more user of it */
    lw_waitrec *w = lw_pool_get(&wait_pool);
    if (!w)
        return NULL;
    memset((char *)w + sizeof(void *), 0, sizeof(*w) - sizeof(void *));
    w->self = pt;
    /* Another thread, holding nothing: its identity and the call site. */
    lw_snap_thread((lw_thread *)a, lw_depot_put(&pc, 1), NULL, NULL, 0, 0, &w->who);
    lw_snap_lock(l, &w->lock);
    w->mode = LW_MODE_WRITE;
    /* Stable while the thread stays in this wait: what it waits for is
     * held by a blocked member of the cycle, so it cannot have moved on. */
    w->seq = lw_hash_mix((uint64_t)a->num + 1, w->lock.id) | (1ull << 63);
    return w;
}

void lw_wait_check(lw_waitrec *w)
{
    if (!w || w->reported)
        return;
    lw_waitrec *m[LW_MAX_WAIT_CHAIN];
    lw_finding *r = NULL;
    bool fire = false;

    pthread_t silent[LW_MAX_FAST_WAITS];
    lw_waitrec *fast[LW_MAX_FAST_WAITS];
    unsigned nfast = 0;
    lw_mutex_lock(&wait_lock);
    unsigned nsilent = silent_targets(silent, LW_MAX_FAST_WAITS);
    lw_mutex_unlock(&wait_lock);
    for (unsigned i = 0; i < nsilent; i++)
        if ((fast[nfast] = fast_record(silent[i])) != NULL)
            nfast++;

    lw_mutex_lock(&wait_lock);
    /* Linked in for this search only: unlinked before wait_lock is let go. */
    for (unsigned i = 0; i < nfast; i++)
        link_wait(fast[i]);
    unsigned n = find_cycle(w, m);
    if (n == 0) {
        w->cycle_sig = 0;
    } else {
        uint64_t sig = cycle_sig(m, n), now = lw_mono_ns();
        if (w->cycle_sig != sig) {
            w->cycle_sig = sig;
            w->cycle_since_ns = now;
        } else if (now - w->cycle_since_ns >= (uint64_t)lw_opt.deadlock_ms * 1000000ull) {
            bool done = false;
            for (unsigned i = 0; i < n; i++)
                done |= m[i]->reported;
            if (!done) {
                for (unsigned i = 0; i < n; i++)
                    m[i]->reported = true;
                fire = true;
                /* A thread re-locking what it holds was reported as such
                 * already (double-lock, rwlock-upgrade): act only. */
                if (!(n == 1 && w->relocked) && (r = lw_finding_new(LW_F_DEADLOCK)) != NULL)
                    describe(r, m, n);
            }
        }
    }
    for (unsigned i = 0; i < nfast; i++)
        unlink_wait(fast[i]);
    lw_mutex_unlock(&wait_lock);
    for (unsigned i = 0; i < nfast; i++)
        lw_pool_put(&wait_pool, fast[i]);

    lw_finding_emit(r);
    if (fire)
        lw_deadlock_act();
}

bool lw_wait_cycle_reported(void)
{
    bool any = false;
    lw_mutex_lock(&wait_lock);
    for (lw_waitrec *q = waiters; q && !any; q = q->next)
        any = q->reported;
    lw_mutex_unlock(&wait_lock);
    return any;
}

void lw_deadlock_atfork_prepare(void)
{
    lw_mutex_lock(&wait_lock);
    lw_mutex_lock(&wait_pool.lock);
}

void lw_deadlock_atfork_parent(void)
{
    lw_mutex_unlock(&wait_pool.lock);
    lw_mutex_unlock(&wait_lock);
}

void lw_deadlock_atfork_child(void)
{
    lw_mutex_reset(&wait_pool.lock);
    lw_mutex_reset(&wait_lock);
    /* The other threads do not exist in the child: their waits are over.
     * Kept, a record would close cycles through a thread that is not there
     * (a thread the child creates may even get its pthread_t).  Only a
     * fork from a signal handler that interrupted a wait leaves the
     * calling thread a record of its own, which its wait will end. */
    pthread_t self = pthread_self();
    for (lw_waitrec *w = waiters, *next; w; w = next) {
        next = w->next;
        if (!pthread_equal(w->self, self)) {
            unlink_wait(w);
            lw_pool_put(&wait_pool, w);
        }
    }
}
