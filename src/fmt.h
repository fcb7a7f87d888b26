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
/* Writes the whole buffer (retrying short writes and EINTR); false on error. */
bool lw_buf_write(const lw_buf *b, int fd);

#endif
