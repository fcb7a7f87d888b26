"""Bugs on rare, timing-dependent paths (examples/rare_inversion and
examples/rare_blocking, issue 11): the deterministic part.  How often the
paths are taken natively, how often one lockwatch run with or without
jitter reports them and how often one `lockwatch --repeat 20` does is
measured by `make bench-rare` (bench/rare_paths.py, README "Stress runs"),
not here: a test that relied on a rate would fail some CI runs.

RARE_PATH=always makes the program hold its window open until the other
thread falls into it, so the path is taken in every run: lockwatch reports
what the path does, once, with the right locks, functions and exit status,
also under jitter, and `lockwatch --repeat` finds it in every run and
prints a replay command that reports the same fingerprint again.
RARE_PATH=never: exit 0 and no report, even at LOCKWATCH_JITTER=100.
Without RARE_PATH, whichever way a run went: a report comes if and only if
the program says it took the path."""
import json
import os
import re
import shlex
import subprocess
import tempfile

import lwtest as lw

TAKEN = "rare path taken"
INVERSION = "lock-order-inversion"
BLOCKING = "blocking-call-under-lock"
# program -> kind of its finding
PROGRAMS = {"rare_inversion": INVERSION, "rare_blocking": BLOCKING}


def mode_env(mode):
    # "" is not a mode the programs know: the natural timing
    return {"RARE_PATH": mode}


def check_inversion(t, rep, what):
    """rare_inversion: fill_batch takes cache_lock -> stats_lock, the
    janitor's compact_cache stats_lock -> cache_lock."""
    cache, stats = lw.lock_named(rep, "cache_lock"), lw.lock_named(rep, "stats_lock")
    t.require(cache is not None and stats is not None,
              "%s: the report should name cache_lock and stats_lock: %r" % (what, rep["locks"]))
    fill = lw.edge_with_function(t, rep, "fill_batch", what)
    compact = lw.edge_with_function(t, rep, "compact_cache", what)
    t.expect(fill["from"] == cache["id"] and fill["to"] == stats["id"],
             "%s: fill_batch's edge should be cache_lock -> stats_lock: %r" % (what, fill))
    t.expect(compact["from"] == stats["id"] and compact["to"] == cache["id"],
             "%s: compact_cache's edge should be stats_lock -> cache_lock: %r" % (what, compact))
    t.expect(fill["thread"] != compact["thread"], "%s: both edges in %s" % (what, fill["thread"]))
    t.expect(rep.get("confidence") == "feasible",
             "%s: confidence %r, expected feasible (two threads, no common lock)"
             % (what, rep.get("confidence")))


def check_blocking(t, rep, what):
    """rare_blocking: the monitor's log_contention writes to a pipe while it
    holds state_lock, which the worker takes too."""
    call = rep.get("call") or {}
    t.expect(call.get("function") == "write" and call.get("family") == "pipe",
             "%s: expected write() (pipe), got %r" % (what, call))
    threads = rep.get("threads") or []
    t.require(len(threads) == 1, "%s: expected the calling thread alone: %r" % (what, threads))
    frames = lw.stack(rep, threads[0].get("stack"))
    t.expect(frames and (frames[0].get("function") or "").split(".")[0] == "log_contention",
             "%s: the call stack should start in log_contention: %r"
             % (what, lw.functions(frames)))
    t.expect(threads[0].get("id") != "T0", "%s: the call is the monitor's, not main's" % what)
    state = lw.lock_named(rep, "state_lock")
    held = [h.get("lock") for h in threads[0].get("holds") or []]
    t.expect(state is not None and held == [state["id"]],
             "%s: the thread should hold state_lock alone: holds %r, locks %r"
             % (what, held, rep.get("locks")))


CHECK = {INVERSION: check_inversion, BLOCKING: check_blocking}


def check_one_finding(t, run, name, what):
    """Exactly one well-formed report of the program's kind, exit 66."""
    kind = PROGRAMS[name]
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (what, run.returncode, lw.DEFAULT_EXITCODE, run.describe()))
    t.require(len(run.reports) == 1 and run.reports[0].get("kind") == kind,
              "%s: expected exactly one %s report, got:\n%s"
              % (what, kind, lw.describe_reports(run.reports)))
    rep = run.reports[0]
    problems = lw.validate_report(rep, run.pid)
    t.expect(not problems, "%s: malformed report:\n  %s" % (what, "\n  ".join(problems)))
    CHECK[kind](t, rep, what)
    lw.expect_quiet_stderr(t, run, what)
    return rep


def check_forced(t, name):
    prog = lw.example(name)
    native = lw.run_native([prog], extra_env=mode_env("always"))
    t.expect(native.returncode == 0 and TAKEN in native.stdout,
             "%s RARE_PATH=always natively: expected exit 0 and %r\n%s"
             % (name, TAKEN, native.describe()))
    for extra in ({}, {"LOCKWATCH_JITTER": "50", "LOCKWATCH_SEED": "7"}):
        env = dict(mode_env("always"), **extra)
        what = "%s %s" % (name, " ".join("%s=%s" % kv for kv in sorted(env.items())))
        run = lw.run_preload([prog], extra_env=env)
        t.expect(TAKEN in run.stdout, "%s: the path was not taken:\n%s" % (what, run.describe()))
        rep = check_one_finding(t, run, name, what)
        if extra:
            t.expect(rep.get("jitter") == 50 and rep.get("seed") == 7,
                     "%s: the report should state jitter 50 and seed 7" % what)


def check_never(t, name):
    prog = lw.example(name)
    native = lw.run_native([prog], extra_env=mode_env("never"))
    t.require(native.returncode == 0 and TAKEN not in native.stdout and native.stdout,
              "%s RARE_PATH=never natively: expected exit 0 without %r\n%s"
              % (name, TAKEN, native.describe()))
    for extra in ({}, {"LOCKWATCH_JITTER": "100"}):
        env = dict(mode_env("never"), **extra)
        what = "%s %s" % (name, " ".join("%s=%s" % kv for kv in sorted(env.items())))
        run = lw.run_preload([prog], extra_env=env)
        lw.expect_clean_run(t, native, run, what)


def check_natural(t, name, runs=4):
    """Whatever the timing did: a report if and only if the path was taken."""
    prog = lw.example(name)
    for i in range(runs):
        native = lw.run_native([prog], extra_env=mode_env(""))
        t.expect(native.returncode == 0, "%s natively: exit %d\n%s"
                 % (name, native.returncode, native.describe()))
        env = mode_env("")
        if i % 2:
            env["LOCKWATCH_JITTER"] = "50"
        what = "%s run %d%s" % (name, i + 1, " with jitter" if i % 2 else "")
        run = lw.run_preload([prog], extra_env=env)
        if TAKEN in run.stdout:
            check_one_finding(t, run, name, what + " (path taken)")
        else:
            t.expect(run.returncode == 0 and not run.reports,
                     "%s (path not taken): expected exit 0 and no report\n%s"
                     % (what, run.describe()))


def check_repeat(t, name, tmp):
    """--repeat with the path forced: every run finds it; the printed replay
    command reports the same fingerprint again."""
    prog = lw.example(name)
    env = lw.base_env()
    env.pop("LD_PRELOAD", None)
    env.update(mode_env("always"))
    p = subprocess.run([lw.launcher(), "--repeat=3", "--jobs=2", "--seed=500", "--", prog],
                       cwd=tmp, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=lw.TIMEOUT * 4)
    what = "%s RARE_PATH=always lockwatch --repeat=3 --seed=500" % name
    t.expect(p.returncode == lw.DEFAULT_EXITCODE, "%s: exit %d, expected %d\n%s%s"
             % (what, p.returncode, lw.DEFAULT_EXITCODE, p.stdout, p.stderr))
    t.expect("1 finding:" in p.stdout and "3 of 3 runs, first with seed 500" in p.stdout
             and PROGRAMS[name] in p.stdout,
             "%s: the summary should show one %s in 3 of 3 runs from seed 500:\n%s"
             % (what, PROGRAMS[name], p.stdout))
    m = re.search(r"^    replay: (.*)$", p.stdout, re.M)
    t.require(m is not None, "%s: no replay line:\n%s" % (what, p.stdout))
    with open(os.path.join(tmp, "lockwatch-repeat.jsonl"), encoding="utf-8") as f:
        merged = [json.loads(l) for l in f if l.strip()]
    t.require(len(merged) == 1, "%s: the merged log should hold one finding: %r" % (what, merged))
    fp = merged[0].get("fingerprint")

    words = shlex.split(m.group(1))
    renv = dict(env)
    while words and "=" in words[0] and words[0].split("=", 1)[0].startswith("LOCKWATCH_"):
        k, v = words.pop(0).split("=", 1)
        renv[k] = v
    t.require(words and words[0] == "lockwatch" and renv.get("LOCKWATCH_SEED") == "500",
              "%s: unexpected replay command %r" % (what, m.group(1)))
    log = os.path.join(tmp, "replay-%s.jsonl" % name)
    renv.update(LOCKWATCH_FORMAT="json", LOCKWATCH_LOG=log)
    r = subprocess.run([lw.launcher()] + words[1:], env=renv, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=lw.TIMEOUT)
    with open(log, encoding="utf-8") as f:
        reps = lw.parse_json_lines(f.read(), "replay log")
    t.expect(r.returncode == lw.DEFAULT_EXITCODE and [x.get("fingerprint") for x in reps] == [fp],
             "%s: the replay (%s) should report fingerprint %s alone, exit %d:\n%s"
             % (what, m.group(1), fp, r.returncode, lw.describe_reports(reps)))
    t.expect(reps and reps[0].get("seed") == 500, "%s: the replay should state seed 500" % what)


def main(t):
    lw.detector_is_live(t)
    with tempfile.TemporaryDirectory(prefix="lwrare.") as tmp:
        for name in PROGRAMS:
            check_never(t, name)
            check_forced(t, name)
            check_natural(t, name)
            check_repeat(t, name, tmp)


lw.main(main)
