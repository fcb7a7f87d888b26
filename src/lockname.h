/*
 * lockname.h: what a lock is, in words, for reports.  A global or static
 * lock by its variable, the member the lock is in and its declaration
 * (lockwatch-symbolizer's DWARF); a lock on a thread's stack by that thread
 * and, on the reporting thread's own stack, by the frame (and the local
 * variable) that owns it; a heap lock as a heap object with its
 * allocation's address when glibc's chunks tell it; a lock in other mapped
 * memory by the mapping.  A name given with lockwatch_name_lock() is the
 * writer's business: it wins over all of these.
 *
 * Report paths only: symbolises, reads /proc/self/maps, may unwind.
 */
#ifndef LW_LOCKNAME_H
#define LW_LOCKNAME_H

#include "lw_base.h"

typedef struct {
    const char *memory;      /* "global", "static", "stack", "heap",
                              * "anonymous", "mapped"; NULL: unknown */
    char label[320];         /* the short name reports put beside M<id>:
                              * "accounts[3].lock", "local 'm' of worker()",
                              * "stack of T2", "heap object 0x...+0x10";
                              * "" when nothing is known */
    char detail[640];        /* the long phrase for lock footers: "global
                              * accounts[3].lock declared at bank.c:12" */
    /* The parts, for JSON (NULL or 0 when unknown). */
    const char *variable;    /* "accounts" (a global, static or local) */
    const char *member;      /* "[3].lock"; NULL for the variable itself */
    const char *decl_file;
    unsigned decl_line;
    int stack_thread;        /* T<n> whose stack holds it, -1 none */
    const char *function;    /* the frame that owns a stack lock */
    const char *frame_file;
    unsigned frame_line;
    uintptr_t heap_object;   /* a heap lock's allocation, 0 unknown */
    bool atomic;             /* a global or static whose type at addr is atomic
                              * (lw_var_info.atomic) */
} lw_lock_desc;

/* Describes the lock at addr (not a thread's end). */
void lw_lock_describe(uintptr_t addr, lw_lock_desc *d);

/* The message `msg` with each lock M<id> it mentions (the first time)
 * followed by its label: "M1 => M2" -> "M1 (accounts[1].lock) => M2 (b)";
 * "M3 (0x...)" -> "M3 (queue_lock, 0x...)".  labels[i] ("" to leave M<ids[i]>
 * alone) for ids[i], i < n.  Pure; out is always terminated (cut when it
 * is too small). */
void lw_name_message(const char *msg, const uint64_t *ids, const char *const *labels,
                     unsigned n, char *out, size_t cap);

#endif
