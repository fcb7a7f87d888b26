/*
 * intercept_thread.c: pthread_create and C11 thrd_create.  A new thread gets
 * its lockwatch number and creation backtrace from its creator through a
 * trampoline record (pooled: thread churn does not grow memory).
 */
#include "arena.h"
#include "intercept.h"
#include "stacks.h"

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

void lw_thread_atfork_child_pools(void)
{
    lw_mutex_reset(&tramp_pool.lock);
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

static struct tramp tramp_take(void *p)
{
    struct tramp tr = *(struct tramp *)p;
    lw_thread *t = &lw_self;
    t->guard++;
    lw_pool_put(&tramp_pool, p);
    lw_thread_adopt(t, tr.num, tr.parent, tr.stack);
    t->guard--;
    return tr;
}

static void *trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    return tr.fn(tr.arg);
}

static int c11_trampoline(void *p)
{
    struct tramp tr = tramp_take(p);
    return tr.cfn(tr.arg);
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
