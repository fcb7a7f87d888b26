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
/* The same with lockwatch's own frames kept (acqstack.h checks every
 * frame), and whether a frame is one of them. */
unsigned lw_unwind_raw(uintptr_t *pcs, uintptr_t *sps, unsigned max);
bool lw_stack_hidden(uintptr_t pc);
uint32_t lw_depot_put(const uintptr_t *pcs, unsigned n);
const lw_stack *lw_depot_get(uint32_t id);
uint32_t lw_stack_capture(void);
/* The caller's return addresses, lockwatch's own frames dropped, by
 * libunwind's cached fast trace (about 100 ns): no stack pointers.  0 when
 * it cannot tell. */
unsigned lw_unwind_pcs(uintptr_t *pcs, unsigned max);

/* The index in pcs/sps (a backtrace of n frames) of the frame that called
 * the lock function at pc with stack pointer cfa, if that activation is
 * still live; -1 when it has returned (a lock helper) or cannot be told. */
int lw_held_caller_frame(uintptr_t pc, uintptr_t cfa, const uintptr_t *pcs,
                         const uintptr_t *sps, unsigned n);
/* The stack at which a still-held lock was acquired: its call site `pc`
 * followed by the frames of the current stack (pcs/sps from lw_unwind) that
 * lie outside the acquiring call, when that caller is still live (same stack
 * pointer `cfa`); just the call site otherwise. */
uint32_t lw_stack_of_held(uintptr_t pc, uintptr_t cfa, const uintptr_t *pcs,
                          const uintptr_t *sps, unsigned n);
/* LOCKWATCH_HELD_STACKS=auto's capture: up to max words of the stack from
 * cfa (the stack pointer of the frame that called the lock function)
 * upwards, into out; the words read.  Never reads a page that is not
 * mapped.  Async-signal-safe, no lock, about 10 ns. */
unsigned lw_held_window(uintptr_t cfa, uintptr_t *out, unsigned max);
/* The stack of a held lock acquired at pc with stack pointer cfa, from the
 * window saved then (nwin words) and the current backtrace: the return
 * addresses the window saved in the slots of the frames both stacks share
 * give the frame that called the helper at the line of that call, and the
 * current frames its callers.  As lw_stack_of_held when the window tells
 * nothing. */
uint32_t lw_stack_of_held_window(uintptr_t pc, uintptr_t cfa, const uintptr_t *win,
                                 unsigned nwin, const uintptr_t *pcs, const uintptr_t *sps,
                                 unsigned n);

/* One source-level frame at a pc: the function, its file and line (the
 * line of the call for a caller, of the pc for the innermost). */
typedef struct {
    const char *function;    /* demangled; "" when unknown, never NULL */
    const char *mangled;     /* the object file's spelling; NULL when the same */
    const char *file;        /* NULL when unknown */
    unsigned line;           /* 0 when unknown */
} lw_src_frame;

#define LW_MAX_INLINED 8

/* A symbolised pc.  Strings live as long as the process (arena, or the
 * module's mapped symbol table); names are never cut. */
typedef struct {
    uintptr_t pc;
    const char *module;      /* path, or "?" */
    uintptr_t offset;        /* pc - module base */
    const char *function;    /* "" when unknown, never NULL */
    const char *mangled;     /* NULL when the same as function */
    const char *file;        /* NULL without debug info */
    unsigned line;
    /* Functions inlined at this pc, innermost first; the last one was
     * inlined into `function`, at `file`:`line`. */
    unsigned ninlined;
    lw_src_frame inlined[LW_MAX_INLINED];
} lw_frame_info;
/* pc is a return address (the call is looked up: pc - 1).  Names, lines and
 * inlined frames come from the lockwatch-symbolizer process, started at the
 * first call (never by a clean run); without it, the ELF symbol tables. */
void lw_symbolize(uintptr_t pc, lw_frame_info *fi);
/* The name of the global or static object at addr (a lock in the
 * program's or a library's data), demangled, with "+0x.." when addr is
 * inside it; false (out "") for heap, stack and unknown memory. */
bool lw_symbolize_data(uintptr_t addr, char *out, size_t cap);
/* A global or static variable holding a data address, from the helper's
 * DWARF (lockwatch-symbolizer "data" requests), else the ELF symbol.
 * Strings live as long as the process. */
typedef struct {
    const char *name;        /* "accounts", "bank::ledger", "worker::lock" */
    const char *mangled;     /* NULL when the same as name */
    const char *path;        /* the place inside it: "[3].lock", "+0x8", "" */
    const char *decl_file;   /* NULL when unknown */
    unsigned decl_line;      /* 0 when unknown */
    bool is_static;          /* internal linkage, or a function's static */
    bool atomic;             /* the place is inside a C11 _Atomic or C++ std::atomic (DWARF) */
} lw_var_info;
/* False (vi zeroed) for memory that is no module's data, or unknown. */
bool lw_symbolize_var(uintptr_t addr, lw_var_info *vi);

/* The local variable at `cfa_off` bytes from the canonical frame address
 * of the frame whose return address is pc (lockwatch-symbolizer "local"
 * requests; DWARF only). */
typedef struct {
    const char *function;    /* the frame's function, demangled */
    const char *name;        /* the variable */
    const char *path;        /* the place inside it, or "" */
    const char *decl_file;
    unsigned decl_line;
    bool atomic;             /* as lw_var_info's */
} lw_local_info;
bool lw_symbolize_local(uintptr_t pc, intptr_t cfa_off, lw_local_info *li);

/* The same from the ELF tables alone, as the object file spells the name
 * (C++ names mangled): never starts the helper (order keys, order.h). */
bool lw_symbolize_data_raw(uintptr_t addr, char *out, size_t cap);
/* A code site that is the same in every run of the binary, from the ELF
 * tables alone: "function (module)" when a function symbol covers the
 * return address pc (*in_function set), else "module+0x<offset>" (the
 * offset of pc, as JSON frames give it); module is the file name without
 * its directory.  false (out "") when pc is in no module. */
bool lw_code_site(uintptr_t pc, char *out, size_t cap, bool *in_function);
/* false: symbolisation uses the helper only if it runs already, and the
 * ELF tables otherwise (the exit graph of a run that reported nothing
 * must not start it: LOCKWATCH_SYMBOLIZER's promise).  Answers found
 * without it are cached like the others. */
void lw_symbolizer_may_start(bool yes);
/* Does addr lie in a loaded module (a global or static object)?  No
 * symbol lookup: dladdr only. */
bool lw_addr_in_module(uintptr_t addr);
/* Whether a source frame belongs to the program rather than to the
 * threading layers it locks through (libc, libstdc++'s mutex wrappers). */
bool lw_frame_is_program(const lw_frame_info *fi, const lw_src_frame *sf);

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
