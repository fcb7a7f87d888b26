/*
 * cfi.h: what a function's call frame information (.eh_frame) says about
 * its frame at one instruction.  For acqstack.h: a frame whose canonical
 * frame address is the stack pointer plus a constant has the same size
 * every time execution is at that instruction; one addressed from the frame
 * pointer may not (alloca, variable-length arrays, stack realignment).
 */
#ifndef LW_CFI_H
#define LW_CFI_H

#include "lw_base.h"

/* Where the caller's rbp is at that instruction. */
#define LW_RBP_KEPT  0   /* still in the register (not saved, not changed) */
#define LW_RBP_SAVED 1   /* saved at CFA + rbp_off */
#define LW_RBP_OTHER 2   /* somewhere else (another register, an expression) */

typedef struct {
    bool from_rbp;     /* CFA = rbp + off (else rsp + off) */
    int64_t off;
    uint8_t rbp;       /* LW_RBP_* */
    int64_t rbp_off;
} lw_cfa;

/* At instruction pc (a return address less one): true when the CFA is the
 * stack pointer or the frame pointer plus a constant, with where the
 * caller's frame pointer is kept.  false when the CFA is anything else or
 * the information cannot be found or read.  No lock, no allocation. */
bool lw_cfa_rule(uintptr_t pc, lw_cfa *out);

/* The function (its FDE's range) holding pc: [*start, *end).  No lock, no
 * allocation (the race sampler decodes from *start to find the
 * instruction before pc). */
bool lw_function_range(uintptr_t pc, uintptr_t *start, uintptr_t *end);

#endif
