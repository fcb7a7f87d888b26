"""LOCKWATCH_RACES=sample end to end (race.c), with examples/racy_counter and
examples/locked_counter.

Race sampling is probabilistic: a sample must land on the counter's access
(not on the loop variable, which is on the stack) while the other thread is
in its loop, and the other thread must touch the counter during the delay.
racy_counter runs at a high rate up to RUNS times; the test requires at
least one data-race report naming `counter` with both threads, both stacks
in `worker` and no locks held, and prints the share of runs that reported.
locked_counter (the same increments under one mutex) must never report a
race, in every run, though watchpoints are armed there (LOCKWATCH_RACE_STATS
says so).  With LOCKWATCH_RACES unset nothing changes: no report, no line.
The refused path (LOCKWATCH_RACE_TEST_REFUSE=1, as when perf_event_paranoid
or seccomp refuses perf_event_open) prints one `lockwatch:` line and the
program exits 0 with its normal output; so does the real refusal, a seccomp
filter that fails perf_event_open with EACCES (examples/no_perf), and
libcapstone that cannot be loaded (a copy of the library whose soname
string names a libcapstone that does not exist).  examples/race_signals: the
program's own SIGTRAP handler (installed with signal(), read back with
sigaction()) gets its SIGTRAP under sampling, and a handler it installs for
SIGRTMAX-6 makes lockwatch step aside with one line while the program's
handler gets the signal.  examples/race_sigwait: threads born with every
signal blocked, one of them in sigwait: it gets only the program's SIGUSR1.
examples/race_under_rdlock: readers bump a counter under a read lock; the
race is reported (in at least one of RUNS runs) with both threads holding
table_lock for reading.  examples/race_heap: the race is on a field of a
calloc'd struct, named "heap object 0x...+0x28".  examples/race_thread_churn: 50 threads created and
joined one by one, then a timer of the program's own, whose id counts the
timers the process created: one per thread under sampling (its sampling
timer), not one per signal-mask change of lockwatch's own unwinding
(libunwind blocks every signal around its locks with sigprocmask: each pair
used to delete and re-create the thread's timer).
The race set (bench/races.py): `lockwatch --repeat
SET_RUNS` (8 for racy_toctou; no jitter) reports a data-race on the racy
variable in at least one run of racy_flag and racy_toctou, and none in any
run of the race-free twins locked_flag and locked_toctou, where watchpoints
are armed (LOCKWATCH_RACE_STATS runs say so)."""
import json
import os
import re
import subprocess
import tempfile

import lwtest as lw

RUNS = 10
RATE = "2000"
SAMPLE = {"LOCKWATCH_RACES": "sample", "LOCKWATCH_RACE_RATE": RATE,
          "LOCKWATCH_RACE_STATS": "1"}
STATS = re.compile(r"^lockwatch: race sampling: (\d+) samples, (\d+) armed, (\d+) hits, "
                   r"(\d+) races, (\d+) unseen writes, \d+ atomic hits, \d+ on atomic objects, \d+ reached by single "
                   r"steps \(not armed: \d+ no memory operand, \d+ stack, \d+ atomic, \d+ slots "
                   r"full, \d+ no other thread\); guarded ranges: \d+ armed, \d+ accesses "
                   r"without their lock$", re.M)


def stats(t, run, what):
    m = STATS.search(run.stderr)
    t.require(m, "%s: no LOCKWATCH_RACE_STATS line\n%s" % (what, run.describe()))
    return [int(x) for x in m.groups()]


def races(run):
    return [r for r in run.reports if r.get("kind") == "data-race"]


def first_race_run(t, name, check):
    """Runs example `name` under sampling until a run reports a data race
    (at most RUNS runs), its output as native; check(report, what) judges
    each report of that run."""
    prog = lw.example(name)
    native = lw.native_ok(t, prog, name)
    for i in range(RUNS):
        what = "%s run %d" % (name, i + 1)
        run = lw.run_preload(prog, extra_env=dict(SAMPLE, LOCKWATCH_RACE_STATS="0"))
        lw.expect_same_stdout(t, native, run, what)
        for r in races(run):
            for p in lw.validate_issue(r):
                t.expect(False, "%s: %s" % (what, p))
            check(r, what)
        if races(run):
            return
    t.expect(False, "%s: no data-race in %d runs" % (name, RUNS))


def check_race_report(t, rep, what):
    for p in lw.validate_issue(rep):
        t.expect(False, "%s: %s" % (what, p))
    t.expect("counter" in rep.get("message", ""),
             "%s: the message does not name counter: %r" % (what, rep.get("message")))
    race = rep.get("race") or {}
    t.expect(race.get("variable") == "counter" and race.get("size") in (4, 8),
             "%s: race member %r" % (what, race))
    threads = rep.get("threads") or []
    t.expect(len(threads) == 2, "%s: %d threads, expected 2" % (what, len(threads)))
    for i, th in enumerate(threads):
        t.expect(th.get("holds") == [], "%s: thread %d holds %r" % (what, i, th.get("holds")))
        frames = lw.stack(rep, th.get("stack"))
        t.expect(lw.has_function(frames, "worker"),
                 "%s: thread %d's stack is not in worker: %r" % (what, i, lw.functions(frames)))
    t.expect(len({th.get("id") for th in threads}) == 2, "%s: the same thread twice" % what)


SET_RUNS = 5
# racy program -> the variable its race is on, runs (bench/races.py at this
# rate: racy_flag reported in 20 runs of 20, racy_toctou in 12 or 13)
SET_RACY = {"racy_flag": ("progress", SET_RUNS), "racy_toctou": ("balance", 8)}
SET_CLEAN = ("locked_flag", "locked_toctou")


def repeat(prog, cwd, runs=SET_RUNS):
    """`lockwatch --repeat RUNS` with sampling on and no jitter (the twins
    make millions of lock calls): the launcher's output and the data-race
    records of its merged log."""
    env = lw.base_env()
    env.pop("LD_PRELOAD", None)
    env.update(LOCKWATCH_RACES="sample", LOCKWATCH_RACE_RATE=RATE, LOCKWATCH_JITTER="0")
    p = subprocess.run([lw.launcher(), "--repeat", str(runs), "--", prog], cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=lw.TIMEOUT * runs)
    reps = []
    path = os.path.join(cwd, "lockwatch-repeat.jsonl")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            reps = [json.loads(ln) for ln in f if ln.strip()]
        os.unlink(path)
    return p, [r for r in reps if r.get("kind") == "data-race"]


def race_set(t):
    with tempfile.TemporaryDirectory(prefix="lwraces.") as tmp:
        for name, (var, n) in SET_RACY.items():
            p, reps = repeat(lw.example(name), tmp, n)
            what = "lockwatch --repeat %d %s" % (n, name)
            runs = set()
            for r in reps:
                runs |= set(r.get("in_runs") or [])
                t.expect((r.get("race") or {}).get("variable") == var,
                         "%s: a data-race on %r, expected %s: %s"
                         % (what, r.get("race"), var, r.get("message")))
            t.note("%s: a data-race in %d of %d runs" % (what, len(runs), n))
            t.expect(runs and p.returncode == lw.DEFAULT_EXITCODE,
                     "%s: no data-race in any run (exit %d)\n%s%s"
                     % (what, p.returncode, p.stdout, p.stderr))
        for name in SET_CLEAN:
            p, reps = repeat(lw.example(name), tmp)
            what = "lockwatch --repeat %d %s" % (SET_RUNS, name)
            t.expect(p.returncode == 0 and not reps,
                     "%s: race-free, expected no finding and exit 0, got exit %d\n%s%s"
                     % (what, p.returncode, p.stdout, p.stderr))
            # Watchpoints were armed on this program (else the test shows
            # nothing): a run with statistics, up to five.
            armed = 0
            for i in range(5):
                run = lw.run_preload(lw.example(name), extra_env=SAMPLE)
                armed += stats(t, run, name)[1]
                t.expect(run.returncode == 0 and not races(run),
                         "%s: run with statistics %d: exit %d, %d data-races (expected 0, 0)\n%s"
                         % (name, i + 1, run.returncode, len(races(run)), run.describe()))
                if armed:
                    break
            t.note("%s: %d armings in %d runs" % (name, armed, i + 1))
            t.expect(armed > 0, "%s: no watchpoint armed in 5 runs" % name)


def body(t):
    racy, locked = lw.example("racy_counter"), lw.example("locked_counter")
    native_racy = lw.native_ok(t, racy, "racy_counter")
    native_locked = lw.native_ok(t, locked, "locked_counter")

    # Can this machine arm a watchpoint at all?
    first = lw.run_preload(racy, extra_env=SAMPLE)
    if "race sampling is off" in first.stderr:
        raise lw.Skip("hardware watchpoints refused here: " + first.stderr.strip())

    reported = samples = armed = hits = 0
    for i in range(RUNS):
        run = first if i == 0 else lw.run_preload(racy, extra_env=SAMPLE)
        what = "racy_counter run %d" % (i + 1)
        want = 66 if races(run) else 0   # LOCKWATCH_EXITCODE after a report
        t.expect(run.returncode == want, "%s: exit %d, expected %d\n%s"
                 % (what, run.returncode, want, run.describe()))
        lw.expect_same_stdout(t, native_racy, run, what)
        st = stats(t, run, what)
        t.note("%s: samples %d, armed %d, hits %d, races %d, unseen writes %d, reports %d"
               % (what, *st, len(races(run))))
        for r in races(run):
            check_race_report(t, r, what)
        reported += bool(races(run))
        samples += st[0]
        armed += st[1]
        hits += st[2]
    t.note("racy_counter: a data-race reported in %d of %d runs (rate %s/s)"
           % (reported, RUNS, RATE))
    t.expect(reported >= 1, "racy_counter: no data-race in %d runs" % RUNS)
    # Nearly every instruction of worker's loop touches memory, but a timer
    # interrupt lands mostly just after a slow access; single-stepping to
    # the next access arms most samples (without it: about one in five).
    t.note("racy_counter: %d of %d samples armed a watchpoint" % (armed, samples))
    t.expect(2 * armed >= samples, "racy_counter: only %d of %d samples armed a watchpoint"
             % (armed, samples))
    # The other worker writes the counter all the time: on an idle machine
    # about two armings in three are hit, fewer when other jobs keep the
    # other worker off the CPU during the windows (one in five seen with a
    # benchmark running beside the test); a thread once wrongly marked as
    # blocking SIGTRAP was never armed again: 1 hit a run, of hundreds of
    # armings.
    t.note("racy_counter: %d of %d armings hit" % (hits, armed))
    t.expect(10 * hits >= armed, "racy_counter: only %d of %d armings were hit" % (hits, armed))

    armed = 0
    for i in range(3):
        what = "locked_counter run %d" % (i + 1)
        run = lw.run_preload(locked, extra_env=SAMPLE)
        t.expect(run.returncode == 0, "%s: exit %d\n%s" % (what, run.returncode, run.describe()))
        lw.expect_same_stdout(t, native_locked, run, what)
        t.expect(run.reports == [], "%s: expected no report, got:\n%s"
                 % (what, lw.describe_reports(run.reports)))
        armed += stats(t, run, what)[1]
    t.note("locked_counter: %d armings in 3 runs, no report" % armed)
    t.expect(armed > 0, "locked_counter: no watchpoint was ever armed (the test shows nothing)")

    # Races off (the default): the program and lockwatch as before.
    off = lw.run_preload(racy)
    lw.expect_clean_run(t, native_racy, off, "racy_counter, LOCKWATCH_RACES unset")
    off = lw.run_preload(racy, extra_env={"LOCKWATCH_RACES": "off", "LOCKWATCH_RACE_STATS": "1"})
    lw.expect_clean_run(t, native_racy, off, "racy_counter, LOCKWATCH_RACES=off")

    # Refused: one line, the program unchanged.
    env = dict(SAMPLE, LOCKWATCH_RACE_TEST_REFUSE="1")
    del env["LOCKWATCH_RACE_STATS"]
    ref = lw.run_preload(racy, extra_env=env)
    what = "racy_counter, perf_event_open refused"
    t.expect(ref.returncode == 0, "%s: exit %d\n%s" % (what, ref.returncode, ref.describe()))
    lw.expect_same_stdout(t, native_racy, ref, what)
    t.expect(ref.reports == [], "%s: reports %s" % (what, lw.describe_reports(ref.reports)))
    lines = ref.stderr.splitlines()
    t.expect(len(lines) == 1 and lines[0].startswith("lockwatch: race sampling is off: ")
             and "perf_event_open" in lines[0],
             "%s: expected one 'lockwatch: race sampling is off' line, got:\n%s"
             % (what, ref.stderr))


    # The decoder cannot be loaded: a copy of the library asking for a
    # libcapstone.so.<n> that does not exist.  One line, the program unchanged.
    with open(lw.lib(), "rb") as f:
        image = f.read()
    m = re.search(rb"libcapstone\.so\.(\d+)\0", image)
    t.require(m, "the library names no libcapstone.so.N to dlopen")
    bad = image.replace(m.group(0), b"libcapstone.so." + b"9" * len(m.group(1)) + b"\0")
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        badlib = os.path.join(tmp, "liblockwatch.so")
        with open(badlib, "wb") as f:
            f.write(bad)
        env = dict(SAMPLE, LD_PRELOAD=badlib)
        del env["LOCKWATCH_RACE_STATS"]
        ref = lw.run_preload(racy, extra_env=env)
    what = "racy_counter, libcapstone missing"
    t.expect(ref.returncode == 0, "%s: exit %d\n%s" % (what, ref.returncode, ref.describe()))
    lw.expect_same_stdout(t, native_racy, ref, what)
    t.expect(ref.reports == [], "%s: reports %s" % (what, lw.describe_reports(ref.reports)))
    lines = ref.stderr.splitlines()
    t.expect(len(lines) == 1 and lines[0].startswith(
                 "lockwatch: race sampling is off: the instruction decoder cannot start: "
                 "cannot load libcapstone.so.9"),
             "%s: expected one 'race sampling is off' line naming libcapstone, got:\n%s"
             % (what, ref.stderr))

    # Really refused: a seccomp filter (examples/no_perf) fails perf_event_open.
    nop = lw.example("no_perf")
    ref = lw.run_preload([nop, racy], extra_env={"LOCKWATCH_RACES": "sample"})
    what = "racy_counter under a seccomp filter refusing perf_event_open"
    if ref.returncode == 77:
        t.note("%s: seccomp unavailable here, not checked" % what)
    else:
        t.expect(ref.returncode == 0, "%s: exit %d\n%s" % (what, ref.returncode, ref.describe()))
        lw.expect_same_stdout(t, native_racy, ref, what)
        t.expect(ref.reports == [], "%s: reports %s" % (what, lw.describe_reports(ref.reports)))
        lines = ref.stderr.splitlines()
        t.expect(len(lines) == 1 and lines[0].startswith(
                     "lockwatch: race sampling is off: perf_event_open was refused")
                 and "Permission denied" in lines[0],
                 "%s: expected one 'race sampling is off' line, got:\n%s" % (what, ref.stderr))

    # The program's own signal handlers.
    sig = lw.example("race_signals")
    for args, line in (([], None), (["rt"], "lockwatch: race sampling is off: the program installs "
                                     "its own handler for signal")):
        what = "race_signals %s" % " ".join(args)
        native = lw.native_ok(t, [sig] + args, what)
        run = lw.run_preload([sig] + args, extra_env={"LOCKWATCH_RACES": "sample"})
        t.expect(run.returncode == 0, "%s: exit %d\n%s" % (what, run.returncode, run.describe()))
        lw.expect_same_stdout(t, native, run, what)
        t.expect(run.reports == [], "%s: reports %s" % (what, lw.describe_reports(run.reports)))
        want = [line] if line else []
        got = [ln[:len(line)] if line else ln for ln in run.stderr.splitlines()]
        t.expect(got == want, "%s: expected stderr %r, got:\n%s" % (what, want, run.stderr))


    # sigwait with every signal blocked never sees the sampling signal.
    sw = lw.example("race_sigwait")
    native = lw.native_ok(t, sw, "race_sigwait")
    for i in range(3):
        what = "race_sigwait run %d" % (i + 1)
        run = lw.run_preload(sw, extra_env=dict(SAMPLE, LOCKWATCH_RACE_STATS="0"))
        t.expect(run.returncode == 0, "%s: exit %d\n%s" % (what, run.returncode, run.describe()))
        lw.expect_same_stdout(t, native, run, what)
        t.expect(run.stderr == "", "%s: stderr:\n%s" % (what, run.stderr))


    # Lockwatch's own mask changes (libunwind's) leave the timers alone.
    churn = lw.example("race_thread_churn")
    nat = lw.native_ok(t, [churn, "50"], "race_thread_churn")
    m0 = re.search(r"timer id (\d+)", nat.stdout)
    t.require(m0, "race_thread_churn natively: %r" % nat.stdout)
    run = lw.run_preload([churn, "50"], extra_env=dict(SAMPLE, LOCKWATCH_RACE_STATS="0"))
    what = "race_thread_churn under sampling"
    t.expect(run.returncode == 0 and run.reports == [] and run.stderr == "",
             "%s: exit %d, reports %s\n%s" % (what, run.returncode,
                                             lw.describe_reports(run.reports or []), run.describe()))
    m1 = re.search(r"timer id (\d+)", run.stdout)
    t.require(m1, "%s: %r" % (what, run.stdout))
    made = int(m1.group(1)) - int(m0.group(1))
    t.note("%s: %d timers created for 50 threads" % (what, made))
    t.expect(made <= 2 * 50 + 10, "%s: the process created %d timers for 50 threads (a timer "
             "deleted and re-created at each of lockwatch's own signal-mask changes?)"
             % (what, made))

    # A write under a read lock: both threads hold table_lock, for reading.
    def rdlock_check(r, what):
        t.expect((r.get("race") or {}).get("variable") == "lookups",
                 "%s: race member %r" % (what, r.get("race")))
        for th in r.get("threads") or []:
            holds = th.get("holds") or []
            labels = [lw.lock_by_id(r, h.get("lock")).get("label") for h in holds]
            t.expect(labels == ["table_lock"] and holds[0].get("mode") == "read",
                     "%s: thread %s holds %r (%r), expected table_lock for reading"
                     % (what, th.get("id"), labels, holds))
    first_race_run(t, "race_under_rdlock", rdlock_check)

    # Heap memory is named as a heap lock is: its allocation and the offset.
    def heap_check(r, what):
        var = (r.get("race") or {}).get("variable") or ""
        t.expect(re.match(r"^heap object 0x[0-9a-f]+\+0x28$", var),
                 "%s: race on %r, expected the hits field, heap object 0x...+0x28"
                 % (what, var))
    first_race_run(t, "race_heap", heap_check)

    race_set(t)


lw.main(body)
