"""examples/cycle4: a four-lock cycle re-traversed 100,000 times is reported once."""
import time

import lwtest as lw


def main(t):
    prog = lw.example("cycle4")
    t0 = time.monotonic()
    native = lw.native_ok(t, prog)
    t1 = time.monotonic()
    run = lw.run_preload(prog)
    t2 = time.monotonic()
    t.note("cycle4: native %.2f s, under lockwatch %.2f s" % (t1 - t0, t2 - t1))
    what = "cycle4"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 4)
    threads = set(e["thread"] for e in rep["cycle"])
    t.expect(len(threads) == 1, "%s: all four edges were made by one thread, report says %r"
             % (what, sorted(threads)))
    for i, e in enumerate(rep["cycle"]):
        # cycle_worker is the thread's start routine, so it is never inlined
        # (take_pair may be, if CFLAGS has -O2).
        t.expect(lw.has_function(lw.stack(rep, e["stack"]), "cycle_worker"),
                 "%s: cycle[%d] stack does not show cycle_worker: %r"
                 % (what, i, lw.functions(lw.stack(rep, e["stack"]))))

    # text mode: the banner must also appear exactly once
    run = lw.run_preload(prog, fmt=None, log=False)
    n = run.stderr.count(lw.TEXT_BANNER)
    t.expect(n == 1, "%s (text): banner appears %d times, expected once" % (what, n))
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s (text): exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))


lw.main(main)
