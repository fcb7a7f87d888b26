/*
 * intercept_mem.c: free, realloc, reallocarray, munmap and mremap, the calls
 * that give memory back.  A lock the calling thread holds whose object lies
 * in memory given back is destroyed while held: lw_memory_released
 * (lw_core.h) reports destroy-locked and forgets the lock, so a lock later
 * set up in that memory is a new one, with none of the old one's edges.
 *
 * Cost: while the thread holds no lock (almost always) a wrapper is one
 * thread-local load and a branch before the real call.  Holding locks, free
 * first looks for a held lock at or above the block's start (lw_held_reaches:
 * locks held while freeing are mostly globals or older objects, below it),
 * and only then asks the allocator for the block's size (malloc_usable_size)
 * and compares the block with the held stack: no lock, no system call, no
 * allocation.
 * Other threads' locks in the memory are not looked for (lockwatch(7)).
 * While the program has LOCKWATCH_GUARDED_BY ranges or LOCKWATCH_ORDER
 * pairs live (annotate.h, one relaxed load of a global), every release also
 * tells the annotation tables, which forget what lived in the memory.
 * realloc is a release of the old block when it moves it (or frees it: a
 * size of 0), of the block's tail when it shrinks it in place; mremap of
 * the old mapping when it moves, of its tail when it shrinks, and of a
 * MREMAP_FIXED target's previous mapping.  Both are checked after the real
 * call (what went depends on what it did), free and munmap before it: the
 * held stack and the lock records are all the check reads, never the
 * memory.
 *
 * Owns: the real pointers of these functions, resolved here and not in
 * lw_resolve_all: the dynamic loader itself frees through the first `free`
 * of the lookup order, ours, before lockwatch starts and from inside dlsym.
 * They come from dlsym(RTLD_NEXT), never from glibc's __libc_free directly:
 * an allocator that comes after lockwatch (tcmalloc or jemalloc linked into
 * the program, or preloaded after it) owns the blocks, and its free must
 * get them.  While this thread resolves them (PITFALLS 2), a nested free
 * leaks its block (allocated inside dlsym by an allocator not known yet), a
 * nested realloc goes to glibc's, munmap and mremap to the system call.
 * Must never: allocate, read the memory given back, change errno, or call
 * an interposed function without the guard.
 */
#include "intercept.h"
#include "lw_sys.h"
#include "annotate.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_realloc(void *, size_t);

static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);

/* Set while this thread is inside dlsym for them. */
static LW_TLS volatile int mem_resolving;

/* Written once per pointer (any thread may store the same value again);
 * read relaxed: a function's address needs no ordering. */
#define LW_MEM_RESOLVE(name)                                                                       \
    if ((p = dlsym(RTLD_NEXT, #name)) != NULL)                                                     \
        lw_store_relaxed(&real_##name, (__typeof__(real_##name))p);

void lw_mem_resolve(void)
{
    if (mem_resolving)
        return;
    int e = errno;
    mem_resolving = 1;
    lw_guard_up();
    lw_compiler_barrier();
    void *p;
    LW_MEM_RESOLVE(free)
    LW_MEM_RESOLVE(realloc)
    LW_MEM_RESOLVE(reallocarray)
    LW_MEM_RESOLVE(munmap)
    LW_MEM_RESOLVE(mremap)
    lw_compiler_barrier();
    lw_guard_down();
    mem_resolving = 0;
    errno = e;
}

/* The real function, resolved on first use: NULL only while this thread
 * is inside dlsym resolving it. */
#define LW_MEM_REAL(name)                                                                          \
    static inline __typeof__(real_##name) real_##name##_fn(void)                                   \
    {                                                                                              \
        __typeof__(real_##name) f = lw_load_relaxed(&real_##name);                                 \
        if (LW_UNLIKELY(f == NULL)) {                                                              \
            lw_mem_resolve();                                                                      \
            f = lw_load_relaxed(&real_##name);                                                     \
        }                                                                                          \
        return f;                                                                                  \
    }
LW_MEM_REAL(free)
LW_MEM_REAL(realloc)
LW_MEM_REAL(reallocarray)
LW_MEM_REAL(munmap)
LW_MEM_REAL(mremap)

static inline bool holds_locks(void)
{
    /* The thread's own count: no atomics.  Inside lockwatch (guard set)
     * it may be non-zero too; the slow paths' lw_enter then says no. */
    return LW_UNLIKELY(lw_tls.t->nheld != 0);
}

/* Does the program have annotations a release may end (annotate.h)? */
static inline bool annotated(void)
{
    return LW_UNLIKELY(lw_load_relaxed(&lw_annot_live) != 0);
}

/* A wrapper's test: is there anything to check the release against? */
static inline bool must_check(void)
{
    return holds_locks() || annotated();
}

/* [lo, hi) was given back by `call`: the core checks the held stack, and
 * only a lock found there costs more than a pass over it. */
static void released(uintptr_t lo, uintptr_t hi, const char *call, uintptr_t pc)
{
    if (annotated())
        lw_annot_memory_gone(lo, hi);
    if (!holds_locks())
        return;
    lw_thread *t = lw_enter();
    if (!t)
        return;
    if (LW_UNLIKELY(lw_held_in_range(t, lo, hi) >= 0)) {
        int e = errno;
        lw_memory_released(t, lo, hi, call, pc);
        errno = e;
    }
    lw_leave(t);
}

static uintptr_t page_round(uintptr_t n)
{
    uintptr_t page = (uintptr_t)getpagesize();
    return (n + page - 1) & ~(page - 1);
}

/* ---- free ---- */

/* The real free, or (inside dlsym, resolving it) nothing: the block leaks. */
static LW_NOINLINE void free_call(void *p)
{
    void (*f)(void *) = real_free_fn();
    if (LW_LIKELY(f != NULL))
        f(p);
}

/* Checked before the real free: the block's size is the allocator's to
 * tell only while the block is live, and is asked only when a held lock
 * lies at or above the block's start. */
static LW_NOINLINE void free_held(void *p, uintptr_t pc)
{
    const lw_thread *t = lw_tls.t;
    uintptr_t lo = (uintptr_t)p;
    if (p && annotated())
        lw_annot_memory_gone(lo, lo + malloc_usable_size(p));
    if (p && holds_locks() && lw_held_reaches(t, lo)) {
        uintptr_t hi = lo + malloc_usable_size(p);
        /* The thread's own held stack, read without the guard: no call,
         * and a signal handler leaves it as it found it. */
        if (LW_UNLIKELY(lw_held_in_range(t, lo, hi) >= 0))
            released(lo, hi, "free", pc);
    }
    void (*f)(void *) = lw_load_relaxed(&real_free);
    if (LW_UNLIKELY(f == NULL))
        free_call(p);
    else
        f(p);
}

/* Both paths end in a tail call: no frame of its own on the usual one. */
LW_EXPORT void free(void *p)
{
    void (*f)(void *) = lw_load_relaxed(&real_free);
    if (must_check())
        free_held(p, LW_PC());
    else if (LW_UNLIKELY(f == NULL))
        free_call(p);
    else
        f(p);
}

/* ---- realloc, reallocarray ---- */

static void *realloc_call(void *p, size_t n)
{
    void *(*f)(void *, size_t) = real_realloc_fn();
    return LW_LIKELY(f != NULL) ? f(p, n) : __libc_realloc(p, n);
}

static void *reallocarray_call(void *p, size_t nmemb, size_t size)
{
    void *(*f)(void *, size_t, size_t) = real_reallocarray_fn();
    if (LW_LIKELY(f != NULL))
        return f(p, nmemb, size);
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

/* p (old usable bytes) became r of n bytes: what was given back. */
static void realloc_released(void *p, size_t old, const void *r, size_t n, const char *call,
                             uintptr_t pc)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + old;
    if (r == NULL && n != 0)
        return; /* failed: p is untouched */
    if (r == p) {
        if (n >= old)
            return; /* grown or kept in place */
        lo += n;    /* shrunk in place: the tail */
    }
    released(lo, hi, call, pc);
}

/* array: reallocarray(p, nmemb, size) of n bytes; else realloc(p, n). */
static LW_NOINLINE void *realloc_held(void *p, size_t n, bool array, size_t nmemb, size_t size,
                                      uintptr_t pc)
{
    if (LW_LIKELY(!annotated()) && LW_LIKELY(!lw_held_reaches(lw_tls.t, (uintptr_t)p)))
        return array ? reallocarray_call(p, nmemb, size) : realloc_call(p, n);
    size_t old = malloc_usable_size(p);
    void *r = array ? reallocarray_call(p, nmemb, size) : realloc_call(p, n);
    realloc_released(p, old, r, n, array ? "reallocarray" : "realloc", pc);
    return r;
}

LW_EXPORT void *realloc(void *p, size_t n)
{
    if (LW_LIKELY(!must_check()) || !p)
        return realloc_call(p, n);
    return realloc_held(p, n, false, 0, 0, LW_PC());
}

LW_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t n;
    if (LW_LIKELY(!must_check()) || !p || __builtin_mul_overflow(nmemb, size, &n))
        return reallocarray_call(p, nmemb, size);
    return realloc_held(p, n, true, nmemb, size, LW_PC());
}

/* ---- munmap, mremap ---- */

static int munmap_call(void *a, size_t len)
{
    int (*f)(void *, size_t) = real_munmap_fn();
    return LW_LIKELY(f != NULL) ? f(a, len) : (int)lw_syscall(SYS_munmap, a, len);
}

static void *mremap_call(void *old, size_t old_size, size_t new_size, int flags, void *new_addr)
{
    void *(*f)(void *, size_t, size_t, int, ...) = real_mremap_fn();
    if (LW_LIKELY(f != NULL))
        return f(old, old_size, new_size, flags, new_addr);
    return (void *)lw_syscall(SYS_mremap, old, old_size, new_size, flags, new_addr);
}

/* Checked before the call, so that the report's own work (lockwatch maps
 * memory for symbols and records) cannot land in the hole and hide a
 * reuse of the address: munmap fails only for an unaligned address or a
 * zero length (EINVAL), and unmapping a range that is not mapped succeeds. */
static LW_NOINLINE int munmap_held(void *a, size_t len, uintptr_t pc)
{
    uintptr_t lo = (uintptr_t)a;
    if (len != 0 && (lo & ((uintptr_t)getpagesize() - 1)) == 0)
        released(lo, lo + page_round(len), "munmap", pc);
    return munmap_call(a, len);
}

LW_EXPORT int munmap(void *a, size_t len)
{
    if (LW_LIKELY(!must_check()))
        return munmap_call(a, len);
    return munmap_held(a, len, LW_PC());
}

static LW_NOINLINE void *mremap_held(void *old, size_t old_size, size_t new_size, int flags,
                                     void *new_addr, uintptr_t pc)
{
    void *r = mremap_call(old, old_size, new_size, flags, new_addr);
    if (r == MAP_FAILED)
        return r;
    uintptr_t lo = (uintptr_t)old, hi = lo + page_round(old_size);
    if (old_size == 0)
        hi = lo; /* a second mapping of shared memory: nothing goes */
    else if (r == old)
        lo += page_round(new_size); /* shrunk in place: the tail */
    if (lo < hi)
        released(lo, hi, "mremap", pc);
    if (flags & MREMAP_FIXED) /* what was mapped at the target went */
        released((uintptr_t)r, (uintptr_t)r + page_round(new_size), "mremap", pc);
    return r;
}

LW_EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (LW_LIKELY(!must_check()))
        return mremap_call(old, old_size, new_size, flags, new_addr);
    return mremap_held(old, old_size, new_size, flags, new_addr, LW_PC());
}
