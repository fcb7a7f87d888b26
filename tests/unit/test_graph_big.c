/*
 * test_graph_big.c: the order graph at scale and against a model.
 *  - big: many locks and edges that all agree with a hidden random total
 *    order, so no cycle may be reported however the incremental order gets
 *    reshuffled; then back edges close cycles that must be found.
 *  - differential: random edge insertions and lock destructions on a few
 *    dozen locks, checked step by step against an adjacency matrix with a
 *    plain BFS (in the spirit of Abseil's graphcycles_test.cc).
 * Random choices come from LW_TEST_SEED (printed; fixed by default, so a
 * failure reproduces).  LW_TEST_SMALL (the ASan build) shrinks the big test.
 */
#include "graph.h"
#include "registry.h"

#include <check.h>

#include "unit.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LW_TEST_SMALL
#define BIG_LOCKS 10000u
#define BIG_EDGES 100000u
#define DENSE_LOCKS 3000u
#define DENSE_EDGES 30000u
#define DIFF_STEPS 3000u
#else
#define BIG_LOCKS 100000u
#define BIG_EDGES 1000000u
#define DENSE_LOCKS 10000u
#define DENSE_EDGES 100000u
#define DIFF_STEPS 5000u
#endif
#define DIFF_NODES 60u
#define DIFF_RUNS 6
#define DIFF_CHECK_EVERY 50u
#define DIFF_RESET_EVERY 250u
#define DEFAULT_SEED 20240611u
#define TEST_TIMEOUT 120


#define ADDR(i) ((uintptr_t)0x30000000u + (uintptr_t)(i)*64u)
#define WW (LW_EM_FROM_WRITE | LW_EM_TO_WRITE)

/* ---- seeded randomness (splitmix64) ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static uint64_t seed_for(const char *test, unsigned run)
{
    const char *s = getenv("LW_TEST_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : DEFAULT_SEED;
    printf("%s run %u: LW_TEST_SEED=%" PRIu64 "\n", test, run, seed);
    fflush(stdout);
    rng = seed * 1000003u + run;
    return seed;
}

static void shuffle_u32(uint32_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = below((uint32_t)i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ---- helpers ---- */

static void setup(void)
{
    ck_assert(lw_registry_init());
    ck_assert(lw_graph_init());
}

static lw_lock *mutex(uint32_t i)
{
    bool created = false;
    lw_lock *l = lw_registry_get(ADDR(i), LW_KIND_MUTEX, 0, &created);
    REQUIRE(l != NULL && created);
    return l;
}

static enum lw_graph_result add(lw_lock *from, lw_lock *to, lw_cycle *cy, lw_edge **edge)
{
    static const lw_edge_origin origin;
    lw_edge *e = NULL;
    cy->n = 0;
    lw_graph_lock();
    enum lw_graph_result r = lw_graph_add_edge(from, to, WW, NULL, 0, &origin, &e, cy);
    lw_graph_unlock();
    REQUIRE(r != LW_EDGE_NOMEM);
    REQUIRE(e && e->from == from && e->to == to);
    if (edge)
        *edge = e;
    return r;
}

/* Chained, through `closing`, every edge present in the graph. */
static void assert_cycle_shape(const lw_cycle *cy, const lw_edge *closing)
{
    bool seen = false;
    ck_assert_uint_ge(cy->n, 2);
    ck_assert_uint_le(cy->n, LW_MAX_CYCLE);
    for (unsigned i = 0; i < cy->n; i++) {
        const lw_edge *e = cy->edge[i];
        REQUIRE(e != NULL);
        REQUIRE_MSG(e->to == cy->edge[(i + 1) % cy->n]->from,
                    "cycle of %u edges broken after edge %u", cy->n, i);
        REQUIRE(lw_graph_find_edge(e->from->id, e->to->id) == e);
        seen |= e == closing;
    }
    ck_assert_msg(seen, "cycle does not contain the edge that closed it");
}

/* ---- big: a DAG in a hidden order ---- */

typedef struct {
    uint32_t from, to; /* hidden positions, from < to */
} pos_edge;

/* n locks, m edges that all go forwards in a hidden random order: a
 * Hamiltonian path through that order (so the last lock is reachable from
 * the first) plus random forward edges, mostly short, some spanning
 * anything.  path_first: insert the path edges (shuffled) before the rest
 * (shuffled); otherwise everything in one shuffled stream.  No insertion
 * may report a cycle; then back edges must. */
static void run_dag(const char *name, uint32_t n, uint32_t m, bool path_first)
{
    uint64_t seed = seed_for(name, 0);
    lw_lock **at = malloc(n * sizeof(*at));   /* lock at hidden position */
    uint32_t *pos = malloc(n * sizeof(*pos)); /* hidden position of lock i */
    pos_edge *edges = malloc(m * sizeof(*edges));
    uint32_t *order = malloc(m * sizeof(*order));
    ck_assert(at && pos && edges && order);

    for (uint32_t i = 0; i < n; i++)
        pos[i] = i;
    shuffle_u32(pos, n);
    for (uint32_t i = 0; i < n; i++)
        at[pos[i]] = mutex(i); /* registered in address order, ranked at random */

    uint32_t k = 0;
    for (uint32_t p = 0; p + 1 < n; p++)
        edges[k++] = (pos_edge){p, p + 1};
    while (k < m) {
        uint32_t p = below(n), q;
        if (k % 4)
            q = p + 1 + below(64);
        else
            q = below(n);
        if (q >= n || q == p)
            continue;
        edges[k++] = p < q ? (pos_edge){p, q} : (pos_edge){q, p};
    }
    for (uint32_t i = 0; i < m; i++)
        order[i] = i;
    if (path_first) {
        shuffle_u32(order, n - 1);
        shuffle_u32(order + n - 1, m - (n - 1));
    } else {
        shuffle_u32(order, m);
    }

    uint64_t added = 0, known = 0;
    lw_cycle cy;
    for (uint32_t i = 0; i < m; i++) {
        const pos_edge *pe = &edges[order[i]];
        enum lw_graph_result r = add(at[pe->from], at[pe->to], &cy, NULL);
        if (r == LW_EDGE_CYCLE)
            ck_abort_msg("seed %" PRIu64 ": edge %u (positions %u->%u) reported a cycle of %u "
                         "in a DAG",
                         seed, i, pe->from, pe->to, cy.n);
        added += r == LW_EDGE_ADDED;
        known += r == LW_EDGE_KNOWN;
    }
    ck_assert_uint_eq(added + known, m);
    ck_assert_uint_eq(lw_graph_edges(), added);
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 0);
    ck_assert_int_eq(lw_graph_check_invariants(), 0);

    /* The back edge last -> first closes a cycle through the whole order. */
    lw_edge *back;
    ck_assert_int_eq(add(at[n - 1], at[0], &cy, &back), LW_EDGE_CYCLE);
    assert_cycle_shape(&cy, back);
    ck_assert(cy.valid);
    for (unsigned i = 0; i < cy.n; i++) {
        const lw_edge *e = cy.edge[i];
        if (e == back)
            continue;
        /* Every other edge is one of ours, so it goes forwards. */
        uint32_t pf = pos[(e->from->h.k1 - ADDR(0)) / 64], pt = pos[(e->to->h.k1 - ADDR(0)) / 64];
        REQUIRE(pf < pt);
    }
    ck_assert_uint_eq(lw_graph_cyclic_edges(), 1);
    ck_assert_int_eq(lw_graph_check_invariants(), 0);

    /* Reversing any existing edge closes a 2-cycle. */
    for (unsigned t = 0; t < 100; t++) {
        const pos_edge *pe = &edges[below(m)];
        lw_edge *rev;
        enum lw_graph_result r = add(at[pe->to], at[pe->from], &cy, &rev);
        if (r == LW_EDGE_KNOWN)
            continue; /* picked the same edge twice */
        ck_assert_int_eq(r, LW_EDGE_CYCLE);
        assert_cycle_shape(&cy, rev);
        ck_assert_uint_eq(cy.n, 2);
    }
    ck_assert_int_eq(lw_graph_check_invariants(), 0);
    free(at);
    free(pos);
    free(edges);
    free(order);
}

/* Many locks: the path arrives first, in random order, so its fragments
 * are merged by reordering; the rest then agrees with the order. */
START_TEST(test_big_dag)
{
    run_dag("big_dag", BIG_LOCKS, BIG_EDGES, true);
}
END_TEST

/* Fewer locks, every edge in random order: most insertions disagree with
 * the order so far and reorder large parts of a dense graph. */
START_TEST(test_dense_reorder)
{
    run_dag("dense_reorder", DENSE_LOCKS, DENSE_EDGES, false);
}
END_TEST

/* ---- differential test against a naive model ---- */

static bool adj[DIFF_NODES][DIFF_NODES];

/* BFS distance from a to b in the model, -1 if unreachable. */
static int model_dist(unsigned a, unsigned b)
{
    int dist[DIFF_NODES];
    unsigned queue[DIFF_NODES], head = 0, tail = 0;
    for (unsigned i = 0; i < DIFF_NODES; i++)
        dist[i] = -1;
    dist[a] = 0;
    queue[tail++] = a;
    while (head < tail) {
        unsigned x = queue[head++];
        if (x == b)
            return dist[x];
        for (unsigned y = 0; y < DIFF_NODES; y++) {
            if (adj[x][y] && dist[y] < 0) {
                dist[y] = dist[x] + 1;
                queue[tail++] = y;
            }
        }
    }
    return -1;
}

static unsigned node_index(lw_lock *const *nodes, const lw_lock *l)
{
    for (unsigned i = 0; i < DIFF_NODES; i++)
        if (nodes[i] == l)
            return i;
    ck_abort_msg("cycle edge leaves the model's locks");
    return 0;
}

/* The graph holds exactly the model's edges. */
static void compare_with_model(lw_lock *const *nodes, uint64_t nedges, unsigned step)
{
    ck_assert_msg(lw_graph_check_invariants() == 0, "step %u: invariant %d broken", step,
                  lw_graph_check_invariants());
    ck_assert_uint_eq(lw_graph_edges(), nedges);
    for (unsigned i = 0; i < DIFF_NODES; i++)
        for (unsigned j = 0; j < DIFF_NODES; j++)
            REQUIRE_MSG((lw_graph_find_edge(nodes[i]->id, nodes[j]->id) != NULL) == adj[i][j],
                        "step %u: edge %u->%u graph %d model %d", step, i, j,
                        lw_graph_find_edge(nodes[i]->id, nodes[j]->id) != NULL, adj[i][j]);
}

/* Destroys lock x; a new one takes its address (new id, no edges). */
static void destroy(lw_lock **nodes, unsigned x, uint64_t *nedges)
{
    uint64_t old = nodes[x]->id;
    lw_registry_forget(nodes[x]);
    for (unsigned y = 0; y < DIFF_NODES; y++) {
        *nedges -= adj[x][y] + adj[y][x];
        adj[x][y] = adj[y][x] = false;
    }
    nodes[x] = mutex(x);
    ck_assert_uint_ne(nodes[x]->id, old);
    ck_assert_ptr_null(nodes[x]->out);
    ck_assert_ptr_null(nodes[x]->in);
}

/* Runs differ in how often locks die (more deaths: sparser, fewer cycles)
 * and how many edges ignore the hidden order. */
START_TEST(test_differential)
{
    uint64_t seed = seed_for("differential", (unsigned)_i);
    static const unsigned wild[] = {2, 8, 20};
    unsigned kill_pct = _i % 2 ? 1 : 6, wild_pct = wild[_i % 3];
    lw_lock *nodes[DIFF_NODES];
    uint32_t hidden[DIFF_NODES], gen = 0;
    uint64_t nedges = 0, ncycles = 0, nadded = 0, nknown = 0, nshortest = 0;

    memset(adj, 0, sizeof(adj));
    for (unsigned i = 0; i < DIFF_NODES; i++) {
        nodes[i] = mutex(i);
        hidden[i] = i;
    }
    shuffle_u32(hidden, DIFF_NODES);

    for (unsigned step = 0; step < DIFF_STEPS; step++) {
        unsigned dice = below(100);
        if (step % DIFF_RESET_EVERY == DIFF_RESET_EVERY - 1) {
            /* Every lock dies: a fresh, acyclic graph. */
            for (unsigned x = 0; x < DIFF_NODES; x++)
                destroy(nodes, x, &nedges);
            REQUIRE(lw_graph_edges() == 0);
            REQUIRE(lw_graph_cyclic_edges() == 0);
            gen += DIFF_NODES;
            continue;
        }
        if (dice < kill_pct) {
            destroy(nodes, below(DIFF_NODES), &nedges);
            gen++;
            continue;
        }
        unsigned a = below(DIFF_NODES), b = below(DIFF_NODES - 1);
        if (b >= a)
            b++;
        if (dice >= kill_pct + wild_pct && hidden[a] > hidden[b]) {
            unsigned t = a; /* follow the hidden order */
            a = b;
            b = t;
        }
        bool had = adj[a][b];
        int dist = had ? -1 : model_dist(b, a);
        bool acyclic_before = lw_graph_cyclic_edges() == 0;
        lw_cycle cy;
        lw_edge *e;
        enum lw_graph_result r = add(nodes[a], nodes[b], &cy, &e);
        if (had) {
            REQUIRE_MSG(r == LW_EDGE_KNOWN, "seed %" PRIu64 " step %u: known edge %u->%u: %d", seed,
                        step, a, b, r);
            nknown++;
            continue;
        }
        adj[a][b] = true;
        nedges++;
        if (dist < 0) {
            REQUIRE_MSG(r == LW_EDGE_ADDED,
                        "seed %" PRIu64 " step %u: %u->%u closes no cycle, got %d", seed, step, a,
                        b, r);
            nadded++;
        } else {
            REQUIRE_MSG(r == LW_EDGE_CYCLE,
                        "seed %" PRIu64 " step %u: %u->%u closes a cycle of %d, got %d", seed, step,
                        a, b, dist + 1, r);
            assert_cycle_shape(&cy, e);
            REQUIRE(cy.valid);
            for (unsigned i = 0; i < cy.n; i++) {
                unsigned f = node_index(nodes, cy.edge[i]->from);
                unsigned t = node_index(nodes, cy.edge[i]->to);
                REQUIRE_MSG(adj[f][t], "step %u: cycle edge %u->%u not in the model", step, f, t);
            }
            /* With every edge in the order, the search is a plain BFS. */
            if (acyclic_before) {
                REQUIRE_MSG(cy.n == (unsigned)dist + 1,
                            "seed %" PRIu64 " step %u: cycle of %u, shortest is %d", seed, step,
                            cy.n, dist + 1);
                nshortest++;
            }
            ncycles++;
        }
        REQUIRE(lw_graph_edges() == nedges);
        if (step % DIFF_CHECK_EVERY == 0)
            compare_with_model(nodes, nedges, step);
    }
    compare_with_model(nodes, nedges, DIFF_STEPS);
    printf("differential run %d: %" PRIu64 " added, %" PRIu64 " cycles (%" PRIu64
           " checked shortest), %" PRIu64 " known, %u locks destroyed\n",
           _i, nadded, ncycles, nshortest, nknown, gen);
    /* The run exercised both outcomes. */
    ck_assert_uint_gt(nadded, DIFF_STEPS / 20);
    ck_assert_uint_ge(ncycles, 10);
    ck_assert_uint_ge(nshortest, 3);
}
END_TEST

static Suite *graph_big_suite(void)
{
    Suite *s = suite_create("graph_big");
    TCase *tc = tcase_create("big");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_big_dag);
    tcase_add_test(tc, test_dense_reorder);
    suite_add_tcase(s, tc);

    tc = tcase_create("differential");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_loop_test(tc, test_differential, 0, DIFF_RUNS);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(graph_big_suite)
