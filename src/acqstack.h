/*
 * acqstack.h: an acquisition's backtrace, kept to be reused by the next
 * acquisition at the same call site and the same stack depth.
 *
 * Locks born by thousands (a lock per cache entry, taken under its bin's
 * lock) form new order edges at every life, always from the same few call
 * paths; each new edge needs the acquisition's backtrace, and a libunwind
 * walk costs about 0.5 us a frame.  A thread keeps its last few walks, each
 * keyed by the lock call's return address (pc) and stack pointer after it
 * (cfa), with every frame's stack pointer.  On x86-64 a frame left by a call
 * keeps its return address in the word below its caller's stack pointer, so
 * the same walk holds again exactly when each of those words still holds the
 * return address the walk found there: that is checked, frame by frame, in
 * a few nanoseconds, and any difference (another caller, a frame of another
 * size) sends the acquisition to libunwind.
 *
 * Reads are confined to [lo, hi), a part of the thread's own stack known to
 * be mapped (lw_core.c, acq_bounds): a walk is kept only when all its frames
 * lie in it, and looked up only when the lock call's frame does.
 */
#ifndef LW_ACQSTACK_H
#define LW_ACQSTACK_H

#include "lw_base.h"

#define LW_ACQ_STACKS 16  /* walks kept per thread, the least recently used replaced */

typedef struct lw_acq_stack {
    uintptr_t pc, cfa;   /* the lock call: return address, caller's sp; pc 0: empty */
    unsigned n;          /* frames: pcs[0] == pc, sps[0] == cfa */
    uint32_t stack_id;   /* depot id of the walk (cut at LOCKWATCH_STACK_DEPTH) */
    uint64_t used;       /* the set's clock at its last use */
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    /* Frame k's CFA kept by its frame pointer: the slot an inner frame
     * saved that pointer in (0: frame k's CFA is its sp plus a constant),
     * and the value that puts frame k where the walk found it. */
    uintptr_t fp_slot[LW_MAX_FRAMES], fp_val[LW_MAX_FRAMES];
    /* The frame pointer the lock call was made with, when a frame's CFA
     * hangs on it before any frame of the walk saved it (a function built
     * with frame pointers or using alloca called the lock); 0: not needed. */
    uintptr_t fp0;
} lw_acq_stack;

typedef struct lw_acq_stacks {
    uint64_t clock;
    lw_acq_stack e[LW_ACQ_STACKS];
} lw_acq_stacks;

/* The kept walk of the acquisition at (pc, cfa), made with frame pointer
 * fp (the caller's rbp at the lock call; 0 unknown), if it still describes
 * the current stack; NULL otherwise. */
const lw_acq_stack *lw_acq_stack_find(lw_acq_stacks *set, uintptr_t lo, uintptr_t hi,
                                      uintptr_t pc, uintptr_t cfa, uintptr_t fp);
/* Keeps a walk just made at (pc, cfa, fp) (pcs/sps every frame from the
 * lock call's out, lockwatch's own included) when it can be checked later:
 * every frame's return address in its slot, every frame in [lo, hi), and
 * each frame's position provable from its call frame information.
 * Returns whether it was kept. */
bool lw_acq_stack_keep(lw_acq_stacks *set, uintptr_t lo, uintptr_t hi, uintptr_t pc,
                       uintptr_t cfa, uintptr_t fp, const uintptr_t *pcs, const uintptr_t *sps,
                       unsigned n, uint32_t stack_id);
/* Forgets every walk (a thread state given to another thread). */
void lw_acq_stack_clear(lw_acq_stacks *set);

#endif
