/*
 * intercept_c11.c: C11 <threads.h> mutexes and condition variables.  glibc
 * implements them on its internal pthread entry points, which a preload
 * cannot see (PITFALLS 4), so they are interposed here directly.  glibc's
 * mtx_t is a pthread_mutex_t, so its type, state and slice waits go through
 * the pthread functions.
 */
#include "intercept.h"
#include "asleep.h"
#include "lw_glibc.h"
#include "rules.h"

static inline pthread_mutex_t *as_pthread(mtx_t *m)
{
    return (pthread_mutex_t *)(void *)m;
}

/* pthread error codes to C11 results. */
static int c11_result(int r)
{
    switch (r) {
    case 0: return thrd_success;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    }
    return thrd_error;
}

#define LW_MTX_ACQUIRE(how, call_name, real_call, blocking_call)                              \
    lw_thread *t = lw_enter();                                                                \
    if (!t)                                                                                   \
        return real_call;                                                                     \
    LW_NOTE_FP();                                                                             \
    uintptr_t pc = LW_PC(), cfa = LW_CFA();                                                   \
    pthread_mutex_t *pm = as_pthread(m);                                                      \
    bool relocked;                                                                            \
    lw_lock *l = lw_mutex_pre(t, pm, LW_KIND_C11_MUTEX, (how), call_name, pc, cfa, &relocked);    \
    int r = l ? (blocking_call) : real_call;                                                  \
    return lw_lock_common(t, l, LW_MODE_WRITE, r, pc, cfa)

LW_EXPORT int mtx_init(mtx_t *m, int type)
{
    int r = LW_REAL(mtx_init)(m, type);
    if (r == thrd_success)
        lw_note_mutex_init(as_pthread(m), LW_KIND_C11_MUTEX, LW_PC());
    return r;
}

LW_EXPORT void mtx_destroy(mtx_t *m)
{
    lw_thread *t = lw_enter();
    if (!t) {
        LW_REAL(mtx_destroy)(m);
        return;
    }
    uintptr_t pc = LW_PC();
    pthread_mutex_t *pm = as_pthread(m);
    lw_destroy_pre(t, (uintptr_t)m, LW_KIND_C11_MUTEX, lw_mutex_is_destroyed(pm),
                   lw_glibc_mutex_locked(pm), lw_glibc_mutex_owner(pm), "mtx_destroy", pc);
    LW_REAL(mtx_destroy)(m);
    lw_destroy_post((uintptr_t)m, pc);
}

LW_EXPORT int mtx_lock(mtx_t *m)
{
    LW_MTX_ACQUIRE(LW_ACQ_BLOCKING, "mtx_lock", LW_REAL(mtx_lock)(m),
                   c11_result(lw_mutex_acquire(t, l, pm, relocked)));
}

LW_EXPORT int mtx_trylock(mtx_t *m)
{
    LW_MTX_ACQUIRE(LW_ACQ_TRY, "mtx_trylock", LW_REAL(mtx_trylock)(m), LW_REAL(mtx_trylock)(m));
}

LW_EXPORT int mtx_timedlock(mtx_t *__restrict m, const struct timespec *__restrict ts)
{
    LW_MTX_ACQUIRE(lw_timed_how(t, CLOCK_REALTIME, ts), "mtx_timedlock", LW_REAL(mtx_timedlock)(m, ts),
                   LW_REAL(mtx_timedlock)(m, ts));
}

LW_EXPORT int mtx_unlock(mtx_t *m)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(mtx_unlock)(m);
    pthread_mutex_t *pm = as_pthread(m);
    lw_release_pre(t, (uintptr_t)m, LW_KIND_C11_MUTEX, lw_mutex_is_destroyed(pm),
                   lw_glibc_mutex_owner(pm), "mtx_unlock", LW_PC());
    int r = LW_REAL(mtx_unlock)(m);
    lw_jitter(t, LW_JIT_RELEASE);
    return r;
}

static void c11_sleep_cancelled(void *p)
{
    lw_sleep_end(*(lw_sleeper **)p);
}

static int c11_wait(cnd_t *c, mtx_t *m, const struct timespec *ts, uintptr_t pc, uintptr_t cfa)
{
    const char *call = ts ? "cnd_timedwait" : "cnd_wait";
    lw_thread *t = lw_enter();
    if (!t)
        return ts ? LW_REAL(cnd_timedwait)(c, m, ts) : LW_REAL(cnd_wait)(c, m);
    int e = errno;
    lw_held saved = { 0 };
    lw_lock *l = lw_mutex_find(as_pthread(m));
    lw_held *h = l ? lw_held_find(t, l) : NULL;
    lw_lock *cn = lw_rule_cond_wait_begin(t, (uintptr_t)c, (uintptr_t)m, h != NULL, call, pc);
    if (h)
        lw_cond_release(t, l, &saved);
    /* cnd_t is glibc's pthread_cond_t (asleep.h: an untimed private wait). */
    lw_sleeper *sl = NULL;
    if (!ts && !lw_glibc_cond_pshared((const pthread_cond_t *)(const void *)c))
        sl = lw_sleep_begin(t, LW_SLEEP_COND, (uintptr_t)c, cn, l, 0, 0, pc, NULL);
    errno = e;
    lw_leave(t);
    lw_block_ctx bc;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before_except(&bc, call, LW_FAM_WAIT, pc, cfa, (uintptr_t)m);
    else
        bc.active = false;
    int r;
    pthread_cleanup_push(c11_sleep_cancelled, &sl);
    do
        r = ts ? LW_REAL(cnd_timedwait)(c, m, ts) : LW_REAL(cnd_wait)(c, m);
    while (r == thrd_success && lw_sleep_poll(t, sl));
    pthread_cleanup_pop(0);
    lw_sleep_end(sl);
    lw_blocking_after(&bc);
    e = errno;
    lw_reenter(t);
    if (l && saved.lock)
        lw_cond_reacquire(t, l, &saved, pc, cfa);
    lw_rule_cond_wait_end(cn);
    lw_leave(t);
    errno = e;
    return r;
}

LW_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    LW_NOTE_FP();
    return c11_wait(c, m, NULL, LW_PC(), LW_CFA());
}

LW_EXPORT int cnd_timedwait(cnd_t *__restrict c, mtx_t *__restrict m,
                            const struct timespec *__restrict ts)
{
    LW_NOTE_FP();
    return c11_wait(c, m, ts, LW_PC(), LW_CFA());
}
