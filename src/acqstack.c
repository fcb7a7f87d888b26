/*
 * acqstack.c: acquisition backtraces reused at the same call site and stack
 * depth (acqstack.h).  Owns nothing shared: each set belongs to one thread.
 */
#include "acqstack.h"
#include "cfi.h"

#include <string.h>

/* Every frame's return address still in its slot.  The words read are the
 * program's live stack, between the lock call's frame and hi (the bounds
 * were checked when the walk was kept): not instrumented, since a frame of
 * another size can put a slot inside a sanitizer's red zone. */
static inline uintptr_t word(uintptr_t a)
{
    return *(const volatile uintptr_t *)a;
}

__attribute__((no_sanitize("address", "thread"))) static bool
still_holds(const lw_acq_stack *s)
{
    for (unsigned k = 0; k < s->n; k++) {
        if (word(s->sps[k] - sizeof(uintptr_t)) != s->pcs[k])
            return false;
        if (s->fp_slot[k] && word(s->fp_slot[k]) != s->fp_val[k])
            return false;
    }
    return true;
}

static lw_acq_stack *entry_of(lw_acq_stacks *set, uintptr_t pc, uintptr_t cfa)
{
    for (unsigned i = 0; i < LW_ACQ_STACKS; i++)
        if (set->e[i].pc == pc && set->e[i].cfa == cfa)
            return &set->e[i];
    return NULL;
}

const lw_acq_stack *lw_acq_stack_find(lw_acq_stacks *set, uintptr_t lo, uintptr_t hi,
                                      uintptr_t pc, uintptr_t cfa, uintptr_t fp)
{
    if (!set || pc == 0 || cfa < lo + sizeof(uintptr_t) || cfa >= hi)
        return NULL;
    lw_acq_stack *s = entry_of(set, pc, cfa);
    if (!s || (s->fp0 && s->fp0 != fp) || !still_holds(s))
        return NULL;
    s->used = ++set->clock;
    return s;
}

__attribute__((no_sanitize("address", "thread"))) bool
lw_acq_stack_keep(lw_acq_stacks *set, uintptr_t lo, uintptr_t hi, uintptr_t pc, uintptr_t cfa,
                  uintptr_t fp, const uintptr_t *pcs, const uintptr_t *sps, unsigned n,
                  uint32_t stack_id)
{
    if (!set || pc == 0 || n == 0 || n > LW_MAX_FRAMES || pcs[0] != pc || sps[0] != cfa ||
        cfa < lo + sizeof(uintptr_t) || cfa >= hi)
        return false;
    /* Frames outward, each in [cfa, hi), each with its return address in
     * the word below its stack pointer (not so: a signal frame, a
     * trampoline; the walk cannot be checked later).  And for every frame
     * but the outermost, proof of where its CFA (the next frame's stack
     * pointer) is, from its call frame information at the call: its stack
     * pointer plus a constant (a frame of fixed size), or its frame
     * pointer plus a constant where an inner frame of the walk saved that
     * pointer (alloca, realignment): the saved value, checked too.  So,
     * the lock call's frame being where it was, each check finds every
     * frame where it was, and each word read is a live return address or
     * saved frame pointer, never a stale copy of one left in a frame that
     * is larger or smaller this time.  fp_at: the slot that holds the
     * frame pointer of frame k; 0 while it is still the one the lock call
     * was made with (fp, checked by value), FP_LOST once not known. */
#define FP_LOST ((uintptr_t)1)
    uintptr_t fp_slot[LW_MAX_FRAMES], fp_val[LW_MAX_FRAMES];
    uintptr_t prev = cfa, fp_at = 0, fp0 = 0;
    for (unsigned k = 0; k < n; k++) {
        if (sps[k] < prev || sps[k] >= hi || (sps[k] & (sizeof(uintptr_t) - 1)) ||
            word(sps[k] - sizeof(uintptr_t)) != pcs[k])
            return false;
        fp_slot[k] = 0;
        fp_val[k] = 0;
        prev = sps[k];
        if (k + 1 == n)
            break;
        lw_cfa r;
        if (!lw_cfa_rule(pcs[k] - 1, &r))
            return false;
        uintptr_t frame_cfa = sps[k + 1];
        if (r.from_rbp && fp_at == 0) {
            if (!fp || fp + (uintptr_t)r.off != frame_cfa)
                return false;
            fp0 = fp;
        } else if (r.from_rbp) {
            if (fp_at == FP_LOST || fp_at < cfa || fp_at >= hi ||
                word(fp_at) + (uintptr_t)r.off != frame_cfa)
                return false;
            fp_slot[k] = fp_at;
            fp_val[k] = frame_cfa - (uintptr_t)r.off;
        } else if (r.off <= 0 || sps[k] + (uintptr_t)r.off != frame_cfa) {
            return false;
        }
        if (r.rbp == LW_RBP_SAVED)
            fp_at = frame_cfa + (uintptr_t)r.rbp_off;
        else if (r.rbp != LW_RBP_KEPT)
            fp_at = FP_LOST;
    }
    lw_acq_stack *s = entry_of(set, pc, cfa);
    if (!s) {
        s = &set->e[0];
        for (unsigned i = 1; i < LW_ACQ_STACKS; i++)
            if (set->e[i].used < s->used)
                s = &set->e[i];
    }
    s->pc = 0;
    s->used = ++set->clock;
    s->cfa = cfa;
    s->n = n;
    s->stack_id = stack_id;
    memcpy(s->pcs, pcs, n * sizeof(*pcs));
    memcpy(s->sps, sps, n * sizeof(*sps));
    memcpy(s->fp_slot, fp_slot, n * sizeof(*s->fp_slot));
    memcpy(s->fp_val, fp_val, n * sizeof(*s->fp_val));
    s->fp0 = fp0;
    s->pc = pc;
    return true;
}

void lw_acq_stack_clear(lw_acq_stacks *set)
{
    if (set)
        for (unsigned i = 0; i < LW_ACQ_STACKS; i++)
            set->e[i].pc = 0;
}
