"""Misuse of the primitives: one example per report kind.

For each kind (double-lock, rwlock-upgrade, unlock-not-owned, destroy-locked,
cond-wait-unlocked, cond-multiple-mutexes, exit-holding-lock,
use-after-destroy) checks: the JSON kind, the number of reports (each call
site runs several times in the examples and must be reported once), the
locks named (lockwatch_name_lock names in `locks`, the thread's holds and
waits_for), the backtraces, the exit status and the unchanged output.  The
text reports are checked for the same count and kinds.

double_lock and rwlock_upgrade hang without lockwatch (a thread waits for
itself): they are run only under lockwatch, with a time limit; after the
report the deadlock detector applies LOCKWATCH_ON_DEADLOCK without a
second report.
"""
import signal

import lwtest as lw

STARTUP_ALLOWANCE = 0.5   # see test_deadlock.py
HANG_LIMIT = 20.0


def run_misuse(t, name, expected):
    """Run a terminating misuse example natively and under lockwatch (json):
    same stdout, exit status 66, reports by kind as expected, each well formed."""
    prog = lw.example(name)
    native = lw.native_ok(t, prog, name)
    res = lw.run_preload(prog)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (name, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    lw.expect_same_stdout(t, native, res, name)
    lw.expect_quiet_stderr(t, res, name)
    t.expect(lw.kinds_count(res.reports) == expected,
             "%s: reports by kind %r, expected %r (each call site once):\n%s"
             % (name, lw.kinds_count(res.reports), expected, lw.describe_reports(res.reports)))
    for i, rep in enumerate(res.reports):
        problems = lw.validate_issue(rep, res.pid)
        t.expect(not problems, "%s: report %d (%s) is malformed:\n  %s\n%s"
                 % (name, i, rep.get("kind"), "\n  ".join(problems), lw.describe_reports([rep])))
        t.expect(len(rep.get("threads") or []) == 1,
                 "%s: report %d (%s) should describe exactly the offending thread: %r"
                 % (name, i, rep.get("kind"), [th.get("id") for th in rep.get("threads") or []]))
    check_text(t, name, res)
    return res


def check_text(t, name, json_run):
    """The text reports: as many as the JSON ones, with the same kinds."""
    res = lw.run_preload(lw.example(name), fmt=None, log=False)
    kinds = sorted(r.get("kind") for r in json_run.reports)
    got = sorted(line.split("SUMMARY: lockwatch: ", 1)[1].split(" in ", 1)[0]
                 for line in res.stderr.splitlines() if line.startswith("SUMMARY: lockwatch: "))
    t.expect(got == kinds, "%s (text): SUMMARY kinds %r, expected %r:\n%s"
             % (name, got, kinds, res.stderr))
    t.expect(lw.count_lines_starting(res.stderr, "WARNING: lockwatch: ") == len(kinds),
             "%s (text): expected %d WARNING lines:\n%s" % (name, len(kinds), res.stderr))
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s (text): exit status %d"
             % (name, res.returncode))


def naming(t, reports, name, what, pred=None):
    """The one report whose `locks` has a lock named `name` (and that pred accepts)."""
    found = [r for r in reports if lw.lock_named(r, name) is not None and (pred is None or pred(r))]
    t.require(len(found) == 1, "%s: expected exactly 1 report naming lock %r, got %d:\n%s"
              % (what, name, len(found), lw.describe_reports(reports)))
    return found[0]


def offender(rep):
    return rep["threads"][0]


def shows(t, rep, idx, fn, what, where):
    frames = lw.stack(rep, idx)
    t.expect(lw.has_function(frames, fn), "%s: %s does not show %s: %r"
             % (what, where, fn, lw.functions(frames)))


def holds_ids(th):
    return [h["lock"] for h in th["holds"]]


def check_relock_report(t, rep, name, what, call, fn, mode="write", held_fn=None, blocks=True):
    """A double-lock / rwlock-upgrade report: the thread holds the lock and
    asks for it again at a call site other than the one that took it.  It
    waits for the lock only when the call blocks (not when it fails with
    EDEADLK)."""
    lk = lw.lock_named(rep, name)
    th = offender(rep)
    want = lk["id"] if blocks else None
    t.expect(th["waits_for"] == want, "%s: waits_for %r, expected %s (%s)"
             % (what, th["waits_for"], want, name))
    t.expect(holds_ids(th) == [lk["id"]], "%s: holds %r, expected [%s] (%s)"
             % (what, holds_ids(th), lk["id"], name))
    if th["holds"]:
        h = th["holds"][0]
        t.expect(h["mode"] == mode, "%s: %s held in mode %r, expected %r" % (what, name, h["mode"], mode))
        shows(t, rep, h["stack"], held_fn or fn, what, "the held lock's acquisition stack")
        a, b = lw.stack(rep, h["stack"]), lw.stack(rep, th["stack"])
        t.expect(a and b and a[0]["pc"] != b[0]["pc"],
                 "%s: the first acquisition and the relock are different calls, but their "
                 "stacks start at the same pc" % what)
    t.expect(call in th["action"], "%s: action %r does not name %s" % (what, th["action"], call))
    shows(t, rep, th["stack"], fn, what, "the relock's stack")
    t.expect(th["id"] != "T0" and th["created_by"] == "T0",
             "%s: the relocking thread is a worker created by T0: %r" % (what, th))


def check_double_lock_errorcheck(t):
    name = "double_lock_errorcheck"
    res = run_misuse(t, name, {"double-lock": 2})
    for lock, kind, mtype, fn, call in (
            ("checked", "mutex", "errorcheck", "relock_checked", "pthread_mutex_lock"),
            ("table", "rwlock", None, "relock_table", "pthread_rwlock_wrlock")):
        what = "%s (%s)" % (name, lock)
        rep = naming(t, res.reports, lock, what)
        lk = lw.lock_named(rep, lock)
        t.expect(lk["kind"] == kind and lk["type"] == mtype, "%s: lock is %r/%r, expected %r/%r"
                 % (what, lk["kind"], lk["type"], kind, mtype))
        t.expect("EDEADLK" in rep["message"], "%s: message %r should say the call returns "
                 "EDEADLK" % (what, rep["message"]))
        check_relock_report(t, rep, lock, what, call, fn, blocks=False)


def check_unlock_not_owned(t):
    name = "unlock_not_owned"
    res = run_misuse(t, name, {"unlock-not-owned": 2})
    what = name + " (shared, held by the worker)"
    rep = naming(t, res.reports, "shared", what)
    th = offender(rep)
    owner = rep.get("owner_tid")
    t.expect(isinstance(owner, int) and owner > 0 and owner != res.pid,
             "%s: owner_tid %r should be the worker's tid (not the main thread's %d)"
             % (what, owner, res.pid))
    t.expect(th["id"] == "T0" and th["holds"] == [] and th["waits_for"] is None,
             "%s: the main thread unlocks holding nothing: %r" % (what, th))
    t.expect("held by another thread" in rep["message"] and str(owner) in rep["message"],
             "%s: message %r" % (what, rep["message"]))
    shows(t, rep, th["stack"], "unlock_shared", what, "the unlock's stack")
    what = name + " (idle, not locked)"
    rep = naming(t, res.reports, "idle", what)
    th = offender(rep)
    t.expect("owner_tid" in rep and rep["owner_tid"] is None,
             "%s: owner_tid should be null, is %r" % (what, rep.get("owner_tid", "missing")))
    t.expect("not locked" in rep["message"], "%s: message %r" % (what, rep["message"]))
    shows(t, rep, th["stack"], "unlock_idle", what, "the unlock's stack")


def check_destroy_locked(t):
    name = "destroy_locked"
    res = run_misuse(t, name, {"destroy-locked": 3})
    what = name + " (self_held)"
    rep = naming(t, res.reports, "self_held", what)
    lk = lw.lock_named(rep, "self_held")
    th = offender(rep)
    t.expect(holds_ids(th) == [lk["id"]], "%s: the thread holds %r, expected [%s]"
             % (what, holds_ids(th), lk["id"]))
    t.expect("while it holds it" in rep["message"], "%s: message %r" % (what, rep["message"]))
    shows(t, rep, th["stack"], "destroy_own", what, "the destroy's stack")
    what = name + " (other_held)"
    rep = naming(t, res.reports, "other_held", what)
    th = offender(rep)
    t.expect(th["holds"] == [], "%s: the main thread holds nothing: %r" % (what, th["holds"]))
    t.expect("tid" in rep["message"] and "holds it" in rep["message"],
             "%s: message %r should give the holder's tid" % (what, rep["message"]))
    what = name + " (condvar cv)"
    rep = naming(t, res.reports, "cv", what)
    th = offender(rep)
    t.expect("1 thread waits" in rep["message"], "%s: message %r" % (what, rep["message"]))
    shows(t, rep, th["stack"], "destroy_cv_with_waiter", what, "the destroy's stack")
    cv = lw.lock_named(rep, "cv")
    t.expect(cv["kind"] == "condvar" and cv["type"] is None,
             "%s: the condition variable is listed in `locks` as %r/%r, expected condvar/None"
             % (what, cv["kind"], cv["type"]))


def check_destroy_state(t):
    """rwlocks and spinlocks destroyed free -- after a writer left (glibc's
    write-phase bit stays set), after two reads, after a spinlock's
    lock/unlock (an x86 spinlock reads 1 when free) -- are not reported;
    destroyed while another thread holds them, they are (the lock word is
    all lockwatch has: neither records its holders).  A priority-protect
    mutex, whose lock word holds its priority ceiling, is free too."""
    name = "destroy_state"
    res = run_misuse(t, name, {"destroy-locked": 2})
    t.expect("10 of 10 destroy calls returned 0" in res.stdout,
             "%s: every destroy call should succeed: %r" % (name, res.stdout))
    for lock in ("rw_written", "rw_read", "spin_used", "pp_mutex"):
        found = [r for r in res.reports if lw.lock_named(r, lock) is not None]
        t.expect(not found, "%s: %s was free when it was destroyed, but is reported:\n%s"
                 % (name, lock, lw.describe_reports(found)))
    for lock, kind in (("spin_held", "spinlock"), ("rw_reader_held", "rwlock")):
        what = "%s (%s)" % (name, lock)
        found = [r for r in res.reports if lw.lock_named(r, lock) is not None]
        t.expect(len(found) == 1, "%s: %d reports for the destroy of %s while another thread "
                 "holds it, expected 1:\n%s"
                 % (what, len(found), lock, lw.describe_reports(res.reports)))
        if len(found) != 1:
            continue
        rep = found[0]
        lk = lw.lock_named(rep, lock)
        th = offender(rep)
        t.expect(lk["kind"] == kind, "%s: kind %r, expected %r" % (what, lk["kind"], kind))
        t.expect(th["id"] == "T0" and th["holds"] == [],
                 "%s: the main thread destroys it holding nothing: %r" % (what, th))
        t.expect("while it is locked" in rep["message"], "%s: message %r" % (what, rep["message"]))
        t.expect("holder_tid" in rep and rep["holder_tid"] is None,
                 "%s: holder_tid should be null, is %r" % (what, rep.get("holder_tid", "missing")))
        shows(t, rep, th["stack"], "main", what, "the destroy's stack")


def check_cond_wait_unlocked(t):
    name = "cond_wait_unlocked"
    res = run_misuse(t, name, {"cond-wait-unlocked": 1})
    rep = naming(t, res.reports, "mtx", name)
    th = offender(rep)
    t.expect(th["holds"] == [] and th["id"] != "T0",
             "%s: the worker waits holding nothing: %r" % (name, th))
    t.expect("pthread_cond_timedwait" in th["action"], "%s: action %r" % (name, th["action"]))
    t.expect("does not hold" in rep["message"], "%s: message %r" % (name, rep["message"]))
    shows(t, rep, th["stack"], "poll_ready", name, "the wait's stack")


def check_cond_multiple_mutexes(t):
    name = "cond_multiple_mutexes"
    res = run_misuse(t, name, {"cond-multiple-mutexes": 1})
    rep = naming(t, res.reports, "m2", name)
    m1, m2 = lw.lock_named(rep, "m1"), lw.lock_named(rep, "m2")
    t.require(m1 is not None, "%s: m1, the other waiter's mutex, is not named: %r"
              % (name, rep["locks"]))
    t.expect(m2.get("role") == "is the mutex of this wait", "%s: role of m2: %r" % (name, m2.get("role")))
    t.expect("other waiters" in (m1.get("role") or ""), "%s: role of m1: %r" % (name, m1.get("role")))
    if m1.get("stack") is not None:
        shows(t, rep, m1["stack"], "waiter1", name, "where m1 was paired with the condvar")
    else:
        t.expect(False, "%s: no stack for where m1 was paired with the condvar" % name)
    th = offender(rep)
    t.expect(holds_ids(th) == [m2["id"]], "%s: the waiter holds %r, expected [m2=%s]"
             % (name, holds_ids(th), m2["id"]))
    shows(t, rep, th["stack"], "waiter2", name, "the second waiter's stack")
    t.expect("pthread_cond_wait" in th["action"], "%s: action %r" % (name, th["action"]))


def check_exit_holding_lock(t):
    name = "exit_holding_lock"
    # One per way of ending; the returner's site runs in 3 threads.
    res = run_misuse(t, name, {"exit-holding-lock": 3})
    for lock, how, fn in (("ret_lock", "returned from its start routine", "returner"),
                          ("exit_lock", "called pthread_exit", "quitter"),
                          ("cancel_lock", "ended", "spinner")):
        what = "%s (%s)" % (name, lock)
        found = [r for r in res.reports if lw.lock_named(r, lock) is not None]
        t.expect(len(found) == 1, "%s: %d reports for threads that %s holding %s, expected 1 "
                 "(once per call site)" % (what, len(found), how, lock))
        if not found:
            continue
        rep = found[0]
        th = offender(rep)
        lk = lw.lock_named(rep, lock)
        t.expect(holds_ids(th) == [lk["id"]], "%s: holds %r, expected [%s]"
                 % (what, holds_ids(th), lk["id"]))
        t.expect(th["action"].startswith(how), "%s: action %r, expected %r ..."
                 % (what, th["action"], how))
        t.expect(how in rep["message"], "%s: message %r" % (what, rep["message"]))
        t.expect(th["id"] != "T0" and th["created_by"] == "T0", "%s: thread %r" % (what, th))
        if th["holds"]:
            shows(t, rep, th["holds"][0]["stack"], fn, what, "the held lock's acquisition stack")
        if lock == "exit_lock":
            shows(t, rep, th["stack"], "quitter", what, "the pthread_exit stack")
        if lock == "ret_lock":
            shows(t, rep, th["stack"], "returner", what, "the stack (its start routine)")


def check_use_after_destroy(t):
    name = "use_after_destroy"
    res = run_misuse(t, name, {"use-after-destroy": 4})
    for lock, kind, call, fn in (("gone", "mutex", "pthread_mutex_lock", "use_mutex"),
                                 ("gone", "mutex", "pthread_mutex_unlock", "use_mutex"),
                                 ("rw_gone", "rwlock", "pthread_rwlock_rdlock", "use_rwlock"),
                                 ("rw_gone", "rwlock", "pthread_rwlock_unlock", "use_rwlock")):
        what = "%s (%s on %s)" % (name, call, lock)
        rep = naming(t, res.reports, lock, what,
                     lambda r, c=call: ("called %s()" % c) in offender(r)["action"])
        lk = lw.lock_named(rep, lock)
        th = offender(rep)
        t.expect(lk["kind"] == kind, "%s: kind %r" % (what, lk["kind"]))
        t.expect(lk.get("role") == "was destroyed here" and lk.get("stack") is not None,
                 "%s: the lock should say where it was destroyed: %r" % (what, lk))
        if lk.get("stack") is not None:
            shows(t, rep, lk["stack"], "retire", what, "where the lock was destroyed")
        shows(t, rep, th["stack"], fn, what, "the use's stack")
        t.expect("after it was destroyed" in rep["message"], "%s: message %r" % (what, rep["message"]))
        t.expect(th["holds"] == [], "%s: holds %r" % (what, th["holds"]))


def check_exitcode_zero(t):
    name = "unlock_not_owned"
    res = lw.run_preload(lw.example(name), extra_env={"LOCKWATCH_EXITCODE": "0"})
    t.expect(res.returncode == 0 and len(res.reports) == 2,
             "%s with LOCKWATCH_EXITCODE=0: status %d (expected the program's 0), %d reports"
             % (name, res.returncode, len(res.reports)))


# ---- the two that hang without lockwatch ----

def check_self_wait(t, name, kind, lock, call, fn, mode, held_fn):
    ms = 300
    what = "%s, LOCKWATCH_DEADLOCK_MS=%d" % (name, ms)
    res = lw.run_preload_timed(lw.example(name), extra_env={"LOCKWATCH_DEADLOCK_MS": str(ms)},
                               timeout=HANG_LIMIT)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE,
             "%s: exit status %r, expected %d (the thread waits for itself; "
             "LOCKWATCH_ON_DEADLOCK=exit)\n%s" % (what, res.returncode, lw.DEFAULT_EXITCODE,
                                                  res.describe()))
    low, high = ms / 1000.0, ms / 1000.0 + 1.0 + STARTUP_ALLOWANCE
    t.expect(low <= res.elapsed < high, "%s: ended after %.3f s, expected %.3f .. %.3f s"
             % (what, res.elapsed, low, high))
    t.expect(res.stdout == name + ": starting\n", "%s: stdout %r" % (what, res.stdout))
    t.expect(lw.kinds_count(res.reports) == {kind: 1},
             "%s: reports by kind %r, expected only one %s (no deadlock report after it):\n%s"
             % (what, lw.kinds_count(res.reports), kind, lw.describe_reports(res.reports)))
    if len(res.reports) == 1:
        rep = res.reports[0]
        problems = lw.validate_issue(rep, res.pid)
        t.expect(not problems, "%s: malformed report: %s" % (what, problems))
        if not problems:
            check_relock_report(t, rep, lock, what, call, fn, mode, held_fn)
    for action, rc in (("abort", -signal.SIGABRT), ("wait", None)):
        what = "%s, LOCKWATCH_ON_DEADLOCK=%s" % (name, action)
        env = {"LOCKWATCH_DEADLOCK_MS": str(ms), "LOCKWATCH_ON_DEADLOCK": action}
        with lw.Spawned(lw.example(name), extra_env=env) as sp:
            got = sp.wait(ms / 1000.0 + (2.0 if rc is None else HANG_LIMIT))
            so_far = sp.reports()
        t.expect(got == rc, "%s: status %r, expected %s" % (what, got,
                 "still running" if rc is None else rc))
        t.expect(lw.kinds_count(so_far) == {kind: 1}, "%s: reports %r, expected one %s"
                 % (what, lw.kinds_count(so_far), kind))


def main(t):
    check_double_lock_errorcheck(t)
    check_unlock_not_owned(t)
    check_destroy_locked(t)
    check_destroy_state(t)
    check_cond_wait_unlocked(t)
    check_cond_multiple_mutexes(t)
    check_exit_holding_lock(t)
    check_use_after_destroy(t)
    check_exitcode_zero(t)
    check_self_wait(t, "double_lock", "double-lock", "totals", "pthread_mutex_lock", "add_item",
                    "write", "update_total")
    check_self_wait(t, "rwlock_upgrade", "rwlock-upgrade", "index_lock", "pthread_rwlock_wrlock",
                    "lookup_or_insert", "read", "lookup_or_insert")


lw.main(main)
