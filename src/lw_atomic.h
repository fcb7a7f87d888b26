/*
 * lw_atomic.h: every atomic access in lockwatch goes through these wrappers,
 * named by their memory order, so each ordering decision can be found with
 * grep.  Relaxed accesses are for statistics and for fields whose readers
 * tolerate staleness (and say so where they are declared).
 */
#ifndef LW_ATOMIC_H
#define LW_ATOMIC_H

#define lw_load_relaxed(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define lw_load_acquire(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define lw_store_relaxed(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define lw_store_release(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define lw_fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define lw_fetch_add_acq_rel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define lw_fetch_or_acq_rel(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define lw_xchg_acquire(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_ACQUIRE)
#define lw_xchg_release(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_RELEASE)
#define lw_xchg_acq_rel(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
/* Strong CAS; on failure *expected receives the current value. */
#define lw_cas_acq_rel(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define lw_cas_acquire(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
/* Sequentially consistent: for the store-then-load handshakes (Dekker)
 * where each side must see the other's store. */
#define lw_load_seq_cst(p)      __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define lw_store_seq_cst(p, v)  __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define lw_fetch_add_seq_cst(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define lw_compiler_barrier()   __atomic_signal_fence(__ATOMIC_SEQ_CST)
#if defined(__x86_64__) || defined(__i386__)
#define lw_cpu_relax()          __builtin_ia32_pause()
#else
#define lw_cpu_relax()          lw_compiler_barrier()
#endif

#endif
