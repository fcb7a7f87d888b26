/*
 * test_names.c: the pure parts of naming a lock: member paths as the
 * symbolizer spells them (datapath.h), /proc/self/maps lines and their
 * kinds (memmap.h), labels put into a finding's message (lockname.h), and
 * the description of a global, a static, a stack and a heap lock of this
 * very process (without the helper: ELF symbols and the maps); and which
 * type and function names are the C++ standard library's atomics
 * (atomicname.h: a race on them is not reported).
 */
#include "atomicname.h"
#include "datapath.h"
#include "lockname.h"
#include "memmap.h"
#include "stacks.h"

#include "unit.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char out[512];

static const char *index_of(uint64_t off, uint64_t elem, const uint64_t *counts, unsigned nd,
                            uint64_t *rem)
{
    lw_path pa;
    lw_path_init(&pa, out, sizeof(out));
    if (!lw_path_index(&pa, off, elem, counts, nd, rem))
        return NULL;
    return out;
}

START_TEST(array_paths)
{
    uint64_t rem = 99;
    uint64_t one[] = { 8 }, two[] = { 2, 3 }, open[] = { 0, 4 };
    ck_assert_str_eq(index_of(3 * 48 + 8, 48, one, 1, &rem), "[3]");
    ck_assert_uint_eq(rem, 8);
    ck_assert_str_eq(index_of(5 * 40, 40, two, 2, &rem), "[1][2]");
    ck_assert_uint_eq(rem, 0);
    ck_assert_str_eq(index_of(9 * 4 + 1, 4, open, 2, &rem), "[2][1]");   /* unknown bound */
    ck_assert_uint_eq(rem, 1);
    ck_assert(index_of(8 * 48, 48, one, 1, &rem) == NULL);                 /* past the end */
    ck_assert(index_of(0, 0, one, 1, &rem) == NULL);                       /* no size */
    uint64_t bad[] = { 2, 0 };
    ck_assert(index_of(0, 4, bad, 2, &rem) == NULL);
}
END_TEST

START_TEST(member_paths)
{
    lw_path pa;
    uint64_t rem, n[] = { 4 };
    lw_path_init(&pa, out, sizeof(out));
    lw_path_member(&pa, "buckets");
    ck_assert(lw_path_index(&pa, 2 * 48 + 8, 48, n, 1, &rem));
    lw_path_member(&pa, NULL);   /* an anonymous struct adds nothing */
    lw_path_member(&pa, "mu");
    lw_path_offset(&pa, 0);
    ck_assert_str_eq(out, ".buckets[2].mu");
    lw_path_offset(&pa, 0x28);
    ck_assert_str_eq(out, ".buckets[2].mu+0x28");
    /* A small buffer cuts and says so, never overflows. */
    char small[6];
    lw_path_init(&pa, small, sizeof(small));
    lw_path_member(&pa, "accounts");
    ck_assert(pa.truncated);
    ck_assert_str_eq(small, ".acco");
    ck_assert(lw_path_is_lock_type("pthread_mutex_t"));
    ck_assert(lw_path_is_lock_type("mutex"));
    ck_assert(!lw_path_is_lock_type("pthread_mutex"));
    ck_assert(!lw_path_is_lock_type("account"));
    ck_assert(!lw_path_is_lock_type(NULL));
}
END_TEST

static bool parse(const char *line, uintptr_t *lo, uintptr_t *hi, char *path)
{
    const char *p;
    size_t n;
    if (!lw_maps_parse_line(line, strlen(line), lo, hi, &p, &n))
        return false;
    memcpy(path, p, n);
    path[n] = 0;
    return true;
}

START_TEST(maps_lines)
{
    uintptr_t lo, hi;
    char path[256];
    ck_assert(parse("55d0c1a2b000-55d0c1a4c000 rw-p 00000000 00:00 0          [heap]", &lo, &hi,
                    path));
    ck_assert_uint_eq(lo, 0x55d0c1a2b000);
    ck_assert_uint_eq(hi, 0x55d0c1a4c000);
    ck_assert_str_eq(path, "[heap]");
    ck_assert_int_eq(lw_maps_kind(path, strlen(path)), LW_MEM_HEAP);
    ck_assert(parse("7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ", &lo, &hi, path));
    ck_assert_str_eq(path, "");
    ck_assert_int_eq(lw_maps_kind(path, 0), LW_MEM_ANON);
    ck_assert(parse("7ffc1000-7ffc2000 rw-p 00000000 00:00 0                  [stack]", &lo, &hi,
                    path));
    ck_assert_int_eq(lw_maps_kind(path, strlen(path)), LW_MEM_STACK);
    ck_assert(parse("7f1-7f2 rw-s 00000000 00:1a 42                    /dev/shm/my file", &lo, &hi,
                    path));
    ck_assert_str_eq(path, "/dev/shm/my file");
    ck_assert_int_eq(lw_maps_kind(path, strlen(path)), LW_MEM_FILE);
    ck_assert_int_eq(lw_maps_kind("[vdso]", 6), LW_MEM_UNKNOWN);
    ck_assert(!parse("garbage", &lo, &hi, path));
    ck_assert(!parse("2000-1000 rw-p 0 0:0 0", &lo, &hi, path));
    ck_assert(!parse("1000-2000", &lo, &hi, path));
}
END_TEST

static const char *named(const char *msg, unsigned n, const uint64_t *ids,
                         const char *const *labels)
{
    lw_name_message(msg, ids, labels, n, out, sizeof(out));
    return out;
}

START_TEST(message_labels)
{
    uint64_t ids[] = { 1, 2, 12, 3 };
    const char *labels[] = { "accounts[1].lock", "\"queue\"", "heap object 0x10", "" };
    ck_assert_str_eq(named("lock-order inversion (potential deadlock): M1 => M2 => M1", 4, ids,
                           labels),
                     "lock-order inversion (potential deadlock): M1 (accounts[1].lock) => "
                     "M2 (\"queue\") => M1");
    /* M12 is not M1; an id in a word is not a lock; no label, no change. */
    ck_assert_str_eq(named("M12 and XM1 and M3 and M4", 4, ids, labels),
                     "M12 (heap object 0x10) and XM1 and M3 and M4");
    /* Parentheses after the id take the label in. */
    ck_assert_str_eq(named("calls lock() on mutex M1 (0x1040) after", 4, ids, labels),
                     "calls lock() on mutex M1 (accounts[1].lock, 0x1040) after");
    /* A small buffer: cut, terminated. */
    char small[8];
    lw_name_message("M1 => M2", ids, labels, 4, small, sizeof(small));
    ck_assert_str_eq(small, "M1 (acc");
}
END_TEST

pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t static_lock = PTHREAD_MUTEX_INITIALIZER;

START_TEST(describe_this_process)
{
    lw_lock_desc d;
    lw_lock_describe((uintptr_t)&global_lock, &d);
    ck_assert_str_eq(d.label, "global_lock");
    ck_assert_str_eq(d.memory, "global");
    lw_lock_describe((uintptr_t)&static_lock + 8, &d);
    ck_assert_str_eq(d.label, "static_lock+0x8");
    pthread_mutex_t on_stack;
    lw_lock_describe((uintptr_t)&on_stack, &d);
    ck_assert_str_eq(d.memory, "stack");
    ck_assert_msg(strncmp(d.label, "stack of T0", 11) == 0, "%s", d.label);
    pthread_mutex_t *heap = malloc(sizeof(*heap) + 16);
    lw_lock_describe((uintptr_t)heap + 16, &d);
    ck_assert_str_eq(d.memory, "heap");
    ck_assert_msg(d.heap_object == 0 || d.heap_object == (uintptr_t)heap, "%s", d.label);
    free(heap);
}
END_TEST

START_TEST(atomic_names)
{
    /* DWARF class names, unqualified, as GCC and Clang give them. */
    static const char *const types[] = {"atomic<int>", "atomic<bool>", "__atomic_base<long unsigned int>",
                                        "atomic<node*>", "__atomic_float<double>", "atomic_ref<int>",
                                        "atomic_flag", "__atomic_flag_base",
                                        "__cxx_atomic_impl<int, std::__1::__cxx_atomic_base_impl<int> >"};
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        ck_assert_msg(lw_atomic_type_name(types[i]), "%s is atomic", types[i]);
    static const char *const plain[] = {"atomic_stats", "atomics", "atomic", "vector<std::atomic<int> >",
                                        "my_atomic<int>", "", "Atomic<int>"};
    for (unsigned i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        ck_assert_msg(!lw_atomic_type_name(plain[i]), "%s is not atomic", plain[i]);
    ck_assert(!lw_atomic_type_name(NULL));

    /* Demangled function names. */
    static const char *const fns[] = {
        "std::atomic<bool>::load(std::memory_order) const",
        "std::__atomic_base<unsigned long>::store(unsigned long, std::memory_order)",
        "std::atomic<node*>::store(node*, std::memory_order)",
        "std::atomic_load_explicit<int>(std::atomic<int> const*, std::memory_order)",
        "std::__atomic_impl::load<int>(int const*, std::memory_order)",
        "std::__1::__cxx_atomic_load<int>(std::__1::__cxx_atomic_base_impl<int> const*, std::__1::memory_order)",
        "std::__1::atomic<int>::operator int() const"};
    for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        ck_assert_msg(lw_atomic_function_name(fns[i]), "%s is atomic", fns[i]);
    static const char *const other[] = {
        "atomic_counter_bump", "my::atomic<int>::load()", "std::vector<std::atomic<int> >::size() const",
        "std::thread::join()", "worker(void*)", "stdatomic", "", "std::"};
    for (unsigned i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        ck_assert_msg(!lw_atomic_function_name(other[i]), "%s is not atomic", other[i]);
    ck_assert(!lw_atomic_function_name(NULL));
}
END_TEST


static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, array_paths);
    tcase_add_test(tc, member_paths);
    tcase_add_test(tc, maps_lines);
    tcase_add_test(tc, message_labels);
    tcase_add_test(tc, atomic_names);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_add_test(live, describe_this_process);
    suite_add_tcase(s, live);
    return s;
}

LW_UNIT_MAIN(names_suite)
