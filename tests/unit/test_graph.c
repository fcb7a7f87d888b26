/*
 * test_graph.c: the lock-order graph on small, hand-built scenarios: cycles
 * found exactly when the closing edge arrives, dedup of known edges, gate
 * and read-read suppression, gates that only shrink and modes that only
 * grow, destroyed locks taking their edges with them, and two threads racing
 * to close the same cycle.  lw_graph_check_invariants() must hold after each.
 * Also built with ThreadSanitizer over the core sources.
 */
#include "graph.h"
#include "lw_atomic.h"
#include "registry.h"

#include <check.h>

#include "unit.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#ifdef LW_TEST_SMALL
#define DEDUP_ROUNDS 20000
#define RACE_PAIRS 1000
#else
#define DEDUP_ROUNDS 100000
#define RACE_PAIRS 5000
#endif
#define NTHREADS 4
#define TEST_TIMEOUT 60


#define ADDR(i) ((uintptr_t)0x20000000u + (uintptr_t)(i)*64u)

/* Both ends held/acquired exclusively: the mutex case. */
#define WW (LW_EM_FROM_WRITE | LW_EM_TO_WRITE)

/* lw_graph_check_invariants() walks every registry bucket: after each step
 * in the plain build, only at the end of each scenario (teardown) in the
 * much slower sanitizer builds. */
static void assert_invariants(void)
{
#ifndef LW_TEST_SMALL
    ck_assert_int_eq(lw_graph_check_invariants(), 0);
#endif
}

static void setup(void)
{
    ck_assert(lw_registry_init());
    ck_assert(lw_graph_init());
}

static void teardown(void)
{
    ck_assert_int_eq(lw_graph_check_invariants(), 0);
}

/* Single-threaded scenarios: the sanitizer builds skip even the final walk
 * (~0.4 s each under TSan); the plain build checked every step already. */
static void teardown_light(void)
{
    assert_invariants();
}

static lw_lock *mk(unsigned i, enum lw_lock_kind kind)
{
    bool created = false;
    lw_lock *l = lw_registry_get(ADDR(i), kind, 0, &created);
    ck_assert_ptr_nonnull(l);
    ck_assert(created);
    return l;
}

static lw_lock *mutex(unsigned i)
{
    return mk(i, LW_KIND_MUTEX);
}

/* lw_graph_add_edge under the graph lock, as the contract asks.  Checks
 * what holds for every result: the edge exists, is findable lock-free and
 * joins the right nodes. */
static enum lw_graph_result add_full(lw_lock *from, lw_lock *to, uint32_t modes,
                                     const uint64_t *gates, unsigned ngates, lw_cycle *cy,
                                     lw_edge **edge)
{
    static const lw_edge_origin origin = {
        .stack_to = 11,
        .stack_from = 12,
        .thread = 3,
        .thread_stack = 14,
        .tid = 4242,
        .parent = 1,
        .thread_name = "worker",
    };
    lw_edge *e = NULL;
    cy->n = 0;
    lw_graph_lock();
    enum lw_graph_result r = lw_graph_add_edge(from, to, modes, gates, ngates, &origin, &e, cy);
    lw_graph_unlock();
    REQUIRE(r != LW_EDGE_NOMEM);
    REQUIRE(e != NULL);
    REQUIRE(e->from == from && e->to == to);
    REQUIRE(lw_graph_find_edge(from->id, to->id) == e);
    REQUIRE((e->modes & modes) == modes);
    if (edge)
        *edge = e;
    return r;
}

static enum lw_graph_result add(lw_lock *from, lw_lock *to, lw_cycle *cy)
{
    return add_full(from, to, WW, NULL, 0, cy, NULL);
}

static enum lw_graph_result add_gated(lw_lock *from, lw_lock *to, const uint64_t *gates,
                                      unsigned ngates, lw_cycle *cy)
{
    return add_full(from, to, WW, gates, ngates, cy, NULL);
}

static void assert_added(lw_lock *from, lw_lock *to)
{
    lw_cycle cy;
    ck_assert_int_eq(add(from, to, &cy), LW_EDGE_ADDED);
    assert_invariants();
}

/* A well-formed cycle of n edges that goes through `through` (the edge
 * that closed it), each edge a real graph edge, no node visited twice. */
static void assert_cycle(const lw_cycle *cy, unsigned n, const lw_edge *through)
{
    ck_assert_uint_eq(cy->n, n);
    bool seen = false;
    for (unsigned i = 0; i < n; i++) {
        const lw_edge *e = cy->edge[i], *next = cy->edge[(i + 1) % n];
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(e->to == next->from, "cycle edge %u does not lead to edge %u", i,
                      (i + 1) % n);
        ck_assert_ptr_eq(lw_graph_find_edge(e->from->id, e->to->id), e);
        for (unsigned j = 0; j < i; j++)
            ck_assert_msg(cy->edge[j]->from != e->from, "node visited twice in cycle");
        seen |= e == through;
    }
    ck_assert_msg(seen, "cycle does not contain the edge that closed it");
}

static void assert_closes(lw_lock *from, lw_lock *to, unsigned n, bool valid)
{
    lw_cycle cy;
    lw_edge *e;
    ck_assert_int_eq(add_full(from, to, WW, NULL, 0, &cy, &e), LW_EDGE_CYCLE);
    assert_cycle(&cy, n, e);
    ck_assert_int_eq(cy.valid, valid);
    ck_assert_int_eq(lw_cycle_valid(&cy), valid);
    assert_invariants();
}

/* ---- cycles ---- */

/* _i: length 2..5, edges of the path added forwards (_i < 4) or backwards
 * (which makes every path edge disagree with the order so far). */
START_TEST(test_cycle_lengths)
{
    unsigned len = 2 + _i % 4;
    bool backwards = _i >= 4;
    lw_lock *l[5];
    for (unsigned i = 0; i < len; i++)
        l[i] = mutex(i);
    for (unsigned k = 0; k + 1 < len; k++) {
        unsigned i = backwards ? len - 2 - k : k;
        assert_added(l[i], l[i + 1]);
    }
    ck_assert_uint_eq(lw_graph_edges(), len - 1);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 0);

    assert_closes(l[len - 1], l[0], len, true);
    ck_assert_uint_eq(lw_graph_edges(), len);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 1);

    /* A second, shorter cycle inside the first is found too, now that a
     * cyclic edge exists. */
    if (len >= 3)
        assert_closes(l[len - 1], l[1], len - 1, true);
}
END_TEST

/* The longest cycle a report can describe: complete and chained. */
START_TEST(test_cycle_at_limit)
{
    lw_lock *l[LW_MAX_CYCLE];
    lw_cycle cy;
    for (unsigned i = 0; i < LW_MAX_CYCLE; i++)
        l[i] = mutex(i);
    for (unsigned i = 0; i + 1 < LW_MAX_CYCLE; i++)
        ck_assert_int_eq(add(l[i], l[i + 1], &cy), LW_EDGE_ADDED);
    assert_closes(l[LW_MAX_CYCLE - 1], l[0], LW_MAX_CYCLE, true);
}
END_TEST

#ifndef LW_TEST_SMALL /* single-threaded: the sanitizer build skips it */
/* Longer than LW_MAX_CYCLE (100 dining philosophers make one): still
 * reported, what is returned is a path of real edges (one break at most,
 * where it was cut), and validity is a property of the whole cycle.
 * _i 0..2: length 65, 70, 100 with no gate at all; 3..5: the same lengths
 * with one gate on every edge but the first two, so no gate is common. */
START_TEST(test_cycle_over_limit)
{
    static const unsigned lens[] = {LW_MAX_CYCLE + 1, 70, 100};
    unsigned len = lens[_i % 3];
    bool gated = _i >= 3;
    lw_lock *l[100], *g = mutex(1000);
    uint64_t gate = g->id;
    lw_cycle cy;
    lw_edge *e = NULL;
    enum lw_graph_result r = LW_EDGE_ADDED;
    for (unsigned i = 0; i < len; i++)
        l[i] = mutex(i);
    for (unsigned i = 0; i < len; i++) {
        bool with_gate = gated && i >= 2;
        r = add_full(l[i], l[(i + 1) % len], WW, with_gate ? &gate : NULL, with_gate, &cy, &e);
        if (i + 1 < len)
            ck_assert_int_eq(r, LW_EDGE_ADDED);
    }
    ck_assert_int_eq(r, LW_EDGE_CYCLE);
    ck_assert_uint_ge(cy.n, 2);
    ck_assert_uint_le(cy.n, LW_MAX_CYCLE);
    unsigned breaks = 0;
    bool seen = false;
    for (unsigned i = 0; i < cy.n; i++) {
        ck_assert_ptr_eq(lw_graph_find_edge(cy.edge[i]->from->id, cy.edge[i]->to->id), cy.edge[i]);
        breaks += cy.edge[i]->to != cy.edge[(i + 1) % cy.n]->from;
        seen |= cy.edge[i] == e;
    }
    ck_assert(seen);
    ck_assert_uint_le(breaks, 1);
    ck_assert_msg(cy.valid, "a %u-lock cycle with no common gate was judged not a deadlock", len);
}
END_TEST
#endif

START_TEST(test_no_false_cycles)
{
    /* Diamonds, crossing edges, long edges, edges added against the
     * current order: a DAG throughout (i -> j only for i < j). */
    enum { N = 40 };
    lw_lock *l[N];
    for (unsigned i = 0; i < N; i++)
        l[i] = mutex(i);
    for (unsigned i = N - 1; i-- > 0;)
        assert_added(l[i], l[i + 1]);
    for (unsigned i = 0; i + 2 < N; i += 3)
        assert_added(l[i], l[i + 2]);
    for (unsigned i = N - 1; i >= 5; i -= 5)
        assert_added(l[i - 5], l[i]);
    assert_added(l[0], l[N - 1]);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 0);
    /* Every edge's reverse now closes a cycle: check one far apart. */
    assert_closes(l[N - 1], l[0], 2, true);
}
END_TEST

START_TEST(test_shortest_cycle)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3), *d = mutex(4), *e = mutex(5);
    assert_added(a, b);
    assert_added(b, c);
    assert_added(c, d);
    assert_added(d, e);
    assert_added(b, d); /* shortcut */
    /* e->a closes a->b->c->d->e->a and a->b->d->e->a: the shorter one. */
    assert_closes(e, a, 4, true);
}
END_TEST

START_TEST(test_known_edges_dedup)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3);
    lw_cycle cy;
    assert_added(a, b);
    ck_assert_int_eq(add(a, b, &cy), LW_EDGE_KNOWN);
    assert_added(b, c);
    assert_closes(c, a, 3, true);

    lw_lock *ends[3][2] = {{a, b}, {b, c}, {c, a}};
    unsigned cycles = 0, other = 0;
    for (unsigned i = 0; i < DEDUP_ROUNDS; i++) {
        enum lw_graph_result r = add(ends[i % 3][0], ends[i % 3][1], &cy);
        cycles += r == LW_EDGE_CYCLE;
        other += r != LW_EDGE_KNOWN;
    }
    ck_assert_uint_eq(cycles, 0);
    ck_assert_uint_eq(other, 0);
    /* Merged, never stored twice. */
    ck_assert_uint_eq(lw_graph_edges(), 3);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 1);
    ck_assert_uint_eq(a->nout, 1);
    ck_assert_uint_eq(a->nin, 1);
}
END_TEST

START_TEST(test_origin_copied)
{
    lw_lock *a = mutex(1), *b = mutex(2);
    lw_cycle cy;
    lw_edge *e;
    ck_assert_int_eq(add_full(a, b, WW, NULL, 0, &cy, &e), LW_EDGE_ADDED);
    ck_assert_uint_eq(e->origin.stack_to, 11);
    ck_assert_uint_eq(e->origin.stack_from, 12);
    ck_assert_uint_eq(e->origin.thread, 3);
    ck_assert_int_eq(e->origin.tid, 4242);
    ck_assert_str_eq(e->origin.thread_name, "worker");
    ck_assert(!e->cyclic);
}
END_TEST

START_TEST(test_cycle_signature)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3), *d = mutex(4);
    lw_cycle cy, rot, other;
    lw_edge *e;
    assert_added(a, b);
    assert_added(b, c);
    ck_assert_int_eq(add_full(c, a, WW, NULL, 0, &cy, &e), LW_EDGE_CYCLE);
    /* Same cycle, rotated: same signature. */
    rot.n = cy.n;
    for (unsigned i = 0; i < cy.n; i++)
        rot.edge[i] = cy.edge[(i + 1) % cy.n];
    ck_assert_uint_eq(lw_cycle_signature(&rot), lw_cycle_signature(&cy));
    /* A different cycle over some of the same locks: different signature. */
    assert_added(c, d);
    ck_assert_int_eq(add_full(d, b, WW, NULL, 0, &other, &e), LW_EDGE_CYCLE);
    assert_cycle(&other, 3, e);
    ck_assert_uint_ne(lw_cycle_signature(&other), lw_cycle_signature(&cy));

    lw_cycle empty = {.n = 0};
    ck_assert(!lw_cycle_valid(&empty));
}
END_TEST

/* ---- gates ---- */

START_TEST(test_gate_common)
{
    lw_lock *a = mutex(1), *b = mutex(2), *g = mutex(3);
    uint64_t gates[] = {g->id};
    lw_cycle cy;
    ck_assert_int_eq(add_gated(a, b, gates, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(b, a, gates, 1, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(cy.n, 2);
    ck_assert(!cy.valid);
    ck_assert(!lw_cycle_valid(&cy));
}
END_TEST

START_TEST(test_gate_not_common)
{
    lw_lock *a = mutex(1), *b = mutex(2), *g1 = mutex(3), *g2 = mutex(4);
    uint64_t ga[] = {g1->id}, gb[] = {g2->id};
    lw_cycle cy;
    ck_assert_int_eq(add_gated(a, b, ga, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(b, a, gb, 1, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(cy.n, 2);
    ck_assert(cy.valid);
}
END_TEST

START_TEST(test_gate_on_one_edge_only)
{
    lw_lock *a = mutex(1), *b = mutex(2), *g = mutex(3);
    uint64_t gates[] = {g->id};
    lw_cycle cy;
    ck_assert_int_eq(add_gated(a, b, gates, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(b, a, NULL, 0, &cy), LW_EDGE_CYCLE);
    ck_assert(cy.valid);
}
END_TEST

START_TEST(test_gate_three_cycle)
{
    /* Common to all three edges: suppressed.  Common to two: real. */
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3), *g = mutex(4), *h = mutex(5);
    lw_lock *x = mutex(6), *y = mutex(7), *z = mutex(8);
    uint64_t gh[] = {h->id, g->id}, g_[] = {g->id}, hg[] = {g->id, h->id};
    lw_cycle cy;
    ck_assert_int_eq(add_gated(a, b, gh, 2, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(b, c, g_, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(c, a, hg, 2, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(cy.n, 3);
    ck_assert(!cy.valid);

    ck_assert_int_eq(add_gated(x, y, gh, 2, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(y, z, g_, 1, &cy), LW_EDGE_ADDED);
    uint64_t h_[] = {h->id};
    ck_assert_int_eq(add_gated(z, x, h_, 1, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(cy.n, 3);
    ck_assert(cy.valid);
}
END_TEST

START_TEST(test_gates_only_shrink)
{
    lw_lock *a = mutex(1), *b = mutex(2), *g = mutex(3), *h = mutex(4), *k = mutex(5);
    uint64_t gh[] = {g->id, h->id}, g_[] = {g->id}, h_[] = {h->id}, ghk[] = {k->id, h->id, g->id};
    lw_cycle cy;
    lw_edge *ab, *ba;

    ck_assert_int_eq(add_full(a, b, WW, gh, 2, &cy, &ab), LW_EDGE_ADDED);
    ck_assert_uint_eq(ab->ngates, 2);
    ck_assert_int_eq(add_full(b, a, WW, g_, 1, &cy, &ba), LW_EDGE_CYCLE);
    ck_assert(!cy.valid); /* g common */

    /* Same or larger gate sets add nothing: known, and no gate is added. */
    ck_assert_int_eq(add_gated(b, a, g_, 1, &cy), LW_EDGE_KNOWN);
    ck_assert_int_eq(add_gated(b, a, gh, 2, &cy), LW_EDGE_KNOWN);
    ck_assert_uint_eq(ba->ngates, 1);
    ck_assert_uint_eq(ba->gates[0], g->id);
    ck_assert_int_eq(add_gated(a, b, ghk, 3, &cy), LW_EDGE_KNOWN);
    ck_assert_uint_eq(ab->ngates, 2);

    /* a->b seen under h alone: gates shrink to {h}; g no longer common, so
     * the cycle is reported again, now valid. */
    ck_assert_int_eq(add_gated(a, b, h_, 1, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(ab->ngates, 1);
    ck_assert_uint_eq(ab->gates[0], h->id);
    ck_assert_uint_eq(cy.n, 2);
    assert_cycle(&cy, 2, ab);
    ck_assert(cy.valid);
    assert_invariants();

    /* Disjoint set: shrinks to nothing. */
    ck_assert_int_eq(add_gated(b, a, h_, 1, &cy), LW_EDGE_CYCLE);
    ck_assert_uint_eq(ba->ngates, 0);
    ck_assert(cy.valid);
    ck_assert_int_eq(add_gated(b, a, gh, 2, &cy), LW_EDGE_KNOWN);
    ck_assert_uint_eq(ba->ngates, 0);
    ck_assert_uint_eq(lw_graph_edges(), 2);
}
END_TEST

START_TEST(test_gate_weakening_without_cycle)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3), *d = mutex(4), *g = mutex(5);
    uint64_t g_[] = {g->id};
    lw_cycle cy;
    ck_assert_int_eq(add_gated(a, b, g_, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(a, b, NULL, 0, &cy), LW_EDGE_ADDED); /* weaker, no cycle */
    ck_assert_int_eq(add_gated(a, b, NULL, 0, &cy), LW_EDGE_KNOWN);
    /* Same with a cyclic edge elsewhere in the graph. */
    ck_assert_int_eq(add_gated(c, d, NULL, 0, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(d, c, NULL, 0, &cy), LW_EDGE_CYCLE);
    ck_assert_int_eq(add_gated(b, c, g_, 1, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add_gated(b, c, NULL, 0, &cy), LW_EDGE_ADDED);
    assert_invariants();
}
END_TEST

START_TEST(test_gates_capped)
{
    lw_lock *a = mutex(1), *b = mutex(2);
    uint64_t gates[LW_MAX_GATES + 3];
    for (unsigned i = 0; i < LW_ARRAY_SIZE(gates); i++)
        gates[i] = mutex(10 + i)->id;
    lw_cycle cy;
    lw_edge *e;
    ck_assert_int_eq(add_full(a, b, WW, gates, LW_ARRAY_SIZE(gates), &cy, &e), LW_EDGE_ADDED);
    ck_assert_uint_eq(e->ngates, LW_MAX_GATES);
    for (unsigned i = 0; i < e->ngates; i++) {
        bool known = false;
        for (unsigned j = 0; j < LW_ARRAY_SIZE(gates); j++)
            known |= e->gates[i] == gates[j];
        ck_assert(known);
    }
}
END_TEST

/* ---- read-read ---- */

/* _i: 0 read in and read out of an rwlock (suppressed); 1 write in; 2
 * write out; 3 the same modes as 0 on a mutex (modes alone do not
 * suppress); 4 two rwlocks, read both ways; 5 and 6 as 4 and 0 with
 * rwlocks that prefer writers (a waiting writer holds readers back: the
 * cycle can deadlock). */
START_TEST(test_read_read)
{
    static const struct {
        uint32_t ar, ra;
        enum lw_lock_kind kind;
        bool valid;
    } v[] = {
        {LW_EM_FROM_WRITE | LW_EM_TO_READ, LW_EM_FROM_READ | LW_EM_TO_WRITE, LW_KIND_RWLOCK, false},
        {LW_EM_FROM_WRITE | LW_EM_TO_WRITE, LW_EM_FROM_READ | LW_EM_TO_WRITE, LW_KIND_RWLOCK, true},
        {LW_EM_FROM_WRITE | LW_EM_TO_READ, LW_EM_FROM_WRITE | LW_EM_TO_WRITE, LW_KIND_RWLOCK, true},
        {LW_EM_FROM_WRITE | LW_EM_TO_READ, LW_EM_FROM_READ | LW_EM_TO_WRITE, LW_KIND_MUTEX, true},
        {LW_EM_FROM_READ | LW_EM_TO_READ, LW_EM_FROM_READ | LW_EM_TO_READ, LW_KIND_RWLOCK, false},
        {LW_EM_FROM_READ | LW_EM_TO_READ, LW_EM_FROM_READ | LW_EM_TO_READ, LW_KIND_RWLOCK, true},
        {LW_EM_FROM_WRITE | LW_EM_TO_READ, LW_EM_FROM_READ | LW_EM_TO_WRITE, LW_KIND_RWLOCK, true},
    };
    lw_lock *a = mk(1, _i == 4 || _i == 5 ? LW_KIND_RWLOCK : LW_KIND_MUTEX),
            *r = mk(2, v[_i].kind);
    if (_i >= 5) {
        a->writers_first = a->kind == LW_KIND_RWLOCK;
        r->writers_first = true;
    }
    lw_cycle cy;
    lw_edge *e;
    ck_assert_int_eq(add_full(a, r, v[_i].ar, NULL, 0, &cy, NULL), LW_EDGE_ADDED);
    ck_assert_int_eq(add_full(r, a, v[_i].ra, NULL, 0, &cy, &e), LW_EDGE_CYCLE);
    assert_cycle(&cy, 2, e);
    ck_assert_int_eq(cy.valid, v[_i].valid);
    ck_assert_int_eq(lw_cycle_valid(&cy), v[_i].valid);
}
END_TEST

START_TEST(test_modes_only_grow)
{
    lw_lock *a = mutex(1), *r = mk(2, LW_KIND_RWLOCK);
    lw_cycle cy;
    lw_edge *ar, *ra;
    ck_assert_int_eq(add_full(a, r, LW_EM_FROM_WRITE | LW_EM_TO_READ, NULL, 0, &cy, &ar),
                     LW_EDGE_ADDED);
    ck_assert_int_eq(add_full(r, a, LW_EM_FROM_READ | LW_EM_TO_WRITE, NULL, 0, &cy, &ra),
                     LW_EDGE_CYCLE);
    ck_assert(!cy.valid);
    /* r now write-acquired under a: modes grow, the cycle becomes real. */
    ck_assert_int_eq(add_full(a, r, LW_EM_FROM_WRITE | LW_EM_TO_WRITE, NULL, 0, &cy, NULL),
                     LW_EDGE_CYCLE);
    assert_cycle(&cy, 2, ar);
    ck_assert(cy.valid);
    ck_assert_uint_eq(ar->modes, LW_EM_FROM_WRITE | LW_EM_TO_READ | LW_EM_TO_WRITE);
    /* Read again: nothing new, modes do not shrink. */
    ck_assert_int_eq(add_full(a, r, LW_EM_FROM_WRITE | LW_EM_TO_READ, NULL, 0, &cy, NULL),
                     LW_EDGE_KNOWN);
    ck_assert_uint_eq(ar->modes, LW_EM_FROM_WRITE | LW_EM_TO_READ | LW_EM_TO_WRITE);
    ck_assert_uint_eq(ra->modes, LW_EM_FROM_READ | LW_EM_TO_WRITE);
    ck_assert_uint_eq(lw_graph_edges(), 2);
}
END_TEST

/* ---- destroyed locks ---- */

START_TEST(test_destroy_drops_edges)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3);
    lw_cycle cy;
    uint64_t old_id = b->id;
    assert_added(a, b);
    assert_added(b, c);
    ck_assert_uint_eq(lw_graph_edges(), 2);

    lw_registry_forget(b);
    assert_invariants();
    ck_assert_uint_eq(lw_graph_edges(), 0);
    ck_assert_ptr_null(lw_graph_find_edge(a->id, old_id));
    ck_assert_ptr_null(lw_graph_find_edge(old_id, c->id));
    ck_assert_ptr_null(a->out);
    ck_assert_ptr_null(c->in);
    ck_assert_uint_eq(a->nout, 0);
    ck_assert_uint_eq(c->nin, 0);

    /* A new lock at the same address is a new lock: b2->a closes nothing. */
    lw_lock *b2 = mutex(2);
    ck_assert_uint_ne(b2->id, old_id);
    ck_assert_ptr_null(b2->out);
    ck_assert_ptr_null(b2->in);
    assert_added(c, b2);
    assert_added(b2, a);
    ck_assert_int_eq(add(c, a, &cy), LW_EDGE_ADDED);
    /* ...but a->b2 does, with the new lock. */
    assert_closes(a, b2, 2, true);
}
END_TEST

START_TEST(test_destroy_breaks_cycle)
{
    lw_lock *a = mutex(1), *b = mutex(2), *c = mutex(3);
    assert_added(a, b);
    assert_added(b, c);
    assert_closes(c, a, 3, true);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 1);

    /* c carries the cyclic edge c->a: destroying it leaves a DAG. */
    lw_registry_forget(c);
    assert_invariants();
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 0);
    ck_assert_uint_eq(lw_graph_edges(), 1);

    lw_lock *c2 = mutex(3);
    assert_added(b, c2);
    assert_closes(c2, a, 3, true);

    /* Destroying b leaves c2->a, still marked cyclic but on no cycle. */
    lw_registry_forget(b);
    assert_invariants();
    ck_assert_uint_eq(lw_graph_edges(), 1);
    lw_lock *b2 = mutex(2);
    lw_cycle cy;
    ck_assert_int_eq(add(b2, a, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add(b2, c2, &cy), LW_EDGE_ADDED);
    ck_assert_int_eq(add(a, b2, &cy), LW_EDGE_CYCLE); /* a->b2->a */
    ck_assert_uint_eq(cy.n, 2);
    assert_closes(a, c2, 2, true); /* a->c2->a */
}
END_TEST

START_TEST(test_destroy_many)
{
    /* A ring of rings; destroy and re-create every third lock, re-close. */
    enum { N = 30 };
    lw_lock *l[N];
    for (unsigned i = 0; i < N; i++)
        l[i] = mutex(i);
    for (unsigned i = 0; i + 1 < N; i++)
        assert_added(l[i], l[i + 1]);
    assert_closes(l[N - 1], l[0], N, true);
    for (unsigned i = 0; i < N; i += 3) {
        lw_registry_forget(l[i]);
        assert_invariants();
        l[i] = mutex(i);
    }
    ck_assert_uint_eq(lw_graph_edges(), N - 2 * (N / 3));
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 0);
    for (unsigned i = 0; i < N; i += 3) {
        if (i > 0)
            assert_added(l[i - 1], l[i]);
        if (i + 1 < N)
            assert_added(l[i], l[i + 1]);
    }
    assert_closes(l[N - 1], l[0], N, true);
}
END_TEST

/* ---- concurrency ---- */

typedef struct {
    int idx;
    pthread_barrier_t *start;
    lw_lock **a, **b;
    enum lw_graph_result res[RACE_PAIRS];
    unsigned errors;
} racer;

/* Threads 0 and 2 add a[i]->b[i], 1 and 3 add b[i]->a[i]: for every pair
 * exactly one of the four calls closes the cycle. */
static void *racer_main(void *arg)
{
    racer *r = arg;
    static const lw_edge_origin origin;
    pthread_barrier_wait(r->start);
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        lw_lock *from = r->idx & 1 ? r->b[i] : r->a[i], *to = r->idx & 1 ? r->a[i] : r->b[i];
        lw_cycle cy;
        lw_edge *e = NULL;
        /* Lock-free look at the reverse edge, as the fast path does. */
        lw_edge *rev = lw_graph_find_edge(to->id, from->id);
        if (rev && lw_load_relaxed(&rev->modes) != WW)
            r->errors++;
        lw_graph_lock();
        r->res[i] = lw_graph_add_edge(from, to, WW, NULL, 0, &origin, &e, &cy);
        if (r->res[i] == LW_EDGE_CYCLE && (cy.n != 2 || !cy.valid))
            r->errors++;
        lw_graph_unlock();
        if (!e || lw_graph_find_edge(from->id, to->id) != e)
            r->errors++;
    }
    return NULL;
}

START_TEST(test_concurrent_cycle_race)
{
    static racer r[NTHREADS];
    static lw_lock *a[RACE_PAIRS], *b[RACE_PAIRS];
    pthread_t tid[NTHREADS];
    pthread_barrier_t start;
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        a[i] = mutex(2 * i);
        b[i] = mutex(2 * i + 1);
    }
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (int t = 0; t < NTHREADS; t++) {
        r[t] = (racer){.idx = t, .start = &start, .a = a, .b = b};
        ck_assert_int_eq(pthread_create(&tid[t], NULL, racer_main, &r[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);

    for (int t = 0; t < NTHREADS; t++)
        ck_assert_uint_eq(r[t].errors, 0);
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        unsigned cycles = 0, known = 0;
        for (int t = 0; t < NTHREADS; t++) {
            ck_assert_int_ne(r[t].res[i], LW_EDGE_NOMEM);
            cycles += r[t].res[i] == LW_EDGE_CYCLE;
            known += r[t].res[i] == LW_EDGE_KNOWN;
        }
        ck_assert_msg(cycles == 1, "pair %u: %u cycles reported", i, cycles);
        ck_assert_uint_eq(known, 2); /* each edge added by two threads */
    }
    ck_assert_uint_eq(lw_graph_edges(), 2 * RACE_PAIRS);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), RACE_PAIRS);
}
END_TEST

/* Destroying two locks joined by an edge, at the same time, from two
 * threads (legal: they are different locks), while a third thread creates a
 * new lock at each freed address as soon as it is free.  The graph must end
 * empty and the new locks clean. */
typedef struct {
    int role;
    pthread_barrier_t *start;
    lw_lock **l, **x, **fresh;
} destroyer;

static void *destroyer_main(void *arg)
{
    destroyer *d = arg;
    pthread_barrier_wait(d->start);
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        if (d->role == 0) {
            lw_registry_forget(d->x[i]);
        } else if (d->role == 1) {
            lw_registry_forget(d->l[i]);
        } else {
            /* The address of x[i] is reused for a new lock once it is free. */
            while (lw_registry_find(ADDR(2 * i + 1)) != NULL)
                sched_yield();
            bool created;
            d->fresh[i] = lw_registry_get(ADDR(2 * i + 1), LW_KIND_MUTEX, 0, &created);
        }
    }
    return NULL;
}

START_TEST(test_concurrent_destroy_adjacent)
{
    static lw_lock *l[RACE_PAIRS], *x[RACE_PAIRS], *fresh[RACE_PAIRS];
    destroyer d[3];
    pthread_t tid[3];
    pthread_barrier_t start;
    lw_cycle cy;
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        l[i] = mutex(2 * i);
        x[i] = mutex(2 * i + 1);
        ck_assert_int_eq(add(l[i], x[i], &cy), LW_EDGE_ADDED);
    }
    ck_assert_uint_eq(lw_graph_edges(), RACE_PAIRS);
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, 3), 0);
    for (int t = 0; t < 3; t++) {
        d[t] = (destroyer){.role = t, .start = &start, .l = l, .x = x, .fresh = fresh};
        ck_assert_int_eq(pthread_create(&tid[t], NULL, destroyer_main, &d[t]), 0);
    }
    for (int t = 0; t < 3; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);

    ck_assert_uint_eq(lw_graph_edges(), 0);
    ck_assert_uint_eq(lw_edges.live, 0);
    ck_assert_uint_eq(lw_registry_live(), RACE_PAIRS);
    for (unsigned i = 0; i < RACE_PAIRS; i++) {
        ck_assert_ptr_nonnull(fresh[i]);
        ck_assert_ptr_eq(lw_registry_find(ADDR(2 * i + 1)), fresh[i]);
        ck_assert(!fresh[i]->in && !fresh[i]->out && !fresh[i]->nin && !fresh[i]->nout);
    }
}
END_TEST

/* A cycle elsewhere costs a new edge nothing: a 2,000-lock chain built
 * back to front (each new edge leads into the chain built so far) after a
 * hub took every lock, before and after a cycle of two unrelated locks;
 * the searches go through about as many nodes either way.  (Before the
 * union-find, every edge after the cycle walked the chain: ~2 M nodes.) */
enum { CHAIN = 2000 };

static uint64_t chain_visits(unsigned base, lw_lock **l)
{
    lw_lock *hub = mutex(base);
    for (unsigned i = 0; i < CHAIN; i++) {
        l[i] = mutex(base + 1 + i);
        assert_added(hub, l[i]);
    }
    uint64_t v0 = lw_graph_search_visits();
    lw_cycle cy;
    for (unsigned i = CHAIN - 1; i-- > 0;)
        ck_assert_int_eq(add(l[i], l[i + 1], &cy), LW_EDGE_ADDED);
    return lw_graph_search_visits() - v0;
}

START_TEST(test_unrelated_cycle_costs_nothing)
{
    static lw_lock *l1[CHAIN], *l2[CHAIN];
    uint64_t before = chain_visits(10000, l1);
    lw_lock *x = mutex(1), *y = mutex(2);
    assert_added(x, y);
    assert_closes(y, x, 2, true);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 1);
    uint64_t after = chain_visits(20000, l2);
    ck_assert_msg(after <= before + CHAIN, "new edges after an unrelated cycle visited %llu "
                  "nodes, %llu before it", (unsigned long long)after,
                  (unsigned long long)before);
    /* Once the chain joins the cycle's component, a cycle through the
     * cyclic edge y -> x is found: x -> l2[N-2] -> l2[N-1] -> y -> x. */
    assert_added(x, l2[CHAIN - 2]);
    assert_closes(l2[CHAIN - 1], y, 4, true);
}
END_TEST

/* Locks born by thousands (unbound's cache entries): each new lock is
 * taken under its bin's lock, then takes an old lock (a table's) that is
 * ordered before every live entry.  A search from the table walks every
 * entry for each new lock (200,000 nodes here, and growing with the
 * cache); the new lock's own few ancestors are what must move. */
START_TEST(test_new_lock_before_old_hub)
{
    enum { ENTRIES = 1000, NEW = 200 };
    static lw_lock *entry[ENTRIES];
    lw_lock *table = mutex(1), *bin = mutex(2);
    for (unsigned i = 0; i < ENTRIES; i++) {
        entry[i] = mutex(100 + i);
        assert_added(table, entry[i]);
    }
    uint64_t v0 = lw_graph_search_visits();
    for (unsigned k = 0; k < NEW; k++) {
        lw_lock *r = mutex(5000 + k);
        assert_added(bin, r);
        assert_added(r, table);
    }
    uint64_t v = lw_graph_search_visits() - v0;
    ck_assert_msg(v <= 4 * NEW, "%llu nodes visited for %u new locks", (unsigned long long)v,
                  (unsigned)NEW);
    ck_assert_int_eq(lw_graph_check_invariants(), 0);
    /* A cycle through them is found: entry -> bin -> r -> table -> entry. */
    assert_closes(entry[0], bin, 4, true);
    ck_assert_int_eq(lw_graph_check_invariants(), 0);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("cycles");
    tcase_add_checked_fixture(tc, setup, teardown_light);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_loop_test(tc, test_cycle_lengths, 0, 8);
    tcase_add_test(tc, test_cycle_at_limit);
    tcase_add_test(tc, test_unrelated_cycle_costs_nothing);
    tcase_add_test(tc, test_new_lock_before_old_hub);
#ifndef LW_TEST_SMALL
    tcase_add_loop_test(tc, test_cycle_over_limit, 0, 6);
#endif
    tcase_add_test(tc, test_no_false_cycles);
    tcase_add_test(tc, test_shortest_cycle);
    tcase_add_test(tc, test_known_edges_dedup);
    tcase_add_test(tc, test_origin_copied);
    tcase_add_test(tc, test_cycle_signature);
    suite_add_tcase(s, tc);

    tc = tcase_create("gates");
    tcase_add_checked_fixture(tc, setup, teardown_light);
    tcase_add_test(tc, test_gate_common);
    tcase_add_test(tc, test_gate_not_common);
    tcase_add_test(tc, test_gate_on_one_edge_only);
    tcase_add_test(tc, test_gate_three_cycle);
    tcase_add_test(tc, test_gates_only_shrink);
    tcase_add_test(tc, test_gate_weakening_without_cycle);
    tcase_add_test(tc, test_gates_capped);
    suite_add_tcase(s, tc);

    tc = tcase_create("read-read");
    tcase_add_checked_fixture(tc, setup, teardown_light);
    tcase_add_loop_test(tc, test_read_read, 0, 7);
    tcase_add_test(tc, test_modes_only_grow);
    suite_add_tcase(s, tc);

    tc = tcase_create("destroy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_destroy_drops_edges);
    tcase_add_test(tc, test_destroy_breaks_cycle);
    tcase_add_test(tc, test_destroy_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrent");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_concurrent_cycle_race);
    tcase_add_test(tc, test_concurrent_destroy_adjacent);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(graph_suite)
