/*
 * annotate.c: the declared lock order and the guarded-range table (see
 * annotate.h for the contract).  Owns: both tables and annot_lock.
 * Must never: malloc, call the program's functions, or read guarded memory.
 *
 * Guarded ranges: a linear table.  Slots [0, guard_top) have been used;
 * a free slot has hi == 0 and is reused by the next declaration.  Each slot
 * is a seqlock so that lw_guarded_lookup, which a signal handler may call,
 * takes no lock: the writer makes seq odd, writes, makes it even again.
 *
 * Declared order: pairs (first, second) of lock addresses, searched with an
 * explicit stack (a path of pairs first -> ... -> second); a new pair that
 * would close a cycle of declarations is refused, so the declared order is
 * always a partial order.
 */
#include "annotate.h"
#include "arena.h"
#include "log.h"

#include <string.h>

typedef struct {
    uint64_t seq;             /* odd while the writer changes the slot */
    uintptr_t lo, hi, lock;   /* [lo, hi) guarded by lock; hi == 0: free */
} guard_ent;

typedef struct {
    uintptr_t first, second;
    uint32_t stack;           /* depot id of the LOCKWATCH_ORDER call */
} order_decl;

/* protects: every write to guards[], guard_top, decls[], lw_order_ndecl,
 * lw_annot_live.  A leaf lock. */
static lw_mutex annot_lock = LW_MUTEX_INIT;

static guard_ent guards[LW_GUARD_MAX];
/* Slots ever used; written under annot_lock (release: a reader that sees
 * the new top sees the slot's first seq), read acquire by lookups. */
static unsigned guard_top;
static unsigned guard_live;   /* under annot_lock */

static order_decl decls[LW_ORDER_DECL_MAX];
unsigned lw_order_ndecl;      /* under annot_lock; read relaxed (a hint) */
unsigned lw_annot_live;       /* under annot_lock; read relaxed (a hint) */

static int warned_bad, warned_overlap, warned_full, warned_order, warned_order_full;

static void live_update(void)
{
    lw_store_relaxed(&lw_annot_live, guard_live + lw_order_ndecl);
}

/* ---- guarded ranges ---- */

static void guard_write(guard_ent *e, uintptr_t lo, uintptr_t hi, uintptr_t lock)
{
    uint64_t s = e->seq;
    lw_store_relaxed(&e->seq, s + 1);
    /* Without it the fields' stores could pass the odd seq: a reader would
     * take a half-written slot for a stable one. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    lw_store_relaxed(&e->lo, lo);
    lw_store_relaxed(&e->hi, hi);
    lw_store_relaxed(&e->lock, lock);
    lw_store_release(&e->seq, s + 2);
}

static void guard_clear(guard_ent *e)
{
    guard_write(e, 0, 0, 0);
    guard_live--;
}

bool lw_guarded_declare(uintptr_t addr, size_t size, uintptr_t lock)
{
    if (!addr || !lock || size == 0 || addr + size < addr) {
        lw_warn_once(&warned_bad, "lockwatch: warning: LOCKWATCH_GUARDED_BY(%p, %zu, %p) ignored: "
                     "it needs a memory address, a size above 0 and a lock (this warning is "
                     "given once)\n", (void *)addr, size, (void *)lock);
        return false;
    }
    uintptr_t hi = addr + size;
    bool ok = true, replaced = false;
    lw_mutex_lock(&annot_lock);
    guard_ent *free_slot = NULL;
    unsigned top = guard_top;
    for (unsigned i = 0; i < top; i++) {
        guard_ent *e = &guards[i];
        if (e->hi == 0) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (e->hi <= addr || e->lo >= hi)
            continue;
        if (e->lo == addr && e->hi == hi && e->lock == lock)
            goto out;   /* declared again: nothing to do */
        guard_clear(e);
        replaced = true;
        if (!free_slot)
            free_slot = e;
    }
    if (!free_slot) {
        if (top == LW_GUARD_MAX) {
            ok = false;
            goto out;
        }
        free_slot = &guards[top];
        lw_store_release(&guard_top, top + 1);
    }
    guard_write(free_slot, addr, hi, lock);
    guard_live++;
out:
    live_update();
    lw_mutex_unlock(&annot_lock);
    if (replaced)
        lw_warn_once(&warned_overlap, "lockwatch: warning: LOCKWATCH_GUARDED_BY(%p, %zu, %p) "
                     "overlaps a range declared before and not given back: the new declaration "
                     "replaces it (this warning is given once)\n", (void *)addr, size,
                     (void *)lock);
    if (!ok)
        lw_warn_once(&warned_full, "lockwatch: warning: more than %u guarded ranges live at "
                     "once: further LOCKWATCH_GUARDED_BY declarations are ignored\n",
                     LW_GUARD_MAX);
    return ok;
}

bool lw_guarded_lookup(uintptr_t addr, uintptr_t *lock_addr)
{
    unsigned top = lw_load_acquire(&guard_top);
    for (unsigned i = 0; i < top; i++) {
        guard_ent *e = &guards[i];
        uint64_t s = lw_load_acquire(&e->seq);
        if (s & 1)
            continue;
        uintptr_t lo = lw_load_relaxed(&e->lo), hi = lw_load_relaxed(&e->hi);
        uintptr_t lock = lw_load_relaxed(&e->lock);
        /* Without it the seq re-read could be done before the fields' loads:
         * a slot rewritten in between would pass as stable. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (lw_load_relaxed(&e->seq) != s)
            continue;
        if (addr >= lo && addr < hi) {
            if (lock_addr)
                *lock_addr = lock;
            return true;
        }
    }
    return false;
}

bool lw_guarded_next(unsigned *cursor, uintptr_t *lo, uintptr_t *hi, uintptr_t *lock)
{
    unsigned top = lw_load_acquire(&guard_top);
    if (top == 0)
        return false;
    for (unsigned k = 0; k < top; k++) {
        unsigned i = (*cursor + k) % top;
        guard_ent *e = &guards[i];
        uint64_t s = lw_load_acquire(&e->seq);
        if (s & 1)
            continue;
        uintptr_t l = lw_load_relaxed(&e->lo), h = lw_load_relaxed(&e->hi);
        uintptr_t lk = lw_load_relaxed(&e->lock);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* as in lw_guarded_lookup */
        if (lw_load_relaxed(&e->seq) != s || h == 0)
            continue;
        *cursor = i + 1;
        *lo = l;
        *hi = h;
        *lock = lk;
        return true;
    }
    return false;
}

unsigned lw_guarded_count(void)
{
    lw_mutex_lock(&annot_lock);
    unsigned n = guard_live;
    lw_mutex_unlock(&annot_lock);
    return n;
}

/* ---- declared order ---- */

/* A path first -> ... -> second among the declarations (annot_lock held). */
static bool order_path(uintptr_t first, uintptr_t second, uint32_t *stack)
{
    uintptr_t todo[LW_ORDER_DECL_MAX + 1];
    uint32_t via[LW_ORDER_DECL_MAX + 1];
    bool used[LW_ORDER_DECL_MAX];
    unsigned n = 0, nd = lw_order_ndecl;
    memset(used, 0, nd * sizeof(bool));
    todo[n] = first;
    via[n++] = 0;
    while (n > 0) {
        n--;
        uintptr_t a = todo[n];
        uint32_t st = via[n];
        for (unsigned i = 0; i < nd; i++) {
            if (used[i] || decls[i].first != a)
                continue;
            used[i] = true;   /* each pair is pushed once: n stays <= nd + 1 */
            uint32_t s = a == first ? decls[i].stack : st;
            if (decls[i].second == second) {
                if (stack)
                    *stack = s;
                return true;
            }
            todo[n] = decls[i].second;
            via[n++] = s;
        }
    }
    return false;
}

bool lw_order_declare(uintptr_t first, uintptr_t second, uint32_t stack)
{
    if (!first || !second || first == second) {
        lw_warn_once(&warned_order, "lockwatch: warning: LOCKWATCH_ORDER(%p, %p) ignored: it needs "
                     "two different locks (this warning is given once)\n", (void *)first,
                     (void *)second);
        return false;
    }
    int bad = 0;
    lw_mutex_lock(&annot_lock);
    if (order_path(first, second, NULL))
        goto out;                      /* implied already */
    if (order_path(second, first, NULL))
        bad = 1;                       /* against the declared order */
    else if (lw_order_ndecl == LW_ORDER_DECL_MAX)
        bad = 2;
    else {
        decls[lw_order_ndecl] = (order_decl){ first, second, stack };
        lw_store_relaxed(&lw_order_ndecl, lw_order_ndecl + 1);
    }
out:
    live_update();
    lw_mutex_unlock(&annot_lock);
    if (bad == 1)
        lw_warn_once(&warned_order, "lockwatch: warning: LOCKWATCH_ORDER(%p, %p) ignored: the "
                     "locks were declared in the other order before (this warning is given "
                     "once)\n", (void *)first, (void *)second);
    else if (bad == 2)
        lw_warn_once(&warned_order_full, "lockwatch: warning: more than %u LOCKWATCH_ORDER pairs "
                     "live at once: further declarations are ignored\n", LW_ORDER_DECL_MAX);
    return bad == 0;
}

bool lw_order_declared(uintptr_t first, uintptr_t second, uint32_t *stack)
{
    if (!lw_order_declared_any())
        return false;
    lw_mutex_lock(&annot_lock);
    bool r = order_path(first, second, stack);
    lw_mutex_unlock(&annot_lock);
    return r;
}

unsigned lw_order_decl_count(void)
{
    return lw_load_relaxed(&lw_order_ndecl);
}

/* ---- lifetime ---- */

/* Drops the pairs naming a lock in [lo, hi) (annot_lock held). */
static void order_forget(uintptr_t lo, uintptr_t hi)
{
    unsigned n = lw_order_ndecl;
    for (unsigned i = 0; i < n;) {
        uintptr_t a = decls[i].first, b = decls[i].second;
        if ((a >= lo && a < hi) || (b >= lo && b < hi))
            decls[i] = decls[--n];
        else
            i++;
    }
    lw_store_relaxed(&lw_order_ndecl, n);
}

void lw_annot_lock_gone(uintptr_t addr)
{
    if (lw_load_relaxed(&lw_annot_live) == 0)
        return;
    lw_mutex_lock(&annot_lock);
    for (unsigned i = 0; i < guard_top; i++)
        if (guards[i].hi != 0 && guards[i].lock == addr)
            guard_clear(&guards[i]);
    order_forget(addr, addr + 1);
    live_update();
    lw_mutex_unlock(&annot_lock);
}

unsigned lw_annot_memory_gone(uintptr_t lo, uintptr_t hi)
{
    if (lw_load_relaxed(&lw_annot_live) == 0 || hi <= lo)
        return 0;
    unsigned gone = 0;
    lw_mutex_lock(&annot_lock);
    for (unsigned i = 0; i < guard_top; i++) {
        guard_ent *e = &guards[i];
        if (e->hi == 0)
            continue;
        bool overlaps = e->lo < hi && e->hi > lo;
        bool lock_in = e->lock >= lo && e->lock < hi;
        if (overlaps || lock_in) {
            guard_clear(e);
            gone++;
        }
    }
    order_forget(lo, hi);
    live_update();
    lw_mutex_unlock(&annot_lock);
    return gone;
}

void lw_annot_reset(void)
{
    lw_mutex_lock(&annot_lock);
    for (unsigned i = 0; i < guard_top; i++)
        if (guards[i].hi != 0)
            guard_clear(&guards[i]);
    lw_store_relaxed(&lw_order_ndecl, 0);
    live_update();
    lw_mutex_unlock(&annot_lock);
}

void lw_annot_atfork_prepare(void)
{
    lw_mutex_lock(&annot_lock);
}

void lw_annot_atfork_parent(void)
{
    lw_mutex_unlock(&annot_lock);
}

/* The child keeps the declarations: its memory and locks are copies. */
void lw_annot_atfork_child(void)
{
    lw_mutex_reset(&annot_lock);
}
