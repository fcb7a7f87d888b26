"""examples/c11_inversion: the inversion with C11 mtx_t / thrd_t."""
import lwtest as lw


def main(t):
    prog = lw.example("c11_inversion")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "c11_inversion"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 2)
    for lk in rep["locks"]:
        t.expect(lk["kind"] == "c11-mutex", "%s: lock %s kind is %r, expected c11-mutex"
                 % (what, lk["id"], lk["kind"]))
    ab = lw.edge_with_function(t, rep, "take_a_then_b", what)
    ba = lw.edge_with_function(t, rep, "take_b_then_a", what)
    t.expect(ab["from"] == ba["to"] and ab["to"] == ba["from"],
             "%s: the two edges are not opposite: %r" % (what, rep["cycle"]))
    t.expect(ab["thread"] != ba["thread"], "%s: both edges attributed to %s"
             % (what, ab["thread"]))


lw.main(main)
