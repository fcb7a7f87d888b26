/*
 * test_race.c: the race sampler's judgement (race.c) and the stand-in
 * decoder (decode.c).  Lock sets: a lock held by both sides excludes the
 * other access unless both hold it for reading; no common lock and a write
 * is a race; two reads never are; a sampled side's truncation is the
 * caller's business.  Decoder: the loads, stores and read-modify-writes
 * compilers emit for scalars, RIP-relative and register-based, give the
 * address, size and direction; other instructions give nothing.
 */
#include "race.h"
#include "decode.h"
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

/* ---- the stand-in decoder ---- */

static int dec(const uint8_t *code, size_t len, uintptr_t pc, const lw_regs *r,
               lw_mem_access *a)
{
    memset(a, 0, sizeof(*a));
    return lw_decode_access(code, len, pc, r, a, 1);
}

START_TEST(decode_rip_relative)
{
    lw_regs r;
    lw_mem_access a;
    memset(&r, 0, sizeof(r));
    /* mov rax, [rip+0x2eb5] at 0x1000: 48 8b 05 b5 2e 00 00 (7 bytes). */
    static const uint8_t load[] = { 0x48, 0x8b, 0x05, 0xb5, 0x2e, 0x00, 0x00 };
    ck_assert_int_eq(dec(load, sizeof(load), 0x1000, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x1000 + 7 + 0x2eb5);
    ck_assert_uint_eq(a.size, 8);
    ck_assert(a.read && !a.write);
    /* mov [rip-0x10], eax: 89 05 f0 ff ff ff. */
    static const uint8_t store[] = { 0x89, 0x05, 0xf0, 0xff, 0xff, 0xff };
    ck_assert_int_eq(dec(store, sizeof(store), 0x2000, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x2000 + 6 - 0x10);
    ck_assert_uint_eq(a.size, 4);
    ck_assert(!a.read && a.write);
    /* add dword [rip+0x100], 1: 83 05 00 01 00 00 01 (immediate after disp). */
    static const uint8_t rmw[] = { 0x83, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01 };
    ck_assert_int_eq(dec(rmw, sizeof(rmw), 0x3000, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x3000 + 7 + 0x100);
    ck_assert(a.read && a.write);
    /* mov dword [rip+0x20], 5: c7 05 20 00 00 00 05 00 00 00 (10 bytes). */
    static const uint8_t imm[] = { 0xc7, 0x05, 0x20, 0, 0, 0, 5, 0, 0, 0 };
    ck_assert_int_eq(dec(imm, sizeof(imm), 0x4000, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x4000 + 10 + 0x20);
    ck_assert(!a.read && a.write);
}
END_TEST

START_TEST(decode_registers)
{
    lw_regs r;
    lw_mem_access a;
    memset(&r, 0, sizeof(r));
    r.gpr[3] = 0x10000;   /* rbx */
    r.gpr[1] = 3;         /* rcx */
    r.gpr[13] = 0x50000;  /* r13 */
    /* mov edx, [rbx+rcx*4+0x8]: 8b 54 8b 08. */
    static const uint8_t sib[] = { 0x8b, 0x54, 0x8b, 0x08 };
    ck_assert_int_eq(dec(sib, sizeof(sib), 0, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x10000 + 12 + 8);
    ck_assert_uint_eq(a.size, 4);
    /* inc qword [r13+0]: 49 ff 45 00. */
    static const uint8_t inc[] = { 0x49, 0xff, 0x45, 0x00 };
    ck_assert_int_eq(dec(inc, sizeof(inc), 0, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x50000);
    ck_assert_uint_eq(a.size, 8);
    ck_assert(a.read && a.write);
    /* movzx eax, byte [rbx]: 0f b6 03. */
    static const uint8_t mz[] = { 0x0f, 0xb6, 0x03 };
    ck_assert_int_eq(dec(mz, sizeof(mz), 0, &r, &a), 1);
    ck_assert_uint_eq(a.addr, 0x10000);
    ck_assert_uint_eq(a.size, 1);
    /* mov word [rbx], ax: 66 89 03. */
    static const uint8_t w16[] = { 0x66, 0x89, 0x03 };
    ck_assert_int_eq(dec(w16, sizeof(w16), 0, &r, &a), 1);
    ck_assert_uint_eq(a.size, 2);
}
END_TEST

START_TEST(decode_not_memory)
{
    lw_regs r;
    lw_mem_access a;
    memset(&r, 0, sizeof(r));
    static const uint8_t regreg[] = { 0x48, 0x89, 0xd8 };        /* mov rax, rbx */
    ck_assert_int_eq(dec(regreg, sizeof(regreg), 0, &r, &a), 0);
    static const uint8_t ret[] = { 0xc3 };
    ck_assert_int_eq(dec(ret, sizeof(ret), 0, &r, &a), 0);
    static const uint8_t fs[] = { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 };   /* fs: */
    ck_assert_int_eq(dec(fs, sizeof(fs), 0, &r, &a), 0);
    static const uint8_t cut[] = { 0x48, 0x8b, 0x05, 0xb5 };      /* truncated */
    ck_assert_int_eq(dec(cut, sizeof(cut), 0, &r, &a), -1);
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
    TCase *td = tcase_create("decode");
    tcase_add_test(td, decode_rip_relative);
    tcase_add_test(td, decode_registers);
    tcase_add_test(td, decode_not_memory);
    suite_add_tcase(s, td);
    return s;
}

LW_UNIT_MAIN(race_suite)
