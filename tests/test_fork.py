"""fork() while other threads are inside lockwatch.

fork_stress forks 200 times while threads keep lockwatch's internal locks
busy (wait records of contended mutexes, lockwatch_name_lock, new locks and
edges, reports); each child takes locks, waits on a contended one, creates
and joins a thread, names a lock and exits 0, under an alarm.  A child
forked while another thread held one of lockwatch's locks that the fork
handlers do not take hangs, and so does one forked while another thread
is inside libunwind (its locks, and the loader lock of dl_iterate_phdr,
have no fork handlers).  This cannot be made certain, only likely: on the
2-core test machine, before the fork handlers took every internal lock,
every run had hung children (12 of 1069 forks in 6 runs, in names_lock);
with the locks taken but libunwind not gated, 1 child of 4800 forks hung
(in libunwind).  tests/unit/test_fork.c checks each lock deterministically.

fork_stale_wait and fork_stale_cond are the deterministic part: the child
must not see the state of threads that do not exist in it (a published wait
record, a condition variable's waiter count).

Every program must behave as natively: exit 0, each child exits 0, and
no report is made by any child."""
import lwtest as lw

FORKS = "200"
# Slices of 5 ms: contended waits publish their records quickly.
STRESS_ENV = {"LOCKWATCH_DEADLOCK_MS": "40"}
# The parent's reporter thread makes lock-order inversions on purpose; its
# contenders sleep holding a shared mutex (blocking-call-under-lock).
PARENT_KINDS = {"lock-order-inversion", "blocking-call-under-lock"}


def child_reports(run):
    return [r for r in run.reports if r.get("pid") != run.pid]


def check_stress(t):
    prog = lw.example("fork_stress")
    native = lw.run_native([prog, FORKS], timeout=300)
    t.require(native.returncode == 0, "fork_stress natively:\n" + native.describe())
    run = lw.run_preload([prog, FORKS], extra_env=STRESS_ENV, timeout=300)
    summary = "fork_stress: %s children: %s exited 0, 0 hung, 0 failed" % (FORKS, FORKS)
    t.expect(summary in run.stdout,
             "fork_stress under lockwatch: a child hung or failed:\n" + run.describe()[:4000])
    t.expect(run.returncode in (0, lw.DEFAULT_EXITCODE),
             "fork_stress under lockwatch exited %s" % run.returncode)
    stray = child_reports(run)
    t.expect(not stray, "fork_stress: %d report(s) made by children, first: %r"
             % (len(stray), stray[:1]))
    kinds = {r.get("kind") for r in run.reports} - PARENT_KINDS
    t.expect(not kinds, "fork_stress: unexpected report kinds %s" % sorted(kinds))


def check_stale(t, name, extra_env):
    lw.check_quiet_example(t, name, (("json", extra_env), (None, extra_env)))


def main(t):
    lw.detector_is_live(t)
    # The join under a held mutex is a blocking call by design there.
    check_stale(t, "fork_stale_wait", {"LOCKWATCH_DEADLOCK_MS": "50",
                                       "LOCKWATCH_BLOCKING": "none"})
    check_stale(t, "fork_stale_cond", {"LOCKWATCH_DEADLOCK_MS": "50"})
    check_stress(t)


lw.main(main)
