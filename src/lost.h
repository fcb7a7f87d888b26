/*
 * lost.h: lost wake-ups (lockwatch(7), `lost-wakeup`).
 *
 * The bug: thread W takes mutex M, finds its condition false, and before
 * its pthread_cond_wait(C, M) another thread S makes the condition true and
 * signals C without holding M.  The signal finds nobody waiting and is
 * lost; W then waits for a wake-up that already happened.  Helgrind's
 * "dubious: associated lock is not held by any thread" warns at every
 * signal sent after an unlock, which POSIX allows and which most of those
 * programs do safely; lockwatch reports only the signature below, and only
 * once the wait it lost has ended badly.
 *
 * The signature, every part of it:
 *  1. a pthread_cond_signal or _broadcast on C finds no thread inside a
 *     wait on C (lw_lock.cond_waiters);
 *  2. C's mutex M (the mutex of the waits on C so far) is not held by S,
 *     and S never took M (its log of the locks it took, thread.h acq_key,
 *     and, since that log forgets, what S's cache entry for C remembers
 *     the log said at an earlier signal):
 *     a sender that takes M may have changed the condition under it, and
 *     then W, which took M after that, saw the change (the signal after
 *     unlock of every correct producer/consumer);
 *  3. M is held by another thread W at that moment;
 *  4. W waits on C with M in that same hold: its hold of M began before
 *     the signal and it has not let M go since (M's lost clock, below);
 *  5. that wait ends badly: W is asleep when every thread of the process
 *     is (asleep.h), or the wait is a timed one and times out.
 * 1-3 are checked at the signal, which records it ("a lost signal"); 4 at
 * the wait's start ("a match"); 5 turns a match into a finding.  A wait
 * that is woken is never reported, nor one that began in a later hold of
 * M (W re-checked its condition under M then).
 *
 * M's lost clock: lw_lock.lost_seq, bumped (seq_cst) by a signal that
 * passed 1-2, before it reads M's holder; every acquisition copies it into
 * its held entry (lw_held.lost_seen).  A hold whose copy is older than the
 * value the signal set began before the bump; the holder read after the
 * bump is that hold's thread, so W's hold at the signal and at the wait
 * are one hold (a hold taken in the few instructions between the real lock
 * and the copy can be missed: never reported wrongly).
 *
 * Lost signals are kept in a small table by condvar (LW_LOST_SLOTS, the
 * newest replacing): a signal evicted before its wait is not reported.
 * Costs: a signal pays a registry lookup and a load of the waiter count;
 * only a signal passing 1-2 while some thread holds M takes the table's
 * lock and unwinds.  A wait pays one load of its table slot.
 */
#ifndef LW_LOST_H
#define LW_LOST_H

#include "lw_base.h"
#include "thread.h"
#include "finding.h"

#define LW_LOST_SLOTS 64   /* lost signals remembered, one per condvar slot */

/* A lost signal, as recorded at the signal and copied at the wait. */
typedef struct lw_lost {
    uint64_t cond_id;          /* C's node id; 0: empty */
    uint64_t mutex_id;         /* M's node id */
    uint32_t seq;              /* M's lost_seq after this signal's bump */
    int holder_tid;            /* W: the tid holding M at the signal */
    bool broadcast;
    uintptr_t pc;              /* the signal's call */
    uint32_t stack;            /* depot id: the signal's stack */
    uint64_t ns;               /* when (monotonic) */
    /* The sender S. */
    uint32_t num, parent;
    int tid;
    char name[16];
    bool created_seen;
    uint32_t create_stack;
    /* Set by the match: where W took M. */
    uintptr_t acq_pc;
} lw_lost;

/* M's holder now: > 0 its tid, 0 nobody, < 0 unknown.  The interposer
 * reads glibc's lock word; tests give their own. */
typedef int (*lw_holder_fn)(uintptr_t mutex);

/* t signals (broadcast: broadcasts) the condvar at `cond`, at pc, before
 * the real call: records the signal when it passes 1-3.  holder is called
 * only for a mutex lockwatch knows as live.  Guard set.  It is the two
 * halves below: */
void lw_lost_signal(lw_thread *t, uintptr_t cond, bool broadcast, lw_holder_fn holder,
                    uintptr_t pc);
/* 1-2: true, with the nodes of the condvar and its mutex, when the signal
 * must go on to the record.  Reads t's own state and node records, looks
 * the registry up and refills t's cache (hints, checked on use): no call
 * out, so it would need no guard either. */
bool lw_lost_suspect_slow(lw_thread *t, uintptr_t cond, lw_lock **c, lw_lock **m);
static inline unsigned lw_lost_cache_slot(uintptr_t cond)
{
    return (unsigned)(cond >> 6) & (LW_LOST_CACHE - 1);
}
/* The usual signal, decided inline: a condvar this thread signalled
 * before, still the same incarnation (node ids are never reused) with the
 * same mutex, which this thread took (the signal after the unlock, the
 * signal under the lock): nothing to do.  A hint gone stale in between
 * (the mutex destroyed and set up again at its address) can only make this
 * say so wrongly: a miss, never a report. */
static inline bool lw_lost_known_safe(const lw_thread *t, uintptr_t cond)
{
    const __typeof__(t->lost_cache[0]) *e = &t->lost_cache[lw_lost_cache_slot(cond)];
    return LW_LIKELY(e->cond == cond) &&
           (LW_LIKELY(e->took) || t->acq_key[(unsigned)e->mid & (LW_ACQ_LOG - 1)] >> 1 == e->mid) &&
           __atomic_load_n(&e->c->id, __ATOMIC_RELAXED) == e->cid &&
           __atomic_load_n(&e->c->cond_mutex, __ATOMIC_RELAXED) == e->maddr;
}
static inline bool lw_lost_suspect(lw_thread *t, uintptr_t cond, lw_lock **c, lw_lock **m)
{
    return !lw_lost_known_safe(t, cond) && lw_lost_suspect_slow(t, cond, c, m);
}
/* 3 and the record (may unwind).  Guard set. */
void lw_lost_record(lw_thread *t, lw_lock *c, lw_lock *m, bool broadcast, lw_holder_fn holder,
                    uintptr_t pc);
/* t starts a wait on condvar c with mutex m, holding it in entry h (all
 * may be NULL): true, and *out, when a lost signal matches (1-4).  Before
 * the wait releases m.  Guard set. */
bool lw_lost_match(lw_thread *t, const lw_lock *c, const lw_lock *m, const lw_held *h,
                   lw_lost *out);
/* The matched wait of t timed out after waited_ms: a finding, once per
 * (signal site, wait site).  call: the wait's function, pc its call.
 * Guard set; unwinds. */
void lw_lost_report_timeout(lw_thread *t, lw_lock *c, lw_lock *m, const lw_lost *lost,
                            uint64_t waited_ms, const char *call, uintptr_t pc);
/* The matched wait was asleep when every thread was (asleep.c): w is the
 * waiter's snapshot with its wait's stack. */
void lw_lost_report_asleep(const lw_thread_snap *w, lw_lock *c, lw_lock *m, const lw_lost *lost);
/* fork child: the parent's lost signals are not the child's. */
void lw_lost_atfork_child(void);

#endif
