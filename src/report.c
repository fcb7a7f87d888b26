/*
 * report.c: the writer.  Formats a finding (finding.h) as a text report or
 * a JSON line and writes it to the report stream (a private duplicate of
 * stderr, or LOCKWATCH_LOG).  Owns: the report file descriptor.
 * Knows of the core only the finding record: it sees stacks through the
 * depot and the symboliser (stacks.h), never a lock node or a thread.
 * Must never: hold report_lock while symbolising or formatting (only while
 * writing), use stdio or malloc, or change errno seen by the program.
 */
#include "report.h"
#include "finding.h"
#include "arena.h"
#include "fmt.h"
#include "log.h"
#include "lw_atomic.h"
#include "options.h"
#include "stacks.h"
#include "lockname.h"
#include "lw_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LW_REPORT_BUF   (256u << 10)
#define LW_MAX_STACKS   (4 * LW_MAX_CYCLE + LW_F_MAX_HOLDS + 8)

/* protects: writes to the stream (log.c's channels) */
static lw_mutex report_lock = LW_MUTEX_INIT;

/* The command line, read once at start-up (/proc/self/cmdline: argv[0],
 * NUL, argv[1], NUL, ...), for the program and args members of every JSON
 * record.  Written by lw_report_init only, before any report; read by
 * report writers.  A longer command line is cut at a whole argument and
 * args_truncated says so. */
#define LW_CMDLINE_MAX 8192
static char cmdline[LW_CMDLINE_MAX];
static unsigned cmdline_len;      /* bytes of whole arguments, each ending in NUL */
static bool cmdline_truncated;

static void read_cmdline(void)
{
    int fd = lw_sys_open_read("/proc/self/cmdline");
    if (fd < 0)
        return;
    unsigned n = 0;
    long r;
    while (n < sizeof(cmdline) && (r = lw_sys_read(fd, cmdline + n, sizeof(cmdline) - n)) > 0)
        n += (unsigned)r;
    if (n == sizeof(cmdline)) {
        char more;
        cmdline_truncated = lw_sys_read(fd, &more, 1) > 0 || cmdline[n - 1] != '\0';
    }
    lw_sys_close(fd);
    /* Keep whole arguments only. */
    while (n > 0 && cmdline[n - 1] != '\0') {
        n--;
        cmdline_truncated = true;
    }
    cmdline_len = n;
}

void lw_report_init(void)
{
    lw_log_init();
    lw_out_set_log(lw_opt.log);
    read_cmdline();
}

/* Days since 1970-01-01 -> civil date (Howard Hinnant's days_from_civil,
 * inverted); no gmtime: no locale or time zone state on a report path. */
static void civil_from_days(long z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = (long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

/* ,"ppid":..,"program":..,"args":[..],"time":..,"version":.. (after pid):
 * which process wrote the record, and when. */
static void json_process(lw_buf *b)
{
    struct timespec ts = { 0, 0 };
    lw_syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    long days = (long)(ts.tv_sec / 86400), secs = (long)(ts.tv_sec % 86400);
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    lw_buf_printf(b, ",\"ppid\":%d,\"program\":", (int)lw_syscall(SYS_getppid));
    const char *arg = cmdline, *end = cmdline + cmdline_len;
    if (arg < end) {
        lw_buf_json_str(b, arg);
        arg += strlen(arg) + 1;
    } else {
        lw_buf_puts(b, "null");
    }
    lw_buf_puts(b, ",\"args\":[");
    for (bool first = true; arg < end; arg += strlen(arg) + 1, first = false) {
        if (!first)
            lw_buf_putc(b, ',');
        lw_buf_json_str(b, arg);
    }
    lw_buf_puts(b, "]");
    if (cmdline_truncated)
        lw_buf_puts(b, ",\"args_truncated\":true");
    lw_buf_printf(b, ",\"time\":\"%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ\",\"version\":",
                  y, mo, d, secs / 3600, secs / 60 % 60, secs % 60, (long)(ts.tv_nsec / 1000000));
    lw_buf_json_str(b, PACKAGE_VERSION);
}

static void stream_write(const char *p, size_t len)
{
    lw_mutex_lock(&report_lock);
    lw_out_report(p, len);
    lw_mutex_unlock(&report_lock);
}

typedef struct {
    void *pool_link;          /* first word: pool free list */
    lw_buf b;
    uint32_t *stack_ids;      /* depot ids, index = report's stack index */
    unsigned nstacks, max_stacks;
    uint32_t ids[LW_MAX_STACKS];   /* a finding's stack_ids */
    /* What each of f's locks is (lockname.h), described at first use. */
    const lw_finding *f;
    bool described[LW_F_MAX_LOCKS];
    lw_lock_desc desc[LW_F_MAX_LOCKS];
    char label[LW_F_MAX_LOCKS][sizeof(((lw_lock_desc *)0)->label) + 2];
    char message[1024];                  /* f->message with the locks' labels */
    char mem[LW_REPORT_BUF];
} workspace;

static lw_pool ws_pool = LW_POOL_INIT(sizeof(workspace));

void lw_report_atfork_prepare(void)
{
    lw_mutex_lock(&report_lock);
    lw_mutex_lock(&ws_pool.lock);
}

void lw_report_atfork_parent(void)
{
    lw_mutex_unlock(&ws_pool.lock);
    lw_mutex_unlock(&report_lock);
}

void lw_report_atfork_child(void)
{
    lw_mutex_reset(&ws_pool.lock);
    lw_mutex_reset(&report_lock);
    lw_out_atfork_child();
}

/* ---- pieces ---- */

/* Index of a depot stack in this report, or -1 for none. */
static int stack_index(workspace *w, uint32_t id)
{
    if (!id)
        return -1;
    for (unsigned i = 0; i < w->nstacks; i++)
        if (w->stack_ids[i] == id)
            return (int)i;
    if (w->nstacks == w->max_stacks)
        return -1;
    w->stack_ids[w->nstacks] = id;
    return (int)w->nstacks++;
}

static const char *first_seen_name(unsigned how)
{
    return how == LW_FIRST_INITIALISED ? "initialised" : how == LW_FIRST_USED ? "used" : "locked";
}

static const char *mtype_name(const lw_lock_snap *l)
{
    if (l->kind != LW_KIND_MUTEX && l->kind != LW_KIND_C11_MUTEX)
        return NULL;
    switch (l->mtype & LW_MTYPE_MASK) {
    case LW_MTYPE_RECURSIVE: return "recursive";
    case LW_MTYPE_ERRORCHECK: return "errorcheck";
    case LW_MTYPE_ADAPTIVE: return "adaptive";
    }
    return "normal";
}

static const char *mode_name(uint32_t mode)
{
    return mode == LW_MODE_READ ? "read" : "write";
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
        /* Inlined frames first, with the same number: they share the pc. */
        for (unsigned k = 0; k < fi.ninlined; k++) {
            const lw_src_frame *sf = &fi.inlined[k];
            lw_buf_printf(&w->b, "%s#%u 0x%lx in %s", indent, i, (unsigned long)fi.pc,
                          sf->function[0] ? sf->function : "??");
            if (sf->file)
                lw_buf_printf(&w->b, " %s:%u", sf->file, sf->line);
            lw_buf_puts(&w->b, " (inlined)\n");
        }
        if (fi.function[0] && fi.file)
            lw_buf_printf(&w->b, "%s#%u 0x%lx in %s %s:%u (%s+0x%lx)\n", indent, i,
                          (unsigned long)fi.pc, fi.function, fi.file, fi.line, fi.module,
                          (unsigned long)fi.offset);
        else if (fi.function[0])
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

/* The frame a summary names: the first one in the program's own code
 * (inlined frames included, innermost first), past the libc and libstdc++
 * layers a lock is taken through; the innermost frame when none is. */
typedef struct {
    lw_frame_info fi;
    const lw_src_frame *sf;   /* points into fi */
    unsigned frame;           /* index in the stack */
    lw_src_frame outer;       /* fi's own function, as a source frame */
} summary_frame;

static bool summary_of(uint32_t id, summary_frame *sum)
{
    const lw_stack *st = lw_depot_get(id);
    if (!st || !st->n)
        return false;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < st->n; i++) {
            lw_symbolize(st->pc[i], &sum->fi);
            sum->frame = i;
            sum->outer.function = sum->fi.function;
            sum->outer.mangled = sum->fi.mangled;
            sum->outer.file = sum->fi.file;
            sum->outer.line = sum->fi.line;
            if (pass == 1) {
                sum->sf = sum->fi.ninlined ? &sum->fi.inlined[0] : &sum->outer;
                return true;
            }
            for (unsigned k = 0; k <= sum->fi.ninlined; k++) {
                const lw_src_frame *sf = k < sum->fi.ninlined ? &sum->fi.inlined[k] : &sum->outer;
                if (sf->function[0] && lw_frame_is_program(&sum->fi, sf)) {
                    sum->sf = sf;
                    return true;
                }
            }
        }
    }
    return false;
}

static void first_function(uint32_t id, char *out, size_t cap)
{
    summary_frame sum;
    out[0] = 0;
    if (!summary_of(id, &sum))
        return;
    lw_buf b;
    lw_buf_init(&b, out, cap);
    if (sum.sf->function[0]) {
        lw_buf_printf(&b, "%s", sum.sf->function);
        if (sum.sf->file)
            lw_buf_printf(&b, " %s:%u", sum.sf->file, sum.sf->line);
    } else {
        lw_buf_printf(&b, "%s+0x%lx", sum.fi.module, (unsigned long)sum.fi.offset);
    }
}

/* The symbol of a global or static lock ("queue_lock", "table+0x40"), or
 * "" (heap, stack, a thread's end). */
static const char *lock_symbol(const lw_lock_snap *l, char *out, size_t cap)
{
    out[0] = 0;
    if (l->kind != LW_KIND_THREAD)
        lw_symbolize_data(l->addr, out, cap);
    return out;
}

/* What lock l (one of w->f's) is; NULL for a thread's end. */
static const lw_lock_desc *lock_desc(workspace *w, const lw_lock_snap *l)
{
    const lw_finding *f = w->f;
    for (unsigned i = 0; f && i < f->nlocks; i++) {
        if (&f->locks[i].lock != l)
            continue;
        if (l->kind == LW_KIND_THREAD)
            return NULL;
        if (!w->described[i]) {
            lw_lock_describe(l->addr, &w->desc[i]);
            w->described[i] = true;
        }
        return &w->desc[i];
    }
    return NULL;
}

/* The name a report puts beside M<id>: the program's own (given with
 * lockwatch_name_lock(), quoted), else what the lock is
 * ("accounts[3].lock", "stack of T2", "heap object 0x..."); "" when
 * nothing is known. */
static const char *lock_label(workspace *w, const lw_lock_snap *l)
{
    const lw_finding *f = w->f;
    for (unsigned i = 0; f && i < f->nlocks; i++) {
        if (&f->locks[i].lock != l)
            continue;
        if (!w->label[i][0]) {
            lw_buf b;
            lw_buf_init(&b, w->label[i], sizeof(w->label[i]));
            const lw_lock_desc *d = l->name ? NULL : lock_desc(w, l);
            if (l->name)
                lw_buf_printf(&b, "\"%s\"", l->name);
            else if (d)
                lw_buf_puts(&b, d->label);
        }
        return w->label[i];
    }
    return "";
}

/* " (accounts[3].lock)" after M<id> in a heading, or "". */
static void label_paren(lw_buf *b, workspace *w, const lw_lock_snap *l)
{
    const char *lab = lock_label(w, l);
    if (lab[0])
        lw_buf_printf(b, " (%s)", lab);
}

/* "Mutex M3 (accounts[3].lock, 0x..., recursive mutex, \"name\"), global
 * accounts[3].lock declared at bank.c:12," (the clause after the
 * parentheses: what the lock is, when known). */
static void lock_phrase(workspace *w, lw_buf *b, const lw_lock_snap *l)
{
    const char *t = mtype_name(l);
    const lw_lock_desc *d = lock_desc(w, l);
    const char *sym = d ? d->label : "";
    lw_buf_printf(b, "%s M%lu (%s%s%p%s%s%s%s%s%s)", lw_lock_kind_title(l->kind),
                  (unsigned long)l->id, sym, sym[0] ? ", " : "", (void *)l->addr, t ? ", " : "",
                  t ? t : "", t ? " mutex" : "", l->name ? ", \"" : "", l->name ? l->name : "",
                  l->name ? "\"" : "");
    if (d && d->detail[0])
        lw_buf_printf(b, ", %s,", d->detail);
}

/* f->message with every lock it names labelled, into w->message. */
static const char *named_message(workspace *w, const lw_finding *f)
{
    uint64_t ids[LW_F_MAX_LOCKS];
    const char *labels[LW_F_MAX_LOCKS];
    for (unsigned i = 0; i < f->nlocks; i++) {
        ids[i] = f->locks[i].lock.id;
        labels[i] = lock_label(w, &f->locks[i].lock);
    }
    lw_name_message(f->message, ids, labels, f->nlocks, w->message, sizeof(w->message));
    return w->message;
}

/* Stack indices in the order a reader meets them: an inversion's edges
 * first, then each section as it is written. */
static void collect_stacks(workspace *w, const lw_finding *f)
{
    w->nstacks = 0;
    for (unsigned i = 0; i < f->nedges; i++) {
        stack_index(w, f->edges[i].stack);
        stack_index(w, f->edges[i].held_stack);
    }
}

/* ---- text ---- */

/* An edge of a join cycle: into the end of a thread (the join) or out of
 * it (the thread, holding its own end, took the lock). */
/* ", \"name\"" after a thread's tid when it was given a name, else "":
 * the three strings for a "%s%s%s" in a format. */
#define LW_TNAME(t) (t)->name[0] ? ", \"" : "", (t)->name, (t)->name[0] ? "\"" : ""

static void text_join_edge(workspace *w, const lw_finding *f, const lw_fedge *e)
{
    lw_buf *b = &w->b;
    const lw_lock_snap *from = &f->locks[e->from].lock, *to = &f->locks[e->to].lock;
    const lw_fthread *t = &f->threads[e->thread];
    if (to->kind == LW_KIND_THREAD) {
        lw_buf_printf(b, "\n  Thread end M%lu (%p) acquired, by joining the thread, here while "
                      "holding %s M%lu", (unsigned long)to->id, (void *)to->addr,
                      lw_lock_kind_word(from->kind), (unsigned long)from->id);
        label_paren(b, w, from);
        lw_buf_printf(b, " in thread T%u (tid=%d%s%s%s):\n", t->num, t->tid, LW_TNAME(t));
        text_stack(w, e->stack, "<no backtrace>");
        lw_buf_printf(b, "  %s M%lu previously acquired by the same thread here:\n",
                      lw_lock_kind_title(from->kind), (unsigned long)from->id);
        text_stack(w, e->held_stack, "<no backtrace>");
        return;
    }
    lw_buf_printf(b, "\n  %s M%lu", lw_lock_kind_title(to->kind), (unsigned long)to->id);
    label_paren(b, w, to);
    lw_buf_printf(b, " %sacquired here by thread T%u (tid=%d%s%s%s), which holds its "
                  "own end M%lu for its whole life:\n", e->to_mode == LW_MODE_READ ? "read-" : "",
                  t->num, t->tid, LW_TNAME(t), (unsigned long)from->id);
    text_stack(w, e->stack, "<no backtrace>");
    lw_buf_printf(b, "  Thread end M%lu held since the thread was created here:\n",
                  (unsigned long)from->id);
    text_stack(w, e->held_stack, "<not seen created>");
}

static void text_cycle(workspace *w, const lw_finding *f)
{
    lw_buf *b = &w->b;
    lw_buf_puts(b, "  Cycle in lock order graph: ");
    for (unsigned i = 0; i < f->nedges; i++) {
        const lw_lock_snap *l = &f->locks[f->edges[i].from].lock;
        /* A name given with lockwatch_name_lock() wins over the symbol. */
        const char *nm = lock_label(w, l);
        lw_buf_printf(b, "M%lu (%s%s%p) => ", (unsigned long)l->id, nm, nm[0] ? ", " : "",
                      (void *)l->addr);
    }
    lw_buf_printf(b, "M%lu\n", (unsigned long)f->locks[f->edges[0].from].lock.id);
    if (f->confidence == LW_CONF_LATENT)
        lw_buf_puts(b, "  Confidence: latent: edges of this cycle were taken by the same thread "
                    "or under a lock they share, so this run could not deadlock; it deadlocks "
                    "once two threads run these paths at the same time\n");
    else if (f->confidence == LW_CONF_FEASIBLE)
        lw_buf_printf(b, "  Confidence: feasible: %u threads took these edges holding no lock in "
                      "common; this run could have deadlocked\n", f->nedges);
    for (unsigned i = 0; i < f->nedges; i++) {
        const lw_fedge *e = &f->edges[i];
        const lw_lock_snap *from = &f->locks[e->from].lock, *to = &f->locks[e->to].lock;
        const lw_fthread *t = &f->threads[e->thread];
        if (to->kind == LW_KIND_THREAD || from->kind == LW_KIND_THREAD) {
            text_join_edge(w, f, e);
            continue;
        }
        lw_buf_printf(b, "\n  %s M%lu", lw_lock_kind_title(to->kind), (unsigned long)to->id);
        label_paren(b, w, to);
        lw_buf_printf(b, " %sacquired here while holding %s M%lu",
                      e->to_mode == LW_MODE_READ ? "read-"
                      : to->kind == LW_KIND_RWLOCK ? "write-" : "",
                      from->kind == LW_KIND_RWLOCK ? "rwlock" : "mutex", (unsigned long)from->id);
        label_paren(b, w, from);
        lw_buf_printf(b, "%s in thread T%u (tid=%d%s%s%s)",
                      from->kind != LW_KIND_RWLOCK ? ""
                      : e->from_mode == LW_MODE_WRITE ? " (for writing)" : " (for reading)",
                      t->num, t->tid, LW_TNAME(t));
        if (e->timed_ms)
            lw_buf_printf(b, ", a timed acquisition: in the deadlock it would stall %u ms "
                          "before it fails", e->timed_ms);
        lw_buf_puts(b, ":\n");
        text_stack(w, e->stack, "<no backtrace>");
        lw_buf_printf(b, "  %s M%lu", lw_lock_kind_title(from->kind), (unsigned long)from->id);
        label_paren(b, w, from);
        lw_buf_puts(b, " previously acquired by the same thread here:\n");
        text_stack(w, e->held_stack, "<no backtrace>");
    }
}

static void text_threads(workspace *w, const lw_finding *f)
{
    lw_buf *b = &w->b;
    for (unsigned i = 0; i < f->nthreads; i++) {
        const lw_fthread *t = &f->threads[i];
        lw_buf_printf(b, "\n  Thread T%u (tid=%d%s%s%s) %s:\n", t->num, t->tid, LW_TNAME(t),
                      t->what);
        text_stack(w, t->stack, "<no backtrace>");
        for (unsigned h = 0; h < t->nholds; h++) {
            const lw_fhold *hd = &f->holds[t->first_hold + h];
            const lw_lock_snap *l = &f->locks[hd->lock].lock;
            lw_buf_puts(b, "    holding ");
            lock_phrase(w, b, l);
            lw_buf_printf(b, "%s, acquired here:\n",
                          l->kind == LW_KIND_RWLOCK
                              ? (hd->mode == LW_MODE_READ ? " for reading" : " for writing")
                              : "");
            text_stack_at(w, hd->stack, "<no backtrace>", "      ");
        }
        if (t->nholds == 0)
            lw_buf_puts(b, "    holding no locks\n");
    }
}

/* An order violation: the edge, both stacks, and what the file says. */
static void text_order(workspace *w, const lw_finding *f)
{
    lw_buf *b = &w->b;
    const lw_fedge *e = &f->edges[0];
    const lw_lock_snap *from = &f->locks[e->from].lock, *to = &f->locks[e->to].lock;
    const lw_fthread *t = &f->threads[e->thread];
    const char *first = f->order.first ? f->order.first : "?";
    const char *second = f->order.second ? f->order.second : "?";
    if (f->order.file)
        lw_buf_printf(b, "  LOCKWATCH_ORDER_FILE %s lists \"%s\" (line %u) before \"%s\" (line %u),\n"
                      "  but thread T%u took \"%s\" while holding \"%s\".  Once another thread "
                      "takes them\n  in the file's order, the two can deadlock.\n",
                      f->order.file, first, f->order.first_line, second, f->order.second_line,
                      t->num, first, second);
    else   /* a LOCKWATCH_ORDER declaration (the lock taken says where) */
        lw_buf_printf(b, "  The program declared with LOCKWATCH_ORDER that M%lu is taken before "
                      "M%lu,\n  but thread T%u took M%lu while holding M%lu.  Once another thread "
                      "takes them\n  in the declared order, the two can deadlock.\n",
                      (unsigned long)to->id, (unsigned long)from->id, t->num,
                      (unsigned long)to->id, (unsigned long)from->id);
    lw_buf_printf(b, "\n  %s M%lu acquired here while holding %s M%lu in thread T%u "
                  "(tid=%d%s%s%s):\n", lw_lock_kind_title(to->kind), (unsigned long)to->id,
                  lw_lock_kind_word(from->kind), (unsigned long)from->id, t->num, t->tid,
                  LW_TNAME(t));
    text_stack(w, e->stack, "<no backtrace>");
    lw_buf_printf(b, "  %s M%lu previously acquired by the same thread here:\n",
                  lw_lock_kind_title(from->kind), (unsigned long)from->id);
    text_stack(w, e->held_stack, "<no backtrace>");
}

static void write_text(workspace *w, const lw_finding *f)
{
    lw_buf *b = &w->b;
    /* An inversion's cycle or an order violation's edge: the edges tell
     * the story (and name the threads); otherwise the threads do. */
    bool cycle = f->nedges > 0;
    lw_buf_printf(b, "==================\nWARNING: lockwatch: %s (pid=%d)\n",
                  lw_finding_kind_title(f->kind), (int)getpid());
    if (f->kind == LW_F_ORDER_VIOLATION && cycle)
        text_order(w, f);
    else if (cycle)
        text_cycle(w, f);
    else {
        lw_buf_printf(b, "  %s\n", named_message(w, f));
        text_threads(w, f);
    }
    /* The locks the finding is about: a role, or where first seen. */
    if (cycle)
        lw_buf_puts(b, "\n");
    for (unsigned i = 0; i < f->nlocks; i++) {
        const lw_flock *fl = &f->locks[i];
        if (!fl->own)
            continue;
        lw_buf_puts(b, cycle ? "  " : "\n  ");
        lock_phrase(w, b, &fl->lock);
        if (fl->role[0]) {
            lw_buf_printf(b, " %s:\n", fl->role);
            text_stack(w, fl->role_stack, "<no backtrace>");
        } else {
            lw_buf_printf(b, " first %s at:\n", first_seen_name(fl->lock.first_how));
            text_stack(w, fl->lock.first_stack, "<unknown>");
        }
    }
    if (!cycle)
        lw_buf_puts(b, "\n");
    for (unsigned i = 0; i < f->nthreads; i++) {
        const lw_fthread *t = &f->threads[i];
        if (t->num == 0) {
            lw_buf_printf(b, "  Thread T0 (tid=%d%s%s%s) is the main thread\n", t->tid,
                          LW_TNAME(t));
        } else if (t->created_seen) {
            char pl[16];
            lw_buf pb;
            lw_buf_init(&pb, pl, sizeof(pl));
            lw_buf_printf(&pb, "T%u", t->parent);
            lw_buf_printf(b, "  Thread T%u (tid=%d%s%s%s) created by %s%s at:\n", t->num,
                          t->tid, LW_TNAME(t), t->parent == 0 ? "main thread" : "thread ", t->parent == 0 ? "" : pl);
            text_stack(w, t->create_stack, "<no backtrace>");
        } else {
            lw_buf_printf(b, "  Thread T%u (tid=%d%s%s%s) was not seen created\n", t->num,
                          t->tid, LW_TNAME(t));
        }
    }
    char fn[4096] = "";
    if (cycle)
        first_function(f->edges[0].stack, fn, sizeof(fn));
    else if (f->nthreads)
        first_function(f->threads[0].stack, fn, sizeof(fn));
    lw_buf_printf(b, "\nSUMMARY: lockwatch: %s%s%s\n",
                  cycle ? lw_finding_kind_title(f->kind) : lw_finding_kind_name(f->kind),
                  fn[0] ? " in " : "", fn);
    if (f->jitter)
        lw_buf_printf(b, "Schedule: LOCKWATCH_JITTER=%u LOCKWATCH_SEED=%u (both set: the same "
                      "decisions again)\n", f->jitter, (unsigned)f->seed);
    if (f->suppression[0])
        lw_buf_printf(b, "Suppression (a LOCKWATCH_SUPPRESSIONS line, lockwatch(5)): %s\n",
                      f->suppression);
    lw_buf_puts(b, "==================\n");
}

/* ---- JSON ---- */

static void json_opt_str(lw_buf *b, const char *s);

/* What the lock is (lockwatch(7)): ,"label":..,"memory":..,"variable":..,
 * "member":..,"decl_file":..,"decl_line":..,"stack_of":..,"frame":..,
 * "heap_object":.. (null when unknown). */
static void json_lock_desc(workspace *w, const lw_lock_snap *l)
{
    lw_buf *b = &w->b;
    const lw_lock_desc *d = lock_desc(w, l);
    lw_buf_puts(b, ",\"label\":");
    json_opt_str(b, lock_label(w, l));
    lw_buf_puts(b, ",\"memory\":");
    json_opt_str(b, d ? d->memory : NULL);
    lw_buf_puts(b, ",\"variable\":");
    json_opt_str(b, d ? d->variable : NULL);
    lw_buf_puts(b, ",\"member\":");
    json_opt_str(b, d ? d->member : NULL);
    lw_buf_puts(b, ",\"decl_file\":");
    json_opt_str(b, d ? d->decl_file : NULL);
    if (d && d->decl_file && d->decl_line)
        lw_buf_printf(b, ",\"decl_line\":%u", d->decl_line);
    else
        lw_buf_puts(b, ",\"decl_line\":null");
    lw_buf_puts(b, ",\"stack_of\":");
    if (d && d->stack_thread >= 0)
        lw_buf_printf(b, "\"T%d\"", d->stack_thread);
    else
        lw_buf_puts(b, "null");
    lw_buf_puts(b, ",\"frame\":");
    if (d && d->function) {
        lw_buf_puts(b, "{\"function\":");
        json_opt_str(b, d->function);
        lw_buf_puts(b, ",\"file\":");
        json_opt_str(b, d->frame_file);
        if (d->frame_file && d->frame_line)
            lw_buf_printf(b, ",\"line\":%u}", d->frame_line);
        else
            lw_buf_puts(b, ",\"line\":null}");
    } else {
        lw_buf_puts(b, "null");
    }
    lw_buf_puts(b, ",\"heap_object\":");
    if (d && d->heap_object)
        lw_buf_printf(b, "\"0x%lx\"", (unsigned long)d->heap_object);
    else
        lw_buf_puts(b, "null");
}

static void json_stack_ref(lw_buf *b, int idx)
{
    if (idx < 0)
        lw_buf_puts(b, "null");
    else
        lw_buf_printf(b, "%d", idx);
}

static void json_lock(workspace *w, const lw_flock *fl, bool first)
{
    lw_buf *b = &w->b;
    const lw_lock_snap *l = &fl->lock;
    const char *t = mtype_name(l);
    lw_buf_printf(b, "%s{\"id\":\"M%lu\",\"address\":\"0x%lx\",\"kind\":\"%s\",\"type\":",
                  first ? "" : ",", (unsigned long)l->id, (unsigned long)l->addr,
                  lw_lock_kind_name(l->kind));
    if (t)
        lw_buf_json_str(b, t);
    else
        lw_buf_puts(b, "null");
    lw_buf_puts(b, ",\"name\":");
    if (l->name)
        lw_buf_json_str(b, l->name);
    else
        lw_buf_puts(b, "null");
    char sym[LW_LOCK_KEY_MAX];
    lw_buf_puts(b, ",\"symbol\":");
    json_opt_str(b, lock_symbol(l, sym, sizeof(sym)));
    json_lock_desc(w, l);
    /* Its name across runs: what lockwatch-report groups locks by and
     * LOCKWATCH_ORDER_FILE lists (order.h). */
    lw_buf_puts(b, ",\"key\":");
    json_opt_str(b, lw_lock_key(l, sym, sizeof(sym)) ? sym : NULL);
    lw_buf_printf(b, ",\"first_seen\":\"%s\",\"first_stack\":", first_seen_name(l->first_how));
    json_stack_ref(b, stack_index(w, l->first_stack));
    if (fl->role[0]) {
        lw_buf_puts(b, ",\"role\":");
        lw_buf_json_str(b, fl->role);
        lw_buf_puts(b, ",\"stack\":");
        json_stack_ref(b, stack_index(w, fl->role_stack));
    }
    lw_buf_puts(b, "}");
}

static void json_opt_str(lw_buf *b, const char *s)
{
    if (s && s[0])
        lw_buf_json_str(b, s);
    else
        lw_buf_puts(b, "null");
}

/* "function":...,"mangled":...,"file":...,"line":... (null when unknown) */
static void json_src_frame(lw_buf *b, const lw_src_frame *sf)
{
    lw_buf_puts(b, "\"function\":");
    json_opt_str(b, sf->function);
    lw_buf_puts(b, ",\"mangled\":");
    json_opt_str(b, sf->mangled);
    lw_buf_puts(b, ",\"file\":");
    json_opt_str(b, sf->file);
    if (sf->file && sf->line)
        lw_buf_printf(b, ",\"line\":%u", sf->line);
    else
        lw_buf_puts(b, ",\"line\":null");
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
            lw_buf_printf(b, ",\"offset\":\"0x%lx\",", (unsigned long)fi.offset);
            lw_src_frame own = { fi.function, fi.mangled, fi.file, fi.line };
            json_src_frame(b, &own);
            lw_buf_puts(b, ",\"inlined\":[");
            for (unsigned k = 0; k < fi.ninlined; k++) {
                lw_buf_puts(b, k ? ",{" : "{");
                json_src_frame(b, &fi.inlined[k]);
                lw_buf_puts(b, "}");
            }
            lw_buf_puts(b, "]}");
        }
        lw_buf_puts(b, "]");
    }
    lw_buf_puts(b, "]");
}

static void json_threads(workspace *w, const lw_finding *f, bool cycle)
{
    lw_buf *b = &w->b;
    lw_buf_puts(b, ",\"threads\":[");
    for (unsigned i = 0; i < f->nthreads; i++) {
        const lw_fthread *t = &f->threads[i];
        lw_buf_printf(b, "%s{\"id\":\"T%u\",\"tid\":%d,\"name\":", i ? "," : "", t->num, t->tid);
        if (t->name[0])
            lw_buf_json_str(b, t->name);
        else
            lw_buf_puts(b, "null");   /* never named: not the inherited process name */
        if (t->num == 0 || !t->created_seen) {
            lw_buf_puts(b, ",\"created_by\":null,\"created_stack\":null");
        } else {
            lw_buf_printf(b, ",\"created_by\":\"T%u\",\"created_stack\":", t->parent);
            json_stack_ref(b, stack_index(w, t->create_stack));
        }
        if (!cycle) {
            lw_buf_puts(b, ",\"action\":");
            lw_buf_json_str(b, t->what);
            lw_buf_puts(b, ",\"stack\":");
            json_stack_ref(b, stack_index(w, t->stack));
            lw_buf_puts(b, ",\"waits_for\":");
            if (t->waits_lock >= 0)
                lw_buf_printf(b, "\"M%lu\"", (unsigned long)f->locks[t->waits_lock].lock.id);
            else if (t->waits_thread >= 0)
                lw_buf_printf(b, "\"T%d\"", t->waits_thread);
            else
                lw_buf_puts(b, "null");
            lw_buf_puts(b, ",\"holds\":[");
            for (unsigned h = 0; h < t->nholds; h++) {
                const lw_fhold *hd = &f->holds[t->first_hold + h];
                lw_buf_printf(b, "%s{\"lock\":\"M%lu\",\"mode\":\"%s\",\"stack\":", h ? "," : "",
                              (unsigned long)f->locks[hd->lock].lock.id, mode_name(hd->mode));
                json_stack_ref(b, stack_index(w, hd->stack));
                lw_buf_puts(b, "}");
            }
            lw_buf_puts(b, "]");
        }
        lw_buf_puts(b, "}");
    }
    lw_buf_puts(b, "]");
}

/* ,"name":tid, or null when no thread is known (tid <= 0). */
static void json_tid(lw_buf *b, const char *name, int tid)
{
    lw_buf_printf(b, ",\"%s\":", name);
    if (tid > 0)
        lw_buf_printf(b, "%d", tid);
    else
        lw_buf_puts(b, "null");
}

static void json_extras(lw_buf *b, const lw_finding *f)
{
    if (f->call.function) {
        lw_buf_puts(b, ",\"call\":{\"function\":");
        lw_buf_json_str(b, f->call.function);
        lw_buf_puts(b, ",\"family\":");
        lw_buf_json_str(b, f->call.family ? f->call.family : "");
        lw_buf_puts(b, ",\"elapsed_us\":");
        if (f->call.elapsed_us >= 0)
            lw_buf_printf(b, "%lld}", (long long)f->call.elapsed_us);
        else
            lw_buf_puts(b, "null}");
    }
    if (f->has_owner)
        json_tid(b, "owner_tid", f->owner_tid);
    if (f->has_holder)
        json_tid(b, "holder_tid", f->holder_tid);
    if (f->waiters >= 0)
        lw_buf_printf(b, ",\"waiters\":%d", f->waiters);
    if (f->race.size) {
        lw_buf_printf(b, ",\"race\":{\"addr\":\"0x%lx\",\"size\":%u,\"variable\":",
                      (unsigned long)f->race.addr, f->race.size);
        if (f->race.variable[0])
            lw_buf_json_str(b, f->race.variable);
        else
            lw_buf_puts(b, "null");
        lw_buf_puts(b, "}");
    }
}

/* "summary": the frame the SUMMARY line names (summary_of): the stack and
 * frame index, and that source frame; null without a stack. */
static void json_summary(workspace *w, const lw_finding *f, bool cycle)
{
    lw_buf *b = &w->b;
    uint32_t id = cycle ? f->edges[0].stack : f->nthreads ? f->threads[0].stack : 0;
    summary_frame sum;
    lw_buf_puts(b, ",\"summary\":");
    if (!id || !summary_of(id, &sum)) {
        lw_buf_puts(b, "null");
        return;
    }
    lw_buf_printf(b, "{\"stack\":%d,\"frame\":%u,\"module\":", stack_index(w, id), sum.frame);
    lw_buf_json_str(b, sum.fi.module);
    lw_buf_printf(b, ",\"offset\":\"0x%lx\",", (unsigned long)sum.fi.offset);
    json_src_frame(b, sum.sf);
    lw_buf_puts(b, "}");
}

static void write_json(workspace *w, const lw_finding *f)
{
    lw_buf *b = &w->b;
    bool cycle = f->nedges > 0;
    lw_buf_puts(b, "{\"kind\":");
    lw_buf_json_str(b, lw_finding_kind_name(f->kind));
    lw_buf_puts(b, ",\"message\":");
    lw_buf_json_str(b, named_message(w, f));
    lw_buf_printf(b, ",\"pid\":%d", (int)getpid());
    json_process(b);
    lw_buf_printf(b, ",\"fingerprint\":\"%016llx\"", (unsigned long long)f->fingerprint);
    json_threads(w, f, cycle);
    /* Every lock the finding names, once: its own, then those only held. */
    lw_buf_puts(b, ",\"locks\":[");
    bool first = true;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < f->nlocks; i++)
            if (f->locks[i].own == (pass == 0)) {
                json_lock(w, &f->locks[i], first);
                first = false;
            }
    lw_buf_puts(b, "]");
    if (cycle) {
        /* An order violation's one edge is no cycle: "edges". */
        lw_buf_puts(b, f->kind == LW_F_ORDER_VIOLATION ? ",\"edges\":[" : ",\"cycle\":[");
        for (unsigned i = 0; i < f->nedges; i++) {
            const lw_fedge *e = &f->edges[i];
            lw_buf_printf(b, "%s{\"from\":\"M%lu\",\"to\":\"M%lu\",\"thread\":\"T%u\","
                          "\"from_mode\":\"%s\",\"to_mode\":\"%s\",\"stack\":",
                          i ? "," : "", (unsigned long)f->locks[e->from].lock.id,
                          (unsigned long)f->locks[e->to].lock.id, f->threads[e->thread].num,
                          mode_name(e->from_mode), mode_name(e->to_mode));
            json_stack_ref(b, stack_index(w, e->stack));
            lw_buf_puts(b, ",\"held_stack\":");
            json_stack_ref(b, stack_index(w, e->held_stack));
            if (e->timed_ms)
                lw_buf_printf(b, ",\"timed_ms\":%u", e->timed_ms);
            lw_buf_puts(b, "}");
        }
        lw_buf_puts(b, "]");
    }
    if (lw_confidence_name(f->confidence))
        lw_buf_printf(b, ",\"confidence\":\"%s\"", lw_confidence_name(f->confidence));
    if (f->order.first && f->order.second) {
        lw_buf_puts(b, ",\"order\":{\"file\":");
        json_opt_str(b, f->order.file);
        lw_buf_puts(b, ",\"first\":");
        lw_buf_json_str(b, f->order.first);
        lw_buf_printf(b, ",\"first_line\":%u,\"second\":", f->order.first_line);
        lw_buf_json_str(b, f->order.second);
        lw_buf_printf(b, ",\"second_line\":%u}", f->order.second_line);
    }
    json_extras(b, f);
    if (f->jitter)
        lw_buf_printf(b, ",\"jitter\":%u,\"seed\":%u", f->jitter, (unsigned)f->seed);
    if (f->suppression[0]) {
        lw_buf_puts(b, ",\"suppression\":");
        lw_buf_json_str(b, f->suppression);
    }
    json_summary(w, f, cycle);
    json_stacks(w);
    lw_buf_puts(b, "}\n");
    if (b->truncated) {
        /* Never emit a broken JSON line: say so in a minimal valid one. */
        lw_buf_init(b, w->mem, sizeof(w->mem));
        lw_buf_puts(b, "{\"kind\":");
        lw_buf_json_str(b, lw_finding_kind_name(f->kind));
        lw_buf_puts(b, ",\"message\":");
        lw_buf_json_str(b, w->message);
        lw_buf_printf(b, ",\"pid\":%d", (int)getpid());
        json_process(b);
        lw_buf_printf(b, ",\"fingerprint\":\"%016llx\",\"threads\":[],\"locks\":[],"
                      "\"summary\":null,\"stacks\":[],\"truncated\":true}\n",
                      (unsigned long long)f->fingerprint);
    }
}

void lw_report_finding(const lw_finding *f)
{
    workspace *w = lw_pool_get(&ws_pool);
    if (!w)
        return;
    lw_buf_init(&w->b, w->mem, sizeof(w->mem));
    w->f = f;
    memset(w->described, 0, sizeof(w->described));
    for (unsigned i = 0; i < LW_F_MAX_LOCKS; i++)
        w->label[i][0] = 0;
    w->message[0] = 0;
    w->stack_ids = w->ids;
    w->max_stacks = LW_MAX_STACKS;
    collect_stacks(w, f);
    if (lw_opt.format == LW_FORMAT_JSON)
        write_json(w, f);
    else
        write_text(w, f);
    stream_write(w->b.p, w->b.len);
    lw_pool_put(&ws_pool, w);
}

/* ---- the graph record ---- */

#define LW_GRAPH_BUF    (64u << 20)   /* bytes of the graph record, at most */
#define LW_GRAPH_STACKS (2 * LW_GRAPH_REC_EDGES + LW_GRAPH_REC_LOCKS)

/* One JSON line from g in w (whose buffer is big); false when it did not
 * fit. */
static bool graph_json(workspace *w, const lw_graph_rec *g)
{
    lw_buf *b = &w->b;
    w->nstacks = 0;
    lw_buf_puts(b, "{\"kind\":\"graph\"");
    lw_buf_printf(b, ",\"pid\":%d", (int)getpid());
    json_process(b);
    lw_buf_printf(b, ",\"truncated\":%s,\"locks\":[", g->truncated ? "true" : "false");
    lw_flock fl;
    memset(&fl, 0, sizeof(fl));
    for (unsigned i = 0; i < g->nlocks; i++) {
        fl.lock = g->locks[i];
        json_lock(w, &fl, i == 0);
    }
    lw_buf_puts(b, "],\"edges\":[");
    for (unsigned i = 0; i < g->nedges; i++) {
        const lw_gedge *e = &g->edges[i];
        lw_buf_printf(b, "%s{\"from\":\"M%lu\",\"to\":\"M%lu\",\"thread\":\"T%u\","
                      "\"from_mode\":\"%s\",\"to_mode\":\"%s\",\"cyclic\":%s,\"stack\":",
                      i ? "," : "", (unsigned long)g->locks[e->from].id,
                      (unsigned long)g->locks[e->to].id, e->thread, mode_name(e->from_mode),
                      mode_name(e->to_mode), e->cyclic ? "true" : "false");
        json_stack_ref(b, stack_index(w, e->stack));
        lw_buf_puts(b, ",\"held_stack\":");
        json_stack_ref(b, stack_index(w, e->held_stack));
        lw_buf_puts(b, "}");
    }
    lw_buf_puts(b, "]");
    json_stacks(w);
    lw_buf_puts(b, "}\n");
    return !b->truncated;
}

void lw_report_graph(lw_graph_rec *g)
{
    if (lw_opt.format != LW_FORMAT_JSON)
        return;   /* text output gets nothing new */
    /* Once per process, at exit: mappings of its own, never given back
     * (a fork child that exits too writes its own from its copy). */
    static workspace *w;
    static char *mem;
    static uint32_t *ids;
    if (!w) {
        w = lw_arena_map(sizeof(*w));
        mem = lw_arena_map(LW_GRAPH_BUF);
        ids = lw_arena_map(LW_GRAPH_STACKS * sizeof(*ids));
        if (!w || !mem || !ids) {
            w = NULL;
            return;
        }
    }
    w->stack_ids = ids;
    w->max_stacks = LW_GRAPH_STACKS;
    for (;;) {
        lw_buf_init(&w->b, mem, LW_GRAPH_BUF);
        if (graph_json(w, g))
            break;
        if (g->nedges == 0 && g->nlocks == 0)
            return;
        /* Too big: keep half the edges and say so. */
        g->truncated = true;
        if (g->nedges)
            g->nedges /= 2;
        else
            g->nlocks /= 2;
    }
    stream_write(w->b.p, w->b.len);
}
