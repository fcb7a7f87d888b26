/*
 * fmt.c: see fmt.h.  Owns nothing global.  Must never: allocate, use stdio,
 * or touch errno visibly (lw_buf_write restores it).
 */
#include "fmt.h"
#include "lw_sys.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void lw_buf_init(lw_buf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->truncated = false;
    if (cap)
        mem[0] = 0;
}

void lw_buf_putc(lw_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->p[b->len++] = c;
        b->p[b->len] = 0;
    } else {
        b->truncated = true;
    }
}

void lw_buf_puts(lw_buf *b, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s)
        lw_buf_putc(b, *s++);
}

static void put_uint(lw_buf *b, unsigned long long v, unsigned base, int width, char pad)
{
    char tmp[32];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v && n < (int)sizeof(tmp));
    while (width-- > n)
        lw_buf_putc(b, pad);
    while (n > 0)
        lw_buf_putc(b, tmp[--n]);
}

void lw_buf_vprintf(lw_buf *b, const char *fmt, va_list ap)
{
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            lw_buf_putc(b, *f);
            continue;
        }
        f++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*f == '0') {
            pad = '0';
            f++;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l' || *f == 'z') {
            lng++;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            int l = s ? (int)strlen(s) : 6;
            while (width-- > l)
                lw_buf_putc(b, ' ');
            lw_buf_puts(b, s);
            break;
        }
        case 'c':
            lw_buf_putc(b, (char)va_arg(ap, int));
            break;
        case 'd': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            if (lng == 1)
                v = (long)v;
            if (v < 0) {
                lw_buf_putc(b, '-');
                v = -v;
            }
            put_uint(b, (unsigned long long)v, 10, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            put_uint(b, v, *f == 'u' ? 10 : 16, width, pad);
            break;
        }
        case 'p':
            lw_buf_puts(b, "0x");
            put_uint(b, (uintptr_t)va_arg(ap, void *), 16, width, pad);
            break;
        case '%':
            lw_buf_putc(b, '%');
            break;
        case 0:
            return;
        default:
            lw_buf_putc(b, '%');
            lw_buf_putc(b, *f);
        }
    }
}

void lw_buf_printf(lw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* One byte of a quoted string: the usual backslash escapes, else `pre`
 * and two hex digits for bytes outside [0x20, lim), else itself. */
static void put_escaped(lw_buf *b, unsigned char c, const char *pre, unsigned lim)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': lw_buf_puts(b, "\\\""); break;
    case '\\': lw_buf_puts(b, "\\\\"); break;
    case '\n': lw_buf_puts(b, "\\n"); break;
    case '\t': lw_buf_puts(b, "\\t"); break;
    case '\r': lw_buf_puts(b, "\\r"); break;
    default:
        if (c < 0x20 || c >= lim) {
            lw_buf_puts(b, pre);
            lw_buf_putc(b, hex[c >> 4]);
            lw_buf_putc(b, hex[c & 15]);
        } else {
            lw_buf_putc(b, (char)c);
        }
    }
}

void lw_buf_json_str(lw_buf *b, const char *s)
{
    lw_buf_putc(b, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0x7f)
            lw_buf_puts(b, "\\u007f");
        else
            put_escaped(b, c, "\\u00", 0x100);   /* UTF-8 bytes pass */
    }
    lw_buf_putc(b, '"');
}

void lw_buf_value(lw_buf *b, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n && i < max; i++)
        put_escaped(b, (unsigned char)s[i], "\\x", 0x7f);   /* ASCII only */
    if (n > max)
        lw_buf_printf(b, "...(%zu bytes)", n);
}

const char *lw_value_str(const char *s, char *out, size_t cap, size_t max)
{
    lw_buf b;
    lw_buf_init(&b, out, cap);
    lw_buf_value(&b, s, max);
    return out;
}

unsigned lw_split_tabs(char *line, char **f, unsigned max)
{
    unsigned n = 0;
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

bool lw_buf_write(const lw_buf *b, int fd)
{
    int saved = errno;
    size_t off = 0;
    bool ok = true;
    while (off < b->len) {
        /* The raw system call: write() is one of our own wrappers. */
        ssize_t w = lw_syscall(SYS_write, fd, b->p + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    errno = saved;
    return ok;
}
