"""All threads asleep (asleep.h): hangs that are no wait-for cycle.

Bug programs, which hang without lockwatch (run only under it, with a time
limit): a lost wake-up (signal before the wait), a missed broadcast
(notify-one for three waiters), a semaphore posted once for two waiters, a
barrier for three with two arriving.  Each must end with exactly one
`deadlock` report, within LOCKWATCH_DEADLOCK_MS plus a second (plus a
start-up allowance) and no earlier than LOCKWATCH_DEADLOCK_MS, naming every
thread left with what it waits on (condvar with its mutex, semaphore,
barrier, the thread joined) and a wait backtrace in the program's code, exit
status 66, and no output of the program past the hang.

LOCKWATCH_ON_DEADLOCK=wait: the report is written once and the program stays
blocked; the broadcast lockwatch uses to collect the condvar waiters' stacks
never reaches the program (the lost-wake-up program would print its result).

Correct programs whose threads all sleep in waits the outside world ends
(an idle epoll server with workers in pthread_cond_wait, a timed wait,
sem_wait posted by a signal handler with a timer armed or a signal from
another process, a process-shared condvar, sigwait) are never reported, and
LOCKWATCH_ALL_ASLEEP=0 turns the detection off (no monitor thread).
"""
import os
import signal
import time

import lwtest as lw

STARTUP_ALLOWANCE = 0.7
HANG_LIMIT = 20.0

BUGS = [
    # (name, argv, threads, {thread kind of wait: count}, functions in the wait stacks)
    ("lost_wakeup", ["lost_wakeup"], 1, {"condvar": 1}, ["main"]),
    ("missed_broadcast", ["missed_broadcast"], 3, {"join": 1, "condvar": 2}, ["main", "worker"]),
    ("sem_lost", ["sem_lost"], 2, {"join": 1, "semaphore": 1}, ["main", "sem_worker"]),
    ("sem_lost barrier", ["sem_lost", "barrier"], 3, {"join": 1, "barrier": 2},
     ["main", "barrier_worker"]),
]


def wait_kinds(rep):
    """What each thread of the report waits on: join / condvar / semaphore / ..."""
    out = {}
    for th in rep["threads"]:
        wf = th.get("waits_for")
        if wf is None:
            k = None
        elif wf.startswith("T"):
            k = "join"
        else:
            lk = lw.lock_by_id(rep, wf)
            k = lk["kind"] if lk else "?"
        out[k] = out.get(k, 0) + 1
    return out


def check_bug(t, case, ms):
    name, argv, nthreads, kinds, functions = case
    what = "%s, LOCKWATCH_DEADLOCK_MS=%d" % (name, ms)
    prog = [lw.example(argv[0])] + argv[1:]
    res = lw.run_preload_timed(prog, extra_env={"LOCKWATCH_DEADLOCK_MS": str(ms)},
                               timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %r, expected %d\n%s"
             % (what, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    low, high = ms / 1000.0, ms / 1000.0 + 1.0 + STARTUP_ALLOWANCE
    t.note("%s: ended after %.3f s (allowed %.3f .. %.3f)" % (what, res.elapsed, low, high))
    t.expect(low <= res.elapsed < high, "%s: ended %.3f s after start, expected within "
             "[%.3f, %.3f)" % (what, res.elapsed, low, high))
    t.expect(res.stdout == "", "%s: the program printed %r past its hang" % (what, res.stdout))
    lw.expect_quiet_stderr(t, res, what)
    t.require(lw.kinds_count(res.reports) == {"deadlock": 1}, "%s: reports %r, expected one "
              "deadlock:\n%s" % (what, lw.kinds_count(res.reports),
                                 lw.describe_reports(res.reports)))
    rep = res.reports[0]
    problems = lw.validate_issue(rep, res.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    t.expect(rep["message"].startswith("all %d thread" % nthreads) and "asleep" in rep["message"],
             "%s: message %r should say all %d threads are asleep"
             % (what, rep["message"], nthreads))
    t.expect(len(rep["threads"]) == nthreads, "%s: %d threads in the report, expected %d"
             % (what, len(rep["threads"]), nthreads))
    t.expect(wait_kinds(rep) == kinds, "%s: the threads wait on %r, expected %r"
             % (what, wait_kinds(rep), kinds))
    for th in rep["threads"]:
        t.expect(th["action"] and lw.stack(rep, th["stack"]),
                 "%s: thread %s has no action or no wait backtrace" % (what, th["id"]))
        wf = th.get("waits_for")
        if wf and wf.startswith("T"):
            t.expect(lw.thread_by_id(rep, wf) is not None,
                     "%s: %s joins %s, which is not in the report" % (what, th["id"], wf))
    fns = [f for th in rep["threads"] for f in lw.functions(lw.stack(rep, th["stack"]))]
    for fn in functions:
        t.expect(any(fn == f for f in fns), "%s: no wait backtrace shows %s: %r"
                 % (what, fn, fns))
    return rep


def check_condvar_details(t, rep, what):
    """A condvar waiter names the condvar and its mutex, with a full stack."""
    for th in rep["threads"]:
        lk = lw.lock_by_id(rep, th["waits_for"]) if th["waits_for"] and \
            not th["waits_for"].startswith("T") else None
        if lk and lk["kind"] == "condvar":
            t.expect("condition variable %s (with mutex M" % lk["id"] in th["action"],
                     "%s: %s's action %r should name the condvar and its mutex"
                     % (what, th["id"], th["action"]))
            frames = lw.stack(rep, th["stack"])
            t.expect(len(frames) >= 2, "%s: %s's wait backtrace has %d frame(s): the condvar "
                     "waiter should have answered with its whole stack" % (what, th["id"],
                                                                          len(frames)))


def check_wait_action(t):
    what = "lost_wakeup, LOCKWATCH_ON_DEADLOCK=wait"
    ms = 300
    env = {"LOCKWATCH_DEADLOCK_MS": str(ms), "LOCKWATCH_ON_DEADLOCK": "wait"}
    with lw.Spawned(lw.example("lost_wakeup"), extra_env=env) as sp:
        rc = sp.wait(ms / 1000.0 + 2.5)
        t.expect(rc is None, "%s: the process ended (status %r) instead of waiting" % (what, rc))
        so_far = sp.reports()
    res = sp.result
    t.expect(res.stdout == "", "%s: the program went on past its hang (%r): the broadcast that "
             "collects stacks reached it" % (what, res.stdout))
    t.expect(lw.kinds_count(so_far) == {"deadlock": 1}, "%s: reports %r, expected one deadlock"
             % (what, lw.kinds_count(so_far)))


def check_quiet(t, argv, what, extra=None, expect_out=None):
    env = {"LOCKWATCH_DEADLOCK_MS": "200"}
    env.update(extra or {})
    res = lw.run_preload_timed(argv, extra_env=env, timeout=HANG_LIMIT)
    t.expect(res.returncode == 0 and not res.reports, "%s: exit %r, reports %r\n%s"
             % (what, res.returncode, lw.kinds_count(res.reports), res.describe()))
    if expect_out is not None:
        t.expect(res.stdout == expect_out, "%s: stdout %r, expected %r"
                 % (what, res.stdout, expect_out))
    lw.expect_quiet_stderr(t, res, what)


def check_off(t):
    what = "lost_wakeup, LOCKWATCH_ALL_ASLEEP=0"
    env = {"LOCKWATCH_DEADLOCK_MS": "200", "LOCKWATCH_ALL_ASLEEP": "0"}
    with lw.Spawned(lw.example("lost_wakeup"), extra_env=env) as sp:
        rc = sp.wait(1.5)
        t.expect(rc is None, "%s: ended (status %r): the detection should be off" % (what, rc))
        tasks = sorted(os.listdir("/proc/%d/task" % sp.proc.pid)) if rc is None else []
        names = []
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/comm" % (sp.proc.pid, tid)) as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        t.expect("lockwatch" not in names, "%s: a monitor thread runs: %r" % (what, names))
    res = sp.result
    t.expect(not res.reports, "%s: reports %r" % (what, lw.kinds_count(res.reports)))


def main(t):
    lw.detector_is_live(t)
    for case in BUGS:
        rep = check_bug(t, case, 500)
        check_condvar_details(t, rep, case[0])
    check_bug(t, BUGS[0], 1000)
    check_wait_action(t)
    check_off(t)
    check_quiet(t, [lw.example("idle_server"), "1500"], "idle_server (epoll_wait + cond_wait)",
                expect_out="served 3 jobs\n")
    for mode in ("timed", "alarm", "signal", "pshared", "sigwait"):
        check_quiet(t, [lw.example("asleep_ok"), mode, "1200"], "asleep_ok " + mode,
                    expect_out="%s ok\n" % mode)


lw.main(main)
