/*
 * lw_base.h: definitions every lockwatch source file shares: limits,
 * branch hints, visibility.  Nothing here allocates or calls
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
#define LW_HELD_INLINE     32    /* held-lock stack entries in a thread's state (it grows) */
#define LW_ACQ_LOG         64    /* a thread's log of the locks it took (power of 2) */
#define LW_HELD_FULL       32    /* held entries that can keep their acquisition's stack */
#define LW_HELD_FRAMES     16    /* and the frames kept of each */
#define LW_PAGE            4096  /* x86-64 */
#define LW_SIDE_NEED       (64 * 1024)   /* stack a slow path may need (lw_side_call) */
#define LW_SIDE_SIZE       (256 * 1024)  /* a side stack's size */
#define LW_SAFE_STACK_MIN  (256 * 1024)   /* stacks whose upper half reads safely (acqstack.h) */
#define LW_SITE_SETS       64    /* per-thread acquisition-site table: sets of 2 (power of 2) */
#define LW_SITE_YOUNG      2     /* captures at a site new to the thread */
#define LW_SITE_REFILL     16    /* captures at a site after it formed an edge through a helper */
#define LW_SITE_ALLOW      256   /* a thread's captures in hand (refilled by new edges) */
#define LW_EDGE_CACHE      256   /* per-thread cache of known edges (power of 2) */
#define LW_SIG_CACHE       256   /* per-thread cache of known (held set, lock) pairs */
#define LW_SIG_SET         4     /* largest held set that cache stores */
#define LW_MAX_GATES       4     /* gate locks remembered per edge */
#define LW_BLOCK_CACHE     32    /* per-thread cache of reported blocking sites */
#define LW_LOST_CACHE      4     /* per-thread cache of signalled condvars (lost.h) */
#define LW_MAX_FRAMES      64    /* hard cap of LOCKWATCH_STACK_DEPTH */
#define LW_MAX_CYCLE       64    /* longest cycle a report can describe */
#define LW_REG_BUCKETS     (1u << 20)  /* lock registry hash buckets */
#define LW_EDGE_BUCKETS    (1u << 20)  /* order-graph edge hash buckets */
#define LW_DEPOT_BUCKETS   (1u << 16)  /* stack depot hash buckets */
#define LW_DECODE_SLOTS    16    /* instruction decoders for concurrent signal handlers (decode.c) */
#define LW_DECODE_SCRATCH  512   /* bytes a decoder's Capstone may allocate in one decode */

/* The vocabulary every layer shares: the kinds of lock, glibc's mutex
 * types, how a lock was first seen and the modes it is held in.  The core
 * keeps them in its records, findings carry them to the writers. */
enum lw_lock_kind {
    LW_KIND_MUTEX = 1,
    LW_KIND_RWLOCK,
    LW_KIND_SPIN,
    LW_KIND_C11_MUTEX,
    LW_KIND_COND,             /* condition variables: for the condvar rules */
    LW_KIND_SEM,              /* semaphores and barriers: named by findings */
    LW_KIND_BARRIER,          /* only, never in the registry */
    LW_KIND_THREAD,           /* the end of a thread, which a join acquires */
};

/* Mutex type as glibc encodes it in pthread_mutex_t.__data.__kind. */
#define LW_MTYPE_NORMAL     0
#define LW_MTYPE_RECURSIVE  1
#define LW_MTYPE_ERRORCHECK 2
#define LW_MTYPE_ADAPTIVE   3
#define LW_MTYPE_MASK       3
#define LW_MTYPE_ROBUST     0x10   /* as glibc's PTHREAD_MUTEX_ROBUST_NORMAL_NP bit */
/* Not a type: the lock object is of a class that cannot carry a node hint
 * (a process-shared, robust or priority mutex, a process-shared rwlock;
 * intercept.h).  Any lock kind; recorded in lw_lock.nohint. */
#define LW_MTYPE_NOHINT     0x100
/* Not a type: an rwlock whose waiting writers hold back new readers
 * (glibc's PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP); lw_lock.writers_first. */
#define LW_MTYPE_WRITERS_FIRST 0x200

/* How a lock was first seen (lw_lock.first_how). */
#define LW_FIRST_INITIALISED 1   /* its init call */
#define LW_FIRST_LOCKED      2   /* a lock call (static initialiser) */
#define LW_FIRST_USED        3   /* another call: unlock, wait, destroy */

#define LW_MODE_WRITE 1u   /* mutex, spinlock, rwlock write */
#define LW_MODE_READ  2u   /* rwlock read */

/* A strong 64-bit mix (splitmix64's finaliser): every input bit reaches
 * every output bit.  For signatures whose terms are added up: a plain sum of
 * linear terms makes {1,4} and {2,3} collide, a sum of mixed terms does not
 * (beyond chance). */
static inline uint64_t lw_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A string's hash (FNV-1a), for fingerprints: names, not addresses. */
static inline uint64_t lw_str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}


#endif
