"""Stress runs (LOCKWATCH_JITTER, LOCKWATCH_SEED) end to end: every report
states the jitter and the seed in use (the given one, or a fresh one in
1..2^31-1), in JSON and in the text report's Schedule line; correct programs
stay silent, print the same and exit 0 under the strongest jitter; a bad
value is one warning line and jitter stays off."""
import lwtest as lw

CLEAN = ["clean_ordered", "producer_consumer", "cond_reacquire", "gated", "trylock"]


def main(t):
    lw.detector_is_live(t)
    prog = lw.example("inversion")

    run = lw.run_preload([prog], extra_env={"LOCKWATCH_JITTER": "50", "LOCKWATCH_SEED": "77"})
    t.require(len(run.reports) == 1, "inversion under jitter: expected one report:\n" + run.describe())
    rep = run.reports[0]
    t.expect(rep.get("jitter") == 50 and rep.get("seed") == 77,
             "the report should state jitter 50 and seed 77, got %r / %r"
             % (rep.get("jitter"), rep.get("seed")))

    run = lw.run_preload([prog], extra_env={"LOCKWATCH_JITTER": "50"})
    seed = run.reports[0].get("seed") if run.reports else None
    t.expect(isinstance(seed, int) and 1 <= seed <= 2147483647,
             "without LOCKWATCH_SEED the report should state the fresh seed, got %r" % (seed,))

    run = lw.run_preload([prog], fmt=None, log=False,
                         extra_env={"LOCKWATCH_JITTER": "100", "LOCKWATCH_SEED": "5"})
    t.expect("\nSchedule: LOCKWATCH_JITTER=100 LOCKWATCH_SEED=5 " in run.stderr,
             "the text report should end with the Schedule line:\n" + run.stderr)

    run = lw.run_preload([prog])
    t.expect(run.reports and "seed" not in run.reports[0] and "jitter" not in run.reports[0],
             "without jitter a report has no jitter/seed members: %r"
             % (sorted(run.reports[0]) if run.reports else None,))

    for name in CLEAN:
        native = lw.native_ok(t, lw.example(name), name)
        run = lw.run_preload([lw.example(name)], extra_env={"LOCKWATCH_JITTER": "100"})
        what = "%s with LOCKWATCH_JITTER=100" % name
        t.expect(run.returncode == 0 and not run.reports,
                 "%s: exit %d, %d report(s)\n%s" % (what, run.returncode, len(run.reports),
                                                    run.describe()))
        lw.expect_same_stdout(t, native, run, what)
        lw.expect_quiet_stderr(t, run, what)

    run = lw.run_preload([prog], extra_env={"LOCKWATCH_JITTER": "101"})
    warnings = [l for l in run.stderr.splitlines() if l.startswith(lw.WARNING_PREFIX)]
    t.expect(len(warnings) == 1 and "LOCKWATCH_JITTER" in warnings[0],
             "LOCKWATCH_JITTER=101: expected one warning line, got %r" % warnings)
    t.expect(run.reports and "jitter" not in run.reports[0],
             "LOCKWATCH_JITTER=101: jitter should stay off")


lw.main(main)
