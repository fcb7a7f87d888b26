/*
 * intercept.c: resolving the real functions, start-up, fork handlers.
 * Owns: the lw_real_* pointers.  Must never: call an interposed function
 * without the guard set (it would observe itself).
 */
#include "intercept.h"
#include "race.h"
#include "asleep.h"
#include "options.h"
#include "report.h"
#include "arena.h"

#include <dlfcn.h>

/* glibc's internal-alias entry points: usable before dlsym has run. */
extern int __pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
extern int __pthread_mutex_destroy(pthread_mutex_t *);
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_rwlock_init(pthread_rwlock_t *, const pthread_rwlockattr_t *);
extern int __pthread_rwlock_destroy(pthread_rwlock_t *);
extern int __pthread_rwlock_rdlock(pthread_rwlock_t *);
extern int __pthread_rwlock_tryrdlock(pthread_rwlock_t *);
extern int __pthread_rwlock_wrlock(pthread_rwlock_t *);
extern int __pthread_rwlock_trywrlock(pthread_rwlock_t *);
extern int __pthread_rwlock_unlock(pthread_rwlock_t *);

#define LW_DEFINE_REAL(ret, name, args) ret(*lw_real_##name) args;
LW_REAL_FUNCS(LW_DEFINE_REAL)
#define LW_DEFINE_COND(ret, name, args) \
    ret(*lw_real_##name##_new) args;    \
    ret(*lw_real_##name##_old) args;
LW_COND_FUNCS(LW_DEFINE_COND)
int (*lw_real___libc_start_main)(int (*)(int, char **, char **), int, char **, void (*)(void),
                                 void (*)(void), void (*)(void), void *);

static void set_fallbacks(void)
{
    lw_real_pthread_mutex_init = __pthread_mutex_init;
    lw_real_pthread_mutex_destroy = __pthread_mutex_destroy;
    lw_real_pthread_mutex_lock = __pthread_mutex_lock;
    lw_real_pthread_mutex_trylock = __pthread_mutex_trylock;
    lw_real_pthread_mutex_unlock = __pthread_mutex_unlock;
    lw_real_pthread_rwlock_init = __pthread_rwlock_init;
    lw_real_pthread_rwlock_destroy = __pthread_rwlock_destroy;
    lw_real_pthread_rwlock_rdlock = __pthread_rwlock_rdlock;
    lw_real_pthread_rwlock_tryrdlock = __pthread_rwlock_tryrdlock;
    lw_real_pthread_rwlock_wrlock = __pthread_rwlock_wrlock;
    lw_real_pthread_rwlock_trywrlock = __pthread_rwlock_trywrlock;
    lw_real_pthread_rwlock_unlock = __pthread_rwlock_unlock;
}

static int resolve_state;   /* 0 not yet, 1 running, 2 done */

void lw_resolve_all(void)
{
    int s = 0;
    if (!lw_cas_acq_rel(&resolve_state, &s, 1)) {
        /* Another thread is resolving (or this one, re-entered through
         * dlsym): the fallbacks serve until it is done. */
        return;
    }
    set_fallbacks();
    lw_mem_resolve();
    lw_guard_up();
    void *p;
#define LW_RESOLVE(ret, name, args)                                   \
    if ((p = dlsym(RTLD_NEXT, #name)) != NULL)                        \
        lw_real_##name = (ret(*) args)p;
    LW_REAL_FUNCS(LW_RESOLVE)
#define LW_RESOLVE_COND(ret, name, args)                              \
    lw_real_##name##_new = (ret(*) args)dlvsym(RTLD_NEXT, #name, "GLIBC_2.3.2"); \
    lw_real_##name##_old = (ret(*) args)dlvsym(RTLD_NEXT, #name, "GLIBC_2.2.5"); \
    if (!lw_real_##name##_new)                                        \
        lw_real_##name##_new = (ret(*) args)dlsym(RTLD_NEXT, #name);  \
    if (!lw_real_##name##_old)                                        \
        lw_real_##name##_old = lw_real_##name##_new;
    LW_COND_FUNCS(LW_RESOLVE_COND)
    lw_real___libc_start_main = (int (*)(int (*)(int, char **, char **), int, char **,
                                         void (*)(void), void (*)(void), void (*)(void),
                                         void *))dlsym(RTLD_NEXT, "__libc_start_main");
    lw_guard_down();
    lw_store_release(&resolve_state, 2);
}

/* ---- fork ----
 * Registered first thing (PITFALLS 13), so glibc runs our prepare handler
 * after the program's (which may lock through our wrappers) and our parent
 * and child handlers before the program's.  prepare takes every internal
 * lock in the order listed in arena.h: the core's, then the trampoline
 * pool, then the arena lock. */

/* This thread's prepare took the locks (and raised the guard).  A fork
 * from a signal handler that interrupted lockwatch itself (guard set) must
 * not: the interrupted code may hold any of them.  That child is then on
 * its own, as glibc's own state is in that case. */
static LW_TLS bool fork_locked;

static void atfork_prepare(void)
{
    fork_locked = false;
    if (!lw_load_relaxed(&lw_core_ready) || lw_guarded())
        return;
    lw_guard_up();
    lw_core_atfork_prepare();
    lw_thread_atfork_prepare_pools();
    lw_arena_atfork_prepare();
    fork_locked = true;
}

static void atfork_parent(void)
{
    if (!fork_locked)
        return;
    fork_locked = false;
    lw_arena_atfork_parent();
    lw_thread_atfork_parent_pools();
    lw_core_atfork_parent();
    lw_guard_down();
}

static void atfork_child(void)
{
    if (!fork_locked)
        return;
    fork_locked = false;
    lw_arena_atfork_child();
    lw_thread_atfork_child_pools();
    lw_core_atfork_child();
    lw_sleep_atfork_child();
    lw_race_atfork_child();
    lw_guard_down();
}

/* ---- start-up ---- */

static int init_done;

static bool intercept_init_once(char **envp);

/* Start-up runs system calls and dlsym: the program's errno stays. */
static bool intercept_init(char **envp)
{
    int e = errno;
    bool r = intercept_init_once(envp);
    errno = e;
    return r;
}

static bool intercept_init_once(char **envp)
{
    if (lw_load_acquire(&init_done))
        return lw_load_relaxed(&lw_core_ready);
    if (lw_guarded())
        return false;   /* re-entered from our own start-up */
    lw_resolve_all();
    if (lw_load_acquire(&resolve_state) != 2)
        return false;
    lw_guard_up();
    int expected = 0;
    static int started;
    if (lw_cas_acq_rel(&started, &expected, 1)) {
        /* Fork handlers first (PITFALLS 13), then the core. */
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        lw_relock_stale = lw_relock_stale_glibc;
        lw_core_init(envp, (const void *)lw_intercept_init);
        lw_store_release(&init_done, 1);
    } else {
        while (!lw_load_acquire(&init_done))
            lw_cpu_relax();
    }
    lw_guard_down();
    return lw_load_relaxed(&lw_core_ready);
}

lw_thread *lw_enter_slow(void)
{
    if (LW_UNLIKELY(!lw_load_relaxed(&lw_core_ready)) && !lw_intercept_init())
        return NULL;
    lw_thread *t = lw_tls.t;
    if (lw_tls.guard)
        return NULL;
    if (t == &lw_dormant && (t = lw_thread_attach()) == NULL)
        return NULL;
    if (t->guard)
        return NULL;   /* inside lockwatch, or lw_gone */
    t->guard = 1;
    lw_compiler_barrier();
    if (!t->ready)
        lw_thread_first_use(t);
    return t;
}

bool lw_intercept_init(void)
{
    return intercept_init(NULL);
}

/* glibc calls constructors with (argc, argv, envp).  With -z initfirst we
 * run before libc has set `environ`, so the environment comes from here. */
__attribute__((constructor(101))) static void lw_constructor(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    intercept_init(envp);
}
