/*
 * lw_clock.h: the one clock lockwatch measures with: CLOCK_MONOTONIC in
 * nanoseconds (wait slices, deadlock persistence, blocking-call durations).
 * Base layer: a system call through the vDSO, nothing interposed.
 */
#ifndef LW_CLOCK_H
#define LW_CLOCK_H

#include "lw_base.h"
#include <time.h>

static inline uint64_t lw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
