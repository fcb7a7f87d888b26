"""tools/lockwatch, the launcher: --help, --version, --json --log, default text
report and exit status, --exitcode=0, and an existing LD_PRELOAD is kept."""
import ctypes.util
import os
import tempfile

import lwtest as lw


def launch(args, extra_env=None):
    env = lw.base_env()
    env.update(extra_env or {})
    argv = [lw.launcher()] + args
    rc, out, err, pid = lw.run(argv, env)
    res = lw.Result(argv, rc, out, err, pid)
    lw.check_no_loader_error(res)
    return res


def main(t):
    prog = lw.example("inversion")
    native = lw.native_ok(t, prog)

    res = launch(["--help"])
    t.expect(res.returncode == 0, "--help: exit status %d\n%s" % (res.returncode, res.describe()))
    t.expect("--json" in res.stdout, "--help output (stdout) does not mention --json:\n" + res.stdout)

    res = launch(["--version"])
    t.expect(res.returncode == 0, "--version: exit status %d\n%s" % (res.returncode, res.describe()))
    t.expect("lockwatch" in res.stdout, "--version does not print 'lockwatch':\n" + res.stdout)
    version = os.environ.get("LW_VERSION")
    if version:
        t.expect(version in res.stdout, "--version does not print the version %s:\n%s"
                 % (version, res.stdout))

    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        log = os.path.join(tmp, "reports.jsonl")
        res = launch(["--json", "--log", log, prog])
        what = "lockwatch --json --log FILE inversion"
        t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
                 % (what, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
        lw.expect_same_stdout(t, native, res, what)
        lw.expect_quiet_stderr(t, res, what)
        t.require(os.path.exists(log), "%s: the log file was not written" % what)
        with open(log, encoding="utf-8") as f:
            reports = lw.parse_json_lines(f.read(), what)
        t.expect(len(reports) == 1 and reports[0].get("kind") == "lock-order-inversion",
                 "%s: expected one lock-order-inversion report:\n%s"
                 % (what, lw.describe_reports(reports)))
        for r in reports:
            problems = lw.validate_report(r, res.pid)
            t.expect(not problems, "%s: malformed report: %s" % (what, problems))

    res = launch([prog])
    what = "lockwatch inversion"
    t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (what, res.returncode, lw.DEFAULT_EXITCODE, res.describe()))
    t.expect(res.stderr.count(lw.TEXT_BANNER) == 1, "%s: expected the banner once on stderr:\n%s"
             % (what, res.stderr))
    lw.expect_same_stdout(t, native, res, what)

    res = launch(["--exitcode=0", prog])
    what = "lockwatch --exitcode=0 inversion"
    t.expect(res.returncode == 0, "%s: exit status %d, expected 0\n%s"
             % (what, res.returncode, res.describe()))
    t.expect(res.stderr.count(lw.TEXT_BANNER) == 1, "%s: expected the banner once on stderr:\n%s"
             % (what, res.stderr))

    res = launch([lw.example("gated")])
    what = "lockwatch gated"
    t.expect(res.returncode == 0 and res.stderr == "",
             "%s: expected exit 0 and a quiet stderr\n%s" % (what, res.describe()))

    # An LD_PRELOAD the user already had must be kept, next to liblockwatch.
    other = ctypes.util.find_library("m") or "libm.so.6"
    env = {"LD_PRELOAD": other}
    res = launch(["sh", "-c", 'printf "%s\\n" "$LD_PRELOAD"'], env)
    what = "LD_PRELOAD=%s lockwatch sh -c 'echo $LD_PRELOAD'" % other
    t.expect(res.returncode == 0, "%s: exit status %d\n%s" % (what, res.returncode, res.describe()))
    entries = res.stdout.strip().replace(" ", ":").split(":")
    t.expect(other in entries, "%s: the existing entry %s was dropped: %r"
             % (what, other, res.stdout))
    t.expect(any("liblockwatch" in os.path.basename(e) for e in entries),
             "%s: liblockwatch is not in LD_PRELOAD: %r" % (what, res.stdout))
    res = launch([prog], env)
    what = "LD_PRELOAD=%s lockwatch inversion" % other
    t.expect(res.returncode == lw.DEFAULT_EXITCODE and res.stderr.count(lw.TEXT_BANNER) == 1,
             "%s: expected exit %d and one report\n%s" % (what, lw.DEFAULT_EXITCODE, res.describe()))


lw.main(main)
