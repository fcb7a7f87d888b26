/*
 * intercept_block.c: interposers of the calls that may block, for the
 * blocking-call-under-lock rule (rules.h).
 *
 * Every wrapper has the shape of rules.h: with no lock held (or inside
 * lockwatch) the only work is one TLS read, then the real call.  Only with a
 * lock held does a wrapper work out the call's family (an fstat for fd
 * calls, the timeout or flags otherwise) and go through
 * lw_blocking_before/after.  Joins and condition-variable waits are wrapped
 * elsewhere (intercept_thread.c, intercept_cond.c).
 *
 * Owns: the real pointers of these functions (their own table, not
 * LW_REAL_FUNCS: they are resolved by name, each on its own, and have a
 * raw-syscall fallback instead of a __pthread_* alias).
 * Must never: touch errno on the fast path, read a user pointer the real
 * call would not read, or call an interposed function without the guard.
 */

/* The wrappers must be plain external definitions: no fortify inline
 * versions, no redirection of pread to pread64 and the like. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS

#include "intercept.h"
#include "lw_sys.h"
#include "asleep.h"
#include "lw_glibc.h"
#include "deadlock.h"
#include "options.h"
#include "rules.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The _FORTIFY_SOURCE entry points (bits/unistd.h, bits/socket2.h,
 * bits/poll2.h declare them only in fortified builds). */
extern ssize_t __read_chk(int __fd, void *__buf, size_t __nbytes, size_t __buflen);
extern ssize_t __pread_chk(int __fd, void *__buf, size_t __nbytes, __off_t __offset,
                           size_t __bufsize);
extern ssize_t __pread64_chk(int __fd, void *__buf, size_t __nbytes, __off64_t __offset,
                             size_t __bufsize);
extern ssize_t __recv_chk(int __fd, void *__buf, size_t __n, size_t __buflen, int __flags);
extern ssize_t __recvfrom_chk(int __fd, void *__restrict __buf, size_t __n, size_t __buflen,
                              int __flags, __SOCKADDR_ARG __addr,
                              socklen_t *__restrict __addr_len);
extern int __poll_chk(struct pollfd *__fds, nfds_t __nfds, int __timeout, size_t __fdslen);
extern int __ppoll_chk(struct pollfd *__fds, nfds_t __nfds, const struct timespec *__timeout,
                       const __sigset_t *__ss, size_t __fdslen);
extern void __chk_fail(void) __attribute__((__noreturn__));

/* ---- the real functions ---- */

#define LW_BLOCK_FUNCS(X)                                                             \
    X(read) X(readv) X(pread) X(pread64) X(preadv) X(preadv64) X(preadv2)             \
    X(preadv64v2)                                                                     \
    X(write) X(writev) X(pwrite) X(pwrite64) X(pwritev) X(pwritev64) X(pwritev2)      \
    X(pwritev64v2)                                                                    \
    X(__read_chk) X(__pread_chk) X(__pread64_chk) X(__recv_chk) X(__recvfrom_chk)     \
    X(__poll_chk) X(__ppoll_chk)                                                      \
    X(send) X(sendto) X(sendmsg) X(sendmmsg) X(recv) X(recvfrom) X(recvmsg)           \
    X(recvmmsg) X(accept) X(accept4) X(connect)                                       \
    X(poll) X(ppoll) X(select) X(pselect) X(epoll_wait) X(epoll_pwait)                \
    X(epoll_pwait2)                                                                   \
    X(sleep) X(usleep) X(nanosleep) X(clock_nanosleep)                                \
    X(fsync) X(fdatasync) X(syncfs) X(sync)                                           \
    X(wait) X(waitpid) X(waitid) X(wait3) X(wait4)                                    \
    X(flock) X(fcntl) X(fcntl64) X(lockf) X(lockf64)                                  \
    X(sem_wait) X(sem_timedwait) X(sem_clockwait) X(sem_trywait)                                     \
    X(msgsnd) X(msgrcv)

enum {
#define LW_B_ENUM(name) LW_B_##name,
    LW_BLOCK_FUNCS(LW_B_ENUM)
    LW_B_COUNT
};

static const char *const lw_b_names[LW_B_COUNT] = {
#define LW_B_NAME(name) #name,
    LW_BLOCK_FUNCS(LW_B_NAME)
};

static void *lw_b_real[LW_B_COUNT];

/* Set while this thread is inside dlsym for one of these functions: a
 * wrapper re-entered from there uses the raw system call (PITFALLS 2). */
static LW_TLS volatile int lw_b_resolving;

static LW_NOINLINE void *lw_b_resolve(int i)
{
    if (lw_b_resolving)
        return NULL;
    int e = errno;
    lw_b_resolving = 1;
    lw_guard_up();
    lw_compiler_barrier();
    void *p = dlsym(RTLD_NEXT, lw_b_names[i]);
    lw_compiler_barrier();
    lw_guard_down();
    lw_b_resolving = 0;
    errno = e;
    if (p)
        lw_store_relaxed(&lw_b_real[i], p);
    return p;
}

static inline void *lw_b_ptr(int i)
{
    void *p = lw_load_relaxed(&lw_b_real[i]);
    return LW_LIKELY(p != NULL) ? p : lw_b_resolve(i);
}

/* The real `name`, typed from its own declaration; NULL only while dlsym is
 * re-entered (then the caller falls back to the system call). */
#define REAL(name) ((__typeof__(&name))lw_b_ptr(LW_B_##name))

/* Resolve everything early, outside any signal handler (dlsym is not
 * async-signal-safe and read/write often run in handlers). */
__attribute__((constructor(102))) static void lw_block_resolve_all(void)
{
    for (int i = 0; i < LW_B_COUNT; i++)
        if (!lw_load_relaxed(&lw_b_real[i]))
            lw_b_resolve(i);
}

/* A function without a system call of its own, re-entered during its own
 * resolution (never seen in practice). */
static long lw_b_nosys(void)
{
    errno = ENOSYS;
    return -1;
}

/* ---- families ---- */

#define LW_FD_FAMS (LW_FAM_NET | LW_FAM_PIPE | LW_FAM_FILE)

/* Family of I/O on fd; the fstat/fcntl of lw_fd_family run under the guard
 * (fcntl is one of our own wrappers). */
static unsigned lw_b_fd_family(int fd)
{
    if (!(lw_blocking_families & LW_FD_FAMS))
        return 0;
    lw_guard_up();
    lw_compiler_barrier();
    unsigned f = lw_fd_family(fd);
    lw_compiler_barrier();
    lw_guard_down();
    return f;
}

/* Positioned I/O (pread, pwrite, their vector and fortified forms) works
 * only on seekable files: on a pipe, socket or terminal it fails at once
 * with ESPIPE.  So it is family file or nothing, and needs no fstat unless
 * file is checked (SQLite's pwrite64s under its mutexes paid one each). */
static unsigned lw_b_pos_family(int fd)
{
    if (!(lw_blocking_families & LW_FAM_FILE))
        return 0;
    return lw_b_fd_family(fd) & LW_FAM_FILE;
}

/* Socket calls: net, unless fd is a non-blocking socket or not a socket. */
static unsigned lw_b_net_family(int fd, int flags)
{
    if ((flags & MSG_DONTWAIT) || !(lw_blocking_families & LW_FAM_NET))
        return 0;
    return lw_b_fd_family(fd) & LW_FAM_NET;
}

static unsigned lw_b_timeout_ts(const struct timespec *ts)
{
    return (!ts || ts->tv_sec != 0 || ts->tv_nsec != 0) ? LW_FAM_PIPE : 0;
}

/* A wrapper (rules.h's shape) is two functions.  The exported one is only
 * the fast path (one TLS read, then the real call, a tail call) and, with a
 * lock held, a call of the slow one with its own return address and CFA:
 * the call site reported is the program's.  The slow one works out the
 * family (`fam`, an expression of the parameters; 0: cannot block) and runs
 * call_<name> (the real function, or its fallback) between
 * lw_blocking_before and lw_blocking_after.  params and args are
 * parenthesised lists. */
#define LW_WITH_SITE(...) (__VA_ARGS__, uintptr_t pc_, uintptr_t cfa_)
#define LW_PASS_SITE(...) (__VA_ARGS__, LW_PC(), LW_CFA())

#define LW_SLOW(ret, name, params, args, callname, fam)                  \
    static LW_NOINLINE ret lw_slow_##name LW_WITH_SITE params             \
    {                                                                    \
        if (lw_blocking_known(pc_))                                      \
            return call_##name args;                                     \
        unsigned fam_ = (fam);                                           \
        if (!(fam_ & lw_blocking_families))                              \
            return call_##name args;                                     \
        lw_block_ctx c_;                                                 \
        lw_blocking_before(&c_, (callname), fam_, pc_, cfa_);            \
        ret r_ = call_##name args;                                       \
        lw_blocking_after(&c_);                                          \
        return r_;                                                       \
    }

#define LW_WRAPPER(ret, name, params, args, callname, fam)               \
    LW_SLOW(ret, name, params, args, callname, fam)                      \
    LW_EXPORT ret name params                                            \
    {                                                                    \
        if (LW_LIKELY(!lw_blocking_watch()))                             \
            return call_##name args;                                     \
        return lw_slow_##name LW_PASS_SITE args;                         \
    }

/* ---- fd I/O ---- */

static inline ssize_t call_read(int fd, void *buf, size_t n)
{
    __typeof__(&read) f = REAL(read);
    return f ? f(fd, buf, n) : lw_syscall(SYS_read, fd, buf, n);
}

LW_WRAPPER(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n), "read",
           lw_b_fd_family(fd))

static inline ssize_t call_readv(int fd, const struct iovec *iov, int cnt)
{
    __typeof__(&readv) f = REAL(readv);
    return f ? f(fd, iov, cnt) : lw_syscall(SYS_readv, fd, iov, cnt);
}

LW_WRAPPER(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt), "readv",
           lw_b_fd_family(fd))

static inline ssize_t call_pread(int fd, void *buf, size_t n, off_t off)
{
    __typeof__(&pread) f = REAL(pread);
    return f ? f(fd, buf, n, off) : lw_syscall(SYS_pread64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off), "pread",
           lw_b_pos_family(fd))

static inline ssize_t call_pread64(int fd, void *buf, size_t n, off64_t off)
{
    __typeof__(&pread64) f = REAL(pread64);
    return f ? f(fd, buf, n, off) : lw_syscall(SYS_pread64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, pread64,
           (int fd, void *buf, size_t n, off64_t off),
           (fd, buf, n, off), "pread64",
           lw_b_pos_family(fd))

/* preadv/pwritev take the offset as two longs (low, high). */
#define LW_LO_HI(off) (long)(off), (long)((uint64_t)(off) >> 32)

static inline ssize_t call_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    __typeof__(&preadv) f = REAL(preadv);
    return f ? f(fd, iov, cnt, off) : lw_syscall(SYS_preadv, fd, iov, cnt, LW_LO_HI(off));
}

LW_WRAPPER(ssize_t, preadv,
           (int fd, const struct iovec *iov, int cnt, off_t off),
           (fd, iov, cnt, off), "preadv",
           lw_b_pos_family(fd))

static inline ssize_t call_preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    __typeof__(&preadv64) f = REAL(preadv64);
    return f ? f(fd, iov, cnt, off) : lw_syscall(SYS_preadv, fd, iov, cnt, LW_LO_HI(off));
}

LW_WRAPPER(ssize_t, preadv64,
           (int fd, const struct iovec *iov, int cnt, off64_t off),
           (fd, iov, cnt, off), "preadv64",
           lw_b_pos_family(fd))

static inline ssize_t call_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
    __typeof__(&preadv2) f = REAL(preadv2);
    return f ? f(fd, iov, cnt, off, fl) : lw_syscall(SYS_preadv2, fd, iov, cnt, LW_LO_HI(off), fl);
}

LW_WRAPPER(ssize_t, preadv2,
           (int fd, const struct iovec *iov, int cnt, off_t off, int fl),
           (fd, iov, cnt, off, fl), "preadv2",
           (fl & RWF_NOWAIT) ? 0 : lw_b_pos_family(fd))

static inline ssize_t call_preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off,
                                      int fl)
{
    __typeof__(&preadv64v2) f = REAL(preadv64v2);
    return f ? f(fd, iov, cnt, off, fl) : lw_syscall(SYS_preadv2, fd, iov, cnt, LW_LO_HI(off), fl);
}

LW_WRAPPER(ssize_t, preadv64v2,
           (int fd, const struct iovec *iov, int cnt, off64_t off, int fl),
           (fd, iov, cnt, off, fl), "preadv64v2",
           (fl & RWF_NOWAIT) ? 0 : lw_b_pos_family(fd))

static inline ssize_t call_write(int fd, const void *buf, size_t n)
{
    __typeof__(&write) f = REAL(write);
    return f ? f(fd, buf, n) : lw_syscall(SYS_write, fd, buf, n);
}

LW_WRAPPER(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n), "write",
           lw_b_fd_family(fd))

static inline ssize_t call_writev(int fd, const struct iovec *iov, int cnt)
{
    __typeof__(&writev) f = REAL(writev);
    return f ? f(fd, iov, cnt) : lw_syscall(SYS_writev, fd, iov, cnt);
}

LW_WRAPPER(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt), "writev",
           lw_b_fd_family(fd))

static inline ssize_t call_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    __typeof__(&pwrite) f = REAL(pwrite);
    return f ? f(fd, buf, n, off) : lw_syscall(SYS_pwrite64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, pwrite,
           (int fd, const void *buf, size_t n, off_t off),
           (fd, buf, n, off), "pwrite",
           lw_b_pos_family(fd))

static inline ssize_t call_pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    __typeof__(&pwrite64) f = REAL(pwrite64);
    return f ? f(fd, buf, n, off) : lw_syscall(SYS_pwrite64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, pwrite64,
           (int fd, const void *buf, size_t n, off64_t off),
           (fd, buf, n, off), "pwrite64",
           lw_b_pos_family(fd))

static inline ssize_t call_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    __typeof__(&pwritev) f = REAL(pwritev);
    return f ? f(fd, iov, cnt, off) : lw_syscall(SYS_pwritev, fd, iov, cnt, LW_LO_HI(off));
}

LW_WRAPPER(ssize_t, pwritev,
           (int fd, const struct iovec *iov, int cnt, off_t off),
           (fd, iov, cnt, off), "pwritev",
           lw_b_pos_family(fd))

static inline ssize_t call_pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    __typeof__(&pwritev64) f = REAL(pwritev64);
    return f ? f(fd, iov, cnt, off) : lw_syscall(SYS_pwritev, fd, iov, cnt, LW_LO_HI(off));
}

LW_WRAPPER(ssize_t, pwritev64,
           (int fd, const struct iovec *iov, int cnt, off64_t off),
           (fd, iov, cnt, off), "pwritev64",
           lw_b_pos_family(fd))

static inline ssize_t call_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
    __typeof__(&pwritev2) f = REAL(pwritev2);
    return f ? f(fd, iov, cnt, off, fl)
             : lw_syscall(SYS_pwritev2, fd, iov, cnt, LW_LO_HI(off), fl);
}

LW_WRAPPER(ssize_t, pwritev2,
           (int fd, const struct iovec *iov, int cnt, off_t off, int fl),
           (fd, iov, cnt, off, fl), "pwritev2",
           (fl & RWF_NOWAIT) ? 0 : lw_b_pos_family(fd))

static inline ssize_t call_pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off,
                                       int fl)
{
    __typeof__(&pwritev64v2) f = REAL(pwritev64v2);
    return f ? f(fd, iov, cnt, off, fl)
             : lw_syscall(SYS_pwritev2, fd, iov, cnt, LW_LO_HI(off), fl);
}

LW_WRAPPER(ssize_t, pwritev64v2,
           (int fd, const struct iovec *iov, int cnt, off64_t off, int fl),
           (fd, iov, cnt, off, fl), "pwritev64v2",
           (fl & RWF_NOWAIT) ? 0 : lw_b_pos_family(fd))

/* ---- _FORTIFY_SOURCE entry points: reported under the name the program
 * wrote (read, not __read_chk); the real _chk function does the check. ---- */

static inline ssize_t call___read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    __typeof__(&__read_chk) f = REAL(__read_chk);
    if (f)
        return f(fd, buf, n, buflen);
    if (n > buflen)
        __chk_fail();
    return lw_syscall(SYS_read, fd, buf, n);
}

LW_WRAPPER(ssize_t, __read_chk,
           (int fd, void *buf, size_t n, size_t buflen),
           (fd, buf, n, buflen), "read",
           lw_b_fd_family(fd))

static inline ssize_t call___pread_chk(int fd, void *buf, size_t n, __off_t off, size_t buflen)
{
    __typeof__(&__pread_chk) f = REAL(__pread_chk);
    if (f)
        return f(fd, buf, n, off, buflen);
    if (n > buflen)
        __chk_fail();
    return lw_syscall(SYS_pread64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, __pread_chk,
           (int fd, void *buf, size_t n, __off_t off, size_t buflen),
           (fd, buf, n, off, buflen), "pread",
           lw_b_pos_family(fd))

static inline ssize_t call___pread64_chk(int fd, void *buf, size_t n, __off64_t off,
                                       size_t buflen)
{
    __typeof__(&__pread64_chk) f = REAL(__pread64_chk);
    if (f)
        return f(fd, buf, n, off, buflen);
    if (n > buflen)
        __chk_fail();
    return lw_syscall(SYS_pread64, fd, buf, n, off);
}

LW_WRAPPER(ssize_t, __pread64_chk,
           (int fd, void *buf, size_t n, __off64_t off, size_t buflen),
           (fd, buf, n, off, buflen), "pread64",
           lw_b_pos_family(fd))

static inline ssize_t call___recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    __typeof__(&__recv_chk) f = REAL(__recv_chk);
    if (f)
        return f(fd, buf, n, buflen, flags);
    if (n > buflen)
        __chk_fail();
    return lw_syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

LW_WRAPPER(ssize_t, __recv_chk,
           (int fd, void *buf, size_t n, size_t buflen, int flags),
           (fd, buf, n, buflen, flags), "recv",
           lw_b_net_family(fd, flags))

static inline ssize_t call___recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen,
                                        int flags, __SOCKADDR_ARG addr,
                                        socklen_t *__restrict alen)
{
    __typeof__(&__recvfrom_chk) f = REAL(__recvfrom_chk);
    if (f)
        return f(fd, buf, n, buflen, flags, addr, alen);
    if (n > buflen)
        __chk_fail();
    return lw_syscall(SYS_recvfrom, fd, buf, n, flags, addr.__sockaddr__, alen);
}

LW_WRAPPER(ssize_t, __recvfrom_chk,
           (int fd, void *__restrict buf, size_t n, size_t buflen, int flags, __SOCKADDR_ARG addr,
            socklen_t *__restrict alen),
           (fd, buf, n, buflen, flags, addr, alen), "recvfrom",
           lw_b_net_family(fd, flags))

/* ---- sockets ---- */

static inline ssize_t call_send(int fd, const void *buf, size_t n, int flags)
{
    __typeof__(&send) f = REAL(send);
    return f ? f(fd, buf, n, flags) : lw_syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

LW_WRAPPER(ssize_t, send,
           (int fd, const void *buf, size_t n, int flags),
           (fd, buf, n, flags), "send",
           lw_b_net_family(fd, flags))

static inline ssize_t call_sendto(int fd, const void *buf, size_t n, int flags,
                                  __CONST_SOCKADDR_ARG addr, socklen_t alen)
{
    __typeof__(&sendto) f = REAL(sendto);
    return f ? f(fd, buf, n, flags, addr, alen)
             : lw_syscall(SYS_sendto, fd, buf, n, flags, addr.__sockaddr__, alen);
}

LW_WRAPPER(ssize_t, sendto,
           (int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
            socklen_t alen),
           (fd, buf, n, flags, addr, alen), "sendto",
           lw_b_net_family(fd, flags))

static inline ssize_t call_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    __typeof__(&sendmsg) f = REAL(sendmsg);
    return f ? f(fd, msg, flags) : lw_syscall(SYS_sendmsg, fd, msg, flags);
}

LW_WRAPPER(ssize_t, sendmsg,
           (int fd, const struct msghdr *msg, int flags),
           (fd, msg, flags), "sendmsg",
           lw_b_net_family(fd, flags))

static inline int call_sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
    __typeof__(&sendmmsg) f = REAL(sendmmsg);
    return f ? f(fd, v, vlen, flags) : (int)lw_syscall(SYS_sendmmsg, fd, v, vlen, flags);
}

LW_WRAPPER(int, sendmmsg,
           (int fd, struct mmsghdr *v, unsigned int vlen, int flags),
           (fd, v, vlen, flags), "sendmmsg",
           lw_b_net_family(fd, flags))

static inline ssize_t call_recv(int fd, void *buf, size_t n, int flags)
{
    __typeof__(&recv) f = REAL(recv);
    return f ? f(fd, buf, n, flags) : lw_syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

LW_WRAPPER(ssize_t, recv, (int fd, void *buf, size_t n, int flags), (fd, buf, n, flags), "recv",
           lw_b_net_family(fd, flags))

static inline ssize_t call_recvfrom(int fd, void *__restrict buf, size_t n, int flags,
                                    __SOCKADDR_ARG addr, socklen_t *__restrict alen)
{
    __typeof__(&recvfrom) f = REAL(recvfrom);
    return f ? f(fd, buf, n, flags, addr, alen)
             : lw_syscall(SYS_recvfrom, fd, buf, n, flags, addr.__sockaddr__, alen);
}

LW_WRAPPER(ssize_t, recvfrom,
           (int fd, void *__restrict buf, size_t n, int flags, __SOCKADDR_ARG addr,
            socklen_t *__restrict alen),
           (fd, buf, n, flags, addr, alen), "recvfrom",
           lw_b_net_family(fd, flags))

static inline ssize_t call_recvmsg(int fd, struct msghdr *msg, int flags)
{
    __typeof__(&recvmsg) f = REAL(recvmsg);
    return f ? f(fd, msg, flags) : lw_syscall(SYS_recvmsg, fd, msg, flags);
}

LW_WRAPPER(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags), "recvmsg",
           lw_b_net_family(fd, flags))

static inline int call_recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags,
                                struct timespec *tmo)
{
    __typeof__(&recvmmsg) f = REAL(recvmmsg);
    return f ? f(fd, v, vlen, flags, tmo) : (int)lw_syscall(SYS_recvmmsg, fd, v, vlen, flags, tmo);
}

LW_WRAPPER(int, recvmmsg,
           (int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *tmo),
           (fd, v, vlen, flags, tmo), "recvmmsg",
           lw_b_net_family(fd, flags))

static inline int call_accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen)
{
    __typeof__(&accept) f = REAL(accept);
    return f ? f(fd, addr, alen) : (int)lw_syscall(SYS_accept, fd, addr.__sockaddr__, alen);
}

LW_WRAPPER(int, accept,
           (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen),
           (fd, addr, alen), "accept",
           lw_b_net_family(fd, 0))

static inline int call_accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen,
                               int flags)
{
    __typeof__(&accept4) f = REAL(accept4);
    return f ? f(fd, addr, alen, flags)
             : (int)lw_syscall(SYS_accept4, fd, addr.__sockaddr__, alen, flags);
}

/* accept4's flags (SOCK_NONBLOCK...) are the new socket's, not the wait's. */
LW_WRAPPER(int, accept4,
           (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen, int flags),
           (fd, addr, alen, flags), "accept4",
           lw_b_net_family(fd, 0))

static inline int call_connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t alen)
{
    __typeof__(&connect) f = REAL(connect);
    return f ? f(fd, addr, alen) : (int)lw_syscall(SYS_connect, fd, addr.__sockaddr__, alen);
}

LW_WRAPPER(int, connect,
           (int fd, __CONST_SOCKADDR_ARG addr, socklen_t alen),
           (fd, addr, alen), "connect",
           lw_b_net_family(fd, 0))

/* ---- polling: pipe family unless the timeout is zero ---- */

static inline int call_poll(struct pollfd *fds, nfds_t n, int tmo)
{
    __typeof__(&poll) f = REAL(poll);
    if (f)
        return f(fds, n, tmo);
#ifdef SYS_poll
    return (int)lw_syscall(SYS_poll, fds, n, tmo);
#else
    return (int)lw_b_nosys();
#endif
}

LW_WRAPPER(int, poll, (struct pollfd *fds, nfds_t n, int tmo), (fds, n, tmo), "poll",
           tmo != 0 ? LW_FAM_PIPE : 0)

static inline int call___poll_chk(struct pollfd *fds, nfds_t n, int tmo, size_t fdslen)
{
    __typeof__(&__poll_chk) f = REAL(__poll_chk);
    if (f)
        return f(fds, n, tmo, fdslen);
    if (fdslen / sizeof(*fds) < n)
        __chk_fail();
    return call_poll(fds, n, tmo);
}

LW_WRAPPER(int, __poll_chk,
           (struct pollfd *fds, nfds_t n, int tmo, size_t fdslen),
           (fds, n, tmo, fdslen), "poll",
           tmo != 0 ? LW_FAM_PIPE : 0)

/* The kernel writes back the remaining time; ppoll's timeout is const. */
static int lw_b_sys_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                          const sigset_t *ss)
{
    struct timespec copy, *tp = NULL;
    if (tmo) {
        copy = *tmo;
        tp = &copy;
    }
    return (int)lw_syscall(SYS_ppoll, fds, n, tp, ss, (size_t)(_NSIG / 8));
}

static inline int call_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                             const sigset_t *ss)
{
    __typeof__(&ppoll) f = REAL(ppoll);
    return f ? f(fds, n, tmo, ss) : lw_b_sys_ppoll(fds, n, tmo, ss);
}

LW_WRAPPER(int, ppoll,
           (struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *ss),
           (fds, n, tmo, ss), "ppoll",
           lw_b_timeout_ts(tmo))

static inline int call___ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                                 const __sigset_t *ss, size_t fdslen)
{
    __typeof__(&__ppoll_chk) f = REAL(__ppoll_chk);
    if (f)
        return f(fds, n, tmo, ss, fdslen);
    if (fdslen / sizeof(*fds) < n)
        __chk_fail();
    return lw_b_sys_ppoll(fds, n, tmo, ss);
}

LW_WRAPPER(int, __ppoll_chk,
           (struct pollfd *fds, nfds_t n, const struct timespec *tmo, const __sigset_t *ss,
            size_t fdslen),
           (fds, n, tmo, ss, fdslen), "ppoll",
           lw_b_timeout_ts(tmo))

static inline int call_select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *tmo)
{
    __typeof__(&select) f = REAL(select);
    if (f)
        return f(n, r, w, x, tmo);
#ifdef SYS_select
    return (int)lw_syscall(SYS_select, n, r, w, x, tmo);
#else
    return (int)lw_b_nosys();
#endif
}

LW_WRAPPER(int, select,
           (int n, fd_set *__restrict r, fd_set *__restrict w, fd_set *__restrict x,
            struct timeval *__restrict tmo),
           (n, r, w, x, tmo), "select",
           (!tmo || tmo->tv_sec != 0 || tmo->tv_usec != 0) ? LW_FAM_PIPE : 0)

static int lw_b_sys_pselect(int n, fd_set *r, fd_set *w, fd_set *x, const struct timespec *tmo,
                            const sigset_t *ss)
{
    struct timespec copy, *tp = NULL;
    struct {
        const sigset_t *ss;
        size_t len;
    } data = { ss, _NSIG / 8 };
    if (tmo) {
        copy = *tmo;
        tp = &copy;
    }
    return (int)lw_syscall(SYS_pselect6, n, r, w, x, tp, &data);
}

static inline int call_pselect(int n, fd_set *r, fd_set *w, fd_set *x,
                               const struct timespec *tmo, const sigset_t *ss)
{
    __typeof__(&pselect) f = REAL(pselect);
    return f ? f(n, r, w, x, tmo, ss) : lw_b_sys_pselect(n, r, w, x, tmo, ss);
}

LW_WRAPPER(int, pselect,
           (int n, fd_set *__restrict r, fd_set *__restrict w, fd_set *__restrict x,
            const struct timespec *__restrict tmo, const __sigset_t *__restrict ss),
           (n, r, w, x, tmo, ss), "pselect",
           lw_b_timeout_ts(tmo))

static inline int call_epoll_wait(int epfd, struct epoll_event *ev, int max, int tmo)
{
    __typeof__(&epoll_wait) f = REAL(epoll_wait);
    if (f)
        return f(epfd, ev, max, tmo);
#ifdef SYS_epoll_wait
    return (int)lw_syscall(SYS_epoll_wait, epfd, ev, max, tmo);
#else
    return (int)lw_syscall(SYS_epoll_pwait, epfd, ev, max, tmo, NULL, (size_t)(_NSIG / 8));
#endif
}

LW_WRAPPER(int, epoll_wait,
           (int epfd, struct epoll_event *ev, int max, int tmo),
           (epfd, ev, max, tmo), "epoll_wait",
           tmo != 0 ? LW_FAM_PIPE : 0)

static inline int call_epoll_pwait(int epfd, struct epoll_event *ev, int max, int tmo,
                                   const sigset_t *ss)
{
    __typeof__(&epoll_pwait) f = REAL(epoll_pwait);
    return f ? f(epfd, ev, max, tmo, ss)
             : (int)lw_syscall(SYS_epoll_pwait, epfd, ev, max, tmo, ss, (size_t)(_NSIG / 8));
}

LW_WRAPPER(int, epoll_pwait,
           (int epfd, struct epoll_event *ev, int max, int tmo, const __sigset_t *ss),
           (epfd, ev, max, tmo, ss), "epoll_pwait",
           tmo != 0 ? LW_FAM_PIPE : 0)

static inline int call_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                                    const struct timespec *tmo, const sigset_t *ss)
{
    __typeof__(&epoll_pwait2) f = REAL(epoll_pwait2);
    if (f)
        return f(epfd, ev, max, tmo, ss);
#ifdef SYS_epoll_pwait2
    return (int)lw_syscall(SYS_epoll_pwait2, epfd, ev, max, tmo, ss, (size_t)(_NSIG / 8));
#else
    return (int)lw_b_nosys();
#endif
}

LW_WRAPPER(int, epoll_pwait2,
           (int epfd, struct epoll_event *ev, int max, const struct timespec *tmo,
            const __sigset_t *ss),
           (epfd, ev, max, tmo, ss), "epoll_pwait2",
           lw_b_timeout_ts(tmo))

/* ---- sleeps (any length: a sleep under a lock is reported even when it
 * is short; LOCKWATCH_BLOCKING_MIN_US filters by time) ---- */

static unsigned int lw_b_sys_sleep(unsigned int s)
{
    struct timespec ts = { (time_t)s, 0 };
    if (lw_syscall(SYS_nanosleep, &ts, &ts) == 0)
        return 0;
    return (unsigned int)ts.tv_sec + (ts.tv_nsec != 0);
}

static inline unsigned int call_sleep(unsigned int s)
{
    __typeof__(&sleep) f = REAL(sleep);
    return f ? f(s) : lw_b_sys_sleep(s);
}

LW_WRAPPER(unsigned int, sleep, (unsigned int s), (s), "sleep",
           LW_FAM_SLEEP)

static int lw_b_sys_usleep(useconds_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    return (int)lw_syscall(SYS_nanosleep, &ts, NULL);
}

static inline int call_usleep(useconds_t us)
{
    __typeof__(&usleep) f = REAL(usleep);
    return f ? f(us) : lw_b_sys_usleep(us);
}

LW_WRAPPER(int, usleep, (useconds_t us), (us), "usleep",
           LW_FAM_SLEEP)

static inline int call_nanosleep(const struct timespec *req, struct timespec *rem)
{
    __typeof__(&nanosleep) f = REAL(nanosleep);
    return f ? f(req, rem) : (int)lw_syscall(SYS_nanosleep, req, rem);
}

LW_WRAPPER(int, nanosleep,
           (const struct timespec *req, struct timespec *rem),
           (req, rem), "nanosleep",
           LW_FAM_SLEEP)

/* clock_nanosleep returns the error number and leaves errno alone. */
static int lw_b_sys_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req,
                                    struct timespec *rem)
{
    int e = errno;
    long r = lw_syscall(SYS_clock_nanosleep, clk, fl, req, rem);
    int ret = r == 0 ? 0 : errno;
    errno = e;
    return ret;
}

static inline int call_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req,
                                       struct timespec *rem)
{
    __typeof__(&clock_nanosleep) f = REAL(clock_nanosleep);
    return f ? f(clk, fl, req, rem) : lw_b_sys_clock_nanosleep(clk, fl, req, rem);
}

LW_WRAPPER(int, clock_nanosleep,
           (clockid_t clk, int fl, const struct timespec *req, struct timespec *rem),
           (clk, fl, req, rem), "clock_nanosleep",
           LW_FAM_SLEEP)

/* ---- flushing to storage ---- */

static inline int call_fsync(int fd)
{
    __typeof__(&fsync) f = REAL(fsync);
    return f ? f(fd) : (int)lw_syscall(SYS_fsync, fd);
}

LW_WRAPPER(int, fsync, (int fd), (fd), "fsync",
           LW_FAM_FILE)

static inline int call_fdatasync(int fd)
{
    __typeof__(&fdatasync) f = REAL(fdatasync);
    return f ? f(fd) : (int)lw_syscall(SYS_fdatasync, fd);
}

LW_WRAPPER(int, fdatasync, (int fd), (fd), "fdatasync",
           LW_FAM_FILE)

static inline int call_syncfs(int fd)
{
    __typeof__(&syncfs) f = REAL(syncfs);
    return f ? f(fd) : (int)lw_syscall(SYS_syncfs, fd);
}

LW_WRAPPER(int, syncfs, (int fd), (fd), "syncfs",
           LW_FAM_FILE)

static inline void call_sync(void)
{
    __typeof__(&sync) f = REAL(sync);
    if (f)
        f();
    else
        lw_syscall(SYS_sync);
}

static LW_NOINLINE void lw_slow_sync(uintptr_t pc, uintptr_t cfa)
{
    if (!(lw_blocking_families & LW_FAM_FILE)) {
        call_sync();
        return;
    }
    lw_block_ctx c;
    lw_blocking_before(&c, "sync", LW_FAM_FILE, pc, cfa);
    call_sync();
    lw_blocking_after(&c);
}

LW_EXPORT void sync(void)
{
    if (LW_LIKELY(!lw_blocking_watch()))
        call_sync();
    else
        lw_slow_sync(LW_PC(), LW_CFA());
}

/* ---- child processes: wait family unless WNOHANG ---- */

static inline pid_t call_wait(int *st)
{
    __typeof__(&wait) f = REAL(wait);
    return f ? f(st) : (pid_t)lw_syscall(SYS_wait4, (pid_t)-1, st, 0, NULL);
}

LW_WRAPPER(pid_t, wait, (int *st), (st), "wait",
           LW_FAM_WAIT)

static inline pid_t call_waitpid(pid_t pid, int *st, int opt)
{
    __typeof__(&waitpid) f = REAL(waitpid);
    return f ? f(pid, st, opt) : (pid_t)lw_syscall(SYS_wait4, pid, st, opt, NULL);
}

LW_WRAPPER(pid_t, waitpid, (pid_t pid, int *st, int opt), (pid, st, opt), "waitpid",
           (opt & WNOHANG) ? 0 : LW_FAM_WAIT)

static inline int call_waitid(idtype_t idtype, id_t id, siginfo_t *info, int opt)
{
    __typeof__(&waitid) f = REAL(waitid);
    return f ? f(idtype, id, info, opt) : (int)lw_syscall(SYS_waitid, idtype, id, info, opt, NULL);
}

LW_WRAPPER(int, waitid,
           (idtype_t idtype, id_t id, siginfo_t *info, int opt),
           (idtype, id, info, opt), "waitid",
           (opt & WNOHANG) ? 0 : LW_FAM_WAIT)

static inline pid_t call_wait3(int *st, int opt, struct rusage *ru)
{
    __typeof__(&wait3) f = REAL(wait3);
    return f ? f(st, opt, ru) : (pid_t)lw_syscall(SYS_wait4, (pid_t)-1, st, opt, ru);
}

LW_WRAPPER(pid_t, wait3, (int *st, int opt, struct rusage *ru), (st, opt, ru), "wait3",
           (opt & WNOHANG) ? 0 : LW_FAM_WAIT)

static inline pid_t call_wait4(pid_t pid, int *st, int opt, struct rusage *ru)
{
    __typeof__(&wait4) f = REAL(wait4);
    return f ? f(pid, st, opt, ru) : (pid_t)lw_syscall(SYS_wait4, pid, st, opt, ru);
}

LW_WRAPPER(pid_t, wait4,
           (pid_t pid, int *st, int opt, struct rusage *ru),
           (pid, st, opt, ru), "wait4",
           (opt & WNOHANG) ? 0 : LW_FAM_WAIT)

/* ---- file locks: wait family when the call waits for the lock (it waits
 * for another process, not for the device) ---- */

static inline int call_flock(int fd, int op)
{
    __typeof__(&flock) f = REAL(flock);
    return f ? f(fd, op) : (int)lw_syscall(SYS_flock, fd, op);
}

/* LOCK_NB never waits, nor does LOCK_UN. */
LW_WRAPPER(int, flock, (int fd, int op), (fd, op), "flock",
           ((op & LOCK_NB) || (op & ~LOCK_NB) == LOCK_UN) ? 0 : LW_FAM_WAIT)

static inline bool lw_b_fcntl_waits(int cmd)
{
    return cmd == F_SETLKW || cmd == F_OFD_SETLKW;
}

static inline int call_fcntl(int fd, int cmd, void *arg)
{
    __typeof__(&fcntl) f = REAL(fcntl);
    return f ? f(fd, cmd, arg) : (int)lw_syscall(SYS_fcntl, fd, cmd, arg);
}

/* fcntl is variadic: the argument (int, pointer or none) is taken as a
 * pointer-sized value and passed on unchanged, as glibc itself does. */
LW_SLOW(int, fcntl, (int fd, int cmd, void *arg), (fd, cmd, arg), "fcntl", LW_FAM_WAIT)

LW_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (LW_LIKELY(!lw_b_fcntl_waits(cmd)) || LW_LIKELY(!lw_blocking_watch()))
        return call_fcntl(fd, cmd, arg);
    return lw_slow_fcntl(fd, cmd, arg, LW_PC(), LW_CFA());
}

static inline int call_fcntl64(int fd, int cmd, void *arg)
{
    __typeof__(&fcntl64) f = REAL(fcntl64);
    return f ? f(fd, cmd, arg) : (int)lw_syscall(SYS_fcntl, fd, cmd, arg);
}

LW_SLOW(int, fcntl64, (int fd, int cmd, void *arg), (fd, cmd, arg), "fcntl64", LW_FAM_WAIT)

LW_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (LW_LIKELY(!lw_b_fcntl_waits(cmd)) || LW_LIKELY(!lw_blocking_watch()))
        return call_fcntl64(fd, cmd, arg);
    return lw_slow_fcntl64(fd, cmd, arg, LW_PC(), LW_CFA());
}

/* lockf(F_LOCK) waits; F_TLOCK, F_ULOCK and F_TEST do not.  (lockf has no
 * system call of its own.) */
static inline int call_lockf(int fd, int cmd, off_t len)
{
    __typeof__(&lockf) f = REAL(lockf);
    return f ? f(fd, cmd, len) : (int)lw_b_nosys();
}

LW_WRAPPER(int, lockf, (int fd, int cmd, off_t len), (fd, cmd, len), "lockf",
           cmd == F_LOCK ? LW_FAM_WAIT : 0)

static inline int call_lockf64(int fd, int cmd, off64_t len)
{
    __typeof__(&lockf64) f = REAL(lockf64);
    return f ? f(fd, cmd, len) : (int)lw_b_nosys();
}

LW_WRAPPER(int, lockf64, (int fd, int cmd, off64_t len), (fd, cmd, len), "lockf64",
           cmd == F_LOCK ? LW_FAM_WAIT : 0)

/* ---- semaphores and message queues: wait family ---- */

/* sem_wait on a private semaphore is a wait only another thread of this
 * process can end (asleep.h): once it lasted a wait slice it is done in
 * slices with sem_clockwait, which keeps its meaning (a post is never
 * lost: the count stays; EINTR is returned as sem_wait returns it) and
 * lets the thread answer the monitor between slices. */
static void sem_cancelled(void *p)
{
    lw_sleep_end(*(lw_sleeper **)p);
}

static LW_NOINLINE int sem_wait_watched(sem_t *s, uintptr_t pc)
{
    __typeof__(&sem_wait) f = REAL(sem_wait);
    __typeof__(&sem_trywait) tryf = REAL(sem_trywait);
    __typeof__(&sem_clockwait) cw = REAL(sem_clockwait);
    if (!f)
        return (int)lw_b_nosys();
    lw_thread *t = lw_enter();
    if (!t)
        return f(s);
    lw_leave(t);
    if (!tryf || !cw || lw_glibc_sem_pshared(s))
        return f(s);
    int e = errno;
    if (tryf(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    struct timespec ts;
    lw_wait_deadline(&ts);
    int r = cw(s, CLOCK_MONOTONIC, &ts);
    if (r == 0 || errno != ETIMEDOUT) {
        if (r == 0)
            errno = e;
        return r;
    }
    lw_reenter(t);
    lw_sleeper *sl = lw_sleep_begin(t, LW_SLEEP_SEM, (uintptr_t)s, NULL, NULL, 0, 0, pc, NULL);
    lw_leave(t);
    pthread_cleanup_push(sem_cancelled, &sl);
    do {
        lw_sleep_poll(t, sl);
        lw_wait_deadline(&ts);
        r = cw(s, CLOCK_MONOTONIC, &ts);
    } while (r != 0 && errno == ETIMEDOUT);
    pthread_cleanup_pop(0);
    lw_sleep_end(sl);
    if (r == 0)
        errno = e;
    return r;
}

static inline int call_sem_wait(sem_t *s)
{
    if (LW_LIKELY(lw_opt.all_asleep))
        return sem_wait_watched(s, LW_PC());
    __typeof__(&sem_wait) f = REAL(sem_wait);
    return f ? f(s) : (int)lw_b_nosys();
}

LW_WRAPPER(int, sem_wait, (sem_t *s), (s), "sem_wait",
           LW_FAM_WAIT)

static inline int call_sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    __typeof__(&sem_timedwait) f = REAL(sem_timedwait);
    return f ? f(s, abstime) : (int)lw_b_nosys();
}

LW_WRAPPER(int, sem_timedwait,
           (sem_t *__restrict s, const struct timespec *__restrict abstime),
           (s, abstime), "sem_timedwait",
           LW_FAM_WAIT)

static inline int call_sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
    __typeof__(&sem_clockwait) f = REAL(sem_clockwait);
    return f ? f(s, clk, abstime) : (int)lw_b_nosys();
}

LW_WRAPPER(int, sem_clockwait,
           (sem_t *__restrict s, clockid_t clk, const struct timespec *__restrict abstime),
           (s, clk, abstime), "sem_clockwait",
           LW_FAM_WAIT)

static inline int call_msgsnd(int id, const void *msg, size_t sz, int fl)
{
    __typeof__(&msgsnd) f = REAL(msgsnd);
    if (f)
        return f(id, msg, sz, fl);
#ifdef SYS_msgsnd
    return (int)lw_syscall(SYS_msgsnd, id, msg, sz, fl);
#else
    return (int)lw_b_nosys();
#endif
}

LW_WRAPPER(int, msgsnd, (int id, const void *msg, size_t sz, int fl), (id, msg, sz, fl), "msgsnd",
           (fl & IPC_NOWAIT) ? 0 : LW_FAM_WAIT)

static inline ssize_t call_msgrcv(int id, void *msg, size_t sz, long typ, int fl)
{
    __typeof__(&msgrcv) f = REAL(msgrcv);
    if (f)
        return f(id, msg, sz, typ, fl);
#ifdef SYS_msgrcv
    return lw_syscall(SYS_msgrcv, id, msg, sz, typ, fl);
#else
    return lw_b_nosys();
#endif
}

LW_WRAPPER(ssize_t, msgrcv,
           (int id, void *msg, size_t sz, long typ, int fl),
           (id, msg, sz, typ, fl), "msgrcv",
           (fl & IPC_NOWAIT) ? 0 : LW_FAM_WAIT)
