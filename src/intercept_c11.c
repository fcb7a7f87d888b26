/*
 * intercept_c11.c: C11 <threads.h> mutexes and condition variables.  glibc
 * implements them on its internal pthread entry points, which a preload
 * cannot see (PITFALLS 4), so they are interposed here directly.  glibc's
 * mtx_t has pthread_mutex_t's layout, so the mutex type is read the same way.
 */
#include "intercept.h"

LW_EXPORT int mtx_init(mtx_t *m, int type)
{
    int r = LW_REAL(mtx_init)(m, type);
    if (r == thrd_success)
        lw_note_init((uintptr_t)m, LW_KIND_C11_MUTEX, lw_mutex_type((pthread_mutex_t *)(void *)m),
                     LW_PC());
    return r;
}

LW_EXPORT void mtx_destroy(mtx_t *m)
{
    LW_REAL(mtx_destroy)(m);
    lw_note_destroy((uintptr_t)m);
}

LW_EXPORT int mtx_lock(mtx_t *m)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_C11_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_BLOCKING,
                    LW_REAL(mtx_lock)(m));
}

LW_EXPORT int mtx_trylock(mtx_t *m)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_C11_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_TRY,
                    LW_REAL(mtx_trylock)(m));
}

LW_EXPORT int mtx_timedlock(mtx_t *__restrict m, const struct timespec *__restrict ts)
{
    LW_ACQUIRE_BODY(lw_mutex_node(m, LW_KIND_C11_MUTEX, pc), LW_MODE_WRITE, LW_ACQ_TIMED,
                    LW_REAL(mtx_timedlock)(m, ts));
}

LW_EXPORT int mtx_unlock(mtx_t *m)
{
    LW_RELEASE_BODY(m, LW_REAL(mtx_unlock)(m));
}

static int c11_wait(cnd_t *c, mtx_t *m, const struct timespec *ts, uintptr_t pc, uintptr_t cfa)
{
    lw_thread *t = lw_enter();
    if (!t)
        return ts ? LW_REAL(cnd_timedwait)(c, m, ts) : LW_REAL(cnd_wait)(c, m);
    int e = errno;
    lw_held saved = {0};
    lw_lock *l = lw_registry_find((uintptr_t)m);
    if (l)
        lw_cond_release(t, l, &saved);
    errno = e;
    lw_leave(t);
    int r = ts ? LW_REAL(cnd_timedwait)(c, m, ts) : LW_REAL(cnd_wait)(c, m);
    if (l && saved.lock) {
        e = errno;
        lw_reenter(t);
        lw_cond_reacquire(t, l, &saved, pc, cfa);
        lw_leave(t);
        errno = e;
    }
    return r;
}

LW_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    return c11_wait(c, m, NULL, LW_PC(), LW_CFA());
}

LW_EXPORT int cnd_timedwait(cnd_t *__restrict c, mtx_t *__restrict m,
                            const struct timespec *__restrict ts)
{
    return c11_wait(c, m, ts, LW_PC(), LW_CFA());
}
