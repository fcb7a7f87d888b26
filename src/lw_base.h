/*
 * lw_base.h: definitions every lockwatch source file shares: limits,
 * branch hints, visibility, debug asserts.  Nothing here allocates or calls
 * into libc.
 */
#ifndef LW_BASE_H
#define LW_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define LW_LIKELY(x)   __builtin_expect(!!(x), 1)
#define LW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LW_HIDDEN      __attribute__((visibility("hidden")))
#define LW_EXPORT      __attribute__((visibility("default")))
#define LW_TLS         __thread __attribute__((tls_model("initial-exec")))
#define LW_NOINLINE    __attribute__((noinline))
#define LW_UNUSED      __attribute__((unused))
#define LW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Limits.  Each fixed-size structure has a name here; overflow degrades with
 * one warning, never a crash. */
#define LW_MAX_HELD        128   /* held-lock stack entries per thread */
#define LW_EDGE_CACHE      256   /* per-thread cache of known edges (power of 2) */
#define LW_SIG_CACHE       256   /* per-thread cache of known (held set, lock) pairs */
#define LW_MAX_GATES       4     /* gate locks remembered per edge */
#define LW_BLOCK_CACHE     32    /* per-thread cache of reported blocking sites */
#define LW_MAX_FRAMES      64    /* hard cap of LOCKWATCH_STACK_DEPTH */
#define LW_MAX_CYCLE       64    /* longest cycle a report can describe */
#define LW_REG_BUCKETS     (1u << 20)  /* lock registry hash buckets */
#define LW_EDGE_BUCKETS    (1u << 20)  /* order-graph edge hash buckets */
#define LW_DEPOT_BUCKETS   (1u << 16)  /* stack depot hash buckets */

#ifdef LW_DEBUG
void lw_assert_fail(const char *expr, const char *file, int line);
#define LW_ASSERT(e) ((e) ? (void)0 : lw_assert_fail(#e, __FILE__, __LINE__))
#else
#define LW_ASSERT(e) ((void)0)
#endif

#endif
