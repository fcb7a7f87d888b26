/*
 * intercept_thread.c: pthread_create and C11 thrd_create.  A new thread gets
 * its lockwatch number and creation backtrace from its creator through a
 * trampoline record (pooled: thread churn does not grow memory).
 */
#include "arena.h"
#include "intercept.h"
#include "stacks.h"
#include "deadlock.h"
#include "rules.h"

struct tramp {
    void *link; /* pool link: first word */
    void *(*fn)(void *);
    int (*cfn)(void *);
    void *arg;
    uint32_t num, parent, stack;
};

static lw_pool tramp_pool = LW_POOL_INIT(sizeof(struct tramp));

void lw_thread_atfork_prepare_pools(void)
{
    lw_mutex_lock(&tramp_pool.lock);
}

void lw_thread_atfork_parent_pools(void)
{
    lw_mutex_unlock(&tramp_pool.lock);
}

static int exit_key_state;   /* 0 none, 1 creating, 2 ready, 3 failed */

void lw_thread_atfork_child_pools(void)
{
    lw_mutex_reset(&tramp_pool.lock);
    /* A thread that is not in the child was creating the key: create one
     * again (at worst one key is lost) rather than wait for ever. */
    if (lw_load_relaxed(&exit_key_state) == 1)
        lw_store_release(&exit_key_state, 0);
}

/* Under the guard. */
static struct tramp *tramp_new(lw_thread *t)
{
    struct tramp *tr = lw_pool_get(&tramp_pool);
    if (!tr)
        return NULL;
    tr->num = lw_thread_new_number();
    tr->parent = t->num;
    tr->stack = lw_stack_capture();
    return tr;
}

/* ---- thread ends: exit-holding-lock ---- */

static pthread_key_t exit_key;

/* TSD destructor: runs as any non-main thread ends (return, pthread_exit,
 * cancellation), after its cleanup handlers. */
static void thread_ended(void *v)
{
    (void)v;
    lw_thread *t = &lw_self;
    if (!lw_load_relaxed(&lw_core_ready))
        return;
    t->guard++;
    lw_rule_thread_exit(t, "ended (cancelled, or left without pthread_exit)", 0, false);
    t->guard--;
}

void lw_thread_watch_exit(void)
{
    int s = 0;
    if (lw_cas_acq_rel(&exit_key_state, &s, 1))
        lw_store_release(&exit_key_state, pthread_key_create(&exit_key, thread_ended) == 0 ? 2 : 3);
    while ((s = lw_load_acquire(&exit_key_state)) == 1)
        lw_cpu_relax();
    if (s == 2)
        pthread_setspecific(exit_key, (void *)1);
}

void lw_thread_first_use(lw_thread *t)
{
    lw_thread_setup(t);
    if (t->num != 0)
        lw_thread_watch_exit();
}

static struct tramp tramp_take(void *p)
{
    struct tramp tr = *(struct tramp *)p;
    lw_thread *t = &lw_self;
    t->guard++;
    lw_pool_put(&tramp_pool, p);
    lw_thread_adopt(t, tr.num, tr.parent, tr.stack);
    lw_thread_watch_exit();
    t->guard--;
    return tr;
}

static void returned(uintptr_t routine)
{
    lw_thread *t = &lw_self;
    t->guard++;
    lw_store_release(&t->routine_done, 1);
    lw_rule_thread_exit(t, "returned from its start routine", routine, true);
    t->guard--;
}

static void *trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    void *r = tr.fn(tr.arg);
    returned((uintptr_t)tr.fn);
    return r;
}

static int c11_trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    int r = tr.cfn(tr.arg);
    returned((uintptr_t)tr.cfn);
    return r;
}

LW_EXPORT void pthread_exit(void *ret)
{
    lw_thread *t = lw_enter();
    if (t) {
        lw_store_release(&t->routine_done, 1);
        lw_rule_thread_exit(t, "called pthread_exit", LW_PC(), false);
        lw_leave(t);
    }
    if (!lw_real_pthread_exit)
        lw_resolve_all();
    lw_real_pthread_exit(ret);
    __builtin_unreachable();
}

/* ---- joins: blocking calls, and waits that can deadlock ---- */

static void join_cancelled(void *w)
{
    lw_thread *t = &lw_self;
    t->guard++;
    lw_wait_end(t, w);
    t->guard--;
}

LW_EXPORT int pthread_join(pthread_t th, void **ret)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_join)(th, ret);
    lw_leave(t);
    uintptr_t pc = LW_PC(), cfa = LW_CFA();
    lw_block_ctx bc;
    bc.active = false;
    int r = LW_REAL(pthread_tryjoin_np)(th, ret);
    if (r == EBUSY) {
        /* A join is a blocking call under a lock when it waits for the
         * program's own code: not when the thread ends within a wait slice
         * (it was finishing: a pool joining workers that said they are
         * done), nor when it has returned from its start routine or called
         * pthread_exit (it is only exiting).  A joinable thread's
         * descriptor, and so its TLS, lives until it is joined. */
        struct timespec ts;
        lw_wait_deadline(&ts);
        r = LW_REAL(pthread_clockjoin_np)(th, ret, CLOCK_MONOTONIC, &ts);
        if (r == ETIMEDOUT && LW_UNLIKELY(lw_blocking_watch()) &&
            !lw_load_acquire(&lw_thread_of(th)->routine_done))
            lw_blocking_before(&bc, "pthread_join", LW_FAM_WAIT, pc, cfa);
        if (r == ETIMEDOUT) {
            lw_reenter(t);
            lw_waitrec *w = lw_wait_begin(t, NULL, 0, &th, false);
            lw_leave(t);
            pthread_cleanup_push(join_cancelled, w);
            do {
                lw_reenter(t);
                lw_wait_check(t, w);
                lw_leave(t);
                lw_wait_deadline(&ts);
                r = LW_REAL(pthread_clockjoin_np)(th, ret, CLOCK_MONOTONIC, &ts);
            } while (r == ETIMEDOUT);
            pthread_cleanup_pop(1);
        }
    }
    lw_blocking_after(&bc);
    return r;
}

LW_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *ts)
{
    lw_block_ctx bc;
    bc.active = false;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before(&bc, "pthread_timedjoin_np", LW_FAM_WAIT, LW_PC(), LW_CFA());
    if (!lw_real_pthread_timedjoin_np)
        lw_resolve_all();
    int r = lw_real_pthread_timedjoin_np(th, ret, ts);
    lw_blocking_after(&bc);
    return r;
}

LW_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
                                   const struct timespec *ts)
{
    lw_block_ctx bc;
    bc.active = false;
    if (LW_UNLIKELY(lw_blocking_watch()))
        lw_blocking_before(&bc, "pthread_clockjoin_np", LW_FAM_WAIT, LW_PC(), LW_CFA());
    if (!lw_real_pthread_clockjoin_np)
        lw_resolve_all();
    int r = lw_real_pthread_clockjoin_np(th, ret, clk, ts);
    lw_blocking_after(&bc);
    return r;
}

LW_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(pthread_create)(th, attr, fn, arg);
    int e = errno;
    struct tramp *tr = tramp_new(t);
    errno = e;
    lw_leave(t);
    if (!tr)
        return LW_REAL(pthread_create)(th, attr, fn, arg);
    tr->fn = fn;
    tr->arg = arg;
    int r = LW_REAL(pthread_create)(th, attr, trampoline, tr);
    if (r != 0) {
        lw_reenter(t);
        lw_pool_put(&tramp_pool, tr);
        lw_leave(t);
    }
    return r;
}

LW_EXPORT int thrd_create(thrd_t *th, thrd_start_t fn, void *arg)
{
    lw_thread *t = lw_enter();
    if (!t)
        return LW_REAL(thrd_create)(th, fn, arg);
    int e = errno;
    struct tramp *tr = tramp_new(t);
    errno = e;
    lw_leave(t);
    if (!tr)
        return LW_REAL(thrd_create)(th, fn, arg);
    tr->cfn = fn;
    tr->arg = arg;
    int r = LW_REAL(thrd_create)(th, c11_trampoline, tr);
    if (r != thrd_success) {
        lw_reenter(t);
        lw_pool_put(&tramp_pool, tr);
        lw_leave(t);
    }
    return r;
}
