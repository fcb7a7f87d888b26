/*
 * test_acqstack.c: the kept acquisition backtraces (src/acqstack.h)
 * against libunwind, on real stacks.
 *
 * A driver reaches a stand-in for a lock function through random call
 * paths: recursion of random depth, two callers with frames of the same
 * size (so the lock call sits at the same stack pointer under either, and
 * only the return addresses above it tell them apart), frames grown by
 * alloca.  At every call the stand-in unwinds with libunwind (the
 * reference) and asks the kept set for the walk at its (pc, cfa, caller's
 * frame pointer): every
 * walk the set returns must equal the reference frame for frame, and each
 * kind of outcome (hit, miss, key found but frames changed) must occur.
 */
#include "acqstack.h"
#include "cfi.h"
#include "stacks.h"

#include "unit.h"

#include <alloca.h>
#include <stdint.h>
#include <string.h>

extern void *__libc_stack_end;

static lw_acq_stacks set;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned hits, misses, rejected, kept, kept_by_fp, mismatches;

static unsigned below(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static bool key_present(uintptr_t pc, uintptr_t cfa)
{
    for (unsigned i = 0; i < LW_ACQ_STACKS; i++)
        if (set.e[i].pc == pc && set.e[i].cfa == cfa)
            return true;
    return false;
}

/* The lock function's stand-in: what lw_core's acq_backtrace does, with
 * the reference walk made every time. */
static __attribute__((noinline)) void fake_lock(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa();
    uintptr_t fp = *(const uintptr_t *)__builtin_frame_address(0);   /* as LW_NOTE_FP */
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES), k = 0;
    while (k < n && !(pcs[k] == pc && sps[k] == cfa))
        k++;
    REQUIRE_MSG(k < n, "the unwind does not show fake_lock's caller");
    const uintptr_t *rp = pcs + k, *rs = sps + k;
    unsigned rn = n - k;
    uintptr_t hi = (uintptr_t)__libc_stack_end, lo = hi - (8u << 20);
    bool present = key_present(pc, cfa);
    const lw_acq_stack *s = lw_acq_stack_find(&set, lo, hi, pc, cfa, fp);
    if (s) {
        hits++;
        if (s->n != rn || memcmp(s->pcs, rp, rn * sizeof(*rp)) != 0 ||
            memcmp(s->sps, rs, rn * sizeof(*rs)) != 0)
            mismatches++;
        return;
    }
    misses++;
    rejected += present;
    if (lw_acq_stack_keep(&set, lo, hi, pc, cfa, fp, rp, rs, rn, 1)) {
        kept++;
        /* Kept with a frame placed by its frame pointer (an alloca frame
         * of the path, or this file's own frames if built with them). */
        const lw_acq_stack *k = lw_acq_stack_find(&set, lo, hi, pc, cfa, fp);
        bool by_fp = k && k->fp0;
        for (unsigned i = 0; k && i < k->n; i++)
            by_fp |= k->fp_slot[i] != 0;
        kept_by_fp += by_fp;
    }
}

static void descend(unsigned depth);
static void via_saver(unsigned depth);

/* Two callers of the same shape: frames of one size, different return
 * addresses into them. */
static __attribute__((noinline)) void via_a(unsigned depth)
{
    descend(depth);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void via_b(unsigned depth)
{
    descend(depth);
    __asm__ volatile("" ::: "memory");
}

/* A frame of a random size below its caller. */
static __attribute__((noinline)) void via_alloca(unsigned depth)
{
    size_t sz = 16 * (1 + below(4));
    volatile char *p = alloca(sz);
    p[0] = 1;
    descend(depth);
    __asm__ volatile("" ::: "memory");
}

/* A frame that saves the frame pointer among its callee-saved registers
 * (six values live across the call): an alloca frame outside it is then
 * placed by that saved value. */
static volatile unsigned sink_v;

static __attribute__((noinline)) void via_saver(unsigned depth)
{
    unsigned a = below(7), b = below(11), c = below(13), d = below(17), e = below(19),
             f = below(23);
    descend(depth);
    sink_v = a * 3 + b * 5 + c * 7 + d * 11 + e * 13 + f * 17;
}

static __attribute__((noinline)) void descend(unsigned depth)
{
    if (depth == 0) {
        fake_lock();
        __asm__ volatile("" ::: "memory");
        return;
    }
    switch (below(6)) {
    case 0:
    case 1:
        via_a(depth - 1);
        break;
    case 2:
    case 3:
        via_b(depth - 1);
        break;
    case 4:
        via_saver(depth - 1);
        break;
    default:
        via_alloca(depth - 1);
        break;
    }
    __asm__ volatile("" ::: "memory");
}

START_TEST(kept_walks_equal_libunwind)
{
    ck_assert(lw_stacks_init());
    for (unsigned i = 0; i < 20000; i++)
        descend(1 + below(4));
    ck_assert_uint_eq(mismatches, 0);
    /* Each outcome happened: hits, walks kept, keys found with other
     * frames above them (the same-shaped callers). */
    ck_assert_uint_gt(hits, 1000);
    ck_assert_uint_gt(kept, 100);
    ck_assert_uint_gt(rejected, 100);
    ck_assert_uint_gt(kept_by_fp, 10);
}
END_TEST

/* Walks that cannot be checked later are not kept; lookups outside the
 * bounds find nothing; the least recently used walk goes first.  Made-up
 * one-frame walks (the outermost frame needs no frame information). */
START_TEST(keep_refuses_what_it_cannot_check)
{
    uintptr_t words[8] = { 0 };
    uintptr_t base = (uintptr_t)&words[0];
    uintptr_t pc = 0x401000, sp = base + 8;   /* its return address in words[0] */
    words[0] = pc;
    uintptr_t lo = base - 64, hi = base + 64;
    lw_acq_stacks s;
    memset(&s, 0, sizeof(s));
    ck_assert(lw_acq_stack_keep(&s, lo, hi, pc, sp, 0, &pc, &sp, 1, 7));
    const lw_acq_stack *f = lw_acq_stack_find(&s, lo, hi, pc, sp, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->stack_id, 7);
    /* The return address changed: not the same walk. */
    words[0] = pc + 4;
    ck_assert_ptr_null(lw_acq_stack_find(&s, lo, hi, pc, sp, 0));
    words[0] = pc;
    /* Outside the bounds: not looked at. */
    ck_assert_ptr_null(lw_acq_stack_find(&s, sp, hi, pc, sp, 0));
    ck_assert_ptr_null(lw_acq_stack_find(&s, lo, sp, pc, sp, 0));
    lw_acq_stack_clear(&s);
    ck_assert_ptr_null(lw_acq_stack_find(&s, lo, hi, pc, sp, 0));
    /* Refused: past hi, a slot without its return address (a signal
     * frame), a first frame that is not the call, a second frame whose
     * function has no frame information here (made-up code). */
    ck_assert(!lw_acq_stack_keep(&s, lo, sp, pc, sp, 0, &pc, &sp, 1, 7));
    words[0] = 0;
    ck_assert(!lw_acq_stack_keep(&s, lo, hi, pc, sp, 0, &pc, &sp, 1, 7));
    words[0] = pc;
    ck_assert(!lw_acq_stack_keep(&s, lo, hi, pc + 1, sp, 0, &pc, &sp, 1, 7));
    uintptr_t pcs2[2] = { pc, 0x402000 }, sps2[2] = { sp, base + 32 };
    words[3] = pcs2[1];
    ck_assert(!lw_acq_stack_keep(&s, lo, hi, pc, sp, 0, pcs2, sps2, 2, 7));
    /* The least recently used goes first. */
    ck_assert(lw_acq_stack_keep(&s, lo, hi, pc, sp, 0, &pc, &sp, 1, 1));
    for (unsigned i = 1; i < LW_ACQ_STACKS; i++) {
        uintptr_t one = 0x500000 + i;
        words[0] = one;
        ck_assert(lw_acq_stack_keep(&s, lo, hi, one, sp, 0, &one, &sp, 1, 1));
    }
    words[0] = pc;
    ck_assert_ptr_nonnull(lw_acq_stack_find(&s, lo, hi, pc, sp, 0));   /* used last */
    uintptr_t fresh = 0x600000;
    words[0] = fresh;
    ck_assert(lw_acq_stack_keep(&s, lo, hi, fresh, sp, 0, &fresh, &sp, 1, 1));
    words[0] = pc;
    ck_assert_ptr_nonnull(lw_acq_stack_find(&s, lo, hi, pc, sp, 0));
    words[0] = 0x500001;
    ck_assert_ptr_null(lw_acq_stack_find(&s, lo, hi, 0x500001, sp, 0));   /* evicted */
}
END_TEST

/* lw_cfa_rule on this file's own code: a caller of fixed size (addressed
 * from the stack pointer, unless built with frame pointers), and one that
 * alloca made of variable size (its CFA kept by the frame pointer). */
static uintptr_t ra_seen;

static __attribute__((noinline)) void note_ra(void)
{
    ra_seen = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void fixed_caller(void)
{
    note_ra();
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void alloca_caller(size_t n)
{
    volatile char *p = alloca(n);
    p[0] = 1;
    note_ra();
    __asm__ volatile("" ::: "memory");
}

START_TEST(cfa_rules_of_real_frames)
{
    lw_cfa r;
    fixed_caller();
    ck_assert(lw_cfa_rule(ra_seen - 1, &r));
    if (r.from_rbp) {   /* built with frame pointers (the sanitizer build) */
        ck_assert_int_eq(r.off, 16);
        ck_assert_uint_eq(r.rbp, LW_RBP_SAVED);
    } else {
        ck_assert_int_ge(r.off, 8);
        ck_assert_int_eq(r.off % 8, 0);
    }
    alloca_caller(64);
    ck_assert(lw_cfa_rule(ra_seen - 1, &r));
    ck_assert(r.from_rbp);
    ck_assert_int_eq(r.off, 16);   /* push %rbp; mov %rsp, %rbp */
    ck_assert_uint_eq(r.rbp, LW_RBP_SAVED);
    ck_assert_int_eq(r.rbp_off, -16);
    /* No frame information: made-up code, the stack. */
    ck_assert(!lw_cfa_rule(0x1000, &r));
    ck_assert(!lw_cfa_rule((uintptr_t)&r, &r));
}
END_TEST

static Suite *acqstack_suite(void)
{
    Suite *s = suite_create("acqstack");
    TCase *tc = tcase_create("walks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kept_walks_equal_libunwind);
    tcase_add_test(tc, keep_refuses_what_it_cannot_check);
    tcase_add_test(tc, cfa_rules_of_real_frames);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(acqstack_suite)
