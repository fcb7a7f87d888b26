/*
 * fuzz_options.c: libFuzzer target for lw_options_parse (src/options.c)
 * over a fuzzed environment.
 *
 * Input: records separated by NUL bytes (a value cannot hold one).  A
 * record's first byte picks the name: its low 5 bits index the
 * LOCKWATCH_* names of options.def followed by a few near misses; bit
 * 0x80 repeats the value up to 300..2000 bytes (past the 512-byte limit of
 * the string options).  The rest of the record is the value: any bytes,
 * control bytes included.  At most 64 variables, in input order (so a
 * name may appear twice: the first wins, as with getenv).
 *
 * Checks after each parse: every option is in its documented range (an
 * integer within [min,max], an enum index among its choices, a string
 * shorter than its buffer and NUL-terminated); LOCKWATCH_BLOCKING's mask
 * is a set of known families; and lockwatch wrote at most one line per
 * LOCKWATCH_* variable set, each "lockwatch: warning: ...\n".
 */
#include "fuzz_common.h"
#include "options.h"

#include <stdint.h>

static const char *const names[] = {
#define LW_OPT_INT(f, N, d, lo, hi, h) #N,
#define LW_OPT_ENUM(f, N, d, choices, h) #N,
#define LW_OPT_STR(f, N, d, h) #N,
#include "options.def"
#undef LW_OPT_INT
#undef LW_OPT_ENUM
#undef LW_OPT_STR
    /* near misses: none of them may be taken for an option */
    "LOCKWATCH_", "LOCKWATCH_FORMATX", "LOCKWATCH_formaT", "PATH", "LOCKWATCH_EXITCOD",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))
#define NOPTS (NNAMES - 5)
#define MAXVARS 64

static unsigned nchoices(const char *c)
{
    unsigned n = 1;
    for (; *c; c++)
        n += *c == '|';
    return n;
}

static void check_ranges(void)
{
#define LW_OPT_INT(f, N, d, lo, hi, h) FZ_CHECK(lw_opt.f >= (lo) && lw_opt.f <= (hi));
#define LW_OPT_ENUM(f, N, d, choices, h) \
    FZ_CHECK(lw_opt.f >= 0 && (unsigned)lw_opt.f < nchoices(choices));
#define LW_OPT_STR(f, N, d, h) FZ_CHECK(memchr(lw_opt.f, 0, sizeof(lw_opt.f)) != NULL);
#include "options.def"
#undef LW_OPT_INT
#undef LW_OPT_ENUM
#undef LW_OPT_STR
    FZ_CHECK((lw_blocking_families & ~LW_FAM_ALL) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_capture_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *env[MAXVARS + 1];
    unsigned nenv = 0;
    bool set[NNAMES] = { false };
    unsigned distinct = 0;

    for (size_t i = 0; i < size && nenv < MAXVARS;) {
        uint8_t sel = data[i++];
        const uint8_t *v = data + i;
        const uint8_t *z = memchr(v, 0, size - i);
        size_t vl = z ? (size_t)(z - v) : size - i;
        i += vl + 1;
        const char *name = names[(sel & 0x1f) % NNAMES];
        size_t want = vl;
        if ((sel & 0x80) && vl > 0)
            want = 300 + (size_t)v[0] * 7;   /* 300 .. 2085 bytes */
        size_t nl = strlen(name);
        char *s = malloc(nl + 1 + want + 1);
        if (!s)
            abort();
        memcpy(s, name, nl);
        s[nl] = '=';
        for (size_t k = 0; k < want; k++)
            s[nl + 1 + k] = (char)v[k % vl];
        s[nl + 1 + want] = 0;
        env[nenv++] = s;
        unsigned idx = (sel & 0x1f) % NNAMES;
        if (idx < NOPTS && !set[idx]) {
            set[idx] = true;
            distinct++;
        }
    }
    env[nenv] = NULL;

    fz_capture_begin();
    lw_options_parse(env);
    const char *out = fz_capture_end();
    unsigned lines = fz_lines(out, "lockwatch: warning: ");
    FZ_CHECK(lines <= distinct);
    check_ranges();

    for (unsigned k = 0; k < nenv; k++)
        free(env[k]);
    return 0;
}
