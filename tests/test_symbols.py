"""Source lines, demangled names and inlined frames (lockwatch-symbolizer).

- cxx_bank (C++, -g): every frame in the example's own source names a line
  that calls the next inner frame's function (or, innermost, a lock); names
  are demangled with the mangled one beside them; bank::credit appears as an
  inlined frame of bank::Ledger::transfer; the SUMMARY line and the JSON
  summary name the program's frame, not a libstdc++ layer.
- inversion (C): the same line check, text report included.
- global and static locks are named by their symbols (lock_a).
- a stripped copy falls back to module+offset (no file, no line).
- suppressions match demangled, mangled and inlined names.
- a fork child reports with lines (its own helper); the program's
  waitpid(-1) never meets the helper.
- a clean run never starts the helper; a report does.
- a missing helper, one that exits at once and one that never answers: the
  report is still written, with module+offset, and the run does not hang.
"""
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time

import lwtest as lw

WRAPPER_NAMES = ("__gthread", "std::mutex::lock", "std::lock_guard", "pthread_mutex_lock")


def short_name(fn):
    """'std::lock_guard<std::mutex>::lock_guard(std::mutex&)' -> 'lock_guard'."""
    depth = 0
    out = []
    for c in fn:   # drop template arguments and parameter lists
        if c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif depth == 0:
            out.append(c)
    name = "".join(out).split()[-1] if "".join(out).split() else ""
    return name.split("::")[-1]


def source_frames(fr):
    """A frame's source frames, innermost first: its inlined ones, then its own."""
    return list(fr.get("inlined") or []) + [fr]


def check_lines(t, rep, srcfile, what):
    """Every source frame in srcfile: its line exists and calls the next
    inner function (the innermost: takes a lock).  Returns how many."""
    with open(srcfile, encoding="utf-8") as f:
        lines = f.read().split("\n")
    checked = 0
    for si, st in enumerate(rep["stacks"]):
        chain = [sf for fr in st for sf in source_frames(fr)]
        for k, sf in enumerate(chain):
            if not sf.get("file") or os.path.basename(sf["file"]) != os.path.basename(srcfile):
                continue
            line = sf.get("line")
            t.expect(isinstance(line, int) and 1 <= line <= len(lines),
                     "%s: stacks[%d]: %s has line %r outside %s"
                     % (what, si, sf.get("function"), line, srcfile))
            if not isinstance(line, int) or not 1 <= line <= len(lines):
                continue
            text = lines[line - 1]
            if k == 0:
                want = ["lock", "create"]
            else:
                callee = chain[k - 1].get("function") or ""
                want = [short_name(callee)] if callee else ["("]
            t.expect(any(w and w in text for w in want),
                     "%s: stacks[%d]: %s at %s:%d is %r, which does not call %r"
                     % (what, si, sf.get("function"), os.path.basename(srcfile), line,
                        text.strip(), want))
            checked += 1
    return checked


def all_frames(rep):
    return [sf for st in rep["stacks"] for fr in st for sf in source_frames(fr)]


def check_cxx_bank(t):
    prog = lw.example("cxx_bank")
    src = os.path.join(lw.srcdir(), "examples", "cxx_bank.cpp")
    run = lw.run_preload(prog)
    reps = [r for r in run.reports if r["kind"] == "lock-order-inversion"]
    t.require(len(reps) == 1, "cxx_bank: expected one inversion report:\n" + run.describe())
    rep = reps[0]
    probs = lw.validate_report(rep, run.pid)
    t.expect(not probs, "cxx_bank: malformed report: %s" % probs)
    n = check_lines(t, rep, src, "cxx_bank")
    t.expect(n >= 6, "cxx_bank: only %d frames with a line of cxx_bank.cpp" % n)

    frames = all_frames(rep)
    fns = [f.get("function") or "" for f in frames]
    want = "bank::Ledger::transfer(bank::Account&, bank::Account&, long)"
    tr = [f for f in frames if f.get("function") == want]
    t.expect(tr, "cxx_bank: no frame named %r: %r" % (want, sorted(set(fns))))
    t.expect(all((f.get("mangled") or "").startswith("_ZN4bank6Ledger8transfer") for f in tr),
             "cxx_bank: transfer's mangled name: %r" % [f.get("mangled") for f in tr])
    t.expect(not any(fn.startswith("_Z") for fn in fns),
             "cxx_bank: a function name is not demangled: %r" % [f for f in fns if f.startswith("_Z")])
    # bank::credit is always inlined into transfer: an inlined frame of it.
    inl = [(fr, sf) for st in rep["stacks"] for fr in st for sf in fr.get("inlined") or []
           if (sf.get("function") or "").startswith("bank::credit(")]
    t.expect(inl, "cxx_bank: bank::credit is not an inlined frame anywhere")
    for fr, sf in inl:
        t.expect(fr.get("function") == want,
                 "cxx_bank: bank::credit inlined into %r, expected transfer" % fr.get("function"))
    summ = rep.get("summary") or {}
    t.expect((summ.get("function") or "").startswith("bank::credit(") and
             os.path.basename(summ.get("file") or "") == "cxx_bank.cpp",
             "cxx_bank: the JSON summary does not name bank::credit in cxx_bank.cpp: %r" % summ)

    text = lw.run_preload(prog, fmt=None, log=False).stderr
    m = re.search(r"^SUMMARY: lockwatch: .* in (.*)$", text, re.M)
    t.expect(m and m.group(1).startswith("bank::credit(bank::Account&, long) ") and
             re.search(r"cxx_bank\.cpp:\d+$", m.group(1)),
             "cxx_bank: the SUMMARY line does not name bank::credit with its line:\n" + text)
    t.expect(m and not any(w in m.group(1) for w in WRAPPER_NAMES),
             "cxx_bank: the SUMMARY names a wrapper:\n" + text)
    t.expect(re.search(r"in bank::credit\(bank::Account&, long\) \S*cxx_bank\.cpp:\d+ \(inlined\)",
                       text),
             "cxx_bank: the text report shows no inlined frame for bank::credit:\n" + text)


def check_c_inversion(t):
    prog = lw.example("inversion")
    src = os.path.join(lw.srcdir(), "examples", "inversion.c")
    run = lw.run_preload(prog)
    rep = [r for r in run.reports if r["kind"] == "lock-order-inversion"][0]
    n = check_lines(t, rep, src, "inversion")
    t.expect(n >= 4, "inversion: only %d frames with a line of inversion.c" % n)
    text = lw.run_preload(prog, fmt=None, log=False).stderr
    t.expect(re.search(r"in take_a_then_b \S*inversion\.c:\d+ \(\S*inversion\+0x[0-9a-f]+\)", text),
             "inversion: no text frame with file:line and module+offset:\n" + text)


def fallback_frames_ok(t, rep, module, what):
    """Frames of module: module+offset kept, no file or line."""
    mine = [fr for st in rep["stacks"] for fr in st if fr.get("module") == module]
    t.expect(mine, "%s: no frame in %s" % (what, module))
    for fr in mine:
        t.expect(fr.get("file") is None and fr.get("line") is None and not fr.get("inlined"),
                 "%s: a frame has source information: %r" % (what, fr))
        t.expect(re.match(r"^0x[0-9a-f]+$", fr.get("offset") or ""),
                 "%s: a frame has no offset: %r" % (what, fr))


def check_stripped(t, tmp):
    if not shutil.which("strip"):
        raise lw.Skip("strip is not installed")
    copy = os.path.join(tmp, "cxx_bank_stripped")
    subprocess.run(["strip", "-o", copy, lw.example("cxx_bank")], check=True)
    run = lw.run_preload(copy)
    reps = [r for r in run.reports if r["kind"] == "lock-order-inversion"]
    t.require(len(reps) == 1, "stripped: expected one inversion report:\n" + run.describe())
    t.expect(not lw.validate_report(reps[0], run.pid),
             "stripped: malformed: %s" % lw.validate_report(reps[0], run.pid))
    fallback_frames_ok(t, reps[0], copy, "stripped")


def check_broken_helper(t, tmp):
    prog = lw.example("inversion")
    quits = os.path.join(tmp, "quits")
    stalls = os.path.join(tmp, "stalls")
    with open(quits, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    with open(stalls, "w") as f:
        f.write("#!/bin/sh\nexec /bin/sleep 600\n")
    for p in (quits, stalls):
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
    for name, helper in (("missing", os.path.join(tmp, "nonexistent")), ("quits", quits),
                         ("stalls", stalls), ("none", "none")):
        what = "helper " + name
        start = time.monotonic()
        run = lw.run_preload(prog, extra_env={"LOCKWATCH_SYMBOLIZER": helper}, timeout=60)
        took = time.monotonic() - start
        reps = [r for r in run.reports if r["kind"] == "lock-order-inversion"]
        t.expect(len(reps) == 1, "%s: expected one inversion report:\n%s" % (what, run.describe()))
        t.expect(took < 30, "%s: the run took %.1f s" % (what, took))
        if reps:
            t.expect(not lw.validate_report(reps[0], run.pid),
                     "%s: malformed: %s" % (what, lw.validate_report(reps[0], run.pid)))
            fallback_frames_ok(t, reps[0], prog, what)
            # The ELF symbol table still names the program's functions.
            t.expect(any("take_a_then_b" in (fr.get("function") or "")
                         for st in reps[0]["stacks"] for fr in st),
                     "%s: the ELF symbol names are gone" % what)
        if name != "none":
            t.expect("lockwatch-symbolizer" in run.stderr,
                     "%s: no warning about the helper:\n%s" % (what, run.stderr))


def check_global_names(t):
    """A global or static lock is named by its symbol in the Cycle line, the
    lock footers and the JSON (C++ names demangled: _ZL6lock_a is lock_a)."""
    for name in ("inversion", "cxx_inversion"):
        prog = lw.example(name)
        run = lw.run_preload(prog)
        rep = [r for r in run.reports if r["kind"] == "lock-order-inversion"][0]
        syms = sorted(l.get("symbol") or "" for l in rep["locks"])
        t.expect(syms == ["lock_a", "lock_b"], "%s: lock symbols %r" % (name, syms))
        text = lw.run_preload(prog, fmt=None, log=False).stderr
        t.expect(re.search(r"Cycle in lock order graph: M\d \(lock_[ab], 0x[0-9a-f]+\) => "
                           r"M\d \(lock_[ab], 0x[0-9a-f]+\) => M\d", text),
                 "%s: the Cycle line does not name lock_a and lock_b:\n%s" % (name, text))
        t.expect(re.search(r"Mutex M\d \(lock_a, 0x[0-9a-f]+, normal mutex\), static lock_a "
                           r"declared at \S+:\d+, first locked at", text),
                 "%s: the lock footer does not name lock_a:\n%s" % (name, text))
    # Locks on a thread's stack have no symbol.
    run = lw.run_preload(lw.example("cxx_bank"))
    rep = run.reports[0]
    t.expect(all(l.get("symbol") is None for l in rep["locks"]),
             "cxx_bank: stack locks given a symbol: %r" % rep["locks"])


def check_clean_run_never_starts_helper(t, tmp):
    """A run that reports nothing never starts the helper; one that reports
    starts it (the same spy helper, which records that it ran)."""
    mark = os.path.join(tmp, "started")
    spy = os.path.join(tmp, "spy")
    with open(spy, "w") as f:
        f.write("#!/bin/sh\n: > %s\nexit 0\n" % mark)
    os.chmod(spy, 0o755)
    for name in ("clean_ordered", "cxx_clean"):
        lw.run_preload(lw.example(name), extra_env={"LOCKWATCH_SYMBOLIZER": spy})
        t.expect(not os.path.exists(mark), "%s: a clean run started the helper" % name)
    lw.run_preload(lw.example("inversion"), extra_env={"LOCKWATCH_SYMBOLIZER": spy})
    t.expect(os.path.exists(mark), "inversion: the spy helper was not started by a report")


def check_cxx_suppressions(t, tmp):
    """Suppression globs match demangled names, mangled names and inlined
    frames; the generated rule (a symbol name, no blanks) silences the
    report."""
    prog = lw.example("cxx_bank")
    run = lw.run_preload(prog, extra_env={"LOCKWATCH_GEN_SUPPRESSIONS": "1"})
    rule = run.reports[0].get("suppression") if run.reports else None
    t.expect(rule == "lock-order-inversion:_ZN4bank6Ledger8transferERNS_7AccountES2_l",
             "cxx_bank: generated rule %r" % (rule,))
    for n, r in enumerate([rule or "x:y", "lock-order-inversion:bank::credit(*",
                           "*:bank::Ledger::transfer(bank::Account&, bank::Account&, long)"]):
        path = os.path.join(tmp, "supp%d" % n)
        with open(path, "w") as f:
            f.write(r + "\n")
        run = lw.run_preload(prog, extra_env={"LOCKWATCH_SUPPRESSIONS": path})
        t.expect(run.reports == [] and run.returncode == 0,
                 "cxx_bank: the rule %r did not suppress the report:\n%s" % (r, run.describe()))


FORK_SOURCE = r"""
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER;

static void pair(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

int main(void)
{
    int st;
    pair(&a, &b);
    pair(&b, &a);               /* the parent reports: its helper starts */
    pid_t pid = fork();
    if (pid == 0) {
        pair(&c, &d);
        pair(&d, &c);           /* the child reports: its own helper */
        return 0;
    }
    /* The helper is nobody's child: waitpid(-1) reaps the child only, and
     * then fails with ECHILD instead of waiting for the helper. */
    if (waitpid(-1, &st, 0) != pid || waitpid(-1, &st, 0) != -1)
        return 3;
    printf("fork_sym: done\n");
    return 0;
}
"""


def check_fork(t, tmp):
    """After a fork, the child's report still has file:line (its own helper),
    and the program's waitpid(-1) never meets the helper."""
    cc = shlex.split(os.environ.get("CC") or "") or ["cc"]
    if not shutil.which(cc[0]):
        raise lw.Skip("no C compiler (%s)" % cc[0])
    src = os.path.join(tmp, "fork_sym.c")
    with open(src, "w") as f:
        f.write(FORK_SOURCE)
    prog = os.path.join(tmp, "fork_sym")
    res = subprocess.run(cc + ["-g", "-O0", "-pthread", "-o", prog, src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    t.require(res.returncode == 0, "cannot compile %s: %s" % (src, res.stderr))
    run = lw.run_preload(prog, timeout=60)
    t.expect("fork_sym: done" in run.stdout, "fork_sym: the parent's waitpid(-1) calls went "
             "wrong (the helper seen as a child?):\n" + run.describe())
    pids = sorted(set(r["pid"] for r in run.reports))
    t.expect(len(run.reports) == 2 and len(pids) == 2,
             "fork_sym: expected one report from each process:\n" + run.describe())
    for rep in run.reports:
        n = check_lines(t, rep, src, "fork_sym pid %d" % rep["pid"])
        t.expect(n >= 4, "fork_sym pid %d: only %d frames with a line of fork_sym.c"
                 % (rep["pid"], n))


def main(t):
    lw.detector_is_live(t)
    check_cxx_bank(t)
    check_c_inversion(t)
    check_global_names(t)
    with tempfile.TemporaryDirectory(prefix="lwsym.") as tmp:
        check_broken_helper(t, tmp)
        check_clean_run_never_starts_helper(t, tmp)
        check_cxx_suppressions(t, tmp)
        check_fork(t, tmp)
        check_stripped(t, tmp)


lw.main(main)
