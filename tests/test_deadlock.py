"""Deadlocks that happen: examples/deadlock_* really deadlock (they hang
without lockwatch, so they are run ONLY under lockwatch, always with a time
limit).

Checks, for a 2-thread cycle of mutexes, a 3-thread cycle, a cycle through
an rwlock held for reading and for writing, a pthread_join cycle and a
spin lock / C11 mutex cycle:
  - exactly one `deadlock` report, well formed, whose threads each wait for
    something (a lock, or a thread for a join) held by the next one, closing
    a cycle through every thread of the report; the locks by name, the
    holds and their modes;
  - the other reports the run must make (the lock-order inversion that
    precedes a lock cycle or is the join cycle, pthread_join under a lock)
    and no others;
  - timing: reported no earlier than LOCKWATCH_DEADLOCK_MS and within
    LOCKWATCH_DEADLOCK_MS + 1 s (+ start-up allowance), for 500 and 1000 ms;
  - LOCKWATCH_ON_DEADLOCK: exit (status 66, or LOCKWATCH_DEADLOCK_EXITCODE,
    never LOCKWATCH_EXITCODE's, never 0, at once,
    without running exit handlers), abort (killed by SIGABRT), wait (still
    blocked well after the report, which is already written);
  - the text report.
"""
import signal

import lwtest as lw

# How long the run may take beyond "deadlock_ms + 1 s".  The wall clock
# starts before the process is created; the examples' threads meet with
# atomics (no sleeps) and are blocked a few milliseconds after start.  The
# allowance covers exec, loading, lockwatch's start-up and thread creation on
# a loaded machine (make -j check runs tests in parallel).  lockwatch itself
# needs deadlock_ms plus about two wait slices (deadlock_ms / 8, at most
# 200 ms each), well inside the extra second.
STARTUP_ALLOWANCE = 0.5

# Time limit of a run that should end by itself (a hang fails the test).
HANG_LIMIT = 20.0


def deadlock_env(ms, action=None, extra=None):
    env = {"LOCKWATCH_DEADLOCK_MS": str(ms)}
    if action:
        env["LOCKWATCH_ON_DEADLOCK"] = action
    env.update(extra or {})
    return env


def only_deadlock(t, reports, what):
    """The single deadlock report among reports."""
    dl = [r for r in reports if r.get("kind") == "deadlock"]
    t.require(len(dl) == 1, "%s: expected exactly 1 deadlock report, got %d:\n%s"
              % (what, len(dl), lw.describe_reports(reports)))
    return dl[0]


def check_cycle(t, rep, pid, what, nthreads, names, functions):
    """Structure of a deadlock report.

    names: lock names (lockwatch_name_lock) the report must name, exactly.
    functions: for each thread, a function its wait backtrace must show
    (one per thread, in any order)."""
    problems = lw.validate_issue(rep, pid)
    t.expect(not problems, "%s: malformed deadlock report:\n  %s\n%s"
             % (what, "\n  ".join(problems), lw.describe_reports([rep])))
    if problems:
        return
    t.expect("wait-for cycle" in rep["message"],
             "%s: message %r does not say 'wait-for cycle'" % (what, rep["message"]))
    threads = rep["threads"]
    t.require(len(threads) == nthreads, "%s: expected %d threads in the cycle, got %d: %r"
              % (what, nthreads, len(threads), [th["id"] for th in threads]))
    got_names = sorted(lk["name"] for lk in rep["locks"] if lk["name"] is not None)
    t.expect(got_names == sorted(names),
             "%s: the report names the locks %r, expected %r (all locks: %r)"
             % (what, got_names, sorted(names), rep["locks"]))
    by_id = {th["id"]: th for th in threads}
    # Who holds each lock (write holds and read holds both block a writer;
    # the modes are checked by the callers).
    holder = {}
    for th in threads:
        for h in th["holds"]:
            holder.setdefault(h["lock"], []).append(th["id"])
    nxt = {}
    for th in threads:
        wf = th["waits_for"]
        if wf is None:
            t.expect(False, "%s: thread %s in the cycle waits for nothing" % (what, th["id"]))
            continue
        if wf.startswith("T"):
            t.expect(wf in by_id, "%s: thread %s joins %s, which is not in the report"
                     % (what, th["id"], wf))
            t.expect("join" in th["action"], "%s: thread %s waits for thread %s but its action "
                     "%r does not say join" % (what, th["id"], wf, th["action"]))
            nxt[th["id"]] = wf
        else:
            hs = [x for x in holder.get(wf, []) if x != th["id"]]
            t.expect(len(hs) == 1, "%s: thread %s waits for %s, held by %r among the other "
                     "threads of the report (expected exactly one)" % (what, th["id"], wf, hs))
            if hs:
                nxt[th["id"]] = hs[0]
                t.expect(hs[0] in th["action"] and wf in th["action"],
                         "%s: action of %s %r should name %s and its holder %s"
                         % (what, th["id"], th["action"], wf, hs[0]))
        t.expect(lw.stack(rep, th["stack"]), "%s: thread %s has no wait backtrace"
                 % (what, th["id"]))
        for h in th["holds"]:
            t.expect(h["stack"] is not None and lw.stack(rep, h["stack"]),
                     "%s: thread %s holds %s without an acquisition backtrace"
                     % (what, th["id"], h["lock"]))
    # Following "waits for something held by" from any thread visits every
    # thread once and comes back: one cycle through all of them.
    if len(nxt) == len(threads):
        seen, cur = [], threads[0]["id"]
        while cur not in seen and cur in nxt:
            seen.append(cur)
            cur = nxt[cur]
        t.expect(cur == threads[0]["id"] and len(seen) == len(threads),
                 "%s: the threads' waits do not form one cycle through all of them: %r"
                 % (what, nxt))
    fns = [f for th in threads for f in lw.functions(lw.stack(rep, th["stack"]))]
    for fn in functions:
        t.expect(any(fn in f for f in fns), "%s: no thread's wait backtrace shows %s: %r"
                 % (what, fn, [lw.functions(lw.stack(rep, th["stack"])) for th in threads]))
    for th in threads:
        t.expect(th["id"] == "T0" or th["created_by"] is not None,
                 "%s: thread %s was not seen created" % (what, th["id"]))


def hold_mode(t, rep, name, what):
    """The mode in which a thread of the report holds the lock named name."""
    lk = lw.lock_named(rep, name)
    t.require(lk is not None, "%s: no lock named %r in the report" % (what, name))
    modes = [h["mode"] for th in rep["threads"] for h in th["holds"] if h["lock"] == lk["id"]]
    t.require(len(modes) == 1, "%s: %s (%s) is held %d times in the report: %r"
              % (what, name, lk["id"], len(modes), modes))
    return modes[0]


def waiter_of(t, rep, name, what):
    lk = lw.lock_named(rep, name)
    t.require(lk is not None, "%s: no lock named %r in the report" % (what, name))
    ws = [th for th in rep["threads"] if th["waits_for"] == lk["id"]]
    t.require(len(ws) == 1, "%s: %d threads wait for %s" % (what, len(ws), name))
    return ws[0]


# name: (argv, threads, lock names, functions, other kinds expected besides the deadlock)
CASES = [
    ("deadlock_2threads", ["deadlock_2threads"], 2, ["lock_a", "lock_b"],
     ["take_a_then_b", "take_b_then_a"], {"lock-order-inversion": 1}),
    ("deadlock_3threads", ["deadlock_3threads"], 3, ["m1", "m2", "m3"],
     ["worker"], {"lock-order-inversion": 1}),
    ("deadlock_rwlock (read-held)", ["deadlock_rwlock"], 2, ["rw", "mtx"],
     ["rw_then_mutex", "mutex_then_rw"], {"lock-order-inversion": 1}),
    ("deadlock_rwlock (write-held)", ["deadlock_rwlock", "write"], 2, ["rw", "mtx"],
     ["rw_then_mutex", "mutex_then_rw"], {"lock-order-inversion": 1}),
    ("deadlock_join", ["deadlock_join"], 2, ["state"],
     ["main", "worker"], {"blocking-call-under-lock": 1, "lock-order-inversion": 1}),
    ("deadlock_mixed", ["deadlock_mixed"], 2, ["spin", "cmtx"],
     ["spin_then_mtx", "mtx_then_spin"], {"lock-order-inversion": 1}),
]


def case_specific(t, name, rep, what):
    if name.startswith("deadlock_rwlock"):
        write_held = "write-held" in name
        t.expect(hold_mode(t, rep, "rw", what) == ("write" if write_held else "read"),
                 "%s: rw should be held for %s" % (what, "writing" if write_held else "reading"))
        t.expect(hold_mode(t, rep, "mtx", what) == "write", "%s: mtx is a mutex: write" % what)
        w = waiter_of(t, rep, "rw", what)
        verb = "read-locking" if write_held else "locking"
        t.expect(w["action"].startswith("is blocked %s " % verb),
                 "%s: the thread waiting for rw: action %r, expected 'is blocked %s ...'"
                 % (what, w["action"], verb))
        t.expect(lw.lock_named(rep, "rw")["kind"] == "rwlock", "%s: rw is not an rwlock" % what)
    elif name == "deadlock_join":
        main = lw.thread_by_id(rep, "T0")
        t.require(main is not None, "%s: the main thread T0 is not in the report" % what)
        worker = [th for th in rep["threads"] if th["id"] != "T0"][0]
        t.expect(main["waits_for"] == worker["id"],
                 "%s: T0 should wait for (join) %s, waits_for=%r" % (what, worker["id"], main["waits_for"]))
        st = lw.lock_named(rep, "state")
        t.expect([h["lock"] for h in main["holds"]] == [st["id"]],
                 "%s: T0 should hold exactly 'state' (%s): %r" % (what, st["id"], main["holds"]))
        t.expect(worker["waits_for"] == st["id"] and worker["holds"] == [],
                 "%s: %s should wait for 'state' holding nothing: %r" % (what, worker["id"], worker))
        t.expect("T0 joins %s" % worker["id"] in rep["message"],
                 "%s: message %r does not say 'T0 joins %s'" % (what, rep["message"], worker["id"]))
    elif name == "deadlock_mixed":
        t.expect(lw.lock_named(rep, "spin")["kind"] == "spinlock", "%s: spin kind" % what)
        t.expect(lw.lock_named(rep, "cmtx")["kind"] == "c11-mutex", "%s: cmtx kind" % what)
    elif name == "deadlock_3threads":
        t.expect(all(len(th["holds"]) == 1 for th in rep["threads"]),
                 "%s: each thread holds exactly one lock: %r" % (what, rep["threads"]))


def check_case(t, case, ms):
    name, argv, nthreads, names, functions, others = case
    what = "%s, LOCKWATCH_DEADLOCK_MS=%d" % (name, ms)
    prog = [lw.example(argv[0])] + argv[1:]
    res = lw.run_preload_timed(prog, extra_env=deadlock_env(ms), timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE,
             "%s: exit status %r, expected %d (LOCKWATCH_ON_DEADLOCK=exit)\n%s"
             % (what, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    low, high = ms / 1000.0, ms / 1000.0 + 1.0 + STARTUP_ALLOWANCE
    t.note("%s: ended after %.3f s (allowed %.3f .. %.3f)" % (what, res.elapsed, low, high))
    t.expect(low <= res.elapsed < high,
             "%s: the process ended %.3f s after start; the deadlock must be reported after it "
             "has lasted %.3f s and within %.3f s (deadlock_ms + 1 s + %.1f s start-up)"
             % (what, res.elapsed, low, high, STARTUP_ALLOWANCE))
    start = argv[0] + ": starting"
    if argv[0] == "deadlock_rwlock":
        start += " (rwlock %s-held)" % ("write" if "write" in argv else "read")
    t.expect(res.stdout == start + "\n",
             "%s: stdout should be the start line only (exit handlers must not run): %r"
             % (what, res.stdout))
    lw.expect_quiet_stderr(t, res, what)
    expected = dict(others)
    expected["deadlock"] = 1
    t.expect(lw.kinds_count(res.reports) == expected,
             "%s: reports by kind %r, expected %r:\n%s"
             % (what, lw.kinds_count(res.reports), expected, lw.describe_reports(res.reports)))
    for r in res.reports:
        if r.get("kind") != "deadlock":
            probs = (lw.validate_report(r, res.pid) if r.get("kind") == "lock-order-inversion"
                     else lw.validate_issue(r, res.pid))
            t.expect(not probs, "%s: malformed %s report: %s" % (what, r.get("kind"), probs))
    rep = only_deadlock(t, res.reports, what)
    check_cycle(t, rep, res.pid, what, nthreads, names, functions)
    case_specific(t, name, rep, what)
    # The deadlock is the last report: the process ends right after it.
    t.expect(res.reports[-1].get("kind") == "deadlock",
             "%s: the deadlock report is not the last one" % what)
    return rep


def check_join_no_blocking_rule(t):
    what = "deadlock_join, LOCKWATCH_BLOCKING=none"
    res = lw.run_preload_timed(lw.example("deadlock_join"),
                               extra_env=deadlock_env(500, extra={"LOCKWATCH_BLOCKING": "none"}),
                               timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %r" % (what, res.returncode))
    # The join cycle state => end(worker) => state is an inversion too.
    t.expect(lw.kinds_count(res.reports) == {"deadlock": 1, "lock-order-inversion": 1},
             "%s: expected the join cycle and the deadlock, got %r"
             % (what, lw.kinds_count(res.reports)))


def check_exitcode(t):
    """A deadlock exits with LOCKWATCH_DEADLOCK_EXITCODE (default 66), never
    0: LOCKWATCH_EXITCODE (the status for reports) does not change it, not
    even LOCKWATCH_EXITCODE=0, with which a CI job must still fail."""
    prog = lw.example("deadlock_2threads")
    for extra, want in (({"LOCKWATCH_EXITCODE": "3"}, lw.DEFAULT_EXITCODE),
                        ({"LOCKWATCH_EXITCODE": "0"}, lw.DEFAULT_EXITCODE),
                        ({"LOCKWATCH_DEADLOCK_EXITCODE": "5"}, 5),
                        ({"LOCKWATCH_EXITCODE": "0", "LOCKWATCH_DEADLOCK_EXITCODE": "7"}, 7)):
        what = "deadlock_2threads, " + " ".join("%s=%s" % kv for kv in sorted(extra.items()))
        res = lw.run_preload_timed(prog, extra_env=deadlock_env(200, "exit", extra),
                                   timeout=HANG_LIMIT)
        t.expect(res.returncode == want, "%s: exit status %r, expected %d\n%s"
                 % (what, res.returncode, want, res.describe()))
        only_deadlock(t, res.reports, what)
    # 0 is not a deadlock status: refused with a warning, the default stays.
    what = "deadlock_2threads, LOCKWATCH_DEADLOCK_EXITCODE=0"
    res = lw.run_preload_timed(prog, extra_env=deadlock_env(200, "exit", {
        "LOCKWATCH_DEADLOCK_EXITCODE": "0"}), timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %r, expected %d\n%s"
             % (what, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    t.expect(lw.WARNING_PREFIX + " LOCKWATCH_DEADLOCK_EXITCODE" in res.stderr,
             "%s: no warning naming the variable:\n%s" % (what, res.stderr))
    # The launcher: --exitcode=0 keeps a deadlock's status non-zero.
    what = "lockwatch --exitcode=0 --deadlock-ms=200 deadlock_2threads"
    env = lw.base_env()
    rc, out, err, pid = lw.run([lw.launcher(), "--exitcode=0", "--deadlock-ms=200", prog], env,
                               timeout=HANG_LIMIT)
    t.expect(rc == lw.DEFAULT_EXITCODE, "%s: exit status %r, expected %d\n%s"
             % (what, rc, lw.DEFAULT_EXITCODE, err))
    what = "lockwatch --deadlock-exitcode=9 --deadlock-ms=200 deadlock_2threads"
    rc, out, err, pid = lw.run([lw.launcher(), "--deadlock-exitcode=9", "--deadlock-ms=200", prog],
                               env, timeout=HANG_LIMIT)
    t.expect(rc == 9, "%s: exit status %r, expected 9\n%s" % (what, rc, err))


def check_abort(t):
    for prog in ("deadlock_2threads", "deadlock_join"):
        what = "%s, LOCKWATCH_ON_DEADLOCK=abort" % prog
        res = lw.run_preload_timed(lw.example(prog), extra_env=deadlock_env(300, "abort"),
                                   timeout=HANG_LIMIT)
        t.expect(res.returncode == -signal.SIGABRT,
                 "%s: returncode %r, expected %d (killed by SIGABRT)\n%s"
                 % (what, res.returncode, -signal.SIGABRT, res.describe()))
        t.expect(res.elapsed < 0.3 + 1.0 + STARTUP_ALLOWANCE,
                 "%s: aborted only after %.3f s" % (what, res.elapsed))
        only_deadlock(t, res.reports, what)


def check_wait(t):
    ms = 300
    what = "deadlock_2threads, LOCKWATCH_ON_DEADLOCK=wait"
    with lw.Spawned(lw.example("deadlock_2threads"), extra_env=deadlock_env(ms, "wait")) as sp:
        rc = sp.wait(ms / 1000.0 + 2.0)
        t.expect(rc is None, "%s: the process ended (status %r) instead of waiting" % (what, rc))
        so_far = sp.reports()
    res = sp.result
    t.expect(res.killed, "%s: the process was not still running at the end" % what)
    t.expect(lw.kinds_count(so_far) == {"lock-order-inversion": 1, "deadlock": 1},
             "%s: %g s after start the reports written are %r, expected the inversion and the "
             "deadlock" % (what, ms / 1000.0 + 2.0, lw.kinds_count(so_far)))
    if so_far:
        dl = [r for r in so_far if r.get("kind") == "deadlock"]
        if dl:
            check_cycle(t, dl[0], res.pid, what, 2, ["lock_a", "lock_b"],
                        ["take_a_then_b", "take_b_then_a"])


def check_text(t):
    what = "deadlock_3threads, text report on stderr"
    res = lw.run_preload_timed(lw.example("deadlock_3threads"), fmt=None,
                               extra_env=deadlock_env(300, extra={"LOCKWATCH_LOG": ""}),
                               timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %r" % (what, res.returncode))
    err = res.stderr
    banner = "WARNING: lockwatch: deadlock (threads blocked waiting for each other) (pid=%d)" % res.pid
    t.expect(err.count(banner) == 1, "%s: %r should appear once:\n%s" % (what, banner, err))
    t.expect(lw.count_lines_starting(err, "SUMMARY: lockwatch: deadlock in ") == 1,
             "%s: no 'SUMMARY: lockwatch: deadlock in ...' line:\n%s" % (what, err))
    t.expect("3 threads are blocked in a wait-for cycle" in err,
             "%s: the message is missing:\n%s" % (what, err))
    for name in ("m1", "m2", "m3"):
        t.expect('"%s"' % name in err, "%s: lock %s not named in the text:\n%s" % (what, name, err))
    t.expect(err.count("is blocked locking M") == 3 and err.count("    holding Mutex M") == 3,
             "%s: expected 3 'is blocked locking' threads each holding a mutex:\n%s" % (what, err))


def main(t):
    for case in CASES:
        for ms in (500, 1000):
            check_case(t, case, ms)
    check_join_no_blocking_rule(t)
    check_exitcode(t)
    check_abort(t)
    check_wait(t)
    check_text(t)


lw.main(main)
