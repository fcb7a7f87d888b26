/*
 * intercept_mutex.c: pthread_mutex_* and pthread_spin_* interposers, and the
 * acquisition / release / destroy steps every lock family shares.
 * Pre / real / post only: the rules are in the core.
 */
#include "intercept.h"
#include "deadlock.h"
#include "rules.h"

#include <sched.h>

/* ---- shared steps ---- */

int lw_wait_blocked(lw_thread *t, lw_lock *l, unsigned mode, void *obj, const lw_waitops *ops,
                    bool relocked)
{
    int e = errno;
    struct timespec ts;
    lw_wait_deadline(&ts);
    int r = ops->until(obj, &ts);
    if (LW_LIKELY(r != ETIMEDOUT)) {
        errno = e;
        return r;
    }
    /* Blocked for a whole slice: publish the wait and watch for a cycle. */
    lw_reenter(t);
    lw_waitrec *w = lw_wait_begin(t, l, mode, NULL, relocked);
    lw_leave(t);
    for (;;) {
        lw_reenter(t);
        lw_wait_check(t, w);
        lw_leave(t);
        lw_wait_deadline(&ts);
        r = ops->until(obj, &ts);
        if (r != ETIMEDOUT)
            break;
    }
    lw_reenter(t);
    lw_wait_end(t, w);
    lw_leave(t);
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

void lw_unlock_slow(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed, int owner_tid,
                    const char *call, uintptr_t pc)
{
    if (destroyed)
        lw_rule_use_after_destroy(t, addr, kind, call, pc);
    else if (!lw_release_addr_slow(t, addr) && owner_tid != t->tid)
        lw_rule_unlock_not_owned(t, lw_registry_find(addr), addr, kind, owner_tid, call, pc);
}

void lw_note_init(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        lw_lock_initialised(addr, kind, mtype, pc);
        errno = e;
        lw_leave(t);
    }
}

lw_lock *lw_mutex_node(void *m, enum lw_lock_kind kind, uintptr_t pc)
{
    unsigned mtype = kind == LW_KIND_SPIN ? 0 : lw_mutex_type((pthread_mutex_t *)m);
    return lw_lock_lookup((uintptr_t)m, kind, mtype, pc);
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

/* Locked, and by whom (glibc's __lock / __owner): for destroy and unlock. */
static inline bool mutex_locked(const pthread_mutex_t *m)
{
    return m->__data.__lock != 0;
}

static inline int mutex_owner(const pthread_mutex_t *m)
{
    return mutex_locked(m) ? (m->__data.__owner > 0 ? m->__data.__owner : -1) : 0;
}

LW_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int r = LW_REAL(pthread_mutex_init)(m, a);
    if (r == 0)
        lw_note_init((uintptr_t)m, LW_KIND_MUTEX, lw_mutex_type(m), LW_PC());
    return r;
}

LW_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_mutex_destroy)(m);
    uintptr_t pc = LW_PC();
    lw_destroy_pre(t, (uintptr_t)m, LW_KIND_MUTEX, lw_mutex_is_destroyed(m), mutex_locked(m),
                   mutex_owner(m), "pthread_mutex_destroy", pc);
    int r = LW_REAL(pthread_mutex_destroy)(m);
    if (r == 0)
        lw_destroy_post((uintptr_t)m, pc);
    return r;
}

#define LW_MUTEX_ACQUIRE(m, how, call_name, real_call, blocking_call)                       \
    lw_thread *t = lw_enter();                                                              \
    if (!t)                                                                                 \
        return real_call;                                                                   \
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                                                 \
    bool relocked, gone = lw_mutex_is_destroyed(m);                                         \
    lw_lock *l = lw_acquire_pre(t, (uintptr_t)(m), LW_KIND_MUTEX, lw_mutex_type(m), gone,  \
                                LW_MODE_WRITE, (how), call_name, pc, &relocked);            \
    int r = l ? (blocking_call) : real_call;                                                \
    return lw_lock_common(t, l, LW_MODE_WRITE, (how), r, pc, cfa)

LW_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    LW_MUTEX_ACQUIRE(m, LW_ACQ_BLOCKING, "pthread_mutex_lock", LW_REAL(pthread_mutex_lock)(m),
                     lw_mutex_acquire(t, l, m, relocked));
}

LW_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    LW_MUTEX_ACQUIRE(m, LW_ACQ_TRY, "pthread_mutex_trylock", LW_REAL(pthread_mutex_trylock)(m),
                     LW_REAL(pthread_mutex_trylock)(m));
}

LW_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    LW_MUTEX_ACQUIRE(m, LW_ACQ_TIMED, "pthread_mutex_timedlock",
                     LW_REAL(pthread_mutex_timedlock)(m, ts), LW_REAL(pthread_mutex_timedlock)(m, ts));
}

LW_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    LW_MUTEX_ACQUIRE(m, LW_ACQ_TIMED, "pthread_mutex_clocklock",
                     LW_REAL(pthread_mutex_clocklock)(m, clk, ts),
                     LW_REAL(pthread_mutex_clocklock)(m, clk, ts));
}

LW_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_mutex_unlock)(m);
    lw_release_pre(t, (uintptr_t)m, LW_KIND_MUTEX, lw_mutex_is_destroyed(m), mutex_owner(m),
                   "pthread_mutex_unlock", LW_PC());
    return LW_REAL(pthread_mutex_unlock)(m);
}

/* ---- spinlocks ---- */

static int spin_try(void *s)
{
    return LW_REAL(pthread_spin_trylock)(s);
}

/* Spin until the deadline, checking the clock every so often. */
static int spin_until(void *s, const struct timespec *ts)
{
    for (unsigned i = 1;; i++) {
        if (LW_REAL(pthread_spin_trylock)(s) == 0)
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
    lw_destroy_pre(t, (uintptr_t)s, LW_KIND_SPIN, false, *(volatile int *)s != 0, -1,
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
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                                                \
    bool relocked;                                                                         \
    lw_lock *l = lw_acquire_pre(t, (uintptr_t)(s), LW_KIND_SPIN, 0, false, LW_MODE_WRITE, \
                                (how), call_name, pc, &relocked);                          \
    int r = l ? (blocking_call) : real_call;                                               \
    return lw_lock_common(t, l, LW_MODE_WRITE, (how), r, pc, cfa)

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
    lw_release_pre(t, (uintptr_t)s, LW_KIND_SPIN, false, *(volatile int *)s != 0 ? -1 : 0,
                   "pthread_spin_unlock", LW_PC());
    return LW_REAL(pthread_spin_unlock)(s);
}
