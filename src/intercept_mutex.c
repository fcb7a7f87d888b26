/*
 * intercept_mutex.c: pthread_mutex_* and pthread_spin_* interposers, and the
 * acquisition helper the C11 wrappers share.  Pre / real / post only.
 */
#include "intercept.h"

lw_lock *lw_mutex_node(void *m, enum lw_lock_kind kind, uintptr_t pc)
{
    unsigned mtype = kind == LW_KIND_SPIN ? 0 : lw_mutex_type((pthread_mutex_t *)m);
    return lw_lock_lookup((uintptr_t)m, kind, mtype, pc);
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

void lw_note_destroy(uintptr_t addr)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        lw_lock_destroyed(addr);
        errno = e;
        lw_leave(t);
    }
}

/* Post-event of any acquisition: r is the real call's result. */
int lw_lock_common(lw_thread *t, lw_lock *l, unsigned mode, unsigned how, int r, uintptr_t pc,
                   uintptr_t cfa)
{
    /* EOWNERDEAD: a robust mutex whose owner died is now ours. */
    if (l && (r == 0 || r == EOWNERDEAD)) {
        int e = errno;
        lw_reenter(t);
        lw_after_acquire(t, l, mode, how, pc, cfa);
        lw_leave(t);
        errno = e;
    }
    return r;
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
    int r = LW_REAL(pthread_mutex_destroy)(m);
    if (r == 0)
        lw_note_destroy((uintptr_t)m);
    return r;
}

LW_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_BLOCKING,
                    LW_REAL(pthread_mutex_lock)(m));
}

LW_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_TRY,
                    LW_REAL(pthread_mutex_trylock)(m));
}

LW_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_TIMED,
                    LW_REAL(pthread_mutex_timedlock)(m, ts));
}

LW_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_TIMED,
                    LW_REAL(pthread_mutex_clocklock)(m, clk, ts));
}

LW_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    LW_RELEASE_BODY(m, LW_REAL(pthread_mutex_unlock)(m));
}

/* ---- spinlocks ---- */

LW_EXPORT int pthread_spin_init(pthread_spinlock_t *s, int pshared)
{
    int r = LW_REAL(pthread_spin_init)(s, pshared);
    if (r == 0)
        lw_note_init((uintptr_t)s, LW_KIND_SPIN, 0, LW_PC());
    return r;
}

LW_EXPORT int pthread_spin_destroy(pthread_spinlock_t *s)
{
    int r = LW_REAL(pthread_spin_destroy)(s);
    if (r == 0)
        lw_note_destroy((uintptr_t)s);
    return r;
}

LW_EXPORT int pthread_spin_lock(pthread_spinlock_t *s)
{
    LW_ACQUIRE_BODY(lw_mutex_node((void *)s, LW_KIND_SPIN, pc), LW_MODE_WRITE, LW_ACQ_BLOCKING,
                    LW_REAL(pthread_spin_lock)(s));
}

LW_EXPORT int pthread_spin_trylock(pthread_spinlock_t *s)
{
    LW_ACQUIRE_BODY(lw_mutex_node((void *)s, LW_KIND_SPIN, pc), LW_MODE_WRITE, LW_ACQ_TRY,
                    LW_REAL(pthread_spin_trylock)(s));
}

LW_EXPORT int pthread_spin_unlock(pthread_spinlock_t *s)
{
    LW_RELEASE_BODY(s, LW_REAL(pthread_spin_unlock)(s));
}
