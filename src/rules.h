/*
 * rules.h: the misuse rules and the blocking-call rule.  Each is a small
 * function over core state, called by an interposer at one point of its
 * pre / real / post shape; each reports through report.h, once per distinct
 * problem (call site and locks involved).
 */
#ifndef LW_RULES_H
#define LW_RULES_H

#include "lw_base.h"
#include "thread.h"
#include "options.h"

/* ---- blocking calls (LOCKWATCH_BLOCKING, LOCKWATCH_BLOCKING_MIN_US) ----
 * A wrapper of a call that may block does, with the guard NOT set:
 *
 *     if (LW_LIKELY(!lw_blocking_watch()))          // one TLS read
 *         return real(...);
 *     lw_block_ctx c;
 *     lw_blocking_before(&c, "read", family, LW_PC(), LW_CFA());
 *     ret = real(...);
 *     lw_blocking_after(&c);                         // preserves errno
 *     return ret;
 *
 * family is one LW_FAM_* bit (for fd calls, from lw_fd_family()); 0 means
 * "cannot block" (e.g. a regular file for poll, /dev/null) and is ignored.
 * `except` (lw_blocking_before_except) names a lock whose holding is part of
 * the call itself (the condvar's own mutex), which does not count. */
typedef struct {
    const char *call;
    unsigned family;
    uintptr_t pc, cfa;
    uint64_t start_ns;        /* set when the report waits for MIN_US */
    bool active;              /* a report is due or pending */
    uintptr_t except;         /* lock address not counted */
} lw_block_ctx;

static inline bool lw_blocking_watch(void)
{
    /* The held count and guard are this thread's own: no atomics. */
    return lw_self.nheld != 0 && lw_self.guard == 0;
}

void lw_blocking_before(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                        uintptr_t cfa);
void lw_blocking_before_except(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                               uintptr_t cfa, uintptr_t except);
void lw_blocking_after(lw_block_ctx *c);
/* Family of a blocking I/O call on fd: LW_FAM_NET (socket), LW_FAM_PIPE
 * (pipe, FIFO, terminal), LW_FAM_FILE (regular file, block device), or 0
 * (cannot block: other character devices, non-blocking descriptors). */
unsigned lw_fd_family(int fd);
const char *lw_family_name(unsigned family);

/* True the first time `sig` is offered: the caller then reports. */
bool lw_first_time(uint64_t sig);
void lw_rules_atfork_child(void);

#endif
