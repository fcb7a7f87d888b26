/*
 * log.c: warnings and the report channels (see log.h).  Owns: lockwatch's
 * descriptor for stderr and the LOCKWATCH_LOG file's.
 * Must never: call an interposed function (fcntl goes straight to the
 * kernel), allocate, or change errno seen by the program.
 */
#include "log.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "lw_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- channels ----
 * lockwatch writes to two places: the stream that was stderr when it
 * started (a descriptor of its own at 500 or above) and the LOCKWATCH_LOG
 * file.  Whatever the program does with its descriptors, lockwatch writes
 * only there: it checks before each write that its descriptor still is the
 * file it opened (a program may close it, by close_range or closefrom, and
 * get the number back from open), never waits on a reader more than a
 * moment, never takes a SIGPIPE, and says once, on the other channel, when
 * a report could not be written. */

typedef struct {
    int fd;          /* -1: none (closed at start, or lost) */
    bool poll;       /* a pipe, FIFO or socket: wait for room, bounded */
    bool sock;       /* send(), MSG_NOSIGNAL */
    unsigned long dev, ino;
} chan;

/* The channels and the reporting state: written under the caller's lock
 * (report_lock) or at start-up; a warning reads err_ch without it. */
static chan err_ch = { -1, false, false, 0, 0 };
static chan log_ch = { -1, false, false, 0, 0 };
static bool log_tried, log_failed_noted, err_failed_noted;
static const char *log_template;

static int err_inited;   /* lw_log_init has run */

#define LW_OUT_WAIT_MS 500   /* how long a report waits for a slow reader */

static bool file_id(int fd, unsigned long *dev, unsigned long *ino, unsigned *mode)
{
    struct stat st;
    if (lw_syscall(SYS_fstat, fd, &st) != 0)
        return false;
    *dev = (unsigned long)st.st_dev;
    *ino = (unsigned long)st.st_ino;
    *mode = (unsigned)st.st_mode;
    return true;
}

/* Takes fd as the channel's, moved to LW_PRIVATE_FD_MIN or above. */
static bool chan_take(chan *c, int fd)
{
    unsigned long dev, ino;
    unsigned mode;
    if (fd < LW_PRIVATE_FD_MIN) {
        int hi = lw_sys_fcntl(fd, F_DUPFD_CLOEXEC, LW_PRIVATE_FD_MIN);
        lw_sys_close(fd);
        if (hi < 0)
            return false;
        fd = hi;
    }
    if (!file_id(fd, &dev, &ino, &mode)) {
        lw_sys_close(fd);
        return false;
    }
    c->poll = S_ISFIFO(mode) || S_ISSOCK(mode);
    c->sock = S_ISSOCK(mode);
    c->dev = dev;
    c->ino = ino;
    lw_store_release(&c->fd, fd);
    return true;
}

/* Is the channel's descriptor still the file it opened? */
static bool chan_live(chan *c)
{
    int fd = lw_load_acquire(&c->fd);
    unsigned long dev, ino;
    unsigned mode;
    if (fd < 0)
        return false;
    if (!file_id(fd, &dev, &ino, &mode) || dev != c->dev || ino != c->ino) {
        /* Closed by the program, maybe reused for one of its files: not
         * ours to write to, nor to close. */
        lw_store_release(&c->fd, -1);
        return false;
    }
    return true;
}

/* Writes all of p, or fails with errno: SIGPIPE blocked and swallowed,
 * a slow reader waited for at most LW_OUT_WAIT_MS in all. */
static bool chan_write(chan *c, const char *p, size_t n)
{
    if (c == &err_ch && !lw_load_acquire(&err_inited))
        lw_log_init();   /* a warning before start-up got there */
    if (!chan_live(c)) {
        errno = EBADF;
        return false;
    }
    int fd = c->fd;
    sigset_t pipe_only, old, pending_before, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigemptyset(&old);
    /* Raw: pthread_sigmask is interposed (intercept_signal.c). */
    lw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_only, &old, (size_t)8);
    sigpending(&pending_before);
    bool ok = true;
    int waited = 0, err = 0;
    while (n > 0) {
        if (c->poll) {
            struct pollfd pf = { fd, POLLOUT, 0 };
            long r = lw_syscall(SYS_poll, &pf, 1, 10);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                if ((waited += 10) >= LW_OUT_WAIT_MS) {
                    err = EAGAIN;
                    ok = false;
                    break;
                }
                continue;
            }
        }
        size_t chunk = c->poll && n > 4096 ? 4096 : n;   /* PIPE_BUF: no blocking */
        long w = c->sock ? lw_syscall(SYS_sendto, fd, p, chunk, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0)
                         : lw_syscall(SYS_write, fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            err = errno;
            ok = false;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    /* A SIGPIPE this write raised is ours: take it before unblocking. */
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&pending_before, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        lw_syscall(SYS_rt_sigtimedwait, &pipe_only, NULL, &zero, (size_t)8);   /* kernel sigset size */
    }
    lw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
    errno = err;
    return ok;
}

void lw_log_init(void)
{
    if (lw_xchg_acq_rel(&err_inited, 1))
        return;   /* once: stderr as it was when lockwatch started */
    int saved = errno;
    if (lw_sys_fcntl(2, F_GETFD, 0) >= 0) {
        unsigned long dev, ino;
        unsigned mode;
        int fd = -1;
        /* A pipe or FIFO is opened again through /proc: a file description
         * of lockwatch's own, non-blocking, so the program's stays as it
         * is.  Otherwise a duplicate. */
        if (file_id(2, &dev, &ino, &mode) && S_ISFIFO(mode))
            fd = (int)lw_syscall(SYS_openat, AT_FDCWD, "/proc/self/fd/2",
                              O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            fd = lw_sys_fcntl(2, F_DUPFD_CLOEXEC, LW_PRIVATE_FD_MIN);
        if (fd >= 0)
            chan_take(&err_ch, fd);
    }
    errno = saved;
}

void lw_log_reinit(void)
{
    int fd = lw_load_acquire(&err_ch.fd);
    if (fd >= 0 && chan_live(&err_ch))
        lw_sys_close(fd);
    lw_store_release(&err_ch.fd, -1);
    lw_store_release(&err_inited, 0);
    lw_log_init();
}

void lw_out_set_log(const char *path_template)
{
    log_template = path_template && path_template[0] ? path_template : NULL;
}

static void expand(const char *tmpl, char *out, size_t cap)
{
    lw_buf b;
    lw_buf_init(&b, out, cap);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            lw_buf_printf(&b, "%d", (int)lw_syscall(SYS_getpid));
            p++;
        } else {
            lw_buf_putc(&b, *p);
        }
    }
}

/* Opens (or opens again, after the program closed it) the log file. */
static bool log_open(void)
{
    char path[1024], shown[640];
    expand(log_template, path, sizeof(path));
    int fd = (int)lw_syscall(SYS_openat, AT_FDCWD, path,
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0 || !chan_take(&log_ch, fd)) {
        int e = errno;
        if (e == ENXIO)
            lw_warn("lockwatch: warning: cannot open LOCKWATCH_LOG file \"%s\" (a FIFO "
                    "nobody reads); reporting to stderr\n",
                    lw_value_str(path, shown, sizeof(shown), 128));
        else
            lw_warn("lockwatch: warning: cannot open LOCKWATCH_LOG file \"%s\" (errno %d); "
                    "reporting to stderr\n", lw_value_str(path, shown, sizeof(shown), 128), e);
        return false;
    }
    return true;
}

bool lw_out_report(const char *p, size_t n)
{
    int saved = errno;
    bool done = false;
    if (log_template) {
        /* Opened at the first report (one warning if it cannot be), and
         * again only when the program took lockwatch's descriptor away. */
        if (!log_tried) {
            log_tried = true;
            log_open();
        } else if (lw_load_acquire(&log_ch.fd) >= 0 && !chan_live(&log_ch)) {
            log_open();
        }
        if (lw_load_acquire(&log_ch.fd) >= 0) {
            done = chan_write(&log_ch, p, n);
            if (!done && !log_failed_noted) {
                int e = errno;
                char path[1024], shown[640];
                log_failed_noted = true;
                expand(log_template, path, sizeof(path));
                lw_warn("lockwatch: error: a report could not be written to LOCKWATCH_LOG "
                        "\"%s\" (errno %d); it follows here, and later ones too if that "
                        "goes on\n", lw_value_str(path, shown, sizeof(shown), 128), e);
            }
        }
    }
    if (!done) {
        done = chan_write(&err_ch, p, n);
        if (!done && !err_failed_noted && lw_load_acquire(&log_ch.fd) >= 0 &&
            chan_live(&log_ch)) {
            /* The other way round: stderr is gone, the log file works. */
            err_failed_noted = true;
            static const char note[] = "lockwatch: error: a report could not be written to "
                                       "stderr; see the LOCKWATCH_LOG file\n";
            chan_write(&log_ch, note, sizeof(note) - 1);
        }
    }
    errno = saved;
    return done;
}

void lw_out_atfork_child(void)
{
    /* The child has its own file when the path names the pid. */
    if (log_template && strstr(log_template, "%p")) {
        int fd = log_ch.fd;
        if (fd >= 0)
            lw_sys_close(fd);
        log_ch.fd = -1;
        log_tried = false;
    }
}

void lw_out_warn(const char *p, size_t n)
{
    int saved = errno;
    chan_write(&err_ch, p, n);
    errno = saved;
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
    chan_write(&err_ch, b.p, b.len);
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
