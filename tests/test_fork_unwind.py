"""fork() while other threads make lockwatch unwind (examples/fork_unwind,
600 children): no child hangs in a lock of libunwind's inherited from a
thread it does not have (lockwatch's fork handlers wait until no thread is
inside libunwind), every child exits 0, no report."""
import lwtest as lw


def main(t):
    prog = lw.example("fork_unwind")
    native = lw.run_native([prog, "100"], timeout=300)
    t.require(native.returncode == 0, "native run failed:\n%s" % native.describe())
    run = lw.run_preload([prog, "600"], timeout=600)
    t.expect("600 children, 0 hung, 0 failed" in run.stdout and run.returncode == 0,
             "under lockwatch: %r, status %d\n%s" % (run.stdout, run.returncode,
                                                     run.stderr[-2000:]))
    t.expect(not run.reports, "reports: %r" % lw.kinds_count(run.reports or []))


lw.main(main)
