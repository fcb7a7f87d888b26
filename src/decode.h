/*
 * decode.h: the memory an x86-64 instruction accesses, for sampled race
 * detection (issue 14).  A sampler interrupts a thread (CPU-time timer),
 * fills lw_regs from the signal's ucontext and asks which bytes the
 * interrupted instruction reads or writes, to arm a hardware watchpoint
 * there.  This module only decodes; it never reads the memory accessed.
 *
 * Decoding is Capstone's (detail mode, x86-64), see decode.c for how its
 * allocations are kept out of signal handlers.
 *
 * What each kind of instruction yields (accesses in this order: explicit
 * memory operands in Intel operand order, destination first; the stack slot
 * after them for push and call, before them for pop):
 *  - loads, stores, movzx/movsx (the source's size), x87, SSE/AVX: one
 *    access of the operand's size, read and/or write as the instruction
 *    does; read-modify-write (add [m], r; inc; xchg; lock xadd; cmpxchg,
 *    cmpxchg8b/16b) is read and write.
 *  - RIP-relative operands: against the next instruction's address;
 *    fs:/gs: overrides add fs_base/gs_base (other segments are flat); a
 *    0x67 prefix (32-bit addressing) wraps the address to 32 bits.
 *  - AVX-512 masked moves (and AVX vmaskmov*): the full vector width, the
 *    mask is not consulted (lw_regs has no k registers), so bytes the mask
 *    leaves alone may be reported.  Embedded broadcasts ({1toN}): one
 *    element.
 *  - gathers and scatters (vector index, VSIB): -1, their addresses live in
 *    vector registers lw_regs does not carry.
 *  - push/call: a write of the slot below rsp (8 bytes, 2 with a 0x66
 *    prefix), after push's or call's memory source; pop/ret: a read at rsp,
 *    before pop's memory destination, whose rsp-based address is taken after
 *    the pop (as the CPU does); leave: a read at rbp; enter with nesting
 *    level 0: a write below rsp.  The sampler may skip stack addresses.
 *  - string instructions (movs, stos, lods, cmps, scas, ins/outs aside):
 *    one element at the current rsi and/or rdi, with or without rep, and
 *    whatever the direction flag: the element the interrupted iteration is
 *    about to touch is at rsi/rdi in both directions, the next ones at
 *    higher (DF=0) or lower (DF=1) addresses are not reported.  With a rep
 *    prefix and rcx == 0 nothing is accessed: 0.
 *  - bt/bts/btr/btc on memory: the operand-size word that holds the bit.
 *    With an immediate offset that is the operand itself; with a register
 *    offset (signed, not reduced) it is ea + size * floor(offset / (8 *
 *    size)), which can lie far from ea.
 *  - no access (0): lea, nop (also the multi-byte nop with a memory
 *    operand), endbr64, prefetch* (cannot fault, not a data access),
 *    clflush/clflushopt/clwb (cache control), and every register-only
 *    instruction.
 *  - -1: bytes Capstone cannot decode, gathers/scatters, a memory operand
 *    of unknown size (xsave and friends, whose size depends on the CPU),
 *    far returns, enter with a nesting level, and every decoder busy (more
 *    than LW_DECODE_SLOTS decodes at the same moment).
 */
#ifndef LW_DECODE_H
#define LW_DECODE_H

#include "lw_base.h"

typedef struct {
    uint64_t gpr[16]; /* rax rcx rdx rbx rsp rbp rsi rdi r8 ... r15: x86 encoding order */
    uint64_t rip, fs_base, gs_base;
} lw_regs;

typedef struct {
    uintptr_t addr;   /* first byte */
    unsigned size;    /* bytes */
    bool read, write; /* both for read-modify-write */
    /* The instruction writes a register this address is computed from
     * (mov rax, [rax]; pop; string instructions): decoded after it ran
     * (against the registers it left), the address may be another. */
    bool stale;
} lw_mem_access;

/* Most accesses lw_decode_access reports for one instruction (push [m],
 * pop [m], call [m], movs, cmps). */
#define LW_DECODE_MAX_ACCESSES 2

/* Once, before any decode (not from a signal handler, not from two threads
 * at once, not before libc is up: it calls dlopen): loads Capstone
 * (dlopen(LW_CAPSTONE_SONAME, RTLD_LOCAL): liblockwatch does not link it)
 * and allocates every decoder (malloc, through Capstone); false when
 * Capstone cannot be loaded or opened, and lw_decode_why() says why.  Later
 * calls return the first call's result.  Sets Capstone's allocator for the
 * whole process (CS_OPT_MEM): see decode.c. */
bool lw_decode_init(void);
/* Why lw_decode_init failed: one line without a newline ("" if it did not). */
const char *lw_decode_why(void);

/* The memory the instruction at pc (its bytes at code, len readable bytes)
 * accesses given registers r: up to max accesses into out; returns how many
 * it wrote (0: none, e.g. lea, nop, register-only; at most max, the first
 * ones in the order above), -1 when it cannot be decoded.
 * Async-signal-safe: no malloc, no lock; any number of threads at once
 * (a free decoder is taken without waiting, -1 when none is free). */
int lw_decode_access(const uint8_t *code, size_t len, uintptr_t pc, const lw_regs *r,
                     lw_mem_access *out, int max);

/* The length of the instruction at pc (its bytes at code, len readable),
 * -1 when it cannot be decoded or every decoder is busy.  Async-signal-safe
 * like lw_decode_access. */
int lw_decode_length(const uint8_t *code, size_t len, uintptr_t pc);

/* Fills r from a signal handler's ucontext (x86-64 Linux).  fs_base and
 * gs_base are not in the ucontext: they are read on the handler's thread,
 * whose bases are the interrupted code's (rdfsbase/rdgsbase where the
 * kernel allows them, else arch_prctl). */
void lw_regs_from_ucontext(lw_regs *r, const void *ucontext);

#endif
