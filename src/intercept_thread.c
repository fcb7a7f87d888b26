/*
 * intercept_thread.c: pthread_create and C11 thrd_create.  A new thread gets
 * its lockwatch number and creation backtrace from its creator through a
 * trampoline record (pooled: thread churn does not grow memory).
 */
#include "arena.h"
#include "intercept.h"
#include "stacks.h"
#include "acqstack.h"
#include "deadlock.h"
#include "rules.h"
#include "asleep.h"
#include "log.h"
#include "race.h"

#include <errno.h>
#include <string.h>
#include <limits.h>
#include <sys/prctl.h>

struct tramp {
    void *link; /* pool link: first word */
    void *(*fn)(void *);
    int (*cfn)(void *);
    void *arg;
    uint32_t num, parent, stack;
    size_t stack_size;       /* asked for by the creator (0 unknown) */
    char creator_name[16];   /* the name the new thread inherits */
};

/* The stack size a thread created with attr gets (0 when unknown). */
static size_t stack_size_of(const pthread_attr_t *attr)
{
    size_t sz = 0;
    if (attr)
        return pthread_attr_getstacksize(attr, &sz) == 0 ? sz : 0;
    pthread_attr_t d;
    if (pthread_getattr_default_np(&d) != 0)
        return 0;
    if (pthread_attr_getstacksize(&d, &sz) != 0)
        sz = 0;
    pthread_attr_destroy(&d);
    return sz;
}

static lw_pool tramp_pool = LW_POOL_INIT(sizeof(struct tramp));

/* The threads' states (thread.h lw_tls): taken at a thread's first event,
 * given back when its end has been handled.  Type-stable: another thread
 * may still read a state it found before (a joiner, the monitor), and
 * reads zeros or a newer thread's values, never unmapped memory. */
static lw_pool state_pool = LW_POOL_INIT(sizeof(lw_thread));

lw_thread *lw_thread_attach(void)
{
    lw_tls.guard++;   /* a signal handler meanwhile passes through */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lw_thread *t = lw_pool_get(&state_pool);
    if (t) {
        lw_held *big = t->held_big;   /* zero in a new state */
        unsigned big_cap = t->held_big_cap;
        struct lw_acq_stacks *acq = t->acq_stacks;
        memset(t, 0, sizeof(*t));
        t->held_big = big;
        t->held_big_cap = big_cap;
        lw_acq_stack_clear(acq);
        t->acq_stacks = acq;
        lw_thread_init(t);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lw_tls.guard--;
    if (!t) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: out of memory for a thread's state; "
                     "threads started from now on may go unwatched\n");
        lw_tls.t = &lw_gone;
        return NULL;
    }
    __atomic_store_n(&lw_tls.t, t, __ATOMIC_RELEASE);
    return t;
}

void lw_thread_detach(void)
{
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t))
        return;
    lw_race_thread_end();   /* before the state goes: no sample sees it half gone */
    __atomic_store_n(&lw_tls.t, &lw_gone, __ATOMIC_RELEASE);
    lw_side_free(t);
    lw_pool_put(&state_pool, t);
}

void lw_thread_atfork_prepare_pools(void)
{
    lw_mutex_lock(&tramp_pool.lock);
    lw_mutex_lock(&state_pool.lock);
}

void lw_thread_atfork_parent_pools(void)
{
    lw_mutex_unlock(&state_pool.lock);
    lw_mutex_unlock(&tramp_pool.lock);
}

static int exit_key_state;   /* 0 none, 1 creating, 2 ready, 3 failed */

void lw_thread_atfork_child_pools(void)
{
    lw_mutex_reset(&tramp_pool.lock);
    lw_mutex_reset(&state_pool.lock);
    /* A thread that is not in the child was creating the key: create one
     * again (at worst one key is lost) rather than wait for ever. */
    if (lw_load_relaxed(&exit_key_state) == 1)
        lw_store_release(&exit_key_state, 0);
}

/* Under the guard. */
static struct tramp *tramp_new(lw_thread *t)
{
    struct tramp *tr = lw_pool_get(&tramp_pool);
    if (!tr)
        return NULL;
    tr->num = lw_thread_new_number();
    tr->parent = t->num;
    tr->stack = lw_stack_capture();
    /* The kernel copies the creator's name into the new thread: a name
     * equal to it later was never set (lw_thread_unset_inherited).  Read
     * here, not by the new thread, which its creator may already have
     * named with pthread_setname_np when it starts. */
    int e = errno;
    if (prctl(PR_GET_NAME, tr->creator_name, 0, 0, 0) != 0)
        tr->creator_name[0] = '\0';
    errno = e;
    tr->creator_name[15] = '\0';
    return tr;
}

/* ---- thread ends: exit-holding-lock ----
 * Whether a thread ended holding a lock is decided once the thread is gone
 * as far as the program is concerned: after its cleanup handlers and its
 * thread-specific-data destructors, which may release locks (lockwatch(7)
 * recommends an unlocking cleanup handler).  glibc ends a thread (return
 * from the start routine, pthread_exit, cancellation) by running the
 * cleanup handlers, innermost first (pthread_exit and cancellation only),
 * then C++ thread_local destructors, then the TSD destructors in rounds:
 * each round calls, in key order, the destructor of every key whose value
 * is not NULL (clearing it first), and another round follows, up to
 * PTHREAD_DESTRUCTOR_ITERATIONS, when a destructor set a value.
 * lockwatch's key is created when the first thread starts, so the
 * program's later keys come after it in every round: while the thread
 * still holds a lock, lockwatch's destructor sets its value again (the
 * round number) to be called in the next round, and decides in the last
 * one.  A thread that holds nothing costs no extra round. */

static pthread_key_t exit_key;

/* How this thread is ending, noted where it does so, for the decision
 * after its destructors.  Only this thread reads or writes it. */
struct exit_note {
    const char *how;          /* NULL: not noted (cancelled, thrd_exit, ...) */
    uintptr_t site;           /* the pthread_exit call or the start routine */
    uint32_t stack;           /* pthread_exit: its stack, when locks were held */
    bool site_is_routine;
    bool watched;             /* exit_key's value is set: thread_ended will run */
};
static LW_TLS struct exit_note exit_note;

/* Under the guard. */
static void decide_exit(lw_thread *t)
{
    const struct exit_note *n = &exit_note;
    lw_sleep_thread_gone(t);
    if (n->how)
        lw_rule_thread_exit(t, n->how, n->site, n->site_is_routine, n->stack);
    else
        lw_rule_thread_exit(t, "ended (cancelled, or left without pthread_exit)", 0, false, 0);
}

/* Locks whose holder may not leave them behind (robust mutexes may). */
static bool holds_locks(const lw_thread *t)
{
    for (unsigned i = 0; i < t->nheld; i++)
        if (!t->held[i].lock->robust)
            return true;
    return false;
}

/* Notes how the thread ends; decides now if no TSD destructor will run
 * (the key could not be created or set).  Under the guard. */
static void note_exit(lw_thread *t, const char *how, uintptr_t site, bool site_is_routine)
{
    struct exit_note *n = &exit_note;
    lw_store_release(&t->routine_done, 1);
    n->how = how;
    n->site = site;
    n->site_is_routine = site_is_routine;
    n->stack = 0;
    if (!n->watched) {
        decide_exit(t);
        return;
    }
    /* The stack of the pthread_exit call will be gone when the decision
     * is made: keep it if the report may need it. */
    if (!site_is_routine && holds_locks(t))
        n->stack = lw_stack_capture();
}

/* TSD destructor: value = the round it is called in (1 first). */
static void thread_ended(void *v)
{
    uintptr_t round = (uintptr_t)v;
    lw_thread *t = lw_tls.t;
    if (!lw_load_relaxed(&lw_core_ready) || !lw_thread_own(t))
        return;
    if (round < PTHREAD_DESTRUCTOR_ITERATIONS && holds_locks(t) &&
        pthread_setspecific(exit_key, (void *)(round + 1)) == 0)
        return;   /* the program's destructors may yet release them */
    t->guard++;
    decide_exit(t);
    t->guard--;
    lw_race_flush();
    lw_thread_detach();
}

void lw_thread_watch_exit(void)
{
    int s = 0;
    if (lw_cas_acq_rel(&exit_key_state, &s, 1))
        lw_store_release(&exit_key_state, pthread_key_create(&exit_key, thread_ended) == 0 ? 2 : 3);
    while ((s = lw_load_acquire(&exit_key_state)) == 1)
        lw_cpu_relax();
    if (s == 2)
        exit_note.watched = pthread_setspecific(exit_key, (void *)1) == 0;
}

void lw_thread_first_use(lw_thread *t)
{
    lw_thread_setup(t);
    if (t->num != 0)
        lw_thread_watch_exit();
}

static struct tramp tramp_take(void *p)
{
    struct tramp tr = *(struct tramp *)p;
    lw_guard_up();
    lw_pool_put(&tramp_pool, p);
    lw_guard_down();
    lw_thread *t = lw_tls.t == &lw_dormant ? lw_thread_attach() : NULL;
    if (t) {
        t->guard++;
        lw_thread_adopt(t, tr.num, tr.parent, tr.stack, tr.creator_name);
        uintptr_t here = (uintptr_t)__builtin_frame_address(0);
        if (tr.stack_size && tr.stack_size < here) {
            t->stack_lo = here - tr.stack_size;
            if (tr.stack_size >= LW_SAFE_STACK_MIN)
                t->stack_safe_lo = here - tr.stack_size / 2;
        }
        lw_thread_watch_exit();
        t->guard--;
    }
    lw_race_thread_start();
    if (lw_race_on() && lw_load_acquire(&lw_core_ready)) {
        /* A second thread: races can now happen, and the monitor writes
         * them as they are found (asleep.h). */
        lw_guard_up();
        lw_monitor_start();
        lw_guard_down();
    }
    lw_race_flush();
    return tr;
}

static void returned(uintptr_t routine)
{
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t))
        return;
    t->guard++;
    note_exit(t, "returned from its start routine", routine, true);
    t->guard--;
}

static void *trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    void *r = tr.fn(tr.arg);
    returned((uintptr_t)tr.fn);
    return r;
}

static int c11_trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    int r = tr.cfn(tr.arg);
    returned((uintptr_t)tr.cfn);
    return r;
}

LW_EXPORT void pthread_exit(void *ret)
{
    lw_thread *t = lw_enter();
    if (t) {
        note_exit(t, "called pthread_exit", LW_PC(), false);
        lw_leave(t);
    }
    if (!lw_real_pthread_exit)
        lw_resolve_all();
    lw_real_pthread_exit(ret);
    __builtin_unreachable();
}

/* ---- joins: blocking calls, and waits that can deadlock ---- */

typedef struct {
    pthread_t th;
    void **ret;
} join_ctx;

static int join_until(void *obj, const struct timespec *deadline)
{
    join_ctx *j = obj;
    return LW_REAL(pthread_clockjoin_np)(j->th, j->ret, CLOCK_MONOTONIC, deadline);
}

LW_EXPORT int pthread_join(pthread_t th, void **ret)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_join)(th, ret);
    lw_leave(t);
    uintptr_t pc = LW_PC(), cfa = LW_CFA();
    lw_block_ctx bc;
    bc.active = false;
    int r = LW_REAL(pthread_tryjoin_np)(th, ret);
    if (r == EBUSY) {
        /* A join is a blocking call under a lock when it waits for the
         * program's own code: not when the thread ends within a wait slice
         * (it was finishing: a pool joining workers that said they are
         * done), nor when it has returned from its start routine or called
         * pthread_exit (it is only exiting).  A joinable thread's
         * descriptor, and so its TLS, lives until it is joined. */
        struct timespec ts;
        join_ctx j = { th, ret };
        lw_wait_deadline(&ts);
        r = join_until(&j, &ts);
        if (r == ETIMEDOUT && LW_UNLIKELY(lw_blocking_watch()) &&
            !lw_load_acquire(&lw_thread_of(th)->routine_done))
            lw_blocking_before(&bc, "pthread_join", LW_FAM_WAIT, pc, cfa);
        /* A join cycle (rules.h): holding locks, this thread has waited a
         * whole slice for a thread still in its start routine, which took
         * one of them in its life (or waits for it now).  Not a thread
         * that was only finishing: a pool that joins, under its lock,
         * workers that announced their end under that lock (pigz's yarn)
         * is correct, though each worker took the lock. */
        if (r == ETIMEDOUT && t->nheld != 0 &&
            !lw_load_acquire(&lw_thread_of(th)->routine_done)) {
            lw_reenter(t);
            lw_rule_join_held(t, lw_thread_of(th), (uintptr_t)th, pc);
            lw_leave(t);
        }
        if (r == ETIMEDOUT)
            r = lw_wait_published(t, NULL, 0, &th, false, join_until, &j);
    }
    lw_blocking_after(&bc);
    lw_race_flush();
    return r;
}

LW_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *ts)
{
    lw_block_ctx bc;
    bc.active = false;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before(&bc, "pthread_timedjoin_np", LW_FAM_WAIT, LW_PC(), LW_CFA());
    if (!lw_real_pthread_timedjoin_np)
        lw_resolve_all();
    int r = lw_real_pthread_timedjoin_np(th, ret, ts);
    lw_blocking_after(&bc);
    return r;
}

LW_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
                                   const struct timespec *ts)
{
    lw_block_ctx bc;
    bc.active = false;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before(&bc, "pthread_clockjoin_np", LW_FAM_WAIT, LW_PC(), LW_CFA());
    if (!lw_real_pthread_clockjoin_np)
        lw_resolve_all();
    int r = lw_real_pthread_clockjoin_np(th, ret, clk, ts);
    lw_blocking_after(&bc);
    return r;
}

LW_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_create)(th, attr, fn, arg);
    int e = errno;
    struct tramp *tr = tramp_new(t);
    errno = e;
    lw_leave(t);
    if (!tr)
        return LW_REAL(pthread_create)(th, attr, fn, arg);
    tr->fn = fn;
    tr->arg = arg;
    lw_reenter(t);
    tr->stack_size = stack_size_of(attr);
    lw_leave(t);
    int r = LW_REAL(pthread_create)(th, attr, trampoline, tr);
    if (r != 0) {
        lw_reenter(t);
        lw_pool_put(&tramp_pool, tr);
        lw_leave(t);
    }
    return r;
}

LW_EXPORT int thrd_create(thrd_t *th, thrd_start_t fn, void *arg)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(thrd_create)(th, fn, arg);
    int e = errno;
    struct tramp *tr = tramp_new(t);
    errno = e;
    lw_leave(t);
    if (!tr)
        return LW_REAL(thrd_create)(th, fn, arg);
    tr->cfn = fn;
    tr->arg = arg;
    tr->stack_size = 0;   /* thrd_create: the default, which is large */
    int r = LW_REAL(thrd_create)(th, c11_trampoline, tr);
    if (r != thrd_success) {
        lw_reenter(t);
        lw_pool_put(&tramp_pool, tr);
        lw_leave(t);
    }
    return r;
}
