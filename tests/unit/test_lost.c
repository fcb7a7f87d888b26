/*
 * test_lost.c: the lost-wake-up rule (src/lost.h), driven without
 * preloading: simulated threads take and release a mutex, wait on a
 * condvar (the rules' wait begin and end, as intercept_cond.c calls them)
 * and signal it; the mutex's holder is the simulated thread whose held
 * stack has it, as glibc's owner word would say.  The bug (a signal with
 * nobody waiting, from a thread that neither holds nor ever took the
 * mutex, while the waiter held it from before the signal to its wait) is
 * reported when the wait times out or sleeps with every thread; every
 * near miss is not.
 */
#include "core_harness.h"
#include "lost.h"
#include "rules.h"
#include "stacks.h"
#include "thread.h"

#include <stdio.h>

#include "unit.h"

#define COND H_ADDR(40)
#define MUTEX 41   /* h_lock index */
#define MUTEX2 42

static lw_thread *W, *S, *X;
static lw_lock *M, *C;

/* The last finding's words and threads. */
static char last_message[512];
static uint32_t last_threads[4];
static unsigned last_nthreads;
static uint64_t last_lock_ids[4];
static unsigned last_nlocks;

static void hook(const lw_finding *f, bool first, void *ctx)
{
    h_hook(f, first, ctx);
    snprintf(last_message, sizeof(last_message), "%s", f->message);
    last_nthreads = f->nthreads < 4 ? f->nthreads : 4;
    for (unsigned i = 0; i < last_nthreads; i++)
        last_threads[i] = f->threads[i].num;
    last_nlocks = f->nlocks < 4 ? f->nlocks : 4;
    for (unsigned i = 0; i < last_nlocks; i++)
        last_lock_ids[i] = f->locks[i].lock.id;
}

/* glibc's owner word, simulated: the thread holding the mutex. */
static int holder(uintptr_t m)
{
    for (unsigned i = 0; i < H_MAX_THREADS; i++) {
        lw_thread *t = h_thread(i);
        for (unsigned j = 0; j < t->nheld; j++)
            if (t->held[j].addr == m)
                return t->tid;
    }
    return 0;
}

static void lost_setup(void)
{
    h_setup();
    lw_sink_set_hook(hook, NULL, false);
    W = h_thread(0);
    S = h_thread(1);
    X = h_thread(2);
    M = h_lock(MUTEX);
    C = NULL;
}

/* A wait as intercept_cond.c makes it, up to the release of the mutex:
 * the rules' wait begin, the match, the release.  Returns the match. */
static bool wait_begin(lw_thread *t, lw_lock *m, lw_lost *lost)
{
    lw_held *h = lw_held_find(t, m);
    C = lw_rule_cond_wait_begin(t, COND, m->h.k1, h != NULL, "pthread_cond_timedwait", H_PC(7));
    ck_assert(C != NULL);
    bool matched = lw_lost_match(t, C, m, h, lost);
    if (h)
        lw_release(t, m);
    return matched;
}

/* The wait ends: it re-takes the mutex (a new hold). */
static void wait_end(lw_thread *t, lw_lock *m)
{
    h_lock_m(t, m);
    lw_rule_cond_wait_end(C);
}

/* One wait of t on COND with m that a signal ends: the condvar's mutex is
 * known from then on.  t holds m before and after. */
static void earlier_wait(lw_thread *t, lw_lock *m)
{
    lw_lost lost;
    ck_assert(!wait_begin(t, m, &lost));
    wait_end(t, m);
}

static void signal_cond(lw_thread *t)
{
    lw_lost_signal(t, COND, false, holder, H_HERE());
}

/* The bug, up to the waiter's wait: W waited once before (the mutex is
 * known), takes M, checks; S signals without M, never having taken it. */
static bool lost_window(lw_lost *lost)
{
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(W, M);       /* the hold that checks the condition */
    signal_cond(S);       /* nobody waits, S without M: lost */
    return wait_begin(W, M, lost);
}

START_TEST(timed_out_wait_is_reported)
{
    lw_lost lost;
    ck_assert(lost_window(&lost));
    ck_assert_uint_eq(lost.num, S->num);
    ck_assert_int_eq(lost.holder_tid, W->tid);
    /* A match alone reports nothing: the wait may yet be woken. */
    ck_assert_uint_eq(h_nfindings, 0);
    lw_lost_report_timeout(W, C, M, &lost, 1000, "pthread_cond_timedwait", H_PC(7));
    ck_assert_uint_eq(h_count(LW_F_LOST_WAKEUP, true), 1);
    ck_assert_uint_eq(last_nthreads, 2);
    ck_assert_uint_eq(last_threads[0], W->num);
    ck_assert_uint_eq(last_threads[1], S->num);
    ck_assert_uint_eq(last_nlocks, 2);
    ck_assert_uint_eq(last_lock_ids[0], C->id);
    ck_assert_uint_eq(last_lock_ids[1], M->id);
    ck_assert_msg(strstr(last_message, "lost") && strstr(last_message, "pthread_cond_signal"),
                  "message: %s", last_message);
    /* The same pair of sites again: once. */
    wait_end(W, M);
    signal_cond(S);
    ck_assert(wait_begin(W, M, &lost));   /* a hold from before this signal */
    lw_lost_report_timeout(W, C, M, &lost, 1000, "pthread_cond_timedwait", H_PC(7));
    ck_assert_uint_eq(h_count(LW_F_LOST_WAKEUP, true), 1);
}
END_TEST

START_TEST(asleep_wait_is_reported)
{
    lw_lost lost;
    ck_assert(lost_window(&lost));
    lw_thread_snap ws;
    uintptr_t pc = H_PC(7);
    lw_snap_thread(W, lw_depot_put(&pc, 1), NULL, NULL, 0, 0, &ws);
    lw_lost_report_asleep(&ws, C, M, &lost);
    ck_assert_uint_eq(h_count(LW_F_LOST_WAKEUP, true), 1);
    ck_assert_msg(strstr(last_message, "thread T1 waits on condition variable"),
                  "message: %s", last_message);
}
END_TEST

START_TEST(sender_holding_the_mutex)
{
    /* W holds M at the signal; S is (as far as its held stack says) holding
     * M too: a sender holding the mutex cannot lose the signal this way. */
    lw_lost lost;
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(W, M);
    h_lock_m(S, M);
    signal_cond(S);
    h_unlock(S, M);
    ck_assert(!wait_begin(W, M, &lost));
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(sender_took_the_mutex_before)
{
    /* Signal after unlock (signal_after_unlock.c): S changed the condition
     * under M, released it, then W took M (and saw the change), then S's
     * signal came while W held M.  Not lost. */
    lw_lost lost;
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(S, M);
    h_unlock(S, M);
    h_lock_m(W, M);
    signal_cond(S);
    ck_assert(!wait_begin(W, M, &lost));
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(sender_log_forgot_the_mutex)
{
    /* As above, but after its first signal S takes 64 other locks, one of
     * which takes M's slot in its acquisition log: S is still known to
     * have taken M (lost.h), and its next signal after the unlock is no
     * lost signal either. */
    lw_lost lost;
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(S, M);
    h_unlock(S, M);
    signal_cond(S);
    for (unsigned i = 0; i < LW_ACQ_LOG; i++) {
        lw_lock *o = h_lock(100 + i);
        h_lock_m(S, o);
        h_unlock(S, o);
    }
    ck_assert_msg(S->acq_key[M->id & (LW_ACQ_LOG - 1)] >> 1 != M->id,
                  "the log should have forgotten M");
    h_lock_m(W, M);
    signal_cond(S);
    ck_assert(!wait_begin(W, M, &lost));
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(signal_with_a_waiter)
{
    /* X is inside a wait on the condvar: the signal wakes it, not lost,
     * though W holds M and S never took it. */
    lw_lost lost;
    h_lock_m(X, M);
    ck_assert(!wait_begin(X, M, &lost));   /* X waits (M released) */
    h_lock_m(W, M);
    signal_cond(S);
    ck_assert(!wait_begin(W, M, &lost));
    wait_end(X, M);
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(waiter_took_the_mutex_after_the_signal)
{
    /* Nobody holds M at the signal: whoever waits took M after it, and
     * saw the condition. */
    lw_lost lost;
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    signal_cond(S);
    h_lock_m(W, M);
    ck_assert(!wait_begin(W, M, &lost));
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(waiter_let_go_after_the_signal)
{
    /* W held M at the signal but released it and took it again before
     * its wait: the wait is in a later hold, which re-checked. */
    lw_lost lost;
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(W, M);
    signal_cond(S);
    h_unlock(W, M);
    h_lock_m(W, M);
    ck_assert(!wait_begin(W, M, &lost));
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

START_TEST(other_waiter_or_other_mutex)
{
    /* The record names W: another thread's wait does not match; nor does
     * W's wait with another mutex; nor a condvar never waited on. */
    lw_lost lost;
    lw_lock *m2 = h_lock(MUTEX2);
    h_lock_m(W, M);
    earlier_wait(W, M);
    h_unlock(W, M);
    h_lock_m(W, M);
    signal_cond(S);
    h_lock_m(X, m2);
    lw_held *h = lw_held_find(X, m2);
    ck_assert(!lw_lost_match(X, C, m2, h, &lost));
    h = lw_held_find(W, M);
    ck_assert(lw_lost_match(W, C, M, h, &lost));
    ck_assert(!lw_lost_match(W, C, m2, lw_held_find(X, m2), &lost));
    lw_lost_signal(S, H_ADDR(45), false, holder, H_HERE());   /* never waited on */
    ck_assert_uint_eq(h_nfindings, 0);
}
END_TEST

static Suite *lost_suite(void)
{
    Suite *s = suite_create("lost wake-ups");
    TCase *tc = tcase_create("signature");
    tcase_add_checked_fixture(tc, lost_setup, NULL);
    tcase_add_test(tc, timed_out_wait_is_reported);
    tcase_add_test(tc, asleep_wait_is_reported);
    tcase_add_test(tc, sender_holding_the_mutex);
    tcase_add_test(tc, sender_took_the_mutex_before);
    tcase_add_test(tc, sender_log_forgot_the_mutex);
    tcase_add_test(tc, signal_with_a_waiter);
    tcase_add_test(tc, waiter_took_the_mutex_after_the_signal);
    tcase_add_test(tc, waiter_let_go_after_the_signal);
    tcase_add_test(tc, other_waiter_or_other_mutex);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(lost_suite)
