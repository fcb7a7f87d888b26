#!/usr/bin/env python3
"""bench/rare_paths.py: how often lockwatch catches a bug on a rare path
(`make bench-rare`).

The programs (examples/rare_*.c) have a bug on a timing-dependent path that
a plain run takes in about 5 % of runs.  For each one this script measures:

  native      the rate at which the path is taken in M plain runs (the
              program prints "rare path taken");
  lw 1 run    the rate at which one lockwatch run, without jitter, reports
              the bug (and whether its reports agree with the path taken);
  jitter 1    the same with LOCKWATCH_JITTER (the level `lockwatch --repeat`
              uses, 50, unless --jitter says otherwise) and a fresh seed;
  --repeat    the fraction of K invocations of
              `tools/lockwatch --repeat 20 -- program` that report the bug,
              and how many of their runs did;
  replay      for every invocation that found it, the replay command its
              summary prints, run R times (default once): how many times it
              reports the finding again (the same fingerprint).

The claim under test (issue 11): one `--repeat 20` invocation finds each bug
in at least 95 % of invocations, and a replay with the printed seed shows
it again (here: in at least half of the replays).  A program that misses
either, a run that exits otherwise than it should or a report of another
kind is a failure: the script then prints BENCHMARK FAILURES after
the table and exits 1.

Output: a Markdown table on stdout and in
BUILDDIR/bench/results/rare-DATE-COMMIT.md (and rare-latest.md).  Runs are
made one at a time (the rates depend on timing; a busy machine changes
them).

    python3 bench/rare_paths.py [--builddir DIR] [--programs a,b] [--runs M]
        [--invocations K] [--repeat N] [--jobs J] [--replays R] [--jitter L] [--lib SO]
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time

# program -> (the kind of finding its rare path produces, what the bug is)
PROGRAMS = {
    "rare_inversion": ("lock-order-inversion", "lock-order inversion on a rare path"),
    "rare_blocking": ("blocking-call-under-lock", "write() to a pipe under a shared lock on a rare path"),
}
TAKEN = "rare path taken"
EXITCODE = 66
TARGET = 0.95
TARGET_REPLAY = 0.5


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def clean_env():
    """The caller's environment without LOCKWATCH_*, LD_PRELOAD and RARE_PATH."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("LOCKWATCH_") and k != "LD_PRELOAD" and k != "RARE_PATH"}


def findings(directory, prefix):
    """The findings in the JSON logs directory/prefix*, which it removes."""
    out = []
    for name in sorted(os.listdir(directory)):
        if not name.startswith(prefix):
            continue
        with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                # The graph record each process writes at exit is no finding.
                if isinstance(obj, dict) and "kind" in obj and obj["kind"] != "graph":
                    out.append(obj)
        os.unlink(os.path.join(directory, name))
    return out


class Ctx:
    pass


def run_once(ctx, prog, env, tmp, n):
    """One run; returns (exit status, path taken, findings)."""
    prefix = "r%d." % n
    if env is not None:
        env = dict(env)
        env["LOCKWATCH_FORMAT"] = "json"
        env["LOCKWATCH_LOG"] = os.path.join(tmp, prefix + "%p.jsonl")
    p = subprocess.run([prog], env=env if env is not None else ctx.env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=ctx.timeout)
    reps = findings(tmp, prefix) if env is not None else []
    return p.returncode, TAKEN in p.stdout, reps


class Rate:
    def __init__(self):
        self.runs = 0
        self.taken = 0
        self.found = 0
        self.agree = 0
        self.bad_exit = []
        self.other = []


MODES = ("native", "lockwatch", "jitter")


def measure_runs(ctx, name, kind, runs, tmp, failures):
    """{mode: Rate} for the modes "native", "lockwatch" (no jitter) and
    "jitter", their runs interleaved so that the machine's load drifts
    alike for all three."""
    prog = os.path.join(ctx.examples, name)
    rates = {m: Rate() for m in MODES}
    envs = {"native": None}
    envs["lockwatch"] = dict(ctx.env, LD_PRELOAD=ctx.lib)
    envs["jitter"] = dict(envs["lockwatch"], LOCKWATCH_JITTER=str(ctx.jitter))
    for i in range(runs):
        for mode in MODES:
            r = rates[mode]
            rc, taken, reps = run_once(ctx, prog, envs[mode], tmp, i)
            found = any(rep.get("kind") == kind for rep in reps)
            r.runs += 1
            r.taken += taken
            r.found += found
            r.agree += taken == found
            r.other += [rep.get("kind") for rep in reps if rep.get("kind") != kind]
            want = EXITCODE if reps else 0
            if rc != want:
                r.bad_exit.append(rc)
    for mode, r in rates.items():
        if r.bad_exit:
            failures.append("%s, %s runs: %d exited otherwise than expected (statuses %s)"
                            % (name, mode, len(r.bad_exit), sorted(set(r.bad_exit))))
        if r.other:
            failures.append("%s, %s runs: reports of another kind: %s"
                            % (name, mode, sorted(set(r.other))))
    return rates


SUMMARY = re.compile(r"^  (\S+) in \S+: (\d+) of (\d+) runs, first with seed (\d+)  \[([0-9a-f]+)\]$")
REPLAY = re.compile(r"^    replay: (.*)$")


def parse_summary(text):
    """[(kind, runs, of, seed, fingerprint, replay command)] from the summary."""
    out = []
    cur = None
    for line in text.splitlines():
        m = SUMMARY.match(line)
        if m:
            cur = [m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5), None]
            out.append(cur)
            continue
        m = REPLAY.match(line)
        if m and cur is not None and cur[5] is None:
            cur[5] = m.group(1)
    return [tuple(x) for x in out]


def repeat_invocation(ctx, name, tmp):
    prog = os.path.join(ctx.examples, name)
    argv = [ctx.launcher, "--repeat=%d" % ctx.repeat]
    if ctx.jobs != 1:
        argv.append("--jobs=%d" % ctx.jobs)
    argv += ["--", prog]
    env = dict(ctx.env)
    if ctx.jitter_set:
        env["LOCKWATCH_JITTER"] = str(ctx.jitter)
    p = subprocess.run(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=ctx.timeout * (ctx.repeat + 1))
    merged = []
    path = os.path.join(tmp, "lockwatch-repeat.jsonl")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            merged = [json.loads(l) for l in f if l.strip()]
        os.unlink(path)
    return p.returncode, p.stdout + p.stderr, parse_summary(p.stdout), merged


def replay(ctx, command, fingerprint, tmp, n):
    """Runs a printed replay command (lockwatch = this build's launcher);
    True when it reports the finding with this fingerprint again."""
    words = shlex.split(command)
    env = dict(ctx.env)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    if not words or words[0] != "lockwatch":
        return None
    words[0] = ctx.launcher
    prefix = "replay%d." % n
    env["LOCKWATCH_FORMAT"] = "json"
    env["LOCKWATCH_LOG"] = os.path.join(tmp, prefix + "%p.jsonl")
    subprocess.run(words, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=ctx.timeout)
    return any(rep.get("fingerprint") == fingerprint for rep in findings(tmp, prefix))


def measure(ctx, name, failures):
    kind, _ = PROGRAMS[name]
    row = {"program": name, "kind": kind}
    with tempfile.TemporaryDirectory(prefix="lw-rare.") as tmp:
        t0 = time.monotonic()
        log("rare: %s: %d runs each natively, under lockwatch and with jitter" % (name, ctx.runs))
        row.update(measure_runs(ctx, name, kind, ctx.runs, tmp, failures))
        log("rare: %s: %d invocations of lockwatch --repeat %d" % (name, ctx.invocations, ctx.repeat))
        inv_found = 0
        runs_with = 0
        row["replays"] = 0
        row["replayed"] = 0
        row["replay_cmd"] = None
        for i in range(ctx.invocations):
            rc, text, summary, merged = repeat_invocation(ctx, name, tmp)
            mine = [s for s in summary if s[0] == kind]
            others = [s[0] for s in summary if s[0] != kind]
            if others:
                failures.append("%s: --repeat invocation %d: findings of another kind: %s"
                                % (name, i + 1, sorted(set(others))))
            if mine:
                inv_found += 1
                runs_with += mine[0][1]
                if rc != EXITCODE:
                    failures.append("%s: --repeat invocation %d found it but exited %d"
                                    % (name, i + 1, rc))
                m = [x for x in merged if x.get("fingerprint") == mine[0][4]]
                if not m or m[0].get("first_seed") != mine[0][3]:
                    failures.append("%s: --repeat invocation %d: the merged log does not "
                                    "agree with the summary (seed %d)" % (name, i + 1, mine[0][3]))
                cmd = mine[0][5]
                if not cmd:
                    failures.append("%s: --repeat invocation %d: no replay line" % (name, i + 1))
                    continue
                m = re.search(r"\bLOCKWATCH_SEED=(\d+)\b", cmd)
                if not m or int(m.group(1)) != mine[0][3]:
                    failures.append("%s: --repeat invocation %d: the replay line does not give "
                                    "the first seed %d: %s" % (name, i + 1, mine[0][3], cmd))
                row["replay_cmd"] = row["replay_cmd"] or cmd
                for n in range(ctx.replays):
                    ok = replay(ctx, cmd, mine[0][4], tmp, n)
                    if ok is None:
                        failures.append("%s: cannot run the replay command %r" % (name, cmd))
                        break
                    row["replays"] += 1
                    row["replayed"] += ok
            elif rc != 0:
                failures.append("%s: --repeat invocation %d: no finding, exit %d:\n%s"
                                % (name, i + 1, rc, text))
        row["invocations"] = ctx.invocations
        row["inv_found"] = inv_found
        row["runs_with"] = runs_with
        row["seconds"] = time.monotonic() - t0
    inv = row["inv_found"] / row["invocations"] if row["invocations"] else 0.0
    row["inv_rate"] = inv
    if inv < TARGET:
        failures.append("%s: --repeat %d found the bug in %d of %d invocations (%.0f %%, target "
                        ">= %.0f %%)" % (name, ctx.repeat, row["inv_found"], row["invocations"],
                                         100 * inv, 100 * TARGET))
    if ctx.replays and row["replayed"] < TARGET_REPLAY * row["replays"]:
        failures.append("%s: the printed replay commands reproduced the finding in %d of %d "
                        "replays (target >= %.0f %%)" % (name, row["replayed"], row["replays"],
                                                         100 * TARGET_REPLAY))
    return row


def frac(k, n):
    return "%d/%d (%.1f %%)" % (k, n, 100.0 * k / n) if n else "-"


def table(ctx, rows):
    lines = [
        "| program | bug | native: path taken | lockwatch, 1 run, no jitter: found | "
        "lockwatch, 1 run, LOCKWATCH_JITTER=%d: found | `--repeat %d` invocations that "
        "found it | runs of those invocations with it | expected from the 1-run jitter rate | "
        "replay of the printed seed | result |" % (ctx.jitter, ctx.repeat),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        j = r["jitter"]
        p = j.found / j.runs if j.runs else 0.0
        expect = 1 - (1 - p) ** ctx.repeat
        result = "met" if r["inv_rate"] >= TARGET else "**MISSED**"
        lines.append("| %s | %s | %s | %s | %s | **%s** | %s | %.1f %% | %s | %s |" % (
            r["program"], PROGRAMS[r["program"]][1], frac(r["native"].taken, r["native"].runs),
            frac(r["lockwatch"].found, r["lockwatch"].runs), frac(j.found, j.runs),
            frac(r["inv_found"], r["invocations"]),
            frac(r["runs_with"], r["invocations"] * ctx.repeat), 100 * expect,
            frac(r["replayed"], r["replays"]), result))
    notes = []
    for r in rows:
        for mode in ("lockwatch", "jitter"):
            x = r[mode]
            notes.append("- %s, %s: the path was taken in %d of %d runs; a report agreed with "
                         "the path (reported if and only if taken) in %d" % (
                             r["program"], "no jitter" if mode == "lockwatch" else
                             "LOCKWATCH_JITTER=%d" % ctx.jitter, x.taken, x.runs, x.agree))
        if r["replay_cmd"]:
            notes.append("- %s: replays like `%s`, one per invocation that found it (%.0f s "
                         "for the program's measurements)"
                         % (r["program"], r["replay_cmd"], r["seconds"]))
    return lines, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default=".", help="top build directory (default .)")
    ap.add_argument("--results", default=None,
                    help="results directory (default BUILDDIR/bench/results)")
    ap.add_argument("--programs", default=",".join(PROGRAMS),
                    help="comma list (default: %s)" % ",".join(PROGRAMS))
    ap.add_argument("--runs", type=int, default=1000,
                    help="plain runs, single lockwatch runs and single jittered runs per "
                    "program (M, default 1000)")
    ap.add_argument("--invocations", type=int, default=20,
                    help="invocations of lockwatch --repeat (K, default 20)")
    ap.add_argument("--repeat", type=int, default=20, help="runs per invocation (default 20)")
    ap.add_argument("--jobs", type=int, default=1, help="--jobs of each invocation (default 1)")
    ap.add_argument("--replays", type=int, default=1,
                    help="runs of each printed replay command (R, default 1)")
    ap.add_argument("--jitter", type=int, default=None,
                    help="LOCKWATCH_JITTER (default: the --repeat default, 50)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per run before kill")
    ap.add_argument("--lib", default=None, help="measure this liblockwatch.so (also for the "
                    "launcher, as LOCKWATCH_LIBRARY) instead of the build's")
    args = ap.parse_args()

    ctx = Ctx()
    ctx.builddir = os.path.abspath(args.builddir)
    ctx.examples = os.path.join(ctx.builddir, "examples")
    ctx.lib = os.path.abspath(args.lib or os.path.join(ctx.builddir, "src", ".libs",
                                                       "liblockwatch.so"))
    ctx.launcher = os.path.join(ctx.builddir, "tools", "lockwatch")
    ctx.env = clean_env()
    if args.lib:
        ctx.env["LOCKWATCH_LIBRARY"] = ctx.lib
    ctx.jitter_set = args.jitter is not None
    ctx.jitter = args.jitter if ctx.jitter_set else 50
    ctx.runs, ctx.invocations, ctx.repeat = args.runs, args.invocations, args.repeat
    ctx.jobs, ctx.replays, ctx.timeout = args.jobs, args.replays, args.timeout
    names = [n for n in args.programs.split(",") if n]
    for n in names:
        if n not in PROGRAMS:
            ap.error("unknown program %s (known: %s)" % (n, ", ".join(PROGRAMS)))
        if not os.access(os.path.join(ctx.examples, n), os.X_OK):
            ap.error("%s not built (run make first)" % os.path.join(ctx.examples, n))
    for f in (ctx.lib, ctx.launcher):
        if not os.path.exists(f):
            ap.error("%s not built (run make first)" % f)

    started = time.monotonic()
    load_start = os.getloadavg()[0]
    failures = []
    rows = [measure(ctx, n, failures) for n in names]
    elapsed = time.monotonic() - started

    commit = sh(["git", "-C", ctx.builddir, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = bool(sh(["git", "-C", ctx.builddir, "status", "--porcelain", "--untracked-files=no"]))
    day = datetime.date.today().isoformat()
    which = commit + (", library %s" % ctx.lib if args.lib else "")
    head = ["%s, commit %s%s, `bench/rare_paths.py --runs %d --invocations %d --repeat %d%s` "
            "(%.0f s). Machine: %s, %d CPUs, Linux %s; 1-minute load average %.2f at the "
            "start, %.2f at the end (the rates of timing-dependent paths follow the load)." % (
                day, which, " (modified)" if dirty else "", ctx.runs, ctx.invocations,
                ctx.repeat, (" --jobs %d" % ctx.jobs) if ctx.jobs != 1 else "", elapsed,
                platform.machine(), os.cpu_count() or 0, platform.release(), load_start,
                os.getloadavg()[0]), ""]
    lines, notes = table(ctx, rows)
    out = head + lines + [""] + notes
    if failures:
        out += ["", "BENCHMARK FAILURES:"] + ["- " + f for f in failures]
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)

    results = os.path.abspath(args.results or os.path.join(ctx.builddir, "bench", "results"))
    os.makedirs(results, exist_ok=True)
    for base in ("rare-%s-%s" % (datetime.datetime.now().strftime("%Y%m%d-%H%M%S"), commit),
                 "rare-latest"):
        with open(os.path.join(results, base + ".md"), "w", encoding="utf-8") as f:
            f.write(text)
    log("rare: table in %s" % os.path.join(results, "rare-latest.md"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
