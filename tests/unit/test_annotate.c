/*
 * test_annotate.c: the annotations' core (src/annotate.c, the assertion
 * rule of rules.c, the declared order in lw_core.c), driven without
 * preloading: the guarded-range table (insert, lookup, overlap, removal on
 * free and destroy, a full table, lookups racing with writers), then the
 * rules fed through the core with simulated threads (core_harness.h).
 */
#include "core_harness.h"
#include "annotate.h"
#include "rules.h"
#include "thread.h"

#include <pthread.h>
#include <stdio.h>

#include "unit.h"

#define G_BASE ((uintptr_t)0x50000000u)
#define G_LOCK(i) ((uintptr_t)0x60000000u + (uintptr_t)(i)*64u)

static void annot_setup(void)
{
    h_setup();
    lw_annot_reset();
}

static uintptr_t guard_of(uintptr_t addr)
{
    uintptr_t l = 0;
    return lw_guarded_lookup(addr, &l) ? l : 0;
}

/* ---- the guarded-range table ---- */

START_TEST(insert_and_lookup)
{
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(1)));
    ck_assert_uint_eq(lw_guarded_count(), 1);
    ck_assert_uint_eq(guard_of(G_BASE), G_LOCK(1));
    ck_assert_uint_eq(guard_of(G_BASE + 15), G_LOCK(1));
    ck_assert_uint_eq(guard_of(G_BASE + 16), 0);   /* end excluded */
    ck_assert_uint_eq(guard_of(G_BASE - 1), 0);
    ck_assert(!lw_guarded_lookup(G_BASE + 16, NULL));
    ck_assert(lw_guarded_lookup(G_BASE + 3, NULL));
    /* The same range and lock again: nothing changes. */
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(1)));
    ck_assert_uint_eq(lw_guarded_count(), 1);
    /* A neighbour touching it is not an overlap. */
    ck_assert(lw_guarded_declare(G_BASE + 16, 8, G_LOCK(2)));
    ck_assert_uint_eq(lw_guarded_count(), 2);
    ck_assert_uint_eq(guard_of(G_BASE + 15), G_LOCK(1));
    ck_assert_uint_eq(guard_of(G_BASE + 16), G_LOCK(2));
    ck_assert_uint_eq(guard_of(G_BASE + 24), 0);
}
END_TEST

START_TEST(overlap_replaces)
{
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(1)));
    ck_assert(lw_guarded_declare(G_BASE + 32, 16, G_LOCK(2)));
    /* Overlaps both: they go, the new one stays. */
    ck_assert(lw_guarded_declare(G_BASE + 8, 32, G_LOCK(3)));
    ck_assert_uint_eq(lw_guarded_count(), 1);
    ck_assert_uint_eq(guard_of(G_BASE), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 8), G_LOCK(3));
    ck_assert_uint_eq(guard_of(G_BASE + 39), G_LOCK(3));
    ck_assert_uint_eq(guard_of(G_BASE + 40), 0);
    /* The same range with another lock: replaced too. */
    ck_assert(lw_guarded_declare(G_BASE + 8, 32, G_LOCK(4)));
    ck_assert_uint_eq(lw_guarded_count(), 1);
    ck_assert_uint_eq(guard_of(G_BASE + 20), G_LOCK(4));
}
END_TEST

START_TEST(bad_arguments_refused)
{
    ck_assert(!lw_guarded_declare(G_BASE, 0, G_LOCK(1)));
    ck_assert(!lw_guarded_declare(0, 8, G_LOCK(1)));
    ck_assert(!lw_guarded_declare(G_BASE, 8, 0));
    ck_assert(!lw_guarded_declare(UINTPTR_MAX - 4, 8, G_LOCK(1)));   /* wraps */
    ck_assert_uint_eq(lw_guarded_count(), 0);
    ck_assert_uint_eq(guard_of(G_BASE), 0);
    ck_assert_uint_eq(lw_annot_live, 0);
}
END_TEST

START_TEST(removed_when_memory_given_back)
{
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(1)));          /* in the block */
    ck_assert(lw_guarded_declare(G_BASE + 0x1000, 16, G_BASE + 0x40)); /* its lock in it */
    ck_assert(lw_guarded_declare(G_BASE + 0x2000, 16, G_LOCK(2)));     /* elsewhere */
    ck_assert(lw_guarded_declare(G_BASE + 0xf8, 16, G_LOCK(3)));       /* straddles its end */
    ck_assert_uint_eq(lw_annot_memory_gone(G_BASE, G_BASE + 0x100), 3);
    ck_assert_uint_eq(lw_guarded_count(), 1);
    ck_assert_uint_eq(guard_of(G_BASE), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 0x1000), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 0x100), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 0x2000), G_LOCK(2));
    /* Nothing of it there: nothing goes. */
    ck_assert_uint_eq(lw_annot_memory_gone(G_BASE + 0x3000, G_BASE + 0x4000), 0);
    ck_assert_uint_eq(lw_guarded_count(), 1);
}
END_TEST

START_TEST(removed_when_lock_destroyed)
{
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(1)));
    ck_assert(lw_guarded_declare(G_BASE + 64, 16, G_LOCK(1)));
    ck_assert(lw_guarded_declare(G_BASE + 128, 16, G_LOCK(2)));
    lw_annot_lock_gone(G_LOCK(1));
    ck_assert_uint_eq(lw_guarded_count(), 1);
    ck_assert_uint_eq(guard_of(G_BASE), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 64), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 128), G_LOCK(2));
    /* Through the core, as pthread_*_destroy reaches it. */
    lw_lock *l = h_lock(7);
    ck_assert(lw_guarded_declare(G_BASE + 256, 8, H_ADDR(7)));
    ck_assert_uint_eq(guard_of(G_BASE + 256), H_ADDR(7));
    (void)l;
    lw_lock_destroyed(H_ADDR(7));
    ck_assert_uint_eq(guard_of(G_BASE + 256), 0);
    ck_assert_uint_eq(lw_guarded_count(), 1);
}
END_TEST

START_TEST(many_ranges)
{
    /* Fill the table, 8-byte ranges 16 bytes apart. */
    for (unsigned i = 0; i < LW_GUARD_MAX; i++)
        REQUIRE(lw_guarded_declare(G_BASE + 16u * i, 8, G_LOCK(i % 100)));
    ck_assert_uint_eq(lw_guarded_count(), LW_GUARD_MAX);
    ck_assert(!lw_guarded_declare(G_BASE + 16u * LW_GUARD_MAX, 8, G_LOCK(1)));   /* full */
    for (unsigned i = 0; i < LW_GUARD_MAX; i += 97) {
        REQUIRE(guard_of(G_BASE + 16u * i + 7) == G_LOCK(i % 100));
        REQUIRE(guard_of(G_BASE + 16u * i + 8) == 0);
    }
    /* Give back the first half: those slots are reused. */
    ck_assert_uint_eq(lw_annot_memory_gone(G_BASE, G_BASE + 16u * (LW_GUARD_MAX / 2)),
                      LW_GUARD_MAX / 2);
    ck_assert_uint_eq(guard_of(G_BASE), 0);
    ck_assert_uint_eq(guard_of(G_BASE + 16u * (LW_GUARD_MAX / 2)), G_LOCK((LW_GUARD_MAX / 2) % 100));
    uintptr_t far = G_BASE + 0x1000000u;
    for (unsigned i = 0; i < LW_GUARD_MAX / 2; i++)
        REQUIRE(lw_guarded_declare(far + 16u * i, 8, G_LOCK(200)));
    ck_assert_uint_eq(lw_guarded_count(), LW_GUARD_MAX);
    ck_assert_uint_eq(guard_of(far + 16u * 100), G_LOCK(200));
    ck_assert(!lw_guarded_declare(far + 16u * LW_GUARD_MAX, 8, G_LOCK(1)));
}
END_TEST

/* Lookups of a range nobody touches, while another thread churns ranges
 * around it: never a miss, never another lock. */
static volatile int churn_stop;

static void *churn(void *arg)
{
    (void)arg;
    for (unsigned n = 0; !churn_stop && n < 200000; n++) {
        uintptr_t a = G_BASE + 0x100 + 32u * (n % 64);
        lw_guarded_declare(a, 16, G_LOCK(n % 7));
        if (n % 3 == 0)
            lw_annot_memory_gone(a, a + 16);
    }
    return NULL;
}

START_TEST(lookup_races_with_writers)
{
    ck_assert(lw_guarded_declare(G_BASE, 16, G_LOCK(9)));
    pthread_t th;
    churn_stop = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, churn, NULL), 0);
    unsigned bad = 0;
    for (unsigned i = 0; i < 200000; i++) {
        if (guard_of(G_BASE + (i & 15)) != G_LOCK(9))
            bad++;
        uintptr_t l = guard_of(G_BASE + 0x100 + 32u * (i % 64) + 4);
        if (l != 0 && (l < G_LOCK(0) || l > G_LOCK(6)))
            bad++;   /* a torn slot would give a lock never declared */
    }
    churn_stop = 1;
    pthread_join(th, NULL);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* ---- the assertions, through the core ---- */

START_TEST(assert_held_rule)
{
    lw_thread *a = h_thread(0), *b = h_thread(1);
    lw_lock *m = h_lock(1);
    lw_lock *rw = h_lock_kind(2, LW_KIND_RWLOCK);
    lw_lock *sp = h_lock_kind(3, LW_KIND_SPIN);
    lw_lock *c11 = h_lock_kind(4, LW_KIND_C11_MUTEX);
    h_lock_m(a, m);
    h_acquire(a, rw, LW_MODE_READ, LW_ACQ_BLOCKING);
    h_lock_m(a, sp);
    h_acquire(a, c11, LW_MODE_WRITE, LW_ACQ_TRY);   /* held however acquired */
    for (unsigned i = 1; i <= 4; i++) {
        ck_assert(lw_rule_assert_held(a, H_ADDR(i), true, H_PC(50)));
        ck_assert(!lw_rule_assert_held(b, H_ADDR(i), true, H_PC(51)));   /* another thread's */
        ck_assert(lw_rule_assert_held(b, H_ADDR(i), false, H_PC(52)));
    }
    ck_assert_uint_eq(h_count(LW_F_ASSERT_NOT_HELD, false), 0);
    /* b's four failed asserts at one site: reported once (a repeat at a
     * site is dropped before a finding is made; the counts below are of
     * findings made, as the fingerprints of these simulated sites share
     * the test's real stack). */
    ck_assert_uint_eq(h_count(LW_F_ASSERT_HELD, false), 1);
    /* Released: no longer held. */
    h_unlock(a, rw);
    ck_assert(!lw_rule_assert_held(a, H_ADDR(2), true, H_PC(53)));
    ck_assert_uint_eq(h_count(LW_F_ASSERT_HELD, false), 2);
    ck_assert(lw_rule_assert_held(a, H_ADDR(2), false, H_PC(54)));
    /* A lock never seen is not held, and no node is made for it. */
    ck_assert(lw_registry_find(H_ADDR(40)) == NULL);
    ck_assert(lw_rule_assert_held(a, H_ADDR(40), false, H_PC(55)));
    ck_assert(!lw_rule_assert_held(a, H_ADDR(40), true, H_PC(56)));
    ck_assert(lw_registry_find(H_ADDR(40)) == NULL);
    ck_assert_uint_eq(h_count(LW_F_ASSERT_HELD, false), 3);
}
END_TEST

START_TEST(assert_not_held_rule)
{
    lw_thread *a = h_thread(0);
    lw_lock *m = h_lock(1);
    lw_lock *rw = h_lock_kind(2, LW_KIND_RWLOCK);
    h_lock_m(a, m);
    h_acquire(a, rw, LW_MODE_WRITE, LW_ACQ_BLOCKING);
    ck_assert(!lw_rule_assert_held(a, H_ADDR(1), false, H_PC(60)));
    ck_assert(!lw_rule_assert_held(a, H_ADDR(1), false, H_PC(60)));   /* same site */
    ck_assert(!lw_rule_assert_held(a, H_ADDR(2), false, H_PC(61)));
    ck_assert_uint_eq(h_count(LW_F_ASSERT_NOT_HELD, false), 2);
    ck_assert_uint_eq(h_count(LW_F_ASSERT_HELD, false), 0);
    /* Released: not held. */
    h_unlock(a, rw);
    h_unlock(a, m);
    ck_assert(lw_rule_assert_held(a, H_ADDR(1), false, H_PC(62)));
    ck_assert_uint_eq(h_count(LW_F_ASSERT_NOT_HELD, false), 2);
    /* A lock destroyed and made anew at the address is another lock. */
    h_lock_m(a, m);
    lw_lock_destroyed(H_ADDR(1));
    ck_assert(lw_rule_assert_held(a, H_ADDR(1), false, H_PC(63)));
}
END_TEST

/* ---- the declared order, through the core ---- */

START_TEST(declared_order_rule)
{
    lw_thread *a = h_thread(0), *b = h_thread(1);
    lw_lock *l1 = h_lock(1), *l2 = h_lock(2);
    ck_assert(lw_order_declare(H_ADDR(1), H_ADDR(2), 0));
    ck_assert_uint_eq(lw_order_decl_count(), 1);
    h_nest2(a, l1, l2);   /* as declared */
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 0);
    h_nest2(b, l2, l1);   /* against it: reported, and it also closes a cycle */
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    const h_finding *v = NULL;
    for (unsigned i = 0; i < h_nfindings; i++)
        if (h_findings[i].kind == LW_F_ORDER_VIOLATION)
            v = &h_findings[i];
    ck_assert(v != NULL);
    ck_assert_uint_eq(v->nedges, 1);
    ck_assert_uint_eq(v->from[0], l2->id);   /* held */
    ck_assert_uint_eq(v->to[0], l1->id);     /* taken */
    /* Again, another thread: the pair is reported once. */
    h_nest2(a, l2, l1);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
}
END_TEST

START_TEST(declared_order_before_any_cycle)
{
    lw_thread *a = h_thread(0);
    lw_lock *l1 = h_lock(1), *l2 = h_lock(2);
    ck_assert(lw_order_declare(H_ADDR(1), H_ADDR(2), 0));
    h_nest2(a, l2, l1);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    ck_assert_uint_eq(h_count(LW_F_INVERSION, false), 0);
}
END_TEST

START_TEST(declared_order_chains)
{
    lw_thread *a = h_thread(0);
    lw_lock *x = h_lock(3), *y = h_lock(4), *z = h_lock(5), *w = h_lock(6);
    ck_assert(lw_order_declare(H_ADDR(3), H_ADDR(4), 0));
    ck_assert(lw_order_declare(H_ADDR(4), H_ADDR(5), 0));
    /* Implied already: nothing new. */
    ck_assert(lw_order_declare(H_ADDR(3), H_ADDR(5), 0));
    ck_assert_uint_eq(lw_order_decl_count(), 2);
    ck_assert(lw_order_declared(H_ADDR(3), H_ADDR(5), NULL));
    ck_assert(!lw_order_declared(H_ADDR(5), H_ADDR(3), NULL));
    /* Against the declared order, or a lock before itself: refused. */
    ck_assert(!lw_order_declare(H_ADDR(5), H_ADDR(3), 0));
    ck_assert(!lw_order_declare(H_ADDR(3), H_ADDR(3), 0));
    ck_assert(!lw_order_declare(0, H_ADDR(3), 0));
    ck_assert_uint_eq(lw_order_decl_count(), 2);
    h_nest2(a, z, x);   /* x before z through y */
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    h_nest2(a, w, x);   /* w is not ordered */
    h_nest2(a, x, w);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, true), 1);
    (void)y;
}
END_TEST

START_TEST(declared_after_the_fact)
{
    lw_thread *a = h_thread(0);
    lw_lock *l1 = h_lock(1), *l2 = h_lock(2), *l3 = h_lock(3);
    h_nest2(a, l2, l1);   /* before any declaration: nothing to say */
    h_nest2(a, l3, l1);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 0);
    /* Declared now: the edge that exists is the violation, at once. */
    ck_assert(lw_order_declare(H_ADDR(1), H_ADDR(2), 0));
    lw_order_check_declared(H_ADDR(1), H_ADDR(2));
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 1);
    const h_finding *v = &h_findings[h_nfindings - 1];
    ck_assert_uint_eq(v->from[0], l2->id);
    ck_assert_uint_eq(v->to[0], l1->id);
    /* Not again, neither from the edge nor from a new declaration. */
    h_nest2(a, l2, l1);
    lw_order_check_declared(H_ADDR(1), H_ADDR(2));
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 1);
    /* A declaration the run kept: nothing. */
    ck_assert(lw_order_declare(H_ADDR(3), H_ADDR(1), 0));
    lw_order_check_declared(H_ADDR(3), H_ADDR(1));
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 1);
    /* Locks never seen: nothing to look up. */
    ck_assert(lw_order_declare(H_ADDR(20), H_ADDR(21), 0));
    lw_order_check_declared(H_ADDR(20), H_ADDR(21));
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 1);
}
END_TEST

START_TEST(declared_order_forgotten)
{
    lw_thread *a = h_thread(0);
    ck_assert(lw_order_declare(H_ADDR(1), H_ADDR(2), 0));
    ck_assert(lw_order_declare(H_ADDR(3), H_ADDR(4), 0));
    lw_lock_destroyed(H_ADDR(1));            /* pthread_mutex_destroy */
    ck_assert_uint_eq(lw_order_decl_count(), 1);
    lw_annot_memory_gone(H_ADDR(4), H_ADDR(4) + 64);   /* free of l4's memory */
    ck_assert_uint_eq(lw_order_decl_count(), 0);
    ck_assert_uint_eq(lw_annot_live, 0);
    lw_lock *l1 = h_lock(1), *l2 = h_lock(2), *l3 = h_lock(3), *l4 = h_lock(4);
    h_nest2(a, l2, l1);
    h_nest2(a, l4, l3);
    ck_assert_uint_eq(h_count(LW_F_ORDER_VIOLATION, false), 0);
}
END_TEST

static Suite *annotate_suite(void)
{
    Suite *s = suite_create("annotate");
    TCase *g = tcase_create("guarded ranges");
    tcase_add_checked_fixture(g, annot_setup, NULL);
    tcase_add_test(g, insert_and_lookup);
    tcase_add_test(g, overlap_replaces);
    tcase_add_test(g, bad_arguments_refused);
    tcase_add_test(g, removed_when_memory_given_back);
    tcase_add_test(g, removed_when_lock_destroyed);
    tcase_add_test(g, many_ranges);
    tcase_add_test(g, lookup_races_with_writers);
    suite_add_tcase(s, g);
    TCase *r = tcase_create("rules");
    tcase_add_checked_fixture(r, annot_setup, NULL);
    tcase_add_test(r, assert_held_rule);
    tcase_add_test(r, assert_not_held_rule);
    tcase_add_test(r, declared_order_rule);
    tcase_add_test(r, declared_order_before_any_cycle);
    tcase_add_test(r, declared_order_chains);
    tcase_add_test(r, declared_after_the_fact);
    tcase_add_test(r, declared_order_forgotten);
    suite_add_tcase(s, r);
    return s;
}

LW_UNIT_MAIN(annotate_suite)
