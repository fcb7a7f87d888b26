/*
 * lockname.c: a lock's description for reports (lockname.h).
 * Owns nothing.  Must never: run outside a report path (it talks to the
 * symbolizer, reads /proc and unwinds); allocate (strings are the
 * symboliser's, interned in the arena, or the caller's buffers).
 */
#include "lockname.h"
#include "lw_sys.h"
#include "fmt.h"
#include "memmap.h"
#include "stacks.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The frame of the calling thread's stack that owns addr: the frame whose
 * range [its sp, its caller's sp) holds it.  Its return address and the
 * offset of addr from its canonical frame address (the caller's sp). */
static bool own_frame(uintptr_t addr, uintptr_t *pc, intptr_t *cfa_off)
{
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    for (unsigned i = 0; i + 1 < n; i++) {
        if (addr >= sps[i] && addr < sps[i + 1]) {
            *pc = pcs[i];
            *cfa_off = (intptr_t)(addr - sps[i + 1]);
            return true;
        }
    }
    return false;
}

static void describe_stack(uintptr_t addr, const lw_mem_region *r, lw_lock_desc *d, lw_buf *lb,
                           lw_buf *db)
{
    d->memory = "stack";
    /* A mapping is a stack when a noted thread runs on it, or [stack]: the
     * main thread's. */
    d->stack_thread = r->has_thread ? (int)r->thread : 0;
    uintptr_t pc = 0;
    intptr_t off = 0;
    bool mine = r->has_thread ? r->tid == (int)lw_syscall(SYS_gettid)
                              : getpid() == (int)lw_syscall(SYS_gettid);
    if (mine && own_frame(addr, &pc, &off)) {
        lw_local_info li;
        lw_frame_info fi;
        lw_symbolize(pc, &fi);
        if (fi.function[0]) {
            d->function = fi.function;
            d->frame_file = fi.file;
            d->frame_line = fi.line;
        }
        if (lw_symbolize_local(pc, off, &li)) {
            d->variable = li.name;
            d->member = li.path[0] ? li.path : NULL;
            d->decl_file = li.decl_file;
            d->decl_line = li.decl_line;
            d->function = li.function[0] ? li.function : d->function;
        }
    }
    if (d->variable) {
        lw_buf_printf(lb, "local '%s%s' of %s", d->variable, d->member ? d->member : "",
                      d->function ? d->function : "?");
        lw_buf_printf(db, "local variable %s%s of %s", d->variable, d->member ? d->member : "",
                      d->function ? d->function : "?");
        if (d->decl_file)
            lw_buf_printf(db, " declared at %s:%u", d->decl_file, d->decl_line);
        lw_buf_puts(db, ", on the stack of ");
    } else if (d->function) {
        lw_buf_printf(lb, "stack of T%d, frame %s", d->stack_thread, d->function);
        lw_buf_puts(db, "on the stack of ");
    } else if (d->stack_thread >= 0) {
        lw_buf_printf(lb, "stack of T%d", d->stack_thread);
        lw_buf_puts(db, "on the stack of ");
    } else {
        lw_buf_puts(lb, "a thread's stack");
        lw_buf_puts(db, "on a thread's stack");
    }
    if (d->stack_thread >= 0)
        lw_buf_printf(db, "thread T%d", d->stack_thread);
    if (d->function) {
        lw_buf_printf(db, ", in the frame of %s", d->function);
        if (d->frame_file)
            lw_buf_printf(db, " at %s:%u", d->frame_file, d->frame_line);
    }
}

void lw_lock_describe(uintptr_t addr, lw_lock_desc *d)
{
    memset(d, 0, sizeof(*d));
    d->stack_thread = -1;
    lw_buf lb, db;
    lw_buf_init(&lb, d->label, sizeof(d->label));
    lw_buf_init(&db, d->detail, sizeof(d->detail));
    lw_var_info vi;
    if (lw_symbolize_var(addr, &vi)) {
        d->memory = vi.is_static ? "static" : "global";
        d->variable = vi.name;
        d->member = vi.path[0] ? vi.path : NULL;
        d->decl_file = vi.decl_file;
        d->decl_line = vi.decl_line;
        d->atomic = vi.atomic;
        lw_buf_printf(&lb, "%s%s", vi.name, vi.path);
        lw_buf_printf(&db, "%s %s%s", d->memory, vi.name, vi.path);
        if (vi.decl_file)
            lw_buf_printf(&db, " declared at %s:%u", vi.decl_file, vi.decl_line);
        return;
    }
    lw_mem_region r;
    if (!lw_mem_find(addr, &r))
        return;
    switch (r.kind) {
    case LW_MEM_STACK:
        describe_stack(addr, &r, d, &lb, &db);
        break;
    case LW_MEM_HEAP:
    case LW_MEM_ARENA:
    case LW_MEM_ANON:
        d->heap_object = lw_mem_heap_object(addr, &r);
        if (d->heap_object || r.kind != LW_MEM_ANON) {
            d->memory = "heap";
            if (d->heap_object) {
                lw_buf_printf(&lb, "heap object 0x%lx", (unsigned long)d->heap_object);
                if (addr != d->heap_object)
                    lw_buf_printf(&lb, "+0x%lx", (unsigned long)(addr - d->heap_object));
                lw_buf_printf(&db, "in the heap object allocated at 0x%lx",
                              (unsigned long)d->heap_object);
            } else {
                lw_buf_puts(&lb, "heap memory");
                lw_buf_printf(&db, "in heap memory (%s)",
                              r.kind == LW_MEM_HEAP ? "[heap]" : "a thread's malloc arena");
            }
        } else {
            d->memory = "anonymous";
            lw_buf_puts(&lb, "anonymous memory");
            lw_buf_printf(&db, "in an anonymous mapping 0x%lx-0x%lx", (unsigned long)r.lo,
                          (unsigned long)r.hi);
        }
        break;
    case LW_MEM_FILE:
        d->memory = "mapped";
        lw_buf_printf(&lb, "mapped %s+0x%lx", r.path, (unsigned long)(addr - r.lo));
        lw_buf_printf(&db, "in a mapping of %s", r.path);
        break;
    case LW_MEM_UNKNOWN:
        break;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_word(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

void lw_name_message(const char *msg, const uint64_t *ids, const char *const *labels,
                     unsigned n, char *out, size_t cap)
{
    lw_buf b;
    uint64_t done[64];
    unsigned ndone = 0;
    lw_buf_init(&b, out, cap);
    for (const char *p = msg; *p;) {
        if (p[0] != 'M' || !is_digit(p[1]) || (p > msg && is_word(p[-1]))) {
            lw_buf_putc(&b, *p++);
            continue;
        }
        const char *q = p + 1;
        uint64_t id = 0;
        while (is_digit(*q))
            id = id * 10 + (uint64_t)(*q++ - '0');
        const char *label = NULL;
        if (!is_word(*q))
            for (unsigned i = 0; i < n; i++)
                if (ids[i] == id && labels[i] && labels[i][0])
                    label = labels[i];
        for (unsigned i = 0; label && i < ndone; i++)
            if (done[i] == id)
                label = NULL;
        while (p < q)
            lw_buf_putc(&b, *p++);
        if (!label)
            continue;
        if (ndone < LW_ARRAY_SIZE(done))
            done[ndone++] = id;
        if (p[0] == ' ' && p[1] == '(') {
            /* "M3 (0x...)": the label joins what is in the parentheses */
            lw_buf_printf(&b, " (%s, ", label);
            p += 2;
        } else {
            lw_buf_printf(&b, " (%s)", label);
        }
    }
    if (cap && b.len >= cap)
        out[cap - 1] = 0;
}
