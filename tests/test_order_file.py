"""LOCKWATCH_ORDER_FILE end to end, with examples/order_pair.

A clean run that takes queue_lock then stats_lock writes its graph record at
exit; `lockwatch-report --order` turns that log into an order file listing
queue_lock before stats_lock with the edge that justifies it.  A run that
takes the two the other way round *only* (no cycle in it, so no inversion)
is reported once as an order-violation with both stacks when the file is
given, and is quiet without it; the clean run with the file is quiet; a
malformed or missing file gives one warning line and the run goes on."""
import os
import subprocess
import sys
import tempfile

import lwtest as lw

PROG = "order_pair"
FIRST, SECOND = "queue_lock", "stats_lock"


def viewer():
    return os.path.join(os.path.dirname(lw.launcher()), "lockwatch-report")


def parse_order(txt):
    """(lock names in order, edges) of an order file, read here with no help
    from the viewer's own parser."""
    locks, edges = [], []
    for line in txt.splitlines():
        f = line.split("\t")
        if f[0] == "lock":
            locks.append(f[1])
        elif f[0] == "edge":
            edges.append((f[1], f[2]))
    return locks, edges


def write_order(t, tmp):
    prog = lw.example(PROG)
    run = lw.run_preload([prog, "ab"])
    what = "order_pair ab (json log)"
    t.expect(run.returncode == 0, "%s: exit %d\n%s" % (what, run.returncode, run.describe()))
    t.expect(run.reports == [], "%s: expected no finding, got:\n%s"
             % (what, lw.describe_reports(run.reports)))
    t.require(len(run.graphs) == 1, "%s: expected one graph record, got %d:\n%s"
              % (what, len(run.graphs), run.describe()))
    g = run.graphs[0]
    keys = {lk.get("id"): lk.get("key") for lk in g.get("locks", [])}
    pairs = [(keys.get(e.get("from")), keys.get(e.get("to"))) for e in g.get("edges", [])]
    t.expect((FIRST, SECOND) in pairs, "%s: the graph record lacks the edge %s -> %s: %r"
             % (what, FIRST, SECOND, pairs))
    for e in g.get("edges", []):
        st = e.get("stack")
        t.expect(isinstance(st, int) and 0 <= st < len(g.get("stacks", [])) and g["stacks"][st],
                 "%s: edge %r has no first-seen stack" % (what, e))
    for k in ("pid", "ppid", "program", "time", "version"):
        t.expect(k in g, "%s: the graph record has no %s" % (what, k))
    t.expect(g.get("pid") == run.pid, "%s: graph pid %r, process %d" % (what, g.get("pid"), run.pid))

    log = os.path.join(tmp, "ab.jsonl")
    with open(log, "w") as f:
        f.write(run.log_text)
    order = os.path.join(tmp, "lock.order")
    r = subprocess.run([sys.executable, viewer(), "--order", order, log], capture_output=True,
                       text=True, timeout=lw.TIMEOUT)
    t.require(r.returncode == 0, "lockwatch-report --order: exit %d\n%s" % (r.returncode, r.stderr))
    with open(order) as f:
        txt = f.read()
    locks, edges = parse_order(txt)
    t.require(FIRST in locks and SECOND in locks and locks.index(FIRST) < locks.index(SECOND),
              "the order file should list %s before %s:\n%s" % (FIRST, SECOND, txt))
    t.expect((FIRST, SECOND) in edges, "the order file lacks the edge %s %s:\n%s"
             % (FIRST, SECOND, txt))
    return order


def check_violation(t, order):
    prog = lw.example(PROG)
    native = lw.native_ok(t, [prog, "ba"], "order_pair ba")
    what = "order_pair ba with LOCKWATCH_ORDER_FILE"
    run = lw.run_preload([prog, "ba"], extra_env={"LOCKWATCH_ORDER_FILE": order})
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit %d\n%s"
             % (what, run.returncode, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    t.require(len(run.reports) == 1 and run.reports[0].get("kind") == "order-violation",
              "%s: expected exactly one order-violation, got:\n%s"
              % (what, lw.describe_reports(run.reports)))
    rep = run.reports[0]
    probs = [p for p in lw.validate_report(rep, run.pid) if not p.startswith("unknown kind")]
    t.expect(not probs, "%s: malformed report: %s" % (what, probs))
    keys = {lk.get("id"): lk.get("key") for lk in rep.get("locks", [])}
    t.expect(sorted(keys.values()) == sorted([FIRST, SECOND]),
             "%s: the report should name %s and %s: %r" % (what, FIRST, SECOND, keys))
    edges = rep.get("edges") or []
    t.require(len(edges) == 1, "%s: expected one edge, got %r" % (what, edges))
    e = edges[0]
    t.expect(keys.get(e.get("from")) == SECOND and keys.get(e.get("to")) == FIRST,
             "%s: the edge should go %s -> %s (held, then taken): %r" % (what, SECOND, FIRST, e))
    for m in ("stack", "held_stack"):
        frames = lw.stack(rep, e.get(m))
        t.expect(frames and lw.has_function(frames, "stats_then_queue"),
                 "%s: edge.%s should reach stats_then_queue: %r"
                 % (what, m, lw.functions(frames or [])))
    o = rep.get("order") or {}
    t.expect(o.get("first") == FIRST and o.get("second") == SECOND and o.get("file") == order
             and isinstance(o.get("first_line"), int) and o["first_line"] < o.get("second_line", 0),
             "%s: the order member should say the file lists %s before %s: %r"
             % (what, FIRST, SECOND, o))
    t.expect(FIRST in rep.get("message", "") and SECOND in rep.get("message", ""),
             "%s: message %r" % (what, rep.get("message")))

    # A suppression rule (lockwatch(5)) silences it like any finding.
    supp = order + ".supp"
    with open(supp, "w") as f:
        f.write("order-violation:stats_then_queue\n")
    quiet = lw.run_preload([prog, "ba"], extra_env={"LOCKWATCH_ORDER_FILE": order,
                                                    "LOCKWATCH_SUPPRESSIONS": supp})
    t.expect(quiet.returncode == 0 and quiet.reports == [],
             "%s, suppressed: exit %d, findings:\n%s"
             % (what, quiet.returncode, lw.describe_reports(quiet.reports)))

    # The same run without the file: no cycle, nothing to report.
    plain = lw.run_preload([prog, "ba"])
    lw.expect_clean_run(t, native, plain, "order_pair ba without an order file")

    # Text: one banner, the file's lines, both stacks.
    text = lw.run_preload([prog, "ba"], fmt=None, log=False,
                          extra_env={"LOCKWATCH_ORDER_FILE": order})
    err = text.stderr
    t.expect(err.count("WARNING: lockwatch: lock order violation") == 1,
             "%s (text): expected one banner:\n%s" % (what, err))
    t.expect("previously acquired by the same thread here" in err and
             "lists \"%s\"" % FIRST in err, "%s (text): the edge's stacks and the file's "
             "order should be shown:\n%s" % (what, err))


def check_clean_with_file(t, order):
    prog = lw.example(PROG)
    native = lw.native_ok(t, [prog, "ab"], "order_pair ab")
    run = lw.run_preload([prog, "ab"], extra_env={"LOCKWATCH_ORDER_FILE": order})
    lw.expect_clean_run(t, native, run, "order_pair ab with its own order file")


def check_bad_files(t, tmp):
    prog = lw.example(PROG)
    native = lw.native_ok(t, [prog, "ba"], "order_pair ba")
    bad = os.path.join(tmp, "bad.order")
    with open(bad, "w") as f:
        f.write("lock\t%s\nlock\t%s\nthis is not an order file line\n" % (FIRST, SECOND))
    missing = os.path.join(tmp, "missing.order")
    for path, words in ((bad, ["line 3"]), (missing, ["cannot read", "errno"])):
        what = "order_pair ba with LOCKWATCH_ORDER_FILE=%s" % path
        run = lw.run_preload([prog, "ba"], extra_env={"LOCKWATCH_ORDER_FILE": path})
        t.expect(run.returncode == 0, "%s: exit %d (no order checks, no finding)\n%s"
                 % (what, run.returncode, run.describe()))
        lw.expect_same_stdout(t, native, run, what)
        lines = run.stderr.splitlines()
        t.expect(len(lines) == 1 and lines[0].startswith(lw.WARNING_PREFIX) and path in lines[0]
                 and all(w in lines[0] for w in words),
                 "%s: expected one warning naming the file (%s), got:\n%s"
                 % (what, ", ".join(words), run.stderr))
        t.expect(run.reports == [], "%s: no finding expected:\n%s"
                 % (what, lw.describe_reports(run.reports)))


def check_launcher(t, order):
    """lockwatch --order-file=FILE sets LOCKWATCH_ORDER_FILE."""
    with tempfile.TemporaryDirectory(prefix="lworder.") as tmp:
        log = os.path.join(tmp, "l.jsonl")
        env = lw.base_env()
        r = subprocess.run([lw.launcher(), "--order-file=" + order, "--json", "--log=" + log,
                            lw.example(PROG), "ba"], env=env, capture_output=True, text=True,
                           timeout=lw.TIMEOUT)
        reps = []
        if os.path.exists(log):
            with open(log) as f:
                reps = lw.parse_json_lines(f.read(), "launcher log")
        t.expect(r.returncode == lw.DEFAULT_EXITCODE and
                 [x.get("kind") for x in reps] == ["order-violation"],
                 "lockwatch --order-file: exit %d, findings %s\n%s"
                 % (r.returncode, lw.describe_reports(reps), r.stderr))


def check_graph_at_deadlock_exit(t):
    """The graph record is also written before lockwatch ends a deadlocked
    process (LOCKWATCH_ON_DEADLOCK=exit): both orders, the closing edge
    marked cyclic; and a text run writes none."""
    prog = lw.example("deadlock_2threads")
    run = lw.run_preload_timed([prog])
    what = "deadlock_2threads (json log)"
    kinds = sorted(r.get("kind") for r in run.reports)
    t.expect("deadlock" in kinds, "%s: no deadlock reported: %r" % (what, kinds))
    t.require(len(run.graphs) == 1, "%s: expected one graph record, got %d\n%s"
              % (what, len(run.graphs), run.describe()))
    g = run.graphs[0]
    keys = {lk.get("id"): lk.get("key") for lk in g.get("locks", [])}
    pairs = {(keys.get(e.get("from")), keys.get(e.get("to"))): e.get("cyclic")
             for e in g.get("edges", [])}
    t.expect(set(pairs) == {("lock_a", "lock_b"), ("lock_b", "lock_a")}
             and sorted(pairs.values()) == [False, True],
             "%s: the graph should hold lock_a -> lock_b and back, one edge cyclic: %r"
             % (what, pairs))
    text = lw.run_preload([lw.example(PROG), "ab"], fmt=None, log=False)
    t.expect(text.stderr == "", "order_pair ab in text mode: nothing expected on stderr, got:\n%s"
             % text.stderr)


def check_graph_keeps_destroyed_locks(t):
    """clean_ordered destroys its 64 mutexes before it exits, and with them
    their edges; the graph record still has them (one per pair of locks:
    each is a global, a class of its own), 2016 orders of 64 locks taken in
    ascending order, none cyclic."""
    run = lw.run_preload([lw.example("clean_ordered")])
    what = "clean_ordered (json log)"
    t.require(run.returncode == 0 and run.reports == [] and len(run.graphs) == 1,
              "%s: expected a clean run with one graph record\n%s" % (what, run.describe()))
    g = run.graphs[0]
    keys = {lk.get("id"): lk.get("key") for lk in g.get("locks", [])}
    pairs = {(keys.get(e.get("from")), keys.get(e.get("to"))) for e in g.get("edges", [])}
    among = {p for p in pairs if all(k and k.startswith("locks") for k in p)}
    t.expect(len(among) == 64 * 63 // 2 and not g.get("truncated"),
             "%s: expected the 2016 orders among the 64 destroyed locks, got %d (truncated %r)"
             % (what, len(among), g.get("truncated")))
    t.expect(not any(e.get("cyclic") for e in g.get("edges", [])),
             "%s: a cyclic edge in a clean run's graph" % what)


def main(t):
    lw.detector_is_live(t)
    check_graph_keeps_destroyed_locks(t)
    check_graph_at_deadlock_exit(t)
    with tempfile.TemporaryDirectory(prefix="lworder.") as tmp:
        order = write_order(t, tmp)
        check_violation(t, order)
        check_clean_with_file(t, order)
        check_bad_files(t, tmp)
        check_launcher(t, order)


lw.main(main)
