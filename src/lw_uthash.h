/*
 * lw_uthash.h: uthash as lockwatch uses it.  Memory comes from the arena
 * and is never given back.  Running out of it is never fatal: uthash's
 * default would call exit(), which in liblockwatch.so is our own
 * interposed exit, from inside lockwatch, in the middle of the program.
 * With HASH_NONFATAL_OOM an add that cannot get memory leaves the element
 * out of the table (the table stays as it was) and runs LW_UTHASH_OOM(elt),
 * which the including file defines, before including this, to note the
 * failure; the caller checks its note after the add.
 */
#ifndef LW_UTHASH_H
#define LW_UTHASH_H

#ifndef LW_UTHASH_OOM
#error "define LW_UTHASH_OOM(elt) before including lw_uthash.h"
#endif

#include "arena.h"

#define uthash_malloc(sz) lw_arena_alloc(sz)
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) LW_UTHASH_OOM(elt)
/* Not used by uthash when HASH_NONFATAL_OOM is set; defined so that no
 * version of it can fall back to exit(). */
#define uthash_fatal(msg) LW_UTHASH_OOM(NULL)
#include <uthash.h>

#endif
