/*
 * test_decode.c: the instruction decoder of sampled race detection
 * (decode.h).  A table of instructions (bytes assembled with GNU as, Intel
 * syntax as shown) decoded against a register file and compared with the
 * accesses computed by hand; the same table from several threads at once
 * (the decoder pool); no malloc inside a decode, even for an instruction
 * whose Capstone printer allocates (cvtsd2si); and real faults and traps:
 * the address the decoder computes from a signal handler's ucontext is the
 * address the CPU faulted on (si_addr) or, for fs:, the one the test
 * computes from the thread's fs base.  Also built with AddressSanitizer.
 */
#include "decode.h"

#include <check.h>

#include "unit.h"
#include <asm/prctl.h>
#include <capstone/capstone.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* The register file of the table: distinct, canonical user addresses. */
#define V(i) (0x7f1000000100ull + 0x100000ull * (i))
#define FS 0x7f2000000000ull
#define GS 0x7f3000000000ull
#define PC 0x555555554000ull
#define C(s) (const uint8_t *)(s), sizeof(s) - 1

struct want {
    uint64_t addr;
    unsigned size;
    bool read, write;
};

struct row {
    const uint8_t *code;
    size_t len;
    const char *text;
    struct {
        int reg;
        uint64_t val;
    } set[2]; /* registers that differ from V (val 0 with reg 0: none) */
    int n;    /* expected return */
    struct want want[LW_DECODE_MAX_ACCESSES];
};

static const struct row rows[] = {
    // clang-format off
    {C("\x88\x18"), "mov byte ptr [rax], bl", {}, 1, {{V(RAX), 1, false, true}}},
    {C("\x66\x89\x18"), "mov word ptr [rax], bx", {}, 1, {{V(RAX), 2, false, true}}},
    {C("\x89\x18"), "mov dword ptr [rax], ebx", {}, 1, {{V(RAX), 4, false, true}}},
    {C("\x48\x89\x18"), "mov qword ptr [rax], rbx", {}, 1, {{V(RAX), 8, false, true}}},
    {C("\x8a\x44\x8b\x10"), "mov al, byte ptr [rbx+rcx*4+0x10]", {}, 1, {{V(RBX) + V(RCX) * 4 + 0x10, 1, true, false}}},
    {C("\x4b\x8b\x44\xec\x80"), "mov rax, qword ptr [r12+r13*8-0x80]", {}, 1, {{V(R12) + V(R13) * 8 - 0x80, 8, true, false}}},
    {C("\x48\x89\x44\x24\xf8"), "mov qword ptr [rsp-8], rax", {}, 1, {{V(RSP) - 8, 8, false, true}}},
    {C("\x48\x8b\x05\x00\x01\x00\x00"), "mov rax, qword ptr [rip+0x100]", {}, 1, {{PC + 7 + 0x100, 8, true, false}}},
    {C("\x8a\x05\xf0\xff\xff\xff"), "mov al, byte ptr [rip-0x10]", {}, 1, {{PC + 6 - 0x10, 1, true, false}}},
    {C("\xff\x25\x10\x00\x00\x00"), "jmp qword ptr [rip+0x10]", {}, 1, {{PC + 6 + 0x10, 8, true, false}}},
    {C("\x64\x48\x8b\x04\x25\x28\x00\x00\x00"), "mov rax, qword ptr fs:[0x28]", {}, 1, {{FS + 0x28, 8, true, false}}},
    {C("\x65\x8b\x43\x08"), "mov eax, dword ptr gs:[rbx+8]", {}, 1, {{GS + V(RBX) + 8, 4, true, false}}},
    {C("\x64\xf0\x48\xff\x00"), "lock inc qword ptr fs:[rax]", {}, 1, {{FS + V(RAX), 8, true, true}}},
    {C("\x48\xa1\x88\x77\x66\x55\x44\x33\x22\x11"), "movabs rax, qword ptr [0x1122334455667788]", {}, 1, {{0x1122334455667788, 8, true, false}}},
    {C("\x67\xc7\x44\x58\xfc\x01\x00\x00\x00"), "mov dword ptr [eax+ebx*2-4], 1", {{RAX, 0x1000}, {RBX, 0x80000000}}, 1, {{0xffc, 4, false, true}}},
    {C("\x48\x01\x18"), "add qword ptr [rax], rbx", {}, 1, {{V(RAX), 8, true, true}}},
    {C("\xff\x03"), "inc dword ptr [rbx]", {}, 1, {{V(RBX), 4, true, true}}},
    {C("\xf0\x48\x0f\xc1\x07"), "lock xadd qword ptr [rdi], rax", {}, 1, {{V(RDI), 8, true, true}}},
    {C("\x48\x87\x06"), "xchg qword ptr [rsi], rax", {}, 1, {{V(RSI), 8, true, true}}},
    {C("\xf0\x0f\xb1\x0a"), "lock cmpxchg dword ptr [rdx], ecx", {}, 1, {{V(RDX), 4, true, true}}},
    {C("\xf0\x49\x0f\xc7\x08"), "lock cmpxchg16b xmmword ptr [r8]", {}, 1, {{V(R8), 16, true, true}}},
    {C("\x41\x0f\xc7\x09"), "cmpxchg8b qword ptr [r9]", {}, 1, {{V(R9), 8, true, true}}},
    {C("\x66\xc1\x00\x03"), "rol word ptr [rax], 3", {}, 1, {{V(RAX), 2, true, true}}},
    {C("\xf6\x00\x01"), "test byte ptr [rax], 1", {}, 1, {{V(RAX), 1, true, false}}},
    {C("\x48\x39\x18"), "cmp qword ptr [rax], rbx", {}, 1, {{V(RAX), 8, true, false}}},
    {C("\x0f\x94\x00"), "sete byte ptr [rax]", {}, 1, {{V(RAX), 1, false, true}}},
    {C("\x53"), "push rbx", {}, 1, {{V(RSP) - 8, 8, false, true}}},
    {C("\xff\x70\x08"), "push qword ptr [rax+8]", {}, 2, {{V(RAX) + 8, 8, true, false}, {V(RSP) - 8, 8, false, true}}},
    {C("\x66\x50"), "push ax", {}, 1, {{V(RSP) - 2, 2, false, true}}},
    {C("\x9c"), "pushfq", {}, 1, {{V(RSP) - 8, 8, false, true}}},
    {C("\x5b"), "pop rbx", {}, 1, {{V(RSP), 8, true, false}}},
    {C("\x8f\x44\x24\x08"), "pop qword ptr [rsp+8]", {}, 2, {{V(RSP), 8, true, false}, {V(RSP) + 16, 8, false, true}}},
    {C("\xff\xd0"), "call rax", {}, 1, {{V(RSP) - 8, 8, false, true}}},
    {C("\xff\x53\x10"), "call qword ptr [rbx+0x10]", {}, 2, {{V(RBX) + 0x10, 8, true, false}, {V(RSP) - 8, 8, false, true}}},
    {C("\xc3"), "ret", {}, 1, {{V(RSP), 8, true, false}}},
    {C("\xc2\x08\x00"), "ret 8", {}, 1, {{V(RSP), 8, true, false}}},
    {C("\xc9"), "leave", {}, 1, {{V(RBP), 8, true, false}}},
    {C("\xc8\x20\x00\x00"), "enter 0x20, 0", {}, 1, {{V(RSP) - 8, 8, false, true}}},
    {C("\xc8\x20\x00\x01"), "enter 0x20, 1", {}, -1, {}},
    {C("\xa4"), "movsb", {}, 2, {{V(RDI), 1, false, true}, {V(RSI), 1, true, false}}},
    {C("\xf3\x48\xa5"), "rep movsq", {{RCX, 5}}, 2, {{V(RDI), 8, false, true}, {V(RSI), 8, true, false}}},
    {C("\xf3\x48\xa5"), "rep movsq", {{RCX, 0}}, 0, {}},
    {C("\xf3\xab"), "rep stosd", {{RCX, 3}}, 1, {{V(RDI), 4, false, true}}},
    {C("\x66\xad"), "lodsw", {}, 1, {{V(RSI), 2, true, false}}},
    {C("\xf3\xa6"), "repe cmpsb", {{RCX, 9}}, 2, {{V(RSI), 1, true, false}, {V(RDI), 1, true, false}}},
    {C("\xf2\xae"), "repne scasb", {{RCX, 9}}, 1, {{V(RDI), 1, true, false}}},
    {C("\x64\xa4"), "fs movsb", {}, 2, {{V(RDI), 1, false, true}, {FS + V(RSI), 1, true, false}}},
    {C("\xf3\x0f\x6f\x00"), "movdqu xmm0, xmmword ptr [rax]", {}, 1, {{V(RAX), 16, true, false}}},
    {C("\x0f\x29\x0b"), "movaps xmmword ptr [rbx], xmm1", {}, 1, {{V(RBX), 16, false, true}}},
    {C("\x66\x0f\xe7\x00"), "movntdq xmmword ptr [rax], xmm0", {}, 1, {{V(RAX), 16, false, true}}},
    {C("\x66\x0f\xd6\x00"), "movq qword ptr [rax], xmm0", {}, 1, {{V(RAX), 8, false, true}}},
    {C("\xc5\xfe\x6f\x01"), "vmovdqu ymm0, ymmword ptr [rcx]", {}, 1, {{V(RCX), 32, true, false}}},
    {C("\x62\xf1\xfe\x48\x6f\x40\x01"), "vmovdqu64 zmm0, zmmword ptr [rax+0x40]", {}, 1, {{V(RAX) + 0x40, 64, true, false}}},
    {C("\x62\xf1\xfe\x48\x7f\x58\xfe"), "vmovdqu64 zmmword ptr [rax-0x80], zmm3", {}, 1, {{V(RAX) - 0x80, 64, false, true}}},
    {C("\x62\xf1\x7e\x49\x7f\x08"), "vmovdqu32 zmmword ptr [rax] {k1}, zmm1", {}, 1, {{V(RAX), 64, false, true}}},
    {C("\x62\xf1\x7f\xc9\x6f\x02"), "vmovdqu8 zmm0 {k1}{z}, zmmword ptr [rdx]", {}, 1, {{V(RDX), 64, true, false}}},
    {C("\x62\xf1\x74\x58\x58\x00"), "vaddps zmm0, zmm1, dword ptr [rax]{1to16}", {}, 1, {{V(RAX), 4, true, false}}},
    {C("\xc4\xe2\x75\x2e\x10"), "vmaskmovps ymmword ptr [rax], ymm1, ymm2", {}, 1, {{V(RAX), 32, false, true}}},
    {C("\x62\xf2\x7e\x48\x35\x08"), "vpmovqd ymmword ptr [rax], zmm1", {}, 1, {{V(RAX), 32, false, true}}},
    {C("\xc4\xe2\x6d\x90\x04\x88"), "vpgatherdd ymm0, dword ptr [rax+ymm1*4], ymm2", {}, -1, {}},
    {C("\x62\xf2\x7d\x49\xa0\x04\x88"), "vpscatterdd dword ptr [rax+zmm1*4] {k1}, zmm0", {}, -1, {}},
    {C("\x0f\xb6\x03"), "movzx eax, byte ptr [rbx]", {}, 1, {{V(RBX), 1, true, false}}},
    {C("\x0f\xb7\x03"), "movzx eax, word ptr [rbx]", {}, 1, {{V(RBX), 2, true, false}}},
    {C("\x48\x0f\xbe\x03"), "movsx rax, byte ptr [rbx]", {}, 1, {{V(RBX), 1, true, false}}},
    {C("\x0f\xbf\x03"), "movsx eax, word ptr [rbx]", {}, 1, {{V(RBX), 2, true, false}}},
    {C("\x48\x63\x03"), "movsxd rax, dword ptr [rbx]", {}, 1, {{V(RBX), 4, true, false}}},
    {C("\x0f\x18\x08"), "prefetcht0 byte ptr [rax]", {}, 0, {}},
    {C("\x0f\x18\x00"), "prefetchnta byte ptr [rax]", {}, 0, {}},
    {C("\x0f\x0d\x08"), "prefetchw byte ptr [rax]", {}, 0, {}},
    {C("\x0f\xae\x38"), "clflush byte ptr [rax]", {}, 0, {}},
    {C("\x48\x8d\x44\xcb\x10"), "lea rax, [rbx+rcx*8+16]", {}, 0, {}},
    {C("\x90"), "nop", {}, 0, {}},
    {C("\x0f\x1f\x04\x00"), "nop dword ptr [rax+rax*1+0x0]", {}, 0, {}},
    {C("\x2e\x66\x0f\x1f\x04\x00"), "nop word ptr cs:[rax+rax*1+0x0]", {}, 0, {}},
    {C("\xf3\x0f\x1e\xfa"), "endbr64", {}, 0, {}},
    {C("\x48\x01\xd8"), "add rax, rbx", {}, 0, {}},
    {C("\x0f\x05"), "syscall", {}, 0, {}},
    {C("\x0f\xba\x20\x03"), "bt dword ptr [rax], 3", {}, 1, {{V(RAX), 4, true, false}}},
    {C("\x66\x0f\xba\x38\x11"), "btc word ptr [rax], 17", {}, 1, {{V(RAX), 2, true, true}}},
    {C("\x48\x0f\xa3\x08"), "bt qword ptr [rax], rcx", {{RCX, 200}}, 1, {{V(RAX) + 24, 8, true, false}}},
    {C("\x0f\xab\x08"), "bts dword ptr [rax], ecx", {{RCX, 0x12345678ffffffff}}, 1, {{V(RAX) - 4, 4, true, true}}},
    {C("\xf0\x48\x0f\xb3\x10"), "lock btr qword ptr [rax], rdx", {{RDX, (uint64_t)-65}}, 1, {{V(RAX) - 16, 8, true, true}}},
    {C("\x66\x0f\xa3\x08"), "bt word ptr [rax], cx", {{RCX, 0xffff0020}}, 1, {{V(RAX) + 4, 2, true, false}}},
    {C("\xdb\x28"), "fld tbyte ptr [rax]", {}, 1, {{V(RAX), 10, true, false}}},
    {C("\xd9\x18"), "fstp dword ptr [rax]", {}, 1, {{V(RAX), 4, false, true}}},
    {C("\xdf\x38"), "fistp qword ptr [rax]", {}, 1, {{V(RAX), 8, false, true}}},
    {C("\xdd\x38"), "fnstsw word ptr [rax]", {}, 1, {{V(RAX), 2, false, true}}},
    {C("\x0f\xae\x00"), "fxsave [rax]", {}, 1, {{V(RAX), 512, false, true}}},
    {C("\x0f\xae\x20"), "xsave [rax]", {}, -1, {}},
    {C("\x0f\xae\x18"), "stmxcsr dword ptr [rax]", {}, 1, {{V(RAX), 4, false, true}}},
    {C("\x66\x0f\x3a\x15\x08\x01"), "pextrw word ptr [rax], xmm1, 1", {}, 1, {{V(RAX), 2, false, true}}},
    {C("\x0f\xc3\x18"), "movnti dword ptr [rax], ebx", {}, 1, {{V(RAX), 4, false, true}}},
    {C("\x0f\x38\xf1\x18"), "movbe dword ptr [rax], ebx", {}, 1, {{V(RAX), 4, false, true}}},
    {C("\xf2\x48\x0f\x2d\x03"), "cvtsd2si rax, qword ptr [rbx]", {}, 1, {{V(RBX), 8, true, false}}},
    {C("\xd7"), "xlatb", {{RAX, 0x1237}}, 1, {{V(RBX) + 0x37, 1, true, false}}},
    {C("\x66\x0f\xf7\xc1"), "maskmovdqu xmm0, xmm1", {}, 1, {{V(RDI), 16, false, true}}},
    {C("\x48\x0f\x45\x03"), "cmovne rax, qword ptr [rbx]", {}, 1, {{V(RBX), 8, true, false}}},

    {C("\x06"), "push es (invalid in 64-bit mode)", {}, -1, {}},
    {C("\x48\x8b"), "mov rax, ... cut short", {}, -1, {}},
    {C("\x62\xf1\xfe\x48"), "EVEX prefix cut short", {}, -1, {}},
    {C("\x0f\x0b"), "ud2", {}, 0, {}},
    // clang-format on
};

static void regs_for(const struct row *w, lw_regs *r)
{
    for (int i = 0; i < 16; i++)
        r->gpr[i] = V(i);
    r->rip = PC;
    r->fs_base = FS;
    r->gs_base = GS;
    for (unsigned k = 0; k < 2; k++)
        if (w->set[k].reg || w->set[k].val)
            r->gpr[w->set[k].reg] = w->set[k].val;
}

/* Decodes row w; NULL when it matches, else what differs. */
static const char *check_row(const struct row *w, char *msg, size_t cap)
{
    lw_regs r;
    regs_for(w, &r);
    lw_mem_access out[LW_DECODE_MAX_ACCESSES + 1];
    memset(out, 0xee, sizeof(out));
    int n = lw_decode_access(w->code, w->len, PC, &r, out, LW_DECODE_MAX_ACCESSES + 1);
    if (n != w->n) {
        snprintf(msg, cap, "%s: %d accesses, want %d", w->text, n, w->n);
        return msg;
    }
    for (int i = 0; i < n; i++) {
        const struct want *e = &w->want[i];
        if (out[i].addr != e->addr || out[i].size != e->size || out[i].read != e->read ||
            out[i].write != e->write) {
            snprintf(msg, cap, "%s: access %d is %#lx/%u%s%s, want %#lx/%u%s%s", w->text, i,
                     (unsigned long)out[i].addr, out[i].size, out[i].read ? " r" : "",
                     out[i].write ? " w" : "", (unsigned long)e->addr, e->size, e->read ? " r" : "",
                     e->write ? " w" : "");
            return msg;
        }
    }
    return NULL;
}

START_TEST(test_table)
{
    ck_assert(lw_decode_init());
    ck_assert_uint_ge(LW_ARRAY_SIZE(rows), 40);
    char msg[256];
    for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++) {
        const char *bad = check_row(&rows[i], msg, sizeof(msg));
        ck_assert_msg(bad == NULL, "%s", bad);
    }
}
END_TEST

/* lw_mem_access.stale: the instruction writes a register its address is
 * made of (the race sampler decodes a hit after it ran, with the registers
 * it left). */
START_TEST(test_stale)
{
    ck_assert(lw_decode_init());
    static const struct {
        const uint8_t *code;
        size_t len;
        const char *text;
        bool stale;
    } t[] = {
        // clang-format off
        {C("\x48\x8b\x00"), "mov rax, qword ptr [rax]", true},
        {C("\x48\x8b\x18"), "mov rbx, qword ptr [rax]", false},
        {C("\x48\x8b\x04\xc3"), "mov rax, qword ptr [rbx+rax*8]", true},
        {C("\x48\x89\x00"), "mov qword ptr [rax], rax", true},
        {C("\x48\x01\x18"), "add qword ptr [rax], rbx", false},
        {C("\xf0\x48\x0f\xc1\x07"), "lock xadd qword ptr [rdi], rax", false},
        {C("\xf0\x0f\xb1\x0a"), "lock cmpxchg dword ptr [rdx], ecx", false},
        {C("\x8b\x05\x00\x01\x00\x00"), "mov eax, dword ptr [rip+0x100]", false},
        {C("\x5b"), "pop rbx", true},
        {C("\x53"), "push rbx", true},
        {C("\xa4"), "movsb", true},
        {C("\xff\x03"), "inc dword ptr [rbx]", false},
        // clang-format on
    };
    for (size_t i = 0; i < LW_ARRAY_SIZE(t); i++) {
        lw_regs r;
        struct row none = {0};
        regs_for(&none, &r);
        lw_mem_access out[LW_DECODE_MAX_ACCESSES];
        int n = lw_decode_access(t[i].code, t[i].len, PC, &r, out, LW_DECODE_MAX_ACCESSES);
        ck_assert_msg(n >= 1, "%s: %d accesses", t[i].text, n);
        ck_assert_msg(out[0].stale == t[i].stale, "%s: stale %d, want %d", t[i].text,
                      out[0].stale, t[i].stale);
    }
}
END_TEST

/* lw_decode_length: every row of the table is one instruction of its
 * bytes' length, also with more bytes after it. */
START_TEST(test_decode_length)
{
    ck_assert(lw_decode_init());
    for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++) {
        uint8_t buf[32];
        memset(buf, 0x90, sizeof(buf));
        memcpy(buf, rows[i].code, rows[i].len);
        int got = lw_decode_length(buf, sizeof(buf), PC);
        if (rows[i].n >= 0)   /* decodable rows (the -1 ones may not decode at all) */
            ck_assert_msg(got == (int)rows[i].len, "%s: length %d, want %zu", rows[i].text, got,
                          rows[i].len);
    }
    ck_assert_int_eq(lw_decode_length((const uint8_t *)"\x48\x8b", 2, PC), -1);
}
END_TEST

/* The code length bounds the decode: more bytes after the instruction
 * change nothing, an instruction one byte short of its bytes is -1. */
START_TEST(test_length_bounds)
{
    ck_assert(lw_decode_init());
    char msg[256];
    for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++) {
        const struct row *w = &rows[i];
        if (w->n < 0)
            continue;
        uint8_t longer[32];
        memset(longer, 0x90, sizeof(longer));
        memcpy(longer, w->code, w->len);
        struct row copy = *w;
        copy.code = longer;
        copy.len = sizeof(longer);
        const char *bad = check_row(&copy, msg, sizeof(msg));
        ck_assert_msg(bad == NULL, "%s (with nops after)", bad);
    }
    lw_regs r;
    regs_for(&rows[0], &r);
    lw_mem_access out[2];
    ck_assert_int_eq(lw_decode_access(C("\x48\x8b\x05\x00\x01\x00"), PC, &r, out, 2), -1);
    ck_assert_int_eq(lw_decode_access(C("\x48\x8b\x05\x00\x01\x00\x00"), PC, &r, out, 2), 1);
}
END_TEST

/* max caps what is written: the first accesses, in order. */
START_TEST(test_max)
{
    ck_assert(lw_decode_init());
    lw_regs r;
    regs_for(&rows[0], &r);
    lw_mem_access out[2];
    memset(out, 0, sizeof(out));
    /* push qword ptr [rax+8]: the source, then the stack slot */
    int n = lw_decode_access(C("\xff\x70\x08"), PC, &r, out, 1);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(out[0].addr, V(RAX) + 8);
    ck_assert_uint_eq(out[1].addr, 0); /* untouched */
    ck_assert_int_eq(lw_decode_access(C("\xff\x70\x08"), PC, &r, NULL, 0), 0);
}
END_TEST

/* The pool: threads decode the table at once, every result right. */
#define THREADS 8
#ifdef LW_TEST_SMALL
#define ROUNDS 50
#else
#define ROUNDS 400
#endif

static void *decode_rounds(void *arg)
{
    char msg[256];
    for (int k = 0; k < ROUNDS; k++)
        for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++)
            if (check_row(&rows[i], msg, sizeof(msg)))
                return strdup(msg);
    return arg;
}

START_TEST(test_threads)
{
    ck_assert(lw_decode_init());
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, decode_rounds, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad;
        ck_assert_int_eq(pthread_join(t[i], &bad), 0);
        ck_assert_msg(bad == NULL, "%s", (char *)bad);
    }
}
END_TEST

/* Random bytes: every result is -1 or a few accesses of an x86 operand
 * size with a direction; under AddressSanitizer, no decode reads or writes
 * out of bounds (Capstone's scratch allocations included). */
#ifdef LW_TEST_SMALL
#define RANDOM_DECODES 20000
#else
#define RANDOM_DECODES 200000
#endif

static bool operand_size(unsigned size)
{
    static const unsigned ok[] = {1, 2, 4, 6, 8, 10, 16, 28, 32, 64, 108, 512};
    for (size_t i = 0; i < LW_ARRAY_SIZE(ok); i++)
        if (size == ok[i])
            return true;
    return false;
}

START_TEST(test_random_bytes)
{
    ck_assert(lw_decode_init());
    unsigned seed = 14;
    const char *env = getenv("LW_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 0);
    srand(seed);
    int decoded = 0;
    for (int k = 0; k < RANDOM_DECODES; k++) {
        uint8_t code[15];
        for (size_t i = 0; i < sizeof(code); i++)
            code[i] = (uint8_t)rand();
        lw_regs r;
        for (int i = 0; i < 16; i++)
            r.gpr[i] = (uint64_t)rand() << 33 ^ (uint64_t)rand();
        r.rip = PC;
        r.fs_base = FS;
        r.gs_base = GS;
        size_t len = 1 + (size_t)rand() % sizeof(code);
        uint8_t *exact = malloc(len); /* ASan: no byte past len is read */
        ck_assert(exact != NULL);
        memcpy(exact, code, len);
        lw_mem_access out[LW_DECODE_MAX_ACCESSES];
        int n = lw_decode_access(exact, len, PC, &r, out, LW_DECODE_MAX_ACCESSES);
        free(exact);
        REQUIRE_MSG(n >= -1 && n <= LW_DECODE_MAX_ACCESSES, "%d accesses (seed %u, round %d)", n,
                    seed, k);
        decoded += n >= 0;
        for (int i = 0; i < n; i++)
            REQUIRE_MSG(operand_size(out[i].size) && (out[i].read || out[i].write),
                        "access %d of %u bytes, r %d w %d (seed %u, round %d)", i, out[i].size,
                        out[i].read, out[i].write, seed, k);
    }
    ck_assert_int_gt(decoded, RANDOM_DECODES / 4); /* mostly real instructions */
}
END_TEST

/* CPU-time timers fire at the kernel's tick (4 ms at HZ=250), whatever
 * the interval asked: a few dozen runs, not hundreds. */
#ifdef LW_TEST_SMALL
#define NESTED_RUNS 20
#else
#define NESTED_RUNS 50
#endif

/* Nested decodes: a profiling timer's handler decodes the table while the
 * interrupted code is decoding it too (often inside Capstone, holding a
 * decoder and with its scratch in use): both see every row right. */
static volatile int nested_runs, nested_bad;

static void on_prof(int sig)
{
    (void)sig;
    char msg[256];
    for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++)
        if (check_row(&rows[i], msg, sizeof(msg)))
            nested_bad++;
    nested_runs++;
}

START_TEST(test_nested_in_handler)
{
    ck_assert(lw_decode_init());
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGPROF, &sa, NULL), 0);
    struct itimerval it = {{0, 500}, {0, 500}};
    ck_assert_int_eq(setitimer(ITIMER_PROF, &it, NULL), 0);
    char msg[256];
    int bad = 0;
    while (nested_runs < NESTED_RUNS)
        for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++)
            bad += check_row(&rows[i], msg, sizeof(msg)) != NULL;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(nested_bad, 0);
}
END_TEST

#ifndef __SANITIZE_ADDRESS__
/* The test's own allocator, in front of glibc's, counting what is asked
 * while `counting` is set (Capstone's forwarding hooks reach it too). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int counting, counted;

void *malloc(size_t n)
{
    counted += counting;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    counted += counting;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    counted += counting;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    counted += counting && p;
    __libc_free(p);
}

START_TEST(test_no_malloc)
{
    ck_assert(lw_decode_init());
    char msg[256];
    /* Outside a decode Capstone's allocations reach malloc: the count
     * sees them (cs_open of a handle of our own). */
    counting = 1;
    csh h;
    ck_assert_int_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &h), CS_ERR_OK);
    counting = 0;
    ck_assert_int_gt(counted, 0);
    cs_close(&h);
    counted = 0;
    counting = 1;
    for (size_t i = 0; i < LW_ARRAY_SIZE(rows); i++)
        if (check_row(&rows[i], msg, sizeof(msg)))
            break;
    counting = 0;
    ck_assert_int_eq(counted, 0);
    ck_assert_msg(check_row(&rows[0], msg, sizeof(msg)) == NULL, "%s", msg);
}
END_TEST
#endif

/* Real faults: a store or load through registers into a PROT_NONE page.
 * The handler decodes the faulting instruction from its ucontext, records
 * the first access, opens the page and returns: the instruction runs
 * again and succeeds. */
static char *page;
static volatile int faults;
static lw_mem_access seen;
static int seen_n;
static void *seen_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    lw_regs r;
    lw_regs_from_ucontext(&r, uc);
    seen_n = lw_decode_access((const uint8_t *)r.rip, 16, r.rip, &r, &seen, 1);
    seen_addr = si->si_addr;
    faults++;
    mprotect(page, LW_PAGE, PROT_READ | PROT_WRITE);
}

static void arm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    if (!page) {
        page = mmap(NULL, LW_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert(page != MAP_FAILED);
    }
    ck_assert_int_eq(mprotect(page, LW_PAGE, PROT_NONE), 0);
    faults = 0;
    seen_n = -2;
}

static void expect_fault(uintptr_t addr, unsigned size, bool write)
{
    ck_assert_int_eq(faults, 1);
    ck_assert_int_eq(seen_n, 1);
    ck_assert_ptr_eq((void *)seen.addr, seen_addr);
    ck_assert_uint_eq(seen.addr, addr);
    ck_assert_uint_eq(seen.size, size);
    ck_assert(seen.write == write);
}

START_TEST(test_fault_addresses)
{
    ck_assert(lw_decode_init());
    /* base + index*scale + disp, a 4-byte store */
    arm();
    uintptr_t base = (uintptr_t)page + 0x100;
    long index = 0x31;
    __asm__ volatile("movl $7, 0x20(%0,%1,8)" : : "r"(base), "r"(index) : "memory");
    expect_fault(base + 0x31 * 8 + 0x20, 4, true);

    /* movzx from a byte, negative displacement */
    arm();
    unsigned got;
    __asm__ volatile("movzbl -0x11(%1), %0" : "=r"(got) : "r"(page + LW_PAGE) : "memory");
    expect_fault((uintptr_t)page + LW_PAGE - 0x11, 1, false);

    /* rep stosb: the element at rdi */
    arm();
    void *dst = page + 0x321;
    size_t count = 64;
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(count) : "a"(0) : "memory");
    expect_fault((uintptr_t)page + 0x321, 1, true);

    /* lock xadd: read and write */
    arm();
    long one = 1;
    __asm__ volatile("lock xaddq %0, (%1)" : "+r"(one) : "r"(page + 0x48) : "memory");
    expect_fault((uintptr_t)page + 0x48, 8, true);
    ck_assert(seen.read);

    /* a plain byte store through a pointer loaded from memory */
    arm();
    static char *volatile target;
    target = page + 0x777;
    __asm__ volatile("movq %[t], %%rax\n\tmovb $1, (%%rax)" : : [t] "m"(target) : "rax", "memory");
    expect_fault((uintptr_t)page + 0x777, 1, true);
}
END_TEST

/* RIP-relative: code written next to the PROT_NONE page, a byte store
 * 0x55 bytes into it addressed from the instruction's own end. */
START_TEST(test_fault_rip_relative)
{
    ck_assert(lw_decode_init());
    uint8_t *area =
        mmap(NULL, 2 * LW_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(area != MAP_FAILED);
    int32_t disp = (int32_t)(LW_PAGE + 0x55 - 7);
    uint8_t code[] = {0xc6, 0x05, 0, 0, 0, 0, 0x01, 0xc3}; /* movb $1, disp(%rip); ret */
    memcpy(code + 2, &disp, sizeof(disp));
    memcpy(area, code, sizeof(code));
    ck_assert_int_eq(mprotect(area, LW_PAGE, PROT_READ | PROT_EXEC), 0);
    page = (char *)area + LW_PAGE; /* arm() protects it, the handler opens it */
    arm();
    ((void (*)(void))(uintptr_t)area)();
    expect_fault((uintptr_t)area + LW_PAGE + 0x55, 1, true);
    ck_assert_int_eq(area[LW_PAGE + 0x55], 1);
}
END_TEST

/* gs: a base the test sets (arch_prctl), a store through it that faults. */
START_TEST(test_fault_gs)
{
    ck_assert(lw_decode_init());
    arm();
    ck_assert_int_eq(syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)page), 0);
    __asm__ volatile("movq $5, %%gs:0x238" : : : "memory");
    expect_fault((uintptr_t)page + 0x238, 8, true);
    ck_assert_int_eq(syscall(SYS_arch_prctl, ARCH_SET_GS, 0ul), 0);
}
END_TEST

/* fs: (TLS) cannot be made to fault, so a breakpoint just before a load
 * from fs:0x10 stops there; the handler's regs must give fs_base + 0x10. */
static volatile int traps;
static lw_mem_access trap_seen;
static int trap_n;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    lw_regs r;
    lw_regs_from_ucontext(&r, uc);
    trap_n = lw_decode_access((const uint8_t *)r.rip, 16, r.rip, &r, &trap_seen, 1);
    traps++;
}

START_TEST(test_trap_fs)
{
    ck_assert(lw_decode_init());
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGTRAP, &sa, NULL), 0);
    unsigned long fs = 0;
    ck_assert_int_eq(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), 0);
    ck_assert(fs != 0);
    long v;
    __asm__ volatile("int3\n\tmovq %%fs:0x10, %0" : "=r"(v) : : "memory");
    ck_assert_int_eq(traps, 1);
    ck_assert_int_eq(trap_n, 1);
    ck_assert_uint_eq(trap_seen.addr, fs + 0x10);
    ck_assert_uint_eq(trap_seen.size, 8);
    ck_assert(trap_seen.read && !trap_seen.write);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_stale);
    tcase_add_test(tc, test_decode_length);
    tcase_add_test(tc, test_length_bounds);
    tcase_add_test(tc, test_max);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_nested_in_handler);
    tcase_add_test(tc, test_random_bytes);
    tcase_set_timeout(tc, 60); /* loaded machines: make check runs suites side by side */
#ifndef __SANITIZE_ADDRESS__
    tcase_add_test(tc, test_no_malloc);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("signals");
    tcase_add_test(tc, test_fault_addresses);
    tcase_add_test(tc, test_fault_rip_relative);
    tcase_add_test(tc, test_fault_gs);
    tcase_add_test(tc, test_trap_fs);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(decode_suite)
