/*
 * sink.c: where findings go (see finding.h).  Owns: the finding pool, the
 * once-only sets (fingerprints emitted, and the signatures rules use to
 * decide before they unwind), the finding count and the exit status.
 * Must never: hold its own locks while calling the writer or symbolising;
 * write anything itself (report.c does).
 */
#include "finding.h"
#include "lw_sys.h"
#include "arena.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "options.h"
#include "stacks.h"
#include "suppress.h"
#include "jitter.h"

#include <stdarg.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- names, one table each ---- */

static const struct {
    const char *name, *title;
} kinds[LW_F_NKINDS] = {
    [LW_F_INVERSION] = { "lock-order-inversion", "lock-order inversion (potential deadlock)" },
    [LW_F_DEADLOCK] = { "deadlock", "deadlock (threads blocked waiting for each other)" },
    [LW_F_BLOCKING] = { "blocking-call-under-lock", "blocking call while holding a lock" },
    [LW_F_DOUBLE_LOCK] = { "double-lock", "double lock of a lock the thread already holds" },
    [LW_F_UNLOCK_NOT_OWNED] = { "unlock-not-owned", "unlock of a lock the thread does not hold" },
    [LW_F_DESTROY_LOCKED] = { "destroy-locked", "destroying a lock that is in use" },
    [LW_F_COND_WAIT_UNLOCKED] = { "cond-wait-unlocked",
                                  "condition variable wait without holding its mutex" },
    [LW_F_COND_MULTIPLE_MUTEXES] = { "cond-multiple-mutexes",
                                     "condition variable used with two mutexes at once" },
    [LW_F_EXIT_HOLDING_LOCK] = { "exit-holding-lock", "thread exit while holding locks" },
    [LW_F_RWLOCK_UPGRADE] = { "rwlock-upgrade",
                              "rwlock upgrade (read lock held, write lock wanted)" },
    [LW_F_USE_AFTER_DESTROY] = { "use-after-destroy", "use of a destroyed lock" },
    [LW_F_ORDER_VIOLATION] = { "order-violation",
                               "lock order violation (against the declared lock order)" },
    [LW_F_ASSERT_HELD] = { "assert-held", "lock not held where the program asserts it is" },
    [LW_F_ASSERT_NOT_HELD] = { "assert-not-held",
                               "lock held where the program asserts it is not" },
    [LW_F_DATA_RACE] = { "data-race",
                         "data race (sampled: no lock orders two accesses, or guarded memory without its lock)" },
    [LW_F_LOST_WAKEUP] = { "lost-wakeup",
                           "lost wake-up (a condvar signalled without its mutex, between a "
                           "waiter's check and its wait)" },
};

const char *lw_finding_kind_name(enum lw_finding_kind k)
{
    return (unsigned)k < LW_F_NKINDS ? kinds[k].name : "unknown";
}

const char *lw_finding_kind_title(enum lw_finding_kind k)
{
    return (unsigned)k < LW_F_NKINDS ? kinds[k].title : "unknown";
}

static const struct {
    const char *name, *title, *word;
} lock_kinds[] = {
    [LW_KIND_MUTEX] = { "mutex", "Mutex", "mutex" },
    [LW_KIND_RWLOCK] = { "rwlock", "RWLock", "rwlock" },
    [LW_KIND_SPIN] = { "spinlock", "Spinlock", "spinlock" },
    [LW_KIND_C11_MUTEX] = { "c11-mutex", "Mutex (C11)", "C11 mutex" },
    [LW_KIND_COND] = { "condvar", "Condvar", "condition variable" },
    [LW_KIND_SEM] = { "semaphore", "Semaphore", "semaphore" },
    [LW_KIND_BARRIER] = { "barrier", "Barrier", "barrier" },
    [LW_KIND_THREAD] = { "thread", "Thread end", "thread end" },
};

static unsigned lock_kind_index(unsigned kind)
{
    return kind < LW_ARRAY_SIZE(lock_kinds) && lock_kinds[kind].name ? kind : LW_KIND_MUTEX;
}

const char *lw_lock_kind_name(unsigned kind)
{
    return lock_kinds[lock_kind_index(kind)].name;
}

const char *lw_lock_kind_title(unsigned kind)
{
    return lock_kinds[lock_kind_index(kind)].title;
}

const char *lw_lock_kind_word(unsigned kind)
{
    return lock_kinds[lock_kind_index(kind)].word;
}

const char *lw_confidence_name(enum lw_confidence c)
{
    return c == LW_CONF_LATENT ? "latent" : c == LW_CONF_FEASIBLE ? "feasible" : NULL;
}

/* ---- building findings ---- */

static lw_pool finding_pool = LW_POOL_INIT(sizeof(lw_finding));

lw_finding *lw_finding_new(enum lw_finding_kind kind)
{
    lw_finding *f = lw_pool_get(&finding_pool);
    if (!f)
        return NULL;
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->call.elapsed_us = -1;
    f->waiters = -1;
    f->suppressed_by = -1;
    return f;
}

void lw_finding_free(lw_finding *f)
{
    if (f)
        lw_pool_put(&finding_pool, f);
}

int lw_finding_lock(lw_finding *f, const lw_lock_snap *l, bool own, const char *role,
                    uint32_t role_stack)
{
    unsigned i;
    for (i = 0; i < f->nlocks; i++)
        if (f->locks[i].lock.id == l->id && f->locks[i].lock.addr == l->addr)
            break;
    if (i == f->nlocks) {
        if (f->nlocks == LW_F_MAX_LOCKS)
            return -1;
        f->nlocks++;
        f->locks[i].lock = *l;
    }
    lw_flock *fl = &f->locks[i];
    fl->own |= own;
    if (role && role[0] && !fl->role[0]) {
        size_t len = strlen(role);
        if (len >= sizeof(fl->role))
            len = sizeof(fl->role) - 1;
        memcpy(fl->role, role, len);
        fl->role[len] = 0;
        fl->role_stack = role_stack;
    }
    return (int)i;
}

lw_fthread *lw_finding_thread(lw_finding *f, const lw_thread_snap *ts)
{
    if (f->nthreads == LW_F_MAX_THREADS)
        return NULL;
    lw_fthread *t = &f->threads[f->nthreads++];
    memset(t, 0, sizeof(*t));
    t->num = ts->num;
    t->parent = ts->parent;
    t->tid = ts->tid;
    memcpy(t->name, ts->name, sizeof(t->name));
    t->name[sizeof(t->name) - 1] = 0;
    t->created_seen = ts->created_seen;
    t->create_stack = ts->create_stack;
    t->stack = ts->stack;
    t->waits_lock = -1;
    t->waits_thread = -1;
    t->first_hold = (uint16_t)f->nholds;
    for (unsigned i = 0; i < ts->nholds && f->nholds < LW_F_MAX_HOLDS; i++) {
        int li = lw_finding_lock(f, &ts->holds[i].lock, false, NULL, 0);
        if (li < 0)
            break;
        lw_fhold *h = &f->holds[f->nholds++];
        h->lock = (uint16_t)li;
        h->mode = (uint16_t)ts->holds[i].mode;
        h->stack = ts->holds[i].stack;
        t->nholds++;
    }
    return t;
}

int lw_finding_thread_index(const lw_finding *f, uint32_t num)
{
    for (unsigned i = 0; i < f->nthreads; i++)
        if (f->threads[i].num == num)
            return (int)i;
    return -1;
}

void lw_finding_message(lw_finding *f, const char *fmt, ...)
{
    va_list ap;
    lw_buf b;
    lw_buf_init(&b, f->message, sizeof(f->message));
    va_start(ap, fmt);
    lw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
}

void lw_finding_what(lw_fthread *t, const char *fmt, ...)
{
    va_list ap;
    lw_buf b;
    if (!t)
        return;
    lw_buf_init(&b, t->what, sizeof(t->what));
    va_start(ap, fmt);
    lw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
}

/* ---- fingerprints ----
 * Code locations only: each key stack contributes its innermost frames as
 * (module file name, offset in the module), which ASLR does not change.
 * Threads, edges and holds are combined by addition of mixed terms, so the
 * order in which the core happened to list them does not matter (a cycle
 * reported from another starting lock, threads found in another order). */
#define LW_FP_FRAMES 4

static uint64_t stack_fp(uint32_t id, unsigned frames)
{
    return id ? lw_stack_fingerprint(id, frames) : 0x5eed;
}

uint64_t lw_finding_fingerprint(const lw_finding *f)
{
    uint64_t fp = lw_mix64(lw_str_hash(lw_finding_kind_name(f->kind)));
    /* A deadlock's threads may show their whole wait or only the call site
     * (fast-path waiters): their innermost frame is what is always there. */
    unsigned frames = f->kind == LW_F_DEADLOCK ? 1 : LW_FP_FRAMES;
    for (unsigned i = 0; i < f->nedges; i++) {
        const lw_fedge *e = &f->edges[i];
        fp += lw_mix64(stack_fp(e->stack, frames) * 3 + stack_fp(e->held_stack, frames) +
                       (uint64_t)(e->from_mode << 2 | e->to_mode));
    }
    for (unsigned i = 0; i < f->nthreads; i++) {
        const lw_fthread *t = &f->threads[i];
        if (!t->stack && !t->nholds)
            continue;   /* an inversion's thread: its edges say it all */
        uint64_t th = stack_fp(t->stack, frames);
        for (unsigned h = 0; h < t->nholds; h++) {
            const lw_fhold *hd = &f->holds[t->first_hold + h];
            th += lw_mix64(stack_fp(hd->stack, frames) + hd->mode);
        }
        fp += lw_mix64(th ^ 0x7468726561640000ull);
    }
    if (f->call.function)
        fp += lw_mix64(lw_str_hash(f->call.function) ^ 0x63616c6cull);
    return fp ? fp : 1;
}

/* ---- once-only sets: 64-bit signatures, open addressing, arena ---- */

/* protects: seen, seen_cap, seen_n.  A leaf lock. */
static lw_mutex seen_lock = LW_MUTEX_INIT;
static uint64_t *seen;
static size_t seen_cap, seen_n;

bool lw_first_time(uint64_t sig)
{
    bool first = false;
    if (sig == 0)
        sig = 1;
    lw_mutex_lock(&seen_lock);
    if (seen_n * 2 >= seen_cap) {
        size_t cap = seen_cap ? seen_cap * 2 : 256;
        uint64_t *nv = lw_arena_alloc(cap * sizeof(*nv));
        if (!nv)
            goto out;   /* cannot remember: stay quiet rather than repeat */
        for (size_t i = 0; i < seen_cap; i++) {
            uint64_t v = seen[i];
            if (!v)
                continue;
            size_t j = v & (cap - 1);
            while (nv[j])
                j = (j + 1) & (cap - 1);
            nv[j] = v;
        }
        seen = nv;
        seen_cap = cap;
    }
    size_t j = sig & (seen_cap - 1);
    while (seen[j]) {
        if (seen[j] == sig)
            goto out;
        j = (j + 1) & (seen_cap - 1);
    }
    seen[j] = sig;
    seen_n++;
    first = true;
out:
    lw_mutex_unlock(&seen_lock);
    return first;
}

bool lw_seen_before(uint64_t sig)
{
    bool found = false;
    if (sig == 0)
        sig = 1;
    lw_mutex_lock(&seen_lock);
    if (seen_cap) {
        size_t j = sig & (seen_cap - 1);
        while (seen[j] && !found) {
            found = seen[j] == sig;
            j = (j + 1) & (seen_cap - 1);
        }
    }
    lw_mutex_unlock(&seen_lock);
    return found;
}

/* ---- the sink ---- */

static uint64_t nfindings;      /* atomic */
static lw_finding_hook hook;    /* tests only; set before findings flow */
static void *hook_ctx;
static bool hook_writes = true;

void lw_sink_set_hook(lw_finding_hook h, void *ctx, bool write)
{
    hook = h;
    hook_ctx = ctx;
    hook_writes = h ? write : true;
}

/* The processes that reported: the count is shared by a vfork child and its
 * parent (same memory, no fork handlers), and a child's exit status is its
 * own unless it reported itself.  The first and the last reporter cover a
 * parent and the vfork children it waits for. */
static int reporter_first, reporter_last;

static void note_reporter(void)
{
    int pid = (int)lw_syscall(SYS_getpid), none = 0;
    lw_cas_acq_rel(&reporter_first, &none, pid);
    lw_store_release(&reporter_last, pid);
}

/* This process's pid: set at start-up and by the fork child handler; a
 * vfork child, which runs no fork handler, sees its parent's. */
static int process_pid;

void lw_sink_start(void)
{
    lw_store_release(&process_pid, (int)lw_syscall(SYS_getpid));
}

bool lw_in_vfork_child(void)
{
    int p = lw_load_acquire(&process_pid);
    return p != 0 && (int)lw_syscall(SYS_getpid) != p;
}

static bool this_process_reported(void)
{
    int pid = (int)lw_syscall(SYS_getpid);
    return lw_load_acquire(&reporter_first) == pid || lw_load_acquire(&reporter_last) == pid;
}

static void emit(lw_finding *f);

static void emit_side(void *f)
{
    emit(f);
}

void lw_finding_emit(lw_finding *f)
{
    if (!f)
        return;
    /* Symbolising and writing call open, read, write and close, which are
     * cancellation points: a pending cancellation must not end the thread
     * here, with the guard set and report_lock held (lw_unwind). */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    lw_side_call(emit_side, f);   /* writing takes several KB of stack */
    pthread_setcancelstate(cs, NULL);
}

static void emit(lw_finding *f)
{
    /* Where each lock was first seen, as a stack the writers can show. */
    for (unsigned i = 0; i < f->nlocks; i++) {
        lw_lock_snap *l = &f->locks[i].lock;
        if (!l->first_stack && l->first_pc)
            l->first_stack = lw_depot_put(&l->first_pc, 1);
    }
    f->fingerprint = lw_finding_fingerprint(f);
    f->jitter = lw_jitter_level;
    f->seed = lw_jitter_level ? lw_jitter_seed : 0;
    /* Fingerprints live in the same set as the rules' signatures: mixing
     * in a constant keeps the two apart. */
    bool first = lw_first_time(lw_mix64(f->fingerprint ^ 0xf1d1f1d1f1d1ull));
    if (first) {
        f->suppressed_by = lw_supp_match(f);
        if (f->suppressed_by >= 0)
            lw_supp_hit(f->suppressed_by);
        else if (lw_opt.gen_suppressions)
            lw_supp_suggest(f, f->suppression, sizeof(f->suppression));
    }
    if (hook)
        hook(f, first, hook_ctx);
    /* A suppressed finding is not written and does not count for the exit
     * status; its rule's count says it was seen (lw_supp_summary). */
    if (first && f->suppressed_by < 0) {
        note_reporter();
        lw_fetch_add_acq_rel(&nfindings, 1);
        if (hook_writes)
            lw_report_finding(f);
    }
    lw_finding_free(f);
}

uint64_t lw_findings_count(void)
{
    return lw_load_acquire(&nfindings);
}

int lw_exit_status(int status)
{
    if (lw_findings_count() > 0 && lw_opt.exitcode != 0 && this_process_reported())
        return (int)lw_opt.exitcode;
    return status;
}

void lw_sink_reset(void)
{
    lw_mutex_lock(&seen_lock);
    if (seen)
        memset(seen, 0, seen_cap * sizeof(*seen));
    seen_n = 0;
    lw_mutex_unlock(&seen_lock);
    lw_store_release(&nfindings, 0);
}

void lw_sink_atfork_prepare(void)
{
    lw_mutex_lock(&seen_lock);
    lw_mutex_lock(&finding_pool.lock);
}

void lw_sink_atfork_parent(void)
{
    lw_mutex_unlock(&finding_pool.lock);
    lw_mutex_unlock(&seen_lock);
}

void lw_sink_atfork_child(void)
{
    lw_mutex_reset(&finding_pool.lock);
    lw_mutex_reset(&seen_lock);
    /* The child is a process of its own: its own count.  What the parent
     * reported stays reported (the once-only sets are kept). */
    nfindings = 0;
    reporter_first = reporter_last = 0;
    process_pid = (int)lw_syscall(SYS_getpid);
}
