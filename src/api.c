/*
 * api.c: the public lockwatch_* functions (include/lockwatch.h).  The
 * annotations are thin: the rules live in rules.c (assertions), lw_core.c
 * (declared order checked on new edges) and annotate.c (the tables).
 * A call made while lockwatch is not ready, or from inside lockwatch,
 * does nothing (and an assertion answers "true").
 */
#include "intercept.h"
#include "finding.h"
#include "arena.h"
#include "annotate.h"
#include "rules.h"
#include "stacks.h"
#include "log.h"

#include <lockwatch.h>
#include <string.h>

LW_EXPORT int lockwatch_active(void)
{
    return lw_load_relaxed(&lw_core_ready) ? 1 : 0;
}

LW_EXPORT unsigned long lockwatch_report_count(void)
{
    return (unsigned long)lw_findings_count();
}

LW_EXPORT unsigned long lockwatch_memory_bytes(void)
{
    return (unsigned long)lw_arena_bytes();
}

LW_EXPORT const char *lockwatch_version(void)
{
    return PACKAGE_VERSION;
}

LW_EXPORT void lockwatch_name_lock(const void *lock, const char *name)
{
    lw_thread *t = lw_enter();
    if (!t || !lock || !name)
        goto out;
    size_t n = strlen(name);
    if (n > 63)
        n = 63;
    char *copy = lw_arena_alloc(n + 1);
    if (copy) {
        memcpy(copy, name, n);
        copy[n] = 0;
        lw_lock_set_name((uintptr_t)lock, copy);
    }
out:
    if (t)
        lw_leave(t);
}

LW_EXPORT int lockwatch_assert_held(const void *lock, int held)
{
    uintptr_t pc = LW_PC();
    if (!lock) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: LOCKWATCH_ASSERT_%sHELD(NULL) ignored: it needs "
                     "a lock (this warning is given once)\n", held ? "" : "NOT_");
        return 1;
    }
    lw_thread *t = lw_enter();
    if (!t)
        return 1;
    bool ok = lw_rule_assert_held(t, (uintptr_t)lock, held != 0, pc);
    lw_leave(t);
    return ok ? 1 : 0;
}

LW_EXPORT void lockwatch_order(const void *first, const void *second)
{
    lw_thread *t = lw_enter();
    if (!t)
        return;
    /* Checked first: a bad pair costs a warning, not a backtrace. */
    if (first && second && first != second) {
        if (lw_order_declare((uintptr_t)first, (uintptr_t)second, lw_stack_capture()))
            lw_order_check_declared((uintptr_t)first, (uintptr_t)second);
    } else
        lw_order_declare((uintptr_t)first, (uintptr_t)second, 0);
    lw_leave(t);
}

LW_EXPORT void lockwatch_guarded_by_declare(const void *ptr, unsigned long size, const void *lock)
{
    lw_thread *t = lw_enter();
    if (!t)
        return;
    lw_guarded_declare((uintptr_t)ptr, (size_t)size, (uintptr_t)lock);
    lw_leave(t);
}

LW_EXPORT const void *lockwatch_guarded_by(const void *ptr)
{
    uintptr_t lock;
    /* No guard needed: the lookup calls nothing and takes no lock. */
    return lw_guarded_lookup((uintptr_t)ptr, &lock) ? (const void *)lock : NULL;
}
