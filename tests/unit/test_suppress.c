/*
 * test_suppress.c: suppression rules (suppress.c): the glob matcher, the
 * parser's handling of good and malformed lines, and the sink applying
 * rules by kind, by function name in any stack, and by fingerprint, with
 * suppressed findings neither written nor counted.
 */
#include "core_harness.h"
#include "suppress.h"
#include "stacks.h"

#include "unit.h"
#include <stdio.h>
#include <unistd.h>

START_TEST(glob_cases)
{
    static const struct {
        const char *pat, *s;
        bool want;
    } cases[] = {
        { "abc", "abc", true },         { "abc", "abd", false },
        { "a*", "a", true },            { "a*", "abcdef", true },
        { "*c", "abc", true },          { "*c", "abd", false },
        { "a*b*c", "aXbYc", true },     { "a*b*c", "aXbY", false },
        { "a?c", "abc", true },         { "a?c", "ac", false },
        { "[ab]x", "bx", true },        { "[ab]x", "cx", false },
        { "[a-c]", "b", true },         { "[!a-c]", "b", false },
        { "[!a-c]", "d", true },        { "*", "", true },
        { "", "", true },               { "", "a", false },
        { "take_*", "take_a_then_b", true },
        { "*then_b", "take_a_then_b", true },
        { "*::transfer*", "bank::Ledger::transfer(long)", true },
        { "[", "[", true },             { "a[", "a[", true },
        { "**a", "bba", true },         { "*a*a*a", "aaa", true },
        { "*a*a*a", "aa", false },
    };
    for (unsigned i = 0; i < LW_ARRAY_SIZE(cases); i++)
        ck_assert_msg(lw_glob(cases[i].pat, cases[i].s) == cases[i].want,
                      "glob(\"%s\", \"%s\") should be %d", cases[i].pat, cases[i].s,
                      cases[i].want);
}
END_TEST

static char supp_path[128];

static void write_rules(const char *text)
{
    snprintf(supp_path, sizeof(supp_path), "/tmp/lw-test-supp-%d.txt", (int)getpid());
    FILE *f = fopen(supp_path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* A function of this program, to be found by name in a stack. */
__attribute__((noinline)) void lw_test_victim_function(void)
{
    __asm__ volatile("");
}

/* An inversion whose first edge's stack names lw_test_victim_function. */
static lw_finding *victim_inversion(void)
{
    lw_finding *f = lw_finding_new(LW_F_INVERSION);
    lw_lock_snap a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.id = 1;
    a.addr = 0x1000;
    b.id = 2;
    b.addr = 0x2000;
    int ia = lw_finding_lock(f, &a, true, NULL, 0), ib = lw_finding_lock(f, &b, true, NULL, 0);
    lw_thread_snap ts;
    memset(&ts, 0, sizeof(ts));
    ts.num = 1;
    lw_finding_thread(f, &ts);
    uintptr_t pcs[2] = { (uintptr_t)&lw_test_victim_function + 1, 0x77 };
    f->edges[0] = (lw_fedge){ (uint16_t)ia, (uint16_t)ib, 0, LW_MODE_WRITE, LW_MODE_WRITE,
                              lw_depot_put(pcs, 2), 0, 0 };
    f->edges[1] = (lw_fedge){ (uint16_t)ib, (uint16_t)ia, 0, LW_MODE_WRITE, LW_MODE_WRITE,
                              lw_depot_put(pcs + 1, 1), 0, 0 };
    f->nedges = 2;
    return f;
}

static void setup_rules(void)
{
    static char env[200];
    write_rules("# comments and blank lines are fine\n"
                "\n"
                "deadlock:lw_test_victim_*\n"            /* other kind: no match */
                "no colon here\n"                          /* malformed */
                "not-a-kind:x\n"                           /* malformed */
                "  lock-order-inversion : lw_test_victim_function  \n"
                "*:something_else\n"
                "fingerprint:0123456789abcdef0\n");        /* 17 digits: malformed */
    snprintf(env, sizeof(env), "LOCKWATCH_SUPPRESSIONS=%s", supp_path);
    static char *envp[] = { env, "LOCKWATCH_LOG=/dev/null", NULL };
    h_setup_env(envp);
}

static void teardown_rules(void)
{
    unlink(supp_path);
}

START_TEST(rules_by_function)
{
    lw_finding *f = victim_inversion();
    ck_assert_int_eq(lw_supp_match(f), 1);   /* the second rule kept */
    lw_finding_emit(f);
    ck_assert_uint_eq(h_nfindings, 1);
    ck_assert_int_eq(lw_findings_count(), 0);   /* suppressed: not counted */
    ck_assert_int_eq(lw_exit_status(0), 0);
}
END_TEST

START_TEST(rules_by_fingerprint)
{
    lw_finding *f = victim_inversion();
    /* Another kind with the same stacks: no rule names it. */
    f->kind = LW_F_DOUBLE_LOCK;
    f->fingerprint = lw_finding_fingerprint(f);
    ck_assert_int_eq(lw_supp_match(f), -1);
    /* A fingerprint rule, read at run time from a second file. */
    char text[64];
    snprintf(text, sizeof(text), "double-lock:fingerprint:%016llx\n",
             (unsigned long long)f->fingerprint);
    write_rules(text);
    ck_assert_uint_eq(lw_supp_load(supp_path), 4);
    ck_assert_int_eq(lw_supp_match(f), 3);
    lw_finding_free(f);
}
END_TEST

START_TEST(suggested_rule_matches)
{
    lw_finding *f = victim_inversion();
    f->kind = LW_F_RWLOCK_UPGRADE;
    f->fingerprint = lw_finding_fingerprint(f);
    char rule[192];
    lw_supp_suggest(f, rule, sizeof(rule));
    ck_assert_str_eq(rule, "rwlock-upgrade:lw_test_victim_function");
    write_rules(rule);
    lw_supp_load(supp_path);
    ck_assert_int_ge(lw_supp_match(f), 0);
    lw_finding_free(f);
}
END_TEST

static Suite *suppress_suite(void)
{
    Suite *s = suite_create("suppress");
    TCase *g = tcase_create("glob");
    tcase_add_test(g, glob_cases);
    suite_add_tcase(s, g);
    TCase *r = tcase_create("rules");
    tcase_add_checked_fixture(r, setup_rules, teardown_rules);
    tcase_add_test(r, rules_by_function);
    tcase_add_test(r, rules_by_fingerprint);
    tcase_add_test(r, suggested_rule_matches);
    suite_add_tcase(s, r);
    return s;
}

LW_UNIT_MAIN(suppress_suite)
