"""Threads are shown with the name set with pthread_setname_np or
prctl(PR_SET_NAME), or with none (JSON null), never with the process name
that every thread inherits (examples/thread_names: one thread named by its
creator, one by itself, one never)."""
import os

import lwtest as lw

PROCESS_NAME = "thread_names"


def main(t):
    prog = lw.example("thread_names")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "thread_names"
    lw.expect_same_stdout(t, native, run, what)
    rep = lw.require_single_inversion(t, run, what, 3)
    names = sorted((th.get("name") is None, th.get("name") or "") for th in rep["threads"])
    names = [th.get("name") for th in rep["threads"]]
    t.note("thread names: %r" % names)
    t.expect(sorted(n for n in names if n) == ["by-creator", "by-prctl"] and names.count(None) == 1,
             "%s: expected the threads named by-creator, by-prctl and one null, got %r\n%s"
             % (what, names, lw.describe_reports(run.reports)))
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))

    run = lw.run_preload(prog, fmt=None, log=False)
    t.expect('"by-creator"' in run.stderr and '"by-prctl"' in run.stderr,
             "%s (text): the set names are not shown:\n%s" % (what, run.stderr))
    t.expect('"%s"' % PROCESS_NAME not in run.stderr,
             "%s (text): a thread is shown with the process name:\n%s" % (what, run.stderr))


lw.main(main)
