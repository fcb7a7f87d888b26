/*
 * core_harness.h: drives lockwatch's core the way the interposers do, with
 * simulated threads and locks at made-up addresses, and captures the
 * findings it emits.  No preloading: the suites link liblwcore.la only.
 *
 * A simulated thread is an lw_thread of its own (the core takes the thread
 * as a parameter); all simulated threads run on the test's one real thread,
 * so events interleave exactly as the test orders them.
 */
#ifndef LW_CORE_HARNESS_H
#define LW_CORE_HARNESS_H

#include "finding.h"
#include "lw_core.h"
#include "graph.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define H_MAX_THREADS 8
#define H_MAX_FINDINGS 4096
#define H_ADDR(i) ((uintptr_t)0x30000000u + (uintptr_t)(i)*64u)
#define H_PC(i) ((uintptr_t)0x400000u + (uintptr_t)(i)*16u)

/* What a test asserts on: a finding's kind and its cycle (lock ids). */
typedef struct {
    enum lw_finding_kind kind;
    enum lw_confidence confidence;
    bool first;
    unsigned nedges;
    uint64_t from[LW_MAX_CYCLE], to[LW_MAX_CYCLE];
    uint32_t thread[LW_MAX_CYCLE];
    unsigned nthreads;
    unsigned nlocks;
    uint64_t fingerprint;
} h_finding;

static h_finding h_findings[H_MAX_FINDINGS];
static unsigned h_nfindings;
static lw_thread *h_threads;   /* H_MAX_THREADS of them */

static inline void h_hook(const lw_finding *f, bool first, void *ctx)
{
    (void)ctx;
    if (h_nfindings == H_MAX_FINDINGS)
        return;
    h_finding *c = &h_findings[h_nfindings++];
    memset(c, 0, sizeof(*c));
    c->kind = f->kind;
    c->confidence = f->confidence;
    c->first = first;
    c->nedges = f->nedges;
    c->nthreads = f->nthreads;
    c->nlocks = f->nlocks;
    c->fingerprint = f->fingerprint;
    for (unsigned i = 0; i < f->nedges; i++) {
        c->from[i] = f->locks[f->edges[i].from].lock.id;
        c->to[i] = f->locks[f->edges[i].to].lock.id;
        c->thread[i] = f->threads[f->edges[i].thread].num;
    }
}

/* Once per process (Check forks each test; the core's state is the
 * parent's copy, fresh for every test since setup runs in the child). */
static inline void h_setup_env(char **envp)
{
    ck_assert(lw_core_init(envp, NULL));
    h_threads = calloc(H_MAX_THREADS, sizeof(lw_thread));
    ck_assert(h_threads != NULL);
    for (unsigned i = 0; i < H_MAX_THREADS; i++) {
        lw_thread_init(&h_threads[i]);
        h_threads[i].num = i + 1;
        h_threads[i].tid = 1000 + (int)i;
        h_threads[i].ready = true;
    }
    h_nfindings = 0;
    lw_sink_set_hook(h_hook, NULL, false);
}

static inline void h_setup(void)
{
    static char *envp[] = { "LOCKWATCH_STACK_DEPTH=4", NULL };
    h_setup_env(envp);
}

static inline lw_thread *h_thread(unsigned i)
{
    return &h_threads[i];
}

static inline lw_lock *h_lock_kind(unsigned i, enum lw_lock_kind kind)
{
    lw_lock *l = lw_lock_lookup(H_ADDR(i), kind, 0, H_PC(i));
    ck_assert(l != NULL);
    return l;
}

static inline lw_lock *h_lock(unsigned i)
{
    return h_lock_kind(i, LW_KIND_MUTEX);
}

/* An acquisition as the interposers make it: pre-event, (the real call
 * succeeds), post-event.  Returns false when the pre-event refused it. */
static inline bool h_acquire_at(lw_thread *t, lw_lock *l, unsigned mode, unsigned how, uintptr_t pc)
{
    if (lw_before_acquire(t, l, mode, how, pc, 0, "h_acquire"))
        return false;
    lw_after_acquire(t, l, mode, pc, 0);
    return true;
}

/* The call site is the test's line (a label's address): the same line in
 * a loop is the same code, as in a real program. */
#define H_HERE() ({ __label__ here_; here_: (uintptr_t)&&here_; })
#define h_acquire(t, l, mode, how) h_acquire_at((t), (l), (mode), (how), H_HERE())
#define h_lock_m(t, l) h_acquire_at((t), (l), LW_MODE_WRITE, LW_ACQ_BLOCKING, H_HERE())

static inline void h_unlock(lw_thread *t, lw_lock *l)
{
    lw_release(t, l);
}

/* t takes x, then y while holding x, and releases both (a nest of two, at
 * the call site of the caller's line). */
#define h_nest2(t, x, y)                                                                           \
    do {                                                                                           \
        h_lock_m((t), (x));                                                                        \
        h_lock_m((t), (y));                                                                        \
        h_unlock((t), (y));                                                                        \
        h_unlock((t), (x));                                                                        \
    } while (0)

/* Findings of a kind (first or not) so far. */
static inline unsigned h_count(enum lw_finding_kind kind, bool first_only)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h_nfindings; i++)
        n += h_findings[i].kind == kind && (!first_only || h_findings[i].first);
    return n;
}

#endif
