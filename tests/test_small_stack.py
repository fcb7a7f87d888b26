"""Threads with the smallest stacks (examples/small_stack): PTHREAD_STACK_MIN,
20 KiB and 24 KiB threads nest locks, and a PTHREAD_STACK_MIN thread 7 KiB
deep into its own frames closes a lock-order inversion.  Under lockwatch
every thread is created (no EINVAL: lockwatch's thread-local storage, which
glibc takes from each thread's stack, is a pointer, not the thread's whole
state), nothing crashes, the output is the native one, and the report's
backtrace of the small thread reaches its start routine through the
7 KiB of frames (the report ran on a side stack and unwound back)."""
import lwtest as lw


def main(t):
    prog = lw.example("small_stack")
    native = lw.run_native(prog)
    t.require(native.returncode == 0, "native run failed:\n%s" % native.describe())
    run = lw.run_preload(prog)
    t.expect(run.stdout == native.stdout, "output differs:\nnative: %r\nlockwatch: %r"
             % (native.stdout, run.stdout))
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "exit status %d, expected %d\n%s"
             % (run.returncode, lw.DEFAULT_EXITCODE, run.stderr[-2000:]))
    t.require(lw.kinds_count(run.reports) == {"lock-order-inversion": 1},
              "expected one inversion, got %r:\n%s"
              % (lw.kinds_count(run.reports), lw.describe_reports(run.reports)))
    rep = run.reports[0]
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "malformed report: %s" % problems)
    stacks = [lw.functions(lw.stack(rep, e["stack"])) for e in rep["cycle"]]
    deep = [s for s in stacks if "deep" in s]
    t.require(deep, "no cycle edge taken in deep(): %r" % stacks)
    s = deep[0]
    t.expect(s.count("deep") == 7 and "inverted" in s,
             "the small thread's backtrace should pass 7 deep() frames to inverted(): %r" % s)


lw.main(main)
