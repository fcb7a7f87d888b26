/*
 * intercept.h: what every interposer file shares: the real functions, the
 * prologue that decides between "observe" and "pass straight through", and
 * how a wrapper names its call site.
 *
 * A wrapper is: lw_enter (NULL: pass through), pre-event, lw_leave, the real
 * call, post-event under lw_reenter/lw_leave.  No policy lives here; it is
 * in the core (lw_core.c).  errno is the program's: wrappers restore it
 * around everything lockwatch does.
 */
#ifndef LW_INTERCEPT_H
#define LW_INTERCEPT_H

#include <pthread.h>
#include <threads.h>
#include <errno.h>
#include <time.h>
#include <signal.h>

#include "lw_base.h"
#include "lw_atomic.h"
#include "lw_core.h"
#include "lw_glibc.h"
#include "rules.h"
#include "jitter.h"

/* Real functions.  Mutex and rwlock pointers start at glibc's __pthread_*
 * aliases so they work even while dlsym itself is running (PITFALLS 2);
 * lw_resolve_all() replaces them with dlsym(RTLD_NEXT) results. */
#define LW_REAL_FUNCS(X)                                                                         \
    X(int, pthread_mutex_init, (pthread_mutex_t *, const pthread_mutexattr_t *))                  \
    X(int, pthread_mutex_destroy, (pthread_mutex_t *))                                           \
    X(int, pthread_mutex_lock, (pthread_mutex_t *))                                              \
    X(int, pthread_mutex_trylock, (pthread_mutex_t *))                                           \
    X(int, pthread_mutex_timedlock, (pthread_mutex_t *, const struct timespec *))               \
    X(int, pthread_mutex_clocklock, (pthread_mutex_t *, clockid_t, const struct timespec *))    \
    X(int, pthread_mutex_unlock, (pthread_mutex_t *))                                            \
    X(int, pthread_rwlock_init, (pthread_rwlock_t *, const pthread_rwlockattr_t *))              \
    X(int, pthread_rwlock_destroy, (pthread_rwlock_t *))                                         \
    X(int, pthread_rwlock_rdlock, (pthread_rwlock_t *))                                          \
    X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t *))                                       \
    X(int, pthread_rwlock_timedrdlock, (pthread_rwlock_t *, const struct timespec *))           \
    X(int, pthread_rwlock_clockrdlock, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_wrlock, (pthread_rwlock_t *))                                          \
    X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t *))                                       \
    X(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *, const struct timespec *))           \
    X(int, pthread_rwlock_clockwrlock, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_unlock, (pthread_rwlock_t *))                                          \
    X(int, pthread_spin_init, (pthread_spinlock_t *, int))                                       \
    X(int, pthread_spin_destroy, (pthread_spinlock_t *))                                         \
    X(int, pthread_spin_lock, (pthread_spinlock_t *))                                            \
    X(int, pthread_spin_trylock, (pthread_spinlock_t *))                                         \
    X(int, pthread_spin_unlock, (pthread_spinlock_t *))                                          \
    X(int, pthread_cond_clockwait, (pthread_cond_t *, pthread_mutex_t *, clockid_t,             \
                                    const struct timespec *))                                    \
    X(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))    \
    X(int, mtx_init, (mtx_t *, int))                                                             \
    X(void, mtx_destroy, (mtx_t *))                                                              \
    X(int, mtx_lock, (mtx_t *))                                                                  \
    X(int, mtx_trylock, (mtx_t *))                                                               \
    X(int, mtx_timedlock, (mtx_t *__restrict, const struct timespec *__restrict))                \
    X(int, mtx_unlock, (mtx_t *))                                                                \
    X(int, cnd_wait, (cnd_t *, mtx_t *))                                                         \
    X(int, cnd_timedwait, (cnd_t *__restrict, mtx_t *__restrict,                                 \
                           const struct timespec *__restrict))                                   \
    X(int, thrd_create, (thrd_t *, thrd_start_t, void *))                                        \
    X(int, pthread_barrier_wait, (pthread_barrier_t *))                                          \
    X(int, pthread_join, (pthread_t, void **))                                                   \
    X(int, pthread_tryjoin_np, (pthread_t, void **))                                             \
    X(int, pthread_timedjoin_np, (pthread_t, void **, const struct timespec *))                  \
    X(int, pthread_clockjoin_np, (pthread_t, void **, clockid_t, const struct timespec *))       \
    X(void, pthread_exit, (void *))                                                              \
    X(void, exit, (int))                                                                         \
    X(void, _exit, (int))                                                                        \
    X(void, _Exit, (int))                                                                        \
    X(int, pthread_sigmask, (int, const sigset_t *, sigset_t *))                                 \
    X(int, sigprocmask, (int, const sigset_t *, sigset_t *))

/* Condition variables exist in two ABI versions (PITFALLS 3); each of our
 * versioned entry points forwards to the same version in libc. */
#define LW_COND_FUNCS(X)                                                                         \
    X(int, pthread_cond_init, (pthread_cond_t *, const pthread_condattr_t *))                    \
    X(int, pthread_cond_destroy, (pthread_cond_t *))                                             \
    X(int, pthread_cond_signal, (pthread_cond_t *))                                              \
    X(int, pthread_cond_broadcast, (pthread_cond_t *))                                           \
    X(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *))                             \
    X(int, pthread_cond_timedwait, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *))

#define LW_DECLARE_REAL(ret, name, args) extern ret(*lw_real_##name) args;
LW_REAL_FUNCS(LW_DECLARE_REAL)
#define LW_DECLARE_COND(ret, name, args) \
    extern ret(*lw_real_##name##_new) args; \
    extern ret(*lw_real_##name##_old) args;
LW_COND_FUNCS(LW_DECLARE_COND)
extern int (*lw_real___libc_start_main)(int (*)(int, char **, char **), int, char **,
                                        void (*)(void), void (*)(void), void (*)(void), void *);

#define LW_REAL(name) (*lw_real_##name)

/* Resolve every real function; safe to call again.  Returns once done. */
void lw_resolve_all(void);
/* The same for free, realloc, reallocarray, munmap, mremap
 * (intercept_mem.c), which also resolve themselves on first use. */
void lw_mem_resolve(void);
/* Bring lockwatch up (resolve, options, core); false while that is
 * impossible (re-entered during start-up) or failed. */
bool lw_intercept_init(void);

#define LW_PC()  ((uintptr_t)__builtin_return_address(0))
#define LW_CFA() ((uintptr_t)__builtin_dwarf_cfa())
/* The caller's frame pointer (its rbp at the call), noted for the core
 * (lw_tls.fp): asking for the frame address makes the compiler give the
 * function a standard frame (push %rbp; mov %rsp, %rbp), whose first word
 * is the caller's rbp.  Every function through which an acquisition can
 * reach the core's new-edge path notes it at entry, so the core never
 * reads one noted for another call (acqstack.h). */
#define LW_NOTE_FP() (lw_tls.fp = *(const uintptr_t *)__builtin_frame_address(0))

/* The calling thread's own state, attached now (lw_tls.t was lw_dormant);
 * NULL when none can be had (the thread then goes unwatched). */
lw_thread *lw_thread_attach(void);
/* Gives the calling thread's state back (its end has been handled): from
 * now on its calls pass through (lw_gone). */
void lw_thread_detach(void);
/* First event of a thread lockwatch did not see created. */
void lw_thread_first_use(lw_thread *t);
/* This thread's state must be checked when it ends (exit-holding-lock). */
void lw_thread_watch_exit(void);

/* Enter lockwatch from a wrapper: the thread's state with the guard set,
 * or NULL when the call must pass through (inside lockwatch already, or
 * lockwatch is not running).  The usual case is one word compared. */
lw_thread *lw_enter_slow(void);
static inline lw_thread *lw_enter(void)
{
    /* lw_tls.t read where it is used, not kept in a variable: callers
     * that set up a cancellation handler (a setjmp) would have gcc warn
     * that the variable may be clobbered. */
    if (LW_LIKELY(lw_tls.t->gate == LW_GATE_OPEN)) {
        lw_tls.t->guard = 1;
        lw_compiler_barrier();
        return lw_tls.t;
    }
    return lw_enter_slow();
}

/* The same test without entering: fast paths that make no call and leave
 * the thread's state consistent at every instruction need no guard. */
static inline lw_thread *lw_fast(void)
{
    lw_thread *t = lw_tls.t;
    return LW_LIKELY(t->gate == LW_GATE_OPEN) ? t : NULL;
}

static inline void lw_reenter(lw_thread *t)
{
    t->guard = 1;
    lw_compiler_barrier();
}

static inline void lw_leave(lw_thread *t)
{
    lw_compiler_barrier();
    t->guard = 0;
}

/* Mutex type from glibc's pthread_mutex_t (the low bits of __kind hold
 * PTHREAD_MUTEX_{NORMAL,RECURSIVE,ERRORCHECK,ADAPTIVE}_NP; higher bits are
 * robust/PI/PP/pshared flags we do not need here). */
#define LW_GLIBC_MUTEX_KIND_MASK 3
#define LW_GLIBC_MUTEX_ROBUST    16   /* PTHREAD_MUTEX_ROBUST_NORMAL_NP */
#define LW_GLIBC_MUTEX_DESTROYED (-1) /* __kind after pthread_mutex_destroy */
/* Mutexes whose __list glibc uses, or that are not this process's alone:
 * no node hint (below). */
#define LW_MUTEX_NOHINT_KINDS 0xf0   /* robust 16, PI 32, PP 64, pshared 128 */
/* The mutex's type bits and LW_MTYPE_NOHINT when it cannot carry a hint. */
static inline unsigned lw_mutex_type(const pthread_mutex_t *m)
{
    int k = m->__data.__kind;
    if (k == LW_GLIBC_MUTEX_DESTROYED)
        return 0;
    return (unsigned)(k & (LW_GLIBC_MUTEX_KIND_MASK | LW_GLIBC_MUTEX_ROBUST)) |
           (k & LW_MUTEX_NOHINT_KINDS ? LW_MTYPE_NOHINT : 0);
}

static inline bool lw_mutex_is_destroyed(const pthread_mutex_t *m)
{
    return m->__data.__kind == LW_GLIBC_MUTEX_DESTROYED;
}

/* The node hint.  glibc uses a mutex's __list field only for robust
 * mutexes (the robust list); pthread_mutex_init and the static initialisers
 * zero it.  For any other process-private mutex lockwatch keeps there the
 * node's slot (registry.h), tagged so that a zeroed or foreign value is no
 * slot: the next call finds the node without the hash.  The hint is only
 * trusted when the slot's record is registered at this very address, so a
 * copied, freed-and-reused or stale mutex at worst misses the hint. */
#define LW_SLOT_TAG 0x4c57a11eull    /* high half: never a user-space pointer */
static inline uintptr_t *lw_mutex_hint_word(const pthread_mutex_t *m)
{
    return (uintptr_t *)(void *)&((pthread_mutex_t *)m)->__data.__list.__prev;
}

static inline lw_lock *lw_mutex_cached(const pthread_mutex_t *m)
{
    /* Also excludes a destroyed mutex (__kind -1). */
    if (LW_UNLIKELY(m->__data.__kind & LW_MUTEX_NOHINT_KINDS))
        return NULL;
    uintptr_t w = __atomic_load_n(lw_mutex_hint_word(m), __ATOMIC_RELAXED);
    if (LW_UNLIKELY((w >> 32) != LW_SLOT_TAG))
        return NULL;
    return lw_slot_lookup((uint32_t)w, (uintptr_t)m);
}

/* The node's hint went into the object: say so (once), after it, so that a
 * thread that sees `hinted` also sees the hint (lw_*_check_reused). */
static inline void lw_note_hinted(lw_lock *l)
{
    if (!__atomic_load_n(&l->hinted, __ATOMIC_RELAXED))
        __atomic_store_n(&l->hinted, true, __ATOMIC_RELEASE);
}

static inline void lw_mutex_remember(pthread_mutex_t *m, lw_lock *l)
{
    if (l && l->slot && !(m->__data.__kind & LW_MUTEX_NOHINT_KINDS)) {
        __atomic_store_n(lw_mutex_hint_word(m), (uintptr_t)(LW_SLOT_TAG << 32 | l->slot),
                         __ATOMIC_RELAXED);
        lw_note_hinted(l);
    }
}

/* A lock of kind `kind`, of a class that can carry a hint, that lockwatch
 * has no hint for (slow paths): if its hint word is zero and the node at
 * its address is another lock's (lw_lock_superseded: it had stored its
 * hint there, it is of another kind, or it was made for a process-shared
 * or robust lock) while the lock is in the state the caller expects
 * (`as_expected`: free before the real lock call, the caller's after it),
 * the memory was set up anew without an init call (freed or unmapped and
 * reused zeroed, calloc, an assigned initializer): a new lock, so the old
 * node and its edges go (lw_forget_reused), and no phantom inversion runs
 * through reused memory. */
void lw_forget_reused(uintptr_t addr);
static inline void lw_check_reused(uintptr_t addr, enum lw_lock_kind kind, const uintptr_t *hint,
                                   bool as_expected)
{
    if (__atomic_load_n(hint, __ATOMIC_RELAXED) != 0)
        return;
    lw_lock *old = lw_registry_find(addr);
    if (old && as_expected && lw_lock_superseded(old, kind, hint))
        lw_forget_reused(addr);
}

/* owner: 0 before the real lock call (the mutex must be free), or the
 * caller's tid after it succeeded (the mutex must be the caller's). */
static inline void lw_mutex_check_reused(pthread_mutex_t *m, enum lw_lock_kind kind, int owner)
{
    if (!(m->__data.__kind & LW_MUTEX_NOHINT_KINDS))
        lw_check_reused((uintptr_t)m, kind, lw_mutex_hint_word(m),
                        owner ? lw_glibc_mutex_owner(m) == owner : !lw_glibc_mutex_locked(m));
}

/* A mutex's node if it has one (cond waits, C11): the hint, else the hash. */
static inline lw_lock *lw_mutex_find(pthread_mutex_t *m)
{
    lw_lock *l = lw_mutex_cached(m);
    if (LW_LIKELY(l != NULL))
        return l;
    l = lw_registry_find((uintptr_t)m);
    lw_mutex_remember(m, l);
    return l;
}

/* glibc's pthread_rwlock_destroy leaves the object unchanged, so lockwatch
 * marks a destroyed rwlock in a padding word that pthread_rwlock_init and
 * PTHREAD_RWLOCK_INITIALIZER both set to zero. */
#define LW_RWLOCK_POISON 0x4c57444553545259ul   /* "LWDESTRY" */
static inline bool lw_rwlock_is_destroyed(const pthread_rwlock_t *rw)
{
    return rw->__data.__pad2 == LW_RWLOCK_POISON;
}

/* An rwlock's node hint lives in the same padding word (the poison is not
 * a tagged slot), for process-private rwlocks: trusted as a mutex's is. */
static inline uintptr_t *lw_rwlock_hint_word(const pthread_rwlock_t *rw)
{
    return (uintptr_t *)(void *)&((pthread_rwlock_t *)rw)->__data.__pad2;
}

static inline lw_lock *lw_rwlock_cached(const pthread_rwlock_t *rw)
{
    uintptr_t w = __atomic_load_n(lw_rwlock_hint_word(rw), __ATOMIC_RELAXED);
    if (LW_UNLIKELY((w >> 32) != LW_SLOT_TAG) || LW_UNLIKELY(rw->__data.__shared != 0))
        return NULL;
    return lw_slot_lookup((uint32_t)w, (uintptr_t)rw);
}

static inline void lw_rwlock_remember(pthread_rwlock_t *rw, lw_lock *l)
{
    if (l && l->slot && rw->__data.__shared == 0 && !lw_rwlock_is_destroyed(rw)) {
        uintptr_t w = (uintptr_t)(LW_SLOT_TAG << 32 | l->slot);
        if (__atomic_load_n(lw_rwlock_hint_word(rw), __ATOMIC_RELAXED) != w)
            __atomic_store_n(lw_rwlock_hint_word(rw), w, __ATOMIC_RELAXED);
        lw_note_hinted(l);
    }
}

/* What a new node records of an rwlock: LW_MTYPE_NOHINT when it is
 * process-shared (no hint), LW_MTYPE_WRITERS_FIRST when waiting writers
 * hold back its readers. */
static inline unsigned lw_rwlock_mtype(const pthread_rwlock_t *rw)
{
    return (rw->__data.__shared != 0 ? LW_MTYPE_NOHINT : 0) |
           (lw_glibc_rwlock_writers_first(rw) ? LW_MTYPE_WRITERS_FIRST : 0);
}

/* lw_check_reused for an rwlock, before the real call (its hint word is
 * zero after pthread_rwlock_init and PTHREAD_RWLOCK_INITIALIZER alike). */
static inline void lw_rwlock_check_reused(pthread_rwlock_t *rw)
{
    if (rw->__data.__shared == 0)
        lw_check_reused((uintptr_t)rw, LW_KIND_RWLOCK, lw_rwlock_hint_word(rw),
                        !lw_glibc_rwlock_locked(rw));
}

/* Post-events of a successful init / destroy call (any lock family). */
void lw_note_init(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc);

/* Post-event of a successful mutex init (pthread and C11). */
void lw_note_mutex_init(pthread_mutex_t *m, enum lw_lock_kind kind, uintptr_t pc);
void lw_cond_release(lw_thread *t, lw_lock *l, lw_held *saved);
void lw_cond_reacquire(lw_thread *t, lw_lock *l, const lw_held *saved, uintptr_t pc,
                       uintptr_t cfa);

/* How to wait for one kind of lock in slices (deadlock.h): try without
 * blocking, and wait until an absolute CLOCK_MONOTONIC deadline. */
typedef struct {
    int (*try_)(void *obj);
    int (*until)(void *obj, const struct timespec *deadline);
    int busy;                 /* what try_ returns when the lock is taken */
} lw_waitops;

/* How a timed acquisition by t counts for the order graph: LW_ACQ_TIMED,
 * or, when t holds locks and the timeout (an absolute deadline on clk) is
 * at least LOCKWATCH_DEADLOCK_MS, LW_ACQ_TIMED_LONG with it: a wait that
 * long stalls the program like a deadlock before it fails. */
static inline unsigned lw_timed_how(const lw_thread *t, clockid_t clk, const struct timespec *abs)
{
    struct timespec now;
    if (LW_LIKELY(t->nheld == 0) || !abs || abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000L)
        return LW_ACQ_TIMED;
    int e = errno;
    int r = clock_gettime(clk, &now);
    errno = e;
    if (r != 0)
        return LW_ACQ_TIMED;
    int64_t ms = ((int64_t)abs->tv_sec - now.tv_sec) * 1000 + (abs->tv_nsec - now.tv_nsec) / 1000000;
    return ms >= (int64_t)lw_opt.deadlock_ms ? lw_acq_timed_long((uint64_t)ms) : LW_ACQ_TIMED;
}

/* Pre-event of an acquisition, under the guard it then drops.  Returns the
 * lock's node (NULL: not tracked) and whether the caller already holds it
 * in a way that cannot be granted (*relocked).  The fast path changes no
 * errno; every slow path restores it. */
static inline lw_lock *lw_acquire_pre(lw_thread *t, uintptr_t addr, enum lw_lock_kind kind,
                                      unsigned mtype, bool destroyed, unsigned mode,
                                      unsigned how, const char *call, uintptr_t pc,
                                      uintptr_t cfa, bool *relocked)
{
    lw_lock *l = NULL;
    *relocked = false;
    if (LW_UNLIKELY(destroyed)) {
        lw_rule_use_after_destroy(t, addr, kind, call, pc);
    } else {
        l = lw_lock_lookup(addr, kind, mtype, pc);
        if (LW_LIKELY(l != NULL)) {
            unsigned pre = lw_before_acquire(t, l, mode, how, pc, cfa, call);
            if (LW_UNLIKELY(pre == LW_PRE_STALE)) {
                /* A new lock where the one held was: a node of its own. */
                l = lw_lock_lookup(addr, kind, mtype, pc);
                pre = l ? lw_before_acquire(t, l, mode, how, pc, cfa, call) : LW_PRE_GO;
            }
            *relocked = pre == LW_PRE_RELOCKED;
        }
    }
    lw_leave(t);
    lw_jitter(t, LW_JIT_ACQUIRE);
    return l;
}

/* lw_acquire_pre for a mutex (pthread and C11 kinds): the node hint first. */
lw_lock *lw_mutex_pre_slow(lw_thread *t, pthread_mutex_t *m, enum lw_lock_kind kind,
                           unsigned how, const char *call, uintptr_t pc, uintptr_t cfa,
                           bool *relocked);
static inline lw_lock *lw_mutex_pre(lw_thread *t, pthread_mutex_t *m, enum lw_lock_kind kind,
                                    unsigned how, const char *call, uintptr_t pc,
                                    uintptr_t cfa, bool *relocked)
{
    lw_lock *l = lw_mutex_cached(m);
    if (LW_UNLIKELY(l == NULL))
        return lw_mutex_pre_slow(t, m, kind, how, call, pc, cfa, relocked);
    unsigned pre = lw_before_acquire(t, l, LW_MODE_WRITE, how, pc, cfa, call);
    if (LW_UNLIKELY(pre == LW_PRE_STALE))
        return lw_mutex_pre_slow(t, m, kind, how, call, pc, cfa, relocked);   /* a new node */
    *relocked = pre == LW_PRE_RELOCKED;
    lw_leave(t);
    lw_jitter(t, LW_JIT_ACQUIRE);
    return l;
}

/* The wait engine, for lock waits and joins whose first slice expired:
 * publishes the wait (for lock l in `mode`, or with l NULL a join of
 * *target), waits slice after slice with until() (absolute CLOCK_MONOTONIC
 * deadlines), checking for a wait-for cycle after each, and retracts the
 * wait however it ends (cancellation included).  Returns until()'s result. */
int lw_wait_published(lw_thread *t, lw_lock *l, unsigned mode, const pthread_t *target,
                      bool relocked, int (*until)(void *obj, const struct timespec *deadline),
                      void *obj);

/* A blocking acquisition: try, then (lw_wait_blocked) wait in slices,
 * publishing the wait for deadlock detection once it lasted a slice. */
int lw_wait_blocked(lw_thread *t, lw_lock *l, unsigned mode, void *obj, const lw_waitops *ops,
                    bool relocked);
static inline int lw_wait_acquire(lw_thread *t, lw_lock *l, unsigned mode, void *obj,
                                  const lw_waitops *ops, bool relocked)
{
    int r = ops->try_(obj);
    if (LW_LIKELY(r != ops->busy))
        return r;
    return lw_wait_blocked(t, l, mode, obj, ops, relocked);
}

/* The fast path's blocking mutex acquisition: the thread holds nothing,
 * so it can only be on a deadlock through a thread that joins it; it says
 * what it waits for in two words that joiner reads (deadlock.c: fast_wait,
 * and the call site in the unused held[0].pc) instead of waiting in
 * slices, and calls glibc's lock directly. */
void lw_mutex_busy(lw_thread *t, pthread_mutex_t *m);
void lw_mutex_busy_node(lw_thread *t, lw_lock *l);
static inline int lw_mutex_lock_fast(lw_thread *t, pthread_mutex_t *m, uintptr_t pc)
{
    /* Owned by another thread (this one holds nothing): this thread is
     * about to wait for it, so it is a user of the lock before it owns it
     * (lw_lock_user).  A racy peek at the word glibc's lock reads next. */
    if (LW_UNLIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) != 0))
        lw_mutex_busy(t, m);
    __atomic_store_n(&t->held[0].pc, pc, __ATOMIC_RELAXED);   /* for deadlock.c */
    __atomic_store_n(&t->fast_wait, (uintptr_t)m, __ATOMIC_RELAXED);
    int r = LW_REAL(pthread_mutex_lock)(m);
    __atomic_store_n(&t->fast_wait, 0, __ATOMIC_RELAXED);
    return r;
}

/* The same for a mutex, with the try called directly (the hottest path). */
extern const lw_waitops lw_mutex_waitops;
static inline int lw_mutex_acquire(lw_thread *t, lw_lock *l, pthread_mutex_t *m, bool relocked)
{
    int r = LW_REAL(pthread_mutex_trylock)(m);
    if (LW_LIKELY(r != EBUSY))
        return r;
    return lw_wait_blocked(t, l, LW_MODE_WRITE, m, &lw_mutex_waitops, relocked);
}

/* Unlock fast path: pops the innermost entry if it is addr, held once.
 * No guard needed: one store, and a signal handler that runs before it
 * sees the entry still held, as it is. */
static inline bool lw_pop_fast(lw_thread *t, uintptr_t addr)
{
    unsigned n = t->nheld;
    if (n != 0 && t->held[n - 1].addr == addr && t->held[n - 1].count == 1) {
        t->nheld = n - 1;
        return true;
    }
    return false;
}

/* Unlock pre-event: releases the lock from the held stack, or reports
 * unlock-not-owned (owner_tid as lw_rule_unlock_not_owned wants it). */
void lw_unlock_slow(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed, int owner_tid,
                    const char *call, uintptr_t pc);
static inline void lw_release_pre(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed,
                                  int owner_tid, const char *call, uintptr_t pc)
{
    /* The usual case: the innermost lock, held once. */
    if (LW_UNLIKELY(destroyed) || !lw_pop_fast(t, addr))
        lw_unlock_slow(t, addr, kind, destroyed, owner_tid, call, pc);
    lw_leave(t);
}

/* Post-event of a fast-path mutex acquisition (nothing was held): the
 * node hint is read only now that the call has the lock's cache line.
 * Anything unusual (no hint yet, a destroyed mutex) goes to the slow one. */
int lw_mutex_post_slow(lw_thread *t, pthread_mutex_t *m, enum lw_lock_kind kind, int r,
                       const char *call, uintptr_t pc, uintptr_t cfa);
static inline __attribute__((always_inline)) int
lw_mutex_post_fast(lw_thread *t, pthread_mutex_t *m, int r, const char *call, uintptr_t pc,
                   uintptr_t cfa)
{
    if (LW_LIKELY(r == 0)) {
        lw_lock *l = lw_mutex_cached(m);
        if (LW_LIKELY(l != NULL)) {
            /* The guard keeps a signal handler's locks off the half-pushed
             * entry. */
            lw_reenter(t);
            lw_held_push(t, l, LW_MODE_WRITE, pc, cfa);
            lw_leave(t);
            return r;
        }
    } else if (r == EBUSY || r == ETIMEDOUT) {
        return r;
    }
    return lw_mutex_post_slow(t, m, LW_KIND_MUTEX, r, call, pc, cfa);
}

/* pthread_mutex_lock with nothing held and a node hint: the held entry is
 * filled before glibc's lock, so that the critical section gains only the
 * publishing store (nheld) and the fast_wait reset; contended, every
 * nanosecond added inside it multiplies hand-offs and futex calls.
 * Published first and checked after: a signal handler that ran before the
 * publication and took a lock of its own reused held[0]; then the entry is
 * filled again (a handler that took this same mutex leaves only its call
 * site in the entry).  Anything else goes the way of lw_mutex_post_fast. */
int lw_mutex_lock_nohint(lw_thread *t, pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa);
void lw_held_refill_mode(lw_thread *t, unsigned i, lw_lock *l, unsigned mode, uintptr_t pc,
                        uintptr_t cfa);
static inline __attribute__((always_inline)) void
lw_held_publish_mode(lw_thread *t, unsigned n, lw_lock *l, uintptr_t addr, unsigned mode,
                     uintptr_t pc, uintptr_t cfa)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->nheld = n + 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (LW_UNLIKELY(t->held[n].lock != l || t->held[n].addr != addr ||
                    t->held[n].mode != mode))
        lw_held_refill_mode(t, n, l, mode, pc, cfa);
}

static inline __attribute__((always_inline)) void
lw_held_publish(lw_thread *t, unsigned n, lw_lock *l, pthread_mutex_t *m, uintptr_t pc,
                uintptr_t cfa)
{
    lw_held_publish_mode(t, n, l, (uintptr_t)m, LW_MODE_WRITE, pc, cfa);
}

static inline __attribute__((always_inline)) int
lw_mutex_lock_prepared(lw_thread *t, pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa)
{
    lw_lock *l = lw_mutex_cached(m);
    if (LW_UNLIKELY(l == NULL))
        return lw_mutex_lock_nohint(t, m, pc, cfa);
    if (LW_UNLIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) != 0) ||
        LW_UNLIKELY(!lw_lock_user_known(t, l)))
        lw_mutex_busy_node(t, l);   /* will wait, or a new user: lw_lock_user */
    lw_held_fill(t, 0, l, LW_MODE_WRITE, pc, cfa);   /* held[0].pc: for deadlock.c */
    __atomic_store_n(&t->fast_wait, (uintptr_t)m, __ATOMIC_RELAXED);
    int r = LW_REAL(pthread_mutex_lock)(m);
    __atomic_store_n(&t->fast_wait, 0, __ATOMIC_RELAXED);
    if (LW_LIKELY(r == 0)) {
        lw_held_publish(t, 0, l, m, pc, cfa);
        return 0;
    }
    return lw_mutex_post_slow(t, m, LW_KIND_MUTEX, r, "pthread_mutex_lock", pc, cfa);
}

/* pthread_mutex_lock with locks held, a node hint, l not held and the
 * held set's edges to l known (lw_acquire_known): the same try-then-slices
 * acquisition as the slow path, with the entry prepared before it and
 * published after, as above.  False: take the slow path (nothing changed). */
static inline __attribute__((always_inline)) bool
lw_mutex_lock_nested(lw_thread *t, pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa, int *rp)
{
    unsigned n = t->nheld;
    if (LW_UNLIKELY(n >= t->held_cap))
        return false;   /* the slow path grows the held stack */
    lw_lock *l = lw_mutex_cached(m);
    if (LW_UNLIKELY(l == NULL) || !lw_acquire_known(t, l, LW_MODE_WRITE))
        return false;
    if (LW_UNLIKELY(!lw_lock_user_known(t, l)))
        return false;
    lw_held_fill(t, n, l, LW_MODE_WRITE, pc, cfa);
    int r = lw_mutex_acquire(t, l, m, false);
    if (LW_LIKELY(r == 0))
        lw_held_publish(t, n, l, m, pc, cfa);
    *rp = r;
    return true;
}

/* Post-event of any acquisition: r is the real call's result. */
static inline int lw_lock_common(lw_thread *t, lw_lock *l, unsigned mode, int r, uintptr_t pc,
                                 uintptr_t cfa)
{
    /* EOWNERDEAD: a robust mutex whose owner died is now ours. */
    if (LW_LIKELY(l != NULL) && LW_LIKELY(r == 0 || r == EOWNERDEAD)) {
        lw_reenter(t);
        lw_after_acquire(t, l, mode, pc, cfa);
        lw_leave(t);
        lw_jitter(t, LW_JIT_ACQUIRED);
    }
    return r;
}

/* lw_relock_stale (lw_core.h) for glibc's locks: does the lock word say
 * the thread holds the lock it holds by its held stack? */
bool lw_relock_stale_glibc(lw_thread *t, lw_lock *l);

/* Destroy pre-event: reports destroy-locked or a second destroy. */
void lw_destroy_pre(lw_thread *t, uintptr_t addr, unsigned kind, bool destroyed, bool locked,
                    int holder_tid, const char *call, uintptr_t pc);
void lw_destroy_post(uintptr_t addr, uintptr_t pc);

void lw_thread_atfork_prepare_pools(void);
void lw_thread_atfork_parent_pools(void);
void lw_thread_atfork_child_pools(void);

#endif
