/*
 * test_jitter.c: LOCKWATCH_JITTER's decisions (jitter.c): a seed gives each
 * thread the same sequence every time, other seeds and other threads other
 * sequences; level 0 decides nothing; at level 100 the rates of yields and
 * sleeps and the length of sleeps are what jitter.h promises; every kind of
 * point, the one after an acquisition included, decides alike.
 */
#include "jitter.h"

#include "unit.h"
#include <string.h>

#define DRAWS 100000

static void sequence_at(uint32_t seed, uint32_t num, unsigned level, enum lw_jitter_point where,
                        uint32_t *out, unsigned n)
{
    lw_thread t;
    memset(&t, 0, sizeof(t));
    t.num = num;
    lw_jitter_seed_thread(&t, seed);
    for (unsigned i = 0; i < n; i++)
        out[i] = lw_jitter_decide(&t.jit_rng, level, where, t.jit_bias);
}

static void sequence(uint32_t seed, uint32_t num, unsigned level, uint32_t *out, unsigned n)
{
    sequence_at(seed, num, level, LW_JIT_ACQUIRE, out, n);
}

START_TEST(same_seed_same_decisions)
{
    static uint32_t a[1000], b[1000], c[1000], d[1000];
    sequence(42, 3, 100, a, 1000);
    sequence(42, 3, 100, b, 1000);
    ck_assert(memcmp(a, b, sizeof(a)) == 0);
    sequence(43, 3, 100, c, 1000);
    ck_assert(memcmp(a, c, sizeof(a)) != 0);
    sequence(42, 4, 100, d, 1000);
    ck_assert(memcmp(a, d, sizeof(a)) != 0);
}
END_TEST

START_TEST(level_zero_does_nothing)
{
    static uint32_t a[DRAWS];
    sequence(7, 1, 0, a, DRAWS);
    for (unsigned i = 0; i < DRAWS; i++)
        REQUIRE(a[i] == 0);
}
END_TEST

START_TEST(rates_at_full_strength)
{
    static uint32_t a[DRAWS];
    for (uint32_t num = 0; num < 8; num++) {
        sequence(1234, num, 100, a, DRAWS);
        unsigned yields = 0, sleeps = 0;
        for (unsigned i = 0; i < DRAWS; i++) {
            yields += a[i] == 1;
            if (a[i] > 1) {
                sleeps++;
                REQUIRE_MSG(a[i] <= 2001, "a sleep of %u us", a[i]);
            }
        }
        /* 30 % yields; sleeps 1.25-5 % by the thread's bias */
        ck_assert_msg(yields > DRAWS * 28 / 100 && yields < DRAWS * 32 / 100, "%u yields", yields);
        ck_assert_msg(sleeps > DRAWS / 100 && sleeps < DRAWS * 6 / 100, "%u sleeps", sleeps);
    }
}
END_TEST

/* A thread that holds the lock it just took sleeps as often as anywhere
 * else: that stall is what opens a window to the other threads. */
START_TEST(every_point_alike)
{
    static uint32_t a[DRAWS], b[DRAWS];
    static const enum lw_jitter_point points[] = { LW_JIT_ACQUIRED, LW_JIT_RELEASE,
                                                   LW_JIT_BLOCKING };
    sequence_at(99, 2, 50, LW_JIT_ACQUIRE, a, DRAWS);
    for (unsigned p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
        sequence_at(99, 2, 50, points[p], b, DRAWS);
        ck_assert_msg(memcmp(a, b, sizeof(a)) == 0, "point %u decides otherwise", points[p]);
    }
}
END_TEST

static Suite *jitter_suite(void)
{
    Suite *s = suite_create("jitter");
    TCase *tc = tcase_create("decisions");
    tcase_add_test(tc, same_seed_same_decisions);
    tcase_add_test(tc, level_zero_does_nothing);
    tcase_add_test(tc, rates_at_full_strength);
    tcase_add_test(tc, every_point_alike);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(jitter_suite)
