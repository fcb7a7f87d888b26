/*
 * order.c: lock keys and the committed lock order (see order.h).  Owns: the
 * order table, built once by lw_order_load before the core is ready and
 * read without a lock afterwards.  Must never: allocate with malloc, write
 * the table after start-up, or start the symbolizer helper (keys come from
 * the ELF tables alone, so a clean run stays a clean run).
 */
#include "order.h"
#include "arena.h"
#include "fmt.h"
#include "log.h"
#include "lw_atomic.h"
#include "lw_sys.h"
#include "stacks.h"

#include <errno.h>
#include <string.h>

static bool order_oom;   /* start-up only: the last HASH_ADD had no memory */
#define LW_UTHASH_OOM(elt) (order_oom = true)
#include "lw_uthash.h"

/* ---- keys ---- */

static const char *how_word(unsigned how)
{
    return how == LW_FIRST_INITIALISED ? "initialised" : how == LW_FIRST_USED ? "used" : "locked";
}

bool lw_lock_key(const lw_lock_snap *l, char *out, size_t cap)
{
    out[0] = 0;
    switch (l->kind) {
    case LW_KIND_MUTEX:
    case LW_KIND_RWLOCK:
    case LW_KIND_SPIN:
    case LW_KIND_C11_MUTEX:
        break;
    default:
        return false;   /* not a lock one orders */
    }
    lw_buf b;
    lw_buf_init(&b, out, cap);
    if (l->name && l->name[0]) {
        lw_buf_puts(&b, l->name);
        return !b.truncated;
    }
    char sym[LW_LOCK_KEY_MAX];
    if (lw_symbolize_data_raw(l->addr, sym, sizeof(sym))) {
        lw_buf_puts(&b, sym);
        return !b.truncated;
    }
    bool in_fn;
    if (!l->first_pc || !lw_code_site(l->first_pc, sym, sizeof(sym), &in_fn))
        return false;
    lw_buf_printf(&b, "%s first %s %s %s", lw_lock_kind_name(l->kind), how_word(l->first_how),
                  in_fn ? "in" : "at", sym);
    if (b.truncated)
        out[0] = 0;
    return !b.truncated;
}

/* ---- the table ---- */

typedef struct {
    UT_hash_handle hh;
    lw_order_ent e;
} order_ent;

/* Written by lw_order_load (start-up, one thread, before lw_core_ready is
 * published with release), read by any thread afterwards without a lock:
 * uthash lookups do not write. */
static order_ent *table;
static order_ent **by_index;    /* index -> entry */
static uint32_t nents;
static const char *order_path;
static bool active;

bool lw_order_active(void)
{
    return active;
}

const char *lw_order_path(void)
{
    return order_path ? order_path : "";
}

const lw_order_ent *lw_order_find(const char *key)
{
    order_ent *o;
    if (!active)
        return NULL;
    HASH_FIND(hh, table, key, strlen(key), o);
    return o ? &o->e : NULL;
}

const lw_order_ent *lw_order_entry(uint32_t i)
{
    return active && i < nents ? &by_index[i]->e : NULL;
}

void lw_order_reset(void)
{
    table = NULL;   /* the arena keeps the memory: tests only */
    by_index = NULL;
    nents = 0;
    order_path = NULL;
    active = false;
}

/* "\t" -> tab, "\n" -> newline, "\x" -> x, in place (the viewer's
 * order_escape). */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* Adds key with rank unless listed already; false when out of memory or
 * past LW_ORDER_MAX_LOCKS. */
static bool add_key(char *key, uint32_t rank, uint32_t line)
{
    order_ent *o;
    unescape(key);
    HASH_FIND(hh, table, key, strlen(key), o);
    if (o)
        return true;   /* first mention wins: a cycle's locks keep its rank */
    if (nents == LW_ORDER_MAX_LOCKS || !(o = lw_arena_alloc(sizeof(*o))))
        return false;
    o->e.key = key;
    o->e.rank = rank;
    o->e.line = line;
    o->e.index = nents;
    order_oom = false;
    HASH_ADD_KEYPTR(hh, table, o->e.key, strlen(o->e.key), o);
    if (order_oom)
        return false;
    by_index[nents++] = o;
    return true;
}

#define ORDER_MAX_FIELDS 256   /* names a `cycle` line may list */

bool lw_order_parse(char *text, size_t len, const char *what)
{
    lw_order_reset();
    order_path = what;
    by_index = lw_arena_map(LW_ORDER_MAX_LOCKS * sizeof(*by_index));
    static char *f[ORDER_MAX_FIELDS];   /* start-up only: one thread */
    if (!by_index)
        goto nomem;
    uint32_t rank = 0, lineno = 0;
    for (size_t pos = 0; pos < len;) {
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + 1;
        line[n] = 0;
        if (n && line[n - 1] == '\r')
            line[--n] = 0;
        lineno++;
        if (n == 0 || line[0] == '#')
            continue;
        if (memchr(line, 0, n)) {
            lw_warn("lockwatch: warning: LOCKWATCH_ORDER_FILE \"%s\" line %u: a NUL byte "
                    "(not an order file); no lock order checks in this run\n", what, lineno);
            goto fail;
        }
        unsigned nf = lw_split_tabs(line, f, ORDER_MAX_FIELDS);
        bool ok;
        if (strcmp(f[0], "lock") == 0 && nf == 2 && f[1][0]) {
            ok = add_key(f[1], rank++, lineno);
        } else if (strcmp(f[0], "edge") == 0 && nf >= 3 && f[1][0] && f[2][0] &&
                   (nf == 3 || f[3][0] == '#')) {
            continue;   /* the justification: for people */
        } else if (strcmp(f[0], "cycle") == 0 && nf >= 2) {
            ok = true;
            for (unsigned i = 1; i < nf && ok; i++)
                ok = !f[i][0] || add_key(f[i], rank, lineno);
            rank++;
        } else {
            lw_warn("lockwatch: warning: LOCKWATCH_ORDER_FILE \"%s\" line %u: not an order file "
                    "line (lock, edge or cycle, tab-separated: lockwatch-report(1)); no lock "
                    "order checks in this run\n", what, lineno);
            goto fail;
        }
        if (!ok)
            goto nomem;
    }
    active = true;
    return true;
nomem:
    lw_warn("lockwatch: warning: LOCKWATCH_ORDER_FILE \"%s\": more than %u locks, or out of "
            "memory; no lock order checks in this run\n", what, LW_ORDER_MAX_LOCKS);
fail:
    lw_order_reset();
    return false;
}

bool lw_order_load(const char *path)
{
    int fd = lw_sys_open_read(path);
    if (fd < 0) {
        lw_warn("lockwatch: warning: cannot read LOCKWATCH_ORDER_FILE \"%s\" (errno %d); "
                "no lock order checks in this run\n", path, errno);
        return false;
    }
    /* Pages of the mapping are touched as the file fills them. */
    char *buf = lw_arena_map(LW_ORDER_FILE_MAX + 1);
    size_t n = 0;
    long r = 0;
    while (buf && n < LW_ORDER_FILE_MAX &&
           (r = lw_sys_read(fd, buf + n, LW_ORDER_FILE_MAX - n)) > 0)
        n += (size_t)r;
    char more;
    bool big = buf && n == LW_ORDER_FILE_MAX && lw_sys_read(fd, &more, 1) > 0;
    lw_sys_close(fd);
    if (!buf || r < 0 || big) {
        lw_warn("lockwatch: warning: cannot read LOCKWATCH_ORDER_FILE \"%s\" (%s); no lock "
                "order checks in this run\n", path,
                !buf ? "out of memory" : big ? "larger than 8 MiB" : "read error");
        return false;
    }
    buf[n] = 0;
    return lw_order_parse(buf, n, path);
}
