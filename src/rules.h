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
#include "finding.h"

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
    return lw_tls.t->nheld != 0 && lw_tls.t->guard == 0;
}

void lw_blocking_before(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                        uintptr_t cfa);
void lw_blocking_before_except(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                               uintptr_t cfa, uintptr_t except);
void lw_blocking_after(lw_block_ctx *c);
/* This call site with the locks now held was reported already (a per-thread
 * cache: no lock, no system call).  Lets a wrapper skip classifying the
 * call (fstat) at a site that was reported before. */
bool lw_blocking_known(uintptr_t pc);
/* Family of a blocking I/O call on fd: LW_FAM_NET (socket), LW_FAM_PIPE
 * (pipe, FIFO, terminal), LW_FAM_FILE (regular file, block device), or 0
 * (cannot block: other character devices, non-blocking descriptors). */
unsigned lw_fd_family(int fd);
const char *lw_family_name(unsigned family);

/* ---- misuse ----
 * Each reports once per call site.  Called with the guard set. */

/* Before an acquisition of l that this thread may already hold: reports
 * double-lock or rwlock-upgrade; true when the call cannot be granted to
 * this thread (it would wait for itself, or fail with EDEADLK). */
bool lw_rule_relock(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc, const char *call);
void lw_rule_use_after_destroy(lw_thread *t, uintptr_t addr, unsigned kind, const char *call,
                               uintptr_t pc);
/* LOCKWATCH_ASSERT_HELD (want_held) / LOCKWATCH_ASSERT_NOT_HELD at pc:
 * checks the lock at addr against t's held stack (any mode, any kind; a
 * lock lockwatch never saw is not held) and reports assert-held or
 * assert-not-held when the assertion is false.  Returns whether it held. */
bool lw_rule_assert_held(lw_thread *t, uintptr_t addr, bool want_held, uintptr_t pc);
/* owner_tid: > 0 the holder's tid, 0 not locked, -1 unknown. */
void lw_rule_unlock_not_owned(lw_thread *t, lw_lock *l, uintptr_t addr, unsigned kind,
                              int owner_tid, const char *call, uintptr_t pc);
void lw_rule_destroy_locked(lw_thread *t, lw_lock *l, uintptr_t addr, unsigned kind,
                            int holder_tid, bool self_holds, unsigned waiters, const char *call,
                            uintptr_t pc);
/* destroy-locked for memory released (free, realloc, munmap, mremap:
 * `call`, at pc) while t holds locks in it: locks[0..n) are named, of
 * `found` such locks, outermost first; held_pc is where t acquired the
 * first.  Once per (call site, acquisition site): frees often go through
 * one wrapper (operator delete, a pool's release function) whose call of
 * free is the same for every bug. */
void lw_rule_freed_locked(lw_thread *t, lw_lock *const *locks, unsigned n, unsigned found,
                          uintptr_t held_pc, const char *call, uintptr_t pc);
/* Where a lock was destroyed, for later use-after-destroy reports. */
void lw_note_destroyed(uintptr_t addr, uintptr_t pc);
/* Condition variables: returns the condvar's node for wait_end. */
lw_lock *lw_rule_cond_wait_begin(lw_thread *t, uintptr_t cond, uintptr_t mutex, bool held,
                                 const char *call, uintptr_t pc);
void lw_rule_cond_wait_end(lw_lock *c);
void lw_rule_cond_init(uintptr_t cond, uintptr_t pc);
void lw_rule_cond_destroy(lw_thread *t, uintptr_t cond, const char *call, uintptr_t pc);
/* A thread other than the main one ends; how: "returned from its start
 * routine", "called pthread_exit", "ended" (cancelled, or unseen).  site:
 * the pthread_exit call site or (site_is_routine) the start routine, 0 if
 * unknown; it makes the report once per site.  stack: the depot id of the
 * thread's stack where it ended (a decision made later, after its
 * destructors, has only those on its stack), 0 for the current stack. */
/* Join cycles: the end of a thread is a lock the thread holds for its
 * whole life, and a join acquires it.  t, holding locks, joins the thread
 * whose state is `target` (descriptor address `target_addr`): for every
 * lock t holds that target took (its acquisition log), the cycle
 * L => end(target) => L is a lock-order inversion, reported once per join
 * site (pc) and acquisition sites.  Unwinds only when it reports. */
void lw_rule_join_held(lw_thread *t, const lw_thread *target, uintptr_t target_addr,
                       uintptr_t pc);
void lw_rule_thread_exit(lw_thread *t, const char *how, uintptr_t site, bool site_is_routine,
                         uint32_t stack);

/* fork: pending_lock then seen_lock (arena.h lock order). */
void lw_rules_atfork_prepare(void);
void lw_rules_atfork_parent(void);
void lw_rules_atfork_child(void);

#endif
