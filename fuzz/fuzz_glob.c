/*
 * fuzz_glob.c: libFuzzer target for lw_glob (src/suppress.c), the matcher
 * suppression patterns use.  Input: PATTERN NUL STRING.  Checks: it
 * returns (no runaway backtracking: libFuzzer's timeout), a pattern without
 * * ? [ matches exactly itself, and "*" + pattern + "*" matches whatever
 * the pattern matches.
 */
#include "fuzz_common.h"
#include "suppress.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *pat = malloc(size + 3), *s;
    if (!pat)
        abort();
    memcpy(pat + 1, data, size);
    pat[0] = '*';
    pat[size + 1] = 0;
    size_t pl = strlen(pat + 1);
    s = pat + 1 + pl + 1 <= pat + size + 1 ? pat + 1 + pl + 1 : pat + size + 1;
    bool m = lw_glob(pat + 1, s);
    if (!strpbrk(pat + 1, "*?["))
        FZ_CHECK(m == (strcmp(pat + 1, s) == 0));
    if (m) {
        /* wrap the pattern in stars (in a copy: s lies after it) */
        char *w = malloc(pl + 3);
        if (!w)
            abort();
        w[0] = '*';
        memcpy(w + 1, pat + 1, pl);
        w[pl + 1] = '*';
        w[pl + 2] = 0;
        FZ_CHECK(lw_glob(w, s));
        free(w);
    }
    free(pat);
    return 0;
}
