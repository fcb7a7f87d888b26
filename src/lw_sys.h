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

#include <sys/syscall.h>
#include <unistd.h>

/* fcntl(2) with an integer argument (or none): -1 and errno on failure, as
 * fcntl. */
static inline int lw_sys_fcntl(int fd, int cmd, long arg)
{
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

/* open(2) for reading, read(2), close(2): lockwatch reads its own files
 * (suppressions) with these; read is interposed. */
static inline int lw_sys_open_read(const char *path)
{
    return (int)syscall(SYS_openat, -100 /* AT_FDCWD */, path, 02000000 /* O_CLOEXEC */);
}

static inline long lw_sys_read(int fd, void *buf, unsigned long n)
{
    return syscall(SYS_read, fd, buf, n);
}

static inline int lw_sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

/* munmap(2): lockwatch gives back parts of its own mappings (arena chunks,
 * symbol files); munmap is interposed (memory released under a lock). */
static inline int lw_sys_munmap(void *addr, unsigned long len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

#endif
