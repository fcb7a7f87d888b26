/*
 * fuzz_common.h: what the libFuzzer targets share: lockwatch's warnings
 * captured in a memory file instead of stderr, so that a target can count
 * them and check their shape ("at most one line per bad value, each
 * starting with lockwatch:").  Single-threaded, like libFuzzer's loop.
 */
#ifndef LW_FUZZ_COMMON_H
#define LW_FUZZ_COMMON_H

/* _GNU_SOURCE (memfd_create) comes from config.h, included first */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fz_cap_fd = -1;
static char fz_out[1 << 20];
static size_t fz_out_len;

/* lockwatch's warning channel takes a memory file as its stderr; fd 2
 * stays libFuzzer's and the sanitizers'. */
static __attribute__((unused)) void fz_capture_init(void)
{
    int saved = dup(2);
    fz_cap_fd = memfd_create("lw-fuzz-stderr", 0);
    if (saved < 0 || fz_cap_fd < 0 || dup2(fz_cap_fd, 2) != 2) {
        perror("lw-fuzz: memfd/dup2");
        abort();
    }
    lw_log_reinit();
    if (dup2(saved, 2) != 2)
        abort();
    close(saved);
}

static __attribute__((unused)) void fz_capture_begin(void)
{
    if (ftruncate(fz_cap_fd, 0) != 0 || lseek(fz_cap_fd, 0, SEEK_SET) != 0)
        abort();
}

/* What was written since fz_capture_begin, NUL-terminated in fz_out. */
static __attribute__((unused)) const char *fz_capture_end(void)
{
    off_t n = lseek(fz_cap_fd, 0, SEEK_CUR);
    if (n < 0 || (size_t)n >= sizeof(fz_out))
        abort();
    fz_out_len = pread(fz_cap_fd, fz_out, (size_t)n, 0) == n ? (size_t)n : 0;
    fz_out[fz_out_len] = 0;
    return fz_out;
}

/* Every line of the capture starts with `prefix` and ends with '\n';
 * returns the number of lines, or aborts showing the capture. */
static __attribute__((unused)) unsigned fz_lines(const char *out, const char *prefix)
{
    unsigned n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl || strncmp(p, prefix, pl) != 0) {
            fprintf(stderr, "lw-fuzz: malformed warning output:\n%s\n", out);
            abort();
        }
        n++;
        p = nl + 1;
    }
    return n;
}

#define FZ_CHECK(c)                                                              \
    do {                                                                         \
        if (!(c)) {                                                              \
            fprintf(stderr, "lw-fuzz: %s:%d: check failed: %s\n", __FILE__,      \
                    __LINE__, #c);                                               \
            fprintf(stderr, "captured warnings:\n%s\n", fz_out);                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
