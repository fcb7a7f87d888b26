/*
 * lw_sys.h: system calls lockwatch makes for itself.  liblockwatch.so
 * exports wrappers of many libc functions (fcntl, write, read, ...); a call
 * from lockwatch's own code to one of those names binds to our wrapper, not
 * to libc, and observes itself.  The core (liblwcore, which must not depend
 * on the interposers) makes such calls as raw system calls through these;
 * tests/test_self_calls.py checks that no object of lockwatch references an
 * interposed name.
 */
#ifndef LW_SYS_H
#define LW_SYS_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A system call made here, not through libc's syscall(): liblockwatch.so
 * exports a syscall() of its own (intercept_signal.c: a program that opens
 * its own hardware watchpoints makes race sampling step aside), and
 * lockwatch's calls must not pass through it.  Same contract as syscall():
 * up to six integer or pointer arguments, -1 and errno on failure.
 * Async-signal-safe (x86-64 Linux). */
static inline long lw_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if ((unsigned long)ret > -4096ul) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#define LW_SYSCALL7_(n, a, b, c, d, e, f, ...)                                                     \
    lw_syscall6((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define lw_syscall(...) LW_SYSCALL7_(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)

/* fcntl(2) with an integer argument (or none): -1 and errno on failure, as
 * fcntl. */
static inline int lw_sys_fcntl(int fd, int cmd, long arg)
{
    return (int)lw_syscall(SYS_fcntl, fd, cmd, arg);
}

/* open(2) for reading, read(2), close(2): lockwatch reads its own files
 * (suppressions) with these; read is interposed. */
static inline int lw_sys_open_read(const char *path)
{
    return (int)lw_syscall(SYS_openat, -100 /* AT_FDCWD */, path, 02000000 /* O_CLOEXEC */);
}

static inline long lw_sys_read(int fd, void *buf, unsigned long n)
{
    return lw_syscall(SYS_read, fd, buf, n);
}

static inline int lw_sys_close(int fd)
{
    return (int)lw_syscall(SYS_close, fd);
}

/* munmap(2): lockwatch gives back parts of its own mappings (arena chunks,
 * symbol files); munmap is interposed (memory released under a lock). */
static inline int lw_sys_munmap(void *addr, unsigned long len)
{
    return (int)lw_syscall(SYS_munmap, addr, len);
}

#endif
