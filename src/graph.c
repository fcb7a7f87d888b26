/*
 * graph.c: lock-order graph with incremental cycle detection.
 *
 * Algorithm: Pearce & Kelly, "A Dynamic Topological Sort Algorithm for
 * Directed Acyclic Graphs" (JEA 2006), as Abseil's graphcycles uses it.
 * Invariant: for every edge that is not marked cyclic, rank(from) <
 * rank(to).  A new edge x->y with rank(x) < rank(y) therefore cannot close a
 * cycle through non-cyclic edges.  Otherwise a forward search from y over
 * nodes with rank <= rank(x) either reaches x (a cycle, and the search tree
 * gives the shortest path) or, with a backward search from x over nodes with
 * rank >= rank(y), yields the two sets whose ranks are re-dealt so that the
 * invariant holds again.  A cyclic edge stays out of the order; while any
 * exists, a cycle may run through one, so checks then also search the whole
 * reachable graph (programs with no inversion never pay for that).
 *
 * Owns: edges, node adjacency and ranks.  Must never: run without the graph
 * lock (except lw_graph_find_edge), allocate with malloc, or recurse.
 */
#include "graph.h"
#include "arena.h"
#include "lw_atomic.h"

#include <string.h>

lw_hash lw_edges;

/* protects: every lw_edge field but h.k1/k2 (hash), node graph fields,
 * epoch, next_rank, cyclic_edges, the work lists. */
static lw_mutex graph_lock = LW_MUTEX_INIT;
static uint64_t epoch;
static int64_t next_rank;
static int64_t low_rank;   /* sources moved to the front get ranks below 0 */
static uint64_t cyclic_edges;
static uint64_t nedges;

/* Work lists, grown from the arena (old arrays are abandoned: growth is
 * geometric so the waste is bounded by the final size). */
typedef struct {
    lw_lock **v;
    size_t n, cap;
} worklist;
static worklist wl_fwd, wl_bwd;
static int64_t *rank_pool;
static size_t rank_pool_cap;

static bool wl_push(worklist *w, lw_lock *l)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        lw_lock **nv = lw_arena_alloc(cap * sizeof(*nv));
        if (!nv)
            return false;
        if (w->n)
            memcpy(nv, w->v, w->n * sizeof(*nv));
        w->v = nv;
        w->cap = cap;
    }
    w->v[w->n++] = l;
    return true;
}

bool lw_graph_init(void)
{
    return lw_hash_init(&lw_edges, LW_EDGE_BUCKETS, sizeof(lw_edge));
}

void lw_graph_lock(void)
{
    lw_mutex_lock(&graph_lock);
}

void lw_graph_unlock(void)
{
    lw_mutex_unlock(&graph_lock);
}

bool lw_graph_each_edge(bool (*fn)(lw_edge *e, void *ctx), void *ctx)
{
    /* Rather than the edge hash's million buckets: every edge is on its
     * from-node's out list, and every node has a slot (one step per lock
     * record made, not per bucket). */
    uint64_t seen = 0;
    uint32_t n = lw_registry_slots();
    for (uint32_t s = 1; s < n; s++) {
        lw_lock *l = lw_slot_node(s);
        if (!l || !lw_load_relaxed(&l->h.k1))
            continue;   /* no memory for its chunk, or a dead record: no edges */
        for (lw_edge *e = l->out; e; e = e->next_out, seen++)
            if (!fn(e, ctx))
                return true;
    }
    return seen == lw_load_relaxed(&nedges);
}

uint64_t lw_graph_edges(void)
{
    return lw_load_relaxed(&nedges);
}

uint64_t lw_graph_cyclic_edges(void)
{
    return lw_load_relaxed(&cyclic_edges);
}

static void ensure_rank(lw_lock *l)
{
    if (l->rank == 0)
        l->rank = ++next_rank;
}

/* ---- searches ---- */

/* Breadth-first from `start` looking for `goal`.  Follows non-cyclic edges
 * only and stays within rank <= max_rank when `ordered`; otherwise follows
 * every edge.  Visited nodes are left in wl_fwd with mark == epoch and
 * parent = the edge that reached them.  Returns true if goal was reached. */
static uint64_t visits;   /* nodes the searches went through (tests) */

uint64_t lw_graph_search_visits(void)
{
    return visits;
}

static bool search_forward(lw_lock *start, lw_lock *goal, bool ordered, int64_t max_rank,
                           bool *nomem)
{
    wl_fwd.n = 0;
    start->mark = epoch;
    start->parent = NULL;
    if (!wl_push(&wl_fwd, start)) {
        *nomem = true;
        return false;
    }
    for (size_t i = 0; i < wl_fwd.n; i++) {
        lw_lock *n = wl_fwd.v[i];
        visits++;
        for (lw_edge *e = n->out; e; e = e->next_out) {
            lw_lock *t = e->to;
            if (ordered && (e->cyclic || t->rank > max_rank))
                continue;
            if (t->mark == epoch)
                continue;
            t->mark = epoch;
            t->parent = e;
            if (t == goal)
                return true;
            if (!wl_push(&wl_fwd, t)) {
                *nomem = true;
                return false;
            }
        }
    }
    return false;
}

/* Backward over non-cyclic edges from `start`, nodes with rank >= min_rank.
 * Uses a separate mark (epoch + 1) so it does not disturb the forward set. */
static bool search_backward(lw_lock *start, int64_t min_rank, uint64_t mark)
{
    wl_bwd.n = 0;
    start->mark = mark;
    if (!wl_push(&wl_bwd, start))
        return false;
    for (size_t i = 0; i < wl_bwd.n; i++) {
        lw_lock *n = wl_bwd.v[i];
        for (lw_edge *e = n->in; e; e = e->next_in) {
            lw_lock *f = e->from;
            if (e->cyclic || f->rank < min_rank || f->mark == mark)
                continue;
            f->mark = mark;
            if (!wl_push(&wl_bwd, f))
                return false;
        }
    }
    return true;
}

/* Heap sorts (no malloc, no recursion). */
static void sift_nodes(lw_lock **v, size_t start, size_t end)
{
    size_t root = start;
    while (2 * root + 1 < end) {
        size_t c = 2 * root + 1;
        if (c + 1 < end && v[c + 1]->rank > v[c]->rank)
            c++;
        if (v[root]->rank >= v[c]->rank)
            return;
        lw_lock *t = v[root];
        v[root] = v[c];
        v[c] = t;
        root = c;
    }
}

static void sort_by_rank(lw_lock **v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_nodes(v, i, n);
    for (size_t end = n; end-- > 1;) {
        lw_lock *t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_nodes(v, 0, end);
    }
}

static void sift_ranks(int64_t *v, size_t start, size_t end)
{
    size_t root = start;
    while (2 * root + 1 < end) {
        size_t c = 2 * root + 1;
        if (c + 1 < end && v[c + 1] > v[c])
            c++;
        if (v[root] >= v[c])
            return;
        int64_t t = v[root];
        v[root] = v[c];
        v[c] = t;
        root = c;
    }
}

static void sort_ranks(int64_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_ranks(v, i, n);
    for (size_t end = n; end-- > 1;) {
        int64_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_ranks(v, 0, end);
    }
}

/* v[0..n) sorted by rank get slots[0..n) (sorted), runs of equal ranks
 * the first slot of their run. */
static void deal(lw_lock **v, size_t n, const int64_t *slots)
{
    size_t run = 0;
    int64_t old_prev = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t old = v[i]->rank;
        if (i == 0 || old != old_prev)
            run = i;
        old_prev = old;
        v[i]->rank = slots[run];
    }
}

/* Re-deal ranks: every node that reaches `from` (wl_bwd) goes before every
 * node reachable from `to` (wl_fwd), keeping their relative orders. */
static bool reorder(void)
{
    size_t nb = wl_bwd.n, nf = wl_fwd.n, n = nb + nf;
    if (n > rank_pool_cap) {
        size_t cap = rank_pool_cap ? rank_pool_cap : 1024;
        while (cap < n)
            cap *= 2;
        int64_t *p = lw_arena_alloc(cap * sizeof(*p));
        if (!p)
            return false;
        rank_pool = p;
        rank_pool_cap = cap;
    }
    sort_by_rank(wl_bwd.v, nb);
    sort_by_rank(wl_fwd.v, nf);
    for (size_t i = 0; i < nb; i++)
        rank_pool[i] = wl_bwd.v[i]->rank;
    for (size_t i = 0; i < nf; i++)
        rank_pool[nb + i] = wl_fwd.v[i]->rank;
    sort_ranks(rank_pool, n);
    /* Nodes that shared a rank may have edges between them either way
     * (the order is <= along edges): they keep sharing one, the first of
     * their slots (below their old rank for the backward set, above it for
     * the forward set, which gets the top slots). */
    deal(wl_bwd.v, nb, rank_pool);
    deal(wl_fwd.v, nf, rank_pool + nb);
    return true;
}

/* After a search from e->to reached e->from: the cycle is e followed by the
 * tree path from e->to to e->from. */
static bool edges_valid(lw_edge *const *edge, unsigned n);

/* Long cycles: the whole path, to judge the cycle before a report cuts it. */
static lw_edge **long_path;
static size_t long_path_cap;

static void build_cycle(lw_edge *e, lw_cycle *c)
{
    size_t len = 0;
    for (lw_lock *n = e->from; n != e->to && n->parent; n = n->parent->from)
        len++;
    if (len + 1 > long_path_cap) {
        size_t cap = long_path_cap ? long_path_cap : 256;
        while (cap < len + 1)
            cap *= 2;
        lw_edge **p = lw_arena_alloc(cap * sizeof(*p));
        if (p) {
            long_path = p;
            long_path_cap = cap;
        }
    }
    bool full = len + 1 <= long_path_cap;
    if (full) {
        /* The cycle in order: e, then the tree path from e->to to e->from. */
        size_t i = len;
        long_path[0] = e;
        for (lw_lock *n = e->from; n != e->to && n->parent; n = n->parent->from)
            long_path[i--] = n->parent;
    }
    /* A report shows at most LW_MAX_CYCLE edges: e and the path's tail. */
    lw_edge *path[LW_MAX_CYCLE];
    unsigned np = 0;
    for (lw_lock *n = e->from; n != e->to && n->parent && np < LW_MAX_CYCLE - 1;
         n = n->parent->from)
        path[np++] = n->parent;
    c->n = 0;
    c->edge[c->n++] = e;
    while (np > 0)
        c->edge[c->n++] = path[--np];
    c->valid = full ? edges_valid(long_path, (unsigned)(len + 1)) : lw_cycle_valid(c);
}

/* Is there a path to -> ... -> from?  Fills *c if so. */
/* ---- components ----
 * Every cycle lies within one component of the graph taken without edge
 * directions.  Once a cycle exists, its cyclic edge is left out of the
 * ordering, and a new edge can close a cycle through it only by a search
 * over every edge; but only when the new edge's component has a cyclic
 * edge.  A union-find over the locks' slots (kept through recycling, never
 * split: a component only grows) tells, so an old cycle elsewhere costs a
 * new edge nothing. */
static lw_lock *uf_root(lw_lock *l)
{
    if (!l->slot)
        return NULL;   /* no slot: no component, search */
    while (l->uf_up) {
        lw_lock *p = lw_slot_node(l->uf_up);
        if (!p)
            return NULL;
        if (p->uf_up)
            l->uf_up = p->uf_up;   /* halve the path */
        l = p;
    }
    return l;
}

/* Joins a's and b's components; their root, NULL when unknown. */
static lw_lock *uf_join(lw_lock *a, lw_lock *b)
{
    lw_lock *ra = uf_root(a), *rb = uf_root(b);
    if (!ra || !rb)
        return NULL;
    if (ra == rb)
        return ra;
    rb->uf_up = ra->slot;
    ra->uf_flags |= rb->uf_flags;
    return ra;
}

/* May a cycle through a cyclic edge run through l's component? */
static bool component_cyclic(lw_lock *l)
{
    lw_lock *r = uf_root(l);
    return !r || (r->uf_flags & LW_UF_CYCLIC);
}

/* The one-sided cases of a new edge from -> to against the order (ranks
 * need only be <= along edges, so several nodes may share a rank):
 *  - the nodes that reach `from` with a rank >= rank(to) (a backward search
 *    bounded by rank(to), which would meet `to` if `to` reached `from`) are
 *    few: all of them take rank(to) - 1.  Their other predecessors rank
 *    below rank(to) (else they would be in the set), their other successors
 *    at or above it (they ranked at or above their members): the order holds
 *    without visiting what `to` reaches;
 *  - else the nodes `to` reaches with a rank <= rank(from) are few (a
 *    forward search bounded by rank(from)): all take rank(from) + 1.
 * A lock born under a few others and then ordered before an old lock that
 * many others follow (unbound: an entry's lock, then a cache table's lock
 * that orders before every entry) costs its few ancestors, not the old
 * lock's whole following.  Each search stops past LW_ONE_SIDED nodes;
 * then both sides are searched and re-dealt (Pearce and Kelly).  Returns
 * 1 done (no cycle), 0 not decided here, -1 out of memory. */
#define LW_ONE_SIDED 64

static int one_sided(lw_lock *from, lw_lock *to)
{
    /* Backward from `from`. */
    epoch += 2;
    uint64_t mark = epoch + 1;
    wl_bwd.n = 0;
    from->mark = mark;
    if (!wl_push(&wl_bwd, from))
        return -1;
    bool small = true;
    for (size_t i = 0; i < wl_bwd.n && small; i++) {
        visits++;
        for (lw_edge *e = wl_bwd.v[i]->in; e; e = e->next_in) {
            lw_lock *f = e->from;
            if (e->cyclic || f->rank < to->rank || f->mark == mark)
                continue;
            if (f == to || wl_bwd.n >= LW_ONE_SIDED) {
                small = false;   /* a cycle (the forward search builds it), or many */
                break;
            }
            f->mark = mark;
            if (!wl_push(&wl_bwd, f))
                return -1;
        }
    }
    if (small) {
        /* Rank 0 means unranked: no node holds it, so -1 serves for it.
         * The O(1) cases hand out ranks beyond every one given so far. */
        int64_t r = to->rank - 1 ? to->rank - 1 : -1;
        if (r < low_rank)
            low_rank = r;
        for (size_t i = 0; i < wl_bwd.n; i++)
            wl_bwd.v[i]->rank = r;
        return 1;
    }
    /* Forward from `to`. */
    epoch += 2;
    wl_fwd.n = 0;
    to->mark = epoch;
    if (!wl_push(&wl_fwd, to))
        return -1;
    for (size_t i = 0; i < wl_fwd.n; i++) {
        visits++;
        for (lw_edge *e = wl_fwd.v[i]->out; e; e = e->next_out) {
            lw_lock *t = e->to;
            if (e->cyclic || t->rank > from->rank || t->mark == epoch)
                continue;
            if (t == from || wl_fwd.n >= LW_ONE_SIDED)
                return 0;
            t->mark = epoch;
            if (!wl_push(&wl_fwd, t))
                return -1;
        }
    }
    int64_t r = from->rank + 1 ? from->rank + 1 : 1;
    if (r > next_rank)
        next_rank = r;
    for (size_t i = 0; i < wl_fwd.n; i++)
        wl_fwd.v[i]->rank = r;
    return 1;
}

static bool find_cycle(lw_edge *e, bool try_ordered, bool *nomem)
{
    lw_lock *from = e->from, *to = e->to;
    if (from == to)
        return false;
    if (try_ordered && from->rank >= to->rank) {
        /* O(1) cases, the usual ones (a lock seen for the first time
         * ordering before or after known ones): a node with no edge into
         * it cannot be on a cycle and may move to the front of the order; a
         * node with no edge out of it may move to the back. */
        if (from->nin == 0) {
            from->rank = --low_rank;
            return false;
        }
        if (to->nout == 0) {
            to->rank = ++next_rank;
            return false;
        }
        int one = one_sided(from, to);
        if (one < 0) {
            *nomem = true;
            return false;
        }
        if (one > 0)
            goto ordered;
        epoch += 2;
        if (search_forward(to, from, true, from->rank, nomem))
            return true;
        if (*nomem)
            return false;
        if (!search_backward(from, to->rank, epoch + 1) || !reorder()) {
            *nomem = true;
            return false;
        }
    }
ordered:
    if (cyclic_edges > 0 && component_cyclic(from)) {
        epoch += 2;
        return search_forward(to, from, false, 0, nomem);
    }
    return false;
}

/* ---- edges ---- */

struct edge_ctx {
    lw_lock *from, *to;
    uint32_t modes;
    const uint64_t *gates;
    unsigned ngates;
    const lw_edge_origin *origin;
};

static void edge_init(lw_hent *rec, void *vctx)
{
    struct edge_ctx *c = vctx;
    lw_edge *e = (lw_edge *)rec;
    e->from = c->from;
    e->to = c->to;
    e->modes = c->modes;
    unsigned ng = c->ngates < LW_MAX_GATES ? c->ngates : LW_MAX_GATES;
    for (unsigned i = 0; i < ng; i++)
        e->gates[i] = c->gates[i];
    e->ngates = ng;
    if (c->origin)
        e->origin = *c->origin;
}

static bool gate_in(uint64_t g, const uint64_t *gates, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (gates[i] == g)
            return true;
    return false;
}

/* The search that closed a cycle through e returns the first path it
 * met; when that cycle cannot deadlock (a common gate, an rwlock only read
 * on both sides) another path may still give one that can.  Depth-first
 * over simple paths e->to ~> e->from (explicit stack), pruning a passage
 * through an rwlock that enters and leaves it only reading, and taking the
 * first cycle edges_valid() accepts.  At most LW_VALID_SEARCH edge visits:
 * past that the cycle stays unreported (a graph dense enough to need more
 * is rare; the budget keeps a pathological one from stalling the program).
 * Under the graph lock; replaces *c when it finds one. */
#define LW_VALID_SEARCH 20000

static bool read_only_passage(const lw_edge *in, const lw_edge *out)
{
    return in->to->kind == LW_KIND_RWLOCK && !(lw_load_relaxed(&in->modes) & LW_EM_TO_WRITE) &&
           !(lw_load_relaxed(&out->modes) & LW_EM_FROM_WRITE);
}

static bool (*cycle_filter)(lw_edge *const *edge, unsigned n);

void lw_graph_set_cycle_filter(bool (*fresh)(lw_edge *const *edge, unsigned n))
{
    cycle_filter = fresh;
}

static bool wanted(lw_edge *const *edge, unsigned n)
{
    return edges_valid(edge, n) && (!cycle_filter || cycle_filter(edge, n));
}

static bool find_valid_cycle(lw_edge *e, lw_cycle *c)
{
    lw_edge *path[LW_MAX_CYCLE];
    lw_edge *iter[LW_MAX_CYCLE];   /* next out-edge to try at each depth */
    unsigned n = 1, budget = LW_VALID_SEARCH;
    epoch += 2;
    const uint64_t on_path = epoch;
    path[0] = e;
    iter[0] = e->to->out;
    e->to->mark = on_path;
    while (n > 0) {
        if (budget-- == 0)
            return false;
        lw_edge *x = iter[n - 1];
        if (!x) {
            path[n - 1]->to->mark = on_path - 1;   /* off the path */
            n--;
            continue;
        }
        iter[n - 1] = x->next_out;
        if (read_only_passage(path[n - 1], x))
            continue;
        if (x->to == e->from) {
            path[n] = x;
            if (!read_only_passage(x, e) && wanted(path, n + 1)) {
                c->n = n + 1;
                memcpy(c->edge, path, (n + 1) * sizeof(*path));
                c->valid = true;
                return true;
            }
            continue;
        }
        if (x->to->mark == on_path || n + 1 >= LW_MAX_CYCLE)
            continue;
        x->to->mark = on_path;
        path[n] = x;
        iter[n] = x->to->out;
        n++;
    }
    return false;
}

enum lw_graph_result lw_graph_add_edge(lw_lock *from, lw_lock *to, uint32_t modes,
                                       const uint64_t *gates, unsigned ngates,
                                       const lw_edge_origin *origin,
                                       lw_edge **edge_out, lw_cycle *cycle)
{
    bool created, nomem = false;
    lw_edge *e = lw_graph_find_edge(from->id, to->id);

    if (e) {
        bool weaker = false;
        uint32_t m = lw_load_relaxed(&e->modes);
        if ((m | modes) != m) {
            lw_store_relaxed(&e->modes, m | modes);
            weaker = true;
        }
        unsigned ng = lw_load_relaxed(&e->ngates), keep = 0;
        for (unsigned i = 0; i < ng; i++) {
            uint64_t g = lw_load_relaxed(&e->gates[i]);
            if (gate_in(g, gates, ngates))
                lw_store_relaxed(&e->gates[keep++], g);
        }
        if (keep != ng) {
            lw_store_release(&e->ngates, keep);
            weaker = true;
        }
        *edge_out = e;
        if (!weaker)
            return LW_EDGE_KNOWN;
        /* A weaker edge can turn a suppressed cycle into a real one; cycles
         * exist only where some edge is cyclic. */
        if (cyclic_edges > 0 && component_cyclic(from)) {
            epoch += 2;
            if (search_forward(to, from, false, 0, &nomem)) {
                build_cycle(e, cycle);
                if (!cycle->valid || !wanted(cycle->edge, cycle->n))
                    find_valid_cycle(e, cycle);
                return LW_EDGE_CYCLE;
            }
        }
        return nomem ? LW_EDGE_NOMEM : LW_EDGE_ADDED;
    }

    struct edge_ctx c = { from, to, modes, gates, ngates, origin };
    e = (lw_edge *)lw_hash_insert(&lw_edges, from->id, to->id, edge_init, &c, &created);
    *edge_out = e;
    if (!e)
        return LW_EDGE_NOMEM;
    if (!created)
        return LW_EDGE_KNOWN;   /* cannot happen under the graph lock */

    e->next_out = from->out;
    if (from->out)
        from->out->prev_out = e;
    from->out = e;
    from->nout++;
    e->next_in = to->in;
    if (to->in)
        to->in->prev_in = e;
    to->in = e;
    to->nin++;
    lw_fetch_add_relaxed(&nedges, 1);
    ensure_rank(from);
    ensure_rank(to);
    lw_lock *root = uf_join(from, to);

    if (find_cycle(e, true, &nomem)) {
        e->cyclic = true;
        cyclic_edges++;
        if (root)
            root->uf_flags |= LW_UF_CYCLIC;
        build_cycle(e, cycle);
        if (!cycle->valid || !wanted(cycle->edge, cycle->n))
            find_valid_cycle(e, cycle);
        return LW_EDGE_CYCLE;
    }
    return nomem ? LW_EDGE_NOMEM : LW_EDGE_ADDED;
}

static void (*removal_hook)(lw_edge *e);

void lw_graph_set_removal_hook(void (*fn)(lw_edge *e))
{
    removal_hook = fn;
}

static void unlink_edge(lw_edge *e)
{
    if (removal_hook)
        removal_hook(e);
    if (e->prev_out)
        e->prev_out->next_out = e->next_out;
    else
        e->from->out = e->next_out;
    if (e->next_out)
        e->next_out->prev_out = e->prev_out;
    e->from->nout--;
    if (e->prev_in)
        e->prev_in->next_in = e->next_in;
    else
        e->to->in = e->next_in;
    if (e->next_in)
        e->next_in->prev_in = e->prev_in;
    e->to->nin--;
    if (e->cyclic)
        cyclic_edges--;
    lw_hash_remove(&lw_edges, &e->h, e->from->id, e->to->id);
    /* Last: release, see lw_graph_remove_node.  Nothing of either node is
     * touched after this. */
    lw_fetch_add_acq_rel(&nedges, -1);
}

void lw_graph_remove_node(lw_lock *l)
{
    /* A graph without edges needs no lock.  acquire: pairs with the release
     * decrement in unlink_edge, so a remover that made the count zero has
     * finished writing every node it touched (this one included) before we
     * let the node be reused.  Peeking at this node's own lists instead
     * would race with a concurrent removal of an adjacent node. */
    if (lw_load_acquire(&nedges) == 0) {
        l->rank = 0;
        return;
    }
    lw_graph_lock();
    while (l->out)
        unlink_edge(l->out);
    while (l->in)
        unlink_edge(l->in);
    l->rank = 0;
    lw_graph_unlock();
}

/* ---- cycles ---- */

static bool edges_valid(lw_edge *const *edge, unsigned n)
{
    if (n == 0)
        return false;
    /* A gate common to every edge serialises them all: no deadlock. */
    const lw_edge *e0 = edge[0];
    unsigned ng0 = lw_load_relaxed(&e0->ngates);
    for (unsigned g = 0; g < ng0; g++) {
        uint64_t gate = lw_load_relaxed(&e0->gates[g]);
        bool everywhere = true;
        for (unsigned i = 1; i < n && everywhere; i++) {
            const lw_edge *e = edge[i];
            everywhere = gate_in(gate, e->gates, lw_load_relaxed(&e->ngates));
        }
        if (everywhere)
            return false;
    }
    /* An rwlock that is only ever read-acquired where the cycle enters it
     * and only read-held where it leaves cannot block there: glibc's
     * rwlocks prefer readers by default, granting a read lock whenever no
     * writer holds it (a writer holding it while it waits for a lock of
     * the cycle would have made that edge a write one).  Unless it prefers
     * writers (writers_first): then a writer waiting for the cycle's
     * readers holds the next reader back. */
    for (unsigned i = 0; i < n; i++) {
        const lw_edge *in = edge[i], *out = edge[(i + 1) % n];
        if (in->to->kind != LW_KIND_RWLOCK || in->to->writers_first)
            continue;
        if (!(lw_load_relaxed(&in->modes) & LW_EM_TO_WRITE) &&
            !(lw_load_relaxed(&out->modes) & LW_EM_FROM_WRITE))
            return false;
    }
    return true;
}

bool lw_cycle_valid(const lw_cycle *c)
{
    return edges_valid(c->edge, c->n);
}

uint64_t lw_cycle_signature_edges(lw_edge *const *edge, unsigned n)
{
    uint64_t s = n;
    for (unsigned i = 0; i < n; i++)
        s += lw_mix64(lw_hash_mix(edge[i]->from->id, edge[i]->to->id));
    return s;
}

uint64_t lw_cycle_signature(const lw_cycle *c)
{
    return lw_cycle_signature_edges(c->edge, c->n);
}

/* ---- tests and fork ---- */

int lw_graph_check_invariants(void)
{
    int bad = 0;
    uint64_t count = 0, ncyc = 0;
    lw_graph_lock();
    for (uint32_t b = 0; b <= lw_registry.mask && !bad; b++) {
        for (lw_hent *h = lw_registry.buckets[b]; h && !bad; h = h->next) {
            lw_lock *l = (lw_lock *)h;
            if (!h->k1) {
                if (l->out || l->in)
                    bad = 1;   /* dead node with edges */
                continue;
            }
            uint32_t nout = 0, nin = 0;
            for (lw_edge *e = l->out; e && !bad; e = e->next_out) {
                nout++;
                count++;
                if (e->from != l)
                    bad = 2;
                else if (!e->cyclic && !(e->from->rank <= e->to->rank))
                    bad = 3;   /* topological order broken */
                else if (e->next_out && e->next_out->prev_out != e)
                    bad = 4;
                else if (lw_graph_find_edge(l->id, e->to->id) != e)
                    bad = 5;   /* edge not findable */
                else if (!e->to->h.k1)
                    bad = 6;   /* edge to a dead node */
                if (e->cyclic)
                    ncyc++;
            }
            for (lw_edge *e = l->in; e && !bad; e = e->next_in) {
                nin++;
                if (e->to != l)
                    bad = 7;
            }
            if (!bad && (nout != l->nout || nin != l->nin))
                bad = 8;
        }
    }
    if (!bad && count != lw_load_relaxed(&nedges))
        bad = 9;

    if (!bad && ncyc != cyclic_edges)
        bad = 10;
    lw_graph_unlock();
    return bad;
}

void lw_graph_atfork_prepare(void)
{
    lw_graph_lock();
}

void lw_graph_atfork_parent(void)
{
    lw_graph_unlock();
}

void lw_graph_atfork_child(void)
{
    lw_mutex_reset(&graph_lock);
    lw_hash_atfork_child(&lw_edges);
}
