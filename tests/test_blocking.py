"""blocking-call-under-lock: the examples/blocking_* programs, one per family
(sleep, pipe, net, file, wait), each reported exactly once per call site with
the right call.function, call.family and held locks; io_no_lock and
nonblocking_under_lock give no report; blocking_repeat (one site hit 1000
times, one more site under two locks) gives exactly two; LOCKWATCH_BLOCKING
and LOCKWATCH_BLOCKING_MIN_US filter as documented; regular-file I/O (family
file) is checked only when asked for.

Shared locks: in every reporting example a second thread takes the lock,
after the blocking call (the report is deferred until it does) or, in
blocking_repeat, before it.  blocking_stuck checks that a deferred report
is written as soon as another thread waits for the lock.  blocking_private_lock sleeps under locks no
other thread takes: no report, but two with LOCKWATCH_BLOCKING_UNSHARED=1."""
import re

import lwtest as lw

KIND = "blocking-call-under-lock"

# program -> expected reports, in the order the program makes the calls:
# (function, family, function of the call site, number of locks held)
EXPECTED = {
    "blocking_sleep": [("usleep", "sleep", "update_stats", 1)],
    "blocking_pipe": [("read", "pipe", "receive_message", 1)],
    "blocking_net": [("recv", "net", "wait_for_reply", 1)],
    "blocking_file": [("flock", "wait", "lock_journal_file", 1),
                      ("fcntl", "wait", "lock_journal_file", 1)],
    "blocking_wait": [("waitpid", "wait", "reap_child", 1),
                      ("sem_wait", "wait", "take_token", 1)],
    "blocking_repeat": [("usleep", "sleep", "poll_device", 1),
                        ("nanosleep", "sleep", "flush_all", 2)],
}

QUIET = ["io_no_lock", "nonblocking_under_lock", "join_finished_ok", "blocking_private_lock"]

FILE_ALL = ["write", "fsync", "flock", "fcntl"]


def blocking_reports(t, run, what):
    """All reports must be well formed and of this kind; returns them."""
    for rep in run.reports:
        problems = lw.validate_report(rep, run.pid)
        t.expect(not problems, "%s: malformed report:\n  %s\n%s"
                 % (what, "\n  ".join(problems), lw.describe_reports([rep])))
    others = [r for r in run.reports if r.get("kind") != KIND]
    t.expect(not others, "%s: reports of another kind than %s:\n%s"
             % (what, KIND, lw.describe_reports(others)))
    return [r for r in run.reports if r.get("kind") == KIND]


def base_name(fn):
    """A function name without the suffix of a compiler's clone
    (save_journal.constprop.0 -> save_journal)."""
    return (fn or "").split(".")[0]


def check_report(t, rep, what, function, family, site, nheld, min_us=False):
    """One blocking-call-under-lock report: the call, the calling thread with
    its stack and held locks, and the locks section."""
    where = "%s: %s() report" % (what, function)
    call = rep.get("call")
    t.require(isinstance(call, dict), "%s: no `call` object:\n%s"
              % (where, lw.describe_reports([rep])))
    t.expect(call.get("function") == function, "%s: call.function is %r, expected %r"
             % (where, call.get("function"), function))
    t.expect(call.get("family") == family, "%s: call.family is %r, expected %r"
             % (where, call.get("family"), family))
    if not min_us:
        t.expect(call.get("elapsed_us") is None,
                 "%s: call.elapsed_us is %r, expected null (LOCKWATCH_BLOCKING_MIN_US is 0, "
                 "the report is made before the call)" % (where, call.get("elapsed_us")))
    msg = rep.get("message", "")
    t.expect(function + "()" in msg and "(%s)" % family in msg,
             "%s: message %r does not name %s() and (%s)" % (where, msg, function, family))
    t.expect(("holds %d lock" % nheld) in msg, "%s: message %r does not say it holds %d lock(s)"
             % (where, msg, nheld))

    threads = rep.get("threads") or []
    t.require(len(threads) == 1, "%s: expected the calling thread alone in `threads`, got %r"
              % (where, threads))
    th = threads[0]
    t.expect(th.get("id") == "T0", "%s: the calling thread is the main thread, not %r"
             % (where, th.get("id")))
    frames = lw.stack(rep, th.get("stack"))
    t.expect(frames and base_name(frames[0].get("function")) == site,
             "%s: the call stack should start in %s, it is %r"
             % (where, site, lw.functions(frames)))
    t.expect(not any(fn.startswith("lw_") or fn == function for fn in lw.functions(frames)),
             "%s: lockwatch's own frames (or the wrapper) in the call stack: %r"
             % (where, lw.functions(frames)))

    holds = th.get("holds")
    t.require(isinstance(holds, list), "%s: threads[0].holds missing: %r" % (where, th))
    lock_ids = {lk["id"] for lk in rep["locks"]}
    held_ids = [h.get("lock") for h in holds]
    t.expect(len(holds) == nheld, "%s: threads[0].holds lists %d lock(s), expected %d: %r"
             % (where, len(holds), nheld, holds))
    t.expect(set(held_ids) == lock_ids and len(rep["locks"]) == nheld,
             "%s: the held locks %r and `locks` %r differ" % (where, held_ids, sorted(lock_ids)))
    for h in holds:
        t.expect(h.get("mode") == "write", "%s: held mutex %r mode is %r"
                 % (where, h.get("lock"), h.get("mode")))
        hframes = lw.stack(rep, h.get("stack"))
        t.expect(hframes and base_name(hframes[0].get("function")) == site,
                 "%s: held lock %s should have been acquired in %s: %r"
                 % (where, h.get("lock"), site, lw.functions(hframes)))
    for lk in rep["locks"]:
        t.expect(lk["kind"] == "mutex" and lk["type"] == "normal",
                 "%s: lock %s is %s/%s, the examples use normal mutexes"
                 % (where, lk["id"], lk["kind"], lk["type"]))


def check_program(t, name):
    prog = lw.example(name)
    native = lw.native_ok(t, prog, name)
    run = lw.run_preload(prog)
    what = name
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (what, run.returncode, lw.DEFAULT_EXITCODE, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    reps = blocking_reports(t, run, what)
    want = EXPECTED[name]
    # Reports of different calls may come in either order: one made at the
    # call, one deferred until its lock is shared (lockwatch(7)).  Match
    # them by function, keeping the order of reports of the same function.
    order = [w[0] for w in want]
    reps = sorted(reps, key=lambda r: order.index((r.get("call") or {}).get("function"))
                  if (r.get("call") or {}).get("function") in order else len(order))
    got = [(r.get("call") or {}).get("function") for r in reps]
    t.require(len(reps) == len(want), "%s: expected %d %s report(s) (%s), got %d (%s):\n%s"
              % (what, len(want), KIND, ", ".join(w[0] for w in want), len(reps), got,
                 lw.describe_reports(reps)))
    for rep, (function, family, site, nheld) in zip(reps, want):
        check_report(t, rep, what, function, family, site, nheld)
    return reps


def check_repeat_locks(t, reps):
    """blocking_repeat: the second site holds config_lock and device_lock;
    device_lock (taken first in poll_device) is the lock of the first site."""
    first, second = reps
    dev = first["threads"][0]["holds"][0]["lock"]
    dev_addr = lw.lock_by_id(first, dev)["address"]
    addrs = [lk["address"] for lk in second["locks"]]
    t.expect(dev_addr in addrs, "blocking_repeat: device_lock (%s) is not among the locks held "
             "at the nanosleep: %r" % (dev_addr, addrs))
    held = [h["lock"] for h in second["threads"][0]["holds"]]
    t.expect(len(set(held)) == 2, "blocking_repeat: nanosleep should hold two distinct locks: %r"
             % held)


def check_quiet(t, name):
    lw.check_quiet_example(t, name)


def functions_reported(t, name, env, args=()):
    """Run an example with extra environment; return (run, [call.function...])."""
    run = lw.run_preload([lw.example(name)] + list(args), extra_env=env)
    what = "%s with %r" % (name, env)
    reps = blocking_reports(t, run, what)
    return run, [(r.get("call") or {}).get("function") for r in reps], reps


def check_family_filter(t):
    # none: nothing at all
    for name in ("blocking_sleep", "blocking_file"):
        run, got, _ = functions_reported(t, name, {"LOCKWATCH_BLOCKING": "none"})
        t.expect(got == [] and run.returncode == 0,
                 "%s with LOCKWATCH_BLOCKING=none: expected no report and exit 0, got %r, exit %d"
                 % (name, got, run.returncode))
    # sleep: the sleep is reported, file I/O and file locks are not
    run, got, _ = functions_reported(t, "blocking_sleep", {"LOCKWATCH_BLOCKING": "sleep"})
    t.expect(got == ["usleep"], "blocking_sleep with LOCKWATCH_BLOCKING=sleep: expected the usleep "
             "report, got %r" % got)
    run, got, _ = functions_reported(t, "blocking_file", {"LOCKWATCH_BLOCKING": "sleep"})
    t.expect(got == [] and run.returncode == 0, "blocking_file with LOCKWATCH_BLOCKING=sleep: "
             "expected no report and exit 0, got %r, exit %d" % (got, run.returncode))
    # a list: file and wait, not sleep
    run, got, reps = functions_reported(t, "blocking_file", {"LOCKWATCH_BLOCKING": "file,wait"})
    t.expect(got == FILE_ALL, "blocking_file with LOCKWATCH_BLOCKING=file,wait: got %r" % got)
    if got == FILE_ALL:
        for rep, fam in zip(reps, ("file", "file", "wait", "wait")):
            t.expect(rep["call"].get("family") == fam, "blocking_file with file,wait: %s() "
                     "family is %r, expected %r" % (rep["call"]["function"],
                                                    rep["call"].get("family"), fam))
    # all: the file family too; file alone: regular-file I/O, not the file locks
    run, got, _ = functions_reported(t, "blocking_file", {"LOCKWATCH_BLOCKING": "all"})
    t.expect(got == FILE_ALL, "blocking_file with LOCKWATCH_BLOCKING=all: got %r" % got)
    run, got, _ = functions_reported(t, "blocking_file", {"LOCKWATCH_BLOCKING": "file"})
    t.expect(got == ["write", "fsync"], "blocking_file with LOCKWATCH_BLOCKING=file: got %r" % got)
    run, got, _ = functions_reported(t, "blocking_wait", {"LOCKWATCH_BLOCKING": "file,wait"})
    t.expect(sorted(got) == ["sem_wait", "waitpid"],
             "blocking_wait with LOCKWATCH_BLOCKING=file,wait: got %r" % got)
    run, got, _ = functions_reported(t, "blocking_sleep", {"LOCKWATCH_BLOCKING": "file,wait"})
    t.expect(got == [], "blocking_sleep with LOCKWATCH_BLOCKING=file,wait: got %r" % got)
    # net only: the pipe read is not a socket
    run, got, _ = functions_reported(t, "blocking_pipe", {"LOCKWATCH_BLOCKING": "net"})
    t.expect(got == [], "blocking_pipe with LOCKWATCH_BLOCKING=net: got %r" % got)
    run, got, _ = functions_reported(t, "blocking_net", {"LOCKWATCH_BLOCKING": "net"})
    t.expect(got == ["recv"], "blocking_net with LOCKWATCH_BLOCKING=net: got %r" % got)

    # a bad value: one warning line, then the default (all families but file)
    for name, want in (("blocking_sleep", ["usleep"]),
                       ("blocking_file", ["flock", "fcntl"])):
        run, got, _ = functions_reported(t, name, {"LOCKWATCH_BLOCKING": "bogus"})
        what = 'LOCKWATCH_BLOCKING="bogus" (%s)' % name
        warnings = [l for l in run.stderr.splitlines() if l.startswith(lw.WARNING_PREFIX)]
        t.expect(len(warnings) == 1 and 'LOCKWATCH_BLOCKING="bogus"' in warnings[0]
                 and "is not valid" in warnings[0],
                 "%s: expected exactly one warning line naming it, stderr:\n%s"
                 % (what, run.stderr))
        t.expect(len(run.stderr.splitlines()) == 1, "%s: stderr should hold the warning only:\n%s"
                 % (what, run.stderr))
        t.expect(got == want, "%s: expected the default (sleep,net,pipe,wait): %r, got %r"
                 % (what, want, got))


def check_min_us(t):
    # a 1 ms sleep is shorter than 10 s: no report
    run, got, _ = functions_reported(t, "blocking_sleep", {"LOCKWATCH_BLOCKING_MIN_US": "10000000"},
                                     ["1000"])
    t.expect(got == [] and run.returncode == 0,
             "blocking_sleep 1000 with LOCKWATCH_BLOCKING_MIN_US=10000000: expected no report and "
             "exit 0, got %r, exit %d" % (got, run.returncode))
    # a 50 ms sleep is longer than 1 ms: one report with the time it took
    run, got, reps = functions_reported(t, "blocking_sleep", {"LOCKWATCH_BLOCKING_MIN_US": "1000"},
                                        ["50000"])
    what = "blocking_sleep 50000 with LOCKWATCH_BLOCKING_MIN_US=1000"
    t.require(got == ["usleep"], "%s: expected one usleep report, got %r:\n%s"
              % (what, got, run.describe()))
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d" % (what, run.returncode))
    check_report(t, reps[0], what, "usleep", "sleep", "update_stats", 1, min_us=True)
    us = reps[0]["call"].get("elapsed_us")
    t.expect(isinstance(us, int) and not isinstance(us, bool) and us >= 1000,
             "%s: call.elapsed_us is %r, expected an integer >= 1000" % (what, us))
    if isinstance(us, int):
        # usleep(50000) sleeps at least 50 ms; the time is measured around it
        t.expect(us >= 49000, "%s: call.elapsed_us %d is shorter than the 50 ms sleep" % (what, us))
        t.expect(("it took %d us" % us) in reps[0]["message"],
                 "%s: the message %r does not give the time (%d us)"
                 % (what, reps[0]["message"], us))
    # blocking_repeat with a threshold no call reaches: nothing
    run, got, _ = functions_reported(t, "blocking_repeat",
                                     {"LOCKWATCH_BLOCKING_MIN_US": "10000000"})
    t.expect(got == [], "blocking_repeat with LOCKWATCH_BLOCKING_MIN_US=10000000: got %r" % got)


def check_unshared(t):
    """Locks no other thread takes: quiet by default (checked in QUIET),
    with LOCKWATCH_BLOCKING_UNSHARED=1 one report, made at the call by a
    worker itself: both workers run the same code (usleep in do_step under
    a lock taken in do_step), which is one problem with one fingerprint,
    so the second worker's finding is a repeat."""
    name = "blocking_private_lock"
    env = {"LOCKWATCH_BLOCKING_UNSHARED": "1"}
    run, got, reps = functions_reported(t, name, env)
    what = "%s with %r" % (name, env)
    t.expect(got == ["usleep"] and run.returncode == lw.DEFAULT_EXITCODE,
             "%s: expected one usleep report (the two workers' are one problem), got %r, "
             "exit %d:\n%s"
             % (what, got, run.returncode, run.describe()))
    addrs = set()
    for rep in reps:
        th = (rep.get("threads") or [{}])[0]
        t.expect(th.get("id") not in (None, "T0"), "%s: the report should name a worker thread, "
                 "not %r" % (what, th.get("id")))
        frames = lw.stack(rep, th.get("stack"))
        t.expect(frames and base_name(frames[0].get("function")) == "do_step",
                 "%s: the call stack should start in do_step: %r" % (what, lw.functions(frames)))
        addrs.update(lk["address"] for lk in rep.get("locks") or [])
    t.expect(len(addrs) == len(reps), "%s: the report should name its worker's lock: %r"
             % (what, sorted(addrs)))
    # blocking_sleep: the report is the same whether deferred or made at once
    run, got, _ = functions_reported(t, "blocking_sleep", env)
    t.expect(got == ["usleep"], "blocking_sleep with %r: got %r" % (env, got))


def check_stuck(t):
    """blocking_stuck: the consumer reads a pipe under a lock only it has
    taken; the producer, holding nothing, then waits for the lock before it
    would write.  The report must come while they are stuck (before main's
    rescue line on stderr), not only when the producer finally gets the
    lock."""
    prog = lw.example("blocking_stuck")
    run = lw.run_preload(prog, fmt=None, log=False)
    err = run.stderr
    what = "blocking_stuck (text)"
    banner = "WARNING: lockwatch: blocking call while holding a lock"
    rescue = "blocking_stuck: rescuing the consumer"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (what, run.returncode, lw.DEFAULT_EXITCODE, run.describe()))
    t.require(err.count(banner) == 1 and err.count(rescue) == 1,
              "%s: expected one blocking-call report and one rescue line:\n%s" % (what, err))
    t.expect(err.index(banner) < err.index(rescue),
             "%s: the report came only after the rescue, not while the threads were stuck:\n%s"
             % (what, err))
    t.expect("read() may block (pipe) while the thread holds 1 lock" in err and
             re.search(r"SUMMARY: lockwatch: blocking-call-under-lock in consume( \S+:\d+)?\n", err),
             "%s: the report does not name read() in consume:\n%s" % (what, err))


def check_text(t):
    """The text report of blocking_sleep names the call, the family and the
    held lock."""
    prog = lw.example("blocking_sleep")
    run = lw.run_preload(prog, fmt=None, log=False)
    err = run.stderr
    t.expect(err.count("WARNING: lockwatch: blocking call while holding a lock") == 1,
             "blocking_sleep (text): expected one 'blocking call while holding a lock' banner:\n"
             + err)
    t.expect("usleep() may block (sleep) while the thread holds 1 lock" in err,
             "blocking_sleep (text): the report does not say what was called:\n" + err)
    t.expect(re.search(r"SUMMARY: lockwatch: blocking-call-under-lock in update_stats( \S+:\d+)?\n",
                       err),
             "blocking_sleep (text): no SUMMARY line naming update_stats:\n" + err)
    t.expect("holding Mutex M1" in err, "blocking_sleep (text): the held mutex is not shown:\n"
             + err)


def main(t):
    lw.detector_is_live(t)
    for name in EXPECTED:
        reps = check_program(t, name)
        if name == "blocking_repeat" and len(reps) == 2:
            check_repeat_locks(t, reps)
    for name in QUIET:
        check_quiet(t, name)
    check_family_filter(t)
    check_min_us(t)
    check_unshared(t)
    check_stuck(t)
    check_text(t)


lw.main(main)
