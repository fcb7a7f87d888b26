/*
 * suppress.c: suppression rules (see suppress.h and lockwatch(5)).  Owns:
 * the rules and their hit counts.  Must never: call an interposed
 * function (files are read with raw system calls), allocate outside the
 * arena, or stop the program for a bad file (one error line, go on).
 */
#include "suppress.h"
#include "arena.h"
#include "fmt.h"
#include "log.h"
#include "lw_atomic.h"
#include "lw_sys.h"
#include "stacks.h"

#include <string.h>

typedef struct {
    int kind;                 /* enum lw_finding_kind, or -1 for any */
    bool is_fp;
    uint64_t fp;
    const char *glob;         /* in the arena copy of the file */
    const char *text;         /* the whole rule, for the summary */
    const char *file;
    unsigned line;
    uint64_t hits;            /* atomic */
} rule;

static rule *rules;           /* written at start-up only */
static unsigned nrules;
static int summary_done;

/* ---- glob ---- */

/* [set] at p (p points after '['): does c match?  *end gets the character
 * after ']' (NULL when the set is not closed: then '[' is literal). */
static bool set_match(const char *p, char c, const char **end)
{
    bool neg = *p == '!' || *p == '^', hit = false;
    if (neg)
        p++;
    const char *q = p;
    do {
        if (!*q) {
            *end = NULL;
            return false;
        }
        if (q[1] == '-' && q[2] && q[2] != ']') {
            hit |= (unsigned char)c >= (unsigned char)q[0] && (unsigned char)c <= (unsigned char)q[2];
            q += 3;
        } else {
            hit |= c == *q;
            q++;
        }
    } while (*q != ']');
    *end = q + 1;
    return hit != neg;
}

bool lw_glob(const char *pat, const char *s)
{
    /* The last '*' and where in s it resumes: a mismatch after it retries
     * with the star taking one more character (linear backtracking). */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        const char *next = NULL;
        bool ok = false;
        if (*pat == '*') {
            star = ++pat;
            resume = s;
            continue;
        }
        if (*pat == '?') {
            ok = true;
            next = pat + 1;
        } else if (*pat == '[') {
            const char *end;
            ok = set_match(pat + 1, *s, &end);
            if (end)
                next = end;
            else {
                ok = *s == '[';
                next = pat + 1;
            }
        } else if (*pat) {
            ok = *pat == *s;
            next = pat + 1;
        }
        if (ok) {
            pat = next;
            s++;
        } else if (star) {
            pat = star;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

/* ---- loading ---- */

static void bad_line(const char *file, unsigned line, const char *why, const char *text)
{
    char f[400], t[400];
    lw_warn("lockwatch: error: suppressions %s:%u: %s: \"%s\"; line skipped\n",
            lw_value_str(file, f, sizeof(f), 96), line, why, lw_value_str(text, t, sizeof(t), 96));
}

static int kind_of(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*')
        return -1;
    for (int k = 0; k < LW_F_NKINDS; k++) {
        const char *name = lw_finding_kind_name((enum lw_finding_kind)k);
        if (strlen(name) == n && memcmp(name, s, n) == 0)
            return k;
    }
    return -2;
}

static bool parse_hex(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; *s; s++, n++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0'
              : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
              : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
        if (d < 0 || n == 16)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return n > 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* One line (NUL-terminated, in the arena): a rule, a comment or an error. */
static void parse_line(char *text, const char *file, unsigned line)
{
    char *s = trim(text);
    if (!*s || *s == '#')
        return;
    char *orig = lw_arena_alloc(strlen(s) + 1);
    if (!orig)
        return;
    strcpy(orig, s);
    rule r;
    memset(&r, 0, sizeof(r));
    r.kind = -1;
    r.text = orig;
    r.file = file;
    r.line = line;
    char *colon = strchr(s, ':');
    if (!colon) {
        bad_line(file, line, "no ':' (expected KIND:PATTERN or fingerprint:HEX)", orig);
        return;
    }
    *colon = 0;
    char *head = trim(s), *rest = trim(colon + 1);
    if (strcmp(head, "fingerprint") == 0) {
        r.is_fp = true;
    } else {
        r.kind = kind_of(head, strlen(head));
        if (r.kind == -2) {
            bad_line(file, line, "unknown kind (accepted: the report kinds of lockwatch(7), or *)",
                     orig);
            return;
        }
        if (strncmp(rest, "fingerprint:", 12) == 0) {
            r.is_fp = true;
            rest = trim(rest + 12);
        }
    }
    if (r.is_fp) {
        if (!parse_hex(rest, &r.fp)) {
            bad_line(file, line, "a fingerprint is 1 to 16 hexadecimal digits", orig);
            return;
        }
    } else {
        if (!*rest) {
            bad_line(file, line, "empty pattern", orig);
            return;
        }
        r.glob = rest;
    }
    if (nrules == LW_MAX_SUPPRESSIONS) {
        static int once;
        lw_warn_once(&once, "lockwatch: error: more than %u suppression rules; the rest are "
                     "ignored\n", (unsigned)LW_MAX_SUPPRESSIONS);
        return;
    }
    rules[nrules++] = r;
}

unsigned lw_supp_parse(char *buf, size_t n, const char *name)
{
    if (!rules && !(rules = lw_arena_alloc(LW_MAX_SUPPRESSIONS * sizeof(rule))))
        return nrules;
    buf[n] = 0;   /* the last line may have no newline */
    unsigned line = 1;
    for (char *p = buf; p < buf + n;) {
        char *end = memchr(p, '\n', (size_t)(buf + n - p));
        if (end)
            *end = 0;
        if (strlen(p) != (size_t)((end ? end : buf + n) - p))
            bad_line(name, line, "contains a NUL byte", "");
        else
            parse_line(p, name, line);
        line++;
        if (!end)
            break;
        p = end + 1;
    }
    return nrules;
}

void lw_supp_reset(void)
{
    rules = NULL;
    nrules = 0;
    summary_done = 0;
}

static void load_file(const char *path)
{
    int fd = lw_sys_open_read(path);
    if (fd < 0) {
        char shown[640];
        lw_warn("lockwatch: error: cannot read suppressions file \"%s\"; its rules are not "
                "applied\n", lw_value_str(path, shown, sizeof(shown), 128));
        return;
    }
    char *buf = lw_arena_alloc(LW_SUPP_FILE_MAX + 1);
    size_t n = 0;
    long r = 0;
    while (buf && n < LW_SUPP_FILE_MAX &&
           (r = lw_sys_read(fd, buf + n, LW_SUPP_FILE_MAX - n)) > 0)
        n += (size_t)r;
    lw_sys_close(fd);
    if (!buf)
        return;
    if (n == LW_SUPP_FILE_MAX) {
        char shown[640];
        lw_warn("lockwatch: error: suppressions file \"%s\" is larger than %u bytes; the rest "
                "is ignored\n", lw_value_str(path, shown, sizeof(shown), 128),
                (unsigned)LW_SUPP_FILE_MAX);
    }
    char *name = lw_arena_alloc(strlen(path) + 1);
    if (!name)
        return;
    strcpy(name, path);
    lw_supp_parse(buf, n, name);
}

unsigned lw_supp_load(const char *paths)
{
    if (!paths || !*paths)
        return 0;
    char path[1024];
    for (const char *p = paths; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && len < sizeof(path)) {
            memcpy(path, p, len);
            path[len] = 0;
            load_file(path);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return nrules;
}

/* ---- matching ---- */

static bool frame_matches(const char *glob, uintptr_t pc)
{
    lw_frame_info fi;
    lw_symbolize(pc, &fi);
    if (fi.function[0] && lw_glob(glob, fi.function))
        return true;
    if (fi.mangled && lw_glob(glob, fi.mangled))
        return true;
    for (unsigned k = 0; k < fi.ninlined; k++) {
        const lw_src_frame *sf = &fi.inlined[k];
        if ((sf->function[0] && lw_glob(glob, sf->function)) ||
            (sf->mangled && lw_glob(glob, sf->mangled)))
            return true;
    }
    if (fi.module && fi.module[0] && strcmp(fi.module, "?") != 0) {
        const char *base = strrchr(fi.module, '/');
        if (lw_glob(glob, fi.module) || (base && lw_glob(glob, base + 1)))
            return true;
    }
    return false;
}

static bool stack_matches(const char *glob, uint32_t id)
{
    const lw_stack *st = id ? lw_depot_get(id) : NULL;
    for (unsigned i = 0; st && i < st->n; i++)
        if (frame_matches(glob, st->pc[i]))
            return true;
    return false;
}

/* Any stack of f: edges, threads (call, creation), held locks, locks. */
static bool finding_matches(const char *glob, const lw_finding *f)
{
    for (unsigned i = 0; i < f->nedges; i++)
        if (stack_matches(glob, f->edges[i].stack) || stack_matches(glob, f->edges[i].held_stack))
            return true;
    for (unsigned i = 0; i < f->nthreads; i++)
        if (stack_matches(glob, f->threads[i].stack) ||
            stack_matches(glob, f->threads[i].create_stack))
            return true;
    for (unsigned i = 0; i < f->nholds; i++)
        if (stack_matches(glob, f->holds[i].stack))
            return true;
    for (unsigned i = 0; i < f->nlocks; i++)
        if (stack_matches(glob, f->locks[i].lock.first_stack) ||
            stack_matches(glob, f->locks[i].role_stack))
            return true;
    return false;
}

int lw_supp_match(const lw_finding *f)
{
    for (unsigned i = 0; i < nrules; i++) {
        const rule *r = &rules[i];
        if (r->kind >= 0 && r->kind != (int)f->kind)
            continue;
        if (r->is_fp ? r->fp == f->fingerprint : finding_matches(r->glob, f))
            return (int)i;
    }
    return -1;
}

void lw_supp_hit(int i)
{
    if (i >= 0 && (unsigned)i < nrules)
        lw_fetch_add_acq_rel(&rules[i].hits, 1);
}

void lw_supp_suggest(const lw_finding *f, char *out, size_t cap)
{
    lw_buf b;
    lw_buf_init(&b, out, cap);
    uint32_t id = f->nedges ? f->edges[0].stack : f->nthreads ? f->threads[0].stack : 0;
    const lw_stack *st = id ? lw_depot_get(id) : NULL;
    /* The first named frame in the program's own code (the SUMMARY's), else
     * the first named frame; its symbol name, which has no blanks (a C++
     * name is matched mangled too). */
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; st && i < st->n; i++) {
            lw_frame_info fi;
            lw_symbolize(st->pc[i], &fi);
            lw_src_frame own = { fi.function, fi.mangled, fi.file, fi.line };
            if (!fi.function[0] || (pass == 0 && !lw_frame_is_program(&fi, &own)))
                continue;
            const char *nm = fi.mangled ? fi.mangled : fi.function;
            /* A name with characters a glob would read as special is
             * written with '?' for them, so the rule still matches it. */
            lw_buf_printf(&b, "%s:", lw_finding_kind_name(f->kind));
            for (const char *p = nm; *p; p++)
                lw_buf_putc(&b, strchr("*?[] \t", *p) ? '?' : *p);
            return;
        }
    }
    lw_buf_printf(&b, "fingerprint:%016llx", (unsigned long long)f->fingerprint);
}

void lw_supp_summary(void)
{
    if (lw_xchg_acq_rel(&summary_done, 1))
        return;
    uint64_t total = 0;
    for (unsigned i = 0; i < nrules; i++)
        total += lw_load_acquire(&rules[i].hits);
    if (!total)
        return;
    char mem[4096];
    lw_buf b;
    lw_buf_init(&b, mem, sizeof(mem));
    lw_buf_printf(&b, "lockwatch: %llu finding%s suppressed:", (unsigned long long)total,
                  total == 1 ? "" : "s");
    bool first = true;
    for (unsigned i = 0; i < nrules; i++) {
        uint64_t h = lw_load_acquire(&rules[i].hits);
        if (!h)
            continue;
        lw_buf_printf(&b, "%s %llu by %s:%u (%s)", first ? "" : ";", (unsigned long long)h,
                      rules[i].file, rules[i].line, rules[i].text);
        first = false;
    }
    lw_buf_puts(&b, "\n");
    lw_out_warn(b.p, b.len);
}
