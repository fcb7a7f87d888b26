"""Race sampling (LOCKWATCH_RACES=sample) on race-free lock-free code: C11
and C++ atomics whose loads and release stores are plain `mov`s on x86.

The symbolizer's "data" request marks an address inside an atomic object:
examples/acqrel_flag's `progress` (a C11 atomic_int) is atomic, racy_flag's
`progress` (a plain int) is not.

examples/acqrel_flag (release stores, acquire loads of a global atomic_int,
built -O0 -g): RUNS runs at a high sampling rate report no data race, yet
their watchpoints are hit (the statistics line counts the hits found on
atomic objects, at least one over the runs: without the DWARF type the
same hits were data-race reports in most runs).

examples/cxx_acqrel_ring.cpp built -O2 -g here (its std::atomic head and
tail are members of a heap object, whose type no debug information gives;
their loads and stores are inlined std::atomic<T>::load and store, which
the symbolizer's inline scopes name): no data race in RUNS runs, hits
counted on atomic objects.

examples/racy_flag (the same program with a plain int) is still reported
in at least one of RUNS runs."""
import os
import re
import shutil
import subprocess
import tempfile

import lwtest as lw

RUNS = 6
FAST = {"LOCKWATCH_RACES": "sample", "LOCKWATCH_RACE_RATE": "1000",
        "LOCKWATCH_RACE_STATS": "1"}
ON_ATOMIC = re.compile(r"^lockwatch: race sampling: .* (\d+) on atomic objects, ", re.M)


def races(run):
    return [r for r in run.reports if r.get("kind") == "data-race"]


def symbolizer():
    path = os.path.join(os.environ["LW_BUILDDIR"], "src", "lockwatch-symbolizer")
    if not os.access(path, os.X_OK):
        raise lw.Failure("%s is not built" % path)
    return path


def data_answer(t, prog, var):
    """The symbolizer's V line for the variable `var` of prog."""
    nm = subprocess.run(["nm", prog], capture_output=True, text=True, check=True).stdout
    addr = [l.split()[0] for l in nm.splitlines() if l.split()[-1:] == [var]]
    t.require(addr, "%s has no symbol %s" % (prog, var))
    p = subprocess.run([symbolizer()], input="data %s %s\n" % (addr[0], prog),
                       capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.startswith("V\t")]
    t.require(len(lines) == 1, "symbolizer on %s %s: %r" % (prog, var, p.stdout))
    return lines[0].split("\t")


def runs_without_races(t, prog, native, what):
    """RUNS runs; no data race; returns the hits counted on atomic objects."""
    on_atomic = 0
    for i in range(RUNS):
        run = lw.run_preload(prog, extra_env=FAST)
        w = "%s run %d" % (what, i + 1)
        if i == 0 and "race sampling is off" in run.stderr:
            raise lw.Skip("hardware watchpoints refused here: " + run.stderr.strip())
        lw.expect_same_stdout(t, native, run, w)
        t.expect(run.returncode == 0, "%s: exit %d\n%s" % (w, run.returncode, run.describe()))
        t.expect(not races(run), "%s: data race reported on race-free atomics: %s"
                 % (w, lw.describe_reports(races(run))))
        m = ON_ATOMIC.search(run.stderr)
        t.require(m, "%s: no statistics line\n%s" % (w, run.describe()))
        on_atomic += int(m.group(1))
    return on_atomic


def body(t):
    acq, racy = lw.example("acqrel_flag"), lw.example("racy_flag")

    v = data_answer(t, acq, "progress")
    t.expect(v[1] == "progress" and v[-1] == "1",
             "acqrel_flag's progress (atomic_int) not marked atomic: %r" % v)
    v = data_answer(t, racy, "progress")
    t.expect(v[1] == "progress" and v[-1] == "0",
             "racy_flag's progress (a plain int) marked atomic: %r" % v)

    native = lw.native_ok(t, acq, "acqrel_flag")
    n = runs_without_races(t, acq, native, "acqrel_flag")
    t.expect(n >= 1, "acqrel_flag: no watchpoint hit on the atomic in %d runs: the test "
             "shows nothing (statistics count 0 on atomic objects)" % RUNS)

    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
    t.require(cxx, "no C++ compiler to build cxx_acqrel_ring at -O2")
    src = os.path.join(os.environ["LW_SRCDIR"], "examples", "cxx_acqrel_ring.cpp")
    with tempfile.TemporaryDirectory(prefix="lwatomics.") as tmp:
        ring = os.path.join(tmp, "cxx_acqrel_ring_O2")
        subprocess.run([cxx, "-O2", "-g", "-pthread", src, "-o", ring], check=True)
        native = lw.native_ok(t, ring, "cxx_acqrel_ring -O2")
        n = runs_without_races(t, ring, native, "cxx_acqrel_ring -O2")
        t.expect(n >= 1, "cxx_acqrel_ring -O2: no watchpoint hit on the atomics in %d runs: "
                 "the test shows nothing" % RUNS)

    found = 0
    native = lw.native_ok(t, racy, "racy_flag")
    for i in range(RUNS):
        run = lw.run_preload(racy, extra_env=FAST)
        lw.expect_same_stdout(t, native, run, "racy_flag run %d" % (i + 1))
        found += any((r.get("race") or {}).get("variable") == "progress" for r in races(run))
    t.expect(found >= 1, "racy_flag: no data race on progress in %d runs" % RUNS)
    t.note("racy_flag reported in %d of %d runs" % (found, RUNS))


lw.main(body)
