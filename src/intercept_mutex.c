/*
 * intercept_mutex.c: pthread_mutex_* and pthread_spin_* interposers, and the
 * acquisition / release / destroy steps every lock family shares.
 * Pre / real / post only: the rules are in the core.
 */
#include "intercept.h"
#include "deadlock.h"
#include "rules.h"
#include "asleep.h"
#include "lw_glibc.h"

#include <sched.h>

/* ---- shared steps ---- */

struct published {
    lw_waitrec *w;
    lw_sleeper *sleep;
};

static void wait_cancelled(void *p)
{
    struct published *pw = p;
    lw_guard_up();
    lw_sleep_end(pw->sleep);
    lw_wait_end(pw->w);
    lw_guard_down();
}

/* Can only another thread of this process end a wait for l?  Not when
 * the lock is process-shared. */
static bool private_lock(const lw_lock *l)
{
    const void *obj = (const void *)l->h.k1;
    switch (l->kind) {
    case LW_KIND_MUTEX:
    case LW_KIND_C11_MUTEX:
        return !lw_glibc_mutex_pshared(obj);
    case LW_KIND_RWLOCK:
        return !lw_glibc_rwlock_pshared(obj);
    default:
        return false;   /* a spinlock's waiter spins: it is awake */
    }
}

int lw_wait_published(lw_thread *t, lw_lock *l, unsigned mode, const pthread_t *target,
                      bool relocked, int (*until)(void *obj, const struct timespec *deadline),
                      void *obj)
{
    struct timespec ts;
    struct published pw = { NULL, NULL };
    int r;
    lw_reenter(t);
    if (l)
        lw_lock_user(t, l);   /* a waiter shares the lock before it gets it */
    pw.w = lw_wait_begin(t, l, mode, target, relocked);
    if (!l)
        pw.sleep = lw_sleep_begin(t, LW_SLEEP_JOIN, (uintptr_t)*target, NULL, NULL, 0, 0, 0, NULL);
    else if (private_lock(l))
        pw.sleep = lw_sleep_begin(t, LW_SLEEP_LOCK, l->h.k1, l, NULL, mode, 0, 0, NULL);
    lw_leave(t);
    /* A join is a cancellation point: the record must not outlive it. */
    pthread_cleanup_push(wait_cancelled, &pw);
    do {
        lw_reenter(t);
        lw_wait_check(pw.w);
        lw_leave(t);
        lw_sleep_poll(t, pw.sleep);
        lw_wait_deadline(&ts);
        r = until(obj, &ts);
    } while (r == ETIMEDOUT);
    pthread_cleanup_pop(1);
    return r;
}

int lw_wait_blocked(lw_thread *t, lw_lock *l, unsigned mode, void *obj, const lw_waitops *ops,
                    bool relocked)
{
    int e = errno;
    struct timespec ts;
    lw_wait_deadline(&ts);
    int r = ops->until(obj, &ts);
    /* Blocked for a whole slice: publish the wait and watch for a cycle. */
    if (LW_UNLIKELY(r == ETIMEDOUT))
        r = lw_wait_published(t, l, mode, NULL, relocked, ops->until, obj);
    errno = e;
    return r;
}

void lw_destroy_pre(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed, bool locked,
                    int holder_tid, const char *call, uintptr_t pc)
{
    if (destroyed) {
        lw_rule_use_after_destroy(t, addr, kind, call, pc);
    } else {
        lw_lock *l = lw_registry_find(addr);
        bool mine = l && lw_held_find(t, l);
        if (mine || locked)
            lw_rule_destroy_locked(t, l, addr, kind, holder_tid, mine, 0, call, pc);
    }
    lw_leave(t);
}

void lw_destroy_post(uintptr_t addr, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        lw_lock_destroyed(addr);
        lw_note_destroyed(addr, pc);
        errno = e;
        lw_leave(t);
    }
}

/* A relock by the held stack (lw_relock_stale).  lockwatch keeps a lock
 * held from its acquisition to its unlock or destroy; a lock that was
 * neither, whose memory is set up anew without an init call lockwatch sees
 * (PTHREAD_*_INITIALIZER in a stack frame where an earlier call left its
 * lock locked), is still "held" there, and glibc's lock of the new object
 * succeeds.  So before the relock rule speaks, ask the object: a mutex
 * whose owner is not this thread (free, or another thread's), an rwlock
 * held for writing whose writer is not this thread, or held for reading
 * that has no readers, a spinlock that is free: the old lock is gone.
 * Drop it from the held stack and forget its node, as a destroy would.
 * (With glibc's lock elision enabled, an elided mutex does not show its
 * owner: its relocks are then not reported.)  Called with the guard set. */
bool lw_relock_stale_glibc(lw_thread *t, lw_lock *l)
{
    lw_held *h = lw_held_find(t, l);
    if (!h)
        return false;
    const void *obj = (const void *)h->addr;   /* the object this thread locked */
    bool held;
    switch (l->kind) {
    case LW_KIND_MUTEX:
    case LW_KIND_C11_MUTEX:
        held = lw_glibc_mutex_owner(obj) == t->tid;
        break;
    case LW_KIND_RWLOCK:
        held = h->mode == LW_MODE_WRITE ? lw_glibc_rwlock_writer(obj) == t->tid
                                        : lw_glibc_rwlock_readers(obj) != 0;
        break;
    case LW_KIND_SPIN:
        held = lw_glibc_spin_locked(obj);
        break;
    default:
        return false;
    }
    if (held)
        return false;
    lw_forget_lock(t, l);   /* a frame that left it locked and returned */
    return true;
}

void lw_unlock_slow(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed, int owner_tid,
                    const char *call, uintptr_t pc)
{
    if (destroyed)
        lw_rule_use_after_destroy(t, addr, kind, call, pc);
    else if (!lw_release_addr_slow(t, addr) && owner_tid != t->tid)
        lw_rule_unlock_not_owned(t, lw_registry_find(addr), addr, kind, owner_tid, call, pc);
}

/* Initialising a lock the calling thread holds starts a new lock there
 * and ends the old one, which the thread no longer holds: jemalloc's fork
 * child re-initialises the mutexes its prepare handler took instead of
 * unlocking them. */
static void init_held(lw_thread *t, uintptr_t addr)
{
    for (unsigned i = 0; i < t->nheld; i++) {   /* usually none: no lookup */
        if (t->held[i].addr != addr)
            continue;
        lw_lock *old = lw_registry_find(addr);
        if (old && lw_held_find(t, old))
            lw_forget_lock(t, old);
        return;
    }
}

void lw_note_init(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        init_held(t, addr);
        lw_lock_initialised(addr, kind, mtype, pc);
        errno = e;
        lw_leave(t);
    }
}

void lw_note_mutex_init(pthread_mutex_t *m, enum lw_lock_kind kind, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        init_held(t, (uintptr_t)m);
        lw_mutex_remember(m, lw_lock_initialised((uintptr_t)m, kind, lw_mutex_type(m), pc));
        errno = e;
        lw_leave(t);
    }
}

void lw_forget_reused(uintptr_t addr)
{
    lw_lock *l = lw_registry_find(addr);
    if (l)
        lw_forget_lock(lw_tls.t, l);
}

lw_lock *lw_mutex_pre_slow(lw_thread *t, pthread_mutex_t *m, enum lw_lock_kind kind,
                           unsigned how, const char *call, uintptr_t pc, uintptr_t cfa,
                           bool *relocked)
{
    lw_mutex_check_reused(m, kind, 0);
    lw_lock *l = lw_acquire_pre(t, (uintptr_t)m, kind, lw_mutex_type(m),
                                lw_mutex_is_destroyed(m), LW_MODE_WRITE,
                                how, call, pc, cfa, relocked);
    lw_mutex_remember(m, l);
    return l;
}

/* ---- mutexes ---- */

static int mutex_try(void *m)
{
    return LW_REAL(pthread_mutex_trylock)(m);
}

static int mutex_until(void *m, const struct timespec *ts)
{
    return LW_REAL(pthread_mutex_clocklock)(m, CLOCK_MONOTONIC, ts);
}

const lw_waitops lw_mutex_waitops = { mutex_try, mutex_until, EBUSY };

LW_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int r = LW_REAL(pthread_mutex_init)(m, a);
    if (r == 0)
        lw_note_mutex_init(m, LW_KIND_MUTEX, LW_PC());
    return r;
}

LW_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_mutex_destroy)(m);
    uintptr_t pc = LW_PC();
    lw_destroy_pre(t, (uintptr_t)m, LW_KIND_MUTEX, lw_mutex_is_destroyed(m),
                   lw_glibc_mutex_locked(m), lw_glibc_mutex_owner(m), "pthread_mutex_destroy", pc);
    int r = LW_REAL(pthread_mutex_destroy)(m);
    if (r == 0)
        lw_destroy_post((uintptr_t)m, pc);
    return r;
}

/* The acquisition calls, for the one slow path they share. */
enum mutex_call { MC_LOCK, MC_TRY, MC_TIMED, MC_CLOCK };
static const char *const mutex_call_name[] = { "pthread_mutex_lock", "pthread_mutex_trylock",
                                               "pthread_mutex_timedlock",
                                               "pthread_mutex_clocklock" };

static int mutex_real(enum mutex_call c, pthread_mutex_t *m, clockid_t clk,
                      const struct timespec *ts)
{
    switch (c) {
    case MC_LOCK:
        return LW_REAL(pthread_mutex_lock)(m);
    case MC_TRY:
        return LW_REAL(pthread_mutex_trylock)(m);
    case MC_TIMED:
        return LW_REAL(pthread_mutex_timedlock)(m, ts);
    default:
        return LW_REAL(pthread_mutex_clocklock)(m, clk, ts);
    }
}

int lw_mutex_post_slow(lw_thread *t, pthread_mutex_t *m, enum lw_lock_kind kind, int r,
                       const char *call, uintptr_t pc, uintptr_t cfa)
{
    lw_reenter(t);
    int e = errno;
    if (r == EINVAL && lw_mutex_is_destroyed(m)) {
        lw_rule_use_after_destroy(t, (uintptr_t)m, kind, call, pc);
    } else if (r == 0 || r == EOWNERDEAD) {
        /* The first call on this mutex (or its hint is gone). */
        lw_mutex_check_reused(m, kind, t->tid);
        lw_lock *l = lw_lock_lookup((uintptr_t)m, kind, lw_mutex_type(m), pc);
        if (l) {
            lw_mutex_remember(m, l);
            lw_after_acquire(t, l, LW_MODE_WRITE, pc, cfa);
        }
    }
    errno = e;
    lw_leave(t);
    return r;
}

/* Everything but the fast path: something held (edges, relock), no valid
 * node hint yet, first call of the thread, or called from inside. */
static LW_NOINLINE int mutex_acquire_slow(enum mutex_call c, pthread_mutex_t *m, clockid_t clk,
                                          const struct timespec *ts, uintptr_t pc, uintptr_t cfa)
{
    lw_thread *t = lw_enter();
    if (!t)
        return mutex_real(c, m, clk, ts);
    bool relocked;
    unsigned how = c == MC_LOCK    ? LW_ACQ_BLOCKING
                   : c == MC_TRY   ? LW_ACQ_TRY
                   : c == MC_TIMED ? lw_timed_how(t, CLOCK_REALTIME, ts)
                                   : lw_timed_how(t, clk, ts);
    lw_lock *l = lw_mutex_pre(t, m, LW_KIND_MUTEX, how, mutex_call_name[c], pc, cfa, &relocked);
    int r;
    if (l && c == MC_LOCK)
        r = lw_mutex_acquire(t, l, m, relocked);
    else
        r = mutex_real(c, m, clk, ts);
    return lw_lock_common(t, l, LW_MODE_WRITE, r, pc, cfa);
}

void lw_mutex_busy_node(lw_thread *t, lw_lock *l)
{
    lw_reenter(t);
    lw_lock_user(t, l);
    if (LW_UNLIKELY(!t->sleeper))
        lw_sleep_claim(t);   /* it may block: the monitor must see fast_wait */
    lw_leave(t);
}

int lw_mutex_lock_nohint(lw_thread *t, pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa)
{
    return lw_mutex_post_fast(t, m, lw_mutex_lock_fast(t, m, pc), "pthread_mutex_lock", pc, cfa);
}

void lw_held_refill_mode(lw_thread *t, unsigned i, lw_lock *l, unsigned mode, uintptr_t pc,
                        uintptr_t cfa)
{
    lw_reenter(t);
    lw_held_fill(t, i, l, mode, pc, cfa);
    lw_leave(t);
}

void lw_mutex_busy(lw_thread *t, pthread_mutex_t *m)
{
    lw_reenter(t);
    lw_lock *l = lw_mutex_find(m);
    lw_leave(t);
    if (l)
        lw_mutex_busy_node(t, l);
}

/* The fast path: nothing held, so no edge and no relock rule; glibc's call
 * first, then the node hint and the held-stack push. */
#define LW_MUTEX_ACQUIRE(c, m, clk, ts, fast_call)                                          \
    lw_thread *t = lw_fast();                                                               \
    if (LW_LIKELY(t != NULL) && LW_LIKELY(t->nheld == 0))                                   \
        return lw_mutex_post_fast(t, (m), (fast_call), mutex_call_name[c], LW_PC(),          \
                                  LW_CFA());                                                \
    LW_NOTE_FP();                                                                          \
    return mutex_acquire_slow((c), (m), (clk), (ts), LW_PC(), LW_CFA())

LW_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    lw_thread *t = lw_fast();
    if (LW_LIKELY(t != NULL)) {
        if (LW_LIKELY(t->nheld == 0))
            return lw_mutex_lock_prepared(t, m, LW_PC(), LW_CFA());
        int r;
        LW_NOTE_FP();
        if (lw_mutex_lock_nested(t, m, LW_PC(), LW_CFA(), &r))
            return r;
    }
    LW_NOTE_FP();
    return mutex_acquire_slow(MC_LOCK, m, 0, NULL, LW_PC(), LW_CFA());
}

LW_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    LW_MUTEX_ACQUIRE(MC_TRY, m, 0, NULL, LW_REAL(pthread_mutex_trylock)(m));
}

LW_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    LW_MUTEX_ACQUIRE(MC_TIMED, m, 0, ts, LW_REAL(pthread_mutex_timedlock)(m, ts));
}

LW_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    LW_MUTEX_ACQUIRE(MC_CLOCK, m, clk, ts, LW_REAL(pthread_mutex_clocklock)(m, clk, ts));
}

static LW_NOINLINE int mutex_unlock_slow(pthread_mutex_t *m, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_mutex_unlock)(m);
    lw_release_pre(t, (uintptr_t)m, LW_KIND_MUTEX, lw_mutex_is_destroyed(m),
                   lw_glibc_mutex_owner(m), "pthread_mutex_unlock", pc);
    int r = LW_REAL(pthread_mutex_unlock)(m);
    lw_jitter(t, LW_JIT_RELEASE);
    return r;
}

/* A destroyed mutex whose unlock the fast path let through (glibc refuses
 * it with EINVAL): the use-after-destroy report. */
static LW_NOINLINE void mutex_unlock_refused(lw_thread *t, pthread_mutex_t *m, uintptr_t pc)
{
    int e = errno;
    lw_reenter(t);
    if (lw_mutex_is_destroyed(m))
        lw_rule_use_after_destroy(t, (uintptr_t)m, LW_KIND_MUTEX, "pthread_mutex_unlock", pc);
    lw_leave(t);
    errno = e;
}

LW_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    /* The fast path does not read the mutex before glibc does: a contended
     * lock's cache line would be fetched twice. */
    lw_thread *t = lw_fast();
    if (LW_LIKELY(t != NULL) && LW_LIKELY(lw_pop_fast(t, (uintptr_t)m))) {
        int r = LW_REAL(pthread_mutex_unlock)(m);
        if (LW_UNLIKELY(r == EINVAL))
            mutex_unlock_refused(t, m, LW_PC());
        return r;
    }
    return mutex_unlock_slow(m, LW_PC());
}

/* ---- spinlocks ---- */

static int spin_try(void *s)
{
    return LW_REAL(pthread_spin_trylock)(s);
}

/* Spin until the deadline, checking the clock every so often.  As glibc's
 * pthread_spin_lock does, a plain read until the lock looks free, then the
 * atomic try: a try in every round would keep taking the lock's cache line
 * from its holder (and from the data around it). */
static int spin_until(void *s, const struct timespec *ts)
{
    for (unsigned i = 1;; i++) {
        if (lw_load_relaxed((const int *)s) == 0 && LW_REAL(pthread_spin_trylock)(s) == 0)
            return 0;
        lw_cpu_relax();
        if ((i & 1023) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec))
                return ETIMEDOUT;
            sched_yield();
        }
    }
}

static const lw_waitops spin_waitops = { spin_try, spin_until, EBUSY };

LW_EXPORT int pthread_spin_init(pthread_spinlock_t *s, int pshared)
{
    int r = LW_REAL(pthread_spin_init)(s, pshared);
    if (r == 0)
        lw_note_init((uintptr_t)s, LW_KIND_SPIN, 0, LW_PC());
    return r;
}

LW_EXPORT int pthread_spin_destroy(pthread_spinlock_t *s)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_spin_destroy)(s);
    uintptr_t pc = LW_PC();
    lw_destroy_pre(t, (uintptr_t)s, LW_KIND_SPIN, false, lw_glibc_spin_locked(s), -1,
                   "pthread_spin_destroy", pc);
    int r = LW_REAL(pthread_spin_destroy)(s);
    if (r == 0)
        lw_destroy_post((uintptr_t)s, pc);
    return r;
}

#define LW_SPIN_ACQUIRE(s, how, call_name, real_call, blocking_call)                       \
    lw_thread *t = lw_enter();                                                             \
    if (!t)                                                                                \
        return real_call;                                                                  \
    LW_NOTE_FP();                                                                          \
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                                                \
    bool relocked;                                                                         \
    lw_lock *l = lw_acquire_pre(t, (uintptr_t)(s), LW_KIND_SPIN, 0, false, LW_MODE_WRITE, \
                                (how), call_name, pc, cfa, &relocked);                          \
    int r = l ? (blocking_call) : real_call;                                               \
    return lw_lock_common(t, l, LW_MODE_WRITE, r, pc, cfa)

LW_EXPORT int pthread_spin_lock(pthread_spinlock_t *s)
{
    LW_SPIN_ACQUIRE(s, LW_ACQ_BLOCKING, "pthread_spin_lock", LW_REAL(pthread_spin_lock)(s),
                    lw_wait_acquire(t, l, LW_MODE_WRITE, (void *)s, &spin_waitops, relocked));
}

LW_EXPORT int pthread_spin_trylock(pthread_spinlock_t *s)
{
    LW_SPIN_ACQUIRE(s, LW_ACQ_TRY, "pthread_spin_trylock", LW_REAL(pthread_spin_trylock)(s),
                    LW_REAL(pthread_spin_trylock)(s));
}

LW_EXPORT int pthread_spin_unlock(pthread_spinlock_t *s)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_spin_unlock)(s);
    lw_release_pre(t, (uintptr_t)s, LW_KIND_SPIN, false, lw_glibc_spin_locked(s) ? -1 : 0,
                   "pthread_spin_unlock", LW_PC());
    int r = LW_REAL(pthread_spin_unlock)(s);
    lw_jitter(t, LW_JIT_RELEASE);
    return r;
}
