"""Memory given back while the calling thread holds a lock in it is
destroy-locked (lockwatch(7)), and the lock is forgotten.

free_locked (free), munmap_locked (munmap) and realloc_locked (realloc that
moves the block, mremap that shrinks the mapping): each call site makes
exactly one destroy-locked report naming the call, the lock (by its
lockwatch_name_lock name), where the thread acquired it, and the releasing
call's stack; holder_tid is the calling thread's.  free_locked and
munmap_locked then take a new lock in the reused memory after another lock
(registry -> conn), an order that, had the freed lock stayed on the held
stack, would close a phantom cycle: there must be no lock-order-inversion.
The report's fingerprint is the same in two runs, and a suppression rule
by function silences it (the exit status is then the program's).

free_ok frees unlocked mutexes, frees and unmaps memory right next to held
locks (blocks whose locks end where their usable memory ends), reallocs and
frees while holding unrelated locks, and frees around a mutex another thread
holds: no report, exit 0, the same output as natively (JSON and text).
"""
import os
import tempfile

import lwtest as lw

# (example, call, lock name, function that takes the lock and releases the
# memory, what the native run must print: the memory really was reused)
CASES = [
    ("free_locked", "free", "conn_lock", "close_conn", "memory reused in 3"),
    ("munmap_locked", "munmap", "table_lock", "drop_table", "address reused in 3"),
    ("realloc_locked", "realloc", "buf_lock", "grow_buffer", "moved by realloc 3"),
    ("realloc_locked", "mremap", "tail_lock", "shrink_map", "shrunk by mremap 3"),
]


def reports_of(t, name):
    """Run name natively and under lockwatch (JSON): the checks every case
    shares.  Returns (native, run)."""
    prog = lw.example(name)
    native = lw.native_ok(t, prog, name)
    res = lw.run_preload(prog)
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (name, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    lw.expect_same_stdout(t, native, res, name)
    lw.expect_quiet_stderr(t, res, name)
    want = {"destroy-locked": sum(1 for c in CASES if c[0] == name)}
    t.expect(lw.kinds_count(res.reports) == want,
             "%s: reports by kind %r, expected %r (once per call site, and no "
             "lock-order-inversion through the reused memory):\n%s"
             % (name, lw.kinds_count(res.reports), want, lw.describe_reports(res.reports)))
    for i, rep in enumerate(res.reports):
        problems = lw.validate_issue(rep, res.pid)
        t.expect(not problems, "%s: report %d is malformed:\n  %s"
                 % (name, i, "\n  ".join(problems)))
    return native, res


def check_case(t, res, name, call, lock, fn):
    what = "%s (%s)" % (name, call)
    found = [r for r in res.reports if lw.lock_named(r, lock) is not None]
    t.require(len(found) == 1, "%s: expected one report naming %r, got %d:\n%s"
              % (what, lock, len(found), lw.describe_reports(res.reports)))
    rep = found[0]
    lk = lw.lock_named(rep, lock)
    t.expect(lk["kind"] == "mutex", "%s: lock kind %r" % (what, lk["kind"]))
    t.expect(len(rep["threads"]) == 1, "%s: threads %r" % (what, rep["threads"]))
    th = rep["threads"][0]
    t.expect(th["id"] == "T0", "%s: the main thread releases the memory: %r" % (what, th["id"]))
    t.expect(th["action"] == "called %s() here" % call, "%s: action %r" % (what, th["action"]))
    t.expect(("with %s()" % call) in rep["message"] and "while it holds it" in rep["message"],
             "%s: message %r should name %s() and say the thread holds the lock"
             % (what, rep["message"], call))
    t.expect(rep.get("holder_tid") == res.pid,
             "%s: holder_tid %r, expected the main thread's tid %d"
             % (what, rep.get("holder_tid"), res.pid))
    held = [h for h in th["holds"] if h["lock"] == lk["id"]]
    t.expect(len(held) == 1, "%s: the thread's holds %r should list %s (%s)"
             % (what, th["holds"], lk["id"], lock))
    if held:
        t.expect(lw.has_function(lw.stack(rep, held[0]["stack"]), fn),
                 "%s: where %s was acquired does not show %s: %r"
                 % (what, lock, fn, lw.functions(lw.stack(rep, held[0]["stack"]))))
    frames = lw.stack(rep, th["stack"])
    t.expect(lw.has_function(frames, fn), "%s: the %s() stack does not show %s: %r"
             % (what, call, fn, lw.functions(frames)))
    return rep


def check_text(t, name, n):
    res = lw.run_preload(lw.example(name), fmt=None, log=False)
    got = [l for l in res.stderr.splitlines() if l.startswith("SUMMARY: lockwatch: ")]
    t.expect(len(got) == n and all(l.startswith("SUMMARY: lockwatch: destroy-locked in ")
                                   for l in got),
             "%s (text): expected %d destroy-locked SUMMARY lines, got %r:\n%s"
             % (name, n, got, res.stderr))
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s (text): exit status %d"
             % (name, res.returncode))


def check_fingerprint_and_suppression(t, first):
    """The free report has the same fingerprint in a second run, and a
    destroy-locked rule by function silences it."""
    name = "free_locked"
    again = lw.run_preload(lw.example(name))
    fps = sorted(r.get("fingerprint") for r in again.reports)
    t.expect(fps == sorted(r.get("fingerprint") for r in first.reports),
             "%s: fingerprints differ between runs: %r vs %r"
             % (name, fps, sorted(r.get("fingerprint") for r in first.reports)))
    with tempfile.TemporaryDirectory(prefix="lwsupp.") as tmp:
        path = os.path.join(tmp, "free.supp")
        with open(path, "w", encoding="utf-8") as f:
            f.write("destroy-locked:close_conn\n")
        res = lw.run_preload(lw.example(name), extra_env={"LOCKWATCH_SUPPRESSIONS": path})
    t.expect(res.returncode == 0 and not res.reports,
             "%s with destroy-locked:close_conn suppressed: exit %d, %d report(s)\n%s"
             % (name, res.returncode, len(res.reports), lw.describe_reports(res.reports)))


def check_free_ok(t):
    name = "free_ok"
    native = lw.native_ok(t, lw.example(name), name)
    t.expect("locks at the blocks' ends: yes" in native.stdout,
             "%s: the held locks must end where their blocks' usable memory ends, so that the "
             "neighbours' checks are exact: %r" % (name, native.stdout))
    lw.check_quiet_example(t, name)


def main(t):
    lw.detector_is_live(t)
    runs = {}
    for name, call, lock, fn, reused in CASES:
        if name not in runs:
            runs[name] = reports_of(t, name)
            check_text(t, name, sum(1 for c in CASES if c[0] == name))
        native, res = runs[name]
        t.expect(reused in native.stdout, "%s: the native run should say %r (else the test "
                 "proves nothing): %r" % (name, reused, native.stdout))
        check_case(t, res, name, call, lock, fn)
    check_fingerprint_and_suppression(t, runs["free_locked"][1])
    check_free_ok(t)


lw.main(main)
