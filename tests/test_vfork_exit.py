"""A child's exit status is its own unless the child itself reported
(examples/vfork_exit): after the parent's report, a vfork child's _exit(3)
stays 3 (it shares the parent's memory, report count included) and a fork
child's exit(4) stays 4; the parent exits with lockwatch's status for its
own report."""
import lwtest as lw


def main(t):
    prog = lw.example("vfork_exit")
    native = lw.run_native(prog)
    t.require(native.returncode == 0, "native run failed:\n%s" % native.describe())
    run = lw.run_preload(prog)
    t.expect("vfork child 3, fork child 4" in run.stdout,
             "the children's statuses changed under lockwatch: %r" % run.stdout)
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "parent exit status %d, expected %d"
             % (run.returncode, lw.DEFAULT_EXITCODE))
    t.expect(lw.kinds_count(run.reports) == {"lock-order-inversion": 1},
             "expected the parent's one inversion, got %r" % lw.kinds_count(run.reports))


lw.main(main)
