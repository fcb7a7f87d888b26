/*
 * decode.c: which memory an interrupted x86-64 instruction accesses
 * (decode.h), on Capstone's decoder in detail mode.
 *
 * Why Capstone rather than a decoder of our own: x86's lengths, prefixes,
 * VEX/EVEX encodings, ModRM/SIB forms and per-instruction operand sizes are
 * thousands of table rows (AVX-512 alone adds disp8*N scaling, broadcasts,
 * masks); Capstone carries LLVM's tables, is maintained, is packaged by
 * Debian (libcapstone4 4.0.2) and covers AVX/AVX-512.  What it gets wrong
 * for our purpose is corrected here by instruction (stack, strings, bt,
 * prefetch, nop), and test_decode checks every case against hand-computed
 * addresses and against the CPU's own fault addresses.
 *
 * Capstone is not linked: lw_decode_init loads it (LW_CAPSTONE_SONAME, the
 * soname configure found) with dlopen(RTLD_LOCAL) and resolves the few cs_*
 * functions used here into `cs`, so a program watched without race
 * sampling (the default) never maps it, and its symbols never join the
 * program's global scope.  The headers still give the types: the soname is
 * the one the headers belong to (configure reads it from the library the
 * headers were installed with), never a bare libcapstone.so, which may be
 * another major version with other struct layouts.
 *
 * Owns: LW_DECODE_SLOTS decoders (a Capstone handle, one cs_insn with its
 * detail, a scratch area), made once by lw_decode_init, never freed.
 *
 * Must never: call malloc or take a lock inside lw_decode_access, which runs
 * in signal handlers, on any thread, nested in another handler on the same
 * thread.  Two things in Capstone 4.0.2 allocate while decoding:
 *  - a per-handle lookup cache (utils.c insn_find), built at a handle's
 *    first decode: lw_decode_init decodes once with every handle;
 *  - the Intel printer's aliases (printAliasInstr: cvtsd2si, xstore, ...)
 *    cs_strdup their text and free it straight after, in every decode that
 *    meets one (detail mode needs the printer: it fills the operands).
 * So Capstone's allocator is ours (cs_option CS_OPT_MEM): while this thread
 * is inside lw_decode_access (the TLS pointer `current`), an allocation is
 * carved from the decoder's scratch area (LW_DECODE_SCRATCH bytes, reset at
 * each decode; freeing it is a no-op); at any other time, or from another
 * thread, it goes to the malloc, calloc, realloc and free Capstone would
 * have called (looked up by name: the same functions, lockwatch's own free
 * wrapper included when preloaded).  CS_OPT_MEM is process-wide, so a
 * program that uses libcapstone itself keeps its allocator through the
 * forwarding; the switch happens in lw_decode_init, which must run before
 * the program's threads use Capstone (lockwatch's start-up).  Capstone's
 * vsnprintf (its printer's text, which we never read) is lw_buf_vprintf
 * inside a decode: no locale, no malloc, never past the buffer.
 *
 * Why a pool and not a decoder per thread: a thread's decoder would have to
 * be allocated at the thread's first sample, inside the handler.  The pool
 * is a fixed array; a decode takes a free slot with one compare-and-swap,
 * starting at a slot chosen by the thread (its TLS address) so threads
 * rarely meet, and gives it back with a release store.  When all are taken
 * (more than LW_DECODE_SLOTS decodes at one moment) it returns -1 without
 * waiting: a sampler loses one sample.  A nested handler on the same thread
 * takes another slot and restores `current` when it leaves.
 */
#include "decode.h"
#include "lw_sys.h"

#include "fmt.h"
#include "lw_atomic.h"

#include <capstone/capstone.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_GET_FS_ 0x1003 /* arch_prctl codes (asm/prctl.h) */
#define ARCH_GET_GS_ 0x1004
#define HWCAP2_FSGSBASE_ (1ul << 1) /* the kernel lets user code run rdfsbase/rdgsbase */

#define PREFIX_OPSIZE 0x66 /* cs_x86.prefix[2] */
#define STACK_SLOT 8

struct slot {
    int busy;   /* 0 free, 1 taken: taken by CAS (acquire), given back by a release store */
    csh handle; /* the rest is touched only by the slot's taker (and lw_decode_init) */
    cs_insn *insn;
    size_t used; /* scratch bytes handed out in this decode */
    _Alignas(16) char scratch[LW_DECODE_SCRATCH];
} __attribute__((aligned(64)));

static struct slot slots[LW_DECODE_SLOTS];
/* The slot this thread is decoding with (NULL outside lw_decode_access):
 * what sends Capstone's allocations to scratch. */
static LW_TLS struct slot *current;

/* Everything below up to the register tables is written by lw_decode_init
 * only, before any decode (its caller starts sampling after it returns:
 * that is the ordering), and read plainly afterwards. */
static int init_state; /* 0 not yet, 1 ready, -1 failed */
static bool have_fsgsbase;

/* Capstone's allocator outside decodes. */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

/* Capstone's functions, from the RTLD_LOCAL handle. */
static struct {
    cs_err (*open)(cs_arch, cs_mode, csh *);
    cs_err (*option)(csh, cs_opt_type, size_t);
    cs_insn *(*malloc)(csh);
    bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
    const char *(*insn_name)(csh, unsigned int);
} cs;

/* Why lw_decode_init failed, for the caller's one line. */
static char why[256];

/* Register tables: x86_reg -> 1 + index into lw_regs.gpr (0: not a
 * general register), its width in bytes, and 8 for ah/ch/dh/bh. */
static uint8_t gpr_of[X86_REG_ENDING], width_of[X86_REG_ENDING], shift_of[X86_REG_ENDING];

static bool in_scratch(const void *p)
{
    return (uintptr_t)p >= (uintptr_t)slots && (uintptr_t)p < (uintptr_t)(slots + LW_DECODE_SLOTS);
}

static void *scratch_get(struct slot *s, size_t n)
{
    size_t at = (s->used + 15) & ~(size_t)15;
    if (n > sizeof(s->scratch) || at > sizeof(s->scratch) - n)
        return NULL; /* LW_DECODE_SCRATCH too small: Capstone sees an allocation failure */
    s->used = at + n;
    return s->scratch + at;
}

static void *hook_malloc(size_t n)
{
    struct slot *s = current;
    return s ? scratch_get(s, n) : real_malloc(n);
}

static void *hook_calloc(size_t n, size_t each)
{
    struct slot *s = current;
    if (!s)
        return real_calloc(n, each);
    if (each && n > sizeof(s->scratch) / each)
        return NULL;
    void *p = scratch_get(s, n * each);
    if (p)
        memset(p, 0, n * each);
    return p;
}

static void *hook_realloc(void *p, size_t n)
{
    struct slot *s = current;
    if (!s && !in_scratch(p))
        return real_realloc(p, n);
    if (!s || (p && !in_scratch(p)))
        return NULL; /* a heap block inside a decode (Capstone never does this) */
    void *q = scratch_get(s, n);
    if (q && p) {
        size_t room = (size_t)(s->scratch + sizeof(s->scratch) - (char *)p);
        memmove(q, p, n < room ? n : room);
    }
    return q;
}

static void hook_free(void *p)
{
    if (!in_scratch(p))
        real_free(p);
}

static int hook_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if (!current)
        return vsnprintf(buf, cap, fmt, ap);
    lw_buf b;
    lw_buf_init(&b, buf, cap);
    lw_buf_vprintf(&b, fmt, ap);
    return (int)b.len; /* what was written: Capstone adds it to its index */
}

static void tables_init(void)
{
    static const x86_reg r64[16] = {X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX,
                                    X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI,
                                    X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
                                    X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};
    static const x86_reg r32[16] = {X86_REG_EAX,  X86_REG_ECX,  X86_REG_EDX,  X86_REG_EBX,
                                    X86_REG_ESP,  X86_REG_EBP,  X86_REG_ESI,  X86_REG_EDI,
                                    X86_REG_R8D,  X86_REG_R9D,  X86_REG_R10D, X86_REG_R11D,
                                    X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D};
    static const x86_reg r16[16] = {X86_REG_AX,   X86_REG_CX,   X86_REG_DX,   X86_REG_BX,
                                    X86_REG_SP,   X86_REG_BP,   X86_REG_SI,   X86_REG_DI,
                                    X86_REG_R8W,  X86_REG_R9W,  X86_REG_R10W, X86_REG_R11W,
                                    X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W};
    static const x86_reg r8[16] = {X86_REG_AL,   X86_REG_CL,   X86_REG_DL,   X86_REG_BL,
                                   X86_REG_SPL,  X86_REG_BPL,  X86_REG_SIL,  X86_REG_DIL,
                                   X86_REG_R8B,  X86_REG_R9B,  X86_REG_R10B, X86_REG_R11B,
                                   X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B};
    static const x86_reg high[4] = {X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH};
    for (unsigned i = 0; i < 16; i++) {
        gpr_of[r64[i]] = gpr_of[r32[i]] = gpr_of[r16[i]] = gpr_of[r8[i]] = (uint8_t)(i + 1);
        width_of[r64[i]] = 8;
        width_of[r32[i]] = 4;
        width_of[r16[i]] = 2;
        width_of[r8[i]] = 1;
    }
    for (unsigned i = 0; i < 4; i++) {
        gpr_of[high[i]] = (uint8_t)(i + 1);
        width_of[high[i]] = 1;
        shift_of[high[i]] = 8;
    }
}

/* The value of a general register (zero-extended from its width). */
static bool reg_value(const lw_regs *r, x86_reg reg, uint64_t *v)
{
    if (reg == X86_REG_RIZ || reg == X86_REG_EIZ) {
        *v = 0;
        return true;
    }
    if (reg <= X86_REG_INVALID || reg >= X86_REG_ENDING || !gpr_of[reg])
        return false;
    uint64_t x = r->gpr[gpr_of[reg] - 1] >> shift_of[reg];
    unsigned w = width_of[reg];
    *v = w == 8 ? x : x & ((1ull << (8 * w)) - 1);
    return true;
}

static bool fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lw_buf b;
    lw_buf_init(&b, why, sizeof(why));
    lw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return false;
}

/* dlopen from the caller's thread, after libc is up (lw_race_init, from
 * __libc_start_main): the loader's lock is the only lock taken, and no
 * lockwatch lock is held meanwhile, so a program thread inside dlopen at
 * the same moment merely waits for it or makes it wait. */
static bool load_capstone(void)
{
    void *h = dlopen(LW_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return fail("cannot load %s (%s)", LW_CAPSTONE_SONAME, e ? e : "dlopen failed");
    }
    cs.open = (cs_err(*)(cs_arch, cs_mode, csh *))dlsym(h, "cs_open");
    cs.option = (cs_err(*)(csh, cs_opt_type, size_t))dlsym(h, "cs_option");
    cs.malloc = (cs_insn * (*)(csh)) dlsym(h, "cs_malloc");
    cs.disasm_iter = (bool (*)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *))dlsym(
        h, "cs_disasm_iter");
    cs.insn_name = (const char *(*)(csh, unsigned int))dlsym(h, "cs_insn_name");
    if (!cs.open || !cs.option || !cs.malloc || !cs.disasm_iter || !cs.insn_name)
        return fail("%s lacks the functions lockwatch uses", LW_CAPSTONE_SONAME);
    return true;
}

bool lw_decode_init(void)
{
    if (init_state)
        return init_state > 0;
    init_state = -1;
    if (!load_capstone())
        return false;
    tables_init();
    real_malloc = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
    if (!real_malloc || !real_calloc || !real_realloc || !real_free)
        return fail("malloc, calloc, realloc or free cannot be found");
    cs_opt_mem mem = {hook_malloc, hook_calloc, hook_realloc, hook_free, hook_vsnprintf};
    if (cs.option(0, CS_OPT_MEM, (size_t)&mem) != CS_ERR_OK)
        return fail("%s refuses a custom allocator (CS_OPT_MEM)", LW_CAPSTONE_SONAME);
    /* A first decode per handle builds Capstone's lookup cache now, on the
     * heap, rather than in a handler's scratch area. */
    static const uint8_t warm[] = {0x89, 0x18}; /* mov dword ptr [rax], ebx */
    for (unsigned i = 0; i < LW_DECODE_SLOTS; i++) {
        struct slot *s = &slots[i];
        if (cs.open(CS_ARCH_X86, CS_MODE_64, &s->handle) != CS_ERR_OK)
            return fail("%s cannot open an x86-64 decoder", LW_CAPSTONE_SONAME);
        if (cs.option(s->handle, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
            return fail("%s has no detail mode", LW_CAPSTONE_SONAME);
        s->insn = cs.malloc(s->handle);
        if (!s->insn)
            return fail("out of memory");
        const uint8_t *c = warm;
        size_t n = sizeof(warm);
        uint64_t a = 0;
        if (!cs.disasm_iter(s->handle, &c, &n, &a, s->insn))
            return fail("%s cannot decode a plain mov", LW_CAPSTONE_SONAME);
    }
    have_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_) != 0;
    init_state = 1;
    return true;
}

const char *lw_decode_why(void)
{
    return why;
}

static struct slot *slot_take(void)
{
    /* Threads' TLS blocks lie a stack apart (a multiple of a large power of
     * two): hashed (Fibonacci), so their first choices differ. */
    unsigned start = (unsigned)((((uintptr_t)&current >> 12) * 0x9e3779b97f4a7c15ull) >> 58);
    for (unsigned k = 0; k < LW_DECODE_SLOTS; k++) {
        struct slot *s = &slots[(start + k) % LW_DECODE_SLOTS];
        int free_ = 0;
        if (!lw_load_relaxed(&s->busy) && lw_cas_acquire(&s->busy, &free_, 1))
            return s;
    }
    return NULL;
}

/* What the accesses are made of. */
typedef struct {
    lw_mem_access *out;
    int max, n;
    bool stale;   /* the instruction writes a register its addresses use */
} sink;

static void put(sink *k, uint64_t addr, unsigned size, bool read, bool write)
{
    if (k->n < k->max)
        k->out[k->n] = (lw_mem_access){(uintptr_t)addr, size, read, write, k->stale};
    k->n++;
}

/* 1 << gpr for each general register the instruction may write: every
 * explicit register operand (whatever Capstone says of its access, which is
 * not always right) and the implicit writes. */
static unsigned written_gprs(const cs_insn *insn)
{
    const cs_x86 *x = &insn->detail->x86;
    unsigned m = 0;
    for (unsigned i = 0; i < x->op_count; i++) {
        x86_reg reg = x->operands[i].type == X86_OP_REG ? x->operands[i].reg : X86_REG_INVALID;
        if (reg > X86_REG_INVALID && reg < X86_REG_ENDING && gpr_of[reg])
            m |= 1u << (gpr_of[reg] - 1);
    }
    for (unsigned i = 0; i < insn->detail->regs_write_count; i++) {
        unsigned reg = insn->detail->regs_write[i];
        if (reg > X86_REG_INVALID && reg < X86_REG_ENDING && gpr_of[reg])
            m |= 1u << (gpr_of[reg] - 1);
    }
    return m;
}

/* Does a memory operand's address use a register in mask? */
static bool uses_gprs(const x86_op_mem *mem, unsigned mask)
{
    x86_reg regs[2] = {mem->base, mem->index};
    for (unsigned i = 0; i < 2; i++)
        if (regs[i] > X86_REG_INVALID && regs[i] < X86_REG_ENDING && gpr_of[regs[i]] &&
            (mask & (1u << (gpr_of[regs[i]] - 1))))
            return true;
    return false;
}

static bool is_vector(x86_reg reg)
{
    return (reg >= X86_REG_XMM0 && reg <= X86_REG_XMM31) ||
           (reg >= X86_REG_YMM0 && reg <= X86_REG_YMM31) ||
           (reg >= X86_REG_ZMM0 && reg <= X86_REG_ZMM31);
}

/* The effective address of a memory operand; false when it uses a register
 * lw_regs does not hold (a gather's vector index). */
static bool effective(const cs_insn *insn, const x86_op_mem *m, uintptr_t pc, const lw_regs *r,
                      uint64_t *ea)
{
    const cs_x86 *x = &insn->detail->x86;
    uint64_t a = (uint64_t)m->disp, v;
    if (m->base == X86_REG_RIP || m->base == X86_REG_EIP)
        a += pc + insn->size;
    else if (m->base != X86_REG_INVALID) {
        if (!reg_value(r, m->base, &v))
            return false;
        a += v;
    }
    if (m->index != X86_REG_INVALID) {
        if (is_vector(m->index) || !reg_value(r, m->index, &v))
            return false;
        a += v * (uint64_t)(m->scale ? m->scale : 1);
    }
    if (x->addr_size == 4)
        a &= 0xffffffffu; /* 0x67: the address wraps at 4 GiB, before the segment base */
    if (m->segment == X86_REG_FS)
        a += r->fs_base;
    else if (m->segment == X86_REG_GS)
        a += r->gs_base;
    *ea = a;
    return true;
}

/* The string instructions (movs, cmps, stos, lods, scas: one-byte opcodes
 * a4-a7, aa-af), which Capstone gives as memory operands on rsi/rdi. */
static bool is_string(const cs_x86 *x)
{
    uint8_t op = x->opcode[0];
    return x->opcode[1] == 0 && ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf));
}

static int bt_kind(unsigned id)
{
    switch (id) {
    case X86_INS_BT:
        return 1; /* read */
    case X86_INS_BTS:
    case X86_INS_BTR:
    case X86_INS_BTC:
        return 2; /* read and write */
    }
    return 0;
}

/* The stack slot of push, pop, call, ret, leave, enter: 0 none, >0 its
 * size (write below rsp when *below, else read at *at), -1 undecodable. */
static int stack_slot(const cs_insn *insn, const lw_regs *r, uint64_t *at, bool *write)
{
    const cs_x86 *x = &insn->detail->x86;
    unsigned size = x->prefix[2] == PREFIX_OPSIZE ? 2 : STACK_SLOT;
    switch (insn->id) {
    case X86_INS_PUSH:
    case X86_INS_PUSHF:
    case X86_INS_PUSHFQ:
        *at = r->gpr[4] - size;
        *write = true;
        return (int)size;
    case X86_INS_CALL:
        *at = r->gpr[4] - STACK_SLOT;
        *write = true;
        return STACK_SLOT;
    case X86_INS_ENTER:
        if (x->op_count < 2 || x->operands[1].type != X86_OP_IMM || x->operands[1].imm != 0)
            return -1; /* nesting levels also copy frame pointers: not decoded */
        *at = r->gpr[4] - STACK_SLOT;
        *write = true;
        return STACK_SLOT;
    case X86_INS_POP:
    case X86_INS_POPF:
    case X86_INS_POPFQ:
        *at = r->gpr[4];
        *write = false;
        return (int)size;
    case X86_INS_RET:
        *at = r->gpr[4];
        *write = false;
        return STACK_SLOT;
    case X86_INS_LEAVE:
        *at = r->gpr[5]; /* mov rsp, rbp; pop rbp */
        *write = false;
        return (int)size;
    case X86_INS_RETF:
    case X86_INS_RETFQ:
    case X86_INS_IRET:
    case X86_INS_IRETD:
    case X86_INS_IRETQ:
        return -1;
    }
    return 0;
}

/* Capstone 4.0.2's read/write marks are wrong for many stores (x87 fst,
 * fist and fnstcw, SSE and AVX stores such as movnti, movq [m], xmm,
 * pextr*, vextract*, masked AVX-512 moves), for cmpxchg (read only) and
 * rotates by an immediate (read only), and say test writes.  Its sizes of
 * the state saves (fxsave, fnsave) are wrong too.  So the direction of a
 * memory operand is decided here by the instruction's name (cs_insn_name:
 * without its lock or rep prefix), and Capstone's marks are used only for
 * the rest (loads and read-modify-write arithmetic, where test_decode found
 * them right).  Names are compared by prefix: whole families at once. */
enum dir { DIR_CAPSTONE, DIR_NONE, DIR_FAIL, DIR_READ, DIR_RW, DIR_MOVE, DIR_STORE };

static bool starts(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

static bool starts_any(const char *name, const char *const *prefixes)
{
    for (; *prefixes; prefixes++)
        if (starts(name, *prefixes))
            return true;
    return false;
}

/* Fixed sizes Capstone gets wrong: 0 if Capstone's stands. */
static unsigned state_size(const char *name)
{
    if (starts(name, "fxsave") || starts(name, "fxrstor"))
        return 512; /* legacy FPU/SSE image */
    if (!strcmp(name, "fnsave") || !strcmp(name, "fsave") || !strcmp(name, "frstor"))
        return 108; /* x87 state, 32-bit operand size (the 64-bit mode default) */
    if (!strcmp(name, "fnstenv") || !strcmp(name, "fstenv") || !strcmp(name, "fldenv"))
        return 28;
    if (!strcmp(name, "fnstsw"))
        return 2; /* Capstone says 4 */
    return 0;
}

static enum dir direction(const char *name)
{
    /* Not data accesses: address arithmetic, hints that cannot fault,
     * cache control. */
    static const char *const none[] = {"nop",  "endbr",     "prefetch",   "clflush",
                                       "clwb", "vgatherpf", "vscatterpf", NULL};
    /* Addresses in vector registers, sizes the CPU decides. */
    static const char *const fail[] = {"vgather", "vpgather", "vscatter", "vpscatter",
                                       "xsave",   "xrstor",   NULL};
    /* Memory operand first in Intel order is the destination, written and
     * not read; anywhere else it is the source, read. */
    static const char *const move[] = {"mov",      "vmov",      "vpmov",     "maskmov",
                                       "vmaskmov", "vpmaskmov", "vcompress", "vpcompress",
                                       "vexpand",  "vpexpand",  "extractps", "vextract",
                                       "pextr",    "vpextr",    "vcvtps2ph", NULL};
    /* Single memory operand, written. */
    static const char *const store[] = {"fst",    "fist",    "fbstp",    "fnst", "fnsave", "fsave",
                                        "fxsave", "stmxcsr", "vstmxcsr", "set",  NULL};
    /* Read and written (exact names: shlx, rorx and friends only read). */
    static const char *const rw[] = {"cmpxchg", "cmpxchg8b", "cmpxchg16b", "rol", "ror",
                                     "rcl",     "rcr",       "shl",        "shr", "sal",
                                     "sar",     "shld",      "shrd",       NULL};
    if (starts_any(name, none) || !strcmp(name, "lea")) /* not leave */
        return DIR_NONE;
    if (starts_any(name, fail))
        return DIR_FAIL;
    if (starts_any(name, move))
        return DIR_MOVE;
    if (starts_any(name, store))
        return DIR_STORE;
    for (const char *const *n = rw; *n; n++)
        if (!strcmp(name, *n))
            return DIR_RW;
    if (!strcmp(name, "test") || !strcmp(name, "cmp") || !strcmp(name, "bt"))
        return DIR_READ;
    return DIR_CAPSTONE;
}

static int accesses(csh handle, const cs_insn *insn, uintptr_t pc, const lw_regs *r, sink *k)
{
    const cs_x86 *x = &insn->detail->x86;
    const char *name = cs.insn_name(handle, insn->id);
    enum dir dir = name ? direction(name) : DIR_CAPSTONE;
    if (dir == DIR_NONE)
        return 0;
    if (dir == DIR_FAIL)
        return -1;
    if (is_string(x) && (x->prefix[0] == X86_PREFIX_REP || x->prefix[0] == X86_PREFIX_REPNE)) {
        uint64_t count = r->gpr[1];
        if (x->addr_size == 4)
            count &= 0xffffffffu;
        if (!count)
            return 0; /* rep with rcx == 0 does nothing */
    }
    unsigned written = written_gprs(insn);
    k->stale = (written & (1u << 4)) != 0;   /* rsp: push, pop, call, ret */
    uint64_t slot_at = 0;
    bool slot_write = false;
    int slot = stack_slot(insn, r, &slot_at, &slot_write);
    if (slot < 0)
        return -1;
    if (slot && !slot_write)
        put(k, slot_at, (unsigned)slot, true, false); /* pop and ret read first */

    switch (insn->id) {
    case X86_INS_XLATB: /* al = [rbx + al] */
        k->stale = true;
        put(k, r->gpr[3] + (r->gpr[0] & 0xff), 1, true, false);
        return k->n;
    case X86_INS_MASKMOVDQU:
    case X86_INS_VMASKMOVDQU: /* bytes of xmm1 selected by xmm2 to [rdi] */
        k->stale = (written & (1u << 7)) != 0;
        put(k, x->addr_size == 4 ? r->gpr[7] & 0xffffffffu : r->gpr[7], 16, false, true);
        return k->n;
    case X86_INS_MASKMOVQ:
        put(k, x->addr_size == 4 ? r->gpr[7] & 0xffffffffu : r->gpr[7], 8, false, true);
        return k->n;
    }

    int bt = bt_kind(insn->id);
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        uint64_t ea;
        if (!effective(insn, &op->mem, pc, r, &ea))
            return -1;
        unsigned size = name && state_size(name) ? state_size(name) : op->size;
        bool read = (op->access & CS_AC_READ) != 0, write = (op->access & CS_AC_WRITE) != 0;
        if (!size)
            return -1;
        switch (dir) {
        case DIR_MOVE:
            read = i != 0;
            write = i == 0;
            break;
        case DIR_STORE:
            read = false;
            write = true;
            break;
        case DIR_RW:
            read = write = true;
            break;
        case DIR_READ:
            read = true;
            write = false;
            break;
        default:
            break;
        }
        if (bt) {
            read = true;
            write = bt == 2;
            const cs_x86_op *off = &x->operands[1];
            uint64_t v;
            if (i == 0 && x->op_count > 1 && off->type == X86_OP_REG &&
                reg_value(r, off->reg, &v)) {
                /* The register offset is signed at the operand's width and
                 * picks the size-aligned word holding the bit. */
                unsigned bits = 8 * size, sh = size == 8 ? 6 : size == 4 ? 5 : 4;
                int64_t s = bits == 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
                ea += (uint64_t)((s >> sh) * (int64_t)size);
            }
        }
        if (insn->id == X86_INS_POP && op->mem.base == X86_REG_RSP)
            ea += (uint64_t)slot; /* pop [rsp+d]: addressed after rsp moves */
        if (!read && !write)
            read = true; /* an operand Capstone leaves unmarked is at least read */
        k->stale = uses_gprs(&op->mem, written) || (is_string(x) && written);
        put(k, ea, size, read, write);
    }
    if (slot && slot_write) {
        k->stale = true;
        put(k, slot_at, (unsigned)slot, false, true); /* push and call write last */
    }
    return k->n;
}

/* Takes a free slot and makes it the one Capstone's allocator hooks use
 * (a nested handler's decode takes another); NULL when all are busy. */
static struct slot *decode_enter(struct slot **outer)
{
    struct slot *s = slot_take();
    if (!s)
        return NULL;
    *outer = current;
    s->used = 0;
    current = s;
    lw_compiler_barrier(); /* a nested handler must see `current` before Capstone allocates */
    return s;
}

static void decode_leave(struct slot *s, struct slot *outer)
{
    lw_compiler_barrier(); /* Capstone's last scratch free must not move past the restore */
    current = outer;
    lw_store_release(&s->busy, 0);
}

int lw_decode_access(const uint8_t *code, size_t len, uintptr_t pc, const lw_regs *r,
                     lw_mem_access *out, int max)
{
    if (init_state <= 0 || !code || !len || !r || max < 0 || (max && !out))
        return -1;
    struct slot *outer, *s = decode_enter(&outer);
    if (!s)
        return -1;
    const uint8_t *c = code;
    size_t n = len;
    uint64_t a = pc;
    int ret = -1;
    if (cs.disasm_iter(s->handle, &c, &n, &a, s->insn)) {
        sink k = {out, max, 0, false};
        ret = accesses(s->handle, s->insn, pc, r, &k);
        if (ret > max)
            ret = max;
    }
    decode_leave(s, outer);
    return ret;
}

int lw_decode_length(const uint8_t *code, size_t len, uintptr_t pc)
{
    if (init_state <= 0 || !code || !len)
        return -1;
    struct slot *outer, *s = decode_enter(&outer);
    if (!s)
        return -1;
    const uint8_t *c = code;
    size_t n = len;
    uint64_t a = pc;
    int ret = cs.disasm_iter(s->handle, &c, &n, &a, s->insn) ? (int)s->insn->size : -1;
    decode_leave(s, outer);
    return ret;
}

static uint64_t arch_prctl_get(int code)
{
    int saved = errno; /* a handler must leave errno as it found it */
    unsigned long v = 0;
    if (lw_syscall(SYS_arch_prctl, code, &v) != 0)
        v = 0;
    errno = saved;
    return v;
}

void lw_regs_from_ucontext(lw_regs *r, const void *ucontext)
{
    static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                  REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                  REG_R12, REG_R13, REG_R14, REG_R15};
    const ucontext_t *uc = ucontext;
    for (unsigned i = 0; i < 16; i++)
        r->gpr[i] = (uint64_t)uc->uc_mcontext.gregs[order[i]];
    r->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    /* A signal leaves fs and gs bases alone: the handler's are the
     * interrupted code's. */
    if (have_fsgsbase) {
        uint64_t fs, gs;
        __asm__ volatile("rdfsbase %0" : "=r"(fs));
        __asm__ volatile("rdgsbase %0" : "=r"(gs));
        r->fs_base = fs;
        r->gs_base = gs;
    } else {
        r->fs_base = arch_prctl_get(ARCH_GET_FS_);
        r->gs_base = arch_prctl_get(ARCH_GET_GS_);
    }
}
