"""A data race is reported while the program runs, not at its next thread
event (race.h, asleep.h): examples/race_long, two threads racing on `hits`
for seconds with no thread created, joined or ended meanwhile, a
long-running server's case.  Under LOCKWATCH_RACES=sample the data-race
report must be in the LOCKWATCH_LOG file while the program still runs (the
test reads the file as it runs, then kills the program with SIGKILL: the
report must have survived), within SECONDS of the start, with both the
all-asleep monitor on (main sleeps in pthread_join, so the monitor is also
watching sleepers) and off (LOCKWATCH_ALL_ASLEEP=0: the monitor only writes
races).  A run that ends normally reports each race once (the monitor and
the exit flush do not both write it) and exits with LOCKWATCH_EXITCODE."""
import time

import lwtest as lw

RUN_FOR = "30"       # seconds race_long races (it is killed long before)
SECONDS = 8.0        # the report must be there by then
SAMPLE = {"LOCKWATCH_RACES": "sample", "LOCKWATCH_RACE_RATE": "1000"}


def races(reports):
    return [r for r in reports if r.get("kind") == "data-race"]


def check_report(t, rep, what):
    for p in lw.validate_issue(rep):
        t.expect(False, "%s: %s" % (what, p))
    t.expect((rep.get("race") or {}).get("variable") == "hits",
             "%s: race member %r" % (what, rep.get("race")))
    threads = rep.get("threads") or []
    t.expect(len(threads) == 2, "%s: %d threads, expected 2" % (what, len(threads)))
    for i, th in enumerate(threads):
        t.expect(lw.has_function(lw.stack(rep, th.get("stack")), "worker"),
                 "%s: thread %d's stack is not in worker" % (what, i))


def body(t):
    prog = lw.example("race_long")
    native = lw.native_ok(t, [prog, "0.2"], "race_long 0.2")

    probe = lw.run_preload([prog, "0.2"], extra_env=SAMPLE)
    if "race sampling is off" in probe.stderr:
        raise lw.Skip("race sampling cannot run here: " + probe.stderr.strip())

    for extra, what in (({}, "race_long"),
                        ({"LOCKWATCH_ALL_ASLEEP": "0"}, "race_long, LOCKWATCH_ALL_ASLEEP=0")):
        env = dict(SAMPLE, **extra)
        with lw.Spawned([prog, RUN_FOR], extra_env=env) as sp:
            found_at = None
            while time.monotonic() - sp.start < SECONDS:
                if sp.proc.poll() is not None:
                    break
                if races(sp.reports()):
                    found_at = time.monotonic() - sp.start
                    break
                time.sleep(0.1)
            running = sp.proc.poll() is None
        res = sp.result
        t.expect(running, "%s: the program ended before the test looked (exit %s)\n%s"
                 % (what, res.returncode, res.describe()))
        t.expect(found_at is not None,
                 "%s: no data-race report in the log %.0f s into a run that creates and joins "
                 "no thread meanwhile (reports written only at thread events or exit?)\n%s"
                 % (what, SECONDS, res.describe()))
        if found_at is not None:
            t.note("%s: the data-race report was in the log %.2f s after the start" % (what, found_at))
        t.expect(res.killed, "%s: the program was not still running at the end" % what)
        got = races(res.reports)
        t.expect(got, "%s: after SIGKILL the log has no data-race report" % what)
        for r in got:
            check_report(t, r, what)

    # To the end: the same race is written once, and the exit status says so.
    what = "race_long 2 (to the end)"
    run = lw.run_preload([prog, "2"], extra_env=SAMPLE)
    lw.expect_same_stdout(t, native, run, what)
    got = races(run.reports)
    t.expect(got, "%s: no data-race report\n%s" % (what, run.describe()))
    t.expect(run.returncode == (66 if got else 0), "%s: exit %d\n%s"
             % (what, run.returncode, run.describe()))
    keys = [tuple(sorted(str(lw.pcs(lw.stack(r, th.get("stack")))[:1])
                         for th in r.get("threads") or [])) for r in got]
    t.expect(len(keys) == len(set(keys)), "%s: the same race written twice: %s"
             % (what, lw.describe_reports(got)))


lw.main(body)
