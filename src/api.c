/*
 * api.c: the public lockwatch_* functions (include/lockwatch.h).
 */
#include "intercept.h"
#include "finding.h"
#include "arena.h"

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
