/*
 * test_options.c: LOCKWATCH_* parsing (options.def via lw_options_parse) on
 * hand-made environments: defaults, every valid boundary, and invalid values
 * that keep the default and print exactly one "lockwatch: warning:" line on
 * fd 2 (captured here so the tests can count and read it).
 */
#include "options.h"
#include "log.h"

#include <check.h>

#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_EXITCODE 66
#define DEFAULT_STACK_DEPTH 24

/* ---- capturing fd 2 ---- */

static int cap_fd = -1, saved_stderr = -1;
static char captured[8192];

static void capture_start(void)
{
    char tmpl[] = "/tmp/lw-test-options-XXXXXX";
    cap_fd = mkstemp(tmpl);
    ck_assert_int_ge(cap_fd, 0);
    unlink(tmpl);
    fflush(stderr);
    saved_stderr = dup(2);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_eq(dup2(cap_fd, 2), 2);
    /* lockwatch writes where stderr was when it started: start again. */
    lw_log_reinit();
}

/* Restores fd 2, returns what was written, and echoes it to the real
 * stderr so the test log still shows the warnings. */
static const char *capture_end(void)
{
    ck_assert_int_eq(dup2(saved_stderr, 2), 2);
    close(saved_stderr);
    lw_log_reinit();
    ck_assert_int_eq(lseek(cap_fd, 0, SEEK_SET), 0);
    ssize_t n = read(cap_fd, captured, sizeof(captured) - 1);
    close(cap_fd);
    captured[n > 0 ? n : 0] = 0;
    if (n > 0 && write(2, captured, (size_t)n) < 0) {
        /* the log copy is best effort */
    }
    return captured;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Parses env (NULL-terminated) and returns the warnings it printed. */
static const char *parse(char **env)
{
    capture_start();
    lw_options_parse(env);
    return capture_end();
}

static void assert_defaults(void)
{
    ck_assert_int_eq(lw_opt.format, LW_FORMAT_TEXT);
    ck_assert_str_eq(lw_opt.log, "");
    ck_assert_int_eq(lw_opt.exitcode, DEFAULT_EXITCODE);
    ck_assert_int_eq(lw_opt.stack_depth, DEFAULT_STACK_DEPTH);
}

static void scribble(void)
{
    /* Stale values from an earlier parse must not survive the next one. */
    lw_opt.format = 7;
    memset(lw_opt.log, 'x', sizeof(lw_opt.log) - 1);
    lw_opt.log[sizeof(lw_opt.log) - 1] = 0;
    lw_opt.exitcode = -5;
    lw_opt.stack_depth = 1000;
}

START_TEST(test_defaults)
{
    char *env[] = {NULL};
    scribble();
    ck_assert_str_eq(parse(env), "");
    assert_defaults();

    char *unrelated[] = {"PATH=/usr/bin", "LOCKWATCH=1", "LOCKWATCH_UNKNOWN=3", NULL};
    scribble();
    ck_assert_str_eq(parse(unrelated), "");
    assert_defaults();
}
END_TEST

START_TEST(test_valid_values)
{
    char *env[] = {"LOCKWATCH_FORMAT=json", "LOCKWATCH_LOG=/tmp/lw-%p.log", "LOCKWATCH_EXITCODE=0",
                   "LOCKWATCH_STACK_DEPTH=64", NULL};
    ck_assert_str_eq(parse(env), "");
    ck_assert_int_eq(lw_opt.format, LW_FORMAT_JSON);
    ck_assert_str_eq(lw_opt.log, "/tmp/lw-%p.log");
    ck_assert_int_eq(lw_opt.exitcode, 0);
    ck_assert_int_eq(lw_opt.stack_depth, 64);

    char *env2[] = {"LOCKWATCH_FORMAT=text", "LOCKWATCH_EXITCODE=255", "LOCKWATCH_STACK_DEPTH=1",
                    "LOCKWATCH_LOG=", NULL};
    scribble();
    ck_assert_str_eq(parse(env2), "");
    ck_assert_int_eq(lw_opt.format, LW_FORMAT_TEXT);
    ck_assert_str_eq(lw_opt.log, "");
    ck_assert_int_eq(lw_opt.exitcode, 255);
    ck_assert_int_eq(lw_opt.stack_depth, 1);

    char *env3[] = {"LOCKWATCH_EXITCODE=1", "LOCKWATCH_STACK_DEPTH=32", NULL};
    ck_assert_str_eq(parse(env3), "");
    ck_assert_int_eq(lw_opt.exitcode, 1);
    ck_assert_int_eq(lw_opt.stack_depth, 32);
}
END_TEST

START_TEST(test_log_length_limit)
{
    static char longest[16 + 511 + 1], too_long[16 + 512 + 1];
    strcpy(longest, "LOCKWATCH_LOG=");
    memset(longest + strlen(longest), 'L', 511);
    strcpy(too_long, "LOCKWATCH_LOG=");
    memset(too_long + strlen(too_long), 'T', 512);

    char *ok[] = {longest, NULL};
    ck_assert_str_eq(parse(ok), "");
    ck_assert_uint_eq(strlen(lw_opt.log), 511);
    ck_assert_str_eq(lw_opt.log, longest + strlen("LOCKWATCH_LOG="));

    char *bad[] = {too_long, NULL};
    const char *w = parse(bad);
    ck_assert_uint_eq(count_lines(w), 1);
    ck_assert_ptr_nonnull(strstr(w, "lockwatch: warning: LOCKWATCH_LOG="));
    ck_assert_str_eq(lw_opt.log, "");
}
END_TEST

/* One bad value per run: the default stays, one warning line names it. */
static const struct {
    const char *name, *value;
} invalid[] = {
    {"LOCKWATCH_FORMAT", "xml"},
    {"LOCKWATCH_FORMAT", "JSON"},
    {"LOCKWATCH_FORMAT", ""},
    {"LOCKWATCH_FORMAT", "json "},
    {"LOCKWATCH_FORMAT", "tex"},
    {"LOCKWATCH_FORMAT", "jsonx"},
    {"LOCKWATCH_FORMAT", "text|json"},
    {"LOCKWATCH_EXITCODE", "256"},
    {"LOCKWATCH_EXITCODE", "-1"},
    {"LOCKWATCH_EXITCODE", "abc"},
    {"LOCKWATCH_EXITCODE", ""},
    {"LOCKWATCH_EXITCODE", "-"},
    {"LOCKWATCH_EXITCODE", "12x"},
    {"LOCKWATCH_EXITCODE", " 5"},
    {"LOCKWATCH_EXITCODE", "0x10"},
    {"LOCKWATCH_EXITCODE", "99999999999999999999"},
    {"LOCKWATCH_EXITCODE", "4294967362"}, /* 66 + 2^32 */
    {"LOCKWATCH_STACK_DEPTH", "0"},
    {"LOCKWATCH_STACK_DEPTH", "65"},
    {"LOCKWATCH_STACK_DEPTH", "1.5"},
    {"LOCKWATCH_STACK_DEPTH", "-24"},
};

START_TEST(test_invalid_value)
{
    char var[128];
    snprintf(var, sizeof(var), "%s=%s", invalid[_i].name, invalid[_i].value);
    char *env[] = {"LOCKWATCH_OTHER=1", var, NULL};
    scribble();
    const char *w = parse(env);
    assert_defaults();

    char prefix[160];
    snprintf(prefix, sizeof(prefix),
             "lockwatch: warning: %s=\"%s\" is not valid (accepted: ", invalid[_i].name,
             invalid[_i].value);
    ck_assert_msg(strncmp(w, prefix, strlen(prefix)) == 0, "warning was: %s", w);
    ck_assert_uint_eq(count_lines(w), 1);
    ck_assert_int_eq(w[strlen(w) - 1], '\n');
    ck_assert_ptr_nonnull(strstr(w, "); using "));
}
END_TEST

START_TEST(test_warning_text)
{
    /* The exact lines the contract shows for an enum and an integer. */
    char *env[] = {"LOCKWATCH_FORMAT=xml", NULL};
    ck_assert_str_eq(parse(env), "lockwatch: warning: LOCKWATCH_FORMAT=\"xml\" is not valid "
                                 "(accepted: text|json); using text\n");
    char *env2[] = {"LOCKWATCH_EXITCODE=300", NULL};
    ck_assert_str_eq(parse(env2), "lockwatch: warning: LOCKWATCH_EXITCODE=\"300\" is not valid "
                                  "(accepted: an integer from 0 to 255); using the default 66\n");
}
END_TEST

START_TEST(test_mixed_valid_and_invalid)
{
    char *env[] = {"LOCKWATCH_FORMAT=json", "LOCKWATCH_EXITCODE=1000", "LOCKWATCH_STACK_DEPTH=8",
                   "LOCKWATCH_LOG=out.txt", NULL};
    const char *w = parse(env);
    ck_assert_uint_eq(count_lines(w), 1);
    ck_assert_ptr_nonnull(strstr(w, "LOCKWATCH_EXITCODE=\"1000\""));
    ck_assert_int_eq(lw_opt.format, LW_FORMAT_JSON);
    ck_assert_int_eq(lw_opt.exitcode, DEFAULT_EXITCODE);
    ck_assert_int_eq(lw_opt.stack_depth, 8);
    ck_assert_str_eq(lw_opt.log, "out.txt");

    char *all_bad[] = {"LOCKWATCH_FORMAT=yaml", "LOCKWATCH_EXITCODE=x", "LOCKWATCH_STACK_DEPTH=99",
                       NULL};
    w = parse(all_bad);
    ck_assert_uint_eq(count_lines(w), 3);
    assert_defaults();
}
END_TEST

START_TEST(test_name_matching)
{
    /* Only NAME=value counts: no prefix or suffix matches. */
    char *env[] = {"LOCKWATCH_FORMATX=json", "XLOCKWATCH_FORMAT=json", "LOCKWATCH_FORMAT",
                   "LOCKWATCH_EXITCODE_=3",  "lockwatch_exitcode=3",   NULL};
    scribble();
    ck_assert_str_eq(parse(env), "");
    assert_defaults();

    /* The first definition wins, as with getenv. */
    char *twice[] = {"LOCKWATCH_EXITCODE=3", "LOCKWATCH_EXITCODE=4", NULL};
    ck_assert_str_eq(parse(twice), "");
    ck_assert_int_eq(lw_opt.exitcode, 3);

    ck_assert_str_eq(lw_env(twice, "LOCKWATCH_EXITCODE"), "3");
    ck_assert_ptr_null(lw_env(twice, "LOCKWATCH_EXIT"));
    ck_assert_ptr_null(lw_env(env, "LOCKWATCH_FORMAT"));
    char *empty[] = {NULL};
    ck_assert_ptr_null(lw_env(empty, "PATH"));
}
END_TEST

START_TEST(test_process_environment)
{
    /* envp NULL: the process environment (environ). */
    ck_assert_int_eq(setenv("LOCKWATCH_EXITCODE", "7", 1), 0);
    ck_assert_int_eq(setenv("LOCKWATCH_FORMAT", "json", 1), 0);
    ck_assert_int_eq(unsetenv("LOCKWATCH_STACK_DEPTH"), 0);
    ck_assert_int_eq(unsetenv("LOCKWATCH_LOG"), 0);
    ck_assert_str_eq(lw_env(NULL, "LOCKWATCH_EXITCODE"), "7");
    ck_assert_str_eq(parse(NULL), "");
    ck_assert_int_eq(lw_opt.exitcode, 7);
    ck_assert_int_eq(lw_opt.format, LW_FORMAT_JSON);
    ck_assert_int_eq(lw_opt.stack_depth, DEFAULT_STACK_DEPTH);
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_valid_values);
    tcase_add_test(tc, test_log_length_limit);
    tcase_add_loop_test(tc, test_invalid_value, 0, LW_ARRAY_SIZE(invalid));
    tcase_add_test(tc, test_warning_text);
    tcase_add_test(tc, test_mixed_valid_and_invalid);
    tcase_add_test(tc, test_name_matching);
    tcase_add_test(tc, test_process_environment);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(options_suite)
