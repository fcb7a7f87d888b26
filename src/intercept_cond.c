/*
 * intercept_cond.c: pthread_cond_* interposers, in both glibc ABI versions
 * (GLIBC_2.2.5 for old binaries, GLIBC_2.3.2 current; PITFALLS 3).  A wait
 * releases the mutex and re-acquires it before returning (also on timeout
 * and on cancellation, through a cleanup handler: PITFALLS 11); the held
 * stack shows exactly that, and the re-acquisition orders after every lock
 * still held.
 */
#include "intercept.h"
#include "rules.h"
#include "asleep.h"
#include "lost.h"
#include "lw_clock.h"
#include "lw_glibc.h"

#include <string.h>

void lw_cond_release(lw_thread *t, lw_lock *l, lw_held *saved)
{
    lw_held *h = lw_held_find(t, l);
    if (!h) {
        saved->lock = NULL;
        return;
    }
    *saved = *h;
    /* Drop every recursive count: the wait releases the mutex. */
    h->count = 1;
    lw_release(t, l);
}

void lw_cond_reacquire(lw_thread *t, lw_lock *l, const lw_held *saved, uintptr_t pc, uintptr_t cfa)
{
    if (!saved->lock || l->id != saved->id)
        return;
    lw_before_acquire(t, l, saved->mode, LW_ACQ_BLOCKING, pc, cfa, NULL);
    lw_after_acquire(t, l, saved->mode, pc, cfa);
    lw_held *h = lw_held_find(t, l);
    if (h)
        h->count = saved->count;
}

struct wait_ctx {
    lw_thread *t;
    lw_lock *l;
    lw_lock *cond;
    lw_held saved;
    uintptr_t pc, cfa;
    lw_sleeper *sleep;
    bool lost;              /* a lost signal matches this wait (lost.h) */
    lw_lost lost_sig;
};

static void wait_cancelled(void *p)
{
    struct wait_ctx *w = p;
    lw_sleep_end(w->sleep);
    lw_reenter(w->t);
    if (w->l)
        lw_cond_reacquire(w->t, w->l, &w->saved, w->pc, w->cfa);
    lw_rule_cond_wait_end(w->cond);
    lw_leave(w->t);
}

enum wait_kind { WAIT_PLAIN, WAIT_TIMED, WAIT_CLOCK };

static void ensure_resolved(void)
{
    if (LW_UNLIKELY(!lw_load_relaxed(&lw_core_ready)))
        lw_intercept_init();
}

static int real_wait(bool old, enum wait_kind kind, pthread_cond_t *c, pthread_mutex_t *m,
                     clockid_t clk, const struct timespec *ts)
{
    switch (kind) {
    case WAIT_PLAIN:
        return (old ? lw_real_pthread_cond_wait_old : lw_real_pthread_cond_wait_new)(c, m);
    case WAIT_TIMED:
        return (old ? lw_real_pthread_cond_timedwait_old : lw_real_pthread_cond_timedwait_new)(c, m,
                                                                                               ts);
    case WAIT_CLOCK:
        break;
    }
    return LW_REAL(pthread_cond_clockwait)(c, m, clk, ts);
}

static const char *wait_name(enum wait_kind kind)
{
    return kind == WAIT_PLAIN ? "pthread_cond_wait"
           : kind == WAIT_TIMED ? "pthread_cond_timedwait"
                                : "pthread_cond_clockwait";
}

static int cond_wait(bool old, enum wait_kind kind, pthread_cond_t *c, pthread_mutex_t *m,
                     clockid_t clk, const struct timespec *ts, uintptr_t pc, uintptr_t cfa)
{
    ensure_resolved();
    lw_thread *t = lw_enter();
    if (!t)
        return real_wait(old, kind, c, m, clk, ts);
    int e = errno;
    const char *call = wait_name(kind);
    struct wait_ctx w;
    memset(&w, 0, sizeof(w));
    w.t = t;
    w.pc = pc;
    w.cfa = cfa;
    w.l = lw_mutex_find(m);
    lw_held *h = w.l ? lw_held_find(t, w.l) : NULL;
    if (lw_mutex_is_destroyed(m))
        lw_rule_use_after_destroy(t, (uintptr_t)m, LW_KIND_MUTEX, call, pc);
    w.cond = lw_rule_cond_wait_begin(t, (uintptr_t)c, (uintptr_t)m, h != NULL, call, pc);
    w.lost = lw_lost_match(t, w.cond, w.l, h, &w.lost_sig);
    if (h)
        lw_cond_release(t, w.l, &w.saved);
    /* An untimed wait on a private condvar: only another thread of this
     * process can end it (asleep.h).  (An old-ABI condvar's words are
     * glibc's compatibility pointer: it is never process-shared.) */
    if (kind == WAIT_PLAIN && (old || !lw_glibc_cond_pshared(c)))
        w.sleep = lw_sleep_begin(t, LW_SLEEP_COND, (uintptr_t)c, w.cond, w.l, 0,
                                 old ? LW_SLEEP_COND_OLD : 0, pc, w.lost ? &w.lost_sig : NULL);
    uint64_t start_ns = w.lost && kind != WAIT_PLAIN ? lw_mono_ns() : 0;
    errno = e;
    lw_leave(t);

    /* Waiting while holding a lock other than the condvar's own mutex. */
    lw_block_ctx bc;
    bc.active = false;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before_except(&bc, call, LW_FAM_WAIT, pc, cfa, (uintptr_t)m);

    int r;
    pthread_cleanup_push(wait_cancelled, &w);
    /* A wake-up that was the monitor asking for this thread's stack is not
     * the program's: wait again. */
    do
        r = real_wait(old, kind, c, m, clk, ts);
    while (r == 0 && lw_sleep_poll(t, w.sleep));
    pthread_cleanup_pop(0);
    lw_sleep_end(w.sleep);
    lw_blocking_after(&bc);

    e = errno;
    lw_reenter(t);
    /* A timed wait in a lost signal's window that nothing woke. */
    if (LW_UNLIKELY(w.lost) && r == ETIMEDOUT && kind != WAIT_PLAIN)
        lw_lost_report_timeout(t, w.cond, w.l, &w.lost_sig, (lw_mono_ns() - start_ns) / 1000000u,
                               call, pc);
    if (w.l && w.saved.lock)
        lw_cond_reacquire(t, w.l, &w.saved, pc, cfa);
    lw_rule_cond_wait_end(w.cond);
    lw_leave(t);
    errno = e;
    return r;
}

static void cond_init_post(pthread_cond_t *c, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        lw_rule_cond_init((uintptr_t)c, pc);
        errno = e;
        lw_leave(t);
    }
}

static void cond_destroy_pre(pthread_cond_t *c, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (t) {
        int e = errno;
        lw_rule_cond_destroy(t, (uintptr_t)c, "pthread_cond_destroy", pc);
        errno = e;
        lw_leave(t);
    }
}

/* Who holds the mutex at m now (lost.h): glibc's owner word; unknown for a
 * process-shared one. */
static int mutex_holder(uintptr_t m)
{
    const pthread_mutex_t *pm = (const pthread_mutex_t *)m;
    if (lw_glibc_mutex_pshared(pm))
        return -1;
    return lw_glibc_mutex_owner(pm);
}

/* Before a signal or broadcast: a signal that may be lost is recorded
 * (lost.h).  The usual one is decided inline by lw_lost_known_safe (loads
 * of the thread's own cache and log and of the condvar's node: no call, no
 * store, so no guard); the others enter lockwatch here. */
static LW_NOINLINE void cond_signal_slow(pthread_cond_t *c, bool broadcast, uintptr_t pc)
{
    lw_thread *t = lw_enter();
    if (!t)
        return;
    lw_lock *cn, *mn;
    int e = errno;
    if (lw_lost_suspect_slow(t, (uintptr_t)c, &cn, &mn))
        lw_lost_record(t, cn, mn, broadcast, mutex_holder, pc);
    errno = e;
    lw_leave(t);
}

static inline void cond_signal_pre(pthread_cond_t *c, bool broadcast, uintptr_t pc)
{
    lw_thread *t = lw_fast();
    if (LW_LIKELY(t != NULL) && !lw_lost_known_safe(t, (uintptr_t)c))
        cond_signal_slow(c, broadcast, pc);
}

/* Each entry point exists twice, each bound to its own libc version; the
 * lw_cond_* names themselves are kept local by liblockwatch.map. */
#define LW_COND_VERSIONS(sfx, is_old)                                                              \
    LW_EXPORT int lw_cond_init_##sfx(pthread_cond_t *c, const pthread_condattr_t *a)               \
    {                                                                                              \
        ensure_resolved();                                                                         \
        int r = lw_real_pthread_cond_init_##sfx(c, a);                                              \
        if (r == 0)                                              \
            cond_init_post(c, LW_PC());                                              \
        return r;                                              \
    }                                                                                              \
    LW_EXPORT int lw_cond_destroy_##sfx(pthread_cond_t *c)                                         \
    {                                                                                              \
        ensure_resolved();                                                                         \
        cond_destroy_pre(c, LW_PC());                                              \
        return lw_real_pthread_cond_destroy_##sfx(c);                                              \
    }                                                                                              \
    LW_EXPORT int lw_cond_signal_##sfx(pthread_cond_t *c)                                          \
    {                                                                                              \
        ensure_resolved();                                                                         \
        cond_signal_pre(c, false, LW_PC());                                                        \
        return lw_real_pthread_cond_signal_##sfx(c);                                               \
    }                                                                                              \
    LW_EXPORT int lw_cond_broadcast_##sfx(pthread_cond_t *c)                                       \
    {                                                                                              \
        ensure_resolved();                                                                         \
        cond_signal_pre(c, true, LW_PC());                                                         \
        return lw_real_pthread_cond_broadcast_##sfx(c);                                            \
    }                                                                                              \
    LW_EXPORT int lw_cond_wait_##sfx(pthread_cond_t *c, pthread_mutex_t *m)                        \
    {                                                                                              \
        LW_NOTE_FP();                                                                              \
        return cond_wait(is_old, WAIT_PLAIN, c, m, 0, NULL, LW_PC(), LW_CFA());                    \
    }                                                                                              \
    LW_EXPORT int lw_cond_timedwait_##sfx(pthread_cond_t *c, pthread_mutex_t *m,                   \
                                          const struct timespec *ts)                               \
    {                                                                                              \
        LW_NOTE_FP();                                                                              \
        return cond_wait(is_old, WAIT_TIMED, c, m, 0, ts, LW_PC(), LW_CFA());                      \
    }

LW_COND_VERSIONS(new, false)
LW_COND_VERSIONS(old, true)

__asm__(".symver lw_cond_init_new, pthread_cond_init@@GLIBC_2.3.2");
__asm__(".symver lw_cond_destroy_new, pthread_cond_destroy@@GLIBC_2.3.2");
__asm__(".symver lw_cond_signal_new, pthread_cond_signal@@GLIBC_2.3.2");
__asm__(".symver lw_cond_broadcast_new, pthread_cond_broadcast@@GLIBC_2.3.2");
__asm__(".symver lw_cond_wait_new, pthread_cond_wait@@GLIBC_2.3.2");
__asm__(".symver lw_cond_timedwait_new, pthread_cond_timedwait@@GLIBC_2.3.2");
__asm__(".symver lw_cond_init_old, pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver lw_cond_destroy_old, pthread_cond_destroy@GLIBC_2.2.5");
__asm__(".symver lw_cond_signal_old, pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver lw_cond_broadcast_old, pthread_cond_broadcast@GLIBC_2.2.5");
__asm__(".symver lw_cond_wait_old, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver lw_cond_timedwait_old, pthread_cond_timedwait@GLIBC_2.2.5");

LW_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *ts)
{
    LW_NOTE_FP();
    return cond_wait(false, WAIT_CLOCK, c, m, clk, ts, LW_PC(), LW_CFA());
}

/* ---- barriers: waits only another thread ends ---- */

LW_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (LW_UNLIKELY(!lw_load_relaxed(&lw_core_ready)))
        lw_intercept_init();
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_barrier_wait)(b);
    int e = errno;
    lw_sleeper *s = lw_glibc_barrier_pshared(b)
                        ? NULL
                        : lw_sleep_begin(t, LW_SLEEP_BARRIER, (uintptr_t)b, NULL, NULL, 0, 0,
                                         LW_PC(), NULL);
    errno = e;
    lw_leave(t);
    int r = LW_REAL(pthread_barrier_wait)(b);
    lw_sleep_end(s);
    return r;
}
