"""examples/inversion: the two-lock inversion, in every output mode.

Checks: exactly one well-formed lock-order-inversion report naming both locks,
backtraces with function names, exit status 66 (or LOCKWATCH_EXITCODE),
unchanged stdout, the text report, JSON on stderr, and %p in LOCKWATCH_LOG.
"""
import os
import tempfile

import lwtest as lw


def check_json(t, native):
    prog = lw.example("inversion")
    run = lw.run_preload(prog)
    what = "inversion (json, LOCKWATCH_LOG)"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE,
             "%s: exit status %d, expected %d" % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 2)

    for lk in rep["locks"]:
        t.expect(lk["kind"] == "mutex" and lk["type"] == "normal",
                 "%s: lock %s is %r/%r, expected mutex/normal" % (what, lk["id"], lk["kind"], lk["type"]))
        # PTHREAD_MUTEX_INITIALIZER: lockwatch first meets the lock in pthread_mutex_lock
        t.expect(lk["first_seen"] == "locked",
                 "%s: lock %s first_seen=%r, expected 'locked' (static initializer)"
                 % (what, lk["id"], lk["first_seen"]))

    t.expect(rep.get("confidence") == "feasible",
             "%s: two threads, no lock in common: confidence should be 'feasible', got %r"
             % (what, rep.get("confidence")))
    ab = lw.edge_with_function(t, rep, "take_a_then_b", what)
    ba = lw.edge_with_function(t, rep, "take_b_then_a", what)
    t.expect(ab["from"] == ba["to"] and ab["to"] == ba["from"],
             "%s: the two edges are not opposite: %r" % (what, rep["cycle"]))
    t.expect(ab["thread"] != ba["thread"],
             "%s: both edges are attributed to thread %s; they were made by two threads"
             % (what, ab["thread"]))
    for e, fn in ((ab, "take_a_then_b"), (ba, "take_b_then_a")):
        t.expect(e["from_mode"] == "write" and e["to_mode"] == "write",
                 "%s: modes of a mutex edge should be write/write: %r" % (what, e))
        # the held lock was taken in the same function
        t.expect(lw.has_function(lw.stack(rep, e["held_stack"]), fn),
                 "%s: held_stack of the %s edge does not show %s: %r"
                 % (what, fn, fn, lw.functions(lw.stack(rep, e["held_stack"]))))
        frame = [f for f in lw.stack(rep, e["stack"]) if fn in (f.get("function") or "")][0]
        t.expect(os.path.basename(frame.get("module") or "") == "inversion",
                 "%s: frame of %s has module %r, expected the inversion executable"
                 % (what, fn, frame.get("module")))
        th = lw.thread_by_id(rep, e["thread"])
        t.expect(th is not None and e["thread"] != "T0",
                 "%s: edge thread %r should be a created thread listed in `threads`"
                 % (what, e["thread"]))
        if th is not None:
            t.expect(th["tid"] != run.pid,
                     "%s: thread %s has the tid of the main thread" % (what, th["id"]))
            t.expect(th["created_by"] == "T0",
                     "%s: thread %s created_by=%r, expected T0 (main)" % (what, th["id"], th["created_by"]))
            t.expect(th["created_stack"] is not None and
                     lw.has_function(lw.stack(rep, th["created_stack"]), "main"),
                     "%s: creation stack of %s does not show main" % (what, th["id"]))


def check_exitcode(t, native):
    prog = lw.example("inversion")
    run = lw.run_preload(prog, extra_env={"LOCKWATCH_EXITCODE": "0"})
    what = "inversion with LOCKWATCH_EXITCODE=0"
    t.expect(run.returncode == 0, "%s: exit status %d, expected the program's own 0"
             % (what, run.returncode))
    t.expect(len(run.reports) == 1, "%s: expected 1 report, got %d" % (what, len(run.reports)))
    lw.expect_same_stdout(t, native, run, what)

    run = lw.run_preload(prog, extra_env={"LOCKWATCH_EXITCODE": "5"})
    t.expect(run.returncode == 5, "inversion with LOCKWATCH_EXITCODE=5: exit status %d"
             % run.returncode)


def check_text(t, native):
    prog = lw.example("inversion")
    run = lw.run_preload(prog, fmt=None, log=False)
    what = "inversion (text on stderr)"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    n = run.stderr.count(lw.TEXT_BANNER)
    t.expect(n == 1, "%s: %r appears %d times on stderr, expected once:\n%s"
             % (what, lw.TEXT_BANNER, n, run.stderr))
    t.expect(run.stderr.count(lw.TEXT_SUMMARY) == 1,
             "%s: %r should appear once:\n%s" % (what, lw.TEXT_SUMMARY, run.stderr))
    t.expect("Cycle in lock order graph:" in run.stderr,
             "%s: no 'Cycle in lock order graph:' line:\n%s" % (what, run.stderr))
    for fn in ("take_a_then_b", "take_b_then_a"):
        t.expect(fn in run.stderr, "%s: function %s not shown in the text report:\n%s"
                 % (what, fn, run.stderr))
    t.expect("pid=%d" % run.pid in run.stderr,
             "%s: the banner does not show pid=%d:\n%s" % (what, run.pid, run.stderr))
    t.expect(not any(line.startswith("{") for line in run.stderr.splitlines()),
             "%s: JSON on stderr in text mode" % what)


def check_json_stderr(t, native):
    prog = lw.example("inversion")
    run = lw.run_preload(prog, fmt="json", log=False)
    what = "inversion (json on stderr)"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d" % (what, run.returncode))
    lw.expect_same_stdout(t, native, run, what)
    # The report, then the run's graph record at exit.
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    t.require(len(lines) == 2 and '"kind":"graph"' in lines[1],
              "%s: expected exactly two lines (one JSON report, then the graph record) on "
              "stderr, got:\n%s" % (what, run.stderr))
    reports = lw.parse_json_lines(lines[0] + "\n", what)
    problems = lw.validate_report(reports[0], run.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    t.expect(lw.TEXT_BANNER not in run.stderr, "%s: text report in json mode" % what)


def check_log_pid(t):
    prog = lw.example("inversion")
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        pattern = os.path.join(tmp, "lw.%p.log")
        run = lw.run_preload(prog, log=False, extra_env={"LOCKWATCH_LOG": pattern})
        what = "inversion with LOCKWATCH_LOG=%s" % pattern
        names = sorted(os.listdir(tmp))
        t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d" % (what, run.returncode))
        t.expect(names == ["lw.%d.log" % run.pid],
                 "%s: expected exactly the file lw.%d.log, found %r" % (what, run.pid, names))
        lw.expect_quiet_stderr(t, run, what)
        if names:
            with open(os.path.join(tmp, names[0]), encoding="utf-8") as f:
                reports = lw.parse_json_lines(f.read(), names[0])
            t.expect(len(reports) == 1, "%s: expected 1 report in the file, got %d"
                     % (what, len(reports)))


def check_log_append(t):
    """LOCKWATCH_LOG appends: two runs with the same file leave two reports."""
    prog = lw.example("inversion")
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        log = os.path.join(tmp, "both.log")
        pids = []
        for _ in range(2):
            run = lw.run_preload(prog, log=False, extra_env={"LOCKWATCH_LOG": log})
            pids.append(run.pid)
        what = "two runs appending to one LOCKWATCH_LOG"
        t.require(os.path.exists(log), "%s: the log file was not written" % what)
        with open(log, encoding="utf-8") as f:
            reports = lw.parse_json_lines(f.read(), what)
        t.expect([r.get("pid") for r in reports] == pids,
                 "%s: expected one report from each of the pids %r, got pids %r"
                 % (what, pids, [r.get("pid") for r in reports]))


def check_timed_long(t):
    """Timed locks with a timeout of at least LOCKWATCH_DEADLOCK_MS stall like
    a hang: their edges count (and say so); with a longer DEADLOCK_MS the
    same program is a back-off, and quiet."""
    prog = lw.example("timed_long_inversion")
    what = "timed_long_inversion"
    run = lw.run_preload(prog)
    rep = lw.require_single_inversion(t, run, what, 2, distinct_sites=False)
    timed = [e.get("timed_ms") for e in rep["cycle"]]
    t.expect(all(isinstance(ms, int) and 25000 <= ms <= 30000 for ms in timed),
             "%s: each edge should give its timeout (~30000 ms) in timed_ms: %r" % (what, timed))
    run = lw.run_preload(prog, extra_env={"LOCKWATCH_DEADLOCK_MS": "60000"})
    t.expect(run.returncode == 0 and not run.reports,
             "%s with LOCKWATCH_DEADLOCK_MS=60000: a 30 s timeout is shorter, expected no report, "
             "got exit %d, %d report(s)" % (what, run.returncode, len(run.reports)))
    run = lw.run_preload(prog, fmt=None, log=False)
    t.expect("a timed acquisition: in the deadlock it would stall" in run.stderr,
             "%s: the text report should say the acquisitions are timed:\n%s" % (what, run.stderr))


def main(t):
    check_timed_long(t)
    native = lw.native_ok(t, lw.example("inversion"))
    check_json(t, native)
    check_exitcode(t, native)
    check_text(t, native)
    check_json_stderr(t, native)
    check_log_pid(t)
    check_log_append(t)


lw.main(main)
