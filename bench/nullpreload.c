/*
 * nullpreload.c: the "null interposer" of the benchmarks.
 *
 * A preload library that interposes exactly the functions liblockwatch.so
 * interposes (bench/run.py checks the two export lists agree) and does
 * nothing in each but bump a thread-local (initial-exec) counter and call
 * the real function, found with dlsym(RTLD_NEXT) or, for the condition
 * variables, dlvsym in both of their glibc versions.  It is the floor any
 * preload tool pays: an extra PLT-level call, a TLS access and an indirect
 * call.  lockwatch's cost above it is lockwatch's own.
 *
 * Condition variables exist in two ABI versions (GLIBC_2.2.5, GLIBC_2.3.2):
 * each wrapper exists twice, bound to its version by .symver and
 * nullpreload.map, as in src/intercept_cond.c.
 */
#define _GNU_SOURCE
/* Plain external definitions: no fortify inlines, no pread -> pread64. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#define EXPORT   __attribute__((visibility("default")))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The _FORTIFY_SOURCE entry points (declared only in fortified builds). */
extern ssize_t __read_chk(int, void *, size_t, size_t);
extern ssize_t __pread_chk(int, void *, size_t, __off_t, size_t);
extern ssize_t __pread64_chk(int, void *, size_t, __off64_t, size_t);
extern ssize_t __recv_chk(int, void *, size_t, size_t, int);
extern ssize_t __recvfrom_chk(int, void *__restrict, size_t, size_t, int, __SOCKADDR_ARG,
                              socklen_t *__restrict);
extern int __poll_chk(struct pollfd *, nfds_t, int, size_t);
extern int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const __sigset_t *,
                       size_t);
extern int __libc_start_main(int (*)(int, char **, char **), int, char **, void (*)(void),
                             void (*)(void), void (*)(void), void *);

/* glibc's own aliases: usable while dlsym itself takes a lock. */
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);
extern int __pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
extern int __pthread_mutex_destroy(pthread_mutex_t *);
extern int __pthread_rwlock_rdlock(pthread_rwlock_t *);
extern int __pthread_rwlock_wrlock(pthread_rwlock_t *);
extern int __pthread_rwlock_unlock(pthread_rwlock_t *);

/* The counter every wrapper bumps: the thread's number of interposed calls. */
EXPORT __thread unsigned long null_interposer_counter __attribute__((tls_model("initial-exec")));

EXPORT unsigned long null_interposer_calls(void)
{
    return null_interposer_counter;
}

static void *resolve(const char *name, void *fallback)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p)
        return p;
    if (fallback)
        return fallback;
    fprintf(stderr, "nullpreload: %s not found: %s\n", name, dlerror());
    abort();
}

/* X(ret, name, params, args, fallback): functions returning a value.
 * params must name every parameter; args passes them on. */
#define NULL_FUNCS(X)                                                                            \
    X(int, pthread_mutex_init, (pthread_mutex_t * m, const pthread_mutexattr_t *a), (m, a),     \
      __pthread_mutex_init)                                                                      \
    X(int, pthread_mutex_destroy, (pthread_mutex_t * m), (m), __pthread_mutex_destroy)          \
    X(int, pthread_mutex_lock, (pthread_mutex_t * m), (m), __pthread_mutex_lock)                \
    X(int, pthread_mutex_trylock, (pthread_mutex_t * m), (m), __pthread_mutex_trylock)          \
    X(int, pthread_mutex_unlock, (pthread_mutex_t * m), (m), __pthread_mutex_unlock)            \
    X(int, pthread_mutex_timedlock,                                                              \
      (pthread_mutex_t *__restrict m, const struct timespec *__restrict ts), (m, ts), NULL)      \
    X(int, pthread_mutex_clocklock,                                                              \
      (pthread_mutex_t *__restrict m, clockid_t c, const struct timespec *__restrict ts),        \
      (m, c, ts), NULL)                                                                          \
    X(int, pthread_rwlock_init,                                                                  \
      (pthread_rwlock_t *__restrict rw, const pthread_rwlockattr_t *__restrict a), (rw, a),      \
      NULL)                                                                                      \
    X(int, pthread_rwlock_destroy, (pthread_rwlock_t * rw), (rw), NULL)                         \
    X(int, pthread_rwlock_rdlock, (pthread_rwlock_t * rw), (rw), __pthread_rwlock_rdlock)       \
    X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t * rw), (rw), NULL)                       \
    X(int, pthread_rwlock_timedrdlock,                                                           \
      (pthread_rwlock_t *__restrict rw, const struct timespec *__restrict ts), (rw, ts), NULL)   \
    X(int, pthread_rwlock_clockrdlock,                                                           \
      (pthread_rwlock_t *__restrict rw, clockid_t c, const struct timespec *__restrict ts),      \
      (rw, c, ts), NULL)                                                                         \
    X(int, pthread_rwlock_wrlock, (pthread_rwlock_t * rw), (rw), __pthread_rwlock_wrlock)       \
    X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t * rw), (rw), NULL)                       \
    X(int, pthread_rwlock_timedwrlock,                                                           \
      (pthread_rwlock_t *__restrict rw, const struct timespec *__restrict ts), (rw, ts), NULL)   \
    X(int, pthread_rwlock_clockwrlock,                                                           \
      (pthread_rwlock_t *__restrict rw, clockid_t c, const struct timespec *__restrict ts),      \
      (rw, c, ts), NULL)                                                                         \
    X(int, pthread_rwlock_unlock, (pthread_rwlock_t * rw), (rw), __pthread_rwlock_unlock)       \
    X(int, pthread_spin_init, (pthread_spinlock_t * s, int p), (s, p), NULL)                    \
    X(int, pthread_spin_destroy, (pthread_spinlock_t * s), (s), NULL)                           \
    X(int, pthread_spin_lock, (pthread_spinlock_t * s), (s), NULL)                              \
    X(int, pthread_spin_trylock, (pthread_spinlock_t * s), (s), NULL)                           \
    X(int, pthread_spin_unlock, (pthread_spinlock_t * s), (s), NULL)                            \
    X(int, pthread_cond_clockwait,                                                               \
      (pthread_cond_t *__restrict c, pthread_mutex_t *__restrict m, clockid_t k,                 \
       const struct timespec *__restrict ts),                                                    \
      (c, m, k, ts), NULL)                                                                       \
    X(int, pthread_create,                                                                       \
      (pthread_t *__restrict th, const pthread_attr_t *__restrict a, void *(*fn)(void *),        \
       void *__restrict arg),                                                                    \
      (th, a, fn, arg), NULL)                                                                    \
    X(int, pthread_join, (pthread_t th, void **r), (th, r), NULL)                               \
    X(int, pthread_barrier_wait, (pthread_barrier_t * b), (b), NULL)                           \
    X(int, pthread_timedjoin_np, (pthread_t th, void **r, const struct timespec *ts),           \
      (th, r, ts), NULL)                                                                         \
    X(int, pthread_clockjoin_np, (pthread_t th, void **r, clockid_t c, const struct timespec *ts), \
      (th, r, c, ts), NULL)                                                                      \
    X(int, mtx_init, (mtx_t * m, int type), (m, type), NULL)                                    \
    X(int, mtx_lock, (mtx_t * m), (m), NULL)                                                    \
    X(int, mtx_trylock, (mtx_t * m), (m), NULL)                                                 \
    X(int, mtx_timedlock, (mtx_t *__restrict m, const struct timespec *__restrict ts), (m, ts), \
      NULL)                                                                                      \
    X(int, mtx_unlock, (mtx_t * m), (m), NULL)                                                  \
    X(int, cnd_wait, (cnd_t * c, mtx_t *m), (c, m), NULL)                                       \
    X(int, cnd_timedwait,                                                                        \
      (cnd_t *__restrict c, mtx_t *__restrict m, const struct timespec *__restrict ts),          \
      (c, m, ts), NULL)                                                                          \
    X(int, thrd_create, (thrd_t * th, thrd_start_t fn, void *arg), (th, fn, arg), NULL)         \
    X(int, __libc_start_main,                                                                    \
      (int (*mainf)(int, char **, char **), int argc, char **argv, void (*init)(void),           \
       void (*fini)(void), void (*rtld_fini)(void), void *stack_end),                           \
      (mainf, argc, argv, init, fini, rtld_fini, stack_end), NULL)                               \
    X(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), NULL)                             \
    X(ssize_t, readv, (int fd, const struct iovec *v, int n), (fd, v, n), NULL)                 \
    X(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o), NULL)                \
    X(ssize_t, pread64, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o), NULL)            \
    X(ssize_t, preadv, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o), NULL)    \
    X(ssize_t, preadv64, (int fd, const struct iovec *v, int n, off64_t o), (fd, v, n, o), NULL) \
    X(ssize_t, preadv2, (int fd, const struct iovec *v, int n, off_t o, int f),                 \
      (fd, v, n, o, f), NULL)                                                                    \
    X(ssize_t, preadv64v2, (int fd, const struct iovec *v, int n, off64_t o, int f),            \
      (fd, v, n, o, f), NULL)                                                                    \
    X(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n), NULL)                      \
    X(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n), NULL)                \
    X(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o), NULL)         \
    X(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o), NULL)     \
    X(ssize_t, pwritev, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o), NULL)   \
    X(ssize_t, pwritev64, (int fd, const struct iovec *v, int n, off64_t o), (fd, v, n, o),     \
      NULL)                                                                                      \
    X(ssize_t, pwritev2, (int fd, const struct iovec *v, int n, off_t o, int f),                \
      (fd, v, n, o, f), NULL)                                                                    \
    X(ssize_t, pwritev64v2, (int fd, const struct iovec *v, int n, off64_t o, int f),           \
      (fd, v, n, o, f), NULL)                                                                    \
    X(ssize_t, __read_chk, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl), NULL)        \
    X(ssize_t, __pread_chk, (int fd, void *b, size_t n, __off_t o, size_t bl),                  \
      (fd, b, n, o, bl), NULL)                                                                   \
    X(ssize_t, __pread64_chk, (int fd, void *b, size_t n, __off64_t o, size_t bl),              \
      (fd, b, n, o, bl), NULL)                                                                   \
    X(ssize_t, __recv_chk, (int fd, void *b, size_t n, size_t bl, int f), (fd, b, n, bl, f),    \
      NULL)                                                                                      \
    X(ssize_t, __recvfrom_chk,                                                                   \
      (int fd, void *__restrict b, size_t n, size_t bl, int f, __SOCKADDR_ARG a,                 \
       socklen_t *__restrict al),                                                                \
      (fd, b, n, bl, f, a, al), NULL)                                                            \
    X(int, __poll_chk, (struct pollfd * p, nfds_t n, int t, size_t l), (p, n, t, l), NULL)      \
    X(int, __ppoll_chk,                                                                          \
      (struct pollfd * p, nfds_t n, const struct timespec *t, const __sigset_t *s, size_t l),    \
      (p, n, t, s, l), NULL)                                                                     \
    X(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f), NULL)             \
    X(ssize_t, sendto,                                                                           \
      (int fd, const void *b, size_t n, int f, __CONST_SOCKADDR_ARG a, socklen_t al),            \
      (fd, b, n, f, a, al), NULL)                                                                \
    X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f), NULL)              \
    X(int, sendmmsg, (int fd, struct mmsghdr *v, unsigned int n, int f), (fd, v, n, f), NULL)   \
    X(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f), NULL)                   \
    X(ssize_t, recvfrom,                                                                         \
      (int fd, void *__restrict b, size_t n, int f, __SOCKADDR_ARG a, socklen_t *__restrict al), \
      (fd, b, n, f, a, al), NULL)                                                                \
    X(ssize_t, recvmsg, (int fd, struct msghdr *m, int f), (fd, m, f), NULL)                    \
    X(int, recvmmsg, (int fd, struct mmsghdr *v, unsigned int n, int f, struct timespec *t),    \
      (fd, v, n, f, t), NULL)                                                                    \
    X(int, accept, (int fd, __SOCKADDR_ARG a, socklen_t *__restrict al), (fd, a, al), NULL)     \
    X(int, accept4, (int fd, __SOCKADDR_ARG a, socklen_t *__restrict al, int f),                \
      (fd, a, al, f), NULL)                                                                      \
    X(int, connect, (int fd, __CONST_SOCKADDR_ARG a, socklen_t al), (fd, a, al), NULL)          \
    X(int, poll, (struct pollfd * p, nfds_t n, int t), (p, n, t), NULL)                         \
    X(int, ppoll, (struct pollfd * p, nfds_t n, const struct timespec *t, const sigset_t *s),   \
      (p, n, t, s), NULL)                                                                        \
    X(int, select,                                                                               \
      (int n, fd_set *__restrict r, fd_set *__restrict w, fd_set *__restrict e,                  \
       struct timeval *__restrict t),                                                            \
      (n, r, w, e, t), NULL)                                                                     \
    X(int, pselect,                                                                              \
      (int n, fd_set *__restrict r, fd_set *__restrict w, fd_set *__restrict e,                  \
       const struct timespec *__restrict t, const __sigset_t *__restrict s),                     \
      (n, r, w, e, t, s), NULL)                                                                  \
    X(int, epoll_wait, (int fd, struct epoll_event *e, int n, int t), (fd, e, n, t), NULL)      \
    X(int, epoll_pwait, (int fd, struct epoll_event *e, int n, int t, const __sigset_t *s),     \
      (fd, e, n, t, s), NULL)                                                                    \
    X(int, epoll_pwait2,                                                                         \
      (int fd, struct epoll_event *e, int n, const struct timespec *t, const __sigset_t *s),     \
      (fd, e, n, t, s), NULL)                                                                    \
    X(unsigned int, sleep, (unsigned int s), (s), NULL)                                         \
    X(int, usleep, (__useconds_t u), (u), NULL)                                                 \
    X(int, nanosleep, (const struct timespec *q, struct timespec *r), (q, r), NULL)             \
    X(int, clock_nanosleep,                                                                      \
      (clockid_t c, int f, const struct timespec *q, struct timespec *r), (c, f, q, r), NULL)    \
    X(int, fsync, (int fd), (fd), NULL)                                                         \
    X(int, fdatasync, (int fd), (fd), NULL)                                                     \
    X(int, syncfs, (int fd), (fd), NULL)                                                        \
    X(__pid_t, wait, (int *s), (s), NULL)                                                       \
    X(__pid_t, waitpid, (__pid_t p, int *s, int o), (p, s, o), NULL)                            \
    X(int, waitid, (idtype_t t, __id_t id, siginfo_t *i, int o), (t, id, i, o), NULL)           \
    X(__pid_t, wait3, (int *s, int o, struct rusage *u), (s, o, u), NULL)                       \
    X(__pid_t, wait4, (__pid_t p, int *s, int o, struct rusage *u), (p, s, o, u), NULL)         \
    X(int, flock, (int fd, int op), (fd, op), NULL)                                             \
    X(int, lockf, (int fd, int c, off_t l), (fd, c, l), NULL)                                   \
    X(int, lockf64, (int fd, int c, off64_t l), (fd, c, l), NULL)                               \
    X(int, sem_wait, (sem_t * s), (s), NULL)                                                    \
    X(int, sem_timedwait, (sem_t *__restrict s, const struct timespec *__restrict t), (s, t),   \
      NULL)                                                                                      \
    X(int, sem_clockwait,                                                                        \
      (sem_t *__restrict s, clockid_t c, const struct timespec *__restrict t), (s, c, t), NULL)  \
    X(int, msgsnd, (int id, const void *p, size_t n, int f), (id, p, n, f), NULL)               \
    X(ssize_t, msgrcv, (int id, void *p, size_t n, long t, int f), (id, p, n, t, f), NULL)      \
    X(int, sigaction, (int s, const struct sigaction *a, struct sigaction *o), (s, a, o), NULL) \
    X(sighandler_t, signal, (int s, sighandler_t h), (s, h), NULL)                              \
    X(int, sigprocmask, (int h, const sigset_t *s, sigset_t *o), (h, s, o), NULL)               \
    X(int, pthread_sigmask, (int h, const sigset_t *s, sigset_t *o), (h, s, o), NULL)

/* Functions returning nothing (some never return). */
#define NULL_VOID_FUNCS(X)                                                                       \
    X(mtx_destroy, (mtx_t * m), (m), )                                                           \
    X(sync, (void), (), )                                                                        \
    X(pthread_exit, (void *r), (r), __builtin_unreachable();)                                   \
    X(exit, (int s), (s), __builtin_unreachable();)                                             \
    X(_exit, (int s), (s), __builtin_unreachable();)                                            \
    X(_Exit, (int s), (s), __builtin_unreachable();)

#define DEFINE(ret, name, params, args, fallback)                                               \
    static ret(*real_##name) params;                                                             \
    static __attribute__((noinline)) void resolve_##name(void)                                   \
    {                                                                                            \
        real_##name = (ret(*) params)resolve(#name, (void *)(fallback));                         \
    }                                                                                            \
    EXPORT ret name params                                                                       \
    {                                                                                            \
        null_interposer_counter++;                                                               \
        if (UNLIKELY(!real_##name))                                                              \
            resolve_##name();                                                                    \
        return real_##name args;                                                                 \
    }
NULL_FUNCS(DEFINE)

#define DEFINE_VOID(name, params, args, after)                                                   \
    static void(*real_##name) params;                                                            \
    static __attribute__((noinline)) void resolve_##name(void)                                   \
    {                                                                                            \
        real_##name = (void(*) params)resolve(#name, NULL);                                      \
    }                                                                                            \
    EXPORT void name params                                                                      \
    {                                                                                            \
        null_interposer_counter++;                                                               \
        if (UNLIKELY(!real_##name))                                                              \
            resolve_##name();                                                                    \
        real_##name args;                                                                        \
        after                                                                                    \
    }
NULL_VOID_FUNCS(DEFINE_VOID)

/* syscall is variadic: six argument words are passed on, as glibc's own
 * syscall() reads them whatever the call. */
static long (*real_syscall)(long, ...);

EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    null_interposer_counter++;
    if (UNLIKELY(!real_syscall))
        real_syscall = (long (*)(long, ...))resolve("syscall", NULL);
    return real_syscall(n, a1, a2, a3, a4, a5, a6);
}

/* fcntl is variadic: its one optional argument (int or pointer) is passed
 * on as a pointer-sized word, as glibc itself does. */
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);

EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    null_interposer_counter++;
    if (UNLIKELY(!real_fcntl))
        real_fcntl = (int (*)(int, int, ...))resolve("fcntl", NULL);
    return real_fcntl(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    null_interposer_counter++;
    if (UNLIKELY(!real_fcntl64))
        real_fcntl64 = (int (*)(int, int, ...))resolve("fcntl64", NULL);
    return real_fcntl64(fd, cmd, arg);
}

/* Memory given back: free, realloc, reallocarray, munmap, mremap.  dlsym
 * may free (and realloc) memory it allocated itself: while this thread
 * resolves them, a nested free leaks its block and a nested realloc goes to
 * glibc's own, as in lockwatch (src/intercept_mem.c).  The fast path is
 * the counter, a test of the pointer and the call. */
extern void *__libc_realloc(void *, size_t);

static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);
static __thread int mem_resolving __attribute__((tls_model("initial-exec")));

static __attribute__((noinline)) void mem_resolve(void)
{
    if (mem_resolving)
        return;
    mem_resolving = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_reallocarray = (void *(*)(void *, size_t, size_t))dlsym(RTLD_NEXT, "reallocarray");
    real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    real_mremap = (void *(*)(void *, size_t, size_t, int, ...))dlsym(RTLD_NEXT, "mremap");
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    mem_resolving = 0;
}

EXPORT void free(void *p)
{
    null_interposer_counter++;
    if (UNLIKELY(!real_free)) {
        mem_resolve();
        if (!real_free)
            return;   /* freed inside dlsym: leaked */
    }
    real_free(p);
}

EXPORT void *realloc(void *p, size_t n)
{
    null_interposer_counter++;
    if (UNLIKELY(!real_realloc)) {
        mem_resolve();
        if (!real_realloc)
            return __libc_realloc(p, n);
    }
    return real_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
    null_interposer_counter++;
    if (UNLIKELY(!real_reallocarray)) {
        mem_resolve();
        if (!real_reallocarray) {
            size_t n;
            return __builtin_mul_overflow(nmemb, size, &n) ? NULL : __libc_realloc(p, n);
        }
    }
    return real_reallocarray(p, nmemb, size);
}

EXPORT int munmap(void *a, size_t len)
{
    null_interposer_counter++;
    if (UNLIKELY(!real_munmap))
        mem_resolve();
    return real_munmap ? real_munmap(a, len) : (int)syscall(SYS_munmap, a, len);
}

EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    null_interposer_counter++;
    if (UNLIKELY(!real_mremap))
        mem_resolve();
    if (real_mremap)
        return real_mremap(old, old_size, new_size, flags, new_addr);
    return (void *)syscall(SYS_mremap, old, old_size, new_size, flags, new_addr);
}

/* Condition variables, in both versions. */
#define COND_FUNCS(X)                                                                            \
    X(pthread_cond_init, (pthread_cond_t * c, const pthread_condattr_t *a), (c, a))             \
    X(pthread_cond_destroy, (pthread_cond_t * c), (c))                                          \
    X(pthread_cond_signal, (pthread_cond_t * c), (c))                                           \
    X(pthread_cond_broadcast, (pthread_cond_t * c), (c))                                        \
    X(pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t *m), (c, m))                      \
    X(pthread_cond_timedwait, (pthread_cond_t * c, pthread_mutex_t *m, const struct timespec *t), \
      (c, m, t))

static void *resolve_cond(const char *name, const char *version)
{
    void *p = dlvsym(RTLD_NEXT, name, version);
    if (!p)
        p = dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2");
    if (!p)
        p = resolve(name, NULL);
    return p;
}

#define DEFINE_COND_VERSION(name, params, args, sfx, version, at)                               \
    static int(*real_##name##_##sfx) params;                                                     \
    EXPORT int null_cond_##name##_##sfx params                                                   \
    {                                                                                            \
        null_interposer_counter++;                                                               \
        if (UNLIKELY(!real_##name##_##sfx))                                                      \
            real_##name##_##sfx = (int(*) params)resolve_cond(#name, version);                   \
        return real_##name##_##sfx args;                                                         \
    }                                                                                            \
    __asm__(".symver null_cond_" #name "_" #sfx ", " #name at version);
#define DEFINE_COND(name, params, args)                                                          \
    DEFINE_COND_VERSION(name, params, args, new, "GLIBC_2.3.2", "@@")                            \
    DEFINE_COND_VERSION(name, params, args, old, "GLIBC_2.2.5", "@")
COND_FUNCS(DEFINE_COND)

/* Resolve everything at load time, so that a wrapper's fast path is one
 * well-predicted test. */
__attribute__((constructor)) static void null_init(void)
{
#define RESOLVE(ret, name, params, args, fallback) \
    if (!real_##name)                              \
        resolve_##name();
    NULL_FUNCS(RESOLVE)
#define RESOLVE_VOID(name, params, args, after) \
    if (!real_##name)                           \
        resolve_##name();
    NULL_VOID_FUNCS(RESOLVE_VOID)
    if (!real_fcntl)
        real_fcntl = (int (*)(int, int, ...))resolve("fcntl", NULL);
    if (!real_fcntl64)
        real_fcntl64 = (int (*)(int, int, ...))resolve("fcntl64", NULL);
    mem_resolve();
#define RESOLVE_COND(name, params, args)                                                  \
    if (!real_##name##_new)                                                               \
        real_##name##_new = (int(*) params)resolve_cond(#name, "GLIBC_2.3.2");            \
    if (!real_##name##_old)                                                               \
        real_##name##_old = (int(*) params)resolve_cond(#name, "GLIBC_2.2.5");
    COND_FUNCS(RESOLVE_COND)
}
