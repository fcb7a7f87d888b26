/*
 * lw_core.h: the core's event interface.  The interposition layer turns
 * pthread calls into these events; the core knows nothing of pthreads.
 *
 * Acquisition protocol, per lock call:
 *   every lock:    lw_before_acquire(how) (blocking: adds order edges, may
 *                  report an inversion; all: the relock rule), the real
 *                  call (blocking ones wait in slices, deadlock.h), then
 *                  lw_after_acquire() on success (a lock once held is held
 *                  alike, however it was acquired);
 *   trylock, timed lock: cannot block forever, so no edge into the lock
 *                  (as ThreadSanitizer treats them); locks taken while
 *                  holding it do order after it.
 *   unlock:        lw_release() before the real call.
 * pc is the call site (return address into the program), cfa the caller's
 * stack pointer at the call (__builtin_dwarf_cfa() in the wrapper).
 */
#ifndef LW_CORE_H
#define LW_CORE_H

#include "lw_base.h"
#include "registry.h"
#include "thread.h"
#include "finding.h"

#define LW_ACQ_BLOCKING 0u
#define LW_ACQ_TIMED    1u
#define LW_ACQ_TRY      2u
/* A timed acquisition whose timeout is at least LOCKWATCH_DEADLOCK_MS: it
 * stalls like a hang, so it adds its edges like a blocking one.  The
 * timeout (ms) rides in the bits above the kind: lw_acq_timed_long(). */
#define LW_ACQ_TIMED_LONG 3u
#define LW_ACQ_KIND(how)       ((how) & 0xfu)
#define LW_ACQ_TIMEOUT_MS(how) ((how) >> 4)
static inline unsigned lw_acq_timed_long(uint64_t ms)
{
    return LW_ACQ_TIMED_LONG | (unsigned)(ms > 0x0fffffffu ? 0x0fffffffu : ms) << 4;
}

extern int lw_core_ready;      /* read relaxed by every wrapper */

/* Idempotent.  envp may be NULL (process environment).  Returns false when
 * lockwatch cannot run (it then stays a pass-through). */
bool lw_core_init(char **envp, const void *self_addr);

/* Lock nodes.  pc: call site, recorded as where the lock was first seen. */
lw_lock *lw_lock_create(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc);
static inline lw_lock *lw_lock_lookup(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype,
                                      uintptr_t pc)
{
    lw_lock *l = lw_registry_find(addr);
    return LW_LIKELY(l != NULL) ? l : lw_lock_create(addr, kind, mtype, pc);
}
/* Returns the new node (NULL: out of memory). */
lw_lock *lw_lock_initialised(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc);
void lw_lock_destroyed(uintptr_t addr);
/* At process exit, JSON output only: one {"kind":"graph"} record of the
 * run's lock-order graph (finding.h), once per process, written even when
 * nothing was reported (lockwatch-report --order builds on clean runs). */
void lw_core_write_graph(void);
/* Names given with lockwatch_name_lock(); name must stay valid. */
void lw_lock_set_name(uintptr_t addr, const char *name);
const char *lw_lock_name(uintptr_t addr);

/* LOCKWATCH_ORDER(first, second) was just declared (annotate.h): when some
 * thread already took `first` while holding `second` (the order graph has
 * that edge), that is the pair's order-violation, reported now with the
 * edge's stacks.  (Only the pair itself: pairs the declaration implies
 * through others are checked on their next new edge.) */
void lw_order_check_declared(uintptr_t first, uintptr_t second);

/* Snapshots of core state for findings.  lw_snap_thread: the thread's
 * identity (t may be another thread, stopped in a wait: its name is then
 * read from /proc), `stack` as its stack, and its held locks but the one at
 * `except` (0: none), each with the stack of its acquisition rebuilt from
 * the current backtrace pcs/sps (NULL: the call site only). */
void lw_snap_lock(const lw_lock *l, lw_lock_snap *s);
void lw_snap_thread(lw_thread *t, uint32_t stack, const uintptr_t *pcs, const uintptr_t *sps,
                    unsigned n, uintptr_t except, lw_thread_snap *ts);
/* A new finding about the calling thread t at its current call (unwinds):
 * its thread section first, holding all but `except`.  NULL: no memory. */
lw_finding *lw_finding_about_self(lw_thread *t, enum lw_finding_kind kind, uintptr_t except);

/* Pre-event of an acquisition (any `how`): adds the order edges of a
 * blocking one; when the thread already holds l, applies the relock rule
 * (call: the function's name, NULL to skip it).  Returns LW_PRE_GO,
 * LW_PRE_RELOCKED (the acquisition cannot be granted to this thread) or,
 * only when call is set, LW_PRE_STALE: the thread held l, but the memory
 * now holds a new lock (lw_relock_stale forgot l): the caller looks the
 * address up again and starts over with the new node. */
#define LW_PRE_GO       0u
#define LW_PRE_RELOCKED 1u
#define LW_PRE_STALE    2u
unsigned lw_before_acquire_slow(lw_thread *t, lw_lock *l, unsigned mode, unsigned how,
                                uintptr_t pc, uintptr_t cfa, const char *call);
static inline unsigned lw_before_acquire(lw_thread *t, lw_lock *l, unsigned mode, unsigned how,
                                         uintptr_t pc, uintptr_t cfa, const char *call)
{
    if (LW_LIKELY(t->nheld == 0))
        return LW_PRE_GO;   /* nothing held: no edge, no relock */
    return lw_before_acquire_slow(t, l, mode, how, pc, cfa, call);
}

/* The interposition layer's check of a relock, set at start-up (NULL, as
 * in the unit tests: the held stack is trusted).  Called with the guard set
 * when t's held stack has l and t asks for it again: false when the lock
 * object agrees that t holds it; true when it does not (the lock is free,
 * or held by another thread), having dropped t's entries for l and
 * forgotten l: the memory holds a new lock set up without an init call
 * lockwatch saw, e.g. a static initialiser over a lock left locked. */
extern bool (*lw_relock_stale)(lw_thread *t, lw_lock *l);

/* Thread number `num` acquires (or waits for) l: keeps l->users (rules.c).
 * One relaxed load and two compares once the lock is shared or the thread
 * is its only user.  Called with the guard set (it may write a report). */
void lw_lock_user_slow(lw_lock *l, uint32_t me, uint32_t users);
static inline void lw_lock_user_num(uint32_t num, lw_lock *l)
{
    uint32_t u = __atomic_load_n(&l->users, __ATOMIC_RELAXED);
    if (LW_UNLIKELY(u != num + 1) && LW_UNLIKELY(u != LW_USERS_SHARED))
        lw_lock_user_slow(l, num + 1, u);
}
static inline void lw_lock_user(const lw_thread *t, lw_lock *l)
{
    lw_lock_user_num(t->num, l);
}
/* Would lw_lock_user(t, l) change nothing?  (The fast paths ask first and
 * leave the change to a slow path, which runs with the guard set.) */
static inline bool lw_lock_user_known(const lw_thread *t, const lw_lock *l)
{
    uint32_t u = __atomic_load_n(&l->users, __ATOMIC_RELAXED);
    return u == t->num + 1 || u == LW_USERS_SHARED;
}

/* ---- acquisition sites ----
 * A held lock's acquisition stack is worth capturing (about 100 ns) only
 * where the frame that called the lock function returns while the lock is
 * held: a lock helper (std::lock_guard, std::mutex::lock at -O0, a C
 * xlock()).  Elsewhere the frames still live when the lock later forms an
 * edge give its callers for nothing (stacks.h, lw_stack_of_held).  A site
 * is known to be a helper only once a lock taken there formed an edge, so
 * a thread captures:
 *  - at a site it has not used before, its first LW_SITE_YOUNG
 *    acquisitions there (the first edges of a path run once);
 *  - at a helper site, its next LW_SITE_REFILL acquisitions after a lock
 *    taken there formed a new edge (more are forming), and any acquisition
 *    of a lock this thread has not taken lately (a new order may start);
 *  - at most site_allow times, refilled by new edges: a bound whatever the
 *    program does.
 * The steady state costs a probe of the thread's site table.  Entry:
 * pc << 8 | LW_SITE_HELPER | captures left. */
#define LW_SITE_HELPER 0x80u
static inline unsigned lw_site_set(uintptr_t pc)
{
    return (unsigned)(((uint64_t)pc * 0x9E3779B97F4A7C15ull) >> 58) & (LW_SITE_SETS - 1);
}
/* Captures into held entry i when the site wants it, updating the table.
 * new_lock: the lock is not in the thread's acquisition log. */
void lw_site_miss(lw_thread *t, unsigned i, uintptr_t pc, bool new_lock);
/* slot, key: the acquisition log's slot of the lock and its key there,
 * not yet stored (new_lock is known only if the probe misses). */
static inline void lw_site_probe(lw_thread *t, unsigned i, uintptr_t pc, unsigned slot,
                                 uint64_t key)
{
    uint64_t e = t->sites[2 * lw_site_set(pc)], tag = (uint64_t)pc << 8;
    if (LW_UNLIKELY(e != tag)) {
        bool new_lock = t->acq_key[slot] != key;
        if (e != (tag | LW_SITE_HELPER) || new_lock)
            lw_site_miss(t, i, pc, new_lock);
    }
}
/* A lock taken at pc formed a new edge through a helper (slow paths). */
void lw_site_refill(lw_thread *t, uintptr_t pc);

/* Fills held entry i of t (not yet published: nheld unchanged), and notes
 * the acquisition in t's log of the locks it took (thread.h acq_key: a
 * join of t by a thread holding one of them is a join cycle, rules.h). */
static inline void lw_held_fill(lw_thread *t, unsigned i, lw_lock *l, unsigned mode, uintptr_t pc,
                                uintptr_t cfa)
{
    lw_held *h = &t->held[i];
    unsigned slot = (unsigned)l->id & (LW_ACQ_LOG - 1);
    uint64_t key = l->id << 1 | (mode == LW_MODE_READ);
    h->lock = l;
    h->addr = (uintptr_t)__atomic_load_n(&l->h.k1, __ATOMIC_RELAXED);
    h->id = l->id;
    h->mode = (uint16_t)mode;
    h->framed = 0;
    h->count = 1;
    h->pc = pc;
    h->cfa = cfa;
    /* A line already read (users, lw_lock_user): no extra miss. */
    h->lost_seen = __atomic_load_n(&l->lost_seq, __ATOMIC_RELAXED);
    lw_site_probe(t, i, pc, slot, key);
    t->acq_key[slot] = key;
    t->acq_pc[slot] = pc;
}

/* Makes room for one more held entry: false (and the acquisition goes
 * untracked, t->overflow) only when no memory is left. */
bool lw_held_grow(lw_thread *t);
static inline void lw_held_push(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc,
                                uintptr_t cfa)
{
    if (LW_UNLIKELY(t->nheld == t->held_cap) && !lw_held_grow(t))
        return;
    lw_held_fill(t, t->nheld, l, mode, pc, cfa);
    lw_lock_user(t, l);
    /* Publish the entry after it is complete: a signal handler on this
     * thread may read the stack between the two stores. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->nheld++;
}

/* ---- the held-set cache ----
 * An acquisition of `to` while holding exactly the held stack S (locks and
 * modes, in order) that was checked before needs nothing: its edges exist,
 * and their gate sets, which only ever shrink, were within S then and are
 * now.  So one probe stands for the per-edge work.  The entry stores S
 * itself (held sets of up to LW_SIG_SET locks; larger ones are not cached)
 * and a hit compares it entry by entry: the signature only picks the slot,
 * so a collision of signatures costs a miss, never a lost edge.  Lock ids
 * are never reused, so a hit also says `to` is not in S. */
static inline uint64_t lw_sig_key(uint64_t id, unsigned mode)
{
    return id << 2 | mode;
}

static inline unsigned lw_sig_slot(uint64_t sig, uint64_t key)
{
    return (unsigned)(lw_hash_mix(sig, key) >> 20) & (LW_SIG_CACHE - 1);
}

/* One pass over the held stack: true if l is held (a relock), else the
 * held set's signature (each term mixed before it is added: a sum of
 * linear terms would send {1,4} and {2,3} to one slot). */
static inline bool lw_held_sig(const lw_thread *t, const lw_lock *l, uint64_t *sig)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < t->nheld; i++) {
        const lw_held *h = &t->held[i];
        if (LW_UNLIKELY(h->lock == l && h->id == l->id))
            return true;
        uint64_t k = lw_sig_key(h->id, h->mode) * 0x9e3779b97f4a7c15ull;
        s += k ^ (k >> 29);
    }
    *sig = s;
    return false;
}

/* Does entry c hold exactly t's held stack and the acquisition `key`? */
static inline bool lw_sig_hit(const lw_sig_cache_ent *c, const lw_thread *t, uint64_t key)
{
    if (c->key != key || c->n != t->nheld)
        return false;
    for (unsigned i = 0; i < c->n; i++)
        if (c->set[i] != lw_sig_key(t->held[i].id, t->held[i].mode))
            return false;
    return true;
}

/* Remembers that t's held stack's edges to `key` are all known. */
static inline void lw_sig_fill(lw_sig_cache_ent *c, const lw_thread *t, uint64_t key)
{
    if (t->nheld > LW_SIG_SET)
        return;
    c->key = 0;   /* a signal handler reading it half-written must miss */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    c->n = t->nheld;
    for (unsigned i = 0; i < t->nheld; i++)
        c->set[i] = lw_sig_key(t->held[i].id, t->held[i].mode);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    c->key = key;
}

/* A blocking acquisition of l in `mode` with the held set already checked
 * (its edges known) and l not held: nothing to do before it. */
static inline bool lw_acquire_known(const lw_thread *t, const lw_lock *l, unsigned mode)
{
    uint64_t sig;
    if (LW_UNLIKELY(lw_held_sig(t, l, &sig)))
        return false;
    uint64_t key = lw_sig_key(l->id, mode);
    return lw_sig_hit(&t->sig_cache[lw_sig_slot(sig, key)], t, key);
}

/* The stack to show for t's held entry i: the one captured at its
 * acquisition, else its call site with the callers still live in the
 * backtrace pcs/sps (n frames; NULL: the call site only). */
uint32_t lw_held_stack(const lw_thread *t, unsigned i, const uintptr_t *pcs,
                       const uintptr_t *sps, unsigned n);

/* Post-event of a successful acquisition (any `how`: once it succeeds a
 * lock is held alike). */
void lw_after_acquire_slow(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc, uintptr_t cfa);
static inline void lw_after_acquire(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc,
                                    uintptr_t cfa)
{
    if (LW_LIKELY(t->nheld == 0))
        lw_held_push(t, l, mode, pc, cfa);
    else
        lw_after_acquire_slow(t, l, mode, pc, cfa);
}

/* Returns the mode the lock was held in (0 if this thread did not hold it). */
/* lw_release's result when the lock was not on the held stack but the
 * thread had taken locks it could not track: presumably one of those (no
 * unlock-not-owned). */
#define LW_RELEASED_UNTRACKED 0x100u
unsigned lw_release(lw_thread *t, lw_lock *l);
/* The same by the lock's address, without a registry lookup (the
 * interposers handle the innermost-lock case inline first). */
unsigned lw_release_addr_slow(lw_thread *t, uintptr_t addr);
/* Is l held by t?  Returns its held-stack entry or NULL. */
lw_held *lw_held_find(lw_thread *t, const lw_lock *l);

/* The memory of l holds a new lock now, or is gone: t's entries of l go
 * (every count) and l leaves the registry with its order edges, as on a
 * destroy.  Guard set. */
void lw_forget_lock(lw_thread *t, lw_lock *l);

/* ---- memory released while a lock in it is held ----
 * free, realloc, munmap and mremap give memory back; a lock whose object
 * lies in it, even in part, is destroyed with it.  The interposers ask only
 * about the calling thread's own held stack (other threads' locks in the
 * memory are not looked for: that would cost every free a search), and
 * only when it is not empty, so the usual free costs a thread-local load
 * and a branch. */

/* The largest lock object lockwatch watches (a pthread_rwlock_t). */
#define LW_LOCK_MAX_SIZE 56

/* Could a lock of t's held stack lie, even in part, at lo or above?  The
 * test before asking the allocator for the size of a block starting at lo:
 * most locks a thread holds while it frees lie below the block (globals,
 * objects allocated earlier), and a lock that starts below a block cannot
 * be in it.  Reads only the thread's own held stack; no guard needed. */
static inline bool lw_held_reaches(const lw_thread *t, uintptr_t lo)
{
    for (unsigned i = 0; i < t->nheld; i++)
        if (t->held[i].addr + LW_LOCK_MAX_SIZE > lo)
            return true;
    return false;
}

/* Bytes of a lock object of `kind` (glibc's layouts; a C11 mtx_t is a
 * pthread_mutex_t).  Unknown kinds count as one byte: only their address. */
static inline uintptr_t lw_lock_object_size(unsigned kind)
{
    switch (kind) {
    case LW_KIND_MUTEX:
    case LW_KIND_C11_MUTEX:
        return sizeof(pthread_mutex_t);
    case LW_KIND_RWLOCK:
        return sizeof(pthread_rwlock_t);
    case LW_KIND_SPIN:
        return sizeof(pthread_spinlock_t);
    default:
        return 1;
    }
}
_Static_assert(sizeof(pthread_mutex_t) <= LW_LOCK_MAX_SIZE &&
                   sizeof(pthread_rwlock_t) <= LW_LOCK_MAX_SIZE &&
                   sizeof(pthread_spinlock_t) <= LW_LOCK_MAX_SIZE,
               "LW_LOCK_MAX_SIZE must cover every lock object");

/* Does the lock object of held entry h overlap [lo, hi)? */
static inline bool lw_held_in(const lw_held *h, uintptr_t lo, uintptr_t hi)
{
    if (h->addr >= hi || h->addr + LW_LOCK_MAX_SIZE <= lo)
        return false;   /* clear of the range whatever its kind: no need to ask */
    unsigned kind = __atomic_load_n(&h->lock->kind, __ATOMIC_RELAXED);
    return h->addr + lw_lock_object_size(kind) > lo;
}

/* Index of the innermost entry of t's held stack whose lock object
 * overlaps [lo, hi), or -1.  One pass over the held stack. */
static inline int lw_held_in_range(const lw_thread *t, uintptr_t lo, uintptr_t hi)
{
    for (unsigned i = t->nheld; i-- > 0;)
        if (lw_held_in(&t->held[i], lo, hi))
            return (int)i;
    return -1;
}

/* [lo, hi) was (or is about to be) released by `call` (its name, e.g.
 * "free") at call site pc: the locks of t's held stack in it (none, almost
 * always: one pass over the held stack) are reported (destroy-locked, once
 * per call site and acquisition site of the first) and then forgotten
 * (lw_forget_lock), so none of their order edges survives and a lock later
 * set up in that memory is a new lock.  Entries whose lock was already forgotten (its
 * record recycled) are only dropped.  Returns the number of locks found.
 * Guard set. */
unsigned lw_memory_released(lw_thread *t, uintptr_t lo, uintptr_t hi, const char *call,
                            uintptr_t pc);

void lw_core_atfork_prepare(void);
void lw_core_atfork_parent(void);
void lw_core_atfork_child(void);

#endif
