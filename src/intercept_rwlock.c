/*
 * intercept_rwlock.c: pthread_rwlock_* interposers.  Read acquisitions take
 * part in the order graph (as read-mode edges); unlock releases whichever
 * mode this thread holds.
 */
#include "intercept.h"

static inline lw_lock *rw_node(pthread_rwlock_t *rw, uintptr_t pc)
{
    return lw_lock_lookup((uintptr_t)rw, LW_KIND_RWLOCK, 0, pc);
}

#define LW_RW_BODY(mode, how, call)                                   \
    lw_thread *t = lw_enter();                                        \
    if (!t)                                                           \
        return call;                                                  \
    int e_ = errno;                                                   \
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                           \
    lw_lock *l = rw_node(rw, pc);                                     \
    if (l && (how) == LW_ACQ_BLOCKING)                                \
        lw_before_acquire(t, l, (mode), pc, cfa);                     \
    errno = e_;                                                       \
    lw_leave(t);                                                      \
    int r = call;                                                     \
    return lw_lock_common(t, l, (mode), (how), r, pc, cfa)

LW_EXPORT int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *a)
{
    int r = LW_REAL(pthread_rwlock_init)(rw, a);
    lw_thread *t;
    if (r == 0 && (t = lw_enter()) != NULL) {
        int e = errno;
        lw_lock_initialised((uintptr_t)rw, LW_KIND_RWLOCK, 0, LW_PC());
        errno = e;
        lw_leave(t);
    }
    return r;
}

LW_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
    int r = LW_REAL(pthread_rwlock_destroy)(rw);
    lw_thread *t;
    if (r == 0 && (t = lw_enter()) != NULL) {
        int e = errno;
        lw_lock_destroyed((uintptr_t)rw);
        errno = e;
        lw_leave(t);
    }
    return r;
}

LW_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    LW_RW_BODY(LW_MODE_READ, LW_ACQ_BLOCKING, LW_REAL(pthread_rwlock_rdlock)(rw));
}

LW_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    LW_RW_BODY(LW_MODE_READ, LW_ACQ_TRY, LW_REAL(pthread_rwlock_tryrdlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_RW_BODY(LW_MODE_READ, LW_ACQ_TIMED, LW_REAL(pthread_rwlock_timedrdlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_RW_BODY(LW_MODE_READ, LW_ACQ_TIMED, LW_REAL(pthread_rwlock_clockrdlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    LW_RW_BODY(LW_MODE_WRITE, LW_ACQ_BLOCKING, LW_REAL(pthread_rwlock_wrlock)(rw));
}

LW_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    LW_RW_BODY(LW_MODE_WRITE, LW_ACQ_TRY, LW_REAL(pthread_rwlock_trywrlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_RW_BODY(LW_MODE_WRITE, LW_ACQ_TIMED, LW_REAL(pthread_rwlock_timedwrlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_RW_BODY(LW_MODE_WRITE, LW_ACQ_TIMED, LW_REAL(pthread_rwlock_clockwrlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_rwlock_unlock)(rw);
    lw_lock *l = lw_registry_find((uintptr_t)rw);
    if (l)
        lw_release(t, l);
    lw_leave(t);
    return LW_REAL(pthread_rwlock_unlock)(rw);
}
