/*
 * lw_core.c: the detector's events: held-lock stacks, order edges, cycle
 * reports.  Owns: the reported-cycle set and start-up of the core parts.
 * Must never: call a pthread function, malloc, or take a lock on the fast
 * path (an acquisition whose edges are all known: held stack, per-thread
 * edge cache, lock-free edge lookup).
 */
#include "lw_core.h"
#include "lw_sys.h"
#include "arena.h"
#include "deadlock.h"
#include "graph.h"
#include "lw_atomic.h"
#include "options.h"
#include "finding.h"
#include "log.h"
#include "report.h"
#include "rules.h"
#include "stacks.h"
#include "acqstack.h"
#include "suppress.h"
#include "jitter.h"
#include "order.h"
#include "annotate.h"

#include "fmt.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool names_oom;   /* names_lock: the last HASH_ADD had no memory */
#define LW_UTHASH_OOM(elt) (names_oom = true)
#include "lw_uthash.h"

int lw_core_ready;

static int init_state;
static void keep_removed_edge(lw_edge *e);

/* The graph's filter: a cycle reported before is no news. */
static bool cycle_not_reported(lw_edge *const *edge, unsigned n)
{
    return !lw_seen_before(lw_cycle_signature_edges(edge, n));
}   /* 0 none, 1 running, 2 done, 3 failed */

bool lw_core_init(char **envp, const void *self_addr)
{
    int s = 0;
    if (!lw_cas_acq_rel(&init_state, &s, 1)) {
        while ((s = lw_load_acquire(&init_state)) == 1)
            lw_cpu_relax();
        return s == 2;
    }
    lw_options_parse(envp);
    lw_sink_start();
    lw_thread_init_process();
    lw_report_init();
    lw_supp_load(lw_opt.suppressions);
    if (lw_opt.order_file[0])
        lw_order_load(lw_opt.order_file);
    lw_jitter_init();
    if (!lw_registry_init() || !lw_graph_init()) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: out of memory at start-up; lockwatch is disabled\n");
        lw_store_release(&init_state, 3);
        return false;
    }
    lw_graph_set_cycle_filter(cycle_not_reported);
    if (lw_opt.format == LW_FORMAT_JSON)   /* the exit graph is JSON's only */
        lw_graph_set_removal_hook(keep_removed_edge);
    if (self_addr)
        lw_stacks_hide_module_of(self_addr);
    lw_store_release(&init_state, 2);
    lw_store_release(&lw_core_ready, 1);
    return true;
}

/* ---- lock nodes ---- */

lw_lock *lw_lock_create(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc)
{
    bool created;
    lw_lock *l = lw_registry_get(addr, kind, mtype, &created);
    if (l && created) {
        l->first_how = LW_FIRST_LOCKED;
        l->first_pc = pc;
    }
    return l;
}

lw_lock *lw_lock_initialised(uintptr_t addr, enum lw_lock_kind kind, unsigned mtype, uintptr_t pc)
{
    bool created;
    lw_lock *old = lw_registry_find(addr);
    if (old)
        lw_registry_forget(old);   /* re-initialised: a new lock */
    lw_lock *l = lw_registry_get(addr, kind, mtype, &created);
    if (l && created) {
        l->first_how = LW_FIRST_INITIALISED;
        l->first_pc = pc;
    }
    return l;
}

void lw_lock_destroyed(uintptr_t addr)
{
    lw_lock *l = lw_registry_find(addr);
    if (l)
        lw_registry_forget(l);
    lw_annot_lock_gone(addr);   /* its guarded ranges and declared order */
}

/* ---- user-given names (lockwatch_name_lock) ---- */

typedef struct {
    UT_hash_handle hh;
    uintptr_t addr;
    const char *name;
} lock_name;

/* protects: names.  A leaf lock: nothing is taken while holding it. */
static lw_mutex names_lock = LW_MUTEX_INIT;
static lock_name *names;

void lw_lock_set_name(uintptr_t addr, const char *name)
{
    lock_name *n;
    lw_mutex_lock(&names_lock);
    HASH_FIND(hh, names, &addr, sizeof(addr), n);
    if (!n && (n = lw_arena_alloc(sizeof(*n))) != NULL) {
        n->addr = addr;
        names_oom = false;
        HASH_ADD(hh, names, addr, sizeof(n->addr), n);
        if (names_oom)
            n = NULL;   /* not in the table (its memory is the arena's) */
    }
    if (n)
        n->name = name;
    lw_mutex_unlock(&names_lock);
    if (!n) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: out of memory for lock names; "
                     "some locks are shown without their names\n");
    }
}

const char *lw_lock_name(uintptr_t addr)
{
    lock_name *n;
    const char *r = NULL;
    if (!lw_load_relaxed(&names))
        return NULL;
    lw_mutex_lock(&names_lock);
    HASH_FIND(hh, names, &addr, sizeof(addr), n);
    if (n)
        r = n->name;
    lw_mutex_unlock(&names_lock);
    return r;
}

/* ---- snapshots for findings ---- */

void lw_snap_lock(const lw_lock *l, lw_lock_snap *s)
{
    memset(s, 0, sizeof(*s));
    s->id = l->id;
    s->addr = (uintptr_t)lw_load_relaxed(&l->h.k1);
    s->kind = l->kind;
    s->mtype = l->mtype;
    s->first_how = l->first_how;
    s->first_pc = l->first_pc;
    s->name = lw_lock_name(s->addr);
}

void lw_snap_thread(lw_thread *t, uint32_t stack, const uintptr_t *pcs, const uintptr_t *sps,
                    unsigned n, uintptr_t except, lw_thread_snap *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->num = t->num;
    ts->parent = t->parent;
    ts->tid = t->tid;
    if (t == lw_tls.t) {
        lw_thread_refresh_name(t);
        memcpy(ts->name, t->name, sizeof(ts->name));
    } else {   /* another thread (asleep.c): its kernel name, read from /proc */
        memcpy(ts->name, t->name, sizeof(ts->name));
        lw_thread_name_of(t->tid, ts->name, sizeof(ts->name));
        lw_thread_unset_inherited(t, ts->name);
    }
    ts->created_seen = t->created_seen;
    ts->create_stack = t->create_stack;
    ts->stack = stack;
    for (unsigned i = 0; i < t->nheld && ts->nholds < LW_TSNAP_HOLDS; i++) {
        const lw_held *h = &t->held[i];
        if (except && h->addr == except)
            continue;
        lw_hold_snap *hs = &ts->holds[ts->nholds++];
        lw_snap_lock(h->lock, &hs->lock);
        hs->lock.id = h->id;
        hs->mode = h->mode;
        hs->stack = lw_held_stack(t, i, pcs, sps, n);
    }
}

lw_finding *lw_finding_about_self(lw_thread *t, enum lw_finding_kind kind, uintptr_t except)
{
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    lw_finding *f = lw_finding_new(kind);
    if (!f)
        return NULL;
    lw_thread_snap ts;
    lw_snap_thread(t, lw_depot_put(pcs, n < depth ? n : depth), pcs, sps, n, except, &ts);
    lw_finding_thread(f, &ts);
    return f;
}

/* ---- held stack ---- */

lw_held *lw_held_find(lw_thread *t, const lw_lock *l)
{
    for (unsigned i = t->nheld; i-- > 0;)
        if (t->held[i].lock == l && t->held[i].id == l->id)
            return &t->held[i];
    return NULL;
}

bool lw_held_grow(lw_thread *t)
{
    unsigned cap = t->held_cap * 2;
    lw_held *mem = t->held_big && t->held_big_cap >= cap && t->held_big != t->held
                       ? t->held_big
                       : lw_arena_alloc(cap * sizeof(lw_held));
    if (!mem || cap <= t->held_cap) {
        static int once;
        t->overflow++;
        lw_warn_once(&once, "lockwatch: warning: no memory for a thread holding %u locks; "
                     "the locks it takes past those are not tracked\n", t->nheld);
        return false;
    }
    memcpy(mem, t->held, t->nheld * sizeof(lw_held));
    /* A signal handler reading the held stack sees the old array or the
     * new one, complete either way. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->held = mem;
    t->held_cap = cap;
    if (mem != t->held_big) {   /* the earlier big one, if any, is left behind */
        t->held_big = mem;
        t->held_big_cap = cap;
    }
    return true;
}

/* Removes one count of held entry i; returns its mode. */
static unsigned release_at(lw_thread *t, unsigned i)
{
    lw_held *h = &t->held[i];
    unsigned mode = h->mode;
    if (--h->count > 0)
        return mode;
    /* Remove entry i, keeping acquisition order of the rest; captured
     * stacks move along (an entry past LW_HELD_FULL has none). */
    for (unsigned j = i + 1; j < t->nheld; j++) {
        t->held[j - 1] = t->held[j];
        if (LW_UNLIKELY(t->held[j].framed)) {
            if (j < LW_HELD_FULL) {
                t->held_nframes[j - 1] = t->held_nframes[j];
                memcpy(t->held_frames[j - 1], t->held_frames[j],
                       t->held_nframes[j] * sizeof(t->held_frames[j][0]));
            } else {
                t->held[j - 1].framed = 0;
            }
        }
    }
    t->nheld--;
    return mode;
}

static unsigned not_held(lw_thread *t)
{
    if (t->overflow) {
        t->overflow--;   /* released one we could not track */
        return LW_RELEASED_UNTRACKED;
    }
    return 0;
}

unsigned lw_release(lw_thread *t, lw_lock *l)
{
    for (unsigned i = t->nheld; i-- > 0;)
        if (t->held[i].lock == l && t->held[i].id == l->id)
            return release_at(t, i);
    return not_held(t);
}

unsigned lw_release_addr_slow(lw_thread *t, uintptr_t addr)
{
    /* Locks are usually released in reverse order: the top entry first. */
    for (unsigned i = t->nheld; i-- > 0;)
        if (t->held[i].addr == addr)
            return release_at(t, i);
    return not_held(t);
}

void lw_forget_lock(lw_thread *t, lw_lock *l)
{
    lw_held *h;
    while ((h = lw_held_find(t, l)) != NULL) {
        h->count = 1;
        lw_release(t, l);
    }
    lw_registry_forget(l);
}

/* ---- memory released while a lock in it is held ---- */

/* Is the lock of entry h still the one the thread took (its record not
 * forgotten, nor recycled for another lock)? */
static bool held_live(const lw_held *h)
{
    return lw_load_relaxed(&h->lock->id) == h->id &&
           (uintptr_t)lw_load_relaxed(&h->lock->h.k1) == h->addr;
}

#define LW_FREED_NAMED 8   /* locks a released-memory report names */

unsigned lw_memory_released(lw_thread *t, uintptr_t lo, uintptr_t hi, const char *call,
                            uintptr_t pc)
{
    if (lo >= hi || lw_held_in_range(t, lo, hi) < 0)
        return 0;
    /* The report first, while the thread's held stack still shows where
     * each lock was acquired.  Outermost first, each lock once. */
    lw_lock *named[LW_FREED_NAMED];
    unsigned n = 0, found = 0;
    uintptr_t held_pc = 0;
    for (unsigned i = 0; i < t->nheld; i++) {
        const lw_held *h = &t->held[i];
        if (!lw_held_in(h, lo, hi) || !held_live(h) || lw_held_find(t, h->lock) != h)
            continue;   /* elsewhere, gone already, or a recursive count of one seen */
        if (found++ == 0)
            held_pc = h->pc;
        if (n < LW_FREED_NAMED)
            named[n++] = h->lock;
    }
    if (n)
        lw_rule_freed_locked(t, named, n, found, held_pc, call, pc);
    /* Then the locks go, as on a destroy. */
    int i;
    while ((i = lw_held_in_range(t, lo, hi)) >= 0) {
        lw_held *h = &t->held[i];
        if (held_live(h)) {
            lw_forget_lock(t, h->lock);
        } else {
            h->count = 1;
            release_at(t, (unsigned)i);
        }
    }
    return found;
}

/* ---- order edges ---- */

static inline uint32_t edge_modes(unsigned from_mode, unsigned to_mode)
{
    return (from_mode == LW_MODE_READ ? LW_EM_FROM_READ : LW_EM_FROM_WRITE) |
           (to_mode == LW_MODE_READ ? LW_EM_TO_READ : LW_EM_TO_WRITE);
}

static inline unsigned cache_slot(uint64_t from, uint64_t key)
{
    /* Both ids must reach the slot bits: edges from one lock to several
     * others are the common case and must not evict each other. */
    return (unsigned)(lw_hash_mix(from, key) >> 24) & (LW_EDGE_CACHE - 1);
}

/* Are all of e's gates held exclusively by t (other than entry `skip`)? */
static bool gates_held(const lw_thread *t, const lw_edge *e, unsigned ng, unsigned skip)
{
    for (unsigned g = 0; g < ng; g++) {
        uint64_t gid = lw_load_relaxed(&e->gates[g]);
        bool found = false;
        for (unsigned j = 0; j < t->nheld && !found; j++)
            found = j != skip && t->held[j].id == gid && t->held[j].mode == LW_MODE_WRITE;
        if (!found)
            return false;
    }
    return true;
}

/* Could the threads that made these edges have deadlocked as they ran?
 * Only if each edge came from a thread of its own and no two of them held
 * a lock (a gate: held exclusively besides the edge's ends) in common.
 * Otherwise the cycle is latent: one thread took two of its edges (it
 * deadlocks once two threads run those paths at once), or two edges were
 * serialised by a lock both held.  Under the graph lock. */
static enum lw_confidence cycle_confidence(const lw_cycle *cyc)
{
    for (unsigned i = 0; i < cyc->n; i++)
        for (unsigned j = i + 1; j < cyc->n; j++) {
            const lw_edge *a = cyc->edge[i], *b = cyc->edge[j];
            if (a->origin.thread == b->origin.thread)
                return LW_CONF_LATENT;
            unsigned na = lw_load_relaxed(&a->ngates), nb = lw_load_relaxed(&b->ngates);
            for (unsigned x = 0; x < na; x++)
                for (unsigned y = 0; y < nb; y++)
                    if (lw_load_relaxed(&a->gates[x]) == lw_load_relaxed(&b->gates[y]))
                        return LW_CONF_LATENT;
        }
    return LW_CONF_FEASIBLE;
}

/* The thread that made an edge, as the edge remembers it (it may have
 * ended since): no held locks. */
static void snap_origin(const lw_edge_origin *o, lw_thread_snap *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->num = o->thread;
    ts->parent = o->parent;
    ts->tid = o->tid;
    memcpy(ts->name, o->thread_name, sizeof(ts->name));
    ts->created_seen = o->created_seen;
    ts->create_stack = o->thread_stack;
}

/* The finding of a cycle, under the graph lock (the edges are stable). */
static lw_finding *cycle_finding(const lw_cycle *cyc)
{
    lw_finding *f = lw_finding_new(LW_F_INVERSION);
    if (!f)
        return NULL;
    f->confidence = cycle_confidence(cyc);
    /* Start at the oldest lock: stable, easy to read. */
    unsigned first = 0;
    for (unsigned i = 1; i < cyc->n; i++)
        if (cyc->edge[i]->from->id < cyc->edge[first]->from->id)
            first = i;
    lw_buf mb;
    lw_buf_init(&mb, f->message, sizeof(f->message));
    lw_buf_printf(&mb, "%s: ", lw_finding_kind_title(LW_F_INVERSION));
    for (unsigned k = 0; k < cyc->n; k++) {
        const lw_edge *ce = cyc->edge[(first + k) % cyc->n];
        lw_lock_snap ls;
        lw_snap_lock(ce->from, &ls);
        int from = lw_finding_lock(f, &ls, true, NULL, 0);
        lw_buf_printf(&mb, "M%lu => ", (unsigned long)ls.id);
        lw_snap_lock(ce->to, &ls);
        int to = lw_finding_lock(f, &ls, true, NULL, 0);
        const lw_edge_origin *o = &ce->origin;
        int ti = lw_finding_thread_index(f, o->thread);
        if (ti < 0) {
            lw_thread_snap ts;
            snap_origin(o, &ts);
            if (lw_finding_thread(f, &ts))
                ti = (int)f->nthreads - 1;
        }
        if (from < 0 || to < 0 || ti < 0)
            break;
        uint32_t m = lw_load_relaxed(&ce->modes);
        lw_fedge *fe = &f->edges[f->nedges++];
        fe->from = (uint16_t)from;
        fe->to = (uint16_t)to;
        fe->thread = (uint16_t)ti;
        fe->from_mode = (m & LW_EM_FROM_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
        fe->to_mode = (m & LW_EM_TO_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
        fe->stack = o->stack_to;
        fe->held_stack = o->stack_from;
        fe->timed_ms = o->timed_ms;
    }
    lw_buf_printf(&mb, "M%lu", (unsigned long)f->locks[0].lock.id);
    return f;
}

/* A lock's class for the exit graph, cheaply (no symbol lookup): its
 * address when it lies in a module (a global: one lock, one key), else
 * where and how it was first seen (heap locks made at one site: one class,
 * as their order key); its name, when it has one, either way. */
static uint64_t lock_class(const lw_lock *l)
{
    uintptr_t addr = (uintptr_t)lw_load_relaxed(&l->h.k1);
    const char *name = lw_lock_name(addr);
    if (name)
        return lw_str_hash(name);
    if (lw_addr_in_module(addr))
        return lw_mix64(addr ^ 0x676c6f62616cull);
    return lw_mix64((uint64_t)l->first_pc * 31 + (uint64_t)l->first_how * 7 + l->kind);
}

/* ---- the committed order (LOCKWATCH_ORDER_FILE, order.h) ---- */

/* l's entry in the order file, or NULL; its key is computed (symbol
 * lookups) once per lock node and the answer kept on the node. */
static const lw_order_ent *order_entry_of(lw_lock *l)
{
    unsigned c = lw_load_relaxed(&l->order_class);
    if (c == 0) {
        uint64_t id = lw_load_relaxed(&l->id);
        lw_lock_snap s;
        char key[LW_LOCK_KEY_MAX];
        lw_snap_lock(l, &s);
        const lw_order_ent *e = lw_lock_key(&s, key, sizeof(key)) ? lw_order_find(key) : NULL;
        c = e ? LW_ORDER_BASE + e->index : LW_ORDER_NONE;
        /* A node recycled meanwhile is another lock: leave its class be. */
        if (lw_load_relaxed(&l->id) == id)
            lw_store_relaxed(&l->order_class, (uint16_t)c);
    }
    return c >= LW_ORDER_BASE ? lw_order_entry(c - LW_ORDER_BASE) : NULL;
}

/* The finding of an order violation on the new edge held -> to (NULL: no
 * memory); it carries both stacks as an inversion's edge does.  role,
 * role_stack: what `to` has to say (a declaration), or NULL. */
static lw_finding *order_edge_finding(lw_lock *held, uint64_t held_id, lw_lock *to,
                                      uint32_t modes, const lw_edge_origin *o, const char *role,
                                      uint32_t role_stack, lw_lock_snap *from, lw_lock_snap *ls)
{
    lw_finding *f = lw_finding_new(LW_F_ORDER_VIOLATION);
    if (!f)
        return NULL;
    lw_snap_lock(held, from);
    from->id = held_id;
    lw_snap_lock(to, ls);
    int fi = lw_finding_lock(f, from, true, NULL, 0);
    int ti = lw_finding_lock(f, ls, true, role, role_stack);
    lw_thread_snap ts;
    snap_origin(o, &ts);
    if (fi < 0 || ti < 0 || !lw_finding_thread(f, &ts)) {
        lw_finding_free(f);
        return NULL;
    }
    lw_fedge *fe = &f->edges[f->nedges++];
    fe->from = (uint16_t)fi;
    fe->to = (uint16_t)ti;
    fe->thread = 0;
    fe->from_mode = (modes & LW_EM_FROM_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
    fe->to_mode = (modes & LW_EM_TO_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
    fe->stack = o->stack_to;
    fe->held_stack = o->stack_from;
    fe->timed_ms = o->timed_ms;
    return f;
}

/* A new edge held -> to against the file: the file lists to's key before
 * held's (a lower rank), so the program took them in the order the team
 * wrote down as forbidden.  The finding (NULL: none) once per pair of
 * keys. */
static lw_finding *order_check(const lw_held *h, lw_lock *to, uint32_t modes,
                               const lw_edge_origin *o)
{
    const lw_order_ent *held = order_entry_of(h->lock), *want = order_entry_of(to);
    if (!held || !want || want->rank >= held->rank)
        return NULL;   /* unlisted, in order, one class or one cycle of the file */
    if (!lw_first_time(lw_mix64(((uint64_t)held->index << 32 | want->index) ^
                                0x6f726465722d7669ull)))
        return NULL;
    lw_lock_snap from, ls;
    lw_finding *f = order_edge_finding(h->lock, h->id, to, modes, o, NULL, 0, &from, &ls);
    if (!f)
        return NULL;
    f->order.file = lw_order_path();
    f->order.first = want->key;
    f->order.second = held->key;
    f->order.first_line = want->line;
    f->order.second_line = held->line;
    lw_finding_message(f, "%s: M%lu (\"%s\") acquired while holding M%lu (\"%s\"); %s lists "
                       "\"%s\" (line %u) before \"%s\" (line %u)",
                       lw_finding_kind_title(LW_F_ORDER_VIOLATION), (unsigned long)ls.id,
                       want->key, (unsigned long)from.id, held->key, lw_order_path(), want->key,
                       want->line, held->key, held->line);
    return f;
}

/* The order-violation of the edge held -> to against LOCKWATCH_ORDER
 * (annotate.h; decl: the declaration's stack), or NULL.  Once per pair of
 * locks (their incarnations: a lock made anew at the same address is
 * another); the finding has no file, and its `to` lock says where the
 * declaration was made. */
static lw_finding *decl_finding(lw_lock *held, uint64_t held_id, lw_lock *to, uint32_t modes,
                                const lw_edge_origin *o, uint32_t decl)
{
    if (!lw_first_time(lw_mix64((held_id * 0x9e3779b97f4a7c15ull) ^ lw_load_relaxed(&to->id)) ^
                       0x6465636c6f726465ull))
        return NULL;
    char role[96];
    lw_buf rb;
    lw_buf_init(&rb, role, sizeof(role));
    lw_buf_printf(&rb, "was declared to be taken before M%lu (LOCKWATCH_ORDER) here",
                  (unsigned long)held_id);
    lw_lock_snap from, ls;
    lw_finding *f = order_edge_finding(held, held_id, to, modes, o, role, decl, &from, &ls);
    if (!f)
        return NULL;
    /* The writer names the locks after their ids (named_message). */
    lw_finding_message(f, "%s: M%lu acquired while holding M%lu; the program declared with "
                       "LOCKWATCH_ORDER that M%lu is taken before M%lu",
                       lw_finding_kind_title(LW_F_ORDER_VIOLATION), (unsigned long)ls.id,
                       (unsigned long)from.id, (unsigned long)ls.id, (unsigned long)from.id);
    return f;
}

/* A new edge held -> to against the declared order: `to` was declared
 * before `held`, directly or through a path of declarations. */
static lw_finding *order_decl_check(const lw_held *h, lw_lock *to, uint32_t modes,
                                    const lw_edge_origin *o)
{
    uintptr_t to_addr = (uintptr_t)__atomic_load_n(&to->h.k1, __ATOMIC_RELAXED);
    uint32_t decl = 0;
    if (!lw_order_declared(to_addr, h->addr, &decl))
        return NULL;
    return decl_finding(h->lock, h->id, to, modes, o, decl);
}

void lw_order_check_declared(uintptr_t first, uintptr_t second)
{
    lw_lock *a = lw_registry_find(first), *b = lw_registry_find(second);
    uint32_t decl = 0;
    if (!a || !b || !lw_order_declared(first, second, &decl))
        return;
    /* The edge's record is constant once inserted, but the edge goes with
     * either lock's destruction: copied under the graph lock. */
    lw_edge_origin o;
    uint32_t modes = 0;
    uint64_t bid = lw_load_relaxed(&b->id);
    lw_graph_lock();
    lw_edge *e = lw_graph_find_edge(bid, lw_load_relaxed(&a->id));
    if (e) {
        o = e->origin;
        modes = lw_load_relaxed(&e->modes);
    }
    lw_graph_unlock();
    if (!e)
        return;
    lw_finding *f = decl_finding(b, bid, a, modes, &o, decl);
    if (f)
        lw_finding_emit(f);
}

/* The acquisition's backtrace, taken once for all the new edges it makes
 * (a thread taking a lock while holding k others may make k). */
typedef struct {
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n;
    uint32_t stack_to;
    bool done;
    uintptr_t pc, cfa;   /* the lock call (cfa 0: unknown) */
    uintptr_t fp;        /* the caller's frame pointer then (lw_tls.fp) */
} acq_unwind;

/* Where t's kept backtraces may be read (acqstack.h): the upper half of a
 * large stack it was created with, up to its thread descriptor (glibc puts
 * it at the stack's top, above every frame); for the main thread, 8 MB
 * below __libc_stack_end (no mapping is placed that close under the main
 * stack).  false when the lock call's frame (cfa) is not in there: another
 * stack (a coroutine's, a signal stack), or one lockwatch knows too little
 * of. */
extern void *__libc_stack_end;
#define LW_MAIN_STACK_SAFE (8u << 20)

static bool acq_bounds(const lw_thread *t, uintptr_t cfa, uintptr_t *lo, uintptr_t *hi)
{
    if (t->stack_safe_lo) {
        *lo = t->stack_safe_lo;
        *hi = (uintptr_t)pthread_self();
    } else {
        *hi = (uintptr_t)__libc_stack_end;
        *lo = *hi > LW_MAIN_STACK_SAFE ? *hi - LW_MAIN_STACK_SAFE : 0;
    }
    return cfa > *lo && cfa < *hi;
}

/* The frames of a walk that are the program's (lockwatch's dropped). */
static unsigned visible_frames(const uintptr_t *pcs, const uintptr_t *sps, unsigned n,
                               uintptr_t *out_pcs, uintptr_t *out_sps)
{
    unsigned m = 0;
    for (unsigned k = 0; k < n; k++)
        if (!lw_stack_hidden(pcs[k])) {
            out_pcs[m] = pcs[k];
            out_sps[m] = sps[k];
            m++;
        }
    return m;
}

/* The acquisition's backtrace: the one this thread made last at the same
 * call site and stack depth when its frames still hold (a lock per entry
 * of a cache forms new edges at every life, from the same few paths), else
 * libunwind's, kept for the next. */
static void acq_backtrace(lw_thread *t, acq_unwind *u)
{
    uintptr_t lo = 0, hi = 0;
    bool bounded = u->cfa && acq_bounds(t, u->cfa, &lo, &hi);
    u->done = true;
    lw_thread_refresh_name(t);   /* a system call: once per acquisition */
    if (bounded && t->acq_stacks) {
        const lw_acq_stack *s = lw_acq_stack_find(t->acq_stacks, lo, hi, u->pc, u->cfa, u->fp);
        if (s) {
            u->n = visible_frames(s->pcs, s->sps, s->n, u->pcs, u->sps);
            u->stack_to = s->stack_id;
            return;
        }
    }
    /* Every frame from the lock call's out, lockwatch's own between the
     * program's (its thread start, its main) included: a kept walk is
     * checked frame by frame. */
    uintptr_t raw_pcs[LW_MAX_FRAMES], raw_sps[LW_MAX_FRAMES];
    unsigned raw = lw_unwind_raw(raw_pcs, raw_sps, LW_MAX_FRAMES), k = 0;
    while (k < raw && lw_stack_hidden(raw_pcs[k]))
        k++;
    unsigned depth = lw_stack_depth();
    u->n = visible_frames(raw_pcs + k, raw_sps + k, raw - k, u->pcs, u->sps);
    u->stack_to = lw_depot_put(u->pcs, u->n < depth ? u->n : depth);
    if (bounded && k < raw && raw_pcs[k] == u->pc && raw_sps[k] == u->cfa) {
        if (!t->acq_stacks)
            t->acq_stacks = lw_arena_alloc(sizeof(lw_acq_stacks));
        lw_acq_stack_keep(t->acq_stacks, lo, hi, u->pc, u->cfa, u->fp, raw_pcs + k,
                          raw_sps + k, raw - k, u->stack_to);
    }
}

static void slow_edge_here(lw_thread *t, unsigned hi, lw_lock *to, uint32_t modes, uint64_t key,
                           uint32_t timed_ms, acq_unwind *u)
{
    lw_held *h = &t->held[hi];
    /* A lock this thread still lists but that is gone (another thread
     * destroyed it or released its memory; its record may serve another
     * lock by now) orders nothing: an edge from its record would belong
     * to that other lock, a phantom. */
    if (LW_UNLIKELY(!held_live(h)))
        return;
    uint64_t gates[LW_MAX_GATES];
    unsigned ng = 0;
    for (unsigned j = 0; j < t->nheld && ng < LW_MAX_GATES; j++) {
        const lw_held *o = &t->held[j];
        if (j != hi && o->id != to->id && o->mode == LW_MODE_WRITE)
            gates[ng++] = o->id;
    }

    /* Backtraces before the graph lock: unwinding takes libunwind's locks. */
    if (!u->done)
        acq_backtrace(t, u);
    const uintptr_t *pcs = u->pcs, *sps = u->sps;
    unsigned n = u->n;
    lw_edge_origin o;
    memset(&o, 0, sizeof(o));
    o.stack_to = u->stack_to;
    o.stack_from = lw_held_stack(t, hi, pcs, sps, n);
    /* Taken through a helper that has returned: more edges from this site
     * are likely forming (new locks on the same path), and only a capture
     * at the acquisition shows their callers. */
    if (lw_held_caller_frame(h->pc, h->cfa, pcs, sps, n) < 0)
        lw_site_refill(t, h->pc);
    o.thread = t->num;
    o.thread_stack = t->create_stack;
    o.tid = t->tid;
    o.parent = t->parent;
    o.created_seen = t->created_seen;
    o.timed_ms = timed_ms;
    /* Only the exit graph of JSON output needs it (two dladdr calls). */
    if (lw_opt.format == LW_FORMAT_JSON)
        o.class_sig = lw_mix64(lock_class(h->lock) * 3 + lock_class(to));
    memcpy(o.thread_name, t->name, sizeof(o.thread_name));

    /* Before the graph lock: a lock's key takes the symbol tables' lock. */
    lw_finding *violation = LW_UNLIKELY(lw_order_active()) ? order_check(h, to, modes, &o) : NULL;
    if (!violation && LW_UNLIKELY(lw_order_declared_any()))
        violation = order_decl_check(h, to, modes, &o);

    lw_cycle cyc;
    lw_edge *e = NULL;
    lw_finding *f = NULL;

    lw_graph_lock();
    enum lw_graph_result r = lw_graph_add_edge(h->lock, to, modes, gates, ng, &o, &e, &cyc);
    if (r == LW_EDGE_CYCLE && cyc.valid && lw_first_time(lw_cycle_signature(&cyc)))
        f = cycle_finding(&cyc);
    else if (r == LW_EDGE_NOMEM) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: out of memory for the lock-order graph; "
                     "some orders are not tracked\n");
    }
    lw_graph_unlock();

    if (e) {
        lw_edge_cache_ent *c = &t->cache[cache_slot(h->id, key)];
        c->from = h->id;
        c->key = key;
        c->e = e;
    }
    lw_finding_emit(violation);
    lw_finding_emit(f);
}

/* The tag of an edge in lw_lock.in_known (modes below it): both ids, so a
 * word written for an earlier lock in the same node never matches. */
static inline uint64_t known_in_tag(uint64_t from_id, uint64_t to_id)
{
    return (from_id ^ (to_id << 29) ^ (to_id >> 35)) << 4;
}

/* Does the edge from held entry i to `to` need the slow path (unknown, of
 * a new mode, or its gates not all held now)?  m and key: its modes and
 * cache key. */
static inline bool edge_slow(lw_thread *t, unsigned i, lw_lock *to, unsigned mode,
                             uint32_t *m, uint64_t *key)
{
    const lw_held *h = &t->held[i];
    *m = edge_modes(h->mode, mode);
    *key = (to->id << 4) | *m;
    lw_edge_cache_ent *c = &t->cache[cache_slot(h->id, *key)];
    lw_edge *e;
    if (LW_LIKELY(c->from == h->id && c->key == *key)) {
        e = c->e;
    } else {
        uint64_t tag = known_in_tag(h->id, to->id);
        for (unsigned k = 0; k < LW_IN_KNOWN; k++) {
            uint64_t w = lw_load_relaxed(&to->in_known[k]);
            if ((w & ~(uint64_t)0xf) == tag && (w & *m) == *m)
                return false;   /* known, no gates */
        }
        e = lw_graph_find_edge(h->id, to->id);
        if (!e)
            return true;
        uint32_t em = lw_load_relaxed(&e->modes);
        if ((em & *m) != *m)
            return true;
        c->from = h->id;
        c->key = *key;
        c->e = e;
        if (lw_load_acquire(&e->ngates) == 0)
            lw_store_relaxed(&to->in_known[h->id % LW_IN_KNOWN], tag | (em & 0xf));
    }
    /* acquire: pairs with the release that shrank the gate set */
    unsigned ng = lw_load_acquire(&e->ngates);
    return ng != 0 && !gates_held(t, e, ng, i);
}

struct slow_edges_args {
    lw_thread *t;
    unsigned from;
    lw_lock *to;
    unsigned mode;
    uint32_t timed_ms;
    uintptr_t pc, cfa;
};

/* Held entries from a->from on: each edge to a->to that needs it takes the
 * slow path, with one backtrace for all. */
static void slow_edges_side(void *p)
{
    struct slow_edges_args *a = p;
    lw_thread *t = a->t;
    acq_unwind u;
    u.done = false;
    u.pc = a->pc;
    u.cfa = a->cfa;
    u.fp = lw_tls.fp;
    for (unsigned i = a->from; i < t->nheld; i++) {
        uint32_t m;
        uint64_t key;
        if (t->held[i].id != a->to->id && edge_slow(t, i, a->to, a->mode, &m, &key))
            slow_edge_here(t, i, a->to, m, key, a->timed_ms, &u);
    }
}

/* New edges: their backtraces, the graph, a report (several KB of stack). */
static LW_NOINLINE void slow_edges(lw_thread *t, unsigned from, lw_lock *to, unsigned mode,
                                   uint32_t timed_ms, uintptr_t pc, uintptr_t cfa)
{
    struct slow_edges_args a = { t, from, to, mode, timed_ms, pc, cfa };
    lw_side_call(slow_edges_side, &a);
}

/* Returns true when every edge was known already (no slow path taken). */
static inline bool add_edges(lw_thread *t, lw_lock *to, unsigned mode, uint32_t timed_ms,
                             uintptr_t pc, uintptr_t cfa)
{
    unsigned n = t->nheld;
    for (unsigned i = 0; i < n; i++) {
        uint32_t m;
        uint64_t key;
        if (t->held[i].id != to->id && edge_slow(t, i, to, mode, &m, &key)) {
            slow_edges(t, i, to, mode, timed_ms, pc, cfa);   /* this one and the rest */
            return false;
        }
    }
    return true;
}

/* Set once by the interposition layer, before the core is ready. */
bool (*lw_relock_stale)(lw_thread *t, lw_lock *l);

unsigned lw_before_acquire_slow(lw_thread *t, lw_lock *l, unsigned mode, unsigned how,
                                uintptr_t pc, uintptr_t cfa, const char *call)
{
    /* One pass: is l held, and the held set's signature (an order-free
     * combination of (id, mode) of every entry). */
    uint64_t sig;
    if (LW_UNLIKELY(lw_held_sig(t, l, &sig))) {
        /* Re-acquiring a lock this thread holds cannot wait on anybody
         * else: no edges; whether it is legal is the relock rule's
         * business, once the lock object agrees it is held. */
        if (call && lw_relock_stale && lw_relock_stale(t, l))
            return LW_PRE_STALE;
        return LW_ACQ_KIND(how) != LW_ACQ_TRY && call && lw_rule_relock(t, l, mode, pc, call)
                   ? LW_PRE_RELOCKED
                   : LW_PRE_GO;
    }
    t->not_held = l;   /* lets the post-event skip the same search */
    if (how != LW_ACQ_BLOCKING && LW_ACQ_KIND(how) != LW_ACQ_TIMED_LONG)
        return LW_PRE_GO;
    uint64_t key = lw_sig_key(l->id, mode);
    lw_sig_cache_ent *c = &t->sig_cache[lw_sig_slot(sig, key)];
    if (LW_LIKELY(lw_sig_hit(c, t, key)))
        return LW_PRE_GO;
    if (add_edges(t, l, mode, LW_ACQ_TIMEOUT_MS(how), pc, cfa))
        lw_sig_fill(c, t, key);
    return LW_PRE_GO;
}

/* ---- acquisition sites (lw_core.h) ---- */

#define SITE_TAG(pc) ((uint64_t)(pc) << 8)
#define SITE_STATE   0xffu   /* LW_SITE_HELPER | captures left */

/* Held entry i (being filled, not yet published) gets what shows its
 * acquisition's stack later: called from inside the lock wrapper, where
 * the helper's frames are still on the stack.
 *  - auto: a copy of the 16 stack words above the lock call's stack
 *    pointer (about 10 ns, no lock, no libunwind): where the helper frames
 *    kept their return addresses (lw_stack_of_held_window reads them back
 *    against the stack of the edge; framed 2).
 *  - full: libunwind's fast trace of the whole stack (framed 1); the
 *    guard makes libunwind's own lock calls (and a signal handler's
 *    meanwhile) pass through. */
static LW_NOINLINE void capture(lw_thread *t, unsigned i, uintptr_t pc)
{
    lw_held *h = &t->held[i];
    bool full = lw_opt.held_stacks == LW_HELD_STACKS_FULL;
    if (i >= LW_HELD_FULL || (!full && t->site_allow == 0))
        return;
    if (!full)
        t->site_allow--;   /* full captures every acquisition, unbounded */
    t->site_captures++;
    unsigned n;
    if (full) {
        int g = t->guard;
        t->guard = 1;
        lw_compiler_barrier();
        n = lw_unwind_pcs(t->held_frames[i], LW_HELD_FRAMES);
        lw_compiler_barrier();
        t->guard = g;
        h->framed = n != 0 && t->held_frames[i][0] == pc ? 1 : 0;
    } else {
        n = lw_held_window(h->cfa, t->held_frames[i], LW_HELD_FRAMES);
        h->framed = n != 0 ? 2 : 0;
    }
    t->held_nframes[i] = (uint8_t)n;
}

void lw_site_miss(lw_thread *t, unsigned i, uintptr_t pc, bool new_lock)
{
    uint64_t *set = &t->sites[2 * lw_site_set(pc)];
    uint64_t tag = SITE_TAG(pc), w0 = set[0], w1 = set[1];
    if (LW_UNLIKELY(lw_opt.held_stacks != LW_HELD_STACKS_AUTO)) {
        if (lw_opt.held_stacks == LW_HELD_STACKS_CALL) {
            set[0] = tag;   /* never: the probe passes from now on */
            return;
        }
        capture(t, i, pc);   /* full: every acquisition, no table */
        return;
    }
    unsigned st;   /* LW_SITE_HELPER | captures left */
    if ((w0 & ~(uint64_t)SITE_STATE) == tag) {
        st = (unsigned)(w0 & SITE_STATE);
    } else if ((w1 & ~(uint64_t)SITE_STATE) == tag) {
        st = (unsigned)(w1 & SITE_STATE);
        set[1] = w0;
    } else {   /* new to this thread (or evicted: then young again) */
        st = LW_SITE_YOUNG;
        set[1] = w0;
    }
    unsigned left = st & ~LW_SITE_HELPER;
    if (left) {
        st--;
        capture(t, i, pc);
    } else if ((st & LW_SITE_HELPER) && new_lock) {
        capture(t, i, pc);
    }
    set[0] = tag | st;
}

void lw_site_refill(lw_thread *t, uintptr_t pc)
{
    if (!pc)
        return;
    uint64_t *set = &t->sites[2 * lw_site_set(pc)];
    uint64_t tag = SITE_TAG(pc);
    if ((set[0] & ~(uint64_t)SITE_STATE) != tag)
        set[1] = set[0];   /* evicts the other way, or swaps with it */
    set[0] = tag | LW_SITE_HELPER | LW_SITE_REFILL;
    t->site_allow = t->site_allow + 4 * LW_SITE_REFILL > LW_SITE_ALLOW
                        ? LW_SITE_ALLOW
                        : t->site_allow + 4 * LW_SITE_REFILL;
}

uint32_t lw_held_stack(const lw_thread *t, unsigned i, const uintptr_t *pcs,
                       const uintptr_t *sps, unsigned n)
{
    const lw_held *h = &t->held[i];
    if (h->framed == 2 && i < LW_HELD_FULL)
        return lw_stack_of_held_window(h->pc, h->cfa, t->held_frames[i], t->held_nframes[i],
                                       pcs, sps, n);
    if (h->framed == 1 && i < LW_HELD_FULL && t->held_nframes[i] && t->held_frames[i][0] == h->pc) {
        unsigned depth = lw_stack_depth(), k = t->held_nframes[i];
        return lw_depot_put(t->held_frames[i], k < depth ? k : depth);
    }
    if (pcs)
        return lw_stack_of_held(h->pc, h->cfa, pcs, sps, n);
    return h->pc ? lw_depot_put(&h->pc, 1) : 0;
}

void lw_after_acquire_slow(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc, uintptr_t cfa)
{
    /* A signal handler between the pre- and post-event would have reset
     * the hint with its own lock: then search. */
    lw_held *h = t->not_held == l ? NULL : lw_held_find(t, l);
    t->not_held = NULL;
    if (h) {
        h->count++;
        return;
    }
    lw_held_push(t, l, mode, pc, cfa);
}

/* ---- the run's graph, at exit ----
 * The graph at exit has lost the edges of every lock destroyed before
 * (no edge survives its lock), yet a team's order file wants them: an
 * edge about to be removed is kept here first, one per class pair
 * (lw_edge_origin.class_sig), up to LW_GRAPH_REC_EDGES.  All of it under
 * the graph lock. */

typedef struct {
    lw_lock_snap from, to;
    lw_gedge ge;              /* from, to unused */
} kept_edge;

#define LW_KEPT_SLOTS (4 * LW_GRAPH_REC_EDGES)   /* class-pair set, power of 2 */
static kept_edge *kept;            /* LW_GRAPH_REC_EDGES of them */
static unsigned nkept;
static bool kept_full;             /* an edge could not be kept */
static uint64_t *kept_sigs;        /* open addressing, 0 = empty */
static unsigned nkept_sigs;        /* at most half the slots: probes stay short */

/* Adds sig to the set of class pairs: 1 when new, 0 when it was there, -1
 * when the set is full (or cannot be had) and cannot tell. */
static int class_pair_add(uint64_t sig)
{
    if (!kept_sigs && !(kept_sigs = lw_arena_alloc(LW_KEPT_SLOTS * sizeof(*kept_sigs))))
        return -1;
    sig |= 1;
    unsigned i = (unsigned)sig & (LW_KEPT_SLOTS - 1);
    for (; kept_sigs[i]; i = (i + 1) & (LW_KEPT_SLOTS - 1))
        if (kept_sigs[i] == sig)
            return 0;
    if (nkept_sigs == LW_KEPT_SLOTS / 2)
        return -1;
    kept_sigs[i] = sig;
    nkept_sigs++;
    return 1;
}

static void edge_fields(const lw_edge *e, lw_gedge *ge)
{
    uint32_t m = lw_load_relaxed(&e->modes);
    ge->from_mode = (m & LW_EM_FROM_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
    ge->to_mode = (m & LW_EM_TO_WRITE) ? LW_MODE_WRITE : LW_MODE_READ;
    ge->thread = e->origin.thread;
    ge->stack = e->origin.stack_to;
    ge->held_stack = e->origin.stack_from;
    ge->cyclic = e->cyclic;
}

/* The graph's removal hook (graph_lock -> names_lock, as arena.h allows). */
static void keep_removed_edge(lw_edge *e)
{
    int r = class_pair_add(e->origin.class_sig);
    if (r == 0)
        return;   /* an edge of its pair of classes is kept already */
    if (r < 0 || nkept == LW_GRAPH_REC_EDGES) {
        kept_full = true;
        return;
    }
    if (!kept && !(kept = lw_arena_alloc(LW_GRAPH_REC_EDGES * sizeof(*kept)))) {
        kept_full = true;
        return;
    }
    kept_edge *k = &kept[nkept++];
    lw_snap_lock(e->from, &k->from);
    lw_snap_lock(e->to, &k->to);
    edge_fields(e, &k->ge);
}

/* Index of lock l in g (added if new), or -1 when g is full. */
static int graph_rec_lock(lw_graph_rec *g, const lw_lock_snap *l)
{
    for (unsigned i = 0; i < g->nlocks; i++)
        if (g->locks[i].id == l->id)
            return (int)i;
    if (g->nlocks == LW_GRAPH_REC_LOCKS)
        return -1;
    g->locks[g->nlocks] = *l;
    return (int)g->nlocks++;
}

static bool graph_rec_add(lw_graph_rec *g, const lw_lock_snap *a, const lw_lock_snap *b,
                          const lw_gedge *fields)
{
    int from, to;
    if (g->nedges == LW_GRAPH_REC_EDGES || (from = graph_rec_lock(g, a)) < 0 ||
        (to = graph_rec_lock(g, b)) < 0) {
        g->truncated = true;
        return false;
    }
    lw_gedge *ge = &g->edges[g->nedges++];
    *ge = *fields;
    ge->from = (uint16_t)from;
    ge->to = (uint16_t)to;
    return true;
}

/* Under the graph lock: a live edge, unless its class pair is in already. */
static bool graph_rec_edge(lw_edge *e, void *ctx)
{
    lw_graph_rec *g = ctx;
    if (class_pair_add(e->origin.class_sig) == 0)
        return true;   /* its pair of classes is in already */
    lw_lock_snap a, b;
    lw_gedge ge;
    lw_snap_lock(e->from, &a);
    lw_snap_lock(e->to, &b);
    edge_fields(e, &ge);
    return graph_rec_add(g, &a, &b, &ge);
}

void lw_core_write_graph(void)
{
    /* Once per process: a fork child has a pid of its own and its own
     * copy of the graph (the parent's edges and its own). */
    static int written_by;
    int pid = (int)lw_syscall(SYS_getpid);
    if (!lw_load_relaxed(&lw_core_ready) || lw_opt.format != LW_FORMAT_JSON ||
        lw_xchg_acq_rel(&written_by, pid) == pid)
        return;
    static lw_graph_rec *g;
    if (!g && !(g = lw_arena_map(sizeof(*g))))
        return;
    g->nlocks = g->nedges = 0;
    g->truncated = false;
    /* Snapshot under the graph lock; stacks are symbolised after it. */
    lw_graph_lock();
    if (lw_graph_edges() == 0 && nkept == 0) {
        lw_graph_unlock();   /* nothing to walk (1M buckets) or to keep */
        goto write;
    }
    for (unsigned i = 0; i < nkept; i++)
        if (!graph_rec_add(g, &kept[i].from, &kept[i].to, &kept[i].ge))
            break;
    g->truncated |= kept_full;
    if (!lw_graph_each_edge(graph_rec_edge, g))
        g->truncated = true;
    lw_graph_unlock();
write:
    for (unsigned i = 0; i < g->nlocks; i++) {
        lw_lock_snap *l = &g->locks[i];
        if (!l->first_stack && l->first_pc)
            l->first_stack = lw_depot_put(&l->first_pc, 1);
    }
    /* Source lines only if a report has started the symbolizer already:
     * a clean run stays a run that never starts it (the graph's frames
     * then have ELF names and module+offset, which is what keys use). */
    lw_symbolizer_may_start(false);
    lw_report_graph(g);
    lw_symbolizer_may_start(true);
}

/* ---- fork ----
 * Every internal lock of the core, taken in the order of the list in
 * arena.h (which this follows, and intercept.c completes with the
 * interposers' pool and the arena lock), so that no other thread is inside
 * one when the process is copied. */

void lw_core_atfork_prepare(void)
{
    lw_unwind_gate_close();         /* nobody inside libunwind */
    lw_graph_atfork_prepare();      /* graph_lock */
    lw_deadlock_atfork_prepare();   /* wait_lock, wait_pool */
    lw_rules_atfork_prepare();      /* pending_lock */
    lw_sink_atfork_prepare();       /* seen_lock, finding pool */
    lw_report_atfork_prepare();     /* report_lock, ws_pool */
    lw_stacks_atfork_prepare();     /* depot_lock, sym_lock */
    lw_annot_atfork_prepare();      /* annot_lock */
    lw_mutex_lock(&names_lock);
}

void lw_core_atfork_parent(void)
{
    lw_mutex_unlock(&names_lock);
    lw_annot_atfork_parent();
    lw_stacks_atfork_parent();
    lw_report_atfork_parent();
    lw_sink_atfork_parent();
    lw_rules_atfork_parent();
    lw_deadlock_atfork_parent();
    lw_graph_atfork_parent();
    lw_unwind_gate_open();
}

/* Each part resets its locks first, then forgets what belonged to the
 * threads that are not in the child.  The sink comes before the rules,
 * whose pending findings go back to its pool. */
void lw_core_atfork_child(void)
{
    lw_unwind_gate_reset();
    lw_mutex_reset(&names_lock);
    lw_annot_atfork_child();
    lw_report_atfork_child();
    lw_sink_atfork_child();
    lw_stacks_atfork_child();
    lw_graph_atfork_child();
    lw_registry_atfork_child();
    lw_deadlock_atfork_child();
    lw_rules_atfork_child();
    lw_thread_atfork_child();
}
