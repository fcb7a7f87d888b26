/*
 * registry.c: the tombstone-reusing hash (see registry.h for its contract)
 * and the lock registry built on it.  Owns: every lock node.  Must never:
 * unmap a record, or clear the `next` link of a record it unlinks (a
 * lock-free reader may stand on it and must be able to go on).
 */
#include "registry.h"
#include "arena.h"
#include "graph.h"
#include "lw_atomic.h"

#include <string.h>

#define LW_STRIPES 4096u

bool lw_hash_init(lw_hash *h, uint32_t nbuckets, size_t rec_size)
{
    h->buckets = lw_arena_map(nbuckets * sizeof(lw_hent *));
    h->stripes = lw_arena_map(LW_STRIPES * sizeof(int));
    h->mask = nbuckets - 1;
    h->rec_size = rec_size;
    return h->buckets && h->stripes;
}

lw_hent *lw_hash_insert(lw_hash *h, uint64_t k1, uint64_t k2,
                        void (*init)(lw_hent *rec, void *ctx), void *ctx,
                        bool *created)
{
    uint32_t b = lw_hash_bucket(h, k1, k2);
    int *s = &h->stripes[b & (LW_STRIPES - 1)];

    *created = false;
    lw_spin_lock(s);
    for (lw_hent *e = h->buckets[b]; e; e = e->next) {
        if (lw_load_relaxed(&e->k1) == k1 && lw_load_relaxed(&e->k2) == k2) {
            lw_spin_unlock(s);
            return e;
        }
    }
    /* A removed record first (memory stays at the high-water mark of live
     * records), else fresh memory. */
    lw_spin_lock(&h->free_lock);
    lw_hent *e = h->free;
    if (e)
        h->free = e->free_next;
    lw_spin_unlock(&h->free_lock);
    bool recycled = e != NULL;
    if (!e) {
        e = lw_arena_alloc(h->rec_size);
        if (!e) {
            lw_spin_unlock(s);
            return NULL;
        }
        lw_fetch_add_relaxed(&h->allocated, 1);
    } else {
        /* Odd while it is set up again: readers standing on it must notice
         * before its bucket or link changes (lw_hash_find). */
        lw_store_release(&e->reuse, e->reuse + 1);
        /* A reader that matched the old key before removal may still read
         * the payload: the record types tolerate that (registry.h). */
        size_t skip = sizeof(lw_hent) + h->keep;
        memset((char *)e + skip, 0, h->rec_size - skip);
    }
    if (init)
        init(e, ctx);
    lw_store_release(&e->k2, k2);
    lw_store_release(&e->k1, k1);
    /* release order: bucket before the link (see lw_hash_find). */
    lw_store_release(&e->bucket, b);
    /* A reader still standing on this record from its old chain follows
     * this link into the new chain: at worst it misses, and misses go to
     * the slow path, which looks again under the stripe. */
    lw_store_release(&e->next, h->buckets[b]);
    /* Even again: set up.  release: its bucket and link are visible to a
     * reader that reads this count (one that read the odd count, or the
     * count before it, starts again).  Without the odd phase a reader that
     * arrived in the middle could take the link of one incarnation and the
     * bucket of the next and miss the rest of its chain (model/). */
    if (recycled)
        lw_store_release(&e->reuse, e->reuse + 1);
    /* release: the entry's fields are complete before it is reachable */
    lw_store_release(&h->buckets[b], e);
    lw_fetch_add_relaxed(&h->live, 1);
    lw_spin_unlock(s);
    *created = true;
    return e;
}

lw_hent *lw_hash_find_locked(lw_hash *h, uint64_t k1, uint64_t k2)
{
    uint32_t b = lw_hash_bucket(h, k1, k2);
    int *s = &h->stripes[b & (LW_STRIPES - 1)];
    lw_hent *r = NULL;
    lw_spin_lock(s);
    for (lw_hent *e = h->buckets[b]; e && !r; e = e->next)
        if (lw_load_relaxed(&e->k1) == k1 && lw_load_relaxed(&e->k2) == k2)
            r = e;
    lw_spin_unlock(s);
    return r;
}

bool lw_hash_remove(lw_hash *h, lw_hent *e, uint64_t k1, uint64_t k2)
{
    uint32_t b = lw_hash_bucket(h, k1, k2);
    int *s = &h->stripes[b & (LW_STRIPES - 1)];
    bool ok = false;

    lw_spin_lock(s);
    if (lw_load_relaxed(&e->k1) == k1 && lw_load_relaxed(&e->k2) == k2) {
        lw_store_release(&e->k1, 0);
        /* Unlink; e->next stays, so a reader standing on e goes on along
         * the rest of this chain. */
        lw_hent **pp = &h->buckets[b];
        while (*pp && *pp != e)
            pp = &(*pp)->next;
        if (*pp)
            lw_store_release(pp, e->next);
        lw_spin_lock(&h->free_lock);
        e->free_next = h->free;
        /* release: the link before the head (a fork child may find the
         * list as it is between the two stores: lw_hash_atfork_child) */
        lw_store_release(&h->free, e);
        lw_spin_unlock(&h->free_lock);
        lw_fetch_add_relaxed(&h->live, -1);
        ok = true;
    }
    lw_spin_unlock(s);
    return ok;
}

void lw_hash_atfork_child(lw_hash *h)
{
    /* A stripe held by a thread that does not exist in the child would
     * never be released.  The fork handlers do not take the stripes (there
     * are thousands); resetting them is safe because each update under a
     * stripe keeps the table usable after every one of its stores: an
     * insert publishes its record last (the bucket head), a removal makes
     * the record a tombstone, then unlinks it, then frees it, and the free
     * list is pushed link first and popped with one store.  A child that
     * finds one of them half done has, at worst, lost a record (never
     * reachable again, never reused): a record popped but not inserted, or
     * unlinked but not yet freed.  The slot table likewise: a slot handed
     * out twice only makes a hint miss (lw_slot_lookup checks the key). */
    if (h->stripes)
        memset(h->stripes, 0, LW_STRIPES * sizeof(int));
    h->free_lock = 0;
}

/* ---- registry ---- */

lw_hash lw_registry;
static uint64_t next_lock_id = 1;   /* fetch_add, relaxed: uniqueness only */

lw_lock **lw_slot_chunks[LW_SLOT_CHUNKS];
static uint32_t next_slot = 1;      /* slot_lock */
static int slot_lock;               /* nests inside a registry stripe */

/* Gives a fresh record its slot (it keeps it through recycling).  A record
 * without one (table full, no memory) is simply found through the hash. */
static void slot_assign(lw_lock *l)
{
    lw_spin_lock(&slot_lock);
    uint32_t s = next_slot;
    if (s != 0) {
        lw_lock ***cp = &lw_slot_chunks[s >> LW_SLOT_CHUNK_BITS];
        if (!*cp)
            lw_store_release(cp, lw_arena_map(sizeof(lw_lock *) << LW_SLOT_CHUNK_BITS));
        if (*cp) {
            lw_store_release(&(*cp)[s & ((1u << LW_SLOT_CHUNK_BITS) - 1)], l);
            l->slot = s;
            next_slot = s + 1;   /* wraps to 0 after the last: then no more */
        }
    }
    lw_spin_unlock(&slot_lock);
}

uint32_t lw_registry_slots(void)
{
    lw_spin_lock(&slot_lock);
    uint32_t n = next_slot;
    lw_spin_unlock(&slot_lock);
    return n ? n : UINT32_MAX;   /* wrapped: every slot is taken */
}

struct reg_ctx {
    enum lw_lock_kind kind;
    unsigned mtype;
};

static void lock_init(lw_hent *rec, void *vctx)
{
    struct reg_ctx *c = vctx;
    lw_lock *l = (lw_lock *)rec;
    if (l->slot == 0)
        slot_assign(l);
    l->id = lw_fetch_add_relaxed(&next_lock_id, 1);
    l->kind = (uint16_t)c->kind;
    l->mtype = (uint16_t)(c->mtype & LW_MTYPE_MASK);
    l->robust = (c->mtype & LW_MTYPE_ROBUST) != 0;
    l->nohint = (c->mtype & LW_MTYPE_NOHINT) != 0;
    l->writers_first = (c->mtype & LW_MTYPE_WRITERS_FIRST) != 0;
}

bool lw_registry_init(void)
{
    lw_registry.by_address = true;
    lw_registry.keep = offsetof(lw_lock, kind) - sizeof(lw_hent);   /* slot, uf_up, uf_flags */
    return lw_hash_init(&lw_registry, LW_REG_BUCKETS, sizeof(lw_lock));
}

lw_lock *lw_registry_get(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype,
                         bool *created)
{
    struct reg_ctx c = { kind, mtype };
    lw_lock *l = lw_registry_find(addr);
    *created = false;
    if (LW_LIKELY(l != NULL))
        return l;
    return (lw_lock *)lw_hash_insert(&lw_registry, addr, 0, lock_init, &c, created);
}

void lw_registry_forget(lw_lock *l)
{
    uint64_t addr = lw_load_relaxed(&l->h.k1);
    if (!addr)
        return;
    lw_graph_remove_node(l);
    lw_hash_remove(&lw_registry, &l->h, addr, 0);
}

uint64_t lw_registry_new_id(void)
{
    return lw_fetch_add_relaxed(&next_lock_id, 1);
}

uint64_t lw_registry_live(void)
{
    return lw_load_relaxed(&lw_registry.live);
}

void lw_registry_atfork_child(void)
{
    slot_lock = 0;
    lw_hash_atfork_child(&lw_registry);
}
