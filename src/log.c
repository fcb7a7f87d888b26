/*
 * log.c: warnings (see log.h).  Owns: the duplicate of stderr.
 * Must never: call an interposed function (fcntl goes straight to the
 * kernel), allocate, or change errno seen by the program.
 */
#include "log.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "lw_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

static int err_fd = -1;

void lw_log_init(void)
{
    if (lw_load_acquire(&err_fd) >= 0)
        return;
    int saved = errno;
    int fd = lw_sys_fcntl(2, F_DUPFD_CLOEXEC, LW_PRIVATE_FD_MIN);
    errno = saved;
    if (fd >= 0)
        lw_store_release(&err_fd, fd);
}

int lw_log_fd(void)
{
    int fd = lw_load_acquire(&err_fd);
    return fd >= 0 ? fd : 2;
}

static void vwarn(const char *fmt, va_list ap)
{
    char mem[1024];
    lw_buf b;
    int saved = errno;
    lw_buf_init(&b, mem, sizeof(mem));
    lw_buf_vprintf(&b, fmt, ap);
    if (b.truncated && b.len > 0)
        b.p[b.len - 1] = '\n';   /* a line, however long the message was */
    lw_buf_write(&b, lw_log_fd());
    errno = saved;
}

void lw_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

void lw_warn_once(int *once, const char *fmt, ...)
{
    if (lw_xchg_acq_rel(once, 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}
