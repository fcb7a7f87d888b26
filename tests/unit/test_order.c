/*
 * test_order.c: LOCKWATCH_ORDER_FILE (order.h).  The parser on good and bad
 * files, lock keys as the library computes them, and the order-violation
 * rule driven by events (core_harness.h): a new edge against the file is
 * reported once per pair of keys, with both stacks; edges in the file's
 * order, between unlisted locks, within one class or one `cycle` line are
 * not.  And the graph record written at exit: edges of destroyed locks
 * kept, one edge per pair of lock classes, once per process.
 */
#include "core_harness.h"
#include "order.h"

#include <stdio.h>
#include <unistd.h>

#include "unit.h"

/* ---- the parser ---- */

/* lw_order_parse keeps and changes the text: a copy with room for a NUL. */
static bool parse(const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    ck_assert(buf != NULL);
    memcpy(buf, text, n + 1);
    return lw_order_parse(buf, n, "test.order");   /* buf lives on, as the file's would */
}

START_TEST(parse_viewer_output)
{
    /* What lockwatch-report --order writes: comments, a cycle before its
     * locks, escaped names, edges with their justification. */
    ck_assert(parse("# lockwatch lock order\n"
                    "# comment\n"
                    "lock\tqueue_lock\n"
                    "cycle\tx\ty\n"
                    "lock\tx\n"
                    "lock\ty\n"
                    "lock\td\\tx\\\\y\n"
                    "lock\tstats_lock\n"
                    "edge\tqueue_lock\tstats_lock\t# thread T1 at f x.c:3\n"
                    "edge\tx\ty\n"));
    ck_assert(lw_order_active());
    const lw_order_ent *q = lw_order_find("queue_lock"), *s = lw_order_find("stats_lock");
    const lw_order_ent *x = lw_order_find("x"), *y = lw_order_find("y");
    const lw_order_ent *d = lw_order_find("d\tx\\y");
    ck_assert(q && s && x && y && d);
    ck_assert_uint_lt(q->rank, x->rank);
    ck_assert_uint_eq(x->rank, y->rank);   /* one cycle: no order between them */
    ck_assert_uint_lt(y->rank, d->rank);
    ck_assert_uint_lt(d->rank, s->rank);
    ck_assert_uint_eq(q->line, 3);
    ck_assert_uint_eq(x->line, 4);
    ck_assert_uint_eq(s->line, 8);
    ck_assert_ptr_eq(lw_order_entry(s->index), s);
    ck_assert_ptr_null(lw_order_find("edge"));
    ck_assert_ptr_null(lw_order_find("unlisted"));
    ck_assert_str_eq(lw_order_path(), "test.order");
}
END_TEST

START_TEST(parse_rejects_bad_lines)
{
    static const char *const bad[] = {
        "lock\ta\nlocks\tb\n",          /* unknown word */
        "lock\ta\tb\n",                 /* a lock line of three fields */
        "lock\n",                       /* no name */
        "edge\ta\n",                    /* an edge without its second lock */
        "edge\ta\tb\tno comment mark\n",
        "lock a\n",                     /* spaces, not a tab */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!parse(bad[i]), "accepted: %s", bad[i]);
        ck_assert(!lw_order_active());
        ck_assert_ptr_null(lw_order_find("a"));
    }
    /* A NUL byte inside (a binary file). */
    char bin[] = "lock\ta\0b\nlock\tc\n";
    ck_assert(!lw_order_parse(bin, sizeof(bin) - 1, "bin"));
    /* Empty and comment-only files are valid: nothing to check. */
    ck_assert(parse(""));
    ck_assert(parse("# nothing\n\n"));
    ck_assert_ptr_null(lw_order_find("a"));
}
END_TEST

START_TEST(load_files)
{
    ck_assert(!lw_order_load("/nonexistent/lockwatch.order"));
    ck_assert(!lw_order_active());
    char path[] = "/tmp/lw-order-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    const char text[] = "lock\ta\nlock\tb";   /* no newline at the end */
    ck_assert(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    ck_assert(lw_order_load(path));
    ck_assert(lw_order_find("a") && lw_order_find("b"));
    ck_assert_uint_lt(lw_order_find("a")->rank, lw_order_find("b")->rank);
    ck_assert_str_eq(lw_order_path(), path);
    unlink(path);
}
END_TEST

/* ---- keys ---- */

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static pthread_mutex_t keyed_global = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) int first_seen_here(int x)
{
    return x * 3 + 1;
}

START_TEST(lock_keys)
{
    char key[LW_LOCK_KEY_MAX];
    lw_lock_snap l;
    memset(&l, 0, sizeof(l));
    l.kind = LW_KIND_MUTEX;
    l.name = "queue_lock";
    l.addr = (uintptr_t)&keyed_global;
    ck_assert(lw_lock_key(&l, key, sizeof(key)));
    ck_assert_str_eq(key, "queue_lock");           /* its name first */
    l.name = NULL;
    ck_assert(lw_lock_key(&l, key, sizeof(key)));
    ck_assert_str_eq(key, "keyed_global");         /* then its symbol */
    l.addr = (uintptr_t)&key;                      /* the stack: no symbol */
    ck_assert(!lw_lock_key(&l, key, sizeof(key)));   /* and never seen */
    l.first_pc = (uintptr_t)&first_seen_here + 4;
    l.first_how = LW_FIRST_INITIALISED;
    ck_assert(lw_lock_key(&l, key, sizeof(key)));
    ck_assert_msg(starts(key, "mutex first initialised in first_seen_here ("), "%s", key);
    l.kind = LW_KIND_RWLOCK;
    l.first_how = LW_FIRST_LOCKED;
    ck_assert(lw_lock_key(&l, key, sizeof(key)));
    ck_assert_msg(starts(key, "rwlock first locked in first_seen_here ("), "%s", key);
    /* What one does not order has no key. */
    l.name = "named";
    l.kind = LW_KIND_THREAD;
    ck_assert(!lw_lock_key(&l, key, sizeof(key)));
    l.kind = LW_KIND_SEM;
    ck_assert(!lw_lock_key(&l, key, sizeof(key)));
    l.kind = LW_KIND_COND;
    ck_assert(!lw_lock_key(&l, key, sizeof(key)));
    ck_assert_str_eq(key, "");
    (void)first_seen_here(1);
}
END_TEST

/* ---- the rule ---- */

static char order_path[64];
static char order_env[128];

/* The core with an order file; names of the locks the tests use. */
static void order_setup_text(const char *text)
{
    strcpy(order_path, "/tmp/lw-order-XXXXXX");
    int fd = mkstemp(order_path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    snprintf(order_env, sizeof(order_env), "LOCKWATCH_ORDER_FILE=%s", order_path);
    static char *envp[] = { "LOCKWATCH_STACK_DEPTH=4", order_env, NULL };
    h_setup_env(envp);
    unlink(order_path);
    ck_assert(lw_order_active());
}

static void order_setup(void)
{
    order_setup_text("# the team's order\n"
                     "lock\tqueue\n"
                     "cycle\tleft\tright\n"
                     "lock\tleft\n"
                     "lock\tright\n"
                     "lock\tstats\n"
                     "edge\tqueue\tstats\t# thread T1 at f x.c:3\n");
}

/* What the violation tests assert on besides the harness's record. */
static struct {
    unsigned n;
    uint32_t stack, held_stack;
    char first[32], second[32];
    uint32_t first_line, second_line;
    char message[512];
} seen;

static void order_hook(const lw_finding *f, bool first, void *ctx)
{
    h_hook(f, first, ctx);
    if (f->kind != LW_F_ORDER_VIOLATION || !first)
        return;
    seen.n++;
    seen.stack = f->edges[0].stack;
    seen.held_stack = f->edges[0].held_stack;
    snprintf(seen.first, sizeof(seen.first), "%s", f->order.first);
    snprintf(seen.second, sizeof(seen.second), "%s", f->order.second);
    seen.first_line = f->order.first_line;
    seen.second_line = f->order.second_line;
    snprintf(seen.message, sizeof(seen.message), "%s", f->message);
}

static lw_lock *named(unsigned i, const char *name)
{
    lw_lock_set_name(H_ADDR(i), name);
    return h_lock(i);
}

START_TEST(violation_reported_once_with_both_stacks)
{
    memset(&seen, 0, sizeof(seen));
    lw_sink_set_hook(order_hook, NULL, false);
    lw_thread *a = h_thread(0), *b = h_thread(1);
    lw_lock *queue = named(1, "queue"), *stats = named(2, "stats");
    h_nest2(a, stats, queue);   /* against the file: no cycle yet */
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    ck_assert_uint_eq(h_count(LW_F_INVERSION, false), 0);
    const h_finding *hf = &h_findings[h_nfindings - 1];
    ck_assert_uint_eq(hf->nedges, 1);
    ck_assert_uint_eq(hf->from[0], stats->id);   /* held */
    ck_assert_uint_eq(hf->to[0], queue->id);     /* taken */
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_uint_ne(seen.stack, 0);
    ck_assert_uint_ne(seen.held_stack, 0);
    ck_assert_str_eq(seen.first, "queue");
    ck_assert_str_eq(seen.second, "stats");
    ck_assert_uint_eq(seen.first_line, 2);
    ck_assert_uint_eq(seen.second_line, 6);
    ck_assert_msg(strstr(seen.message, "\"queue\"") && strstr(seen.message, "\"stats\""), "%s",
                  seen.message);
    /* Again, by another thread, from another site, and with new locks of
     * the same names (a new edge each): still once. */
    h_nest2(b, stats, queue);
    lw_lock *queue2 = named(3, "queue"), *stats2 = named(4, "stats");
    h_nest2(b, stats2, queue2);
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    /* The other order is the file's: no violation, but now a cycle. */
    h_nest2(b, queue, stats);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    ck_assert_uint_eq(h_count(LW_F_INVERSION, true), 1);
}
END_TEST

START_TEST(file_order_is_quiet)
{
    lw_thread *a = h_thread(0);
    lw_lock *queue = named(1, "queue"), *stats = named(2, "stats");
    lw_lock *left = named(3, "left"), *right = named(4, "right");
    lw_lock *other = named(5, "unlisted"), *anon = h_lock(6);
    lw_lock *queue2 = named(7, "queue");
    h_nest2(a, queue, stats);    /* the file's order */
    h_nest2(a, left, stats);
    h_nest2(a, right, left);     /* one cycle line: either order */
    h_nest2(a, left, right);
    h_nest2(a, stats, other);    /* not in the file */
    h_nest2(a, other, queue);
    h_nest2(a, stats, anon);     /* no key at all (made-up address, no symbol) */
    h_nest2(a, anon, queue);
    h_nest2(a, queue2, queue);   /* one class */
    h_nest2(a, queue, queue2);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 0);
    /* ... and then one that is not. */
    h_nest2(a, right, queue);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
}
END_TEST

static void bad_file_setup(void)
{
    /* A bad file: the run goes on without order checks. */
    strcpy(order_path, "/tmp/lw-order-XXXXXX");
    int fd = mkstemp(order_path);
    ck_assert(fd >= 0);
    const char text[] = "lock\tqueue\nlock\tstats\nnonsense here\n";
    ck_assert(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    snprintf(order_env, sizeof(order_env), "LOCKWATCH_ORDER_FILE=%s", order_path);
    static char *envp[] = { order_env, NULL };
    h_setup_env(envp);
    unlink(order_path);
}

START_TEST(bad_file_means_no_checks)
{
    ck_assert(!lw_order_active());
    lw_thread *a = h_thread(0);
    lw_lock *queue = named(1, "queue"), *stats = named(2, "stats");
    h_nest2(a, stats, queue);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 0);
    h_nest2(a, queue, stats);
    ck_assert_uint_eq(h_count(LW_F_INVERSION, true), 1);   /* the rest works */
}
END_TEST

/* ---- the graph record at exit (finding.h, lw_core_write_graph) ---- */

static char graph_log[64];
static char graph_env[128];

static void graph_setup(void)
{
    strcpy(graph_log, "/tmp/lw-graph-XXXXXX");
    int fd = mkstemp(graph_log);
    ck_assert(fd >= 0);
    close(fd);
    snprintf(graph_env, sizeof(graph_env), "LOCKWATCH_LOG=%s", graph_log);
    static char *envp[] = { "LOCKWATCH_FORMAT=json", graph_env, NULL };
    h_setup_env(envp);
}

static char *read_log(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(graph_log, "r");
    ck_assert(f != NULL);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    unlink(graph_log);
    return buf;
}

static unsigned count(const char *s, const char *what)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

START_TEST(graph_record_keeps_destroyed_and_merges_classes)
{
    lw_thread *a = h_thread(0);
    /* Two locks, then the first destroyed: its edge leaves the graph. */
    lw_lock *x = h_lock(1), *y = h_lock(2);
    h_nest2(a, x, y);
    uint64_t xid = x->id, yid = y->id;
    ck_assert(lw_graph_find_edge(xid, yid) != NULL);
    lw_lock_destroyed(H_ADDR(1));
    ck_assert(lw_graph_find_edge(xid, yid) == NULL);
    /* Heap locks made at two sites: two edges of one pair of classes. */
    const uintptr_t site_p = 0x500000, site_q = 0x500100;
    for (unsigned i = 0; i < 2; i++) {
        lw_lock *p = lw_lock_lookup(H_ADDR(10 + 2 * i), LW_KIND_MUTEX, 0, site_p);
        lw_lock *q = lw_lock_lookup(H_ADDR(11 + 2 * i), LW_KIND_MUTEX, 0, site_q);
        ck_assert(p && q);
        h_nest2(a, p, q);
    }
    ck_assert_uint_eq(lw_graph_edges(), 2);
    lw_core_write_graph();
    lw_core_write_graph();   /* once per process */
    char *log = read_log();
    ck_assert_uint_eq(count(log, "\n"), 1);
    ck_assert_msg(starts(log, "{\"kind\":\"graph\",\"pid\":"), "%.200s", log);
    ck_assert_msg(strstr(log, "\"truncated\":false"), "%.300s", log);
    char want[96];
    snprintf(want, sizeof(want), "{\"from\":\"M%lu\",\"to\":\"M%lu\",", (unsigned long)xid,
             (unsigned long)yid);
    ck_assert_msg(strstr(log, want), "the destroyed lock's edge is missing: %s", log);
    ck_assert_uint_eq(count(log, "{\"from\":"), 2);   /* x->y, and p->q once */
    ck_assert_uint_eq(count(log, "\"cyclic\":false"), 2);
    ck_assert_msg(strstr(log, "\"stacks\":[["), "%.300s", log);
}
END_TEST

static Suite *order_suite(void)
{
    Suite *s = suite_create("order");
    TCase *p = tcase_create("parser");
    tcase_add_test(p, parse_viewer_output);
    tcase_add_test(p, parse_rejects_bad_lines);
    tcase_add_test(p, load_files);
    tcase_add_test(p, lock_keys);
    suite_add_tcase(s, p);
    TCase *r = tcase_create("rule");
    tcase_add_checked_fixture(r, order_setup, NULL);
    tcase_add_test(r, violation_reported_once_with_both_stacks);
    tcase_add_test(r, file_order_is_quiet);
    suite_add_tcase(s, r);
    TCase *b = tcase_create("bad file");
    tcase_add_checked_fixture(b, bad_file_setup, NULL);
    tcase_add_test(b, bad_file_means_no_checks);
    suite_add_tcase(s, b);
    TCase *g = tcase_create("graph record");
    tcase_add_checked_fixture(g, graph_setup, NULL);
    tcase_add_test(g, graph_record_keeps_destroyed_and_merges_classes);
    suite_add_tcase(s, g);
    return s;
}

LW_UNIT_MAIN(order_suite)
