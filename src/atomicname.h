/*
 * atomicname.h: is a type or a function, by its name, one of the C++
 * standard library's atomics?  Used by lockwatch-symbolizer (a variable whose
 * type is std::atomic<T>, or has such a member at the place of an address)
 * and by the race reporter (an access made inside std::atomic<T>::load or
 * store, inlined or not).  On x86 an atomic load, and a release or relaxed
 * store, are plain `mov`s: the sampler cannot tell them from a racy access,
 * and the names are what is left to go by.  Pure functions.
 */
#ifndef LW_ATOMICNAME_H
#define LW_ATOMICNAME_H

#include <stdbool.h>

static inline bool lw_an_prefix(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return false;
    return true;
}

/* The identifier at s (after namespaces) names an atomic: atomic<...>,
 * atomic_flag, atomic_ref<...>, atomic_load_explicit..., libstdc++'s
 * __atomic_base<...>, __atomic_float<...>, __atomic_impl::..., libc++'s
 * __cxx_atomic_... */
static inline bool lw_an_atomic_ident(const char *s)
{
    return lw_an_prefix(s, "atomic") || lw_an_prefix(s, "__atomic_") ||
           lw_an_prefix(s, "__cxx_atomic_");
}

/* s after "std::" and the inline namespaces of libstdc++ and libc++. */
static inline const char *lw_an_after_std(const char *s)
{
    if (!lw_an_prefix(s, "std::"))
        return 0;
    s += 5;
    static const char *const inl[] = {"__1::", "__cxx11::", "__8::", "__debug::"};
    for (unsigned i = 0; i < sizeof(inl) / sizeof(inl[0]); i++)
        if (lw_an_prefix(s, inl[i])) {
            s += __builtin_strlen(inl[i]);
            break;
        }
    return s;
}

/* A DWARF structure or class name, unqualified as DWARF gives it
 * ("atomic<int>", "__atomic_base<long>", "atomic_flag"): a std atomic.
 * Only the standard libraries' class templates and atomic_flag: a C struct
 * called atomic_stats is plain memory.  Template arguments are not looked
 * into ("vector<atomic<int> >" is not). */
static inline bool lw_atomic_type_name(const char *name)
{
    static const char *const cls[] = {"atomic<", "atomic_ref<", "__atomic_base<",
                                      "__atomic_float<", "__atomic_ref<",
                                      "__cxx_atomic_impl<", "__cxx_atomic_base_impl<"};
    if (!name)
        return false;
    for (unsigned i = 0; i < sizeof(cls) / sizeof(cls[0]); i++)
        if (lw_an_prefix(name, cls[i]))
            return true;
    return !__builtin_strcmp(name, "atomic_flag") || !__builtin_strcmp(name, "__atomic_flag_base");
}

/* A demangled function name ("std::atomic<bool>::load(std::memory_order)
 * const", "std::__atomic_base<int>::store(int, std::memory_order)",
 * "std::atomic_load_explicit<int>(...)"): a member or free function of the
 * std atomics, whose memory accesses are atomic. */
static inline bool lw_atomic_function_name(const char *name)
{
    const char *s = name ? lw_an_after_std(name) : 0;
    return s && lw_an_atomic_ident(s);
}

#endif
