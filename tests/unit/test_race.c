/*
 * test_race.c: the race sampler's judgement (race.c).  Lock sets: a lock
 * held by both sides excludes the other access unless both hold it for
 * reading; no common lock and a write is a race; two reads never are; a
 * sampled side's truncation is the caller's business.  (The decoder the
 * sampler uses has its own suite, test_decode.)
 */
#include "race.h"
#include "lw_base.h"

#include "unit.h"
#include <string.h>

#define W LW_MODE_WRITE
#define R LW_MODE_READ

START_TEST(no_locks_write_is_race)
{
    ck_assert(lw_race_is_race(NULL, 0, true, NULL, 0, false));
    ck_assert(lw_race_is_race(NULL, 0, false, NULL, 0, true));
    ck_assert(lw_race_is_race(NULL, 0, true, NULL, 0, true));
}
END_TEST

START_TEST(two_reads_never_race)
{
    lw_race_hold a[] = { { 7, R } };
    ck_assert(!lw_race_is_race(NULL, 0, false, NULL, 0, false));
    ck_assert(!lw_race_is_race(a, 1, false, a, 1, false));
}
END_TEST

START_TEST(common_mutex_excludes)
{
    lw_race_hold a[] = { { 1, W }, { 5, W } };
    lw_race_hold b[] = { { 9, W }, { 5, W } };
    ck_assert(lw_race_locks_exclude(a, 2, b, 2));
    ck_assert(!lw_race_is_race(a, 2, true, b, 2, true));
}
END_TEST

START_TEST(disjoint_locks_race)
{
    lw_race_hold a[] = { { 1, W }, { 2, W } };
    lw_race_hold b[] = { { 3, W } };
    ck_assert(!lw_race_locks_exclude(a, 2, b, 1));
    ck_assert(lw_race_is_race(a, 2, true, b, 1, false));
    /* One side holding nothing. */
    ck_assert(lw_race_is_race(a, 2, false, NULL, 0, true));
}
END_TEST

START_TEST(rwlock_modes)
{
    lw_race_hold rd[] = { { 4, R } }, wr[] = { { 4, W } };
    /* Both read-hold the rwlock: it excludes nothing; a write under it races. */
    ck_assert(!lw_race_locks_exclude(rd, 1, rd, 1));
    ck_assert(lw_race_is_race(rd, 1, true, rd, 1, false));
    /* A writer and a reader of the same rwlock exclude each other. */
    ck_assert(lw_race_locks_exclude(rd, 1, wr, 1));
    ck_assert(lw_race_locks_exclude(wr, 1, rd, 1));
    ck_assert(!lw_race_is_race(wr, 1, true, rd, 1, false));
    /* Read-held in common but a mutex in common too. */
    lw_race_hold a[] = { { 4, R }, { 8, W } }, b[] = { { 8, W }, { 4, R } };
    ck_assert(!lw_race_is_race(a, 2, true, b, 2, true));
}
END_TEST

START_TEST(same_address_new_lock_is_not_common)
{
    /* Ids, not addresses: a lock destroyed and re-made at the same address
     * is another lock (registry generation). */
    lw_race_hold a[] = { { 10, W } }, b[] = { { 11, W } };
    ck_assert(lw_race_is_race(a, 1, true, b, 1, true));
}
END_TEST

static Suite *race_suite(void)
{
    Suite *s = suite_create("race");
    TCase *tc = tcase_create("locksets");
    tcase_add_test(tc, no_locks_write_is_race);
    tcase_add_test(tc, two_reads_never_race);
    tcase_add_test(tc, common_mutex_excludes);
    tcase_add_test(tc, disjoint_locks_race);
    tcase_add_test(tc, rwlock_modes);
    tcase_add_test(tc, same_address_new_lock_is_not_common);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(race_suite)
