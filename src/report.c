/*
 * report.c: text and JSON Lines reports, the report stream, the exit status.
 * Owns: the report file descriptor, the report count.
 * Must never: hold report_lock while symbolising or formatting (only while
 * writing), use stdio or malloc, or change errno seen by the program.
 */
#include "report.h"
#include "arena.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "options.h"
#include "stacks.h"
#include "lw_core.h"
#include "thread.h"
#include "lw_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define LW_REPORT_BUF   (256u << 10)
#define LW_REPORT_FD_MIN 500
#define LW_MAX_STACKS   (4 * LW_MAX_CYCLE + 8)

/* protects: log_fd, log_opened; writes to the stream */
static lw_mutex report_lock = LW_MUTEX_INIT;
static int err_fd = -1;        /* our duplicate of stderr */
static int log_fd = -1;
static bool log_opened;
static uint64_t nreports;      /* atomic */

void lw_report_init(void)
{
    err_fd = lw_sys_fcntl(2, F_DUPFD_CLOEXEC, LW_REPORT_FD_MIN);
}

static void expand_log_path(char *out, size_t cap)
{
    lw_buf b;
    lw_buf_init(&b, out, cap);
    for (const char *p = lw_opt.log; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            lw_buf_printf(&b, "%d", (int)getpid());
            p++;
        } else {
            lw_buf_putc(&b, *p);
        }
    }
}

/* Under report_lock. */
static int stream_fd(void)
{
    if (lw_opt.log[0] && !log_opened) {
        char path[1024];
        log_opened = true;
        expand_log_path(path, sizeof(path));
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            lw_buf b;
            char mem[1200];
            lw_buf_init(&b, mem, sizeof(mem));
            lw_buf_printf(&b, "lockwatch: warning: cannot open LOCKWATCH_LOG file \"%s\" (errno %d); "
                          "reporting to stderr\n", path, errno);
            lw_buf_write(&b, err_fd >= 0 ? err_fd : 2);
        } else if (log_fd < LW_REPORT_FD_MIN) {
            int hi = lw_sys_fcntl(log_fd, F_DUPFD_CLOEXEC, LW_REPORT_FD_MIN);
            if (hi >= 0) {
                close(log_fd);
                log_fd = hi;
            }
        }
    }
    if (log_fd >= 0)
        return log_fd;
    return err_fd >= 0 ? err_fd : 2;
}

void lw_report_write(const char *p, size_t len, bool counts)
{
    int saved = errno;
    lw_buf b = { (char *)p, len, len + 1, false };
    lw_mutex_lock(&report_lock);
    lw_buf_write(&b, stream_fd());
    if (counts)
        lw_fetch_add_acq_rel(&nreports, 1);
    lw_mutex_unlock(&report_lock);
    errno = saved;
}

uint64_t lw_report_count(void)
{
    return lw_load_acquire(&nreports);
}

int lw_exit_status(int status)
{
    if (lw_report_count() > 0 && lw_opt.exitcode != 0)
        return (int)lw_opt.exitcode;
    return status;
}

void lw_warn_once(int *once, const char *fmt, ...)
{
    if (lw_xchg_acq_rel(once, 1))
        return;
    char mem[1024];
    lw_buf b;
    va_list ap;
    lw_buf_init(&b, mem, sizeof(mem));
    va_start(ap, fmt);
    lw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    int saved = errno;
    lw_buf_write(&b, err_fd >= 0 ? err_fd : 2);
    errno = saved;
}

static lw_pool ws_pool, issue_pool;

void lw_report_atfork_prepare(void)
{
    lw_mutex_lock(&report_lock);
    lw_mutex_lock(&ws_pool.lock);
    lw_mutex_lock(&issue_pool.lock);
}

void lw_report_atfork_parent(void)
{
    lw_mutex_unlock(&issue_pool.lock);
    lw_mutex_unlock(&ws_pool.lock);
    lw_mutex_unlock(&report_lock);
}

void lw_report_atfork_child(void)
{
    lw_mutex_reset(&issue_pool.lock);
    lw_mutex_reset(&ws_pool.lock);
    lw_mutex_reset(&report_lock);
    /* The child is a process of its own: its own count, and its own file
     * when the path names the pid. */
    nreports = 0;
    if (strstr(lw_opt.log, "%p") && log_fd >= 0) {
        close(log_fd);
        log_fd = -1;
        log_opened = false;
    }
}

/* ---- building reports ---- */

void lw_snap_lock(const lw_lock *l, lw_lock_snap *s)
{
    s->id = l->id;
    s->addr = (uintptr_t)lw_load_relaxed(&l->h.k1);
    s->kind = l->kind;
    s->mtype = l->mtype;
    s->first_how = l->first_how;
    s->first_pc = l->first_pc;
    s->name = lw_lock_name(s->addr);
}

typedef struct {
    lw_buf b;
    char mem[LW_REPORT_BUF];
    uint32_t stack_ids[LW_MAX_STACKS];   /* depot ids, index = report's stack index */
    unsigned nstacks;
    const lw_lock_snap *locks[LW_MAX_CYCLE];
    unsigned nlocks;
    const lw_edge_origin *threads[LW_MAX_CYCLE];
    unsigned nthreads;
} workspace;

static lw_pool ws_pool = LW_POOL_INIT(sizeof(workspace));


/* Index of a depot stack in this report, or -1 for none. */
static int stack_index(workspace *w, uint32_t id)
{
    if (!id)
        return -1;
    for (unsigned i = 0; i < w->nstacks; i++)
        if (w->stack_ids[i] == id)
            return (int)i;
    if (w->nstacks == LW_MAX_STACKS)
        return -1;
    w->stack_ids[w->nstacks] = id;
    return (int)w->nstacks++;
}

static uint32_t site_stack(uintptr_t pc)
{
    return pc ? lw_depot_put(&pc, 1) : 0;
}

static const char *kind_name(unsigned kind)
{
    switch (kind) {
    case LW_KIND_MUTEX: return "mutex";
    case LW_KIND_RWLOCK: return "rwlock";
    case LW_KIND_SPIN: return "spinlock";
    case LW_KIND_C11_MUTEX: return "c11-mutex";
    case LW_KIND_COND: return "condvar";
    }
    return "lock";
}

static const char *kind_title(unsigned kind)
{
    switch (kind) {
    case LW_KIND_RWLOCK: return "RWLock";
    case LW_KIND_SPIN: return "Spinlock";
    case LW_KIND_C11_MUTEX: return "Mutex (C11)";
    case LW_KIND_COND: return "Condvar";
    }
    return "Mutex";
}

static const char *first_seen_name(unsigned how)
{
    return how == LW_FIRST_INITIALISED ? "initialised" : how == LW_FIRST_USED ? "used" : "locked";
}

static const char *mtype_name(const lw_lock_snap *l)
{
    if (l->kind != LW_KIND_MUTEX && l->kind != LW_KIND_C11_MUTEX)
        return NULL;
    switch (l->mtype) {
    case LW_MTYPE_RECURSIVE: return "recursive";
    case LW_MTYPE_ERRORCHECK: return "errorcheck";
    case LW_MTYPE_ADAPTIVE: return "adaptive";
    }
    return "normal";
}

static void thread_label(char *out, size_t cap, uint32_t num)
{
    lw_buf b;
    lw_buf_init(&b, out, cap);
    lw_buf_printf(&b, "T%u", num);
}

static void text_stack_at(workspace *w, uint32_t id, const char *none, const char *indent)
{
    const lw_stack *st = lw_depot_get(id);
    if (!st || st->n == 0) {
        lw_buf_printf(&w->b, "%s%s\n", indent, none);
        return;
    }
    for (unsigned i = 0; i < st->n; i++) {
        lw_frame_info fi;
        lw_symbolize(st->pc[i], &fi);
        if (fi.function[0])
            lw_buf_printf(&w->b, "%s#%u 0x%lx in %s %s+0x%lx\n", indent, i, (unsigned long)fi.pc,
                          fi.function, fi.module, (unsigned long)fi.offset);
        else
            lw_buf_printf(&w->b, "%s#%u 0x%lx (%s+0x%lx)\n", indent, i, (unsigned long)fi.pc,
                          fi.module, (unsigned long)fi.offset);
    }
}

static void text_stack(workspace *w, uint32_t id, const char *none)
{
    text_stack_at(w, id, none, "    ");
}

static void first_function(uint32_t id, char *out, size_t cap)
{
    const lw_stack *st = lw_depot_get(id);
    out[0] = 0;
    if (!st || !st->n)
        return;
    lw_frame_info fi;
    lw_symbolize(st->pc[0], &fi);
    lw_buf b;
    lw_buf_init(&b, out, cap);
    if (fi.function[0])
        lw_buf_printf(&b, "%s", fi.function);
    else
        lw_buf_printf(&b, "%s+0x%lx", fi.module, (unsigned long)fi.offset);
}

static void collect(workspace *w, const lw_cycle_snap *c)
{
    w->nlocks = w->nthreads = w->nstacks = 0;
    for (unsigned i = 0; i < c->n; i++) {
        w->locks[w->nlocks++] = &c->e[i].from;
        bool seen = false;
        for (unsigned j = 0; j < w->nthreads; j++)
            seen |= w->threads[j]->thread == c->e[i].origin.thread;
        if (!seen)
            w->threads[w->nthreads++] = &c->e[i].origin;
    }
    /* Stack indices in the order a reader meets them. */
    for (unsigned i = 0; i < c->n; i++) {
        stack_index(w, c->e[i].origin.stack_to);
        stack_index(w, c->e[i].origin.stack_from);
    }
}

static void write_text(workspace *w, const lw_cycle_snap *c)
{
    lw_buf *b = &w->b;
    lw_buf_printf(b, "==================\nWARNING: lockwatch: lock-order inversion "
                  "(potential deadlock) (pid=%d)\n  Cycle in lock order graph: ", (int)getpid());
    for (unsigned i = 0; i < c->n; i++)
        lw_buf_printf(b, "M%lu (%p) => ", (unsigned long)c->e[i].from.id,
                      (void *)c->e[i].from.addr);
    lw_buf_printf(b, "M%lu\n", (unsigned long)c->e[0].from.id);

    for (unsigned i = 0; i < c->n; i++) {
        const lw_edge_snap *e = &c->e[i];
        char tl[16];
        thread_label(tl, sizeof(tl), e->origin.thread);
        lw_buf_printf(b, "\n  %s M%lu %sacquired here while holding %s M%lu%s in thread %s (tid=%d):\n",
                      kind_title(e->to.kind), (unsigned long)e->to.id,
                      (e->modes & LW_EM_TO_WRITE) ? (e->to.kind == LW_KIND_RWLOCK ? "write-" : "")
                                                  : "read-",
                      e->from.kind == LW_KIND_RWLOCK ? "rwlock" : "mutex",
                      (unsigned long)e->from.id,
                      e->from.kind != LW_KIND_RWLOCK ? ""
                      : (e->modes & LW_EM_FROM_WRITE) ? " (for writing)" : " (for reading)",
                      tl, e->origin.tid);
        text_stack(w, e->origin.stack_to, "<no backtrace>");
        lw_buf_printf(b, "  %s M%lu previously acquired by the same thread here:\n",
                      kind_title(e->from.kind), (unsigned long)e->from.id);
        text_stack(w, e->origin.stack_from, "<no backtrace>");
    }
    lw_buf_puts(b, "\n");
    for (unsigned i = 0; i < w->nlocks; i++) {
        const lw_lock_snap *l = w->locks[i];
        const char *t = mtype_name(l);
        lw_buf_printf(b, "  %s M%lu (%p%s%s%s%s%s%s) first %s at:\n", kind_title(l->kind),
                      (unsigned long)l->id, (void *)l->addr, t ? ", " : "", t ? t : "",
                      t ? " mutex" : "",
                      l->name ? ", \"" : "", l->name ? l->name : "", l->name ? "\"" : "",
                      first_seen_name(l->first_how));
        text_stack(w, site_stack(l->first_pc), "<unknown>");
    }
    for (unsigned i = 0; i < w->nthreads; i++) {
        const lw_edge_origin *o = w->threads[i];
        if (o->thread == 0) {
            lw_buf_printf(b, "  Thread T0 (tid=%d) is the main thread\n", o->tid);
            continue;
        }
        char pl[16];
        thread_label(pl, sizeof(pl), o->parent);
        if (o->created_seen) {
            lw_buf_printf(b, "  Thread T%u (tid=%d) created by %s%s at:\n", o->thread, o->tid,
                          o->parent == 0 ? "main thread" : "thread ", o->parent == 0 ? "" : pl);
            text_stack(w, o->thread_stack, "<no backtrace>");
        } else {
            lw_buf_printf(b, "  Thread T%u (tid=%d) was not seen created\n", o->thread, o->tid);
        }
    }
    char fn[160];
    first_function(c->e[0].origin.stack_to, fn, sizeof(fn));
    lw_buf_printf(b, "\nSUMMARY: lockwatch: lock-order inversion (potential deadlock)%s%s\n"
                  "==================\n", fn[0] ? " in " : "", fn);
}

static void json_stacks(workspace *w);
static void json_lock(workspace *w, const lw_lock_snap *l, bool first, const char *role,
                      int stack_idx);

static void json_stack_ref(lw_buf *b, int idx)
{
    if (idx < 0)
        lw_buf_puts(b, "null");
    else
        lw_buf_printf(b, "%d", idx);
}

static void write_json(workspace *w, const lw_cycle_snap *c)
{
    lw_buf *b = &w->b;

    /* message */
    char msg[2048];
    lw_buf mb;
    lw_buf_init(&mb, msg, sizeof(msg));
    lw_buf_puts(&mb, "lock-order inversion (potential deadlock): ");
    for (unsigned i = 0; i < c->n; i++)
        lw_buf_printf(&mb, "M%lu => ", (unsigned long)c->e[i].from.id);
    lw_buf_printf(&mb, "M%lu", (unsigned long)c->e[0].from.id);

    lw_buf_puts(b, "{\"kind\":\"lock-order-inversion\",\"message\":");
    lw_buf_json_str(b, msg);
    lw_buf_printf(b, ",\"pid\":%d,\"threads\":[", (int)getpid());
    for (unsigned i = 0; i < w->nthreads; i++) {
        const lw_edge_origin *o = w->threads[i];
        lw_buf_printf(b, "%s{\"id\":\"T%u\",\"tid\":%d,\"name\":", i ? "," : "", o->thread, o->tid);
        lw_buf_json_str(b, o->thread_name);
        if (o->thread == 0 || !o->created_seen) {
            lw_buf_puts(b, ",\"created_by\":null,\"created_stack\":null}");
        } else {
            lw_buf_printf(b, ",\"created_by\":\"T%u\",\"created_stack\":", o->parent);
            json_stack_ref(b, stack_index(w, o->thread_stack));
            lw_buf_puts(b, "}");
        }
    }
    lw_buf_puts(b, "],\"locks\":[");
    for (unsigned i = 0; i < w->nlocks; i++)
        json_lock(w, w->locks[i], i == 0, NULL, -1);
    lw_buf_puts(b, "],\"cycle\":[");
    for (unsigned i = 0; i < c->n; i++) {
        const lw_edge_snap *e = &c->e[i];
        lw_buf_printf(b, "%s{\"from\":\"M%lu\",\"to\":\"M%lu\",\"thread\":\"T%u\","
                      "\"from_mode\":\"%s\",\"to_mode\":\"%s\",\"stack\":",
                      i ? "," : "", (unsigned long)e->from.id, (unsigned long)e->to.id,
                      e->origin.thread, (e->modes & LW_EM_FROM_WRITE) ? "write" : "read",
                      (e->modes & LW_EM_TO_WRITE) ? "write" : "read");
        json_stack_ref(b, stack_index(w, e->origin.stack_to));
        lw_buf_puts(b, ",\"held_stack\":");
        json_stack_ref(b, stack_index(w, e->origin.stack_from));
        lw_buf_puts(b, "}");
    }
    lw_buf_puts(b, "]");
    json_stacks(w);
    lw_buf_puts(b, "}\n");
    if (b->truncated) {
        /* Never emit a broken JSON line: say so in a minimal valid one. */
        lw_buf_init(b, w->mem, sizeof(w->mem));
        lw_buf_puts(b, "{\"kind\":\"lock-order-inversion\",\"message\":");
        lw_buf_json_str(b, msg);
        lw_buf_printf(b, ",\"pid\":%d,\"threads\":[],\"locks\":[],\"stacks\":[],"
                      "\"truncated\":true}\n", (int)getpid());
    }
}

void lw_report_inversion(const lw_cycle_snap *c)
{
    workspace *w = lw_pool_get(&ws_pool);
    if (!w)
        return;
    lw_buf_init(&w->b, w->mem, sizeof(w->mem));
    collect(w, c);
    if (lw_opt.format == LW_FORMAT_JSON)
        write_json(w, c);
    else
        write_text(w, c);
    lw_report_write(w->b.p, w->b.len, true);
    lw_pool_put(&ws_pool, w);
}

/* ---- problem reports other than inversions ---- */

static lw_pool issue_pool = LW_POOL_INIT(sizeof(lw_issue));

lw_issue *lw_issue_new(const char *kind, const char *title)
{
    lw_issue *r = lw_pool_get(&issue_pool);
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->title = title;
    return r;
}

void lw_issue_free(lw_issue *r)
{
    if (r)
        lw_pool_put(&issue_pool, r);
}

lw_thread_snap *lw_issue_self(lw_issue *r, lw_thread *t, uint32_t stack, const uintptr_t *pcs,
                              const uintptr_t *sps, unsigned n)
{
    if (r->nthreads == LW_REP_MAX_THREADS)
        return NULL;
    lw_thread_snap *ts = &r->threads[r->nthreads++];
    ts->num = t->num;
    ts->parent = t->parent;
    ts->tid = t->tid;
    lw_thread_refresh_name(t);
    memcpy(ts->name, t->name, sizeof(ts->name));
    ts->created_seen = t->created_seen;
    ts->create_stack = t->create_stack;
    ts->stack = stack;
    ts->waits_lock = -1;
    ts->waits_thread = -1;
    for (unsigned i = 0; i < t->nheld && ts->nholds < LW_REP_MAX_HOLDS; i++) {
        const lw_held *h = &t->held[i];
        lw_hold_snap *hs = &ts->holds[ts->nholds++];
        lw_snap_lock(h->lock, &hs->lock);
        hs->lock.id = h->id;
        hs->mode = h->mode;
        hs->stack = pcs ? lw_stack_of_held(h->pc, h->cfa, pcs, sps, n)
                        : site_stack(h->pc);
    }
    return ts;
}

int lw_issue_add_lock(lw_issue *r, const lw_lock_snap *l, const char *role, uint32_t stack)
{
    for (unsigned i = 0; i < r->nlocks; i++)
        if (r->locks[i].lock.id == l->id && r->locks[i].lock.addr == l->addr)
            return (int)i;
    if (r->nlocks == LW_REP_MAX_LOCKS)
        return -1;
    unsigned i = r->nlocks++;
    r->locks[i].lock = *l;
    r->locks[i].stack = stack;
    if (role) {
        size_t len = strlen(role);
        if (len >= sizeof(r->locks[i].role))
            len = sizeof(r->locks[i].role) - 1;
        memcpy(r->locks[i].role, role, len);
        r->locks[i].role[len] = 0;
    }
    return (int)i;
}

static const char *mode_name(uint32_t mode)
{
    return mode == LW_MODE_READ ? "read" : "write";
}

static void lock_phrase(lw_buf *b, const lw_lock_snap *l)
{
    const char *t = mtype_name(l);
    lw_buf_printf(b, "%s M%lu (%p%s%s%s%s%s%s)", kind_title(l->kind), (unsigned long)l->id,
                  (void *)l->addr, t ? ", " : "", t ? t : "", t ? " mutex" : "",
                  l->name ? ", \"" : "", l->name ? l->name : "", l->name ? "\"" : "");
}

static void issue_text(workspace *w, const lw_issue *r)
{
    lw_buf *b = &w->b;
    lw_buf_printf(b, "==================\nWARNING: lockwatch: %s (pid=%d)\n  %s\n", r->title,
                  (int)getpid(), r->message);
    for (unsigned i = 0; i < r->nthreads; i++) {
        const lw_thread_snap *ts = &r->threads[i];
        lw_buf_printf(b, "\n  Thread T%u (tid=%d%s%s%s) %s:\n", ts->num, ts->tid,
                      ts->name[0] ? ", \"" : "", ts->name, ts->name[0] ? "\"" : "", ts->what);
        text_stack(w, ts->stack, "<no backtrace>");
        for (unsigned h = 0; h < ts->nholds; h++) {
            const lw_hold_snap *hs = &ts->holds[h];
            lw_buf_puts(b, "    holding ");
            lock_phrase(b, &hs->lock);
            lw_buf_printf(b, "%s, acquired here:\n",
                          hs->lock.kind == LW_KIND_RWLOCK
                              ? (hs->mode == LW_MODE_READ ? " for reading" : " for writing")
                              : "");
            text_stack_at(w, hs->stack, "<no backtrace>", "      ");
        }
        if (ts->nholds == 0)
            lw_buf_puts(b, "    holding no locks\n");
    }
    for (unsigned i = 0; i < r->nlocks; i++) {
        lw_buf_puts(b, "\n  ");
        lock_phrase(b, &r->locks[i].lock);
        if (r->locks[i].role[0]) {
            lw_buf_printf(b, " %s:\n", r->locks[i].role);
            text_stack(w, r->locks[i].stack, "<no backtrace>");
        } else {
            lw_buf_printf(b, " first %s at:\n",
                          first_seen_name(r->locks[i].lock.first_how));
            text_stack(w, site_stack(r->locks[i].lock.first_pc), "<unknown>");
        }
    }
    lw_buf_puts(b, "\n");
    for (unsigned i = 0; i < r->nthreads; i++) {
        const lw_thread_snap *ts = &r->threads[i];
        if (ts->num == 0) {
            lw_buf_printf(b, "  Thread T0 (tid=%d) is the main thread\n", ts->tid);
        } else if (ts->created_seen) {
            char pl[16];
            thread_label(pl, sizeof(pl), ts->parent);
            lw_buf_printf(b, "  Thread T%u (tid=%d) created by %s%s at:\n", ts->num, ts->tid,
                          ts->parent == 0 ? "main thread" : "thread ", ts->parent == 0 ? "" : pl);
            text_stack(w, ts->create_stack, "<no backtrace>");
        } else {
            lw_buf_printf(b, "  Thread T%u (tid=%d) was not seen created\n", ts->num, ts->tid);
        }
    }
    char fn[160] = "";
    if (r->nthreads)
        first_function(r->threads[0].stack, fn, sizeof(fn));
    lw_buf_printf(b, "\nSUMMARY: lockwatch: %s%s%s\n==================\n", r->kind,
                  fn[0] ? " in " : "", fn);
}

static void json_lock(workspace *w, const lw_lock_snap *l, bool first, const char *role,
                      int stack_idx)
{
    lw_buf *b = &w->b;
    const char *t = mtype_name(l);
    lw_buf_printf(b, "%s{\"id\":\"M%lu\",\"address\":\"0x%lx\",\"kind\":\"%s\",\"type\":",
                  first ? "" : ",", (unsigned long)l->id, (unsigned long)l->addr,
                  kind_name(l->kind));
    if (t)
        lw_buf_json_str(b, t);
    else
        lw_buf_puts(b, "null");
    lw_buf_puts(b, ",\"name\":");
    if (l->name)
        lw_buf_json_str(b, l->name);
    else
        lw_buf_puts(b, "null");
    lw_buf_printf(b, ",\"first_seen\":\"%s\",\"first_stack\":",
                  first_seen_name(l->first_how));
    json_stack_ref(b, stack_index(w, site_stack(l->first_pc)));
    if (role) {
        lw_buf_puts(b, ",\"role\":");
        lw_buf_json_str(b, role);
        lw_buf_puts(b, ",\"stack\":");
        json_stack_ref(b, stack_idx);
    }
    lw_buf_puts(b, "}");
}

static void json_stacks(workspace *w)
{
    lw_buf *b = &w->b;
    lw_buf_puts(b, ",\"stacks\":[");
    for (unsigned s = 0; s < w->nstacks; s++) {
        const lw_stack *st = lw_depot_get(w->stack_ids[s]);
        lw_buf_puts(b, s ? ",[" : "[");
        for (unsigned i = 0; st && i < st->n; i++) {
            lw_frame_info fi;
            lw_symbolize(st->pc[i], &fi);
            lw_buf_printf(b, "%s{\"pc\":\"0x%lx\",\"module\":", i ? "," : "", (unsigned long)fi.pc);
            lw_buf_json_str(b, fi.module);
            lw_buf_printf(b, ",\"offset\":\"0x%lx\"", (unsigned long)fi.offset);
            if (fi.function[0]) {
                lw_buf_puts(b, ",\"function\":");
                lw_buf_json_str(b, fi.function);
            }
            lw_buf_puts(b, "}");
        }
        lw_buf_puts(b, "]");
    }
    lw_buf_puts(b, "]");
}

static void issue_json(workspace *w, const lw_issue *r)
{
    lw_buf *b = &w->b;
    lw_buf_puts(b, "{\"kind\":");
    lw_buf_json_str(b, r->kind);
    lw_buf_puts(b, ",\"message\":");
    lw_buf_json_str(b, r->message);
    lw_buf_printf(b, ",\"pid\":%d,\"threads\":[", (int)getpid());
    for (unsigned i = 0; i < r->nthreads; i++) {
        const lw_thread_snap *ts = &r->threads[i];
        lw_buf_printf(b, "%s{\"id\":\"T%u\",\"tid\":%d,\"name\":", i ? "," : "", ts->num,
                      ts->tid);
        lw_buf_json_str(b, ts->name);
        if (ts->num == 0 || !ts->created_seen) {
            lw_buf_puts(b, ",\"created_by\":null,\"created_stack\":null");
        } else {
            lw_buf_printf(b, ",\"created_by\":\"T%u\",\"created_stack\":", ts->parent);
            json_stack_ref(b, stack_index(w, ts->create_stack));
        }
        lw_buf_puts(b, ",\"action\":");
        lw_buf_json_str(b, ts->what);
        lw_buf_puts(b, ",\"stack\":");
        json_stack_ref(b, stack_index(w, ts->stack));
        lw_buf_puts(b, ",\"waits_for\":");
        if (ts->waits_lock >= 0)
            lw_buf_printf(b, "\"M%lu\"", (unsigned long)r->locks[ts->waits_lock].lock.id);
        else if (ts->waits_thread >= 0)
            lw_buf_printf(b, "\"T%d\"", ts->waits_thread);
        else
            lw_buf_puts(b, "null");
        lw_buf_puts(b, ",\"holds\":[");
        for (unsigned h = 0; h < ts->nholds; h++) {
            const lw_hold_snap *hs = &ts->holds[h];
            lw_buf_printf(b, "%s{\"lock\":\"M%lu\",\"mode\":\"%s\",\"stack\":", h ? "," : "",
                          (unsigned long)hs->lock.id, mode_name(hs->mode));
            json_stack_ref(b, stack_index(w, hs->stack));
            lw_buf_puts(b, "}");
        }
        lw_buf_puts(b, "]}");
    }
    lw_buf_puts(b, "],\"locks\":[");
    /* Every lock the report names, once: the report's own, then held ones. */
    bool first = true;
    for (unsigned i = 0; i < r->nlocks; i++) {
        json_lock(w, &r->locks[i].lock, first, r->locks[i].role[0] ? r->locks[i].role : NULL,
                  stack_index(w, r->locks[i].stack));
        first = false;
    }
    for (unsigned i = 0; i < r->nthreads; i++) {
        for (unsigned h = 0; h < r->threads[i].nholds; h++) {
            const lw_lock_snap *l = &r->threads[i].holds[h].lock;
            bool dup = false;
            for (unsigned k = 0; k < r->nlocks && !dup; k++)
                dup = r->locks[k].lock.id == l->id;
            for (unsigned j = 0; j <= i && !dup; j++)
                for (unsigned k = 0; k < (j < i ? r->threads[j].nholds : h) && !dup; k++)
                    dup = r->threads[j].holds[k].lock.id == l->id;
            if (!dup) {
                json_lock(w, l, first, NULL, -1);
                first = false;
            }
        }
    }
    lw_buf_puts(b, "]");
    lw_buf_puts(b, r->extra_json);
    json_stacks(w);
    lw_buf_puts(b, "}\n");
    if (b->truncated) {
        lw_buf_init(b, w->mem, sizeof(w->mem));
        lw_buf_puts(b, "{\"kind\":");
        lw_buf_json_str(b, r->kind);
        lw_buf_puts(b, ",\"message\":");
        lw_buf_json_str(b, r->message);
        lw_buf_printf(b, ",\"pid\":%d,\"threads\":[],\"locks\":[],\"stacks\":[],"
                      "\"truncated\":true}\n", (int)getpid());
    }
}

void lw_report_issue(lw_issue *r)
{
    workspace *w = lw_pool_get(&ws_pool);
    if (w) {
        lw_buf_init(&w->b, w->mem, sizeof(w->mem));
        w->nstacks = 0;
        if (lw_opt.format == LW_FORMAT_JSON)
            issue_json(w, r);
        else
            issue_text(w, r);
        lw_report_write(w->b.p, w->b.len, true);
        lw_pool_put(&ws_pool, w);
    }
    lw_issue_free(r);
}
