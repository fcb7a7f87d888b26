/*
 * test_fmt.c: formatting into fixed buffers (fmt.h): every supported
 * conversion, agreement with snprintf where the two promise the same thing,
 * truncation that never writes past the buffer, JSON string escaping, and
 * lw_buf_write.  Also built with AddressSanitizer, where the exact-size heap
 * buffers of the truncation tests turn any overflow into a failure.
 */
#include "fmt.h"

#include <check.h>

#include "unit.h"
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUARD 16
#define GUARD_VAL 0xA5

/* Formats into a roomy buffer and checks text, length and no truncation. */
#define EXPECT(expect, ...)                                                                        \
    do {                                                                                           \
        char mem_[512];                                                                            \
        lw_buf b_;                                                                                 \
        lw_buf_init(&b_, mem_, sizeof(mem_));                                                      \
        lw_buf_printf(&b_, __VA_ARGS__);                                                           \
        ck_assert_str_eq(mem_, (expect));                                                          \
        ck_assert_uint_eq(b_.len, strlen(expect));                                                 \
        ck_assert(!b_.truncated);                                                                  \
    } while (0)

/* lw_buf_printf and snprintf agree. */
#define SAME_AS_LIBC(...)                                                                          \
    do {                                                                                           \
        char libc_[512];                                                                           \
        snprintf(libc_, sizeof(libc_), __VA_ARGS__);                                               \
        EXPECT(libc_, __VA_ARGS__);                                                                \
    } while (0)

START_TEST(test_conversions)
{
    EXPECT("", "%s", "");
    EXPECT("plain text", "plain text");
    EXPECT("hello", "%s", "hello");
    const char *volatile null_str = NULL; /* volatile: keeps -Wformat-overflow quiet */
    EXPECT("(null)", "%s", null_str);
    EXPECT("x", "%c", 'x');
    EXPECT("100%", "%d%%", 100);
    EXPECT("%", "%%");
    EXPECT("0x1234", "%p", (void *)0x1234);
    EXPECT("0x0", "%p", (void *)NULL);
    EXPECT("0x7fffdeadbeef", "%p", (void *)0x7fffdeadbeefull);
    EXPECT("a=1 b=two c=ff 100%", "a=%d b=%s c=%x %d%%", 1, "two", 255u, 100);

    SAME_AS_LIBC("%d", 0);
    SAME_AS_LIBC("%d", 42);
    SAME_AS_LIBC("%d", -42);
    SAME_AS_LIBC("%d", INT_MAX);
    SAME_AS_LIBC("%d", INT_MIN);
    SAME_AS_LIBC("%u", 0u);
    SAME_AS_LIBC("%u", UINT_MAX);
    SAME_AS_LIBC("%ld", LONG_MAX);
    SAME_AS_LIBC("%ld", LONG_MIN);
    SAME_AS_LIBC("%ld", -1L);
    SAME_AS_LIBC("%lu", ULONG_MAX);
    SAME_AS_LIBC("%lld", LLONG_MAX);
    SAME_AS_LIBC("%lld", LLONG_MIN);
    SAME_AS_LIBC("%llu", ULLONG_MAX);
    SAME_AS_LIBC("%zu", (size_t)0);
    SAME_AS_LIBC("%zu", SIZE_MAX);
    SAME_AS_LIBC("%x", 0u);
    SAME_AS_LIBC("%x", 0xdeadbeefu);
    SAME_AS_LIBC("%lx", ULONG_MAX);
    SAME_AS_LIBC("%llx", 0x0123456789abcdefull);
    SAME_AS_LIBC("%5u", 42u);
    SAME_AS_LIBC("%05u", 42u);
    SAME_AS_LIBC("%08x", 0xbeefu);
    SAME_AS_LIBC("%016lx", 0x55d1a2c04040ul);
    SAME_AS_LIBC("%02d", 7);
    SAME_AS_LIBC("%2d", 12345);
    SAME_AS_LIBC("%8s|", "abc");
    SAME_AS_LIBC("%2s|", "abcdef");
    SAME_AS_LIBC("[%s] %s:%d", "T1", "file.c", 120);
}
END_TEST

/* No format attribute: lets the tests pass formats printf would reject. */
static void vfmt(lw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

START_TEST(test_unknown_and_trailing)
{
    /* Unsupported conversions are shown, not interpreted; a lone % at the
     * end stops formatting without reading past the string. */
    char mem[32];
    lw_buf b;
    lw_buf_init(&b, mem, sizeof(mem));
    vfmt(&b, "%q|");
    ck_assert_str_eq(mem, "%q|");
    lw_buf_init(&b, mem, sizeof(mem));
    vfmt(&b, "abc%");
    ck_assert_str_eq(mem, "abc");
    ck_assert_uint_eq(b.len, 3);
}
END_TEST

static uint64_t rng = 0x1234567887654321ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The format is built at run time on purpose: widths and lengths vary. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define COMPARE_RUNTIME(fmt, value)                                                                \
    do {                                                                                           \
        char libc_[96], mem_[96];                                                                  \
        lw_buf b_;                                                                                 \
        snprintf(libc_, sizeof(libc_), (fmt), (value));                                            \
        lw_buf_init(&b_, mem_, sizeof(mem_));                                                      \
        lw_buf_printf(&b_, (fmt), (value));                                                        \
        ck_assert_msg(strcmp(mem_, libc_) == 0, "format \"%s\": lw \"%s\", libc \"%s\"", (fmt),    \
                      mem_, libc_);                                                                \
    } while (0)

START_TEST(test_random_against_libc)
{
    /* Random values, widths and zero padding for every integer conversion.
     * Negative numbers get no width: fmt.h does not promise where the sign
     * goes relative to the padding. */
    static const char *const conv[] = {"d", "ld", "lld", "u", "lu", "llu", "zu", "x", "lx", "llx"};
    for (int i = 0; i < 20000; i++) {
        uint64_t v = rnd() >> (rnd() % 64);
        unsigned c = (unsigned)(rnd() % LW_ARRAY_SIZE(conv));
        bool is_signed = c < 3, negative = is_signed && (rnd() & 1);
        char f[16];
        if (negative || rnd() % 3 == 0)
            snprintf(f, sizeof(f), "%%%s", conv[c]);
        else
            snprintf(f, sizeof(f), "%%%s%d%s", rnd() & 1 ? "0" : "", (int)(rnd() % 24), conv[c]);
        if (is_signed) {
            v &= c == 0 ? (uint64_t)INT_MAX : (uint64_t)INT64_MAX;
            if (negative)
                v = -v;
        }
        switch (c) {
        case 0:
            COMPARE_RUNTIME(f, (int)v);
            break;
        case 1:
            COMPARE_RUNTIME(f, (long)v);
            break;
        case 2:
            COMPARE_RUNTIME(f, (long long)v);
            break;
        case 3:
        case 7:
            COMPARE_RUNTIME(f, (unsigned)v);
            break;
        case 4:
        case 8:
            COMPARE_RUNTIME(f, (unsigned long)v);
            break;
        case 5:
        case 9:
            COMPARE_RUNTIME(f, (unsigned long long)v);
            break;
        default:
            COMPARE_RUNTIME(f, (size_t)v);
            break;
        }
    }
}
END_TEST
#pragma GCC diagnostic pop

START_TEST(test_vprintf_and_appending)
{
    char mem[64];
    lw_buf b;
    lw_buf_init(&b, mem, sizeof(mem));
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(mem, "");
    vfmt(&b, "%s-%u", "id", 7u);
    lw_buf_putc(&b, '/');
    lw_buf_puts(&b, "tail");
    lw_buf_puts(&b, NULL);
    lw_buf_printf(&b, "%lx", 0xabcul);
    ck_assert_str_eq(mem, "id-7/tail(null)abc");
    ck_assert_uint_eq(b.len, strlen(mem));
    ck_assert(!b.truncated);
}
END_TEST

/* ---- truncation ---- */

/* Everything that writes, in one go: text that needs `full` bytes. */
static void write_all(lw_buf *b)
{
    lw_buf_printf(b, "%s %d %lu %llx %p %c%%", "lockwatch", -123456, 4000000000ul,
                  0xfedcba9876543210ull, (void *)0xbeef, 'z');
    lw_buf_puts(b, " puts");
    lw_buf_putc(b, '!');
    lw_buf_json_str(b, "q\"\\\n\x01");
}

START_TEST(test_truncation_never_overflows)
{
    char full[256];
    lw_buf fb;
    lw_buf_init(&fb, full, sizeof(full));
    write_all(&fb);
    ck_assert(!fb.truncated);
    size_t need = fb.len;
    ck_assert_uint_gt(need, 40);

    for (size_t cap = 1; cap <= need + 2; cap++) {
        /* Exactly cap bytes on the heap (ASan sees any overflow)... */
        char *heap = malloc(cap);
        ck_assert_ptr_nonnull(heap);
        lw_buf b;
        lw_buf_init(&b, heap, cap);
        write_all(&b);
        size_t expect = need < cap - 1 ? need : cap - 1;
        ck_assert_uint_eq(b.len, expect);
        ck_assert_uint_eq(strlen(heap), expect);
        ck_assert(memcmp(heap, full, expect) == 0);
        ck_assert_int_eq(b.truncated, need > cap - 1);
        /* Further writes change nothing once full. */
        if (b.truncated) {
            lw_buf_printf(&b, "%s%d", "more", 1);
            ck_assert_uint_eq(b.len, expect);
            ck_assert(b.truncated);
        }
        free(heap);

        /* ...and inside guard bytes (any build sees a stray write). */
        unsigned char stack[256 + 2 * GUARD];
        memset(stack, GUARD_VAL, sizeof(stack));
        lw_buf_init(&b, (char *)stack + GUARD, cap);
        write_all(&b);
        for (size_t i = 0; i < GUARD; i++) {
            ck_assert_uint_eq(stack[i], GUARD_VAL);
            ck_assert_msg(stack[GUARD + cap + i] == GUARD_VAL,
                          "cap %zu: byte %zu past the buffer written", cap, i);
        }
        ck_assert_uint_eq(stack[GUARD + expect], 0);
    }
}
END_TEST

START_TEST(test_zero_capacity)
{
    unsigned char byte = GUARD_VAL;
    lw_buf b;
    lw_buf_init(&b, (char *)&byte, 0);
    ck_assert(!b.truncated);
    write_all(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert(b.truncated);
    ck_assert_uint_eq(byte, GUARD_VAL);
}
END_TEST

START_TEST(test_long_string_truncated)
{
    static char big[10000];
    memset(big, 'a', sizeof(big) - 1);
    char *mem = malloc(100);
    lw_buf b;
    lw_buf_init(&b, mem, 100);
    lw_buf_printf(&b, "[%s]", big);
    ck_assert(b.truncated);
    ck_assert_uint_eq(b.len, 99);
    ck_assert_uint_eq(strlen(mem), 99);
    ck_assert_int_eq(mem[0], '[');
    ck_assert_int_eq(mem[98], 'a');
    free(mem);
}
END_TEST

/* ---- JSON strings ---- */

static void json(const char *in, char *out, size_t outsz)
{
    lw_buf b;
    lw_buf_init(&b, out, outsz);
    lw_buf_json_str(&b, in);
    ck_assert(!b.truncated);
}

#define EXPECT_JSON(in, expect)                                                                    \
    do {                                                                                           \
        char out_[256];                                                                            \
        json((in), out_, sizeof(out_));                                                            \
        ck_assert_str_eq(out_, (expect));                                                          \
    } while (0)

START_TEST(test_json_escaping)
{
    EXPECT_JSON("", "\"\"");
    EXPECT_JSON(NULL, "\"\"");
    EXPECT_JSON("plain", "\"plain\"");
    EXPECT_JSON("say \"hi\"", "\"say \\\"hi\\\"\"");
    EXPECT_JSON("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    EXPECT_JSON("a\nb\tc\rd", "\"a\\nb\\tc\\rd\"");
    EXPECT_JSON("\x01\x1f", "\"\\u0001\\u001f\"");
    EXPECT_JSON("\b\f", "\"\\u0008\\u000c\"");
    EXPECT_JSON("\x7f", "\"\\u007f\"");
    EXPECT_JSON("/slash/", "\"/slash/\"");
    /* UTF-8 passes through. */
    EXPECT_JSON("h\xc3\xa9llo \xe2\x9c\x93", "\"h\xc3\xa9llo \xe2\x9c\x93\"");
}
END_TEST

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

START_TEST(test_json_every_byte_round_trips)
{
    /* Every byte value 1..255 once: the output must be a JSON string (no
     * raw control character, quote or backslash inside) that decodes back
     * to the input. */
    char in[256], out[2048], dec[256];
    for (int i = 1; i < 256; i++)
        in[i - 1] = (char)i;
    in[255] = 0;
    json(in, out, sizeof(out));

    size_t len = strlen(out), n = 0;
    ck_assert_uint_ge(len, 2);
    ck_assert_int_eq(out[0], '"');
    ck_assert_int_eq(out[len - 1], '"');
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)out[i];
        ck_assert_msg(c >= 0x20 && c != '"', "raw byte %#x at %zu", c, i);
        if (c != '\\') {
            dec[n++] = (char)c;
            continue;
        }
        char e = out[++i];
        switch (e) {
        case '"':
            dec[n++] = '"';
            break;
        case '\\':
            dec[n++] = '\\';
            break;
        case '/':
            dec[n++] = '/';
            break;
        case 'b':
            dec[n++] = '\b';
            break;
        case 'f':
            dec[n++] = '\f';
            break;
        case 'n':
            dec[n++] = '\n';
            break;
        case 'r':
            dec[n++] = '\r';
            break;
        case 't':
            dec[n++] = '\t';
            break;
        case 'u': {
            ck_assert_uint_le(i + 4, len - 2);
            int v = 0;
            for (int k = 1; k <= 4; k++) {
                int h = hexval(out[i + k]);
                ck_assert_int_ge(h, 0);
                v = v * 16 + h;
            }
            ck_assert_int_lt(v, 0x100);
            dec[n++] = (char)v;
            i += 4;
            break;
        }
        default:
            ck_abort_msg("bad escape \\%c", e);
        }
    }
    ck_assert_uint_eq(n, 255);
    ck_assert(memcmp(dec, in, 255) == 0);
}
END_TEST

START_TEST(test_json_truncated)
{
    for (size_t cap = 1; cap < 24; cap++) {
        char *mem = malloc(cap);
        lw_buf b;
        lw_buf_init(&b, mem, cap);
        lw_buf_json_str(&b, "\"\\\x01\x02\x03 quoted \"");
        ck_assert(b.truncated);
        ck_assert_uint_eq(b.len, cap - 1);
        ck_assert_uint_eq(strlen(mem), cap - 1);
        free(mem);
    }
}
END_TEST

/* ---- lw_buf_value: outside values in one line of a warning ---- */

START_TEST(test_value_escaped_and_cut)
{
    char out[512];
    ck_assert_str_eq(lw_value_str("plain/path.log", out, sizeof(out), 96), "plain/path.log");
    ck_assert_str_eq(lw_value_str("a\nb\tc\r\"q\"\\\x01\x7f\xc3\xa9", out, sizeof(out), 96),
                     "a\\nb\\tc\\r\\\"q\\\"\\\\\\x01\\x7f\\xc3\\xa9");
    /* Every byte value: no control byte, no newline gets through. */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    lw_value_str(all, out, sizeof(out), 300);
    for (const char *p = out; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                      "byte %#x got through", (unsigned)(unsigned char)*p);
    /* Long values are cut, and say how long they were. */
    static char big[100001];
    memset(big, 'x', sizeof(big) - 1);
    lw_value_str(big, out, sizeof(out), 96);
    ck_assert_uint_eq(strlen(out), 96 + strlen("...(100000 bytes)"));
    ck_assert(strstr(out, "...(100000 bytes)") != NULL);
    /* Cut by the buffer: never overflows. */
    char small[8];
    lw_value_str("\n\n\n\n\n\n", small, sizeof(small), 96);
    ck_assert_uint_eq(strlen(small), 7);
}
END_TEST

/* ---- lw_buf_write ---- */

START_TEST(test_write)
{
    char tmpl[] = "/tmp/lw-test-fmt-XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);

    /* Large enough to need several write calls on some systems. */
    size_t cap = 1 << 20;
    char *mem = malloc(cap), *back = malloc(cap);
    lw_buf b;
    lw_buf_init(&b, mem, cap);
    for (unsigned i = 0; !b.truncated; i++)
        lw_buf_printf(&b, "line %u\n", i);
    errno = 4321;
    ck_assert(lw_buf_write(&b, fd));
    ck_assert_int_eq(errno, 4321);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, back + got, cap - got)) > 0)
        got += (size_t)r;
    ck_assert_uint_eq(got, b.len);
    ck_assert(memcmp(back, mem, got) == 0);
    close(fd);

    /* A bad descriptor: false, errno untouched. */
    errno = 1234;
    ck_assert(!lw_buf_write(&b, -1));
    ck_assert_int_eq(errno, 1234);
    ck_assert(!lw_buf_write(&b, fd)); /* closed */
    ck_assert_int_eq(errno, 1234);

    /* Nothing to write is success. */
    lw_buf_init(&b, mem, cap);
    ck_assert(lw_buf_write(&b, -1));
    free(mem);
    free(back);
}
END_TEST

static Suite *fmt_suite(void)
{
    Suite *s = suite_create("fmt");
    TCase *tc = tcase_create("printf");
    tcase_add_test(tc, test_conversions);
    tcase_add_test(tc, test_unknown_and_trailing);
    tcase_add_test(tc, test_random_against_libc);
    tcase_add_test(tc, test_vprintf_and_appending);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_add_test(tc, test_truncation_never_overflows);
    tcase_add_test(tc, test_zero_capacity);
    tcase_add_test(tc, test_long_string_truncated);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_json_every_byte_round_trips);
    tcase_add_test(tc, test_json_truncated);
    tcase_add_test(tc, test_value_escaped_and_cut);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_write);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(fmt_suite)
