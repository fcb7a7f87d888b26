/*
 * jitter.h: stress runs (LOCKWATCH_JITTER, LOCKWATCH_SEED).  At scheduling
 * points lockwatch already sees (before and after a lock acquisition, after
 * a release, before a blocking call under a lock) a thread may yield or
 * sleep a little, by seeded random decisions, so that repeated runs try the
 * interleavings a quiet scheduler rarely picks (the idea of rr's chaos mode
 * and DataCollider's delays; each thread also draws a fixed bias, so some
 * threads are slowed more than others, a crude form of PCT's priorities).
 *
 * The decisions of each thread come from its own generator, seeded from
 * the run's seed and the thread's lockwatch number: the same seed gives
 * every thread the same sequence of decisions (the interleaving itself
 * still depends on the machine).  With jitter on, every thread takes the
 * slow paths (its gate is closed, thread.h), where the points are; with
 * jitter off nothing of this runs.
 */
#ifndef LW_JITTER_H
#define LW_JITTER_H

#include "lw_base.h"
#include "thread.h"

enum lw_jitter_point {
    LW_JIT_ACQUIRE,           /* before a lock call */
    LW_JIT_ACQUIRED,          /* after a successful one: the lock held */
    LW_JIT_RELEASE,           /* after an unlock */
    LW_JIT_BLOCKING,          /* before a blocking call made under a lock */
};

extern unsigned lw_jitter_level;   /* 0 off; set once at start-up */
extern uint32_t lw_jitter_seed;    /* the seed in use (jitter on) */

/* From lw_core_init, after the options: the level and the seed. */
void lw_jitter_init(void);

/* The decision at one point, from generator *rng: 0 nothing, 1 yield,
 * N > 1 sleep N microseconds.  bias 0-3 (the thread's).  Every kind of
 * point is treated alike (where is for the callers' sake and for a rule
 * that may tell them apart).  Pure: tests. */
uint32_t lw_jitter_decide(uint64_t *rng, unsigned level, enum lw_jitter_point where,
                          unsigned bias);
/* Seeds t's generator and bias for this run's seed (at first use). */
void lw_jitter_seed_thread(lw_thread *t, uint32_t seed);

void lw_jitter_point_slow(lw_thread *t, enum lw_jitter_point where);
static inline void lw_jitter(lw_thread *t, enum lw_jitter_point where)
{
    if (LW_UNLIKELY(lw_jitter_level != 0))
        lw_jitter_point_slow(t, where);
}

#endif
