"""A thread holding 1,000 locks, and jemalloc's fork-handler pattern
(examples/many_locks): no report, no warning, the native output and exit
status.  The held-lock stack grows instead of overflowing (it used to stop
at 128 entries, and releasing the untracked read locks then gave a false
unlock-not-owned); pthread_mutex_init of a mutex the thread holds (the
fork child's re-initialisation of what its prepare handler locked) takes
it off the held stack."""
import lwtest as lw


def main(t):
    prog = lw.example("many_locks")
    native = lw.run_native(prog)
    t.require(native.returncode == 0, "native run failed:\n%s" % native.describe())
    for fmt in ("json", None):
        run = lw.run_preload(prog, fmt=fmt, log=fmt is not None)
        what = "many_locks (%s)" % (fmt or "text")
        t.expect(run.returncode == 0, "%s: exit status %d\n%s"
                 % (what, run.returncode, run.stderr[-3000:]))
        t.expect(run.stdout == native.stdout, "%s: output differs: %r" % (what, run.stdout))
        reports = run.reports or []
        t.expect(not reports, "%s: reports %r:\n%s"
                 % (what, lw.kinds_count(reports), lw.describe_reports(reports)))
        t.expect("lockwatch" not in run.stderr, "%s: lockwatch wrote to stderr:\n%s"
                 % (what, run.stderr[-3000:]))


lw.main(main)
