/*
 * lockwatch.h: optional API for programs run under lockwatch.
 *
 * Every function is declared weak: a program can call them when
 * liblockwatch.so is preloaded and test for their presence otherwise,
 * without linking against lockwatch:
 *
 *     if (lockwatch_name_lock)
 *         lockwatch_name_lock(&cache_lock, "cache_lock");
 */
#ifndef LOCKWATCH_H
#define LOCKWATCH_H

#ifdef __cplusplus
extern "C" {
#endif

#define LOCKWATCH_VERSION_MAJOR 0
#define LOCKWATCH_VERSION_MINOR 1

/* 1 when lockwatch is loaded and observing this process, else 0. */
int lockwatch_active(void) __attribute__((weak));
/* Number of reports this process has written so far. */
unsigned long lockwatch_report_count(void) __attribute__((weak));
/* Bytes of memory lockwatch has taken for itself (its arena: lock nodes,
 * order graph, stacks).  It never shrinks: records are reused. */
unsigned long lockwatch_memory_bytes(void) __attribute__((weak));
/* Version string of the loaded liblockwatch. */
const char *lockwatch_version(void) __attribute__((weak));
/* Give the lock at `lock` (mutex, rwlock, spinlock) a name shown in
 * reports.  The name is copied (at most 63 bytes). */
void lockwatch_name_lock(const void *lock, const char *name) __attribute__((weak));

/* ---- annotations (lockwatch(3)) ----
 * Call them through the LOCKWATCH_* macros below: each macro tests that
 * lockwatch is loaded (the weak function is not NULL), evaluates each
 * argument exactly once, and is a statement that does nothing otherwise. */

/* held != 0: reports assert-held when the calling thread does not hold the
 * lock (a mutex, rwlock in either mode, spinlock or C11 mtx_t); held == 0:
 * reports assert-not-held when it does.  Returns 1 when the assertion is
 * true, 0 when it is false (reported once per call site). */
int lockwatch_assert_held(const void *lock, int held) __attribute__((weak));
/* The program takes `first` before `second`: a thread that takes `first`
 * while holding `second` is reported (order-violation) when it does. */
void lockwatch_order(const void *first, const void *second) __attribute__((weak));
/* [ptr, ptr + size) is protected by `lock`, until the memory is given back
 * (free, realloc, munmap) or the lock is destroyed. */
void lockwatch_guarded_by_declare(const void *ptr, unsigned long size, const void *lock)
    __attribute__((weak));
/* The lock declared to guard the byte at ptr, or NULL. */
const void *lockwatch_guarded_by(const void *ptr) __attribute__((weak));

#ifdef __cplusplus
}
#endif

/* The macros.  Arguments are converted once into locals (as const volatile
 * void *, a spinlock being volatile, and the size as unsigned long), so
 * `lock` may be any pointer and an
 * argument with a side effect has it once, whether lockwatch is loaded or
 * not. */
#define LOCKWATCH_ASSERT_HELD(lock)                                                                \
    do {                                                                                           \
        const volatile void *lockwatch_l_ = (lock);                                                \
        if (lockwatch_assert_held)                                                                 \
            (void)lockwatch_assert_held((const void *)lockwatch_l_, 1);                            \
    } while (0)
#define LOCKWATCH_ASSERT_NOT_HELD(lock)                                                            \
    do {                                                                                           \
        const volatile void *lockwatch_l_ = (lock);                                                \
        if (lockwatch_assert_held)                                                                 \
            (void)lockwatch_assert_held((const void *)lockwatch_l_, 0);                            \
    } while (0)
#define LOCKWATCH_ORDER(first, second)                                                             \
    do {                                                                                           \
        const volatile void *lockwatch_a_ = (first);                                               \
        const volatile void *lockwatch_b_ = (second);                                              \
        if (lockwatch_order)                                                                       \
            lockwatch_order((const void *)lockwatch_a_, (const void *)lockwatch_b_);               \
    } while (0)
#define LOCKWATCH_GUARDED_BY(ptr, size, lock)                                                      \
    do {                                                                                           \
        const volatile void *lockwatch_p_ = (ptr);                                                 \
        unsigned long lockwatch_n_ = (unsigned long)(size);                                        \
        const volatile void *lockwatch_l_ = (lock);                                                \
        if (lockwatch_guarded_by_declare)                                                          \
            lockwatch_guarded_by_declare((const void *)lockwatch_p_, lockwatch_n_,                 \
                                         (const void *)lockwatch_l_);                              \
    } while (0)

#endif
