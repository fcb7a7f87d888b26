"""Every JSON record says which process wrote it and when, so that logs of
many processes (LOCKWATCH_LOG=...%p) can be told apart and merged: program
(argv[0]), args (the other arguments, as given, spaces and all), pid, ppid,
time (ISO 8601 UTC, the report's) and version (lockwatch's)."""
import datetime
import os

import lwtest as lw


def main(t):
    prog = lw.example("inversion")
    args = ["two words", "", "caf\u00e9", 'q"uote\\']
    before = datetime.datetime.utcnow().replace(microsecond=0)
    run = lw.run_preload([prog] + args)
    after = datetime.datetime.utcnow()
    what = "inversion %r" % args
    t.require(run.reports and len(run.reports) == 1, "%s: expected one report\n%s"
              % (what, run.describe()))
    rep = run.reports[0]
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "%s: malformed report: %s" % (what, problems))
    t.expect(rep.get("program") == prog, "%s: program is %r, expected %r"
             % (what, rep.get("program"), prog))
    t.expect(rep.get("args") == args, "%s: args is %r, expected %r" % (what, rep.get("args"), args))
    t.expect(rep.get("ppid") == os.getpid(), "%s: ppid is %r, expected %d (this test)"
             % (what, rep.get("ppid"), os.getpid()))
    t.expect(rep.get("version") == os.environ.get("LW_VERSION", rep.get("version")),
             "%s: version is %r" % (what, rep.get("version")))
    stamp = rep.get("time") or ""
    try:
        when = datetime.datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        t.require(False, "%s: time %r is not YYYY-MM-DDTHH:MM:SS.mmmZ" % (what, stamp))
    t.expect(before <= when <= after, "%s: time %s is not between the run's start %s and end %s"
             % (what, stamp, before.isoformat(), after.isoformat()))


lw.main(main)
