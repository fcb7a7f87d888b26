"""LOCKWATCH_HELD_STACKS=full: a held lock's acquisition stack reaches the
program's frame that called the lock helper.  examples/cxx_bank takes its
locks through std::lock_guard, which has returned by the time the second
lock forms the edge: with the default (call) the held lock shows one frame
inside the helper; with full, every cycle edge's held_stack passes through
bank::Ledger::transfer at the line of the first lock_guard (checked against
the source), starting at the same call site as the default's."""
import os

import lwtest as lw


def held_stacks(t, run, what):
    t.require(lw.kinds_count(run.reports) == {"lock-order-inversion": 1},
              "%s: reports %r, expected one inversion:\n%s"
              % (what, lw.kinds_count(run.reports), lw.describe_reports(run.reports)))
    rep = run.reports[0]
    return rep, [lw.stack(rep, e["held_stack"]) for e in rep["cycle"]]


def main(t):
    lw.detector_is_live(t)
    prog = lw.example("cxx_bank")
    src = os.path.join(lw.srcdir(), "examples", "cxx_bank.cpp")
    with open(src, encoding="utf-8") as f:
        lines = f.read().splitlines()

    _, dflt = held_stacks(t, lw.run_preload([prog]), "cxx_bank")
    run = lw.run_preload([prog], extra_env={"LOCKWATCH_HELD_STACKS": "full"})
    rep, full = held_stacks(t, run, "cxx_bank, LOCKWATCH_HELD_STACKS=full")
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "malformed report: %s" % problems)
    for i, (d, s) in enumerate(zip(dflt, full)):
        what = "cycle edge %d's held_stack" % i
        t.require(d and s, "%s: missing (default %r, full %r)" % (what, d, s))
        site = lambda fr: (os.path.basename(fr.get("module") or ""), fr.get("offset"))
        t.expect(site(d[0]) == site(s[0]), "%s: full should start at the default's call site "
                 "%r, starts at %r" % (what, site(d[0]), site(s[0])))
        t.expect(len(s) > len(d), "%s: full has %d frames, default %d" % (what, len(s), len(d)))
        hit = [fr for fr in s if "Ledger::transfer" in (fr.get("function") or "")]
        t.require(hit, "%s: no frame in bank::Ledger::transfer: %r"
                  % (what, lw.functions(s)))
        fr = hit[0]
        t.expect(fr.get("file", "").endswith("cxx_bank.cpp") and isinstance(fr.get("line"), int),
                 "%s: transfer's frame has no file:line: %r" % (what, fr))
        if isinstance(fr.get("line"), int) and 0 < fr["line"] <= len(lines):
            t.expect("lock_guard" in lines[fr["line"] - 1],
                     "%s: transfer's frame is at line %d, %r, not a lock_guard"
                     % (what, fr["line"], lines[fr["line"] - 1]))


lw.main(main)
