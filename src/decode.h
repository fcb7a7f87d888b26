/*
 * decode.h: x86-64 instruction decoding for the race sampler (race.c):
 * which memory an instruction at a pc accesses, given the registers.
 *
 * The interface is the decoder module's (branch `decode`, Capstone-based);
 * decode.c in this branch is a small stand-in covering the common integer
 * load, store and read-modify-write forms, to be replaced by that module.
 * Every function here is async-signal-safe: no allocation, no locks.
 */
#ifndef LW_DECODE_H
#define LW_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t gpr[16]; /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    uint64_t rip, fs_base, gs_base;
} lw_regs;

typedef struct {
    uintptr_t addr;
    unsigned size;
    bool read, write;
} lw_mem_access;

/* Prepares the decoder; false when it cannot work (race sampling is off). */
bool lw_decode_init(void);
/* The memory accesses of the instruction at code[0..len) located at pc,
 * with registers r (rip is pc): up to max into out.  Returns their number,
 * 0 for an instruction that accesses no memory or is not understood, -1
 * when code is too short. */
int lw_decode_access(const uint8_t *code, size_t len, uintptr_t pc, const lw_regs *r,
                     lw_mem_access *out, int max);
/* The registers of a signal handler's ucontext_t. */
void lw_regs_from_ucontext(lw_regs *r, const void *ucontext);

#endif
