/*
 * intercept_signal.c: sigaction and signal, for race sampling (race.h).
 * While lockwatch's SIGTRAP handler is installed, the program's SIGTRAP
 * action is recorded (and reported back to it) rather than installed: the
 * handler gives every trap that is not lockwatch's to that action.  A
 * handler installed for the sampling signal makes lockwatch stop sampling.
 * A thread that blocks the sampling signal (sigprocmask, pthread_sigmask:
 * a thread that will sigwait or signalfd) stops being sampled, and a
 * sample already pending for it is taken back, so no sigwait of the
 * program ever returns it.  syscall(): a program that opens hardware
 * breakpoints or watchpoints of its own (perf_event_open) makes sampling
 * step aside first, so that the debug registers are its own.  Every other
 * call goes straight to libc (syscall: straight to the kernel, as libc's).
 */
#include "intercept.h"
#include "lw_sys.h"
#include "race.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>

extern int __sigaction(int, const struct sigaction *, struct sigaction *);

static int set_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (lw_race_sigaction(sig, act, old))
        return 0;
    return __sigaction(sig, act, old);
}

LW_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return set_action(sig, act, old);
}

/* After a successful mask change: tell the sampler when the sampling
 * signal may have changed state.  Not when lockwatch itself is the caller
 * (the guard is up): libunwind blocks every signal around each of its
 * internal locks, with sigprocmask, which binds to this wrapper; each pair
 * cost the thread its timer (timer_delete, a sigtimedwait, timer_create,
 * timer_settime: 22 pairs a thread creation), and no sigwait of the
 * program can run inside lockwatch.  Nor for SIG_BLOCK or SIG_UNBLOCK of a
 * set with neither the sampling signal nor SIGTRAP (a thread blocking
 * SIGTRAP is never armed), which leaves both as they were. */
static void mask_changed(int how, const sigset_t *set)
{
    int sig = lw_race_signal();   /* 0 while sampling is off */
    if (!sig || lw_guarded())
        return;
    if (how != SIG_SETMASK && sigismember(set, sig) != 1 && sigismember(set, SIGTRAP) != 1)
        return;
    lw_race_mask_changed();
}

LW_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!lw_real_pthread_sigmask)
        lw_resolve_all();
    int r = lw_real_pthread_sigmask(how, set, old);
    if (r == 0 && set)
        mask_changed(how, set);
    return r;
}

LW_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!lw_real_sigprocmask)
        lw_resolve_all();
    int r = lw_real_sigprocmask(how, set, old);
    if (r == 0 && set)
        mask_changed(how, set);
    return r;
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its
 * handler). */
LW_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (set_action(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* glibc's syscall(): six integer arguments read whatever the caller
 * passed (as glibc does), the call made here (lw_sys.h), -1 and errno on
 * failure. */
LW_EXPORT long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_perf_event_open)
        lw_race_program_breakpoint((const void *)a, b);
    return lw_syscall6(number, a, b, c, d, e, f);
}
