"""examples/philosophers: five philosophers, one five-lock cycle, one report."""
import lwtest as lw


def main(t):
    prog = lw.example("philosophers")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "philosophers"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 5)
    for lk in rep["locks"]:
        t.expect(lk["kind"] == "mutex" and lk["type"] == "normal",
                 "%s: fork %s is %r/%r, expected mutex/normal" % (what, lk["id"], lk["kind"], lk["type"]))
    # each fork -> next-fork edge was made by a different philosopher thread
    threads = [e["thread"] for e in rep["cycle"]]
    t.expect(len(set(threads)) == 5, "%s: expected 5 different threads on the cycle, got %r"
             % (what, threads))
    for i, e in enumerate(rep["cycle"]):
        t.expect(lw.has_function(lw.stack(rep, e["stack"]), "philosopher"),
                 "%s: cycle[%d] stack does not show the philosopher function: %r"
                 % (what, i, lw.functions(lw.stack(rep, e["stack"]))))


lw.main(main)
