"""tools/lockwatch, the launcher, on the mistakes a new user makes:
  - no program, or `--log ./app` (the program taken as the log's value):
    one `lockwatch: error:` line and a usage line, not the whole help;
  - `--json=1` works (and `--json=0` means text), `--json=maybe` is refused;
  - `--blocking=foo` is refused by the launcher, with the accepted words;
  - a script whose #! interpreter is missing: an error that says so;
  - a LOCKWATCH_LIBRARY (or --library) that is not liblockwatch.so: an error,
    not an unmonitored run;
  - a program built with AddressSanitizer is refused, one built with
    ThreadSanitizer warned about, each with the reason;
  - --help names every kind of report lockwatch makes."""
import os
import shutil
import stat
import subprocess
import tempfile

import lwtest as lw

ERROR = "lockwatch: error:"


def launch(args, extra_env=None, timeout=None):
    env = lw.base_env()
    env.update(extra_env or {})
    argv = [lw.launcher()] + args
    rc, out, err, pid = lw.run(argv, env, timeout)
    return lw.Result(argv, rc, out, err, pid)


def expect_usage_error(t, res, what, mention=None, status=2):
    lines = res.stderr.splitlines()
    t.expect(res.returncode == status, "%s: exit %r, expected %d\n%s"
             % (what, res.returncode, status, res.describe()))
    t.expect(res.stdout == "", "%s: wrote to stdout:\n%s" % (what, res.stdout))
    t.expect(len(lines) == 2 and lines[0].startswith(ERROR) and lines[1].startswith("Usage:"),
             "%s: expected one '%s' line and one usage line on stderr, got:\n%s"
             % (what, ERROR, res.stderr))
    if mention:
        t.expect(mention in res.stderr, "%s: the error does not mention %r:\n%s"
                 % (what, mention, res.stderr))


def expect_error(t, res, what, mention, status=2):
    t.expect(res.returncode == status, "%s: exit %r, expected %d\n%s"
             % (what, res.returncode, status, res.describe()))
    errors = [l for l in res.stderr.splitlines() if l.startswith(ERROR)]
    t.expect(len(errors) == 1 and mention in errors[0],
             "%s: expected one '%s' line mentioning %r:\n%s" % (what, ERROR, mention, res.stderr))
    t.expect(lw.TEXT_BANNER not in res.stderr, "%s: the program ran:\n%s" % (what, res.stderr))


def compile_with(t, flags, src, exe):
    cc = os.environ.get("CC") or "cc"
    p = subprocess.run([cc] + flags + ["-pthread", "-o", exe, src], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0:
        t.note("SKIP part: %s %s cannot build here:\n%s" % (cc, " ".join(flags), p.stdout))
        return False
    p = subprocess.run([exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        t.note("SKIP part: %s built with %s does not run here:\n%s"
               % (exe, " ".join(flags), p.stdout))
        return False
    return True


def main(t):
    prog = lw.example("inversion")

    expect_usage_error(t, launch([]), "lockwatch (no program)", "no program")
    expect_usage_error(t, launch(["--log", prog]), "lockwatch --log PROGRAM", "--log")
    expect_usage_error(t, launch(["--exitcode=0"]), "lockwatch --exitcode=0 (no program)",
                       "no program")
    expect_usage_error(t, launch(["--library=", prog]), "lockwatch --library= PROGRAM",
                       "--library")
    # A value with a newline or 100 KB: still one error line and the usage.
    expect_usage_error(t, launch(["--exitcode=4\n2", prog]), "lockwatch --exitcode='4\\n2'",
                       "--exitcode")
    res = launch(["--exitcode=" + "9" * 100000, prog])
    expect_usage_error(t, res, "lockwatch --exitcode=<100 KB>", "(100000 bytes)")
    t.expect(all(len(l) < 400 for l in res.stderr.splitlines()),
             "lockwatch --exitcode=<100 KB>: a line of %d bytes"
             % max(len(l) for l in res.stderr.splitlines() or [""]))

    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        # --json=VALUE
        for val, fmt in (("1", "json"), ("yes", "json"), ("0", "text")):
            log = os.path.join(tmp, "json%s.log" % val)
            res = launch(["--json=" + val, "--log=" + log, prog])
            what = "lockwatch --json=%s inversion" % val
            t.expect(res.returncode == lw.DEFAULT_EXITCODE, "%s: exit %r\n%s"
                     % (what, res.returncode, res.describe()))
            if not os.path.exists(log):
                continue
            with open(log, encoding="utf-8") as f:
                text = f.read()
            t.expect(text.startswith("{") == (fmt == "json"), "%s: expected a %s report:\n%s"
                     % (what, fmt, text))
        expect_usage_error(t, launch(["--json=maybe", prog]), "lockwatch --json=maybe",
                           "--json")

        # --blocking family list
        expect_usage_error(t, launch(["--blocking=foo", prog]), "lockwatch --blocking=foo",
                           "foo")
        expect_usage_error(t, launch(["--blocking", "sleep,bogus", prog]),
                           "lockwatch --blocking sleep,bogus", "bogus")
        expect_usage_error(t, launch(["--blocking=", prog]), "lockwatch --blocking=", "blocking")
        res = launch(["--blocking=sleep,net,file", prog])
        t.expect(res.returncode == lw.DEFAULT_EXITCODE and "warning" not in res.stderr,
                 "lockwatch --blocking=sleep,net,file: expected a normal run\n" + res.describe())

        # A script whose interpreter is missing.
        script = os.path.join(tmp, "script")
        with open(script, "w", encoding="utf-8") as f:
            f.write("#!/nonexistent/lw-interpreter -x\necho hi\n")
        os.chmod(script, stat.S_IRWXU)
        expect_error(t, launch([script]), "lockwatch SCRIPT (missing interpreter)",
                     "/nonexistent/lw-interpreter", status=126)

        # A library that is not liblockwatch.so.
        text_file = os.path.join(tmp, "notalib.so")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write("not a library\n")
        expect_error(t, launch([prog], {"LOCKWATCH_LIBRARY": text_file}),
                     "LOCKWATCH_LIBRARY=<text file> lockwatch inversion", text_file)
        expect_error(t, launch(["--library=" + text_file, prog]),
                     "lockwatch --library=<text file> inversion", text_file)
        # An ELF shared object, but not lockwatch (the C library itself).
        libc = None
        for cand in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/lib/libc.so.6",
                     "/usr/lib/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"):
            if os.path.isfile(cand):
                libc = cand
                break
        if libc:
            expect_error(t, launch([prog], {"LOCKWATCH_LIBRARY": libc}),
                         "LOCKWATCH_LIBRARY=%s lockwatch inversion" % libc, libc)

        # Programs built with a sanitizer.
        src = os.path.join(tmp, "san.c")
        with open(src, "w", encoding="utf-8") as f:
            f.write("#include <pthread.h>\nstatic pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;\n"
                    "int main(void) { pthread_mutex_lock(&m); pthread_mutex_unlock(&m); "
                    "return 0; }\n")
        asan = os.path.join(tmp, "san_asan")
        if compile_with(t, ["-fsanitize=address"], src, asan):
            expect_error(t, launch([asan]), "lockwatch <program built with ASan>",
                         "AddressSanitizer")
        tsan = os.path.join(tmp, "san_tsan")
        if compile_with(t, ["-fsanitize=thread"], src, tsan):
            res = launch([tsan])
            what = "lockwatch <program built with TSan>"
            warn = [l for l in res.stderr.splitlines() if l.startswith(lw.WARNING_PREFIX)]
            t.expect(len(warn) == 1 and "ThreadSanitizer" in warn[0],
                     "%s: expected one warning naming ThreadSanitizer:\n%s"
                     % (what, res.describe()))
            t.expect(res.returncode == 0, "%s: exit %r\n%s" % (what, res.returncode,
                                                                res.describe()))

    # --help names everything lockwatch detects.
    res = launch(["--help"])
    t.require(res.returncode == 0, "--help: exit %r" % res.returncode)
    for kind in sorted(lw.REPORT_KINDS | lw.EXTRA_REPORT_KINDS):
        t.expect(kind in res.stdout, "--help does not name the report kind %s" % kind)
    for words in ("asleep", "join", "free"):
        t.expect(words in res.stdout, "--help does not mention %r (what lockwatch detects)"
                 % words)


lw.main(main)
