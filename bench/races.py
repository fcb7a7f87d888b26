#!/usr/bin/env python3
"""bench/races.py: lockwatch's sampled race detector against ThreadSanitizer
on the race set of examples/ (`make bench-races`).

The set: racy programs and their race-free twins, with locks (locked_*) and
with C11 release/acquire atomics (acqrel_*, a group of its own: race-free by
C11's rules, but plain `mov`s on x86, which a binary-level sampler cannot
tell from racy ones).  For each program:

  lockwatch  one `tools/lockwatch --repeat N -- examples/PROGRAM` invocation
             with LOCKWATCH_RACES=sample (the examples as `make` builds
             them, -O0): in how many of its N runs a data-race was
             reported (the merged log's `in_runs`), and whether the
             invocation reported one at all;
  TSan       N runs of the program built with gcc -fsanitize=thread -g -O2
             -pthread (two at a time by default; halt_on_error=1, as a run
             needs one report to count): in how many "WARNING:
             ThreadSanitizer: data race" appears;
  false      runs with a report that is wrong: any data race in a race-free
             program, or, in a racy one, a race on another variable than
             the program's racy ones;
  overhead   ROUNDS rounds, each running (in an order that rotates from
             round to round) the example natively, the example under
             liblockwatch.so with LOCKWATCH_RACES=sample and no jitter, the
             same source built -O2 without TSan, and the TSan build: the
             median over rounds of lockwatch/native (same -O0 binary) and
             TSan/native -O2 (same source, same optimisation), each ratio
             taken within one round; TSan here runs with halt_on_error=0
             (the whole program), stopped after TSAN_TIMING_CAP seconds
             (then the ratio is a lower bound, shown with ">").  These runs also give the sampler's
             counts (LOCKWATCH_RACE_STATS), averaged per run.

`--repeat` runs use LOCKWATCH_JITTER=0 unless --jitter says otherwise:
jitter sleeps at lock calls, and these programs make tens of millions of
them (locked_flag under jitter 50 ran for more than ten minutes);
sampling does not depend on it.

Output: a Markdown table on stdout and in BUILDDIR/bench/results/
races-DATE-COMMIT.{md,json} (and races-latest.*).  Exit status 1 when a
run fails (a crash, a timeout, an exit status other than the native one or
lockwatch's 66 after a report) or a race-free program is reported by
lockwatch; the acceptance goal of issue 14 (each racy program reported in
more than half of its runs) is printed, not enforced.

    python3 bench/races.py [--builddir DIR] [--srcdir DIR] [--runs N] [--rate R]
        [--delay US] [--rounds K] [--jobs J] [--jitter L] [--only REGEX]
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

EXITCODE = 66
TIMEOUT = 300
# A timing run of a TSan build is stopped after this many seconds: TSan
# slows down by orders of magnitude when a race recurs at thousands of
# addresses (each new report restores and compares stacks), and the
# overhead is then shown as a lower bound.
TSAN_TIMING_CAP = 30

# (program, group, the variables its race is on; None: race-free)
PROGRAMS = [
    ("racy_counter", "racy", {"counter"}),
    ("locked_counter", "locked twin", None),
    ("racy_flag", "racy", {"progress"}),
    ("locked_flag", "locked twin", None),
    ("racy_lazy_init", "racy", {"table", "pool"}),
    ("locked_lazy_init", "locked twin", None),
    ("racy_toctou", "racy", {"balance"}),
    ("locked_toctou", "locked twin", None),
    ("racy_publish", "racy", {"current", "pool"}),
    ("locked_publish", "locked twin", None),
    ("acqrel_flag", "C11 atomics twin", None),
    ("acqrel_lazy_init", "C11 atomics twin", None),
    ("acqrel_publish", "C11 atomics twin", None),
]

STATS = re.compile(r"lockwatch: race sampling: (\d+) samples, (\d+) armed, (\d+) hits, "
                   r"(\d+) races, (\d+) unseen writes, [^(]*\(not armed: (\d+) no memory operand, "
                   r"(\d+) stack, (\d+) atomic, (\d+) slots full, (\d+) no other thread\)")
STAT_NAMES = ("samples", "armed", "hits", "races", "unseen", "no_mem", "stack", "atomic",
              "slots_full", "no_target")
TSAN_RACE = "WARNING: ThreadSanitizer: data race"
TSAN_LOCATION = re.compile(r"Location is global '([^']+)'")


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def sh(argv, cwd=None):
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def run(argv, env, cwd=None, timeout=TIMEOUT):
    """(wall seconds, exit status, stderr); status None on a timeout."""
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
        secs = time.monotonic() - t0
        err.seek(0)
        return secs, rc, err.read().decode("utf-8", "replace")


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("LOCKWATCH_", "TSAN_")) and k != "LD_PRELOAD"}


def build(ctx):
    """The -O2 and TSan builds of every program, in ctx.tmp."""
    for name, _, _ in ctx.programs:
        src = os.path.join(ctx.srcdir, "examples", name + ".c")
        for suffix, extra in (("o2", []), ("tsan", ["-fsanitize=thread"])):
            out = os.path.join(ctx.tmp, "%s.%s" % (name, suffix))
            cmd = [ctx.cc, "-g", "-O2", "-pthread"] + extra + ["-o", out, src]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit("races.py: %s failed:\n%s" % (" ".join(cmd), p.stderr))


def races_in_log(path):
    """The data-race records of a JSON Lines log."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("kind") == "data-race":
                    out.append(obj)
    except OSError:
        pass
    return out


def wrong(variable, expected):
    """Is a report on `variable` ("table", "table+0xfc20") a false alarm for a
    program whose race is on `expected` (None: a race-free program)?"""
    return expected is None or re.split(r"[+\[ ]", variable, 1)[0] not in expected


def lockwatch_repeat(ctx, name, expected):
    """One `lockwatch --repeat N` invocation: runs with a race, runs with a
    false alarm, the invocation's exit status."""
    work = tempfile.mkdtemp(prefix="repeat.", dir=ctx.tmp)
    env = clean_env()
    env.update(LOCKWATCH_RACES="sample", LOCKWATCH_RACE_RATE=str(ctx.rate),
               LOCKWATCH_RACE_DELAY_US=str(ctx.delay), LOCKWATCH_JITTER=str(ctx.jitter))
    argv = [ctx.launcher, "--repeat", str(ctx.runs), "--jobs", str(ctx.jobs), "--",
            os.path.join(ctx.builddir, "examples", name)]
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True,
                       timeout=TIMEOUT * ctx.runs)
    secs = time.monotonic() - t0
    reps = races_in_log(os.path.join(work, "lockwatch-repeat.jsonl"))
    found, false = set(), set()
    for r in reps:
        runs = set(r.get("in_runs") or [])
        if not runs:   # a launcher without in_runs: at least the count is known
            runs = set(range(1, int(r.get("runs", 0)) + 1))
        var = (r.get("race") or {}).get("variable") or ""
        found |= runs
        if wrong(var, expected):
            false |= runs
    failed = [ln for ln in p.stdout.splitlines() if re.match(r"run \d+ \(seed \d+\) exited", ln)]
    return {"found": len(found), "false": len(false), "status": p.returncode,
            "failed": failed, "seconds": secs,
            "variables": sorted({(r.get("race") or {}).get("variable") or "?" for r in reps})}


def tsan_runs(ctx, name, expected):
    exe = os.path.join(ctx.tmp, name + ".tsan")
    env = clean_env()
    env["TSAN_OPTIONS"] = "halt_on_error=1 exitcode=%d" % EXITCODE

    def one(_):
        _, rc, err = run([exe], env)
        return rc, err

    found = false = 0
    failed = []
    variables = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=ctx.tsan_jobs) as ex:
        for rc, err in ex.map(one, range(ctx.runs)):
            raced = TSAN_RACE in err
            found += raced
            # Each report block names its location; a race on the stack or
            # the heap has no global name ("?").
            blocks = err.split(TSAN_RACE)[1:]
            names = set()
            for b in blocks:
                m = TSAN_LOCATION.search(b)
                names.add(m.group(1) if m else "?")
            variables |= names
            false += any(wrong(n, expected) for n in names)
            if rc not in (0, EXITCODE) or (rc == EXITCODE and not raced):
                failed.append("exit %s" % rc)
    return {"found": found, "false": false, "failed": failed, "variables": sorted(variables)}


def timing(ctx, name, expected):
    """ROUNDS rounds of native, lockwatch, native -O2 and TSan, rotating."""
    exe = os.path.join(ctx.builddir, "examples", name)
    base = clean_env()
    lw_env = dict(base, LD_PRELOAD=ctx.lib, LOCKWATCH_RACES="sample",
                  LOCKWATCH_RACE_RATE=str(ctx.rate), LOCKWATCH_RACE_DELAY_US=str(ctx.delay),
                  LOCKWATCH_RACE_STATS="1", LOCKWATCH_FORMAT="json")
    tsan_env = dict(base, TSAN_OPTIONS="halt_on_error=0 exitcode=%d" % EXITCODE)
    capped = False
    cols = {
        "native": ([exe], base),
        "lockwatch": ([exe], lw_env),
        "native_o2": ([os.path.join(ctx.tmp, name + ".o2")], base),
        "tsan": ([os.path.join(ctx.tmp, name + ".tsan")], tsan_env),
    }
    if ctx.no_tsan:
        del cols["native_o2"], cols["tsan"]
    order = list(cols)
    times = {c: [] for c in cols}
    lw_ratio, tsan_ratio = [], []
    stats = [0] * len(STAT_NAMES)
    nstats = single_found = single_false = 0
    failed = []
    for rnd in range(ctx.rounds):
        k = rnd % len(order)
        got = {}
        for col in order[k:] + order[:k]:
            argv, env = cols[col]
            if col == "lockwatch":
                env = dict(env, LOCKWATCH_LOG=os.path.join(ctx.tmp, "%s.%d.jsonl" % (name, rnd)))
            secs, rc, err = run(argv, env,
                                timeout=TSAN_TIMING_CAP if col == "tsan" else TIMEOUT)
            got[col] = secs
            if col == "tsan" and rc is None:
                capped, rc = True, 0
            if col == "lockwatch":
                reps = races_in_log(env["LOCKWATCH_LOG"])
                single_found += bool(reps)
                single_false += any(wrong((r.get("race") or {}).get("variable") or "", expected)
                                    for r in reps)
                m = STATS.search(err)
                if m:
                    stats = [a + int(b) for a, b in zip(stats, m.groups())]
                    nstats += 1
                ok = rc == 0 or (rc == EXITCODE and reps)
            else:
                ok = rc == 0 or (col == "tsan" and rc == EXITCODE)
            if not ok:
                failed.append("%s round %d: exit %s" % (col, rnd + 1, rc))
        for col in cols:
            times[col].append(got[col])
        lw_ratio.append(got["lockwatch"] / got["native"])
        if not ctx.no_tsan:
            tsan_ratio.append(got["tsan"] / got["native_o2"])
    return {
        "median_s": {c: statistics.median(v) for c, v in times.items()},
        "lockwatch_ratio": statistics.median(lw_ratio),
        "tsan_ratio": statistics.median(tsan_ratio) if tsan_ratio else None,
        "tsan_capped": capped,
        "lockwatch_ratio_range": [min(lw_ratio), max(lw_ratio)],
        "tsan_ratio_range": [min(tsan_ratio), max(tsan_ratio)] if tsan_ratio else None,
        "stats_per_run": {n: (s / nstats if nstats else None) for n, s in zip(STAT_NAMES, stats)},
        "single_found": single_found, "single_false": single_false, "failed": failed,
    }


def table(ctx, results):
    lines = []
    lines.append("| program | group | racy | lockwatch: runs reporting (of %d) | TSan: runs "
                 "reporting (of %d) | false alarms lockwatch / TSan | native s | lockwatch x "
                 "| TSan x (vs -O2) | samples / armed / hits per run |"
                 % (ctx.runs, ctx.runs))
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for name, group, expected in ctx.programs:
        r = results[name]
        lw, ts, tm = r["lockwatch"], r["tsan"], r["timing"]
        st = tm["stats_per_run"]
        stats = ("%.0f / %.1f / %.1f" % (st["samples"], st["armed"], st["hits"])
                 if st["samples"] is not None else "-")
        tsan_x = "-" if tm["tsan_ratio"] is None else "%s%.1f" % (
            ">" if tm["tsan_capped"] else "", tm["tsan_ratio"])
        tsan_found = "-" if ctx.no_tsan else str(ts["found"])
        tsan_false = "-" if ctx.no_tsan else str(ts["false"])
        lines.append("| %s | %s | %s | %d | %s | %d / %s | %.2f | %.2f | %s | %s |" % (
            name, group, "yes" if expected else "no", lw["found"], tsan_found,
            lw["false"], tsan_false, tm["median_s"]["native"], tm["lockwatch_ratio"],
            tsan_x, stats))
    return lines


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--builddir", default=".")
    p.add_argument("--srcdir", default=None, help="default: the directory above this script")
    p.add_argument("--runs", type=int, default=20, help="runs per program and tool (20)")
    p.add_argument("--rate", type=int, default=100, help="LOCKWATCH_RACE_RATE (100)")
    p.add_argument("--delay", type=int, default=500, help="LOCKWATCH_RACE_DELAY_US (500, its default)")
    p.add_argument("--rounds", type=int, default=3, help="timing rounds (3)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time for --repeat (1)")
    p.add_argument("--tsan-jobs", type=int, default=2,
                   help="TSan runs at a time (2; their reports do not depend on timing)")
    p.add_argument("--jitter", type=int, default=0, help="LOCKWATCH_JITTER of --repeat (0)")
    p.add_argument("--only", default=None, help="programs matching this regular expression")
    p.add_argument("--cc", default=os.environ.get("CC") or "gcc")
    p.add_argument("--no-tsan", action="store_true",
                   help="lockwatch only (to compare rates and delays): no TSan column")
    ctx = p.parse_args(argv)
    ctx.builddir = os.path.abspath(ctx.builddir)
    ctx.srcdir = os.path.abspath(ctx.srcdir or os.path.join(os.path.dirname(__file__), ".."))
    ctx.lib = os.path.join(ctx.builddir, "src", ".libs", "liblockwatch.so")
    ctx.launcher = os.path.join(ctx.builddir, "tools", "lockwatch")
    ctx.programs = [x for x in PROGRAMS if not ctx.only or re.search(ctx.only, x[0])]
    for path in [ctx.lib, ctx.launcher] + [os.path.join(ctx.builddir, "examples", n)
                                           for n, _, _ in ctx.programs]:
        if not os.path.exists(path):
            sys.exit("races.py: %s is missing (run make first)" % path)

    commit = sh(["git", "-C", ctx.srcdir, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = bool(sh(["git", "-C", ctx.srcdir, "status", "--porcelain", "--untracked-files=no"]))
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit, "dirty": dirty, "runs": ctx.runs, "rate": ctx.rate,
            "delay_us": ctx.delay, "rounds": ctx.rounds, "jobs": ctx.jobs,
            "jitter": ctx.jitter, "cpus": os.cpu_count(), "kernel": platform.release(),
            "load_before": os.getloadavg()[0]}

    ctx.tmp = tempfile.mkdtemp(prefix="lw-races.")
    results = {}
    bad = []
    try:
        if not ctx.no_tsan:
            build(ctx)
        for name, group, expected in ctx.programs:
            log("races.py: %s ..." % name)
            r = {"group": group, "racy": bool(expected)}
            r["lockwatch"] = lockwatch_repeat(ctx, name, expected)
            r["tsan"] = (tsan_runs(ctx, name, expected) if not ctx.no_tsan else
                         {"found": 0, "false": 0, "failed": [], "variables": []})
            r["timing"] = timing(ctx, name, expected)
            results[name] = r
            lw, ts = r["lockwatch"], r["tsan"]
            log("  lockwatch %d/%d runs (%s), TSan %d/%d, false %d/%d, lockwatch x%.2f, "
                "TSan x%s" % (lw["found"], ctx.runs, ",".join(lw["variables"]) or "-",
                              ts["found"], ctx.runs, lw["false"], ts["false"],
                              r["timing"]["lockwatch_ratio"],
                              "-" if r["timing"]["tsan_ratio"] is None
                              else "%.1f" % r["timing"]["tsan_ratio"]))
            for f in lw["failed"] + ts["failed"] + r["timing"]["failed"]:
                bad.append("%s: %s" % (name, f))
            if not expected and (lw["found"] or r["timing"]["single_found"]) and \
                    group == "locked twin":
                bad.append("%s: lockwatch reported a data race in a race-free program" % name)
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    meta["load_after"] = os.getloadavg()[0]

    out = ["lockwatch races vs ThreadSanitizer, %s, commit %s%s; %d CPUs, load %.1f -> %.1f; "
           "LOCKWATCH_RACE_RATE=%d, LOCKWATCH_RACE_DELAY_US=%d, --repeat %d (jitter %d, "
           "%d at a time); TSan: gcc -fsanitize=thread -O2; overhead: median of %d rounds"
           % (meta["date"], commit, " (dirty)" if dirty else "", meta["cpus"],
              meta["load_before"], meta["load_after"], ctx.rate, ctx.delay, ctx.runs,
              ctx.jitter, ctx.jobs, ctx.rounds), ""]
    out += table(ctx, results)
    racy = [n for n, _, e in ctx.programs if e]
    short = [n for n in racy if results[n]["lockwatch"]["found"] * 2 <= ctx.runs]
    if racy:
        out.append("")
        out.append("Goal (each racy program reported by lockwatch in more than half of its "
                   "runs): %s" % ("met" if not short else "missed by " + ", ".join(short)))
        missed_inv = [n for n in racy if not results[n]["lockwatch"]["found"]]
        out.append("`--repeat %d` invocations reporting each racy program: %d of %d%s"
                   % (ctx.runs, len(racy) - len(missed_inv), len(racy),
                      " (none for " + ", ".join(missed_inv) + ")" if missed_inv else ""))
    text = "\n".join(out)
    print(text)
    if bad:
        print("\nBENCHMARK FAILURES:\n" + "\n".join("  " + b for b in bad))

    resdir = os.path.join(ctx.builddir, "bench", "results")
    os.makedirs(resdir, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for base in ("races-%s-%s" % (stamp, commit), "races-latest"):
        with open(os.path.join(resdir, base + ".md"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        with open(os.path.join(resdir, base + ".json"), "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "results": results, "failures": bad}, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
