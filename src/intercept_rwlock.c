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

LW_EXPORT int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *a)
{
    int r = LW_REAL(pthread_rwlock_init)(rw, a);
    if (r == 0)
        lw_note_init((uintptr_t)rw, LW_KIND_RWLOCK, 0, LW_PC());
    return r;
}

LW_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
    int r = LW_REAL(pthread_rwlock_destroy)(rw);
    if (r == 0)
        lw_note_destroy((uintptr_t)rw);
    return r;
}

LW_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_READ, LW_ACQ_BLOCKING,
                    LW_REAL(pthread_rwlock_rdlock)(rw));
}

LW_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_READ, LW_ACQ_TRY,
                    LW_REAL(pthread_rwlock_tryrdlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_READ, LW_ACQ_TIMED,
                    LW_REAL(pthread_rwlock_timedrdlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_READ, LW_ACQ_TIMED,
                    LW_REAL(pthread_rwlock_clockrdlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_WRITE, LW_ACQ_BLOCKING,
                    LW_REAL(pthread_rwlock_wrlock)(rw));
}

LW_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_WRITE, LW_ACQ_TRY,
                    LW_REAL(pthread_rwlock_trywrlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_WRITE, LW_ACQ_TIMED,
                    LW_REAL(pthread_rwlock_timedwrlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_ACQUIRE_BODY(rw_node(rw, pc), LW_MODE_WRITE, LW_ACQ_TIMED,
                    LW_REAL(pthread_rwlock_clockwrlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    LW_RELEASE_BODY(rw, LW_REAL(pthread_rwlock_unlock)(rw));
}
