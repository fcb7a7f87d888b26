/*
 * test_registry.c: the tombstone-reusing hash (lw_hash) and the lock
 * registry built on it: insert/find/forget, ids unique per incarnation,
 * memory that stays flat under churn, and one node per address when threads
 * race to register it.  Built twice: against liblwcore, and (when the
 * compiler has it) with ThreadSanitizer over the core sources, where the
 * concurrent test is the point.  LW_TEST_SMALL shrinks the loops for that build.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include "arena.h"
#include "graph.h"
#include "registry.h"

#include <check.h>

#include "unit.h"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LW_TEST_SMALL
#define CHURN_ROUNDS 100 /* x CHURN_ADDRS insert/forget cycles */
#define MANY_LOCKS 20000
#define SHARED_ROUNDS 10
#define OWN_ADDRS 500
#define FIND_CHURN 40000
#else
#define CHURN_ROUNDS 1000
#define MANY_LOCKS 100000
#define SHARED_ROUNDS 40
#define OWN_ADDRS 2000
#define FIND_CHURN 1000000
#endif
#define CHURN_ADDRS 1000
#define VARYING_STEPS 200000
#define NTHREADS 4
#define SHARED_ADDRS 1000
#define SHARED_BATCH 50
#define TEST_TIMEOUT 60


/* Fake, never dereferenced lock addresses, spaced like real mutexes. */
#define ADDR(i) ((uintptr_t)0x10000000u + (uintptr_t)(i)*64u)

static void setup(void)
{
    ck_assert(lw_registry_init());
    ck_assert(lw_graph_init());
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts ids and checks that none is 0 or repeated. */
static void assert_ids_unique(uint64_t *ids, size_t n)
{
    qsort(ids, n, sizeof(*ids), cmp_u64);
    for (size_t i = 0; i < n; i++) {
        REQUIRE_MSG(ids[i] != 0, "lock id 0 handed out");
        if (i > 0)
            REQUIRE_MSG(ids[i] != ids[i - 1], "lock id %llu handed out twice",
                        (unsigned long long)ids[i]);
    }
}

static lw_lock *get_new(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype)
{
    bool created = false;
    lw_lock *l = lw_registry_get(addr, kind, mtype, &created);
    REQUIRE(l != NULL);
    REQUIRE_MSG(created, "address %#lx was already registered", (unsigned long)addr);
    return l;
}

/* ---- lw_hash used directly ---- */

typedef struct {
    lw_hent h;
    uint64_t payload[4];
} test_rec;

struct init_ctx {
    uint64_t value;
    int calls;
    bool saw_dirty; /* payload was not zero when init ran */
    bool saw_key;   /* the key was already visible when init ran */
    lw_hash *h;
    uint64_t k1, k2;
};

static void rec_init(lw_hent *rec, void *vctx)
{
    struct init_ctx *c = vctx;
    test_rec *r = (test_rec *)rec;
    c->calls++;
    for (unsigned i = 0; i < LW_ARRAY_SIZE(r->payload); i++)
        if (r->payload[i])
            c->saw_dirty = true;
    if (lw_hash_find(c->h, c->k1, c->k2))
        c->saw_key = true;
    r->payload[0] = c->value;
    r->payload[3] = ~c->value;
}

static test_rec *hins(lw_hash *h, uint64_t k1, uint64_t k2, uint64_t value, bool *created)
{
    struct init_ctx c = {value, 0, false, false, h, k1, k2};
    test_rec *r = (test_rec *)lw_hash_insert(h, k1, k2, rec_init, &c, created);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(c.calls, *created ? 1 : 0);
    ck_assert_msg(!c.saw_dirty, "init saw a payload that was not zeroed");
    ck_assert_msg(!c.saw_key, "entry visible to lookups before init ran");
    return r;
}

START_TEST(test_hash_basic)
{
    /* One bucket: every entry shares a chain, so keys and tombstones interact. */
    lw_hash h;
    memset(&h, 0, sizeof(h));
    ck_assert(lw_hash_init(&h, 1, sizeof(test_rec)));
    bool created;

    ck_assert_ptr_null(lw_hash_find(&h, 1, 1));
    test_rec *a = hins(&h, 1, 1, 11, &created);
    ck_assert(created);
    test_rec *b = hins(&h, 1, 2, 12, &created);
    ck_assert(created);
    test_rec *c = hins(&h, 2, 1, 21, &created);
    ck_assert(created);
    ck_assert(a != b && b != c && a != c);
    ck_assert_uint_eq(h.live, 3);
    ck_assert_uint_eq(h.allocated, 3);

    /* k2 is part of the key. */
    ck_assert_ptr_eq(lw_hash_find(&h, 1, 1), &a->h);
    ck_assert_ptr_eq(lw_hash_find(&h, 1, 2), &b->h);
    ck_assert_ptr_eq(lw_hash_find(&h, 2, 1), &c->h);
    ck_assert_ptr_null(lw_hash_find(&h, 2, 2));
    ck_assert_uint_eq(b->payload[0], 12);
    ck_assert_uint_eq(b->payload[3], ~(uint64_t)12);

    /* Inserting an existing key returns it untouched, without init. */
    test_rec *b2 = hins(&h, 1, 2, 99, &created);
    ck_assert(!created);
    ck_assert_ptr_eq(b2, b);
    ck_assert_uint_eq(b->payload[0], 12);
    ck_assert_uint_eq(h.live, 3);

    /* Remove needs the key the entry still holds. */
    ck_assert(!lw_hash_remove(&h, &b->h, 1, 1));
    ck_assert(lw_hash_remove(&h, &b->h, 1, 2));
    ck_assert_uint_eq(b->h.k1, 0);
    ck_assert(!lw_hash_remove(&h, &b->h, 1, 2));
    ck_assert_ptr_null(lw_hash_find(&h, 1, 2));
    ck_assert_ptr_eq(lw_hash_find(&h, 1, 1), &a->h);
    ck_assert_ptr_eq(lw_hash_find(&h, 2, 1), &c->h);
    ck_assert_uint_eq(h.live, 2);

    /* The tombstone is reused, payload zeroed before init, nothing allocated. */
    test_rec *d = hins(&h, 3, 3, 33, &created);
    ck_assert(created);
    ck_assert_ptr_eq(d, b);
    ck_assert_uint_eq(d->payload[0], 33);
    ck_assert_uint_eq(h.allocated, 3);
    ck_assert_uint_eq(h.live, 3);
    ck_assert_ptr_eq(lw_hash_find(&h, 3, 3), &d->h);
    ck_assert_ptr_null(lw_hash_find(&h, 1, 2));

    /* A stale remove (old key of a recycled record) must not hit the new entry. */
    ck_assert(!lw_hash_remove(&h, &d->h, 1, 2));
    ck_assert_ptr_eq(lw_hash_find(&h, 3, 3), &d->h);

    /* Re-inserting the old key now allocates (no tombstone left). */
    test_rec *e = hins(&h, 1, 2, 44, &created);
    ck_assert(created);
    ck_assert(e != a && e != b && e != c);
    ck_assert_uint_eq(h.allocated, 4);
    ck_assert_uint_eq(h.live, 4);
}
END_TEST

START_TEST(test_hash_tombstones_flat)
{
    /* Few buckets, many keys over time: live stays <= 64 so allocation must too. */
    lw_hash h;
    memset(&h, 0, sizeof(h));
    ck_assert(lw_hash_init(&h, 8, sizeof(test_rec)));
    test_rec *live[64];
    bool created;
    uint64_t key = 1;
    for (int i = 0; i < 64; i++)
        live[i] = hins(&h, key++, 7, 0, &created);
    uint64_t high = h.allocated;
    ck_assert_uint_eq(high, 64);
    for (int round = 0; round < 2000; round++) {
        int slot = round % 64;
        uint64_t k = live[slot]->h.k1;
        ck_assert(lw_hash_remove(&h, &live[slot]->h, k, 7));
        /* New key, same k2: may land in any of the 8 buckets, each of
         * which holds ~8 entries, so some bucket has the tombstone.  Only
         * the tombstone's own bucket can reuse it, so allocation may grow
         * while the tombstones spread; it must stay bounded. */
        live[slot] = hins(&h, key++, 7, 0, &created);
        ck_assert(created);
        ck_assert_uint_eq(h.live, 64);
    }
    /* A bucket allocates only when it has no tombstone, so it never holds
     * more records than its own high-water mark of live entries (<= 64). */
    ck_assert_uint_le(h.allocated, 8 * 64);
    for (int i = 0; i < 64; i++)
        ck_assert_ptr_eq(lw_hash_find(&h, live[i]->h.k1, 7), &live[i]->h);
}
END_TEST

START_TEST(test_hash_mix)
{
    /* Deterministic, and sensitive to both keys. */
    ck_assert_uint_eq(lw_hash_mix(1, 2), lw_hash_mix(1, 2));
    ck_assert_uint_ne(lw_hash_mix(1, 2), lw_hash_mix(2, 1));
    ck_assert_uint_ne(lw_hash_mix(ADDR(1), 0), lw_hash_mix(ADDR(2), 0));
    /* Addresses 64 bytes apart spread over the registry's buckets. */
    static uint8_t hit[4096];
    unsigned distinct = 0;
    for (unsigned i = 0; i < 4096; i++) {
        uint32_t b = (uint32_t)lw_hash_mix(ADDR(i), 0) & 4095;
        if (!hit[b]++)
            distinct++;
    }
    /* A random function fills ~63% of the buckets. */
    ck_assert_uint_gt(distinct, 2400);
}
END_TEST

/* ---- registry ---- */

START_TEST(test_insert_find_forget)
{
    uintptr_t a = ADDR(1), b = ADDR(2);
    bool created;

    ck_assert_ptr_null(lw_registry_find(a));
    ck_assert_uint_eq(lw_registry_live(), 0);

    lw_lock *la = lw_registry_get(a, LW_KIND_MUTEX, LW_MTYPE_RECURSIVE, &created);
    ck_assert_ptr_nonnull(la);
    ck_assert(created);
    ck_assert_uint_eq(la->h.k1, a);
    ck_assert_uint_eq(la->kind, LW_KIND_MUTEX);
    ck_assert_uint_eq(la->mtype, LW_MTYPE_RECURSIVE);
    ck_assert_uint_ne(la->id, 0);
    ck_assert_ptr_null(la->out);
    ck_assert_ptr_null(la->in);
    ck_assert_ptr_eq(lw_registry_find(a), la);
    ck_assert_uint_eq(lw_registry_live(), 1);

    /* Second get: same node, not created, kind unchanged. */
    lw_lock *la2 = lw_registry_get(a, LW_KIND_RWLOCK, 0, &created);
    ck_assert(!created);
    ck_assert_ptr_eq(la2, la);
    ck_assert_uint_eq(la->kind, LW_KIND_MUTEX);

    lw_lock *lb = lw_registry_get(b, LW_KIND_RWLOCK, 0, &created);
    ck_assert(created);
    ck_assert(lb != la);
    ck_assert_uint_ne(lb->id, la->id);
    ck_assert_uint_eq(lb->kind, LW_KIND_RWLOCK);
    ck_assert_uint_eq(lw_registry_live(), 2);

    lw_registry_forget(la);
    ck_assert_ptr_null(lw_registry_find(a));
    ck_assert_ptr_eq(lw_registry_find(b), lb);
    ck_assert_uint_eq(lw_registry_live(), 1);

    /* Forgetting a forgotten node is a no-op. */
    lw_registry_forget(la);
    ck_assert_uint_eq(lw_registry_live(), 1);
    ck_assert_ptr_eq(lw_registry_find(b), lb);

    lw_registry_forget(lb);
    ck_assert_ptr_null(lw_registry_find(b));
    ck_assert_uint_eq(lw_registry_live(), 0);
}
END_TEST

START_TEST(test_new_incarnation_new_id)
{
    enum { N = 10000 };
    uintptr_t a = ADDR(42);
    uint64_t *ids = calloc(N + 1, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);

    lw_lock *first = get_new(a, LW_KIND_MUTEX, LW_MTYPE_ERRORCHECK);
    first->first_pc = 0x1234;
    first->users = 7;
    first->first_how = 2;
    uint64_t allocated = lw_registry.allocated;
    ids[0] = first->id;
    lw_registry_forget(first);

    for (int i = 1; i <= N; i++) {
        lw_lock *l = get_new(a, i & 1 ? LW_KIND_RWLOCK : LW_KIND_SPIN, 0);
        /* The tombstone in this bucket is reused... */
        REQUIRE(l == first);
        /* ...but as a new lock: new id, nothing left of the old one. */
        REQUIRE(l->kind == (i & 1 ? LW_KIND_RWLOCK : LW_KIND_SPIN));
        REQUIRE(l->mtype == 0);
        REQUIRE(l->first_pc == 0);
        REQUIRE(l->users == 0);
        REQUIRE(l->first_how == 0);
        REQUIRE(l->rank == 0);
        ids[i] = l->id;
        REQUIRE(ids[i] != ids[i - 1]);
        lw_registry_forget(l);
        REQUIRE(lw_registry_find(a) == NULL);
    }
    ck_assert_uint_eq(lw_registry.allocated, allocated);
    assert_ids_unique(ids, N + 1);
    free(ids);
}
END_TEST

/* A lock object that can carry a hint, found with its hint word zero at a
 * registered address, is another lock than the node there if the node had
 * stored its hint (the memory was rewritten), or if the node was made for
 * an object that cannot carry one (process-shared, robust): a new set-up
 * changed the class.  Otherwise (a node that has not stored its hint yet)
 * it is the same lock.  So is a lock of another kind than the node (a
 * spin lock's memory reused for a mutex).  The flag does not outlive the
 * node. */
START_TEST(test_superseded)
{
    uintptr_t zero = 0, hint = 0x4c57a11e00000001ull;

    lw_lock *plain = get_new(ADDR(7), LW_KIND_MUTEX, LW_MTYPE_NORMAL);
    ck_assert(!plain->nohint && !plain->hinted);
    ck_assert(!lw_lock_superseded(plain, LW_KIND_MUTEX, &zero)); /* first call, hint not stored yet */
    plain->hinted = true;
    ck_assert(lw_lock_superseded(plain, LW_KIND_MUTEX, &zero)); /* stored, and zero again */
    ck_assert(!lw_lock_superseded(plain, LW_KIND_MUTEX, &hint)); /* stored meanwhile: the same lock */

    lw_lock *robust = get_new(ADDR(8), LW_KIND_MUTEX, LW_MTYPE_ROBUST | LW_MTYPE_NOHINT);
    ck_assert(robust->nohint && robust->robust && robust->mtype == LW_MTYPE_NORMAL);
    ck_assert(lw_lock_superseded(robust, LW_KIND_MUTEX, &zero));

    lw_lock *shared = get_new(ADDR(9), LW_KIND_RWLOCK, LW_MTYPE_NOHINT);
    ck_assert(shared->nohint);
    ck_assert(lw_lock_superseded(shared, LW_KIND_RWLOCK, &zero));
    ck_assert(!shared->writers_first);
    lw_lock *wf = get_new(ADDR(11), LW_KIND_RWLOCK, LW_MTYPE_WRITERS_FIRST);
    ck_assert(wf->writers_first && !wf->nohint && wf->mtype == 0);
    lw_registry_forget(wf);

    /* The next node at the address is made for what is there now. */
    lw_registry_forget(shared);
    lw_lock *again = get_new(ADDR(9), LW_KIND_RWLOCK, 0);
    ck_assert(!again->nohint && !again->hinted);
    ck_assert(!lw_lock_superseded(again, LW_KIND_RWLOCK, &zero));

    /* A mutex where a spin lock was (it has no hint word): another lock. */
    lw_lock *spin = get_new(ADDR(10), LW_KIND_SPIN, 0);
    ck_assert(!spin->nohint && !spin->hinted);
    ck_assert(lw_lock_superseded(spin, LW_KIND_MUTEX, &zero));
    ck_assert(lw_lock_superseded(again, LW_KIND_MUTEX, &zero));
    lw_registry_forget(spin);
    lw_registry_forget(plain);
    lw_registry_forget(robust);
    lw_registry_forget(again);
}
END_TEST

START_TEST(test_tombstones_keep_memory_flat)
{
    uint64_t allocated = 0;
    size_t arena = 0;
    for (int round = 0; round < CHURN_ROUNDS; round++) {
        for (unsigned i = 0; i < CHURN_ADDRS; i++)
            get_new(ADDR(i), LW_KIND_MUTEX, 0);
        ck_assert_uint_eq(lw_registry_live(), CHURN_ADDRS);
        for (unsigned i = 0; i < CHURN_ADDRS; i++) {
            lw_lock *l = lw_registry_find(ADDR(i));
            REQUIRE(l != NULL);
            lw_registry_forget(l);
        }
        ck_assert_uint_eq(lw_registry_live(), 0);
        if (round == 0) {
            allocated = lw_registry.allocated;
            arena = lw_arena_bytes();
            ck_assert_uint_eq(allocated, CHURN_ADDRS);
        } else if (lw_registry.allocated != allocated || lw_arena_bytes() != arena) {
            ck_abort_msg("round %d: %llu nodes allocated (%zu arena bytes), "
                         "after round 0: %llu (%zu)",
                         round, (unsigned long long)lw_registry.allocated, lw_arena_bytes(),
                         (unsigned long long)allocated, arena);
        }
    }
}
END_TEST

#ifndef LW_TEST_SMALL /* single-threaded: the sanitizer build skips it */
START_TEST(test_tombstones_varying_addresses)
{
    /* registry.h: "Memory therefore stays at the high-water mark of live
     * entries".  Churn as a program that destroys locks and creates new
     * ones elsewhere (heap objects with embedded mutexes): never more than
     * CHURN_ADDRS live, every new lock at an address not used before. */
    lw_lock *live[CHURN_ADDRS];
    uint64_t rng = 88172645463325252ull;
    unsigned next = 0;
    for (unsigned i = 0; i < CHURN_ADDRS; i++)
        live[i] = get_new(ADDR(next++), LW_KIND_MUTEX, 0);
    for (unsigned step = 0; step < VARYING_STEPS; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned i = (unsigned)(rng % CHURN_ADDRS);
        lw_registry_forget(live[i]);
        live[i] = get_new(ADDR(next++), LW_KIND_MUTEX, 0);
    }
    ck_assert_uint_eq(lw_registry_live(), CHURN_ADDRS);
    ck_assert_msg(lw_registry.allocated <= 2 * CHURN_ADDRS,
                  "%llu lock nodes (%zu arena bytes) allocated for at most %u live locks",
                  (unsigned long long)lw_registry.allocated, lw_arena_bytes(), CHURN_ADDRS);
}
END_TEST
#endif

START_TEST(test_many_locks)
{
    lw_lock **nodes = calloc(MANY_LOCKS, sizeof(*nodes));
    uint64_t *ids = calloc(MANY_LOCKS, sizeof(*ids));
    ck_assert(nodes && ids);

    for (unsigned i = 0; i < MANY_LOCKS; i++) {
        nodes[i] = get_new(ADDR(i), LW_KIND_MUTEX, i % 4);
        ids[i] = nodes[i]->id;
    }
    ck_assert_uint_eq(lw_registry_live(), MANY_LOCKS);
    ck_assert_uint_eq(lw_registry.allocated, MANY_LOCKS);
    for (unsigned i = 0; i < MANY_LOCKS; i++) {
        lw_lock *l = lw_registry_find(ADDR(i));
        REQUIRE(l == nodes[i]);
        REQUIRE(l->h.k1 == ADDR(i));
        REQUIRE(l->mtype == i % 4);
    }
    /* Neighbouring addresses that were never registered are not found. */
    for (unsigned i = 0; i < 1000; i++)
        REQUIRE(lw_registry_find(ADDR(i) + 8) == NULL);
    ck_assert_ptr_null(lw_registry_find(ADDR(MANY_LOCKS)));

    /* Forget every other lock; the rest are untouched. */
    for (unsigned i = 0; i < MANY_LOCKS; i += 2)
        lw_registry_forget(nodes[i]);
    ck_assert_uint_eq(lw_registry_live(), MANY_LOCKS / 2);
    for (unsigned i = 0; i < MANY_LOCKS; i++) {
        lw_lock *l = lw_registry_find(ADDR(i));
        if (i % 2 == 0)
            REQUIRE(l == NULL);
        else
            REQUIRE(l == nodes[i] && l->id == ids[i]);
    }
    assert_ids_unique(ids, MANY_LOCKS);
    free(nodes);
    free(ids);
}
END_TEST

/* ---- concurrency ---- */

#define OWN_BASE(t) (1000000u + (t)*100000u)
#define SHARED_BASE(round) (2000000u + (round)*SHARED_ADDRS)

/* A spinning barrier: waiters that are running leave it within a few
 * cycles of each other, so they really do hit the same address at once
 * (a futex barrier wakes them microseconds apart). */
typedef struct {
    unsigned n, count, gen;
} spin_barrier;

static void spin_barrier_wait(spin_barrier *b)
{
    unsigned gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->gen, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    for (unsigned spins = 0; __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen; spins++)
        if (spins > 64)
            sched_yield(); /* fewer cores than threads: let the others arrive */
}

typedef struct {
    int idx;
    spin_barrier *start;
    lw_lock *shared[SHARED_ROUNDS][SHARED_ADDRS];
    unsigned created_shared;
    unsigned lost_races; /* find missed, get found it: a real collision */
    uint64_t *ids;       /* every id of an own-range node */
    size_t nids;
    unsigned errors;
    const char *first_error;
} worker;

static void note_error(worker *w, const char *what)
{
    if (!w->errors++)
        w->first_error = what;
}

/* Register, check and forget this thread's own addresses: nobody else
 * touches them, so every get creates and every find sees exactly that node. */
static void churn_own(worker *w)
{
    lw_lock *mine[OWN_ADDRS];
    for (unsigned i = 0; i < OWN_ADDRS; i++) {
        uintptr_t a = ADDR(OWN_BASE(w->idx) + i);
        bool created = false;
        lw_lock *l = lw_registry_get(a, LW_KIND_MUTEX, 0, &created);
        if (!l || !created) {
            note_error(w, "own address not created");
            mine[i] = NULL;
            continue;
        }
        mine[i] = l;
        w->ids[w->nids++] = l->id;
    }
    for (unsigned i = 0; i < OWN_ADDRS; i++) {
        uintptr_t a = ADDR(OWN_BASE(w->idx) + i);
        lw_lock *l = lw_registry_find(a);
        if (!mine[i] || l != mine[i] || l->h.k1 != a)
            note_error(w, "own address not found as registered");
    }
    for (unsigned i = 0; i < OWN_ADDRS; i++) {
        if (!mine[i])
            continue;
        lw_registry_forget(mine[i]);
        if (lw_registry_find(ADDR(OWN_BASE(w->idx) + i)))
            note_error(w, "own address found after forget");
    }
}

/* Spread the workers over the CPUs we may use, so that they really run at
 * the same time (left alone, the scheduler may stack them on one CPU for
 * the whole test).  Best effort. */
static void spread_over_cpus(int idx)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        return;
    int want = idx % CPU_COUNT(&allowed);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed) && want-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    spread_over_cpus(w->idx);
    for (int r = 0; r < SHARED_ROUNDS; r++) {
        /* Everybody walks the same addresses, restarting together every
         * SHARED_BATCH of them: threads 0 and 1 forwards (in lockstep they
         * collide on every address), 2 and 3 backwards (they meet the
         * others half-way whatever the lag).  A find that misses followed
         * by a get that did not create means another thread won the race
         * in between. */
        for (unsigned k = 0; k < SHARED_ADDRS; k++) {
            unsigned i = k;
            if (k % SHARED_BATCH == 0)
                spin_barrier_wait(w->start);
            if (w->idx & 2)
                i = k - k % SHARED_BATCH + (SHARED_BATCH - 1 - k % SHARED_BATCH);
            uintptr_t a = ADDR(SHARED_BASE(r) + i);
            bool created = false;
            lw_lock *l = lw_registry_find(a);
            if (!l) {
                l = lw_registry_get(a, LW_KIND_RWLOCK, 0, &created);
                w->lost_races += !created;
            }
            if (!l) {
                note_error(w, "shared get returned NULL");
                continue;
            }
            if (l->h.k1 != a || l->id == 0 || l->kind != LW_KIND_RWLOCK)
                note_error(w, "shared node not fully initialised");
            w->shared[r][i] = l;
            w->created_shared += created;
        }
        churn_own(w);
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    static worker w[NTHREADS]; /* large: keep off the stack */
    pthread_t tid[NTHREADS];
    spin_barrier start = {NTHREADS, 0, 0};
    size_t own_ids = (size_t)SHARED_ROUNDS * OWN_ADDRS;

    for (int t = 0; t < NTHREADS; t++) {
        memset(&w[t], 0, sizeof(w[t]));
        w[t].idx = t;
        w[t].start = &start;
        w[t].ids = calloc(own_ids, sizeof(uint64_t));
        ck_assert_ptr_nonnull(w[t].ids);
        ck_assert_int_eq(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);

    unsigned created = 0, lost = 0;
    for (int t = 0; t < NTHREADS; t++) {
        lost += w[t].lost_races;
        ck_assert_msg(w[t].errors == 0, "thread %d: %u errors, first: %s", t, w[t].errors,
                      w[t].first_error);
        ck_assert_uint_eq(w[t].nids, own_ids);
        created += w[t].created_shared;
    }
    printf("concurrent: %u lost insert races\n", lost);
    fflush(stdout);
    /* Exactly one creator per shared address, and everybody got its node. */
    ck_assert_uint_eq(created, SHARED_ROUNDS * SHARED_ADDRS);
    uint64_t *ids = calloc(own_ids * NTHREADS + SHARED_ROUNDS * SHARED_ADDRS, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    size_t n = 0;
    for (int r = 0; r < SHARED_ROUNDS; r++) {
        for (unsigned i = 0; i < SHARED_ADDRS; i++) {
            lw_lock *l = w[0].shared[r][i];
            for (int t = 1; t < NTHREADS; t++)
                REQUIRE_MSG(w[t].shared[r][i] == l,
                            "round %d address %u: threads 0 and %d got different nodes", r, i, t);
            REQUIRE(lw_registry_find(ADDR(SHARED_BASE(r) + i)) == l);
            ids[n++] = l->id;
        }
    }
    ck_assert_uint_eq(lw_registry_live(), SHARED_ROUNDS * SHARED_ADDRS);
    for (int t = 0; t < NTHREADS; t++) {
        memcpy(ids + n, w[t].ids, w[t].nids * sizeof(*ids));
        n += w[t].nids;
        free(w[t].ids);
    }
    assert_ids_unique(ids, n);
    free(ids);
}
END_TEST

/* registry.h: lw_registry_find returns "NULL when the address is not
 * registered" - so never for one that is registered and stays so, however
 * other locks come and go around it.  Readers look up such a lock without
 * pause while the main thread registers and forgets locks that share its
 * bucket (and so stand before it in the chain) and locks in other buckets
 * (which may recycle the memory of the first).  More threads than CPUs, not
 * pinned: a reader preempted in the middle of a chain is the interesting
 * case. */
#define FIND_READERS (NTHREADS - 1)

typedef struct {
    uintptr_t addr;
    int *stop;
    unsigned long finds, misses;
} find_reader;

static void *find_reader_main(void *arg)
{
    find_reader *r = arg;
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        for (int k = 0; k < 1000; k++) {
            r->misses += lw_registry_find(r->addr) == NULL;
            r->finds++;
        }
    }
    return NULL;
}

START_TEST(test_find_during_churn)
{
    enum { NEIGHBOURS = 8 };
    uintptr_t stable_addr = ADDR(0), same[NEIGHBOURS], other[NEIGHBOURS];
    uint32_t b = (uint32_t)lw_hash_mix(stable_addr, 0) & lw_registry.mask;
    unsigned ns = 0, no = 0;
    for (unsigned i = 1; ns < NEIGHBOURS || no < NEIGHBOURS; i++) {
        uintptr_t a = ADDR(i);
        if (((uint32_t)lw_hash_mix(a, 0) & lw_registry.mask) == b) {
            if (ns < NEIGHBOURS)
                same[ns++] = a;
        } else if (no < NEIGHBOURS) {
            other[no++] = a;
        }
    }
    lw_lock *stable = get_new(stable_addr, LW_KIND_MUTEX, 0);

    int stop = 0;
    find_reader r[FIND_READERS];
    pthread_t tid[FIND_READERS];
    for (int t = 0; t < FIND_READERS; t++) {
        r[t] = (find_reader){.addr = stable_addr, .stop = &stop};
        ck_assert_int_eq(pthread_create(&tid[t], NULL, find_reader_main, &r[t]), 0);
    }
    /* A chain of NEIGHBOURS locks in front of the stable one, gone again;
     * then as many elsewhere, taking their memory if it is recycled. */
    lw_lock *tmp[NEIGHBOURS];
    for (unsigned it = 0; it < FIND_CHURN / NEIGHBOURS; it++) {
        for (unsigned k = 0; k < NEIGHBOURS; k++)
            tmp[k] = get_new(same[k], LW_KIND_MUTEX, 0);
        for (unsigned k = 0; k < NEIGHBOURS; k++)
            lw_registry_forget(tmp[k]);
        for (unsigned k = 0; k < NEIGHBOURS; k++)
            tmp[k] = get_new(other[k], LW_KIND_MUTEX, 0);
        for (unsigned k = 0; k < NEIGHBOURS; k++)
            lw_registry_forget(tmp[k]);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    unsigned long finds = 0, misses = 0;
    for (int t = 0; t < FIND_READERS; t++) {
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
        finds += r[t].finds;
        misses += r[t].misses;
    }
    ck_assert_uint_gt(finds, 0);
    ck_assert_msg(misses == 0, "registered lock not found %lu times in %lu lookups", misses, finds);
    ck_assert_ptr_eq(lw_registry_find(stable_addr), stable);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("hash");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_hash_basic);
    tcase_add_test(tc, test_hash_tombstones_flat);
    tcase_add_test(tc, test_hash_mix);
    suite_add_tcase(s, tc);

    tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_insert_find_forget);
    tcase_add_test(tc, test_new_incarnation_new_id);
    tcase_add_test(tc, test_superseded);
    tcase_add_test(tc, test_tombstones_keep_memory_flat);
#ifndef LW_TEST_SMALL
    tcase_add_test(tc, test_tombstones_varying_addresses);
#endif
    tcase_add_test(tc, test_many_locks);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrent");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_find_during_churn);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(registry_suite)
