/*
 * graph.h: the lock-order graph.
 *
 * Contract
 *  - Nodes are registry lock nodes; an edge A->B means "some thread acquired
 *    B while holding A".  Edges are keyed by (A.id, B.id) and kept in a
 *    lock-free-lookup hash (lw_graph_find_edge), so a thread can tell an
 *    edge is known without any lock.  Everything else happens under the one
 *    graph lock, taken by lw_graph_lock().
 *  - lw_graph_add_edge() inserts an edge or merges new modes/gates into an
 *    existing one (modes only grow, gates only shrink).  When the edge is new
 *    or weaker than before it looks for a cycle through it and returns the
 *    shortest one it finds.  Duplicate edges are merged, never stored twice.
 *  - Cycle checks are incremental (Pearce & Kelly's dynamic topological
 *    order): while no cycle exists, an edge that agrees with the current
 *    order costs O(1), otherwise the search visits only the nodes whose order
 *    lies between the edge's ends.  Once an edge closes a cycle it is marked
 *    cyclic, kept out of the order, and later checks that could run through a
 *    cyclic edge search the whole reachable graph.
 *  - lw_graph_remove_node() drops a node and all its edges (lock destroyed).
 *  - Searches use explicit work lists, never recursion.
 */
#ifndef LW_GRAPH_H
#define LW_GRAPH_H

#include "lw_base.h"
#include "registry.h"

/* Edge mode bits: how `from` was held and how `to` was acquired. */
#define LW_EM_FROM_READ  0x1u
#define LW_EM_FROM_WRITE 0x2u   /* also: mutex, spinlock */
#define LW_EM_TO_READ    0x4u
#define LW_EM_TO_WRITE   0x8u

/* Where and by whom an edge was first established (filled by the caller). */
typedef struct lw_edge_origin {
    uint32_t stack_to;        /* depot id: acquisition of `to` */
    uint32_t stack_from;      /* depot id: acquisition of `from` */
    uint32_t thread;          /* lockwatch thread number */
    uint32_t thread_stack;    /* depot id: where that thread was created */
    int tid;                  /* OS thread id */
    uint32_t parent;          /* creating thread's number */
    bool created_seen;        /* the thread's creation was observed */
    char thread_name[16];
    uint32_t timed_ms;        /* a timed acquisition of `to` (its timeout), or 0 */
    /* The pair of lock classes the edge joins (the core's; equal for edges
     * between locks of the same two order keys, near enough): the exit
     * graph keeps one edge per class pair. */
    uint64_t class_sig;
} lw_edge_origin;

typedef struct lw_edge {
    lw_hent h;                /* k1 = from id, k2 = to id */
    lw_lock *from, *to;       /* graph lock */
    struct lw_edge *next_out, *prev_out, *next_in, *prev_in;  /* graph lock */
    uint32_t modes;           /* LW_EM_*; written under graph lock, read relaxed */
    uint32_t ngates;          /* written under graph lock, read acquire */
    uint64_t gates[LW_MAX_GATES];   /* lock ids; written under graph lock */
    bool cyclic;              /* closes a cycle: not in the topological order */
    lw_edge_origin origin;    /* constant after insertion */
} lw_edge;

typedef struct lw_cycle {
    unsigned n;               /* number of edges */
    lw_edge *edge[LW_MAX_CYCLE];   /* edge[i]->to == edge[i+1]->from */
    bool valid;               /* false: suppressed (gate lock, read-read) */
} lw_cycle;

enum lw_graph_result {
    LW_EDGE_KNOWN = 0,        /* nothing new */
    LW_EDGE_ADDED,            /* new or weakened, no cycle */
    LW_EDGE_CYCLE,            /* new or weakened, closes the cycle returned */
    LW_EDGE_NOMEM,
};

bool lw_graph_init(void);
void lw_graph_lock(void);
void lw_graph_unlock(void);

static inline lw_edge *lw_graph_find_edge(uint64_t from_id, uint64_t to_id);

/* Under the graph lock.  gates: ids of locks held exclusively at the time
 * (other than from/to).  origin is copied when the edge is new. */
enum lw_graph_result lw_graph_add_edge(lw_lock *from, lw_lock *to, uint32_t modes,
                                       const uint64_t *gates, unsigned ngates,
                                       const lw_edge_origin *origin,
                                       lw_edge **edge_out, lw_cycle *cycle);
/* Takes the graph lock itself. */
void lw_graph_remove_node(lw_lock *l);

/* Is this cycle a possible deadlock (no common gate, no read-read node)? */
bool lw_cycle_valid(const lw_cycle *c);
/* Order-independent signature of a cycle's edges, for report dedup. */
uint64_t lw_cycle_signature(const lw_cycle *c);
uint64_t lw_cycle_signature_edges(struct lw_edge *const *edge, unsigned n);
/* A cycle the graph returns must also pass fresh() (called under the graph
 * lock; the core passes "not reported yet"): when the first cycle found
 * through a new or weakened edge is invalid or stale, the graph looks for
 * another one through that edge (bounded search). */
void lw_graph_set_cycle_filter(bool (*fresh)(struct lw_edge *const *edge, unsigned n));

/* fn is called, under the graph lock, with every edge about to be removed
 * (its lock destroyed or its memory released), while it is still whole.
 * Set once at start-up. */
void lw_graph_set_removal_hook(void (*fn)(lw_edge *e));
/* Under the graph lock: calls fn for every edge, in no particular order,
 * until it returns false.  Walks the lock records by slot (registry.h), so
 * it costs one step per lock record ever made plus one per edge; false
 * when it may have missed edges (a record without a slot: only past 2^32
 * records, or when the slot table had no memory). */
bool lw_graph_each_edge(bool (*fn)(lw_edge *e, void *ctx), void *ctx);

uint64_t lw_graph_edges(void);
uint64_t lw_graph_cyclic_edges(void);
/* Nodes the graph's forward searches have gone through so far (tests:
 * what a new edge costs). */
uint64_t lw_graph_search_visits(void);
/* For tests: every invariant the graph maintains; 0 when all hold, else a
 * number naming the first that failed. */
int lw_graph_check_invariants(void);
void lw_graph_atfork_prepare(void);
void lw_graph_atfork_parent(void);
void lw_graph_atfork_child(void);

extern lw_hash lw_edges;

static inline lw_edge *lw_graph_find_edge(uint64_t from_id, uint64_t to_id)
{
    return (lw_edge *)lw_hash_find(&lw_edges, from_id, to_id);
}

#endif
