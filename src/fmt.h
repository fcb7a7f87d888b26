/*
 * fmt.h: formatting into a caller-supplied buffer, written with raw write(2).
 * No stdio, no malloc, no locale: usable inside any interposed call.
 * Supported conversions: %s %c %d %u %ld %lu %lld %llu %zu %x %lx %llx %p %%
 * (with an optional 'l'/'ll'/'z' length).  A full buffer truncates and sets
 * the truncated flag; it never overflows.
 */
#ifndef LW_FMT_H
#define LW_FMT_H

#include "lw_base.h"
#include <stdarg.h>

typedef struct {
    char *p;
    size_t len, cap;
    bool truncated;
} lw_buf;

void lw_buf_init(lw_buf *b, char *mem, size_t cap);
void lw_buf_putc(lw_buf *b, char c);
void lw_buf_puts(lw_buf *b, const char *s);
void lw_buf_printf(lw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lw_buf_vprintf(lw_buf *b, const char *fmt, va_list ap);
/* A JSON string literal, quotes included. */
void lw_buf_json_str(lw_buf *b, const char *s);
/* A value from outside (an environment variable, a file name) for one
 * line of a warning: at most max bytes of it, with \n \t \r \\ \" and
 * other control or non-ASCII bytes escaped (\xNN), and "...(N bytes)"
 * when it was longer.  No quotes added. */
void lw_buf_value(lw_buf *b, const char *s, size_t max);
/* The same into out (cap bytes), returned: for a "%s" in a warning. */
const char *lw_value_str(const char *s, char *out, size_t cap, size_t max);
/* Splits line in place at tabs (cut at its first newline) into at most max
 * fields; returns how many. */
unsigned lw_split_tabs(char *line, char **f, unsigned max);
/* Writes the whole buffer (retrying short writes and EINTR); false on error. */
bool lw_buf_write(const lw_buf *b, int fd);

#endif
