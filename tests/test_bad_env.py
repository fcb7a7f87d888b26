"""Invalid LOCKWATCH_* values: exactly one 'lockwatch: warning:' line on stderr
naming the variable, and the default is used.  Valid values give no warning.
Hostile values (100 KB, newlines, control bytes) give one escaped,
shortened line each."""
import re

import lwtest as lw

BAD = [
    ("LOCKWATCH_EXITCODE", "abc"),
    ("LOCKWATCH_EXITCODE", "256"),
    ("LOCKWATCH_EXITCODE", "-1"),
    ("LOCKWATCH_EXITCODE", "7x"),
    ("LOCKWATCH_FORMAT", "xml"),
    ("LOCKWATCH_STACK_DEPTH", "0"),
    ("LOCKWATCH_STACK_DEPTH", "65"),
]


def check_bad(t, prog, name, value):
    what = '%s="%s"' % (name, value)
    run = lw.run_preload(prog, fmt=None, log=False, extra_env={name: value})
    warnings = [l for l in run.stderr.splitlines() if l.startswith(lw.WARNING_PREFIX)]
    t.expect(len(warnings) == 1, "%s: expected exactly one '%s' line on stderr, got %d:\n%s"
             % (what, lw.WARNING_PREFIX, len(warnings), run.stderr))
    if warnings:
        t.expect(what in warnings[0] and "is not valid" in warnings[0],
                 "%s: the warning should quote %s and say 'is not valid': %r"
                 % (what, what, warnings[0]))
    # defaults apply: exit status 66 and a text report on stderr
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected the default %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    t.expect(run.stderr.count(lw.TEXT_BANNER) == 1,
             "%s: expected one text report (the default format) on stderr:\n%s" % (what, run.stderr))
    t.expect(not any(l.startswith("{") for l in run.stderr.splitlines()),
             "%s: JSON on stderr, the default format is text" % what)


def check_good(t, prog):
    for name, value in (("LOCKWATCH_EXITCODE", "7"), ("LOCKWATCH_STACK_DEPTH", "64"),
                        ("LOCKWATCH_FORMAT", "text")):
        what = '%s="%s"' % (name, value)
        run = lw.run_preload(prog, fmt=None, log=False, extra_env={name: value})
        t.expect(lw.WARNING_PREFIX not in run.stderr, "%s: valid value gave a warning:\n%s"
                 % (what, run.stderr))
        t.expect(run.stderr.count(lw.TEXT_BANNER) == 1, "%s: expected one text report" % what)
        t.expect(run.returncode == (7 if name == "LOCKWATCH_EXITCODE" else lw.DEFAULT_EXITCODE),
                 "%s: exit status %d" % (what, run.returncode))

    # LOCKWATCH_STACK_DEPTH=1 keeps one frame per backtrace
    run = lw.run_preload(prog, extra_env={"LOCKWATCH_STACK_DEPTH": "1"})
    what = 'LOCKWATCH_STACK_DEPTH="1"'
    t.expect(lw.WARNING_PREFIX not in run.stderr, "%s: valid value gave a warning:\n%s"
             % (what, run.stderr))
    t.expect(len(run.reports) == 1, "%s: expected 1 report, got %d" % (what, len(run.reports)))
    for rep in run.reports:
        sizes = [len(s) for s in rep.get("stacks") or []]
        t.expect(sizes and all(n == 1 for n in sizes),
                 "%s: every stack should have exactly 1 frame, sizes are %r" % (what, sizes))


def check_hostile(t, prog):
    """Values no warning should print raw: 100 KB long, with newlines and
    control bytes; nine bad variables at once.  One line each, at most a
    few hundred bytes, the value escaped, each ending with the default
    used."""
    big = "x" * 100000
    bad = {
        "LOCKWATCH_EXITCODE": big,
        "LOCKWATCH_FORMAT": "json\nlockwatch: warning: forged line\x01\x1b[31m",
        "LOCKWATCH_STACK_DEPTH": "1\t2",
        "LOCKWATCH_DEADLOCK_MS": big,
        "LOCKWATCH_HELD_STACKS": "\x7f\xc3\xa9",
        "LOCKWATCH_ON_DEADLOCK": "exit\r\n",
        "LOCKWATCH_ALL_ASLEEP": "2",
        "LOCKWATCH_BLOCKING": "sleep,\nnet",
        "LOCKWATCH_LOG": big,
    }
    run = lw.run_preload(prog, fmt=None, log=False, extra_env=bad)
    lines = run.stderr.split("\n")
    warnings = [l for l in lines if l.startswith(lw.WARNING_PREFIX)]
    t.expect(len(warnings) == len(bad),
             "nine bad values: expected %d warning lines, got %d:\n%s"
             % (len(bad), len(warnings), run.stderr[:3000]))
    for name in bad:
        mine = [l for l in warnings if l.startswith(lw.WARNING_PREFIX + " " + name + "=")]
        t.expect(len(mine) == 1, "%s: expected one warning line starting with its name, got %r"
                 % (name, mine))
    for w in warnings:
        t.expect(len(w) < 400, "warning line of %d bytes: %r..." % (len(w), w[:200]))
        t.expect(all(0x20 <= ord(c) < 0x7f for c in w), "control byte in warning: %r" % w)
        t.expect(re.search(r"; using [^;]+$", w) is not None,
                 "warning does not end with the default used: %r" % w)
    t.expect(not any("forged line" in l and not l.startswith(lw.WARNING_PREFIX + " LOCKWATCH_FORMAT=")
                     for l in lines), "a value's newline started a line of its own:\n%s"
             % run.stderr[:3000])
    t.expect("...(100000 bytes)" in run.stderr, "the 100 KB value is not shown cut with its length")
    # The defaults apply: exit status 66, one text report.
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "hostile values: exit status %d"
             % run.returncode)
    t.expect(run.stderr.count(lw.TEXT_BANNER) == 1, "hostile values: expected one text report")


def main(t):
    prog = lw.example("inversion")
    lw.native_ok(t, prog)
    for name, value in BAD:
        check_bad(t, prog, name, value)
    check_good(t, prog)
    check_hostile(t, prog)


lw.main(main)
