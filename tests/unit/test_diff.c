/*
 * test_diff.c: differential test of the core against a plain reference
 * model.  Random sequences of lock, unlock, trylock, timed lock, rwlock
 * read and write acquisitions, destroys, and frees of the memory of a lock
 * the freeing thread holds (lw_memory_released) over several simulated
 * threads go to the core (through lw_core.h, as the interposers send them) and to
 * a model written here: a matrix of edges with their modes and gate sets,
 * and a DFS over simple paths for cycles.
 *
 * After every step: the core's edges (lw_graph_find_edge), their modes and
 * gates equal the model's; every inversion the core reported in the step is
 * a cycle of the model's graph through an edge the step changed, valid (no
 * gate common to all its edges, no rwlock only read on both sides) and not
 * reported before; and for each changed edge through which the model finds
 * a valid cycle not yet reported, the core reported one.
 *
 * LW_DIFF_SEEDS=n (default 1000) seeds from LW_DIFF_FIRST (default 1);
 * LW_DIFF_SEED=s replays one seed, printing each step.  A disagreement
 * prints the seed and the step.
 */
#include "core_harness.h"

#include "unit.h"
#include <stdarg.h>
#include <stdio.h>

#define NT 3              /* simulated threads */
#define NL 6              /* lock slots: 0-3 mutexes, 4-5 rwlocks */
#define NRW 2
#define MAX_DEPTH 4       /* held at once: gate sets stay within LW_MAX_GATES */
#define STEPS 160

typedef struct {
    bool on;
    unsigned modes;       /* LW_EM_* */
    unsigned ngates;      /* gate locks, by id: a destroyed gate still gated */
    uint64_t gates[LW_MAX_GATES];   /* the acquisitions made under it */
} m_edge;

static bool gate_in(const m_edge *e, uint64_t id)
{
    for (unsigned i = 0; i < e->ngates; i++)
        if (e->gates[i] == id)
            return true;
    return false;
}

typedef struct {
    unsigned slot, mode;
} m_held;

typedef struct {
    uint64_t rng;
    unsigned seed, step;
    bool verbose;
    char why[512];
    /* the core side */
    lw_lock *lock[NL];
    unsigned gen[NL];     /* incarnation: the lock's address changes with it */
    unsigned base;        /* address slots of this seed */
    /* the model */
    m_edge e[NL][NL];
    m_held held[NT][MAX_DEPTH];
    unsigned nheld[NT];
    /* cycles reported so far, as edge sets over (incarnation-stamped) ids */
    unsigned nrep;
    uint64_t rep[256];
} world;

static uint64_t rnd(world *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static unsigned below(world *w, unsigned n)
{
    return (unsigned)(rnd(w) % n);
}

static bool is_rw(unsigned slot)
{
    return slot >= NL - NRW;
}

static uintptr_t slot_addr(const world *w, unsigned slot)
{
    return H_ADDR(w->base + slot * 64 + w->gen[slot]);
}

static lw_lock *core_lock(world *w, unsigned slot)
{
    if (!w->lock[slot])
        w->lock[slot] = lw_lock_lookup(slot_addr(w, slot),
                                       is_rw(slot) ? LW_KIND_RWLOCK : LW_KIND_MUTEX, 0, H_PC(slot));
    return w->lock[slot];
}

static unsigned em(unsigned from_mode, unsigned to_mode)
{
    return (from_mode == LW_MODE_READ ? LW_EM_FROM_READ : LW_EM_FROM_WRITE) |
           (to_mode == LW_MODE_READ ? LW_EM_TO_READ : LW_EM_TO_WRITE);
}

/* ---- the model's cycles ---- */

/* A cycle as a set: the sum of mixed (from id, to id) of its edges. */
static uint64_t cyc_key(world *w, const unsigned *path, unsigned n)
{
    uint64_t s = n;
    for (unsigned i = 0; i < n; i++)
        s += lw_mix64(core_lock(w, path[i])->id * 1000003u + core_lock(w, path[(i + 1) % n])->id);
    return s;
}

static bool reported(const world *w, uint64_t key)
{
    for (unsigned i = 0; i < w->nrep; i++)
        if (w->rep[i] == key)
            return true;
    return false;
}

/* The cycle path[0] -> path[1] -> ... -> path[n-1] -> path[0]. */
static bool cyc_valid(const world *w, const unsigned *path, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!w->e[path[i]][path[(i + 1) % n]].on)
            return false;
    const m_edge *e0 = &w->e[path[0]][path[1 % n]];
    for (unsigned g = 0; g < e0->ngates; g++) {
        bool everywhere = true;
        for (unsigned i = 1; i < n && everywhere; i++)
            everywhere = gate_in(&w->e[path[i]][path[(i + 1) % n]], e0->gates[g]);
        if (everywhere)
            return false;
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned node = path[(i + 1) % n];
        const m_edge *in = &w->e[path[i]][node], *out = &w->e[node][path[(i + 2) % n]];
        if (is_rw(node) && !(in->modes & LW_EM_TO_WRITE) && !(out->modes & LW_EM_FROM_WRITE))
            return false;
    }
    return true;
}

/* Is there a valid cycle through edge a->b that was not reported?  Simple
 * paths a -> b -> ... -> x with an edge x -> a, exhaustively (NL is small). */
static bool dfs(world *w, unsigned *path, unsigned n, unsigned used)
{
    unsigned cur = path[n - 1];
    if (w->e[cur][path[0]].on && cyc_valid(w, path, n) && !reported(w, cyc_key(w, path, n))) {
        if (w->verbose) {
            printf("    model: valid new cycle");
            for (unsigned i = 0; i < n; i++) {
                const m_edge *e = &w->e[path[i]][path[(i + 1) % n]];
                printf(" %u->%u(m%#x g%u)", path[i], path[(i + 1) % n], e->modes, e->ngates);
            }
            printf("\n");
        }
        return true;
    }
    for (unsigned nx = 0; nx < NL; nx++) {
        if (!w->e[cur][nx].on || (used & (1u << nx)))
            continue;
        path[n] = nx;
        if (dfs(w, path, n + 1, used | (1u << nx)))
            return true;
    }
    return false;
}

static bool new_valid_cycle(world *w, unsigned a, unsigned b)
{
    unsigned path[NL + 1] = { a, b };
    return a != b && dfs(w, path, 2, (1u << a) | (1u << b));
}

/* ---- checking the core's findings against the model ---- */

static int disagree(world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int disagree(world *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, sizeof(w->why), fmt, ap);
    va_end(ap);
    return 1;
}

static int slot_of_id(world *w, uint64_t id)
{
    for (unsigned s = 0; s < NL; s++)
        if (w->lock[s] && w->lock[s]->id == id)
            return (int)s;
    return -1;
}

static int check_edges(world *w)
{
    for (unsigned a = 0; a < NL; a++)
        for (unsigned b = 0; b < NL; b++) {
            if (a == b)
                continue;
            const m_edge *me = &w->e[a][b];
            lw_edge *ce = lw_graph_find_edge(core_lock(w, a)->id, core_lock(w, b)->id);
            if (!ce != !me->on)
                return disagree(w, "edge %u->%u: core %s, model %s", a, b, ce ? "has it" : "lacks it",
                            me->on ? "has it" : "lacks it");
            if (!ce)
                continue;
            if (ce->modes != me->modes)
                return disagree(w, "edge %u->%u: modes core %#x model %#x", a, b, ce->modes, me->modes);
            bool same = ce->ngates == me->ngates;
            for (unsigned g = 0; g < ce->ngates && same; g++)
                same = gate_in(me, ce->gates[g]);
            if (!same)
                return disagree(w, "edge %u->%u: core has %u gates, model %u (or others)", a, b,
                            ce->ngates, me->ngates);
        }
    return 0;
}

/* A blocking acquisition of `slot` in `mode` by thread t: the model's
 * edge changes, in held order, each with whether a new valid cycle runs
 * through it; then the core's findings of the step must match. */
static int acquire_blocking(world *w, unsigned t, unsigned slot, unsigned mode)
{
    unsigned changed[MAX_DEPTH], nchanged = 0;
    bool expect[MAX_DEPTH];
    unsigned first_finding = h_nfindings;
    for (unsigned i = 0; i < w->nheld[t]; i++) {
        unsigned from = w->held[t][i].slot;
        m_edge now = { .on = true };
        for (unsigned j = 0; j < w->nheld[t] && now.ngates < LW_MAX_GATES; j++)
            if (j != i && w->held[t][j].mode == LW_MODE_WRITE)
                now.gates[now.ngates++] = core_lock(w, w->held[t][j].slot)->id;
        m_edge *e = &w->e[from][slot];
        unsigned m = em(w->held[t][i].mode, mode);
        bool change;
        if (!e->on) {
            *e = now;
            e->modes = m;
            change = true;
        } else {
            unsigned keep = 0;
            for (unsigned g = 0; g < e->ngates; g++)
                if (gate_in(&now, e->gates[g]))
                    e->gates[keep++] = e->gates[g];
            change = (e->modes | m) != e->modes || keep != e->ngates;
            e->modes |= m;
            e->ngates = keep;
        }
        if (change) {
            changed[nchanged] = from;
            expect[nchanged] = new_valid_cycle(w, from, slot);
            nchanged++;
        }
    }
    /* The core. */
    lw_thread *ct = h_thread(t);
    lw_lock *l = core_lock(w, slot);
    if (lw_before_acquire(ct, l, mode, LW_ACQ_BLOCKING, H_PC(100 + slot), 0, "lock"))
        return disagree(w, "core refused T%u's acquisition of %u", t, slot);
    lw_after_acquire(ct, l, mode, H_PC(100 + slot), 0);
    w->held[t][w->nheld[t]++] = (m_held){ slot, mode };

    for (unsigned f = first_finding; f < h_nfindings; f++) {
        const h_finding *hf = &h_findings[f];
        if (w->verbose) {
            printf("    core: inversion");
            for (unsigned i = 0; i < hf->nedges; i++)
                printf(" %d->%d", slot_of_id(w, hf->from[i]), slot_of_id(w, hf->to[i]));
            printf("\n");
        }
        if (hf->kind != LW_F_INVERSION)
            return disagree(w, "unexpected finding kind %d", hf->kind);
        unsigned path[LW_MAX_CYCLE];
        bool through = false;
        for (unsigned i = 0; i < hf->nedges; i++) {
            int a = slot_of_id(w, hf->from[i]), b = slot_of_id(w, hf->to[i]);
            if (a < 0 || b < 0)
                return disagree(w, "reported cycle names a dead lock");
            if (i > 0 && (unsigned)a != path[i])
                return disagree(w, "reported cycle is not a path");
            path[i] = (unsigned)a;
            if (i + 1 < hf->nedges)
                path[i + 1] = (unsigned)b;
            else if ((unsigned)b != path[0])
                return disagree(w, "reported cycle does not close");
            for (unsigned c = 0; c < nchanged; c++)
                through |= (unsigned)a == changed[c] && (unsigned)b == slot;
        }
        if (!through)
            return disagree(w, "reported cycle runs through no edge this step changed");
        if (!cyc_valid(w, path, hf->nedges))
            return disagree(w, "reported cycle is not valid in the model");
        uint64_t key = cyc_key(w, path, hf->nedges);
        if (reported(w, key))
            return disagree(w, "cycle reported twice");
        if (w->nrep < LW_ARRAY_SIZE(w->rep))
            w->rep[w->nrep++] = key;
    }
    /* Match the core's inversions, in order, to the expected edges. */
    unsigned k = first_finding;
    for (unsigned c = 0; c < nchanged; c++) {
        if (!expect[c])
            continue;
        while (k < h_nfindings && h_findings[k].kind != LW_F_INVERSION)
            k++;
        if (k == h_nfindings)
            return disagree(w, "T%u acquiring %u: edge %u->%u closes a valid new cycle; core "
                        "reported none", t, slot, changed[c], slot);
        k++;
    }
    return 0;
}

static bool held_by(const world *w, unsigned t, unsigned slot)
{
    for (unsigned i = 0; i < w->nheld[t]; i++)
        if (w->held[t][i].slot == slot)
            return true;
    return false;
}

/* Would an acquisition of slot in mode by t be granted now? */
static bool grantable(const world *w, unsigned t, unsigned slot, unsigned mode)
{
    for (unsigned o = 0; o < NT; o++) {
        if (o == t)
            continue;
        for (unsigned i = 0; i < w->nheld[o]; i++)
            if (w->held[o][i].slot == slot &&
                (mode == LW_MODE_WRITE || w->held[o][i].mode == LW_MODE_WRITE))
                return false;
    }
    return true;
}

static void release(world *w, unsigned t, unsigned idx)
{
    unsigned slot = w->held[t][idx].slot;
    lw_release(h_thread(t), core_lock(w, slot));
    for (unsigned j = idx + 1; j < w->nheld[t]; j++)
        w->held[t][j - 1] = w->held[t][j];
    w->nheld[t]--;
}

static int step(world *w)
{
    unsigned t = below(w, NT);
    unsigned r = below(w, 100);
    if (w->nheld[t] > 0 && (r < 35 || w->nheld[t] == MAX_DEPTH)) {
        /* Mostly the innermost lock; sometimes another. */
        unsigned idx = below(w, 4) ? w->nheld[t] - 1 : below(w, w->nheld[t]);
        if (w->verbose)
            printf("  step %u: T%u unlocks %u\n", w->step, t, w->held[t][idx].slot);
        release(w, t, idx);
        return 0;
    }
    if (w->nheld[t] > 0 && r >= 38 && r < 40) {
        /* Free the memory of a lock t holds (and no other thread does):
         * the lock is gone, t's entries with it; its next use is a new
         * lock. */
        unsigned slot = w->held[t][below(w, w->nheld[t])].slot;
        for (unsigned o = 0; o < NT; o++)
            if (o != t && held_by(w, o, slot))
                return 0;
        if (w->verbose)
            printf("  step %u: T%u frees %u, held\n", w->step, t, slot);
        uintptr_t a = slot_addr(w, slot);
        if (lw_memory_released(h_thread(t), a, a + 64, "free", H_PC(300 + slot)) != 1)
            return disagree(w, "T%u freeing held %u: the core found no held lock there", t, slot);
        for (unsigned i = w->nheld[t]; i-- > 0;)
            if (w->held[t][i].slot == slot) {
                for (unsigned j = i + 1; j < w->nheld[t]; j++)
                    w->held[t][j - 1] = w->held[t][j];
                w->nheld[t]--;
            }
        if (h_thread(t)->nheld != w->nheld[t])
            return disagree(w, "T%u holds %u locks in the core, %u in the model", t,
                            h_thread(t)->nheld, w->nheld[t]);
        for (unsigned x = 0; x < NL; x++) {
            memset(&w->e[slot][x], 0, sizeof(m_edge));
            memset(&w->e[x][slot], 0, sizeof(m_edge));
        }
        w->gen[slot]++;
        w->lock[slot] = NULL;
        return 0;
    }
    if (r < 38) {
        /* Destroy a lock nobody holds; its next use is a new lock. */
        unsigned slot = below(w, NL);
        for (unsigned o = 0; o < NT; o++)
            if (held_by(w, o, slot))
                return 0;
        if (w->verbose)
            printf("  step %u: destroy %u\n", w->step, slot);
        lw_lock_destroyed(slot_addr(w, slot));
        for (unsigned x = 0; x < NL; x++) {
            memset(&w->e[slot][x], 0, sizeof(m_edge));
            memset(&w->e[x][slot], 0, sizeof(m_edge));
        }
        w->gen[slot]++;
        w->lock[slot] = NULL;
        return 0;
    }
    unsigned slot = below(w, NL);
    if (held_by(w, t, slot))
        return 0;   /* relocks are the relock rule's business */
    unsigned mode = is_rw(slot) && below(w, 2) ? LW_MODE_READ : LW_MODE_WRITE;
    if (!grantable(w, t, slot, mode))
        return 0;
    unsigned how = r < 80 ? LW_ACQ_BLOCKING : r < 90 ? LW_ACQ_TRY : LW_ACQ_TIMED;
    if (w->verbose)
        printf("  step %u: T%u %s %u (%s)\n", w->step, t,
               mode == LW_MODE_READ ? "read-locks" : "locks", slot,
               how == LW_ACQ_BLOCKING ? "blocking" : how == LW_ACQ_TRY ? "try" : "timed");
    if (how == LW_ACQ_BLOCKING)
        return acquire_blocking(w, t, slot, mode);
    /* Try and timed: no edge into the lock; it is held afterwards. */
    lw_thread *ct = h_thread(t);
    lw_lock *l = core_lock(w, slot);
    if (lw_before_acquire(ct, l, mode, how, H_PC(200 + slot), 0, "trylock"))
        return disagree(w, "core refused a trylock");
    lw_after_acquire(ct, l, mode, H_PC(200 + slot), 0);
    w->held[t][w->nheld[t]++] = (m_held){ slot, mode };
    return 0;
}

static world W;

/* Runs one seed; 0 when the core and the model agree throughout. */
static int run_seed(unsigned seed, bool verbose)
{
    world *w = &W;
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    w->rng = lw_mix64(seed) | 1;
    w->verbose = verbose;
    w->base = seed * NL * 64 * 4;
    for (unsigned t = 0; t < NT; t++) {
        lw_thread *ct = h_thread(t);
        uint32_t num = ct->num;
        memset(ct, 0, sizeof(*ct));
        lw_thread_init(ct);
        ct->num = num;
        ct->tid = 1000 + (int)t;
        ct->ready = true;
    }
    h_nfindings = 0;
    int bad = 0;
    for (w->step = 0; w->step < STEPS && !bad; w->step++) {
        /* A thread's caches are hints that can be evicted any time: some
         * steps find them empty, so the shared shortcuts behind them
         * (lw_lock.in_known) answer instead of the edge table. */
        if (below(w, 4) == 0) {
            lw_thread *ct = h_thread(below(w, NT));
            memset(ct->cache, 0, sizeof(ct->cache));
            memset(ct->sig_cache, 0, sizeof(ct->sig_cache));
        }
        bad = step(w);
        if (!bad)
            bad = check_edges(w);
        if (h_nfindings > H_MAX_FINDINGS - 64)
            h_nfindings = 0;
    }
    if (bad && verbose)
        for (unsigned a = 0; a < NL; a++)
            for (unsigned b = 0; b < NL; b++)
                if (w->e[a][b].on)
                    printf("    edge %u->%u modes %#x gates %u\n", a, b, w->e[a][b].modes,
                           w->e[a][b].ngates);
    if (bad)
        printf("test_diff: seed %u disagrees at step %u: %s (replay: LW_DIFF_SEED=%u)\n", seed,
               w->step - 1, w->why, seed);
    /* Leave no lock behind: the next seed's locks are new ones anyway. */
    for (unsigned t = 0; t < NT; t++)
        while (w->nheld[t])
            release(w, t, w->nheld[t] - 1);
    for (unsigned s = 0; s < NL; s++)
        if (w->lock[s])
            lw_lock_destroyed(slot_addr(w, s));
    return bad;
}

static unsigned env_uint(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

START_TEST(differential)
{
    const char *one = getenv("LW_DIFF_SEED");
    if (one && *one) {
        ck_assert_int_eq(run_seed((unsigned)strtoul(one, NULL, 10), true), 0);
        return;
    }
    unsigned n = env_uint("LW_DIFF_SEEDS", 1000), first = env_uint("LW_DIFF_FIRST", 1);
    unsigned bad = 0, first_bad = 0;
    for (unsigned s = first; s < first + n; s++)
        if (run_seed(s, false) && bad++ == 0)
            first_bad = s;
    printf("test_diff: %u seeds from %u, %u disagreed\n", n, first, bad);
    ck_assert_msg(bad == 0, "%u of %u seeds disagree; first: LW_DIFF_SEED=%u", bad, n, first_bad);
}
END_TEST

static Suite *diff_suite(void)
{
    Suite *s = suite_create("diff");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, h_setup, NULL);
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, differential);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(diff_suite)
