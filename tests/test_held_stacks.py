"""A held lock's acquisition stack reaches the program's frame that called
the lock helper, with the default LOCKWATCH_HELD_STACKS and with full.

examples/cxx_bank takes its locks through std::lock_guard (and, at -O0,
std::mutex::lock and __gthread_mutex_lock), all of which have returned by
the time the second lock forms the edge; examples/helper_pool through a C
xlock() helper, after the worker has used it 2,000 times.  Every cycle
edge's held_stack must pass through the function that called the helper
(bank::Ledger::transfer; move_item or audit) at the line of that call,
checked against the source: the line takes the held lock.  With
LOCKWATCH_HELD_STACKS=full the stacks must be the same; with call (never
captured) one frame inside the helper."""
import os
import re

import lwtest as lw


def held_stacks(t, run, what):
    t.require(lw.kinds_count(run.reports) == {"lock-order-inversion": 1},
              "%s: reports %r, expected one inversion:\n%s"
              % (what, lw.kinds_count(run.reports), lw.describe_reports(run.reports)))
    rep = run.reports[0]
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    return rep, [lw.stack(rep, e["held_stack"]) for e in rep["cycle"]]


def source_lines(name):
    with open(os.path.join(lw.srcdir(), "examples", name), encoding="utf-8") as f:
        return f.read().splitlines()


def check_edge(t, what, frames, callers, lines, line_ok):
    """frames reach one of `callers` at a line for which line_ok(text) holds."""
    t.require(frames, "%s: missing" % what)
    hit = [fr for fr in frames if any(c in (fr.get("function") or "") for c in callers)]
    t.require(hit, "%s: no frame in %s: %r" % (what, " or ".join(callers),
                                                lw.functions(frames)))
    fr = hit[0]
    line = fr.get("line")
    t.require(isinstance(line, int) and 0 < line <= len(lines),
              "%s: %s's frame has no file:line: %r" % (what, fr.get("function"), fr))
    t.expect(line_ok(lines[line - 1], fr),
             "%s: %s's frame is at line %d, %r, which does not take the held lock"
             % (what, fr.get("function"), line, lines[line - 1]))


def sites(stacks):
    return [[(os.path.basename(fr.get("module") or ""), fr.get("offset")) for fr in s]
            for s in stacks]


def main(t):
    lw.detector_is_live(t)

    # C++: std::lock_guard.  The held lock's line holds a lock_guard.
    bank = lw.example("cxx_bank")
    bank_src = source_lines("cxx_bank.cpp")
    results = {}
    for mode in ("auto", "full"):
        what = "cxx_bank, LOCKWATCH_HELD_STACKS=%s" % mode
        run = lw.run_preload([bank], extra_env={"LOCKWATCH_HELD_STACKS": mode})
        _, stacks = held_stacks(t, run, what)
        results[mode] = stacks
        for i, s in enumerate(stacks):
            check_edge(t, "%s: cycle edge %d's held_stack" % (what, i), s,
                       ["Ledger::transfer"], bank_src, lambda text, fr: "lock_guard" in text)
    t.expect(sites(results["auto"]) == sites(results["full"]),
             "cxx_bank: the default's held stacks differ from full's:\n%r\n%r"
             % (sites(results["auto"]), sites(results["full"])))
    # call: never captured; the helper's frame is all that is left.
    run = lw.run_preload([bank], extra_env={"LOCKWATCH_HELD_STACKS": "call"})
    _, stacks = held_stacks(t, run, "cxx_bank, LOCKWATCH_HELD_STACKS=call")
    for i, s in enumerate(stacks):
        t.expect(len(s) == 1 and not any("Ledger::transfer" in (fr.get("function") or "")
                                         for fr in s),
                 "cxx_bank, call: cycle edge %d's held_stack should be the call site only: %r"
                 % (i, lw.functions(s)))

    # C: a helper used 2,000 times by the worker before the audit.  The
    # held lock's line calls xlock on that very lock (by its symbol).
    pool = lw.example("helper_pool")
    pool_src = source_lines("helper_pool.c")
    for mode in (None, "full"):
        what = "helper_pool, LOCKWATCH_HELD_STACKS=%s" % (mode or "unset")
        env = {"LOCKWATCH_HELD_STACKS": mode} if mode else {}
        run = lw.run_preload([pool], extra_env=env)
        rep, stacks = held_stacks(t, run, what)
        for i, (e, s) in enumerate(zip(rep["cycle"], stacks)):
            held = lw.lock_by_id(rep, e["from"]) or {}
            sym = held.get("symbol") or ""
            t.expect(sym in ("queue_lock", "stats_lock"),
                     "%s: edge %d's held lock is %r, not a global of the program" % (what, i, sym))
            check_edge(t, "%s: cycle edge %d's held_stack" % (what, i), s,
                       ["move_item", "audit"], pool_src,
                       lambda text, fr, sym=sym: re.search(r"xlock\(&%s\)" % re.escape(sym),
                                                           text) is not None)


lw.main(main)
