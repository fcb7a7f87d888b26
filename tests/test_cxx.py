"""C++: std::mutex inversion reported once; a correct std::thread work queue
(std::lock_guard, std::unique_lock, std::condition_variable) is left alone."""
import lwtest as lw


def check_inversion(t):
    prog = lw.example("cxx_inversion")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "cxx_inversion"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 2)
    for lk in rep["locks"]:
        t.expect(lk["kind"] == "mutex", "%s: lock %s kind is %r, expected mutex"
                 % (what, lk["id"], lk["kind"]))
    ab = lw.edge_with_function(t, rep, "take_a_then_b", what)
    ba = lw.edge_with_function(t, rep, "take_b_then_a", what)
    t.expect(ab["from"] == ba["to"] and ab["to"] == ba["from"],
             "%s: the two edges are not opposite: %r" % (what, rep["cycle"]))
    t.expect(ab["thread"] != ba["thread"], "%s: both edges attributed to %s"
             % (what, ab["thread"]))


def check_clean(t):
    prog = lw.example("cxx_clean")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "cxx_clean"
    t.expect(run.returncode == 0, "%s: exit status %d, expected 0\n%s"
             % (what, run.returncode, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    t.expect(len(run.reports) == 0, "%s: expected no report, got %d:\n%s"
             % (what, len(run.reports), lw.describe_reports(run.reports)))


def main(t):
    check_inversion(t)
    check_clean(t)


lw.main(main)
