"""Suppressions (LOCKWATCH_SUPPRESSIONS, lockwatch(5)) end to end, on
examples/inversion: a rule by function silences the inversion and the exit
status stays the program's; a rule of another kind does not; malformed
lines each cost one error line naming FILE:LINE while the good rules still
apply; a missing file is one error line; the rule LOCKWATCH_GEN_SUPPRESSIONS
prints (text and JSON) silences the finding it came with, and so does a
fingerprint rule; at exit one line says how many findings each rule hid."""
import os
import re
import tempfile

import lwtest as lw

PROG = "inversion"
KIND = "lock-order-inversion"


def run_with(t, rules, extra=None, fmt="json"):
    with tempfile.TemporaryDirectory(prefix="lwsupp.") as tmp:
        path = os.path.join(tmp, "rules.supp")
        with open(path, "w", encoding="utf-8") as f:
            f.write(rules)
        env = {"LOCKWATCH_SUPPRESSIONS": path}
        env.update(extra or {})
        return lw.run_preload([lw.example(PROG)], fmt=fmt, extra_env=env), path


def errors(run):
    return [l for l in run.stderr.splitlines() if l.startswith("lockwatch: error:")]


def summary(run):
    return [l for l in run.stderr.splitlines() if re.match(r"^lockwatch: \d+ findings? suppressed:", l)]


def expect_suppressed(t, run, path, line, what):
    t.expect(run.returncode == 0, "%s: exit status %d, expected the program's 0\n%s"
             % (what, run.returncode, run.describe()))
    t.expect(not run.reports, "%s: %d report(s) written" % (what, len(run.reports or [])))
    s = summary(run)
    t.expect(len(s) == 1 and ("1 by %s:%d (" % (path, line)) in s[0],
             "%s: expected one summary line naming %s:%d, got %r" % (what, path, line, s))


def main(t):
    lw.detector_is_live(t)

    run, path = run_with(t, "# the inversion is known\n%s:take_a_then_b\n" % KIND)
    expect_suppressed(t, run, path, 2, "rule by function")
    t.expect(not errors(run), "rule by function: error lines %r" % errors(run))

    run, path = run_with(t, "deadlock:take_*\n")
    t.expect(run.returncode == lw.DEFAULT_EXITCODE and len(run.reports) == 1,
             "a deadlock rule must not silence an inversion: exit %d, %d reports"
             % (run.returncode, len(run.reports)))
    t.expect(not summary(run), "nothing suppressed, yet %r" % summary(run))

    rules = ("nonsense\n"                 # 1: no colon
             "frobnicate:take_*\n"        # 2: unknown kind
             "fingerprint:not-hex\n"      # 3: bad fingerprint
             "%s:\n"                      # 4: empty pattern
             "*:take_b_then_*\n") % KIND  # 5: good
    run, path = run_with(t, rules)
    errs = errors(run)
    t.expect(len(errs) == 4 and all(("%s:%d:" % (path, n)) in e for n, e in zip((1, 2, 3, 4), errs)),
             "malformed lines: expected one error line each naming %s:1..4, got %r" % (path, errs))
    expect_suppressed(t, run, path, 5, "good rule after malformed ones")

    missing = os.path.join(tempfile.gettempdir(), "lockwatch-no-such-file.supp")
    run = lw.run_preload([lw.example(PROG)], extra_env={"LOCKWATCH_SUPPRESSIONS": missing})
    errs = errors(run)
    t.expect(len(errs) == 1 and missing in errs[0] and run.returncode == lw.DEFAULT_EXITCODE
             and len(run.reports) == 1,
             "missing file: expected one error line and the report, got %r, exit %d"
             % (errs, run.returncode))

    # The generated rule, from the JSON report, silences the finding.
    run = lw.run_preload([lw.example(PROG)], extra_env={"LOCKWATCH_GEN_SUPPRESSIONS": "1"})
    t.require(len(run.reports) == 1, "GEN_SUPPRESSIONS: expected one report:\n" + run.describe())
    rule = run.reports[0].get("suppression")
    t.expect(isinstance(rule, str) and rule.startswith(KIND + ":"),
             "the JSON report's suppression member is %r" % (rule,))
    fp = run.reports[0].get("fingerprint")
    if isinstance(rule, str):
        run2, path = run_with(t, rule + "\n")
        expect_suppressed(t, run2, path, 1, "generated rule %r" % rule)
    run2, path = run_with(t, "fingerprint:%s\n" % fp)
    expect_suppressed(t, run2, path, 1, "fingerprint rule")

    # Text reports end with the rule too, inside the report's frame.
    run = lw.run_preload([lw.example(PROG)], fmt=None, log=False,
                         extra_env={"LOCKWATCH_GEN_SUPPRESSIONS": "1"})
    m = re.search(r"^SUMMARY: .*\nSuppression \(.*\): (\S+)\n={18}$", run.stderr, re.M)
    t.expect(m is not None and m.group(1) == rule,
             "text report: expected the rule %r after SUMMARY, stderr:\n%s" % (rule, run.stderr))


lw.main(main)
