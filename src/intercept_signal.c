/*
 * intercept_signal.c: sigaction and signal, for race sampling (race.h).
 * While lockwatch's SIGTRAP handler is installed, the program's SIGTRAP
 * action is recorded (and reported back to it) rather than installed: the
 * handler gives every trap that is not lockwatch's to that action.  A
 * handler installed for the sampling signal makes lockwatch stop sampling.
 * A thread that blocks the sampling signal (sigprocmask, pthread_sigmask:
 * a thread that will sigwait or signalfd) stops being sampled, and a
 * sample already pending for it is taken back, so no sigwait of the
 * program ever returns it.  Every other call goes straight to libc.
 */
#include "intercept.h"
#include "race.h"

#include <errno.h>
#include <signal.h>

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
 * set without the sampling signal, which leaves it as it was. */
static void mask_changed(int how, const sigset_t *set)
{
    int sig = lw_race_signal();   /* 0 while sampling is off */
    if (!sig || lw_guarded())
        return;
    if (how != SIG_SETMASK && sigismember(set, sig) != 1)
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
