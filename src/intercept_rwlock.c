/*
 * intercept_rwlock.c: pthread_rwlock_* interposers.  Read acquisitions take
 * part in the order graph (as read-mode edges); unlock releases whichever
 * mode this thread holds.
 */
#include "intercept.h"

static int rd_try(void *rw)
{
    return LW_REAL(pthread_rwlock_tryrdlock)(rw);
}

static int rd_until(void *rw, const struct timespec *ts)
{
    return LW_REAL(pthread_rwlock_clockrdlock)(rw, CLOCK_MONOTONIC, ts);
}

static int wr_try(void *rw)
{
    return LW_REAL(pthread_rwlock_trywrlock)(rw);
}

static int wr_until(void *rw, const struct timespec *ts)
{
    return LW_REAL(pthread_rwlock_clockwrlock)(rw, CLOCK_MONOTONIC, ts);
}

static const lw_waitops rd_waitops = { rd_try, rd_until, EBUSY };
static const lw_waitops wr_waitops = { wr_try, wr_until, EBUSY };

#define LW_RW_ACQUIRE(mode, how, call_name, real_call, blocking_call)                           \
    lw_thread *t = lw_enter();                                                                  \
    if (!t)                                                                                     \
        return real_call;                                                                       \
    LW_NOTE_FP();                                                                               \
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                                                     \
    bool relocked;                                                                              \
    lw_rwlock_check_reused(rw);                                                                 \
    lw_lock *l = lw_acquire_pre(t, (uintptr_t)rw, LW_KIND_RWLOCK, lw_rwlock_mtype(rw),          \
                                lw_rwlock_is_destroyed(rw),                                     \
                                (mode), (how), call_name, pc, cfa, &relocked);                       \
    lw_rwlock_remember(rw, l);                                                                  \
    int r = l ? (blocking_call) : real_call;                                                    \
    return lw_lock_common(t, l, (mode), r, pc, cfa)

/* A blocking rdlock or wrlock with nothing held, a node hint and a known
 * user: the entry is prepared before the same try-then-slices acquisition
 * and published after it (as for mutexes, intercept.h).  False: the slow
 * path, nothing changed. */
static inline __attribute__((always_inline)) bool
rw_acquire_fast(pthread_rwlock_t *rw, unsigned mode, const lw_waitops *ops, uintptr_t pc,
                uintptr_t cfa, int *rp)
{
    lw_thread *t = lw_fast();
    if (LW_UNLIKELY(t == NULL) || t->nheld != 0)
        return false;
    lw_lock *l = lw_rwlock_cached(rw);
    if (LW_UNLIKELY(l == NULL))
        return false;
    if (LW_UNLIKELY(!lw_lock_user_known(t, l)))
        return false;
    lw_held_fill(t, 0, l, mode, pc, cfa);
    int r = lw_wait_acquire(t, l, mode, rw, ops, false);
    if (LW_LIKELY(r == 0))
        lw_held_publish_mode(t, 0, l, (uintptr_t)rw, mode, pc, cfa);
    *rp = r;
    return true;
}

LW_EXPORT int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *a)
{
    int r = LW_REAL(pthread_rwlock_init)(rw, a);
    if (r == 0)
        lw_note_init((uintptr_t)rw, LW_KIND_RWLOCK, lw_rwlock_mtype(rw), LW_PC());
    return r;
}

LW_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_rwlock_destroy)(rw);
    uintptr_t pc = LW_PC();
    lw_destroy_pre(t, (uintptr_t)rw, LW_KIND_RWLOCK, lw_rwlock_is_destroyed(rw),
                   lw_glibc_rwlock_locked(rw), lw_glibc_rwlock_owner(rw), "pthread_rwlock_destroy",
                   pc);
    int r = LW_REAL(pthread_rwlock_destroy)(rw);
    if (r == 0) {
        rw->__data.__pad2 = LW_RWLOCK_POISON;
        lw_destroy_post((uintptr_t)rw, pc);
    }
    return r;
}

LW_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    int fr;
    LW_NOTE_FP();
    if (rw_acquire_fast(rw, LW_MODE_READ, &rd_waitops, LW_PC(), LW_CFA(), &fr))
        return fr;
    LW_RW_ACQUIRE(LW_MODE_READ, LW_ACQ_BLOCKING, "pthread_rwlock_rdlock",
                  LW_REAL(pthread_rwlock_rdlock)(rw),
                  lw_wait_acquire(t, l, LW_MODE_READ, rw, &rd_waitops, relocked));
}

LW_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    LW_RW_ACQUIRE(LW_MODE_READ, LW_ACQ_TRY, "pthread_rwlock_tryrdlock",
                  LW_REAL(pthread_rwlock_tryrdlock)(rw), LW_REAL(pthread_rwlock_tryrdlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_RW_ACQUIRE(LW_MODE_READ, lw_timed_how(t, CLOCK_REALTIME, ts), "pthread_rwlock_timedrdlock",
                  LW_REAL(pthread_rwlock_timedrdlock)(rw, ts),
                  LW_REAL(pthread_rwlock_timedrdlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_RW_ACQUIRE(LW_MODE_READ, lw_timed_how(t, clk, ts), "pthread_rwlock_clockrdlock",
                  LW_REAL(pthread_rwlock_clockrdlock)(rw, clk, ts),
                  LW_REAL(pthread_rwlock_clockrdlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    int fr;
    LW_NOTE_FP();
    if (rw_acquire_fast(rw, LW_MODE_WRITE, &wr_waitops, LW_PC(), LW_CFA(), &fr))
        return fr;
    LW_RW_ACQUIRE(LW_MODE_WRITE, LW_ACQ_BLOCKING, "pthread_rwlock_wrlock",
                  LW_REAL(pthread_rwlock_wrlock)(rw),
                  lw_wait_acquire(t, l, LW_MODE_WRITE, rw, &wr_waitops, relocked));
}

LW_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    LW_RW_ACQUIRE(LW_MODE_WRITE, LW_ACQ_TRY, "pthread_rwlock_trywrlock",
                  LW_REAL(pthread_rwlock_trywrlock)(rw), LW_REAL(pthread_rwlock_trywrlock)(rw));
}

LW_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    LW_RW_ACQUIRE(LW_MODE_WRITE, lw_timed_how(t, CLOCK_REALTIME, ts), "pthread_rwlock_timedwrlock",
                  LW_REAL(pthread_rwlock_timedwrlock)(rw, ts),
                  LW_REAL(pthread_rwlock_timedwrlock)(rw, ts));
}

LW_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    LW_RW_ACQUIRE(LW_MODE_WRITE, lw_timed_how(t, clk, ts), "pthread_rwlock_clockwrlock",
                  LW_REAL(pthread_rwlock_clockwrlock)(rw, clk, ts),
                  LW_REAL(pthread_rwlock_clockwrlock)(rw, clk, ts));
}

LW_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    /* The innermost lock, held once, not destroyed: pop and unlock. */
    lw_thread *ft = lw_fast();
    if (LW_LIKELY(ft != NULL) && LW_LIKELY(!lw_rwlock_is_destroyed(rw)) &&
        LW_LIKELY(lw_pop_fast(ft, (uintptr_t)rw)))
        return LW_REAL(pthread_rwlock_unlock)(rw);
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_rwlock_unlock)(rw);
    lw_release_pre(t, (uintptr_t)rw, LW_KIND_RWLOCK, lw_rwlock_is_destroyed(rw),
                   lw_glibc_rwlock_owner(rw), "pthread_rwlock_unlock", LW_PC());
    int r = LW_REAL(pthread_rwlock_unlock)(rw);
    lw_jitter(t, LW_JIT_RELEASE);
    return r;
}
