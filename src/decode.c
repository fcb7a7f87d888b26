/*
 * decode.c: a MINIMAL STAND-IN for the decoder module (branch `decode`,
 * Capstone-based), written only so that the race sampler can be built and
 * tested before that module is merged; it will be replaced.  It decodes the
 * one-byte and 0F-escaped integer instructions with a ModRM memory operand
 * that compilers emit for plain loads, stores and read-modify-writes of
 * scalars (mov, movzx/movsx, add/sub/and/or/xor/cmp/test, inc/dec, mov
 * immediate), with legacy, LOCK and REX prefixes and RIP-relative, SIB and
 * displacement addressing.  Anything else (SSE, string instructions,
 * segment overrides, VEX) is "not understood": 0.
 * Must never: allocate, lock, or read outside code[0..len).
 */
#include "decode.h"

#include <signal.h>
#include <ucontext.h>

bool lw_decode_init(void)
{
    return true;
}

void lw_regs_from_ucontext(lw_regs *r, const void *ucontext)
{
    const ucontext_t *uc = ucontext;
    const greg_t *g = uc->uc_mcontext.gregs;
    static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                 REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                 REG_R12, REG_R13, REG_R14, REG_R15 };
    for (int i = 0; i < 16; i++)
        r->gpr[i] = (uint64_t)g[map[i]];
    r->rip = (uint64_t)g[REG_RIP];
    r->fs_base = r->gs_base = 0;
}

enum { ACC_R = 1, ACC_W = 2, ACC_RW = 3 };

/* What a one-byte opcode with a ModRM operand does to its r/m operand
 * (0: not handled); *byte: an 8-bit operation. */
static int op1(uint8_t op, unsigned reg, bool *byte)
{
    *byte = false;
    switch (op) {
    case 0x00: case 0x08: case 0x10: case 0x18: case 0x20: case 0x28: case 0x30:
        *byte = true;
        return ACC_RW;                   /* add/or/adc/sbb/and/sub/xor r/m8, r8 */
    case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31:
        return ACC_RW;
    case 0x38: *byte = true; return ACC_R;   /* cmp r/m8, r8 */
    case 0x39: return ACC_R;
    case 0x02: case 0x0a: case 0x12: case 0x1a: case 0x22: case 0x2a: case 0x32: case 0x3a:
        *byte = true;
        return ACC_R;                    /* op r8, r/m8 */
    case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b:
        return ACC_R;
    case 0x84: *byte = true; return ACC_R;   /* test */
    case 0x85: return ACC_R;
    case 0x86: *byte = true; return ACC_RW;  /* xchg */
    case 0x87: return ACC_RW;
    case 0x88: *byte = true; return ACC_W;   /* mov r/m8, r8 */
    case 0x89: return ACC_W;
    case 0x8a: *byte = true; return ACC_R;
    case 0x8b: return ACC_R;
    case 0xc6: *byte = true; return reg == 0 ? ACC_W : 0;
    case 0xc7: return reg == 0 ? ACC_W : 0;
    case 0x80: *byte = true; return reg == 7 ? ACC_R : ACC_RW;
    case 0x81: case 0x83: return reg == 7 ? ACC_R : ACC_RW;
    case 0xfe: *byte = true; return reg <= 1 ? ACC_RW : 0;   /* inc/dec */
    case 0xff: return reg <= 1 ? ACC_RW : 0;
    case 0xf6: *byte = true; return reg <= 1 ? ACC_R : reg <= 3 ? ACC_RW : 0;
    case 0xf7: return reg <= 1 ? ACC_R : reg <= 3 ? ACC_RW : 0;
    default: return 0;
    }
}

/* Immediate bytes after the ModRM operand of op. */
static unsigned imm_len(uint8_t op, unsigned reg, unsigned opsize)
{
    switch (op) {
    case 0x80: case 0x83: case 0xc6: return 1;
    case 0x81: case 0xc7: return opsize == 2 ? 2 : 4;
    case 0xf6: return reg <= 1 ? 1 : 0;
    case 0xf7: return reg <= 1 ? (opsize == 2 ? 2 : 4) : 0;
    default: return 0;
    }
}

int lw_decode_access(const uint8_t *code, size_t len, uintptr_t pc, const lw_regs *r,
                     lw_mem_access *out, int max)
{
    size_t i = 0;
    bool opsize16 = false;
    unsigned rex = 0;
    if (max < 1)
        return 0;
    for (;; i++) {
        if (i >= len)
            return -1;
        uint8_t b = code[i];
        if (b == 0x66)
            opsize16 = true;
        else if (b == 0xf0 || b == 0xf2 || b == 0xf3)
            continue;
        else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
                 b == 0x67)
            return 0;   /* segment or address-size override: not handled */
        else
            break;
    }
    if ((code[i] & 0xf0) == 0x40) {
        rex = code[i++];
        if (i >= len)
            return -1;
    }
    uint8_t op = code[i++];
    int acc;
    bool byte;
    unsigned fixed = 0;     /* operand size fixed by a 0F opcode */
    if (op == 0x0f) {
        if (i >= len)
            return -1;
        uint8_t op2 = code[i++];
        if (op2 == 0xb6 || op2 == 0xbe)
            fixed = 1;      /* movzx/movsx r, r/m8 */
        else if (op2 == 0xb7 || op2 == 0xbf)
            fixed = 2;
        else
            return 0;
        acc = ACC_R;
        byte = false;
        op = 0;             /* no immediate */
    }
    if (!fixed) {
        bool known = false;   /* an opcode this decoder knows, for some ModRM reg */
        for (unsigned g = 0; g < 8 && !known; g++)
            known = op1(op, g, &byte) != 0;
        if (!known)
            return 0;
    }
    if (i >= len)
        return -1;
    uint8_t modrm = code[i++];
    unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (mod == 3)
        return 0;           /* register operand */
    if (!fixed) {
        acc = op1(op, reg, &byte);
        if (!acc)
            return 0;
    }
    unsigned opsize = fixed ? fixed : byte ? 1 : (rex & 8) ? 8 : opsize16 ? 2 : 4;
    uint64_t addr = 0;
    bool riprel = false;
    if (rm == 4) {          /* SIB */
        if (i >= len)
            return -1;
        uint8_t sib = code[i++];
        unsigned scale = sib >> 6, idx = ((sib >> 3) & 7) | ((rex & 2) ? 8 : 0);
        unsigned base = (sib & 7) | ((rex & 1) ? 8 : 0);
        if (idx != 4)
            addr += r->gpr[idx] << scale;
        if ((sib & 7) == 5 && mod == 0) {
            if (i + 4 > len)
                return -1;
            addr += (uint64_t)(int64_t)(int32_t)(code[i] | code[i + 1] << 8 | code[i + 2] << 16 |
                                                 (uint32_t)code[i + 3] << 24);
            i += 4;
        } else {
            addr += r->gpr[base];
        }
    } else if (rm == 5 && mod == 0) {
        riprel = true;
    } else {
        addr += r->gpr[rm | ((rex & 1) ? 8 : 0)];
    }
    if (mod == 1 || (mod == 0 && riprel) || mod == 2) {
        unsigned n = mod == 1 ? 1 : 4;
        if (i + n > len)
            return -1;
        int64_t d;
        if (n == 1)
            d = (int8_t)code[i];
        else
            d = (int32_t)(code[i] | code[i + 1] << 8 | code[i + 2] << 16 |
                          (uint32_t)code[i + 3] << 24);
        i += n;
        addr += (uint64_t)d;
    }
    if (riprel) {
        size_t end = i + imm_len(op, reg, opsize);
        if (end > len)
            return -1;
        addr += pc + end;
    }
    out[0].addr = (uintptr_t)addr;
    out[0].size = opsize;
    out[0].read = acc & ACC_R;
    out[0].write = (acc & ACC_W) != 0;
    return 1;
}
