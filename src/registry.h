/*
 * registry.h: the lock registry (address -> lock node) and the generic
 * lock-free-lookup hash it and the order graph's edge set are built on.
 *
 * Hash contract (lw_hash):
 *  - Lookups (lw_hash_find) are lock-free and wait-free apart from the chain
 *    walk; they never write shared memory.
 *  - Inserts and removals take a per-stripe spinlock; many writers, each
 *    serialised per stripe.
 *  - Entries are never unmapped: removal clears k1, unlinks the entry from
 *    its chain (keeping its own link, so a reader standing on it goes on)
 *    and puts it on a free list that later inserts take from first.
 *    Memory therefore stays at the high-water mark of live entries, and a
 *    reader racing with a removal reads a live or a recycled record of the
 *    same type, never freed memory; a recycled record may lead it into
 *    another chain, so it can miss, never crash.
 *  - A reader may miss an entry that is being inserted concurrently; callers
 *    treat a miss as "take the slow path", which re-checks under the stripe.
 *    It never misses an entry that was there all along: a reader led off
 *    its chain by a recycled record notices (the record's reuse count is
 *    odd, being set up, or moved, or its bucket is another) and starts
 *    again, finally under the stripe lock.  model/registry.pml checks
 *    these promises with SPIN (README.md, "Fuzzing and the registry
 *    model").
 *  - k1 must never be 0 for a live entry.
 */
#ifndef LW_REGISTRY_H
#define LW_REGISTRY_H

#include "lw_base.h"
#include "arena.h"

typedef struct lw_hent {
    struct lw_hent *next;   /* written under the stripe, read acquire */
    struct lw_hent *free_next;  /* free-list link, under free_lock */
    uint32_t bucket;        /* the chain it is in; written before next */
    uint32_t reuse;         /* bumped (release) to odd when it is recycled,
                               to even once set up: a seqlock for readers */
    uint64_t k1;            /* 0 = tombstone; written under stripe, read acquire */
    uint64_t k2;            /* written before k1 is published */
} lw_hent;

typedef struct {
    lw_hent **buckets;
    int *stripes;
    uint32_t mask;
    size_t rec_size;        /* size of the records this table holds */
    bool by_address;        /* k1 is an address, k2 is 0: see lw_hash_bucket */
    size_t keep;            /* bytes after the header a recycled record keeps */
    lw_hent *free;          /* removed records, for reuse; free_lock */
    int free_lock;          /* nests inside a stripe lock */
    uint64_t live;          /* statistics, relaxed */
    uint64_t allocated;
} lw_hash;

bool lw_hash_init(lw_hash *h, uint32_t nbuckets, size_t rec_size);
static inline lw_hent *lw_hash_find(lw_hash *h, uint64_t k1, uint64_t k2);
/* Returns the entry for (k1,k2), creating it if absent.  A created entry is
 * zeroed apart from its header, then init(rec, ctx) runs before it becomes
 * visible.  *created tells which happened.  NULL when memory is exhausted. */
lw_hent *lw_hash_insert(lw_hash *h, uint64_t k1, uint64_t k2,
                        void (*init)(lw_hent *rec, void *ctx), void *ctx,
                        bool *created);
/* Turns e into a tombstone if it still holds (k1,k2).  Returns true if so. */
bool lw_hash_remove(lw_hash *h, lw_hent *e, uint64_t k1, uint64_t k2);
void lw_hash_atfork_child(lw_hash *h);

/* ---- lock nodes ---- */


struct lw_edge;


#define LW_ORDER_NONE 1u   /* lw_lock.order_class */
#define LW_ORDER_BASE 2u
#define LW_USERS_SHARED UINT32_MAX   /* lw_lock.users: taken by two threads or more */
#define LW_UF_CYCLIC 1u              /* lw_lock.uf_flags */

#define LW_IN_KNOWN 2   /* edges into a lock remembered in it (lw_core.c, edge_slow); each
                          * costs 8 bytes of every live lock */

typedef struct lw_lock {
    lw_hent h;                /* k1 = lock address */
    uint32_t slot;            /* index in the slot table (0: none); kept on reuse */
    /* The order graph's components, ignoring edge directions (graph.c):
     * the slot of a parent in a union-find forest (0: a root), and at a
     * root LW_UF_CYCLIC when a cyclic edge joined the component.  Kept on
     * reuse too, and never split or cleared: a component only grows, which
     * errs towards searching (graph lock). */
    uint32_t uf_up;
    uint32_t uf_flags;
    uint16_t kind;            /* enum lw_lock_kind */
    uint16_t mtype;           /* LW_MTYPE_* for mutexes */
    uint64_t id;              /* unique per incarnation, never 0 or reused */
    /* Who acquires it (lw_lock_user): 0 nobody yet, a thread number + 1
     * while one thread alone has, LW_USERS_SHARED once a second one did.
     * Written at most twice per incarnation: read-mostly on the fast path. */
    uint32_t users;
    /* Mutexes: the lost-wake-up clock (lost.h), bumped (seq_cst) by a
     * signal that may be lost while another thread holds this mutex, read
     * relaxed by every acquisition into its held entry.  Written only on
     * that rare path: read-mostly, in the line `users` is in. */
    uint32_t lost_seq;
    /* Edges into this lock known to need nothing more (lw_core.c,
     * edge_slow): each lw_known_in(from id, this id) << 4 | the edge's
     * modes, for an edge without gates (modes only grow, gates only
     * shrink: it stays so while both locks live).  Spares the edge table's
     * lookup, a cache miss, when a lock per object is taken under a few
     * others.  Written and read relaxed by any thread; zero at reuse. */
    uint64_t in_known[LW_IN_KNOWN];
    uintptr_t first_pc;       /* call site: init call or first lock */
    uint32_t first_how;       /* LW_FIRST_*: how the lock was first seen */
    bool robust;              /* robust mutex: dying with it held is its use */
    /* Set (release) once lockwatch has stored this node's hint in the
     * lock object (a mutex's __list, an rwlock's padding word): a hint
     * word found zero afterwards means the memory was set up again without
     * an init call (zeroed, calloc'd, assigned an initializer): a new lock
     * at an old lock's address (intercept.h, lw_*_check_reused). */
    bool hinted;
    /* The object was of a class that cannot carry a hint (LW_MTYPE_NOHINT)
     * when the node was made; set before the node is published. */
    bool nohint;
    /* An rwlock whose waiting writers make new readers wait
     * (LW_MTYPE_WRITERS_FIRST): readers can block one another through
     * them, so no cycle is harmless for being read (graph.c). */
    bool writers_first;
    bool pending;             /* a deferred blocking-call report names it */
    /* Condition variables only (kind LW_KIND_COND). */
    bool destroyed;           /* destroyed and not re-initialised */
    /* Its key's entry in the order file (order.h), looked up at its first
     * new order edge while a file is loaded: 0 not looked up yet,
     * LW_ORDER_NONE no key or not listed, else LW_ORDER_BASE + index.
     * Written relaxed by any thread in the core's slow_edge (all write the
     * same value), read relaxed there. */
    uint16_t order_class;
    uint32_t cond_waiters;    /* atomic: threads inside a wait on it */
    uint32_t cond_gen;        /* fork generation of the four fields around it
                               * (written under cond_lock, read relaxed) */
    uintptr_t cond_mutex;     /* mutex of the current waiters; cond_lock */
    uintptr_t cond_pair_pc;   /* where that pairing was first seen */
    int cond_lock;            /* lw_gen_spin lock for the two fields above
                               * and cond_gen: lw_cond_lock */
    /* Order graph; all fields below written and read under the graph lock. */
    struct lw_edge *out, *in;
    int64_t rank;             /* topological order over non-cyclic edges */
    uint64_t mark;            /* search epoch */
    struct lw_edge *parent;   /* search tree */
    uint32_t nout, nin;
} lw_lock;

/* ---- a condition variable's state across fork ----
 * A fork child inherits the waiter count and mutex pairing of waits by
 * threads that are not in it (and maybe cond_lock held by one of them).
 * The first thread to lock the state in a new fork generation takes the
 * lock over if need be and clears the state; readers without the lock see
 * no waiters until then. */
static inline void lw_cond_lock(lw_lock *c)
{
    lw_gen_spin_lock(&c->cond_lock);
    unsigned gen = lw_load_relaxed(&lw_fork_gen);
    if (LW_UNLIKELY(c->cond_gen != gen)) {
        lw_store_relaxed(&c->cond_waiters, 0);
        c->cond_mutex = 0;
        c->cond_pair_pc = 0;
        /* release: the count is clear before the generation says so */
        lw_store_release(&c->cond_gen, gen);
    }
}

static inline void lw_cond_unlock(lw_lock *c)
{
    lw_gen_spin_unlock(&c->cond_lock);
}

/* Threads inside a wait on c, in this process. */
static inline uint32_t lw_cond_waiters(const lw_lock *c)
{
    if (LW_UNLIKELY(lw_load_acquire(&c->cond_gen) != lw_load_relaxed(&lw_fork_gen)))
        return 0;   /* all of them in an earlier generation */
    return lw_load_acquire(&c->cond_waiters);
}

/* A lock object of kind `kind` at old's address, of a class that can
 * carry a node hint, whose hint word reads zero: is it another lock than
 * old, one set up anew without an init call lockwatch saw (freed or
 * unmapped memory reused zeroed, calloc, an assigned initializer)?  Yes if
 * old had stored its hint there (zero again: the memory was rewritten), if
 * old is of another kind (a spin lock or condition variable there before),
 * or if old was made for an object of a class that cannot carry a hint (a
 * process-shared or robust mutex, a process-shared rwlock): the kind or
 * the class changed, which only a new set-up does, and old, never hinted,
 * would otherwise keep its edges at an address that now holds another
 * lock.  hint: the hint word, re-read after old's `hinted` (acquire; pairs
 * with lw_note_hinted), since another thread may be storing it right now. */
static inline bool lw_lock_superseded(const lw_lock *old, unsigned kind, const uintptr_t *hint)
{
    if (old->kind != kind || old->nohint)
        return true;
    return __atomic_load_n(&old->hinted, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(hint, __ATOMIC_RELAXED) == 0;
}

bool lw_registry_init(void);
/* Lock-free lookup; NULL when the address is not registered. */
static inline lw_lock *lw_registry_find(uintptr_t addr);
/* Find or create the node for addr.  *created set when it is new. */
lw_lock *lw_registry_get(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype,
                         bool *created);
/* The lock at addr is gone (destroyed, or re-initialised): forget it. */
void lw_registry_forget(lw_lock *l);
uint64_t lw_registry_live(void);
/* One past the last slot handed out (slots run from 1): lw_slot_node(s)
 * for s below it is a lock record or NULL. */
uint32_t lw_registry_slots(void);
/* A lock id for an object that has no node (a finding's semaphore). */
uint64_t lw_registry_new_id(void);
void lw_registry_atfork_child(void);

extern lw_hash lw_registry;

/* ---- the slot table ----
 * Every lock record gets, when it is first allocated, a slot number that it
 * keeps through recycling, and the table maps slots back to records.  A
 * slot is small enough to be stored in a lock object's spare field (see
 * intercept.h, lw_mutex_cached): a later call then finds the node without
 * the hash.  A slot read from program memory is only a hint: the record it
 * names is the lock's node only if its key is the lock's address (records
 * are never unmapped, so reading one is always safe). */
#define LW_SLOT_CHUNK_BITS 16
#define LW_SLOT_CHUNKS     (1u << (32 - LW_SLOT_CHUNK_BITS))
extern lw_lock **lw_slot_chunks[LW_SLOT_CHUNKS];

static inline lw_lock *lw_slot_node(uint32_t slot)
{
    /* acquire: pairs with the release publishing a chunk and an entry */
    lw_lock **c = __atomic_load_n(&lw_slot_chunks[slot >> LW_SLOT_CHUNK_BITS], __ATOMIC_ACQUIRE);
    if (LW_UNLIKELY(c == NULL))
        return NULL;
    return __atomic_load_n(&c[slot & ((1u << LW_SLOT_CHUNK_BITS) - 1)], __ATOMIC_ACQUIRE);
}

/* The node of the lock at addr named by a slot hint, or NULL. */
static inline lw_lock *lw_slot_lookup(uint32_t slot, uintptr_t addr)
{
    lw_lock *l = lw_slot_node(slot);
    if (LW_LIKELY(l != NULL) && __atomic_load_n(&l->h.k1, __ATOMIC_ACQUIRE) == addr)
        return l;
    return NULL;
}

static inline uint64_t lw_hash_mix(uint64_t k1, uint64_t k2)
{
    /* Two multiplies: enough to spread aligned pointers and small ids over
     * the buckets (the high half of the product is folded in). */
    uint64_t x = (k1 ^ (k2 * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return x ^ (x >> 32);
}

lw_hent *lw_hash_find_locked(lw_hash *h, uint64_t k1, uint64_t k2);

/* The bucket of a key.  Addresses keep their locality: locks allocated
 * side by side (arrays, structs from one allocator) land in neighbouring
 * buckets, so a program walking a million fresh mutexes walks the bucket
 * array too instead of missing the cache on each lock.  High bits are
 * folded in so that locks at the same offset of large aligned blocks do
 * not all share a bucket. */
static inline uint32_t lw_hash_bucket(const lw_hash *h, uint64_t k1, uint64_t k2)
{
    if (h->by_address)
        return (uint32_t)((k1 >> 4) ^ (k1 >> 24) ^ (k1 >> 44)) & h->mask;
    return (uint32_t)lw_hash_mix(k1, k2) & h->mask;
}

static inline lw_hent *lw_hash_find(lw_hash *h, uint64_t k1, uint64_t k2)
{
    uint32_t b = lw_hash_bucket(h, k1, k2);
    for (unsigned tries = 0; tries < 4; tries++) {
        /* acquire: pairs with the release publishing a chain link, so the
         * entry's keys and bucket are visible. */
        lw_hent *e = __atomic_load_n(&h->buckets[b], __ATOMIC_ACQUIRE);
        bool jumped = false;
        while (e) {
            uint32_t r1 = __atomic_load_n(&e->reuse, __ATOMIC_ACQUIRE);
            uint64_t ek1 = __atomic_load_n(&e->k1, __ATOMIC_ACQUIRE);
            uint64_t ek2 = __atomic_load_n(&e->k2, __ATOMIC_ACQUIRE);
            lw_hent *next = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
            uint32_t eb = __atomic_load_n(&e->bucket, __ATOMIC_ACQUIRE);
            /* A record being set up again (odd count), recycled while we
             * stood on it (the count moved), or living in another chain:
             * its link may lead anywhere, even to the end of an empty
             * chain.  Start again.  The link and bucket read between two
             * equal even counts are those of one incarnation, so the bucket
             * is read before the re-check (model/registry.pml checks this
             * order; the earlier one missed entries). */
            if ((r1 & 1) || __atomic_load_n(&e->reuse, __ATOMIC_ACQUIRE) != r1 || eb != b) {
                jumped = true;
                break;
            }
            if (ek1 == k1 && ek2 == k2 && __atomic_load_n(&e->k1, __ATOMIC_ACQUIRE) == k1)
                return e;
            e = next;
        }
        if (!jumped)
            return NULL;
    }
    return lw_hash_find_locked(h, k1, k2);
}

static inline lw_lock *lw_registry_find(uintptr_t addr)
{
    return (lw_lock *)lw_hash_find(&lw_registry, addr, 0);
}

#endif
