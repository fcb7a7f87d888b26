"""Join cycles (rules.h, lw_rule_join_held): the end of a thread is a lock
the thread holds for its whole life, and pthread_join acquires it.  A thread
that joins T holding L and waits a slice for T, still in its start routine,
where T took L in its life, closes the cycle L => end(T) => L: a
lock-order inversion even when T happened to take L before the join
(join_cycle), with the join named in the message and the end of T a lock of
kind "thread" in the cycle.  No join cycle: holding a lock the thread never
took, an rwlock both hold only for reading, or joining a thread that has
returned (join_finished_ok: it is only reaped; pigz's pool joins, under its
lock, workers that announced their end under it)."""
import lwtest as lw


def check_cycle(t, argv, what, lock_name):
    native = lw.run_native(argv)
    run = lw.run_preload(argv)
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit %r, expected %d\n%s"
             % (what, run.returncode, lw.DEFAULT_EXITCODE, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    t.require(lw.kinds_count(run.reports) == {"lock-order-inversion": 1,
                                              "blocking-call-under-lock": 1},
              "%s: reports %r, expected one lock-order-inversion and the join as a "
              "blocking call:\n%s"
              % (what, lw.kinds_count(run.reports), lw.describe_reports(run.reports)))
    rep = [r for r in run.reports if r["kind"] == "lock-order-inversion"][0]
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    kinds = sorted(lk["kind"] for lk in rep["locks"])
    t.expect(kinds == ["mutex", "thread"], "%s: the cycle's locks are %r, expected a mutex and "
             "the end of a thread" % (what, kinds))
    t.expect(rep.get("confidence") == "feasible", "%s: confidence %r, expected feasible"
             % (what, rep.get("confidence")))
    t.expect("the end of thread T1, which T0 joins" in rep["message"],
             "%s: message %r does not name the join" % (what, rep["message"]))
    if lock_name:
        t.expect(lw.lock_named(rep, lock_name) is not None,
                 "%s: the lock %s is not in the cycle" % (what, lock_name))
    edges = rep.get("cycle") or rep.get("edges") or []
    fns = []
    for e in edges:
        fns += lw.functions(lw.stack(rep, e.get("stack")))
    t.expect("main" in fns and "worker" in fns,
             "%s: the cycle's stacks should show the join in main and the worker's lock: %r"
             % (what, fns))


def main(t):
    lw.detector_is_live(t)
    check_cycle(t, [lw.example("join_cycle")], "join_cycle", "stats_lock")
    # other: a lock no other thread takes (no blocking-call report either);
    # readers: the rwlock is shared, so the join is a blocking call.
    for mode, kinds in (("other", {}), ("readers", {"blocking-call-under-lock": 1})):
        what = "join_cycle " + mode
        native = lw.native_ok(t, [lw.example("join_cycle"), mode], what)
        run = lw.run_preload([lw.example("join_cycle"), mode])
        lw.expect_same_stdout(t, native, run, what)
        t.expect(lw.kinds_count(run.reports) == kinds,
                 "%s: reports %r, expected %r:\n%s"
                 % (what, lw.kinds_count(run.reports), kinds, lw.describe_reports(run.reports)))
    what = "join_finished_ok"
    native = lw.native_ok(t, lw.example(what), what)
    run = lw.run_preload([lw.example(what)])
    lw.expect_clean_run(t, native, run, what)


lw.main(main)
