/*
 * datapath.h: the spelling of a place inside a variable, "[3].lock",
 * "[1][2]", ".buckets[2].mu", from the offsets DWARF gives.  Pure functions
 * over a caller's buffer, no allocation and no libc: used by
 * lockwatch-symbolizer (its "data" and "local" requests walk a variable's
 * type to a byte offset) and by the unit tests.
 */
#ifndef LW_DATAPATH_H
#define LW_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LW_PATH_MAX_DIMS 8

typedef struct {
    char *p;
    size_t len, cap;
    bool truncated;
} lw_path;

static inline void lw_path_init(lw_path *pa, char *mem, size_t cap)
{
    pa->p = mem;
    pa->len = 0;
    pa->cap = cap;
    pa->truncated = cap == 0;
    if (cap)
        mem[0] = 0;
}

static inline void lw_path_putc(lw_path *pa, char c)
{
    if (pa->len + 1 < pa->cap) {
        pa->p[pa->len++] = c;
        pa->p[pa->len] = 0;
    } else {
        pa->truncated = true;
    }
}

static inline void lw_path_puts(lw_path *pa, const char *s)
{
    while (s && *s)
        lw_path_putc(pa, *s++);
}

static inline void lw_path_putu(lw_path *pa, uint64_t v, unsigned base)
{
    char d[24];
    unsigned n = 0;
    do {
        unsigned x = (unsigned)(v % base);
        d[n++] = (char)(x < 10 ? '0' + x : 'a' + x - 10);
        v /= base;
    } while (v);
    while (n)
        lw_path_putc(pa, d[--n]);
}

/* ".name" for a named member; nothing for an anonymous struct or union or
 * a base class (their members read as the outer object's). */
static inline void lw_path_member(lw_path *pa, const char *name)
{
    if (name && name[0]) {
        lw_path_putc(pa, '.');
        lw_path_puts(pa, name);
    }
}

/* "+0x10": an offset that no member names (padding, inside a lock type). */
static inline void lw_path_offset(lw_path *pa, uint64_t off)
{
    if (off) {
        lw_path_puts(pa, "+0x");
        lw_path_putu(pa, off, 16);
    }
}

/* "[i][j]..." for byte offset off into an array of ndims dimensions
 * (counts[k] elements in dimension k, row-major; counts[0] may be 0 for an
 * array of unknown bound) of elem_size-byte elements.  *rem receives the
 * offset left inside the element.  False (nothing written) when elem_size
 * is 0, a dimension other than the first is 0, or off lies past the end. */
static inline bool lw_path_index(lw_path *pa, uint64_t off, uint64_t elem_size,
                                 const uint64_t *counts, unsigned ndims, uint64_t *rem)
{
    uint64_t idx[LW_PATH_MAX_DIMS];
    if (elem_size == 0 || ndims == 0 || ndims > LW_PATH_MAX_DIMS)
        return false;
    for (unsigned k = 1; k < ndims; k++)
        if (counts[k] == 0)
            return false;
    uint64_t n = off / elem_size;
    for (unsigned k = ndims; k-- > 1;) {
        idx[k] = n % counts[k];
        n /= counts[k];
    }
    if (counts[0] && n >= counts[0])
        return false;
    idx[0] = n;
    for (unsigned k = 0; k < ndims; k++) {
        lw_path_putc(pa, '[');
        lw_path_putu(pa, idx[k], 10);
        lw_path_putc(pa, ']');
    }
    *rem = off % elem_size;
    return true;
}

/* Types a path stops at when it reaches them at offset 0: the locks
 * themselves (pthread's, C11's, the C++ library's).  Their members are
 * the implementation's, not the program's. */
static inline bool lw_path_is_lock_type(const char *name)
{
    static const char *const names[] = {
        "pthread_mutex_t", "pthread_rwlock_t", "pthread_cond_t", "pthread_spinlock_t",
        "pthread_barrier_t", "mtx_t", "cnd_t", "sem_t", "__gthread_mutex_t",
        "__gthread_recursive_mutex_t", "__gthread_cond_t", "mutex", "recursive_mutex",
        "timed_mutex", "recursive_timed_mutex", "shared_mutex", "shared_timed_mutex",
        "condition_variable", "condition_variable_any", "__shared_mutex_pthread",
    };
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *a = names[i], *b = name;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return true;
    }
    return false;
}

#endif
