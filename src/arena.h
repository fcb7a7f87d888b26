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
 * Nesting order (outer first): graph lock -> depot lock -> arena lock.
 * Registry stripe locks and the report lock nest inside none of them.
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

/* A spinlock for a few instructions of work (hash stripes, condvar state);
 * holders never block or call out.  0 free, 1 held. */
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
