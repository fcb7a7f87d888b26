/*
 * jitter.c: stress runs (see jitter.h).  Owns: the level and the seed.
 * Must never: call an interposed function (yield and sleep are raw system
 * calls), take a lock, or touch another thread's state.
 */
#include "jitter.h"
#include "lw_sys.h"
#include "lw_atomic.h"
#include "lw_clock.h"
#include "options.h"

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

unsigned lw_jitter_level;
uint32_t lw_jitter_seed;

void lw_jitter_init(void)
{
    lw_jitter_level = (unsigned)lw_opt.jitter;
    if (!lw_jitter_level)
        return;
    uint32_t s = (uint32_t)lw_opt.seed;
    if (s == 0)   /* a fresh seed: time and pid, in 1..2^31-1 */
        s = (uint32_t)(lw_mix64(lw_mono_ns() ^ ((uint64_t)getpid() << 32)) % 2147483646u) + 1;
    lw_jitter_seed = s;
}

static uint64_t next(uint64_t *rng)
{
    /* xorshift64*: small, fast, good enough to pick delays */
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint32_t lw_jitter_decide(uint64_t *rng, unsigned level, enum lw_jitter_point where,
                          unsigned bias)
{
    uint64_t r = next(rng);
    unsigned u = (unsigned)(r % 10000);
    /* Per 10,000 points at level 100: sleeps 1.25-5 % (by the thread's
     * bias), yields 30 %.  Every point alike, also just after an
     * acquisition: a thread stalled while it holds a lock is what opens
     * the windows other threads can fall into (a trylock that fails, a
     * waiter that blocks, a checker that finds the lock busy; measured by
     * bench/rare_paths.py). */
    (void)where;
    unsigned sleep = level * 5 * (1 + bias) / 4;
    unsigned yield = level * 30;
    if (u < sleep)
        return 2 + (uint32_t)((r >> 32) % (level * 20));   /* up to 2 ms at 100 */
    if (u < sleep + yield)
        return 1;
    return 0;
}

void lw_jitter_seed_thread(lw_thread *t, uint32_t seed)
{
    uint64_t m = lw_mix64(((uint64_t)seed << 32) ^ (t->num + 1u));
    t->jit_rng = m | 1;
    t->jit_bias = (uint8_t)(m >> 62);
}

void lw_jitter_point_slow(lw_thread *t, enum lw_jitter_point where)
{
    if (!t->jit_rng)
        lw_jitter_seed_thread(t, lw_jitter_seed);
    uint32_t d = lw_jitter_decide(&t->jit_rng, lw_jitter_level, where, t->jit_bias);
    int e = errno;
    if (d == 1) {
        lw_syscall(SYS_sched_yield);
    } else if (d > 1) {
        struct timespec ts = { 0, (long)d * 1000 };
        lw_syscall(SYS_nanosleep, &ts, NULL);
    }
    errno = e;
}
