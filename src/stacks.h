/*
 * stacks.h: backtraces.  Capture with libunwind (loaded with dlopen and
 * RTLD_LOCAL, so its _Unwind_* and backtrace symbols never shadow the
 * program's), a deduplicating depot that turns a stack into a 32-bit id, and
 * symbolisation at report time only.
 *
 * Capture is for slow paths only (new lock, new edge, report, thread
 * creation).  The depot is append-only: an id stays valid for the life of
 * the process.  Id 0 means "no stack".
 */
#ifndef LW_STACKS_H
#define LW_STACKS_H

#include "lw_base.h"

typedef struct {
    uint32_t n;
    uintptr_t pc[];
} lw_stack;

/* Loads libunwind; false (and stacks stay empty) when it cannot.  Idempotent;
 * called before main (dlopen is not usable from our early constructor) and
 * lazily by the first capture otherwise. */
bool lw_stacks_init(void);
/* Frames of the module containing `addr_in_self` are hidden from stacks
 * (the preload library hides itself; unit tests do not). */
void lw_stacks_hide_module_of(const void *addr_in_self);

/* Current stack, innermost first, hidden frames removed.  sps (may be NULL)
 * receives each frame's stack pointer.  Returns the number of frames. */
unsigned lw_unwind(uintptr_t *pcs, uintptr_t *sps, unsigned max);
uint32_t lw_depot_put(const uintptr_t *pcs, unsigned n);
const lw_stack *lw_depot_get(uint32_t id);
uint32_t lw_stack_capture(void);

/* The stack at which a still-held lock was acquired: its call site `pc`
 * followed by the frames of the current stack (pcs/sps from lw_unwind) that
 * lie outside the acquiring call, when that caller is still live (same stack
 * pointer `cfa`); just the call site otherwise. */
uint32_t lw_stack_of_held(uintptr_t pc, uintptr_t cfa, const uintptr_t *pcs,
                          const uintptr_t *sps, unsigned n);

typedef struct {
    uintptr_t pc;
    const char *module;      /* path, or "?" */
    uintptr_t offset;        /* pc - module base */
    char function[128];      /* "" when unknown */
    uintptr_t fn_offset;
} lw_frame_info;
void lw_symbolize(uintptr_t pc, lw_frame_info *fi);

/* A hash of the innermost `frames` frames of stack id as (module file
 * name, offset): the same code path gives the same value in every run. */
uint64_t lw_stack_fingerprint(uint32_t id, unsigned frames);

unsigned lw_stack_depth(void);   /* configured depth */
/* fork: the unwind gate comes first (arena.h lock order): closing it waits
 * until no thread is inside libunwind, whose locks have no fork handlers. */
void lw_unwind_gate_close(void);
void lw_unwind_gate_open(void);
void lw_unwind_gate_reset(void);
void lw_stacks_atfork_prepare(void);
void lw_stacks_atfork_parent(void);
void lw_stacks_atfork_child(void);

#endif
