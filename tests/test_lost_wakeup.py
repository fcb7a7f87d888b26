"""Lost wake-ups (lost.h, lockwatch(7) `lost-wakeup`) end to end.

examples/lost_wakeup_window: the notifier sets the condition and signals
without the mutex while the main thread, holding it, is between its check
and its timed wait.  Natively it prints three rounds (the third timed out);
under lockwatch the same, exit status 66, and exactly one `lost-wakeup`
report: the main thread's wait (stack in main), the notifier's signal
(stack in notifier), the condvar `ready` and the mutex `lock` (its role:
held from before the signal to the wait).  `hang` (untimed waits): the
`lost-wakeup` report, then the all-asleep `deadlock`, exit 66.  `resignal`
(a second signal wakes the wait): no report, a woken wait is never
reported.  A suppression rule of the kind silences it.

The twins stay silent: lost_wakeup_window_ok (signal under the mutex, and
after the unlock), signal_after_unlock (every signal after the unlock: what
Helgrind calls dubious), producer_consumer, cancel_cond_ok, cond_reacquire.
examples/lost_wakeup (the signal before the waiter took the mutex, and
before any wait on the condvar) keeps its one `deadlock` and no
`lost-wakeup`: not this signature (README, "Lost wake-ups").
"""
import os
import tempfile

import lwtest as lw

HANG_LIMIT = 20.0
PROG = "lost_wakeup_window"


def labelled(rep, label):
    """The lock of rep["locks"] whose label (its variable here) is label."""
    for lk in rep.get("locks") or []:
        if lk.get("label") == label:
            return lk
    return None


def check_report(t, rep, what, pid, wait_fn):
    problems = lw.validate_issue(rep, pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    t.expect("pthread_cond_signal" in rep["message"] and "lost" in rep["message"],
             "%s: message %r" % (what, rep["message"]))
    ths = rep["threads"]
    t.require(len(ths) == 2, "%s: %d threads, expected the waiter and the sender"
              % (what, len(ths)))
    waiter, sender = ths
    t.expect(lw.has_function(lw.stack(rep, waiter["stack"]), "main"),
             "%s: the waiter's stack does not show main: %r"
             % (what, lw.functions(lw.stack(rep, waiter["stack"]))))
    t.expect(wait_fn in waiter["action"] or "waits on condition variable" in waiter["action"],
             "%s: waiter action %r" % (what, waiter["action"]))
    t.expect(lw.has_function(lw.stack(rep, sender["stack"]), "notifier"),
             "%s: the sender's stack does not show notifier: %r"
             % (what, lw.functions(lw.stack(rep, sender["stack"]))))
    t.expect("pthread_cond_signal" in sender["action"], "%s: sender action %r"
             % (what, sender["action"]))
    cond, mutex = labelled(rep, "ready"), labelled(rep, "lock")
    t.require(cond is not None and mutex is not None, "%s: locks %r should be ready and lock"
              % (what, rep["locks"]))
    t.expect(cond["kind"] == "condvar" and waiter["waits_for"] == cond["id"],
             "%s: the waiter should wait for the condvar %r" % (what, cond))
    t.expect("from before the signal" in (mutex.get("role") or "") and mutex.get("stack") is not None,
             "%s: the mutex should say where the waiter took it: %r" % (what, mutex))


def check_timed(t):
    what = PROG
    native = lw.native_ok(t, lw.example(PROG), what)
    t.expect("round 3: timed out" in native.stdout, "%s: native run %r" % (what, native.stdout))
    run = lw.run_preload([lw.example(PROG)])
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit %r\n%s"
             % (what, run.returncode, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    t.require(lw.kinds_count(run.reports) == {"lost-wakeup": 1}, "%s: reports %r, expected one "
              "lost-wakeup:\n%s" % (what, lw.kinds_count(run.reports),
                                    lw.describe_reports(run.reports)))
    check_report(t, run.reports[0], what, run.pid, "timed out")
    t.expect("timed out after" in run.reports[0]["threads"][0]["action"],
             "%s: the waiter's action should say the wait timed out: %r"
             % (what, run.reports[0]["threads"][0]["action"]))


def check_hang(t):
    what = PROG + " hang"
    res = lw.run_preload_timed([lw.example(PROG), "hang"],
                               extra_env={"LOCKWATCH_DEADLOCK_MS": "500"}, timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit %r\n%s"
             % (what, res.returncode, res.describe()))
    kinds = [r.get("kind") for r in res.reports]
    t.require(kinds == ["lost-wakeup", "deadlock"], "%s: reports %r, expected lost-wakeup then "
              "deadlock:\n%s" % (what, kinds, lw.describe_reports(res.reports)))
    check_report(t, res.reports[0], what, res.pid, "no thread is left")
    t.expect(res.reports[0]["fingerprint"] != res.reports[1]["fingerprint"],
             "%s: the two reports share a fingerprint" % what)


def check_resignal(t):
    what = PROG + " resignal"
    native = lw.native_ok(t, [lw.example(PROG), "resignal"], what)
    run = lw.run_preload([lw.example(PROG), "resignal"])
    lw.expect_clean_run(t, native, run, what)


def check_suppressed(t):
    what = PROG + " with a lost-wakeup suppression"
    with tempfile.TemporaryDirectory(prefix="lwlost.") as tmp:
        path = os.path.join(tmp, "rules.supp")
        with open(path, "w", encoding="utf-8") as f:
            f.write("lost-wakeup:notifier\n")
        run = lw.run_preload([lw.example(PROG)], extra_env={"LOCKWATCH_SUPPRESSIONS": path})
    t.expect(run.returncode == 0 and not run.reports, "%s: exit %r, reports %r\n%s"
             % (what, run.returncode, lw.kinds_count(run.reports), run.describe()))


def check_twins(t):
    lw.check_quiet_example(t, "lost_wakeup_window_ok", runs=(("json", None),))
    native = lw.native_ok(t, [lw.example("lost_wakeup_window_ok"), "after"],
                         "lost_wakeup_window_ok after")
    run = lw.run_preload([lw.example("lost_wakeup_window_ok"), "after"])
    lw.expect_clean_run(t, native, run, "lost_wakeup_window_ok after")
    for name in ("signal_after_unlock", "producer_consumer", "cancel_cond_ok", "cond_reacquire"):
        lw.check_quiet_example(t, name, runs=(("json", None),))


def check_old_lost_wakeup(t):
    what = "lost_wakeup"
    res = lw.run_preload_timed([lw.example("lost_wakeup")],
                               extra_env={"LOCKWATCH_DEADLOCK_MS": "300"}, timeout=HANG_LIMIT)
    t.expect(lw.kinds_count(res.reports) == {"deadlock": 1}, "%s: reports %r, expected only the "
             "all-asleep deadlock (the signal came before the waiter took the mutex)"
             % (what, lw.kinds_count(res.reports)))


def main(t):
    lw.detector_is_live(t)
    check_timed(t)
    check_hang(t)
    check_resignal(t)
    check_suppressed(t)
    check_twins(t)
    check_old_lost_wakeup(t)


lw.main(main)
