/*
 * rules.c: misuse rules and the blocking-call rule (see rules.h).
 * Owns: the "already reported" sets of these rules.
 * Must never: report twice for the same site and locks; hold a lockwatch
 * lock while unwinding or writing a report.
 */
#include "rules.h"
#include "arena.h"
#include "lw_atomic.h"
#include "report.h"
#include "stacks.h"
#include "fmt.h"
#include "lw_core.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ---- once-only sets: 64-bit signatures, open addressing, arena ---- */

/* protects: seen, seen_cap, seen_n */
static lw_mutex seen_lock = LW_MUTEX_INIT;
static uint64_t *seen;
static size_t seen_cap, seen_n;

/* True the first time sig is offered (the caller then reports). */
bool lw_first_time(uint64_t sig)
{
    bool first = false;
    if (sig == 0)
        sig = 1;
    lw_mutex_lock(&seen_lock);
    if (seen_n * 2 >= seen_cap) {
        size_t cap = seen_cap ? seen_cap * 2 : 256;
        uint64_t *nv = lw_arena_alloc(cap * sizeof(*nv));
        if (!nv)
            goto out;   /* cannot remember: stay quiet rather than repeat */
        for (size_t i = 0; i < seen_cap; i++) {
            uint64_t v = seen[i];
            if (!v)
                continue;
            size_t j = v & (cap - 1);
            while (nv[j])
                j = (j + 1) & (cap - 1);
            nv[j] = v;
        }
        seen = nv;
        seen_cap = cap;
    }
    size_t j = sig & (seen_cap - 1);
    while (seen[j]) {
        if (seen[j] == sig)
            goto out;
        j = (j + 1) & (seen_cap - 1);
    }
    seen[j] = sig;
    seen_n++;
    first = true;
out:
    lw_mutex_unlock(&seen_lock);
    return first;
}

void lw_rules_atfork_child(void)
{
    lw_mutex_reset(&seen_lock);
}

/* ---- blocking calls ---- */

const char *lw_family_name(unsigned family)
{
    switch (family) {
    case LW_FAM_SLEEP: return "sleep";
    case LW_FAM_NET: return "net";
    case LW_FAM_PIPE: return "pipe";
    case LW_FAM_FILE: return "file";
    case LW_FAM_WAIT: return "wait";
    }
    return "?";
}

/* Terminals: the tty, console, serial and pseudo-terminal majors. */
static bool is_terminal_major(unsigned major)
{
    return major == 4 || major == 5 || (major >= 136 && major <= 143) || major == 3;
}

unsigned lw_fd_family(int fd)
{
    struct stat st;
    int saved = errno;
    unsigned fam = 0;
    if (fstat(fd, &st) == 0) {
        if (S_ISSOCK(st.st_mode))
            fam = LW_FAM_NET;
        else if (S_ISFIFO(st.st_mode))
            fam = LW_FAM_PIPE;
        else if (S_ISCHR(st.st_mode))
            fam = is_terminal_major(major(st.st_rdev)) ? LW_FAM_PIPE : 0;
        else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
            fam = LW_FAM_FILE;
        /* A non-blocking socket, pipe or terminal returns at once. */
        if (fam & (LW_FAM_NET | LW_FAM_PIPE)) {
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0 && (fl & O_NONBLOCK))
                fam = 0;
        }
    }
    errno = saved;
    return fam;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Once per (call site, set of held locks). */
static uint64_t blocking_sig(const lw_thread *t, uintptr_t pc, uintptr_t except)
{
    uint64_t s = lw_hash_mix(pc, 0xb10c);
    for (unsigned i = 0; i < t->nheld; i++)
        if ((uintptr_t)t->held[i].lock->h.k1 != except)
            s += lw_hash_mix(t->held[i].id, 1);   /* order-independent */
    return s;
}

static unsigned held_except(const lw_thread *t, uintptr_t except)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->nheld; i++)
        n += (uintptr_t)lw_load_relaxed(&t->held[i].lock->h.k1) != except;
    return n;
}

static void blocking_report(lw_thread *t, const lw_block_ctx *c, uint64_t elapsed_us)
{
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    uint32_t stack = lw_depot_put(pcs, n < depth ? n : depth);
    lw_issue *r = lw_issue_new("blocking-call-under-lock", "blocking call while holding a lock");
    if (!r)
        return;
    lw_thread_snap *ts = lw_issue_self(r, t, stack, pcs, sps, n);
    /* The condvar's own mutex is released by the wait: not "held". */
    if (ts && c->except) {
        unsigned k = 0;
        for (unsigned i = 0; i < ts->nholds; i++)
            if (ts->holds[i].lock.addr != c->except)
                ts->holds[k++] = ts->holds[i];
        ts->nholds = k;
    }
    unsigned nh = ts ? ts->nholds : 0;
    lw_buf b;
    if (ts) {
        lw_buf_init(&b, ts->what, sizeof(ts->what));
        lw_buf_printf(&b, "called %s() (%s) here", c->call, lw_family_name(c->family));
    }
    lw_buf_init(&b, r->message, sizeof(r->message));
    lw_buf_printf(&b, "%s() may block (%s) while the thread holds %u lock%s", c->call,
                  lw_family_name(c->family), nh, nh == 1 ? "" : "s");
    if (elapsed_us != UINT64_MAX)
        lw_buf_printf(&b, "; it took %lu us", (unsigned long)elapsed_us);
    lw_buf_init(&b, r->extra_json, sizeof(r->extra_json));
    lw_buf_puts(&b, ",\"call\":{\"function\":");
    lw_buf_json_str(&b, c->call);
    lw_buf_printf(&b, ",\"family\":\"%s\",\"elapsed_us\":", lw_family_name(c->family));
    if (elapsed_us != UINT64_MAX)
        lw_buf_printf(&b, "%lu}", (unsigned long)elapsed_us);
    else
        lw_buf_puts(&b, "null}");
    lw_report_issue(r);
}

static void blocking_begin(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                           uintptr_t cfa, uintptr_t except)
{
    lw_thread *t = &lw_self;
    c->call = call;
    c->family = family;
    c->pc = pc;
    c->cfa = cfa;
    c->except = except;
    c->active = false;
    if (!(family & lw_blocking_families) || t->guard)
        return;
    t->guard++;
    int e = errno;
    if (held_except(t, except) > 0 && lw_load_relaxed(&lw_core_ready)) {
        uint64_t sig = blocking_sig(t, pc, except);
        if (lw_opt.blocking_min_us == 0) {
            if (lw_first_time(sig))
                blocking_report(t, c, UINT64_MAX);
        } else {
            c->active = true;
            c->start_ns = now_ns();
        }
    }
    errno = e;
    t->guard--;
}

void lw_blocking_before(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                        uintptr_t cfa)
{
    blocking_begin(c, call, family, pc, cfa, 0);
}

void lw_blocking_before_except(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                               uintptr_t cfa, uintptr_t except)
{
    blocking_begin(c, call, family, pc, cfa, except);
}

void lw_blocking_after(lw_block_ctx *c)
{
    lw_thread *t = &lw_self;
    if (!c->active || t->guard)
        return;
    t->guard++;
    int e = errno;
    uint64_t us = (now_ns() - c->start_ns) / 1000;
    if (us >= (uint64_t)lw_opt.blocking_min_us && held_except(t, c->except) > 0 &&
        lw_first_time(blocking_sig(t, c->pc, c->except)))
        blocking_report(t, c, us);
    errno = e;
    t->guard--;
}
