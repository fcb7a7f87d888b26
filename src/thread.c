/*
 * thread.c: per-thread state set-up.  Owns lw_tls (the pointer to the
 * state, thread.h) and thread numbering.
 * Must never: allocate (the states come from intercept_thread.c's pool,
 * numbering is an atomic counter).
 */
#include "thread.h"
#include "jitter.h"
#include "lw_atomic.h"
#include "lw_core.h"
#include "options.h"
#include "fmt.h"
#include "lw_sys.h"
#include "memmap.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

LW_TLS lw_tls_t lw_tls = { &lw_dormant, 0, 0 };
/* Not ready, so the gate is closed.  Other threads read both (a joiner,
 * the deadlock checks): an empty held stack of their own. */
lw_thread lw_dormant = { .held = lw_dormant.held_inline, .held_cap = LW_HELD_INLINE };
/* Guard up: nothing of lockwatch runs; a join of the thread waits for
 * nothing of it (routine_done). */
lw_thread lw_gone = { .guard = 1, .ready = true, .routine_done = 1,
                      .held = lw_gone.held_inline, .held_cap = LW_HELD_INLINE };

static uint32_t next_thread = 1;   /* 0 is the main thread; relaxed: unique only */

uint32_t lw_thread_new_number(void)
{
    return lw_fetch_add_relaxed(&next_thread, 1);
}

/* Options that need every acquisition on the slow paths: jitter's points
 * are there. */
static uint8_t slow_paths(void)
{
    return lw_jitter_level != 0;
}

/* lw_call_on_stack(arg, fn, top): calls fn(arg) with the stack pointer at
 * top.  Its frame keeps the caller's stack pointer in rbp, and its CFI
 * says so: unwinders step from the side stack back to the thread's own. */
void lw_call_on_stack(void *arg, void (*fn)(void *), void *top);
__asm__(".text\n"
        ".globl lw_call_on_stack\n"
        ".hidden lw_call_on_stack\n"
        ".type lw_call_on_stack,@function\n"
        "lw_call_on_stack:\n"
        "    .cfi_startproc\n"
        "    pushq %rbp\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        "    .cfi_def_cfa_register %rbp\n"
        "    movq %rdx, %rsp\n"
        "    callq *%rsi\n"
        "    movq %rbp, %rsp\n"
        "    popq %rbp\n"
        "    .cfi_def_cfa %rsp, 8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size lw_call_on_stack, .-lw_call_on_stack\n");

void lw_side_call(void (*fn)(void *), void *arg)
{
    lw_thread *t = lw_tls.t;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (!lw_thread_own(t) || t->on_side || !t->stack_lo || sp < t->stack_lo ||
        sp - t->stack_lo > LW_SIDE_NEED) {
        fn(arg);
        return;
    }
    if (!t->side) {
        void *m = (void *)lw_syscall(SYS_mmap, NULL, (size_t)LW_SIDE_SIZE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED) {
            fn(arg);
            return;
        }
        t->side = m;
    }
    t->on_side = 1;
    lw_call_on_stack(arg, fn, (char *)t->side + LW_SIDE_SIZE);
    t->on_side = 0;
}

void lw_side_free(lw_thread *t)
{
    if (t->side)
        lw_sys_munmap(t->side, LW_SIDE_SIZE);
    t->side = NULL;
}

void lw_thread_init(lw_thread *t)
{
    t->held = t->held_big ? t->held_big : t->held_inline;
    t->held_cap = t->held_big ? t->held_big_cap : LW_HELD_INLINE;
    t->site_allow = LW_SITE_ALLOW;
}

void lw_thread_setup(lw_thread *t)
{
    t->tid = (int)lw_syscall(SYS_gettid);
    if (t->tid == getpid()) {
        t->num = 0;
    } else {
        t->num = lw_thread_new_number();
    }
    lw_mem_note_stack(t->num, t->tid, (uintptr_t)__builtin_frame_address(0));
    t->ready = lw_load_relaxed(&lw_core_ready) != 0;
    t->slow = slow_paths();
}

void lw_thread_adopt(lw_thread *t, uint32_t num, uint32_t parent, uint32_t create_stack,
                     const char *inherited_name)
{
    t->tid = (int)lw_syscall(SYS_gettid);
    for (unsigned i = 0; i < sizeof(t->inherited_name); i++)
        t->inherited_name[i] = inherited_name[i];
    t->inherited_name[sizeof(t->inherited_name) - 1] = '\0';
    t->num = num;
    t->parent = parent;
    t->create_stack = create_stack;
    t->created_seen = true;
    lw_mem_note_stack(num, t->tid, (uintptr_t)__builtin_frame_address(0));
    t->ready = lw_load_relaxed(&lw_core_ready) != 0;
    t->slow = slow_paths();
}

void lw_thread_atfork_child(void)
{
    /* The child's only thread keeps its own held locks (it holds them in
     * the child too) but gets the child's tid.  Other threads' state is in
     * their TLS, which does not exist in the child. */
    lw_thread *t = lw_tls.t;
    if (lw_thread_own(t) && t->ready)
        t->tid = (int)lw_syscall(SYS_gettid);
}

lw_thread *lw_thread_of(pthread_t pt)
{
    /* The same in every thread: initial-exec TLS lies at a constant
     * distance from the thread pointer, and so from pthread_self().  The
     * state it points to may be lw_dormant or lw_gone: readable, never
     * NULL. */
    intptr_t off = (intptr_t)(uintptr_t)&lw_tls - (intptr_t)(uintptr_t)pthread_self();
    const lw_tls_t *o = (const lw_tls_t *)(uintptr_t)((intptr_t)(uintptr_t)pt + off);
    lw_thread *t = __atomic_load_n(&o->t, __ATOMIC_ACQUIRE);
    return t ? t : &lw_gone;
}

void lw_thread_refresh_name(lw_thread *t)
{
    /* The kernel's name of the calling thread (pthread_setname_np, prctl);
     * for reports only: a system call. */
    char buf[16] = "";
    int e = errno;
    int r = prctl(PR_GET_NAME, buf, 0, 0, 0);
    errno = e;
    if (r == 0) {
        buf[15] = 0;
        lw_thread_unset_inherited(t, buf);
        for (unsigned i = 0; i < sizeof(t->name); i++)
            t->name[i] = buf[i];
    }
}

char lw_process_comm[16];

void lw_thread_init_process(void)
{
    /* The main thread's, whichever thread starts lockwatch. */
    lw_thread_name_of((int)getpid(), lw_process_comm, sizeof(lw_process_comm));
}

void lw_thread_unset_inherited(const lw_thread *t, char *name)
{
    const char *from = t->inherited_name[0] ? t->inherited_name : lw_process_comm;
    unsigned i = 0;
    while (i < 15 && name[i] && name[i] == from[i])
        i++;
    if (name[i] == from[i] || (i == 15 && !from[15]))
        name[0] = '\0';
}

void lw_thread_name_of(int tid, char *out, size_t cap)
{
    char path[48];
    lw_buf b;
    lw_buf_init(&b, path, sizeof(path));
    lw_buf_printf(&b, "/proc/self/task/%d/comm", tid);
    int fd = lw_sys_open_read(path);
    if (fd < 0)
        return;
    long n = lw_sys_read(fd, out, cap - 1);
    lw_sys_close(fd);
    if (n <= 0)
        return;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = '\0';
}
