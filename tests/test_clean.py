"""Correct programs produce no report: clean_ordered, gated (cycle under a
common gate lock), trylock (the reversed order uses trylock) and
cond_reacquire (pthread_cond_wait releases and re-acquires its mutex)."""
import lwtest as lw

PROGRAMS = ["clean_ordered", "gated", "trylock", "cond_reacquire"]


def main(t):
    lw.detector_is_live(t)
    for name in PROGRAMS:
        prog = lw.example(name)
        native = lw.native_ok(t, prog, name)
        for fmt in ("json", None):
            mode = fmt or "text"
            run = lw.run_preload(prog, fmt=fmt, log=(fmt == "json"))
            what = "%s (%s)" % (name, mode)
            t.expect(run.returncode == 0, "%s: exit status %d, expected 0\n%s"
                     % (what, run.returncode, run.describe()))
            lw.expect_same_stdout(t, native, run, what)
            if fmt == "json":
                t.expect(len(run.reports) == 0, "%s: expected no report, got %d:\n%s"
                         % (what, len(run.reports), lw.describe_reports(run.reports)))
            t.expect(run.stderr == "", "%s: expected nothing on stderr, got:\n%s"
                     % (what, run.stderr))


lw.main(main)
