/*
 * lw_glibc.h: what lockwatch reads in glibc's lock objects, and the layout
 * it relies on (glibc 2.34 and later; written against 2.36 on x86-64).
 * Owns: the meaning of glibc's lock words, as named constants and small
 * predicates.  Must never: write to a lock, call into libc, or be used to
 * decide anything a lock's correctness depends on: every read is a relaxed
 * snapshot of a word other threads change, good for a report's "is it
 * locked, and by whom".
 *
 * The layout is checked at compile time below; the meaning of the words
 * is checked at run time by tests/unit/test_glibc.c, which locks real
 * glibc objects without lockwatch loaded and fails naming the word that
 * no longer means what lockwatch reads it as.
 */
#ifndef LW_GLIBC_H
#define LW_GLIBC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LW_GLIBC_FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* ---- layout ----
 * Words lockwatch reads: a mutex's __lock, __owner and __kind; an rwlock's
 * __readers, __cur_writer, __shared and __flags; a spinlock's int.  Words
 * lockwatch writes: a mutex's __list.__prev and an rwlock's __pad2 (its
 * node hint and destroyed mark, intercept.h), which must hold a
 * pointer-sized value.
 * glibc's other targets (the generic rwlock has a one-byte __pad2, the
 * generic mutex no __list.__prev) stop here rather than be misread. */
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_mutex_t, __data.__lock) == sizeof(int),
               "glibc's pthread_mutex_t.__data.__lock is not an int");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_mutex_t, __data.__owner) == sizeof(int),
               "glibc's pthread_mutex_t.__data.__owner is not an int (a tid)");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_mutex_t, __data.__list.__prev) == sizeof(uintptr_t),
               "lockwatch keeps a mutex's node hint in __data.__list.__prev, which must be "
               "pointer-sized");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_rwlock_t, __data.__readers) == sizeof(unsigned),
               "glibc's pthread_rwlock_t.__data.__readers is not an unsigned int");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_rwlock_t, __data.__cur_writer) == sizeof(int),
               "glibc's pthread_rwlock_t.__data.__cur_writer is not an int (a tid)");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_rwlock_t, __data.__pad2) == sizeof(uintptr_t),
               "lockwatch keeps an rwlock's node hint and destroyed mark in __data.__pad2, "
               "which must be pointer-sized (it is on x86-64 only)");
_Static_assert(LW_GLIBC_FIELD_SIZE(pthread_rwlock_t, __data.__flags) == sizeof(unsigned),
               "glibc's pthread_rwlock_t.__data.__flags (the rwlock's kind) is not an unsigned int");
_Static_assert(sizeof(pthread_spinlock_t) == sizeof(int),
               "glibc's pthread_spinlock_t is not an int");
#if defined(__x86_64__) && defined(__LP64__)
/* glibc 2.36, sysdeps/x86/nptl/bits/struct_mutex.h and struct_rwlock.h. */
_Static_assert(sizeof(pthread_mutex_t) == 40, "pthread_mutex_t is not glibc's x86-64 one");
_Static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0, "mutex __lock moved");
_Static_assert(offsetof(pthread_mutex_t, __data.__owner) == 8, "mutex __owner moved");
_Static_assert(offsetof(pthread_mutex_t, __data.__kind) == 16, "mutex __kind moved");
_Static_assert(offsetof(pthread_mutex_t, __data.__list) == 24, "mutex __list moved");
_Static_assert(sizeof(pthread_rwlock_t) == 56, "pthread_rwlock_t is not glibc's x86-64 one");
_Static_assert(offsetof(pthread_rwlock_t, __data.__readers) == 0, "rwlock __readers moved");
_Static_assert(offsetof(pthread_rwlock_t, __data.__cur_writer) == 24, "rwlock __cur_writer moved");
_Static_assert(offsetof(pthread_rwlock_t, __data.__shared) == 28, "rwlock __shared moved");
_Static_assert(offsetof(pthread_rwlock_t, __data.__pad2) == 40, "rwlock __pad2 moved");
_Static_assert(offsetof(pthread_rwlock_t, __data.__flags) == 48, "rwlock __flags moved");
#endif

static inline int lw_glibc_load(const volatile int *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* ---- mutexes ----
 * __lock is 0 when the mutex is free (a normal mutex's 1 or 2, a PI
 * mutex's owner tid with flag bits, when locked), except that a
 * priority-protect mutex keeps its priority ceiling in the high bits of
 * __lock, locked or not; __owner is the holder's tid while it is locked,
 * 0 after the unlock. */
#define LW_GLIBC_MUTEX_PP           64u          /* PTHREAD_MUTEX_PRIO_PROTECT_NP, in __kind */
#define LW_GLIBC_MUTEX_CEILING_MASK 0xfff80000u  /* PTHREAD_MUTEX_PRIO_CEILING_MASK, in __lock */

static inline bool lw_glibc_mutex_locked(const pthread_mutex_t *m)
{
    unsigned lock = (unsigned)lw_glibc_load(&m->__data.__lock);
    if ((unsigned)lw_glibc_load(&m->__data.__kind) & LW_GLIBC_MUTEX_PP)
        lock &= ~LW_GLIBC_MUTEX_CEILING_MASK;
    return lock != 0;
}

/* > 0 the holder's tid, -1 locked by nobody known, 0 not locked. */
static inline int lw_glibc_mutex_owner(const pthread_mutex_t *m)
{
    if (!lw_glibc_mutex_locked(m))
        return 0;
    int o = lw_glibc_load(&m->__data.__owner);
    return o > 0 ? o : -1;
}

/* Process-shared (PTHREAD_MUTEX_PSHARED_BIT in __kind): another process
 * may unlock it. */
#define LW_GLIBC_MUTEX_PSHARED 128u

static inline bool lw_glibc_mutex_pshared(const pthread_mutex_t *m)
{
    int k = lw_glibc_load(&m->__data.__kind);
    return k != -1 && ((unsigned)k & LW_GLIBC_MUTEX_PSHARED);
}

/* ---- condition variables, semaphores, barriers: process-shared ----
 * A condvar's __wrefs has __PTHREAD_COND_SHARED_MASK (1) set when it is
 * process-shared (nptl/pthread_cond_common.c).  A semaphore (struct
 * new_sem: a 64-bit value, then `private`) and a barrier (struct
 * pthread_barrier: in, current_round, count, then `shared`) keep the
 * `private` argument of glibc's futex calls: FUTEX_PRIVATE (LLL_PRIVATE,
 * 0) when private, FUTEX_SHARED (LLL_SHARED, 128) when process-shared.
 * sem_open's semaphores are process-shared. */
#define LW_GLIBC_COND_SHARED 1u

static inline bool lw_glibc_cond_pshared(const pthread_cond_t *c)
{
    return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) & LW_GLIBC_COND_SHARED;
}

static inline bool lw_glibc_sem_pshared(const void *sem)
{
    return lw_glibc_load((const int *)((const char *)sem + 8)) != 0;
}

static inline bool lw_glibc_barrier_pshared(const void *barrier)
{
    return lw_glibc_load((const int *)((const char *)barrier + 12)) != 0;
}

/* ---- reader-writer locks ----
 * glibc's nptl/pthread_rwlock_common.c: __readers holds two phase bits, a
 * waiting-readers bit and, from bit 3 up, the number of readers that hold
 * the lock or are trying to:
 *   read phase  (WRPHASE clear): the readers counted hold it (states #2, #4,
 *               #4a; WRLOCKED set means a writer waits for them);
 *   write phase (WRPHASE set):   locked by a writer if WRLOCKED is set too
 *               (#7, #8; readers counted then wait); WRPHASE alone (#5) is
 *               a free lock whose last owner was a writer -- WRPHASE stays
 *               set after the writer unlocks, until a reader comes.
 * __cur_writer is the writing thread's tid, 0 when no writer holds it. */
#define LW_GLIBC_RWLOCK_WRPHASE      1u   /* PTHREAD_RWLOCK_WRPHASE */
#define LW_GLIBC_RWLOCK_WRLOCKED     2u   /* PTHREAD_RWLOCK_WRLOCKED */
#define LW_GLIBC_RWLOCK_RWAITING     4u   /* PTHREAD_RWLOCK_RWAITING */
#define LW_GLIBC_RWLOCK_READER_SHIFT 3    /* PTHREAD_RWLOCK_READER_SHIFT */

static inline unsigned lw_glibc_rwlock_word(const pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED);
}

static inline bool lw_glibc_rwlock_wrlocked(const pthread_rwlock_t *rw)
{
    unsigned both = LW_GLIBC_RWLOCK_WRPHASE | LW_GLIBC_RWLOCK_WRLOCKED;
    return (lw_glibc_rwlock_word(rw) & both) == both;
}

/* Readers holding the lock (0 in a write phase: readers counted then only
 * wait for it). */
static inline unsigned lw_glibc_rwlock_readers(const pthread_rwlock_t *rw)
{
    unsigned r = lw_glibc_rwlock_word(rw);
    return (r & LW_GLIBC_RWLOCK_WRPHASE) ? 0 : r >> LW_GLIBC_RWLOCK_READER_SHIFT;
}

static inline bool lw_glibc_rwlock_pshared(const pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0;
}

static inline bool lw_glibc_rwlock_locked(const pthread_rwlock_t *rw)
{
    return lw_glibc_rwlock_wrlocked(rw) || lw_glibc_rwlock_readers(rw) != 0;
}

/* The writer's tid, 0 if no writer holds it (__cur_writer is set after the
 * write lock is taken and cleared before it is released). */
static inline int lw_glibc_rwlock_writer(const pthread_rwlock_t *rw)
{
    int w = lw_glibc_load(&rw->__data.__cur_writer);
    return w > 0 && lw_glibc_rwlock_wrlocked(rw) ? w : 0;
}

/* The rwlock's kind (pthread_rwlockattr_setkind_np) is __flags.  Only
 * PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP makes a reader wait while a
 * writer waits (and readers hold the lock): "prefer writer" (1) is treated
 * like the default, "prefer reader" (0), which grants a read lock whenever
 * no writer holds it. */
#define LW_GLIBC_RWLOCK_WRITERS_FIRST 2u   /* PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP */
static inline bool lw_glibc_rwlock_writers_first(const pthread_rwlock_t *rw)
{
    return rw->__data.__flags == LW_GLIBC_RWLOCK_WRITERS_FIRST;
}

/* > 0 the writer's tid, -1 locked (readers, who are not recorded), 0 not
 * locked. */
static inline int lw_glibc_rwlock_owner(const pthread_rwlock_t *rw)
{
    int w = lw_glibc_rwlock_writer(rw);
    if (w > 0)
        return w;
    return lw_glibc_rwlock_locked(rw) ? -1 : 0;
}

/* ---- spinlocks ----
 * x86 (sysdeps/x86_64/nptl/pthread_spin_*.S): pthread_spin_init and
 * pthread_spin_unlock store 1, a lock decrements (to 0; a contending lock
 * below 0 while it spins), so anything but 1 is locked.  Generic nptl
 * (aarch64 and the rest): 0 is free, a lock stores 1. */
#if defined(__x86_64__) || defined(__i386__)
#define LW_GLIBC_SPIN_FREE 1
#else
#define LW_GLIBC_SPIN_FREE 0
#endif

static inline bool lw_glibc_spin_locked(const pthread_spinlock_t *s)
{
    return lw_glibc_load(s) != LW_GLIBC_SPIN_FREE;
}

#endif
