/*
 * fuzz_suppress.c: libFuzzer target for the suppression-file parser
 * (lw_supp_parse in src/suppress.c, the parser lw_supp_load runs on each
 * file's contents; format in lockwatch(5)).  The input is a file's
 * contents, any bytes.
 *
 * The parser takes its memory from lockwatch's arena; here the arena
 * allocator is wrapped (-Wl,--wrap=lw_arena_alloc) so that each block is a
 * malloc of its own, freed after the input: AddressSanitizer then sees an
 * overrun of any one block, and memory does not pile up over millions of
 * inputs.  Checks: no more rules than lines, and at most one error line
 * per input line (plus one for too many rules), each starting
 * "lockwatch: error: suppressions ".
 */
#include "fuzz_common.h"
#include "suppress.h"

#include <stdint.h>

void *__real_lw_arena_alloc(size_t size);
void *__wrap_lw_arena_alloc(size_t size);

static bool tracking;
static void *blocks[1 << 16];
static unsigned nblocks;

void *__wrap_lw_arena_alloc(size_t size)
{
    if (!tracking)
        return __real_lw_arena_alloc(size);
    if (nblocks == sizeof(blocks) / sizeof(blocks[0]))
        return NULL;   /* as an exhausted arena: the parser must cope */
    void *p = calloc(1, size ? size : 1);   /* the arena's memory is zeroed */
    if (p)
        blocks[nblocks++] = p;
    return p;
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
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    unsigned nlines = 1;
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';

    tracking = true;
    lw_supp_reset();
    fz_capture_begin();
    unsigned kept = lw_supp_parse(buf, size, "fuzz.supp");
    const char *out = fz_capture_end();
    unsigned lines = fz_lines(out, "lockwatch: error: ");
    FZ_CHECK(kept <= nlines && kept <= LW_MAX_SUPPRESSIONS);
    FZ_CHECK(lines <= nlines + 1);
    for (const char *p = out; *p; p = strchr(p, '\n') + 1)
        FZ_CHECK(strncmp(p, "lockwatch: error: suppressions fuzz.supp:", 41) == 0 ||
                 strncmp(p, "lockwatch: error: more than ", 28) == 0);

    lw_supp_reset();
    tracking = false;
    for (unsigned k = 0; k < nblocks; k++)
        free(blocks[k]);
    nblocks = 0;
    free(buf);
    return 0;
}
