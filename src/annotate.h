/*
 * annotate.h: what a program declares about its locks through
 * include/lockwatch.h (LOCKWATCH_ORDER, LOCKWATCH_GUARDED_BY): the declared
 * lock order and the table of guarded memory ranges.  (The assertions,
 * LOCKWATCH_ASSERT_HELD / _NOT_HELD, are rules over the held stack: rules.h.)
 *
 * Both tables are fixed arrays in .bss (never malloc, never the arena: a
 * lookup may run in a signal handler), written by the program's
 * declarations and by the events that end a declaration's life, read by the
 * core and by lw_guarded_lookup.
 *
 * Lifetime.  A declaration names addresses, not lock nodes: it may come
 * before the lock is first used (a static initialiser).  It ends when its
 * lock is destroyed (pthread_*_destroy, mtx_destroy: lw_annot_lock_gone) or
 * when memory holding the lock, or for a guarded range memory overlapping
 * the range, is given back (free, realloc moving or shrinking the block,
 * munmap: lw_annot_memory_gone).  Memory reused for a new lock or object is
 * a new one: it needs a new declaration.
 *
 * Concurrency.  Writers (declarations, forgetting) take annot_lock, a leaf
 * lock: nothing is taken while holding it (slow_edge asks for the declared
 * order before it takes graph_lock).  Guarded-range lookups take no lock: every
 * slot is a small seqlock (seq odd while written); a reader that sees a
 * slot change under it skips it, so a lookup racing with the declaration or
 * the removal of that very range may answer either way, and a lookup from a
 * signal handler that interrupted a writer on its own thread never waits.
 * Order lookups (slow path of a new edge) take annot_lock.
 *
 * Must never: malloc, read the guarded memory, or fail loudly: a bad
 * argument or a full table costs one `lockwatch: warning:` line.
 */
#ifndef LW_ANNOTATE_H
#define LW_ANNOTATE_H

#include "lw_base.h"

#define LW_GUARD_MAX      16384u   /* guarded ranges live at once */
#define LW_ORDER_DECL_MAX 256u     /* LOCKWATCH_ORDER pairs live at once (a search keeps 13 bytes a pair on the stack) */

/* Number of live guarded ranges plus live order declarations; read relaxed
 * by free/munmap/destroy wrappers to skip the tables when both are empty. */
extern unsigned lw_annot_live;

/* ---- guarded ranges (LOCKWATCH_GUARDED_BY) ----
 * Ranges never overlap in the table: a declaration overlapping live ranges
 * replaces them (one warning per process: memory reused without being
 * given back is usually a pool; the newest declaration is the true one).
 * The same range with the same lock again changes nothing.
 * Returns false for a bad argument (NULL pointer or lock, size 0, a range
 * past the end of the address space; one warning) or a full table (one
 * warning). */
bool lw_guarded_declare(uintptr_t addr, size_t size, uintptr_t lock);
/* The lock guarding addr (into *lock_addr), or false.  Async-signal-safe:
 * no lock, no allocation, no system call; O(ranges ever live at once). */
bool lw_guarded_lookup(uintptr_t addr, uintptr_t *lock_addr);
/* The next live range at or after slot *cursor (wrapping), its bounds and
 * lock; *cursor moves past it.  False when none is live.  Async-signal-safe
 * like lw_guarded_lookup (the race sampler walks the ranges with it). */
bool lw_guarded_next(unsigned *cursor, uintptr_t *lo, uintptr_t *hi, uintptr_t *lock);
/* Live guarded ranges (tests). */
unsigned lw_guarded_count(void);

/* ---- declared order (LOCKWATCH_ORDER) ----
 * lw_order_declare(first, second, stack): first is taken before second.
 * A pair already implied changes nothing; a pair against the declared order
 * (second already before first, directly or through other pairs) or with
 * first == second or a NULL lock is refused with one warning. */
bool lw_order_declare(uintptr_t first, uintptr_t second, uint32_t stack);
/* Is there a declared path first -> ... -> second?  *stack: the depot id of
 * the declaration of its first pair.  Takes annot_lock. */
bool lw_order_declared(uintptr_t first, uintptr_t second, uint32_t *stack);
static inline bool lw_order_declared_any(void);
/* Live declared pairs (tests). */
unsigned lw_order_decl_count(void);

/* ---- lifetime ---- */
/* The lock at addr was destroyed: its pairs and the ranges it guards go. */
void lw_annot_lock_gone(uintptr_t addr);
/* [lo, hi) was given back: ranges overlapping it, ranges guarded by a lock
 * in it and pairs naming a lock in it go.  Returns the ranges removed. */
unsigned lw_annot_memory_gone(uintptr_t lo, uintptr_t hi);

/* Empties both tables (tests, and a fork child keeps them: no call). */
void lw_annot_reset(void);
void lw_annot_atfork_prepare(void);
void lw_annot_atfork_parent(void);
void lw_annot_atfork_child(void);

extern unsigned lw_order_ndecl;
static inline bool lw_order_declared_any(void)
{
    return __atomic_load_n(&lw_order_ndecl, __ATOMIC_RELAXED) != 0;
}

#endif
