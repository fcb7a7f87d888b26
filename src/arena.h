/*
 * arena.h: lockwatch's private memory and internal locks.
 *
 * Memory comes from mmap in large chunks and is never returned to the
 * system: lock nodes, edges and depot entries are type-stable, so a lock-free
 * reader holding a stale pointer reads a recycled record of the same type,
 * never unmapped memory.  No function here calls malloc or any pthread
 * function, so they are safe inside any interposed call.
 *
 * Internal locks (lw_mutex) are futex based and never interposed.  Every
 * holder has the per-thread "inside lockwatch" guard set, so a signal
 * handler on the same thread passes straight through and cannot self-deadlock.
 *
 * Lock order.  Every lw_mutex, outer first; a thread holding one may take
 * only locks below it.  The fork prepare handler takes all of them in
 * exactly this order (lw_core_atfork_prepare, then intercept.c for the last
 * two), so that no other thread is inside any of them when the process is
 * copied; the parent releases them, the child resets them (its one thread
 * is the one that took them).  Arrows: what is taken while holding it.
 *    0. unwind gate   stacks.c     closed first: waits until no thread is
 *                                     inside libunwind (whose own locks have
 *                                     no fork handlers); an unwinder holds
 *                                     and takes no lock of ours
 *    1. graph_lock    graph.c      -> names_lock, seen_lock, finding_pool,
 *                                     arena_lock, edge-hash stripes
 *    2. wait_lock     deadlock.c   -> finding_pool (a deadlock's finding)
 *    3. wait_pool     deadlock.c   (leaf, as every pool: lw_pool_get lets go
 *                                     of it before it allocates)
 *    4. pending_lock  rules.c      -> finding_pool
 *    5. seen_lock     sink.c       -> arena_lock
 *    6. finding_pool  sink.c       (leaf)
 *    7. report_lock   report.c     (leaf)
 *    8. ws_pool       report.c     (leaf)
 *    9. depot_lock    stacks.c     -> arena_lock
 *   10. sym_lock      stacks.c     (leaf)
 *   10a. rel_lock     stacks.c     (leaf: relative module paths)
 *   10b. annot_lock   annotate.c   (leaf: declared order, guarded ranges)
 *   11. names_lock    lw_core.c    -> arena_lock
 *   12. tramp_pool    intercept_thread.c (leaf)
 *   12a. state_pool   intercept_thread.c (leaf: threads' states)
 *   13. arena_lock    arena.c      (leaf)
 * Spinlocks are not taken by the fork handlers; each is safe without:
 *  - registry and edge-hash stripes, their free-list locks and the slot
 *    lock (registry.c): every update under them keeps the table consistent
 *    at each store, publication last, so a child resets them and at worst
 *    loses a record that was being inserted or freed (lw_hash_atfork_child).
 *    The edge hash is only written under graph_lock anyway.
 *  - a condition variable's cond_lock (one per condvar, too many to take):
 *    an lw_gen_spin lock, below, which a child takes over from a holder of
 *    an earlier fork generation; the taker resets the state it protects.
 * One-time initialisations that spin on a state word: the core's and the
 * resolver's finish in lockwatch's constructor, before the program runs;
 * libunwind's loading (stacks.c) and the thread-exit key (intercept_thread.c)
 * are found half-done by their child handlers, which settle them.
 */
#ifndef LW_ARENA_H
#define LW_ARENA_H

#include "lw_base.h"
#include "lw_atomic.h"

typedef struct { int state; } lw_mutex;   /* 0 free, 1 locked, 2 contended */
#define LW_MUTEX_INIT { 0 }

void lw_mutex_lock(lw_mutex *m);
void lw_mutex_unlock(lw_mutex *m);
void lw_mutex_reset(lw_mutex *m);   /* in a fork child only */

/* A spinlock for a few instructions of work (hash stripes); holders never
 * block or call out.  0 free, 1 held. */
static inline void lw_spin_lock(int *s)
{
    for (;;) {
        int z = 0;
        if (lw_cas_acquire(s, &z, 1))
            return;
        while (lw_load_relaxed(s))
            lw_cpu_relax();
    }
}

static inline void lw_spin_unlock(int *s)
{
    lw_store_release(s, 0);
}

/* Fork generation: 0 in the process lockwatch started in, bumped in every
 * fork child (lw_arena_atfork_child) before the child runs anything else.
 * Read relaxed: it only changes while the process has a single thread. */
extern unsigned lw_fork_gen;

/* A spinlock for state too plentiful for the fork handlers to take (one per
 * condition variable).  A held word is (holder's fork generation << 1 | 1):
 * a thread that finds it held in an earlier generation knows the holder was
 * left behind by a fork, and takes it over.  The taker must then treat the
 * protected state as possibly half-updated (and reset it: see lw_cond_lock
 * in registry.h).  Holders never block or call out. */
static inline void lw_gen_spin_lock(int *s)
{
    int mine = (int)(lw_load_relaxed(&lw_fork_gen) << 1 | 1u);
    for (;;) {
        int cur = 0;
        if (lw_cas_acquire(s, &cur, mine))
            return;
        if (cur != mine && lw_cas_acquire(s, &cur, mine))
            return;   /* held before a fork, by a thread not in this process */
        while (lw_load_relaxed(s) == mine)
            lw_cpu_relax();
    }
}

static inline void lw_gen_spin_unlock(int *s)
{
    lw_store_release(s, 0);
}

/* Zeroed memory, 16-byte aligned; NULL only when mmap fails. */
void *lw_arena_alloc(size_t size);
/* A large zeroed mapping of its own (hash bucket arrays); pages are touched
 * lazily by the kernel. */
void *lw_arena_map(size_t size);
size_t lw_arena_bytes(void);        /* bytes handed out so far */

/* Free list of fixed-size records (type-stable: records are reused, never
 * unmapped).  The first word of a free record is the link. */
typedef struct {
    lw_mutex lock;
    void *head;
    size_t size;
    size_t live;
} lw_pool;
#define LW_POOL_INIT(sz) { LW_MUTEX_INIT, NULL, (sz), 0 }

void *lw_pool_get(lw_pool *p);
void lw_pool_put(lw_pool *p, void *rec);

void lw_arena_atfork_prepare(void);
void lw_arena_atfork_parent(void);
void lw_arena_atfork_child(void);

#endif
