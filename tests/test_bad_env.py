"""Invalid LOCKWATCH_* values: exactly one 'lockwatch: warning:' line on stderr
naming the variable, and the default is used.  Valid values give no warning."""
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


def main(t):
    prog = lw.example("inversion")
    lw.native_ok(t, prog)
    for name, value in BAD:
        check_bad(t, prog, name, value)
    check_good(t, prog)


lw.main(main)
