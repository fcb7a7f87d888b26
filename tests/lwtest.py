"""Shared helpers for lockwatch's integration tests (Python 3 standard library only).

The tests are run by Automake's parallel test harness (see tests/Makefile.am),
which passes the locations of everything in the environment:

  LW_LIB       the preload library (build tree: src/.libs/liblockwatch.so)
  LW_EXAMPLES  the directory holding the built example programs
  LW_LAUNCHER  the tools/lockwatch launcher script
  LW_SRCDIR    the top source directory (for options.def and the man page)
  LW_VERSION   the package version
  LW_TIMEOUT   optional: seconds before a run counts as hung (default 120)

A test script exits 0 on success, 1 on failure (with a message saying what
went wrong) and 77 when it has to be skipped.

Typical use:

    import lwtest as lw

    def main(t):
        native = lw.run_native(lw.example("inversion"))
        run = lw.run_preload(lw.example("inversion"))
        t.expect(run.returncode == 66, "...")

    lw.main(main)
"""

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_SKIP = 77

DEFAULT_EXITCODE = 66
DEFAULT_STACK_DEPTH = 24

TEXT_BANNER = "WARNING: lockwatch: lock-order inversion"
TEXT_SUMMARY = "SUMMARY: lockwatch: lock-order inversion"
WARNING_PREFIX = "lockwatch: warning:"

# The fixed report kinds of CONTRACT.md ("never renamed").
REPORT_KINDS = {
    "lock-order-inversion", "deadlock", "blocking-call-under-lock", "double-lock",
    "unlock-not-owned", "destroy-locked", "cond-wait-unlocked", "cond-multiple-mutexes",
    "exit-holding-lock", "rwlock-upgrade",
}
LOCK_KINDS = {"mutex", "rwlock", "spinlock", "c11-mutex", "condvar", "semaphore", "barrier", "thread"}
# Not a finding: the run's lock-order graph, written once per process at exit
# in JSON output (lockwatch(7), "The graph record").
GRAPH_KIND = "graph"
MUTEX_TYPES = {"normal", "recursive", "errorcheck", "adaptive"}
MODES = {"read", "write"}

TIMEOUT = float(os.environ.get("LW_TIMEOUT", "120"))

_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_LOCK_ID = re.compile(r"^M[0-9]+$")
_THREAD_ID = re.compile(r"^T[0-9]+$")


# --------------------------------------------------------------------------
# failures and the test driver


class Failure(Exception):
    """A check failed; the test cannot go on."""


class Skip(Exception):
    """The test cannot run here (exit status 77)."""


class Test:
    """Collects failures.  expect() records and goes on, require() stops."""

    def __init__(self, name):
        self.name = name
        self.failures = []

    def expect(self, cond, msg):
        if not cond:
            self.failures.append(msg)
            print("FAIL: " + msg, flush=True)
        return bool(cond)

    def require(self, cond, msg):
        if not cond:
            raise Failure(msg)

    def note(self, msg):
        print(msg, flush=True)


def main(body):
    """Run body(t) and exit with the Automake status: 0, 1 or 77."""
    name = os.path.basename(sys.argv[0])
    t = Test(name)
    try:
        body(t)
    except Skip as e:
        print("SKIP: %s: %s" % (name, e))
        sys.exit(EXIT_SKIP)
    except Failure as e:
        t.failures.append(str(e))
        print("FAIL: " + str(e))
    except Exception:  # a crash of the test itself is a failure too
        traceback.print_exc()
        t.failures.append("unexpected exception (see traceback above)")
    if t.failures:
        print("%s: %d check(s) failed:" % (name, len(t.failures)))
        for f in t.failures:
            print("  - " + f)
        sys.exit(EXIT_FAIL)
    print("PASS: " + name)
    sys.exit(EXIT_PASS)


# --------------------------------------------------------------------------
# locations


def _env_path(var):
    val = os.environ.get(var)
    if not val:
        raise Failure("environment variable %s is not set: run the tests with "
                      "'make check' (tests/Makefile.am sets it)" % var)
    return val


def lib():
    """Path of the preload library; it must exist."""
    path = _env_path("LW_LIB")
    if not os.path.isfile(path):
        raise Failure("preload library %s does not exist: build it first (make)" % path)
    return path


def example(name):
    """Path of a built example program; it must exist and be executable."""
    path = os.path.join(_env_path("LW_EXAMPLES"), name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise Failure("example program %s is not built: run make in examples/" % path)
    return path


def launcher():
    path = _env_path("LW_LAUNCHER")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise Failure("launcher %s does not exist or is not executable: run make in tools/" % path)
    return path


def srcdir():
    return _env_path("LW_SRCDIR")


# --------------------------------------------------------------------------
# running programs


def base_env():
    """The caller's environment without any LOCKWATCH_* variable or LD_PRELOAD,
    so that a developer's settings cannot change the results."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOCKWATCH_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    return env


class Result:
    def __init__(self, argv, returncode, stdout, stderr, pid, log_text=None, log_path=None):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.pid = pid
        self.log_text = log_text  # None: no log file was asked for or none was written
        self.log_path = log_path
        self.reports = None  # set by run_preload in json mode: the findings
        self.graphs = None   # and the graph records (one per process that exited)

    def describe(self):
        return ("command %s exited %s\n--- stdout ---\n%s--- stderr ---\n%s--- log ---\n%s"
                % (" ".join(self.argv), self.returncode, self.stdout, self.stderr,
                   self.log_text if self.log_text is not None else "(none)\n"))


def run(argv, env, timeout=None):
    """Run argv with env; return (returncode, stdout, stderr, pid).  A run that
    does not finish within the timeout is killed and fails the test."""
    timeout = TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise Failure("cannot run %s: %s" % (" ".join(argv), e))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise Failure("%s did not finish within %g s (hang or deadlock?)\nstdout: %s\nstderr: %s"
                      % (" ".join(argv), timeout, out.decode("utf-8", "replace"),
                         err.decode("utf-8", "replace")))
    return (proc.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"), proc.pid)


def run_native(argv, extra_env=None, timeout=None):
    """Run a program without lockwatch."""
    if isinstance(argv, str):
        argv = [argv]
    env = base_env()
    env.update(extra_env or {})
    rc, out, err, pid = run(argv, env, timeout)
    return Result(argv, rc, out, err, pid)


def run_preload(argv, fmt="json", log=True, extra_env=None, timeout=None):
    """Run a program with LD_PRELOAD=liblockwatch.

    fmt: value for LOCKWATCH_FORMAT, or None to leave it unset (text).
    log: True to send the reports to a fresh temporary file (LOCKWATCH_LOG),
         False to leave LOCKWATCH_LOG unset (reports go to stderr).
    In json mode with a log file every line of the file must be a JSON object
    (otherwise the test fails) and result.reports holds the parsed reports.
    """
    if isinstance(argv, str):
        argv = [argv]
    env = base_env()
    env["LD_PRELOAD"] = lib()
    if fmt is not None:
        env["LOCKWATCH_FORMAT"] = fmt
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        log_path = os.path.join(tmp, "lockwatch.log") if log else None
        if log_path:
            env["LOCKWATCH_LOG"] = log_path
        env.update(extra_env or {})
        rc, out, err, pid = run(argv, env, timeout)
        log_text = None
        if log_path and os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as f:
                log_text = f.read()
    res = Result(argv, rc, out, err, pid, log_text, log_path)
    check_no_loader_error(res)
    if fmt == "json" and log:
        res.graphs = []
        res.reports = parse_json_lines(log_text or "", "LOCKWATCH_LOG file of " + " ".join(argv),
                                       res.graphs)
    return res


def check_no_loader_error(res):
    if "cannot be preloaded" in res.stderr or "ERROR: ld.so" in res.stderr:
        raise Failure("the dynamic loader could not preload lockwatch:\n" + res.stderr)


# --------------------------------------------------------------------------
# JSON Lines


def parse_json_lines(text, what, graphs=None):
    """Parse JSON Lines: every line must be one JSON object.  An empty text
    (or a file that was never created) means no report.  The findings are
    returned; the {"kind":"graph"} record each process writes at exit is not
    a finding: it goes to the list `graphs` when one is given, else nowhere."""
    reports = []
    if text and not text.endswith("\n"):
        raise Failure("%s: last line is not terminated by a newline: %r" % (what, text[-200:]))
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise Failure("%s: line %d is not valid JSON (%s): %r" % (what, n, e, line[:300]))
        if not isinstance(obj, dict):
            raise Failure("%s: line %d is JSON but not an object: %r" % (what, n, line[:300]))
        if obj.get("kind") == GRAPH_KIND:
            if graphs is not None:
                graphs.append(obj)
            continue
        reports.append(obj)
    return reports


def json_lines_in(text, graphs=None):
    """The findings in a mixed stream (e.g. stderr): its lines that start
    with '{', parsed (graph records to `graphs`, as parse_json_lines); such
    a line that is not valid JSON fails the test."""
    reports = []
    for line in text.splitlines():
        if line.startswith("{"):
            reports.extend(parse_json_lines(line + "\n", "stderr", graphs))
    return reports


# --------------------------------------------------------------------------
# report structure


def _is_index(v, n):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n


def _src_frame_problems(fr, where):
    """function/mangled/file: string or null; line: positive int or null,
    null when file is."""
    p = []
    for k in ("function", "mangled", "file"):
        if k not in fr:
            p.append("%s.%s is missing (null when unknown)" % (where, k))
        elif not (fr[k] is None or isinstance(fr[k], str)):
            p.append("%s.%s is not a string/null: %r" % (where, k, fr[k]))
    line = fr.get("line", "missing")
    if line == "missing":
        p.append(where + ".line is missing (null when unknown)")
    elif not (line is None or (isinstance(line, int) and line > 0)):
        p.append("%s.line is not a positive integer/null: %r" % (where, line))
    elif line is not None and fr.get("file") is None:
        p.append("%s: line %r without a file" % (where, line))
    return p


LOCK_MEMORY = {None, "global", "static", "stack", "heap", "anonymous", "mapped"}


def _lock_desc_problems(lk, where):
    """What a lock is (lockwatch(7)): label, memory, variable, member,
    decl_file, decl_line, stack_of, frame, heap_object."""
    p = []
    for key in ("label", "variable", "member", "decl_file"):
        v = lk.get(key, "missing")
        if not (v is None or (isinstance(v, str) and v)):
            p.append(where + ".%s missing or not a non-empty string/null: %r" % (key, v))
    if lk.get("memory", "missing") not in LOCK_MEMORY:
        p.append(where + ".memory is %r" % (lk.get("memory", "missing"),))
    line = lk.get("decl_line", "missing")
    if not (line is None or (isinstance(line, int) and line >= 1)):
        p.append(where + ".decl_line is %r" % (line,))
    elif line is not None and not lk.get("decl_file"):
        p.append(where + ".decl_line without a decl_file")
    so = lk.get("stack_of", "missing")
    if not (so is None or (isinstance(so, str) and re.match(r"^T\d+$", so))):
        p.append(where + ".stack_of is %r" % (so,))
    fr = lk.get("frame", "missing")
    if not (fr is None or (isinstance(fr, dict) and isinstance(fr.get("function"), str) and
                           "file" in fr and "line" in fr)):
        p.append(where + ".frame is %r" % (fr,))
    ho = lk.get("heap_object", "missing")
    if not (ho is None or (isinstance(ho, str) and _HEX.match(ho))):
        p.append(where + ".heap_object is %r" % (ho,))
    if lk.get("name") is not None and lk.get("label") != '"%s"' % lk["name"]:
        p.append(where + ".label %r is not the given name %r" % (lk.get("label"), lk["name"]))
    return p


def validate_report(rep, pid=None):
    """Check one report against the JSON schema of CONTRACT.md.  Returns a list
    of problems (empty when the report is well formed)."""
    p = []
    if not isinstance(rep, dict):
        return ["report is not an object"]
    kind = rep.get("kind")
    if kind not in REPORT_KINDS:
        p.append("unknown kind %r" % (kind,))
    if not isinstance(rep.get("message"), str) or not rep.get("message"):
        p.append("message missing or empty")
    if not isinstance(rep.get("pid"), int):
        p.append("pid missing or not an integer")
    elif pid is not None and rep["pid"] != pid:
        p.append("pid is %r, the process was %d" % (rep["pid"], pid))

    # Which process, when: logs of many processes can be told apart, merged.
    if not isinstance(rep.get("ppid"), int):
        p.append("ppid missing or not an integer")
    if not isinstance(rep.get("program"), str) or not rep.get("program"):
        p.append("program (argv[0]) missing or empty: %r" % (rep.get("program"),))
    args = rep.get("args")
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        p.append("args missing or not a list of strings: %r" % (args,))
    if not (isinstance(rep.get("time"), str) and _TIME.match(rep["time"])):
        p.append("time is not an ISO 8601 UTC timestamp: %r" % (rep.get("time"),))
    else:
        try:
            when = datetime.datetime.strptime(rep["time"][:19], "%Y-%m-%dT%H:%M:%S")
            age = abs((datetime.datetime.utcnow() - when).total_seconds())
            if age > 24 * 3600:
                p.append("time %s is %d s away from now" % (rep["time"], age))
        except ValueError as e:
            p.append("time %r: %s" % (rep["time"], e))
    version = os.environ.get("LW_VERSION")
    if not isinstance(rep.get("version"), str) or not rep.get("version"):
        p.append("version missing or empty")
    elif version and rep["version"] != version:
        p.append("version is %r, lockwatch is %s" % (rep["version"], version))

    if kind == "lock-order-inversion" and rep.get("confidence") not in ("latent", "feasible"):
        p.append("confidence is %r, expected latent or feasible" % (rep.get("confidence"),))
    fp = rep.get("fingerprint")
    if not (isinstance(fp, str) and re.match(r"^[0-9a-f]{16}$", fp)):
        p.append("fingerprint is not 16 hex digits: %r" % (fp,))

    stacks = rep.get("stacks")
    if not isinstance(stacks, list):
        p.append("stacks missing or not a list")
        stacks = []
    for i, st in enumerate(stacks):
        if not isinstance(st, list):
            p.append("stacks[%d] is not a list" % i)
            continue
        for j, fr in enumerate(st):
            where = "stacks[%d][%d]" % (i, j)
            if not isinstance(fr, dict):
                p.append(where + " is not an object")
                continue
            if not (isinstance(fr.get("pc"), str) and _HEX.match(fr["pc"])):
                p.append(where + ".pc is not a hex string: %r" % (fr.get("pc"),))
            if "module" not in fr or not (fr["module"] is None or isinstance(fr["module"], str)):
                p.append(where + ".module missing or not a string/null")
            if "offset" not in fr or not (fr["offset"] is None or
                                          (isinstance(fr["offset"], str) and _HEX.match(fr["offset"]))):
                p.append(where + ".offset missing or not a hex string/null: %r" % (fr.get("offset"),))
            # every frame has "function": null for a frame without a symbol
            if "function" not in fr:
                p.append(where + ".function is missing (null when unknown)")
            elif not (fr["function"] is None or isinstance(fr["function"], str)):
                p.append(where + ".function is not a string/null")
            p.extend(_src_frame_problems(fr, where))
            inl = fr.get("inlined")
            if not isinstance(inl, list):
                p.append(where + ".inlined missing or not a list: %r" % (inl,))
            else:
                for k, sf in enumerate(inl):
                    if not isinstance(sf, dict):
                        p.append("%s.inlined[%d] is not an object" % (where, k))
                    else:
                        p.extend(_src_frame_problems(sf, "%s.inlined[%d]" % (where, k)))
    nst = len(stacks)

    summ = rep.get("summary", "missing")
    if summ == "missing":
        p.append("summary is missing (null when the report has no backtrace)")
    elif summ is not None:
        if not isinstance(summ, dict):
            p.append("summary is not an object/null")
        else:
            p.extend(_src_frame_problems(summ, "summary"))
            if not _is_index(summ.get("stack"), nst):
                p.append("summary.stack %r is not an index into stacks" % (summ.get("stack"),))
            elif not (isinstance(summ.get("frame"), int) and
                      0 <= summ["frame"] < len(stacks[summ["stack"]])):
                p.append("summary.frame %r is not a frame of its stack" % (summ.get("frame"),))

    def stack_ref(v, where):
        if v is not None and not _is_index(v, nst):
            p.append("%s = %r is not null or an index into stacks (len %d)" % (where, v, nst))

    threads = rep.get("threads")
    if not isinstance(threads, list):
        p.append("threads missing or not a list")
        threads = []
    tids = set()
    for i, th in enumerate(threads):
        where = "threads[%d]" % i
        if not isinstance(th, dict):
            p.append(where + " is not an object")
            continue
        if not (isinstance(th.get("id"), str) and _THREAD_ID.match(th["id"])):
            p.append(where + ".id is not T<n>: %r" % (th.get("id"),))
        elif th["id"] in tids:
            p.append(where + ".id %s is listed twice" % th["id"])
        else:
            tids.add(th["id"])
        if not isinstance(th.get("tid"), int) or th["tid"] <= 0:
            p.append(where + ".tid is not a positive integer")
        if "name" not in th or not (th["name"] is None or isinstance(th["name"], str)):
            p.append(where + ".name missing or not a string")
        cb = th.get("created_by", "missing")
        if cb is not None and not (isinstance(cb, str) and _THREAD_ID.match(cb)):
            p.append(where + ".created_by is not T<n> or null: %r" % (cb,))
        if "created_stack" not in th:
            p.append(where + ".created_stack missing")
        else:
            stack_ref(th["created_stack"], where + ".created_stack")

    locks = rep.get("locks")
    if not isinstance(locks, list):
        p.append("locks missing or not a list")
        locks = []
    lids = set()
    addrs = set()
    lock_kind = {}
    for i, lk in enumerate(locks):
        where = "locks[%d]" % i
        if not isinstance(lk, dict):
            p.append(where + " is not an object")
            continue
        lid = lk.get("id")
        if not (isinstance(lid, str) and _LOCK_ID.match(lid)):
            p.append(where + ".id is not M<n>: %r" % (lid,))
        elif lid in lids:
            p.append(where + ".id %s is listed twice" % lid)
        else:
            lids.add(lid)
            lock_kind[lid] = lk.get("kind")
        if "symbol" not in lk or not (lk["symbol"] is None or
                                      (isinstance(lk["symbol"], str) and lk["symbol"])):
            p.append(where + ".symbol missing or not a non-empty string/null: %r"
                     % (lk.get("symbol", "missing"),))
        addr = lk.get("address")
        if not (isinstance(addr, str) and _HEX.match(addr)):
            p.append(where + ".address is not a hex string: %r" % (addr,))
        elif int(addr, 16) in addrs:
            p.append(where + ".address %s is shared with another lock" % addr)
        else:
            addrs.add(int(addr, 16))
        k = lk.get("kind")
        if k not in LOCK_KINDS:
            p.append(where + ".kind is %r" % (k,))
        ty = lk.get("type", "missing")
        if k == "mutex" and ty not in MUTEX_TYPES:
            p.append(where + ".type of a mutex is %r" % (ty,))
        elif k in ("rwlock", "spinlock") and ty is not None:
            p.append(where + ".type of a %s should be null, is %r" % (k, ty))
        elif k == "c11-mutex" and ty is not None and ty not in MUTEX_TYPES:
            p.append(where + ".type of a c11-mutex is %r" % (ty,))
        if "name" not in lk or not (lk["name"] is None or isinstance(lk["name"], str)):
            p.append(where + ".name missing or not a string/null")
        p.extend(_lock_desc_problems(lk, where))
        if lk.get("first_seen") not in ("initialised", "locked", "used"):
            p.append(where + ".first_seen is %r" % (lk.get("first_seen"),))
        if "first_stack" not in lk:
            p.append(where + ".first_stack missing")
        else:
            stack_ref(lk["first_stack"], where + ".first_stack")

    if kind == "lock-order-inversion":
        cycle = rep.get("cycle")
        if not isinstance(cycle, list) or len(cycle) < 2:
            p.append("cycle missing or shorter than 2 edges: %r" % (cycle,))
            cycle = []
        for i, e in enumerate(cycle):
            where = "cycle[%d]" % i
            if not isinstance(e, dict):
                p.append(where + " is not an object")
                continue
            for end in ("from", "to"):
                if e.get(end) not in lids:
                    p.append("%s.%s = %r is not a lock id of `locks`" % (where, end, e.get(end)))
            if e.get("from") == e.get("to"):
                p.append(where + " is a self edge")
            th = e.get("thread")
            if not (isinstance(th, str) and _THREAD_ID.match(th)):
                p.append(where + ".thread is not T<n>: %r" % (th,))
            elif th != "T0" and th not in tids:
                p.append(where + ".thread %s is not described in `threads`" % th)
            for m in ("from_mode", "to_mode"):
                if e.get(m) not in MODES:
                    p.append("%s.%s is %r" % (where, m, e.get(m)))
            # a mutex (or spinlock) is always held in write mode
            for end, m in (("from", "from_mode"), ("to", "to_mode")):
                if lock_kind.get(e.get(end)) in ("mutex", "spinlock", "c11-mutex") \
                        and e.get(m) not in (None, "write"):
                    p.append("%s.%s is %r for a %s" % (where, m, e.get(m), lock_kind.get(e.get(end))))
            for s in ("stack", "held_stack"):
                if s not in e:
                    p.append("%s.%s missing" % (where, s))
                else:
                    stack_ref(e[s], "%s.%s" % (where, s))
            nxt = cycle[(i + 1) % len(cycle)]
            if isinstance(nxt, dict) and e.get("to") != nxt.get("from"):
                p.append("cycle is not a closed chain: %s.to=%r but the next edge starts at %r"
                         % (where, e.get("to"), nxt.get("from")))
        froms = [e.get("from") for e in cycle if isinstance(e, dict)]
        if len(set(froms)) != len(froms):
            p.append("cycle passes through a lock twice: %r" % (froms,))
        if set(froms) != lids:
            p.append("locks %r and the cycle's locks %r differ" % (sorted(lids), sorted(set(froms))))
    return p


def stack(rep, idx):
    """The frames of stacks[idx] (an empty list for null)."""
    if idx is None:
        return []
    return rep["stacks"][idx]


def functions(frames):
    return [f.get("function") or "" for f in frames]


def has_function(frames, part):
    return any(part in fn for fn in functions(frames))


def lock_by_id(rep, lid):
    for lk in rep["locks"]:
        if lk["id"] == lid:
            return lk
    raise Failure("no lock %s in report" % lid)


def thread_by_id(rep, tid):
    for th in rep.get("threads") or []:
        if th.get("id") == tid:
            return th
    return None


def describe_reports(reports):
    return "\n".join(json.dumps(r, indent=1)[:6000] for r in reports) or "(no report)"


# --------------------------------------------------------------------------
# common assertions


def expect_same_stdout(t, native, run, what):
    t.expect(run.stdout == native.stdout,
             "%s: stdout under lockwatch differs from the native run:\nnative: %r\nlockwatch: %r"
             % (what, native.stdout, run.stdout))


def expect_quiet_stderr(t, run, what):
    t.expect(run.stderr == "",
             "%s: unexpected output on stderr (the reports were sent to LOCKWATCH_LOG):\n%s"
             % (what, run.stderr))


def native_ok(t, prog, what=None):
    """Run prog natively: it must exit 0 and print something."""
    what = what or os.path.basename(prog)
    native = run_native(prog)
    t.require(native.returncode == 0, "%s: native run failed\n%s" % (what, native.describe()))
    t.require(native.stdout.strip() != "", "%s: native run printed nothing on stdout" % what)
    return native


def pcs(frames):
    return [f.get("pc") for f in frames]


def require_single_inversion(t, run, what, nlocks, distinct_sites=True):
    """Exactly one well-formed lock-order-inversion report with nlocks locks
    and a cycle of nlocks edges.  Returns the report.

    distinct_sites: in the program the held lock and the lock acquired while
    holding it are taken by different lock calls, so each edge's held_stack
    must differ from its stack."""
    reports = run.reports
    t.require(len(reports) == 1, "%s: expected exactly 1 report, got %d:\n%s"
              % (what, len(reports), describe_reports(reports)))
    rep = reports[0]
    problems = validate_report(rep, run.pid)
    t.require(not problems, "%s: malformed report:\n  %s\n%s"
              % (what, "\n  ".join(problems), describe_reports([rep])))
    t.require(rep["kind"] == "lock-order-inversion",
              "%s: kind is %r, expected lock-order-inversion" % (what, rep["kind"]))
    t.expect("lock-order inversion" in rep["message"],
             "%s: message %r does not say 'lock-order inversion'" % (what, rep["message"]))
    t.require(len(rep["locks"]) == nlocks, "%s: expected %d locks, got %d: %r"
              % (what, nlocks, len(rep["locks"]), rep["locks"]))
    t.require(len(rep["cycle"]) == nlocks, "%s: expected a cycle of %d edges, got %d: %r"
              % (what, nlocks, len(rep["cycle"]), rep["cycle"]))
    for i, e in enumerate(rep["cycle"]):
        t.expect(e["stack"] is not None and len(stack(rep, e["stack"])) > 0,
                 "%s: cycle[%d] has no acquisition stack" % (what, i))
        t.expect(e["held_stack"] is not None and len(stack(rep, e["held_stack"])) > 0,
                 "%s: cycle[%d] has no held_stack" % (what, i))
        if distinct_sites and e["stack"] is not None and e["held_stack"] is not None:
            t.expect(pcs(stack(rep, e["stack"])) != pcs(stack(rep, e["held_stack"])),
                     "%s: cycle[%d] (%s -> %s): held_stack and stack are the same backtrace %r, "
                     "but %s and %s are locked by two different calls"
                     % (what, i, e["from"], e["to"], functions(stack(rep, e["stack"])),
                        e["from"], e["to"]))
    for i, st in enumerate(rep["stacks"]):
        t.expect(len(st) <= DEFAULT_STACK_DEPTH,
                 "%s: stacks[%d] has %d frames, more than LOCKWATCH_STACK_DEPTH's default %d"
                 % (what, i, len(st), DEFAULT_STACK_DEPTH))
    return rep


def edge_with_function(t, rep, part, what):
    """The cycle edge whose acquisition stack shows a function containing part."""
    found = [e for e in rep["cycle"] if has_function(stack(rep, e["stack"]), part)]
    t.require(len(found) == 1, "%s: expected exactly one cycle edge acquired in %s, got %d; "
              "functions per edge: %r" % (what, part, len(found),
                                          [functions(stack(rep, e["stack"])) for e in rep["cycle"]]))
    return found[0]


def count_lines_starting(text, prefix):
    return sum(1 for line in text.splitlines() if line.startswith(prefix))


def detector_is_live(t):
    """Guard for no-report tests: make sure that in this environment lockwatch
    does report the plain inversion example, so that "no report" means
    something."""
    res = run_preload(example("inversion"))
    t.require(res.returncode == DEFAULT_EXITCODE and len(res.reports) == 1,
              "sanity check: lockwatch did not report examples/inversion as expected, so "
              "a 'no report' result would mean nothing\n" + res.describe())


# --------------------------------------------------------------------------
# programs that hang (real deadlocks): background runs, timed runs, and the
# reports other than lock-order inversions


def preload_env(fmt="json", log_path=None, extra_env=None):
    """The environment of a run under lockwatch, as run_preload builds it:
    base_env() with LD_PRELOAD, LOCKWATCH_FORMAT=fmt (None: unset) and
    LOCKWATCH_LOG=log_path (None: unset), then extra_env."""
    env = base_env()
    env["LD_PRELOAD"] = lib()
    if fmt is not None:
        env["LOCKWATCH_FORMAT"] = fmt
    if log_path:
        env["LOCKWATCH_LOG"] = log_path
    env.update(extra_env or {})
    return env


def _no_core_dumps():
    """preexec_fn: a run that aborts (LOCKWATCH_ON_DEADLOCK=abort) leaves no core file."""
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Spawned:
    """A program started under lockwatch in the background, for programs that
    hang without lockwatch: the test decides how long to wait, can read the
    reports while the program still runs, and the program is killed (SIGKILL)
    if it is still running at the end.  Reports go to a fresh LOCKWATCH_LOG
    file.  Core dumps are disabled.

        with lw.Spawned(lw.example("deadlock_2threads"), extra_env=env) as sp:
            rc = sp.wait(5.0)       # exit status, or None: still running after 5 s
            so_far = sp.reports()   # json mode: reports written so far
        res = sp.result             # Result (reports parsed in json mode), killed if need be
        res.elapsed                 # seconds from the start to the exit (None if killed)

    The program's stdout and stderr are collected only at the end, so it must
    not write more than a pipe holds (64 KiB) before it exits or is killed."""

    def __init__(self, argv, fmt="json", extra_env=None):
        if isinstance(argv, str):
            argv = [argv]
        self.argv = argv
        self.fmt = fmt
        self._tmp = tempfile.TemporaryDirectory(prefix="lwtest.")
        self.log_path = os.path.join(self._tmp.name, "lockwatch.log")
        env = preload_env(fmt, self.log_path, extra_env)
        self.elapsed = None
        self.killed = False
        self.result = None
        self.start = time.monotonic()
        try:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         preexec_fn=_no_core_dumps)
        except OSError as e:
            self._tmp.cleanup()
            raise Failure("cannot run %s: %s" % (" ".join(argv), e))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()
        return False

    def wait(self, timeout):
        """Wait up to timeout seconds for the program to exit: its exit status
        (negative: killed by that signal), or None if it is still running."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self.elapsed is None:
            self.elapsed = time.monotonic() - self.start
        return rc

    def log_text(self):
        """What lockwatch has written to the report file so far ("" if nothing)."""
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def reports(self):
        """The JSON reports written so far (json mode)."""
        return parse_json_lines(self.log_text(), "LOCKWATCH_LOG file of " + " ".join(self.argv))

    def finish(self):
        """Kill the program if it still runs, collect everything: a Result with
        .elapsed and .killed; in json mode .reports holds the parsed reports."""
        if self.result is not None:
            return self.result
        if self.proc.poll() is None:
            self.proc.kill()
            self.killed = True
        out, err = self.proc.communicate()
        if self.elapsed is None and not self.killed:
            self.elapsed = time.monotonic() - self.start
        log = self.log_text() if os.path.exists(self.log_path) else None
        res = Result(self.argv, self.proc.returncode, out.decode("utf-8", "replace"),
                     err.decode("utf-8", "replace"), self.proc.pid, log, self.log_path)
        res.elapsed = self.elapsed
        res.killed = self.killed
        self._tmp.cleanup()
        self.result = res
        check_no_loader_error(res)
        if self.fmt == "json":
            res.graphs = []
            res.reports = parse_json_lines(log or "", "LOCKWATCH_LOG file of " + " ".join(self.argv),
                                           res.graphs)
        return res


def run_preload_timed(argv, fmt="json", extra_env=None, timeout=None):
    """Like run_preload (reports in a LOCKWATCH_LOG file), for a program that
    may hang without lockwatch: the result has .elapsed, the wall time in
    seconds from the start to the exit.  A run still going after timeout
    seconds is killed and fails the test."""
    timeout = TIMEOUT if timeout is None else timeout
    sp = Spawned(argv, fmt=fmt, extra_env=extra_env)
    rc = sp.wait(timeout)
    res = sp.finish()
    if rc is None:
        raise Failure("%s did not finish within %g s under lockwatch (the deadlock was not "
                      "acted on?)\n%s" % (" ".join(res.argv), timeout, res.describe()))
    return res


# Kinds of report the library emits besides CONTRACT.md's fixed list.
EXTRA_REPORT_KINDS = {"use-after-destroy", "order-violation", "assert-held", "assert-not-held",
                      "data-race", "lost-wakeup"}


def validate_issue(rep, pid=None):
    """Check a report other than a lock-order inversion (deadlock, misuse,
    blocking call): the common schema (validate_report) and the members of
    such reports: every thread has "action", "stack" (non-empty), "waits_for"
    (null, a lock of `locks` or a thread id) and "holds" (locks of `locks`,
    read/write, stack index); a lock with a "role" has a "stack".  Returns a
    list of problems."""
    p = [x for x in validate_report(rep, pid)
         if not (rep.get("kind") in EXTRA_REPORT_KINDS and x == "unknown kind %r" % rep.get("kind"))]
    if not isinstance(rep, dict):
        return p
    stacks = rep.get("stacks") if isinstance(rep.get("stacks"), list) else []
    lids = {lk.get("id") for lk in rep.get("locks") or [] if isinstance(lk, dict)}
    for i, th in enumerate(rep.get("threads") or []):
        if not isinstance(th, dict):
            continue
        where = "threads[%d]" % i
        if not isinstance(th.get("action"), str) or not th.get("action"):
            p.append(where + ".action missing or empty")
        st = th.get("stack", "missing")
        if not _is_index(st, len(stacks)):
            p.append(where + ".stack is not an index into stacks: %r" % (st,))
        elif not stacks[st]:
            p.append(where + ".stack is an empty backtrace")
        wf = th.get("waits_for", "missing")
        if wf is not None and not (wf in lids or (isinstance(wf, str) and _THREAD_ID.match(wf))):
            p.append(where + ".waits_for is not null, a lock of `locks` or a thread id: %r" % (wf,))
        holds = th.get("holds")
        if not isinstance(holds, list):
            p.append(where + ".holds missing or not a list")
            continue
        for j, h in enumerate(holds):
            hw = "%s.holds[%d]" % (where, j)
            if not isinstance(h, dict):
                p.append(hw + " is not an object")
                continue
            if h.get("lock") not in lids:
                p.append("%s.lock = %r is not listed in `locks`" % (hw, h.get("lock")))
            if h.get("mode") not in MODES:
                p.append("%s.mode is %r" % (hw, h.get("mode")))
            if "stack" not in h or not (h["stack"] is None or _is_index(h["stack"], len(stacks))):
                p.append("%s.stack is not null or an index into stacks: %r" % (hw, h.get("stack")))
    for i, lk in enumerate(rep.get("locks") or []):
        if isinstance(lk, dict) and "role" in lk:
            if not isinstance(lk["role"], str) or not lk["role"]:
                p.append("locks[%d].role is not a non-empty string" % i)
            if "stack" not in lk or not (lk["stack"] is None or _is_index(lk["stack"], len(stacks))):
                p.append("locks[%d].stack is not null or an index into stacks" % i)
    return p


def kinds_count(reports):
    """{kind: number of reports of that kind}."""
    n = {}
    for r in reports:
        n[r.get("kind")] = n.get(r.get("kind"), 0) + 1
    return n


def lock_named(rep, name):
    """The lock of rep["locks"] named `name` (lockwatch_name_lock), or None."""
    for lk in rep.get("locks") or []:
        if lk.get("name") == name:
            return lk
    return None


# ---- shared checks of whole runs ----

def expect_clean_run(t, native, run, what, json_reports=True):
    """A correct program under lockwatch: exit 0, the native stdout, nothing
    on stderr and (when reports were collected as JSON) no report."""
    t.expect(run.returncode == 0, "%s: exit status %d, expected 0\n%s"
             % (what, run.returncode, run.describe()))
    expect_same_stdout(t, native, run, what)
    if json_reports:
        t.expect(len(run.reports) == 0, "%s: expected no report, got %d:\n%s"
                 % (what, len(run.reports), describe_reports(run.reports)))
    t.expect(run.stderr == "", "%s: expected nothing on stderr, got:\n%s" % (what, run.stderr))


def check_quiet_example(t, name, runs=(("json", None), (None, None))):
    """Run example `name` natively, then under lockwatch once per (format,
    extra environment) in runs: every run must be clean."""
    prog = example(name)
    native = native_ok(t, prog, name)
    for fmt, env in runs:
        run = run_preload(prog, fmt=fmt, log=(fmt == "json"), extra_env=env)
        extra = ", ".join("%s=%s" % kv for kv in sorted((env or {}).items()))
        what = "%s (%s%s)" % (name, fmt or "text", ", " + extra if extra else "")
        expect_clean_run(t, native, run, what, json_reports=(fmt == "json"))


def check_two_lock_inversion(t, name, lock_kind):
    """examples/<name>: take_a_then_b and take_b_then_a in two threads give
    one inversion over two locks of lock_kind, exit status 66, same stdout."""
    prog = example(name)
    native = native_ok(t, prog)
    run = run_preload(prog)
    what = name
    t.expect(run.returncode == DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, DEFAULT_EXITCODE))
    expect_same_stdout(t, native, run, what)
    expect_quiet_stderr(t, run, what)
    rep = require_single_inversion(t, run, what, 2)
    for lk in rep["locks"]:
        t.expect(lk["kind"] == lock_kind, "%s: lock %s kind is %r, expected %s"
                 % (what, lk["id"], lk["kind"], lock_kind))
    ab = edge_with_function(t, rep, "take_a_then_b", what)
    ba = edge_with_function(t, rep, "take_b_then_a", what)
    t.expect(ab["from"] == ba["to"] and ab["to"] == ba["from"],
             "%s: the two edges are not opposite: %r" % (what, rep["cycle"]))
    t.expect(ab["thread"] != ba["thread"], "%s: both edges attributed to %s"
             % (what, ab["thread"]))
