"""The annotations of <lockwatch.h> end to end (examples/annotations.c and
examples/cxx_annotations.cpp).

  - `ok`: every macro used correctly (asserts that hold for a mutex, an
    rwlock in both modes, a spinlock and a C11 mtx_t; a kept declared order;
    guarded ranges looked up, forgotten on destroy and free; arguments
    evaluated once): no report, nothing on stderr, the native stdout, exit 0.
  - `bad`: exactly the expected findings, in order: their kind, the lock
    (its symbol), the source line of the assertion or acquisition (marked
    in the source, found here by its marker), the acquisition stack of an
    assert-not-held, the declaration's stack of an order-violation; each
    reported once although each site runs twice.
  - `badargs`: bad arguments give only `lockwatch: warning:` lines (one per
    kind of mistake), no report, exit 0.
  - every mode, run without LD_PRELOAD, exits 0 with the macros doing
    nothing.
  - the C++ program: the same from C++ over std::mutex and
    std::shared_mutex."""
import os
import re

import lwtest as lw


def marker_line(src, marker):
    """The line of `src` (a file of examples/) whose comment is /* marker */."""
    path = os.path.join(lw.srcdir(), "examples", src)
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if re.search(r"/\* %s \*/" % re.escape(marker), line):
                return i
    raise lw.Failure("no /* %s */ marker in %s" % (marker, path))


def summary_at(rep):
    s = rep.get("summary") or {}
    return (os.path.basename(s.get("file") or ""), s.get("line"), s.get("function"))


def lock_symbols(rep):
    return [lk.get("symbol") for lk in rep.get("locks") or []]


def check_native(t, prog, modes):
    for m in modes:
        lw.native_ok(t, [prog, m], "%s %s (no lockwatch)" % (os.path.basename(prog), m))


def check_ok(t, prog):
    name = os.path.basename(prog)
    native = lw.native_ok(t, [prog, "ok"], "%s ok" % name)
    run = lw.run_preload([prog, "ok"])
    lw.expect_clean_run(t, native, run, "%s ok" % name)
    t.expect("FAILED" not in run.stdout, "%s ok: %s" % (name, run.stdout))


def check_bad(t):
    prog = lw.example("annotations")
    native = lw.native_ok(t, [prog, "bad"], "annotations bad")
    run = lw.run_preload([prog, "bad"])
    what = "annotations bad"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit %d\n%s"
             % (what, run.returncode, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    src = "annotations.c"
    want = [
        ("assert-held", "a_lock", "A1", "asserts_bad"),
        ("assert-held", "never_lock", "A2", "asserts_bad"),
        ("assert-not-held", "rw_lock", "N1", "asserts_bad"),
        ("assert-not-held", "spin_lock", "N2", "asserts_bad"),
        ("assert-not-held", "c11_lock", "N3", "asserts_bad"),
        ("order-violation", ("b_lock", "a_lock"), "O1", "order_bad"),
        ("order-violation", ("z_lock", "x_lock"), "O2", "order_bad"),
        ("order-violation", ("late_b", "late_a"), "O3", "order_bad"),
    ]
    got = [(r.get("kind"), summary_at(r)) for r in run.reports]
    t.require(len(run.reports) == len(want),
              "%s: expected %d findings, got %d: %r" % (what, len(want), len(run.reports), got))
    for rep, (kind, locks, marker, fn) in zip(run.reports, want):
        line = marker_line(src, marker)
        where = "%s, %s at line %d" % (what, kind, line)
        t.expect(rep.get("kind") == kind, "%s: kind %r" % (where, rep.get("kind")))
        t.expect(summary_at(rep) == (src, line, fn), "%s: summary at %r, expected %r"
                 % (where, summary_at(rep), (src, line, fn)))
        probs = (lw.validate_issue(rep, run.pid) if kind.startswith("assert") else
                 [p for p in lw.validate_report(rep, run.pid) if not p.startswith("unknown kind")])
        t.expect(not probs, "%s: malformed report: %s" % (where, probs))
        if kind.startswith("assert"):
            t.expect(lock_symbols(rep) == [locks], "%s: locks %r, expected [%r]"
                     % (where, lock_symbols(rep), locks))
            th = (rep.get("threads") or [{}])[0]
            frames = lw.stack(rep, th.get("stack"))
            t.expect(frames and frames[0].get("line") == line
                     and frames[0].get("function") == fn,
                     "%s: the thread's stack should start at the assertion: %r"
                     % (where, frames[:1]))
        if kind == "assert-not-held":
            lk = rep["locks"][0]
            acq = lw.stack(rep, lk.get("stack"))
            t.expect(lk.get("role") == "was acquired here" and acq
                     and acq[0].get("line") == line - 1,
                     "%s: the lock should say it was acquired on the line before: %r / %r"
                     % (where, lk.get("role"), acq[:1]))
            holds = th.get("holds") or []
            t.expect([h.get("lock") for h in holds] == [lk.get("id")],
                     "%s: the thread should hold just that lock: %r" % (where, holds))
            want_mode = "read" if locks == "rw_lock" else "write"
            t.expect(holds and holds[0].get("mode") == want_mode,
                     "%s: held mode %r, expected %s" % (where, holds, want_mode))
        if kind == "assert-held" and locks == "never_lock":
            t.expect("never saw it locked" in rep.get("message", ""),
                     "%s: message %r" % (where, rep.get("message")))
        if kind == "order-violation":
            held, taken = locks
            ids = {lk.get("id"): lk.get("symbol") for lk in rep.get("locks") or []}
            e = (rep.get("edges") or [{}])[0]
            t.expect((ids.get(e.get("from")), ids.get(e.get("to"))) == (held, taken),
                     "%s: edge %r, expected %s -> %s" % (where, e, held, taken))
            t.expect(rep.get("order") is None, "%s: a declaration has no order file: %r"
                     % (where, rep.get("order")))
            decl = [lk for lk in rep["locks"] if lk.get("symbol") == taken][0]
            dframes = lw.stack(rep, decl.get("stack"))
            t.expect("LOCKWATCH_ORDER" in (decl.get("role") or "") and dframes
                     and dframes[0].get("function") == "order_bad",
                     "%s: the lock taken should carry the declaration: %r" % (where, decl))
            held_frames = lw.stack(rep, e.get("held_stack"))
            t.expect(held_frames and held_frames[0].get("line") == line - 1,
                     "%s: held_stack should be the line before: %r" % (where, held_frames[:1]))
    # The first declaration of the chain x < y < z is the one shown.
    o2 = run.reports[6]
    decl = [lk for lk in o2["locks"] if lk.get("symbol") == "x_lock"][0]
    dl = lw.stack(o2, decl.get("stack"))[0].get("line")
    with open(os.path.join(lw.srcdir(), "examples", src)) as f:
        text = f.read().splitlines()
    t.expect("LOCKWATCH_ORDER(&x_lock, &y_lock)" in text[dl - 1],
             "O2: the declaration shown should be x before y, line %d: %r" % (dl, text[dl - 1]))
    # Declared after the fact: reported at the declaration, with its stack.
    if len(run.reports) == len(want):
        o3 = run.reports[7]
        decl = [lk for lk in o3["locks"] if lk.get("symbol") == "late_a"][0]
        dl = lw.stack(o3, decl.get("stack"))[0].get("line")
        t.expect(dl == marker_line(src, "O3d"), "O3: the declaration should be at line %d, got %r"
                 % (marker_line(src, "O3d"), dl))

    # Suppressions accept the new kinds.
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".supp", delete=False) as f:
        f.write("assert-held:asserts_bad\nassert-not-held:asserts_bad\n")
        supp = f.name
    try:
        sup = lw.run_preload([prog, "bad"], extra_env={"LOCKWATCH_SUPPRESSIONS": supp})
    finally:
        os.unlink(supp)
    t.expect([r.get("kind") for r in sup.reports] == ["order-violation"] * 3
             and "5 findings suppressed" in sup.stderr,
             "%s, assertions suppressed: %r\n%s" % (what, [r.get("kind") for r in sup.reports],
                                                     sup.stderr))

    # Text: one banner per finding, with the titles.
    text = lw.run_preload([prog, "bad"], fmt=None, log=False)
    err = text.stderr
    t.expect(err.count("WARNING: lockwatch: lock not held where the program asserts it is") == 2
             and err.count("WARNING: lockwatch: lock held where the program asserts it is not") == 3
             and err.count("WARNING: lockwatch: lock order violation (against the declared lock "
                           "order)") == 3
             and "declared with LOCKWATCH_ORDER" in err,
             "%s (text): banners:\n%s" % (what, err))


def check_badargs(t):
    prog = lw.example("annotations")
    native = lw.native_ok(t, [prog, "badargs"], "annotations badargs")
    run = lw.run_preload([prog, "badargs"])
    what = "annotations badargs"
    t.expect(run.returncode == 0 and run.reports == [],
             "%s: exit %d, findings:\n%s" % (what, run.returncode, lw.describe_reports(run.reports)))
    lw.expect_same_stdout(t, native, run, what)
    lines = run.stderr.splitlines()
    t.expect(all(l.startswith(lw.WARNING_PREFIX) for l in lines),
             "%s: only warnings expected on stderr:\n%s" % (what, run.stderr))
    for what_w in ("LOCKWATCH_ASSERT_HELD(NULL)", "LOCKWATCH_ORDER(",
                   "ignored: it needs a memory address", "overlaps a range"):
        n = sum(what_w in l for l in lines)
        t.expect(n == 1, "%s: expected one warning with %r, got %d:\n%s"
                 % (what, what_w, n, run.stderr))
    t.expect(len(lines) == 4, "%s: expected 4 warning lines:\n%s" % (what, run.stderr))


def check_cxx_bad(t):
    prog = lw.example("cxx_annotations")
    run = lw.run_preload([prog, "bad"])
    what = "cxx_annotations bad"
    src = "cxx_annotations.cpp"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit %d" % (what, run.returncode))
    got = [(r.get("kind"), summary_at(r)[:2]) for r in run.reports]
    want = [("assert-held", (src, marker_line(src, "CA1"))),
            ("assert-not-held", (src, marker_line(src, "CN1"))),
            ("order-violation", (src, marker_line(src, "CO1")))]
    t.expect(got == want, "%s: findings %r, expected %r" % (what, got, want))
    for r in run.reports[:2]:
        probs = lw.validate_issue(r, run.pid)
        t.expect(not probs, "%s: malformed %s: %s" % (what, r.get("kind"), probs))
    if len(run.reports) == 3:
        t.expect(lock_symbols(run.reports[0]) == ["first_mutex"]
                 and lock_symbols(run.reports[1]) == ["table_mutex"],
                 "%s: locks %r, %r" % (what, lock_symbols(run.reports[0]),
                                       lock_symbols(run.reports[1])))
        hold = (run.reports[1]["threads"][0].get("holds") or [{}])[0]
        t.expect(hold.get("mode") == "read", "%s: shared_lock held %r" % (what, hold))


def main(t):
    lw.detector_is_live(t)
    check_native(t, lw.example("annotations"), ("ok", "bad", "badargs"))
    check_native(t, lw.example("cxx_annotations"), ("ok", "bad"))
    check_ok(t, lw.example("annotations"))
    check_ok(t, lw.example("cxx_annotations"))
    check_bad(t)
    check_badargs(t)
    check_cxx_bad(t)


lw.main(main)
