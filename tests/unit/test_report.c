/*
 * test_report.c: the writer (report.c) fed findings built by hand, as the
 * core builds them: the JSON line's members and references, frames without
 * a symbol ("function":null), escaping of hostile lock names, the text
 * report's sections, and the sink's fingerprint (same code, same print;
 * other code, another).
 */
#include "finding.h"
#include "lw_core.h"
#include "stacks.h"

#include "unit.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char log_path[256];

static void setup_with(const char *format)
{
    static char fmt_env[64], log_env[300];
    snprintf(log_path, sizeof(log_path), "/tmp/lw-test-report-%d.log", (int)getpid());
    unlink(log_path);
    snprintf(fmt_env, sizeof(fmt_env), "LOCKWATCH_FORMAT=%s", format);
    snprintf(log_env, sizeof(log_env), "LOCKWATCH_LOG=%s", log_path);
    static char *envp[3];
    envp[0] = fmt_env;
    envp[1] = log_env;
    envp[2] = NULL;
    ck_assert(lw_core_init(envp, NULL));
}

static void setup_json(void)
{
    setup_with("json");
}

static void setup_text(void)
{
    setup_with("text");
}

static void teardown(void)
{
    unlink(log_path);
}

static char *read_log(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(log_path, "r");
    ck_assert_msg(f != NULL, "no report was written to %s", log_path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* A made-up stack: pcs in no module, so no symbol. */
static uint32_t fake_stack(uintptr_t base, unsigned n)
{
    uintptr_t pcs[8];
    for (unsigned i = 0; i < n; i++)
        pcs[i] = base + i * 0x10;
    return lw_depot_put(pcs, n);
}

static lw_lock_snap lock_snap(uint64_t id, const char *name)
{
    lw_lock_snap l;
    memset(&l, 0, sizeof(l));
    l.id = id;
    l.addr = 0x1000 + id * 64;
    l.kind = LW_KIND_MUTEX;
    l.first_how = LW_FIRST_LOCKED;
    l.first_pc = 0x7000 + id;
    l.name = name;
    return l;
}

static lw_finding *inversion(uintptr_t code)
{
    lw_finding *f = lw_finding_new(LW_F_INVERSION);
    ck_assert(f != NULL);
    lw_lock_snap a = lock_snap(1, "queue \"lock\"\n<b>"), b = lock_snap(2, NULL);
    int ia = lw_finding_lock(f, &a, true, NULL, 0), ib = lw_finding_lock(f, &b, true, NULL, 0);
    for (unsigned t = 0; t < 2; t++) {
        lw_thread_snap ts;
        memset(&ts, 0, sizeof(ts));
        ts.num = t + 1;
        ts.tid = 500 + (int)t;
        ts.created_seen = true;
        ts.create_stack = fake_stack(0x9000 + t * 0x100, 2);
        ck_assert(lw_finding_thread(f, &ts) != NULL);
        lw_fedge *e = &f->edges[f->nedges++];
        e->from = (uint16_t)(t ? ib : ia);
        e->to = (uint16_t)(t ? ia : ib);
        e->thread = (uint16_t)t;
        e->from_mode = e->to_mode = LW_MODE_WRITE;
        e->stack = fake_stack(code + t * 0x1000, 3);
        e->held_stack = fake_stack(code + t * 0x1000 + 0x800, 3);
    }
    lw_finding_message(f, "lock-order inversion (potential deadlock): M1 => M2 => M1");
    return f;
}

START_TEST(json_inversion)
{
    lw_finding_emit(inversion(0x50000));
    char *log = read_log();
    /* One line, one object. */
    char *nl = strchr(log, '\n');
    ck_assert(nl != NULL && nl[1] == 0);
    ck_assert(strncmp(log, "{\"kind\":\"lock-order-inversion\",\"message\":", 41) == 0);
    ck_assert(strstr(log, ",\"fingerprint\":\"") != NULL);
    const char *fp = strstr(log, "\"fingerprint\":\"") + 15;
    for (int i = 0; i < 16; i++)
        ck_assert_msg(strchr("0123456789abcdef", fp[i]) && fp[i], "fingerprint %.20s", fp);
    ck_assert(fp[16] == '"');
    ck_assert(strstr(log, "\"cycle\":[{\"from\":\"M1\",\"to\":\"M2\",\"thread\":\"T1\"") != NULL);
    ck_assert(strstr(log, "{\"from\":\"M2\",\"to\":\"M1\",\"thread\":\"T2\"") != NULL);
    /* Every frame has function, mangled, file, line (null without symbols
     * or debug information) and inlined. */
    ck_assert(strstr(log, "\"function\":null,\"mangled\":null,\"file\":null,\"line\":null,"
                          "\"inlined\":[]}") != NULL);
    ck_assert(strstr(log, "\"function\":\"") == NULL);
    /* The hostile name is escaped, never raw. */
    ck_assert(strstr(log, "\"name\":\"queue \\\"lock\\\"\\n<b>\"") != NULL);
    /* The message names the named lock (escaped too); M2, in memory no
     * mapping holds, keeps its bare id. */
    ck_assert(strstr(log, "\"message\":\"lock-order inversion (potential deadlock): "
                          "M1 (\\\"queue \\\"lock\\\"\\n<b>\\\") => M2 => M1\"") != NULL);
    ck_assert(strstr(log, "\"label\":\"\\\"queue") != NULL);
    ck_assert_uint_eq(lw_findings_count(), 1);
}
END_TEST

START_TEST(fingerprint_by_code)
{
    lw_finding *a = inversion(0x50000), *b = inversion(0x50000), *c = inversion(0x60000);
    /* Other lock addresses, ids and thread ids: the same problem. */
    b->locks[0].lock.addr += 0x10000;
    b->locks[0].lock.id = 77;
    b->threads[0].tid = 9999;
    uint64_t fa = lw_finding_fingerprint(a), fb = lw_finding_fingerprint(b),
             fc = lw_finding_fingerprint(c);
    ck_assert_uint_eq(fa, fb);
    ck_assert_uint_ne(fa, fc);
    /* The edges listed from the other end: the same cycle. */
    lw_fedge t = b->edges[0];
    b->edges[0] = b->edges[1];
    b->edges[1] = t;
    ck_assert_uint_eq(lw_finding_fingerprint(b), fa);
    lw_finding_emit(a);
    lw_finding_emit(b);
    lw_finding_emit(c);
    ck_assert_uint_eq(lw_findings_count(), 2);
}
END_TEST

START_TEST(json_issue_members)
{
    lw_finding *f = lw_finding_new(LW_F_BLOCKING);
    lw_thread_snap ts;
    memset(&ts, 0, sizeof(ts));
    ts.num = 0;
    ts.tid = 42;
    ts.stack = fake_stack(0x70000, 2);
    ts.nholds = 1;
    ts.holds[0].lock = lock_snap(3, NULL);
    ts.holds[0].mode = LW_MODE_WRITE;
    ts.holds[0].stack = fake_stack(0x71000, 1);
    lw_fthread *t = lw_finding_thread(f, &ts);
    lw_finding_what(t, "called read() (pipe) here");
    lw_finding_message(f, "read() may block (pipe) while the thread holds 1 lock");
    f->call.function = "read";
    f->call.family = "pipe";
    lw_finding_emit(f);
    char *log = read_log();
    ck_assert(strstr(log, "\"kind\":\"blocking-call-under-lock\"") != NULL);
    ck_assert(strstr(log, "\"action\":\"called read() (pipe) here\"") != NULL);
    ck_assert(strstr(log, "\"holds\":[{\"lock\":\"M3\",\"mode\":\"write\",\"stack\":") != NULL);
    ck_assert(strstr(log, ",\"call\":{\"function\":\"read\",\"family\":\"pipe\",\"elapsed_us\":null}")
              != NULL);
    ck_assert(strstr(log, "\"cycle\"") == NULL);
}
END_TEST

START_TEST(text_inversion)
{
    lw_finding_emit(inversion(0x50000));
    char *log = read_log();
    ck_assert(strstr(log, "WARNING: lockwatch: lock-order inversion (potential deadlock) (pid=") ==
              log + strlen("==================\n"));
    /* A name given with lockwatch_name_lock() is in the Cycle line. */
    ck_assert(strstr(log, "  Cycle in lock order graph: M1 (\"queue \"lock\"\n<b>\", 0x1040) => "
                          "M2 (0x1080) => M1\n") != NULL);
    /* ... and in every edge heading. */
    ck_assert(strstr(log, "  Mutex M2 acquired here while holding mutex M1 (\"queue \"lock\"\n<b>\") "
                          "in thread T1 (tid=500):\n") != NULL);
    ck_assert(strstr(log, "  Mutex M1 (\"queue \"lock\"\n<b>\") previously acquired by the same "
                          "thread here:\n") != NULL);
    ck_assert(strstr(log, "  Mutex M1 (\"queue \"lock\"\n<b>\") acquired here while holding mutex M2 "
                          "in thread T2 (tid=501):\n") != NULL);
    ck_assert(strstr(log, "first locked at:\n") != NULL);
    ck_assert(strstr(log, "  Thread T2 (tid=501) created by main thread at:\n") != NULL);
    ck_assert(strstr(log, "\"queue \\\"lock\\\"") == NULL);   /* text is not JSON */
    ck_assert(strstr(log, "\nSUMMARY: lockwatch: lock-order inversion (potential deadlock)") != NULL);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *json = tcase_create("json");
    tcase_add_checked_fixture(json, setup_json, teardown);
    tcase_add_test(json, json_inversion);
    tcase_add_test(json, fingerprint_by_code);
    tcase_add_test(json, json_issue_members);
    suite_add_tcase(s, json);
    TCase *text = tcase_create("text");
    tcase_add_checked_fixture(text, setup_text, teardown);
    tcase_add_test(text, text_inversion);
    suite_add_tcase(s, text);
    return s;
}

LW_UNIT_MAIN(report_suite)
