#!/usr/bin/env python3
"""bench/run.py: lockwatch's benchmark driver (`make bench`, `make bench-quick`).

Every workload runs in three columns, side by side in the same round:

  native     the program alone;
  null       under the null interposer (bench/libnullpreload.so), which
             interposes the same functions as lockwatch and only forwards
             them: the floor any preload tool pays;
  lockwatch  under src/.libs/liblockwatch.so with default settings.

The order of the three columns changes from round to round (each column
takes each position equally often), so drift of a shared machine cancels
out of the per-round ratios.  Per workload the driver reports the median
over rounds of lockwatch/native and lockwatch/null, their spread, and each
column's peak RSS (os.wait4).  A two-thread microbenchmark gets more rounds
until its median ratio is stable.

Every program checks its own result; a lockwatch report about any of them
(they are all correct programs) is a benchmark failure: the driver then
exits 1 after printing the table.

Output: a Markdown table on stdout, and the raw figures under the results
directory (default BUILDDIR/bench/results): TIMESTAMP-COMMIT[-quick].json,
.csv and .md, plus latest[-quick].{json,csv,md}.

    python3 bench/run.py [--quick] [--builddir DIR] [--only REGEX] [--rounds N]
                         [--perf NAME[,NAME]] [--no-install] [--no-programs] [--scaling]
"""

import argparse
import csv
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

COLUMNS = ("native", "null", "lockwatch")


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- workloads

class Workload:
    """One benchmark.  kind: "micro" (the metric is the ns/op the program
    prints) or "prog" (the metric is the wall time the driver measures)."""

    def __init__(self, name, kind, argv, target, *, stdout_file=False,
                 min_rounds=None, max_rounds=None, noisy=False, needs=None,
                 budget_s=None, desc=""):
        self.name = name
        self.kind = kind
        self.argv = argv              # function(ctx) -> list
        self.target = target          # ("null" | "native", limit)
        self.stdout_file = stdout_file
        self.min_rounds = min_rounds
        self.max_rounds = max_rounds
        self.noisy = noisy
        self.needs = needs            # function(ctx) -> None or reason to skip
        self.budget_s = budget_s
        self.desc = desc


def micro(mode, target, **kw):
    return Workload(mode, "micro",
                    lambda ctx: [ctx.micro, mode, "%g" % ctx.micro_scale(mode)],
                    target, **kw)


def workloads(ctx):
    full = not ctx.quick
    w = [
        micro("uncontended", ("null", 1.3), desc="lock+unlock of one mutex, one thread"),
        micro("nested2", ("null", 1.5), desc="2 mutexes nested in a fixed order (known edges)"),
        micro("nested3", ("null", 1.5), desc="3 mutexes nested"),
        micro("nested4", ("null", 1.5), desc="4 mutexes nested"),
        micro("nested2-helper", ("null", 1.5),
              desc="nested2 through a C lock helper (the held lock's caller returns)"),
        # The same after one idle thread was created and joined: glibc's lock
        # and unlock use plain stores instead of atomic instructions until a
        # process has had a second thread, so the rows above measure a case
        # no program that needs lockwatch is in (README, Performance).
        micro("uncontended-mt", ("null", 1.3),
              desc="uncontended, in a process that has had a second thread"),
        micro("nested2-mt", ("null", 1.5), desc="nested2, in a process that has had a second thread"),
        micro("nested4-mt", ("null", 1.5), desc="nested4, in a process that has had a second thread"),
        micro("contended2", ("native", 1.1), noisy=True, desc="one mutex, 2 threads"),
        micro("contended4", ("native", 1.1), noisy=True, desc="one mutex, 4 threads"),
        micro("fresh", ("native", 2.0),
              desc="1 M malloc'd mutexes: init, lock, unlock, destroy, free (3 rounds)"),
        micro("fresh-free", ("native", 2.0),
              desc="as fresh, but freed without pthread_mutex_destroy"),
        micro("rwlock", ("native", 1.1), noisy=True, desc="rwlock, 99 % reads, 2 threads"),
        micro("prodcons", ("native", 1.1), noisy=True,
              desc="bounded queue: 1 mutex, 2 condvars, producer + consumer"),
        micro("signal", ("null", 1.5),
              desc="lock, unlock, signal a condvar nobody waits on (lost-wakeup check)"),
        micro("signal-unlocked", ("native", 100.0), noisy=True,
              desc="signals without the mutex while another thread holds it: "
                   "each one recorded as possibly lost (the check's worst case)"),
        micro("churn", ("native", 1.5),
              desc="10,000 short threads created and joined, 4 at a time (timed), "
                   "then 20,000 more for memory"),
        micro("write", ("native", 1.05), desc="1 M write(2) to /dev/null, no lock held"),
        # free() is interposed (destroy-locked of a held lock in freed memory):
        # with nothing held it costs a thread-local test; with a lock held,
        # malloc_usable_size and a pass over the held stack.
        micro("malloc-free", ("null", 1.1), desc="20 M malloc(64)+free, no lock held"),
        micro("malloc-free-held", ("native", 1.5),
              desc="20 M malloc(64)+free while holding one mutex (on the stack, above "
                   "the blocks: lockwatch's whole check on every free)"),
        micro("chain-cycle", ("native", None), min_rounds=3 if full else 2,
              max_rounds=3 if full else 2,
              desc="a 34,000-lock chain of new edges, before and after an unrelated (gated) "
                   "cycle elsewhere in the graph"),
        micro("cache", ("native", None), min_rounds=3 if full else 2,
              desc="a lock per cache entry (unbound's lruhash): entries born, ordered under "
                   "their bin's lock, before a record lock, and destroyed at eviction; one "
                   "op: one query (one in four inserts a new entry)"),
        micro("graph", ("native", None), min_rounds=3 if full else 2, max_rounds=3 if full else 2,
              desc="100,000 locks / ~1 M edges built, then nested4 (known edges) timed"),
        Workload("pigz -p 2", "prog",
                 lambda ctx: ["pigz", "-p", "2", "-c", ctx.input], ("native", 1.05),
                 stdout_file=True, needs=lambda ctx: need_tool("pigz"),
                 desc="compress the generated input"),
        Workload("xz -T2 -0", "prog",
                 lambda ctx: ["xz", "-T2", "-0", "-c", ctx.input], ("native", 1.05),
                 stdout_file=True, needs=lambda ctx: need_tool("xz"),
                 desc="compress the generated input (preset 0: the default preset 6 "
                      "takes over 2 minutes per run here)"),
        Workload("zstd -T2", "prog",
                 lambda ctx: ["zstd", "-T2", "-q", "-c", ctx.input], ("native", 1.05),
                 stdout_file=True, needs=lambda ctx: need_tool("zstd"),
                 desc="compress the generated input"),
        Workload("python3 threads+queue", "prog",
                 lambda ctx: [ctx.python, os.path.join(ctx.srcdir, "bench", "py_threads.py"),
                              str(ctx.py_items), "4"], ("native", 1.05),
                 desc="4 threads, queue.Queue(64), threading.Lock"),
        Workload("sqlite3 1 writer + 2 readers", "prog",
                 lambda ctx: [ctx.sqlite_prog, os.path.join(ctx.work, "bench.db"),
                              "%g" % ctx.sqlite_scale], ("native", 1.05),
                 needs=lambda ctx: None if ctx.sqlite_prog else ctx.sqlite_why,
                 desc="libsqlite3, WAL, one connection per thread, inserts and range selects"),
    ]
    if ctx.scaling:
        w += scaling_workloads()
    return w


SCALING_THREADS = (1, 2, 4, 8, 16)
SCALING_CPUS = 16


def scaling_workloads():
    """The contended and read-mostly modes at 1-16 threads (issue 5, part 3):
    shared cache lines written on the fast path show up as a lw/native
    ratio that grows with the thread count."""
    w = []
    for n in SCALING_THREADS:
        w.append(micro("contended%d" % n, ("native", 1.1), noisy=True,
                       desc="scaling: one mutex, %d threads" % n))
        w.append(micro("rwlock%d" % n, ("native", 1.1), noisy=True,
                       desc="scaling: rwlock, 99 %% reads, %d threads" % n))
    return w


def scaling_lines(ctx, table, nproc):
    """The scaling summary, or why there is none."""
    if not ctx.scaling:
        return ["", "Scaling (contended and read-mostly rwlock at %s threads): not measured: "
                "this machine has %d CPUs and the runs need %d; on such a machine "
                "`make bench` includes them (or `make bench BENCH_FLAGS=--scaling`)."
                % (", ".join(map(str, SCALING_THREADS)), nproc, SCALING_CPUS)]
    ratio = {}
    for _, row, cells in table:
        m = re.match(r"(contended|rwlock)(\d+)$", row["workload"])
        if m and cells.get("ratios_native"):
            ratio[(m.group(1), int(m.group(2)))] = statistics.median(cells["ratios_native"])
    lines = ["", "Scaling on %d CPUs%s: lockwatch/native, median of per-round ratios" % (
        nproc, "" if nproc >= SCALING_CPUS else " (fewer than %d: threads beyond the CPU "
        "count measure time-sharing, not cache lines)" % SCALING_CPUS), "",
        "| threads | contended | rwlock 99 % reads |", "|---|---|---|"]
    for n in SCALING_THREADS:
        lines.append("| %d | %s | %s |" % (n, *("%.2f" % ratio[(k, n)] if (k, n) in ratio
                                                else "-" for k in ("contended", "rwlock"))))
    return lines


def need_tool(name):
    return None if shutil.which(name) else "%s not installed" % name


# ---------------------------------------------------------------- context

class Ctx:
    pass


def sh(argv, **kw):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, **kw).stdout.strip()
    except OSError:
        return ""


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": ncpu, "cpu_model": model, "kernel": platform.release(),
            "mem_total": mem, "hostname": platform.node()}


def install_missing(ctx):
    """apt-get install what the real-program workloads need, when possible."""
    want = []
    for tool, pkg in (("pigz", "pigz"), ("xz", "xz-utils"), ("zstd", "zstd"),
                      ("sqlite3", "sqlite3")):
        if not shutil.which(tool):
            want.append(pkg)
    if not os.path.exists("/usr/include/sqlite3.h"):
        want.append("libsqlite3-dev")
    if not want or ctx.no_install:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log("bench: not installing %s (needs root and apt-get); those rows are skipped"
            % " ".join(want))
        return
    log("bench: installing %s" % " ".join(want))
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + want
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) != 0:
        subprocess.call(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) != 0:
            log("bench: apt-get install failed; the missing programs' rows are skipped")


def build_sqlite(ctx):
    ctx.sqlite_prog = None
    ctx.sqlite_why = "libsqlite3-dev not installed"
    src = os.path.join(ctx.srcdir, "bench", "sqlite_mt.c")
    out = os.path.join(ctx.builddir, "bench", "sqlite_mt")
    if not os.path.exists("/usr/include/sqlite3.h"):
        return
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        ctx.sqlite_prog = out
        return
    cc = os.environ.get("CC", "cc").split()
    cflags = os.environ.get("CFLAGS", "-g -O2").split()
    r = subprocess.call(cc + cflags + ["-o", out, src, "-lsqlite3", "-lpthread"])
    if r == 0:
        ctx.sqlite_prog = out
    else:
        ctx.sqlite_why = "could not build bench/sqlite_mt.c"


def gen_input(path, size):
    """A deterministic, compressible text: Zipf-distributed pseudo-random
    words from a fixed vocabulary, 12 per line."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    log("bench: generating %s (%d MB, once)" % (path, size // 1000000))
    rng = random.Random(20240601)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
               2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07]
    vocab = ["".join(rng.choices(letters, weights, k=rng.randint(2, 10)))
             for _ in range(20000)]
    cum = list(__import__("itertools").accumulate(1.0 / (i + 1) for i in range(len(vocab))))
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "w") as out:
        while n < size:
            words = rng.choices(vocab, cum_weights=cum, k=240000)
            chunk = "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12)) + "\n"
            chunk = chunk[:size - n]
            out.write(chunk)
            n += len(chunk)
    os.rename(tmp, path)


def exported(lib):
    """Defined function symbols of a shared library: {"name@version"}."""
    out = sh(["objdump", "-T", lib])
    syms = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 7 and "DF" in f and "*UND*" not in line:
            name, ver = f[-1], f[-2].strip("()")
            if name.startswith(("lockwatch_", "null_interposer_")):
                continue
            syms.add("%s@%s" % (name, "" if ver == "Base" else ver))
    return syms


# ---------------------------------------------------------------- running

RESULT_RE = re.compile(r"^RESULT (.*)$", re.M)


def parse_result(text):
    m = RESULT_RE.search(text)
    if not m:
        return None
    fields = {}
    for kv in m.group(1).split():
        k, _, v = kv.partition("=")
        try:
            fields[k] = float(v) if re.match(r"^-?[0-9.]+(e[-+]?[0-9]+)?$", v) else v
        except ValueError:
            fields[k] = v
    return fields


def file_hash(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def column_env(ctx, column, logpat):
    """Environment of a run, and the library to preload (bench/spawn sets
    LD_PRELOAD in the command only)."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("LOCKWATCH_")}
    preload = ""
    if column == "null":
        preload = ctx.null_lib
    elif column == "lockwatch":
        preload = ctx.lw_lib
        env["LOCKWATCH_LOG"] = logpat
    return env, preload


def run_once(ctx, wl, column, rnd, pos, argv=None):
    tag = "%s.%s.r%d" % (slug(wl.name), column, rnd)
    logpat = os.path.join(ctx.logdir, tag + ".%p.log")
    for old in glob.glob(os.path.join(ctx.logdir, tag + ".*.log")):
        os.unlink(old)
    env, preload = column_env(ctx, column, logpat)
    argv = argv or wl.argv(ctx)
    out_path = os.path.join(ctx.work, "out.%s" % slug(wl.name))
    err_path = os.path.join(ctx.work, "err.%s" % slug(wl.name))
    usage_path = os.path.join(ctx.work, "usage.%s" % slug(wl.name))
    if os.path.exists(usage_path):
        os.unlink(usage_path)
    rec = {"workload": wl.name, "round": rnd, "position": pos, "column": column,
           "unit": "ns/op" if wl.kind == "micro" else "s"}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen([ctx.spawn, usage_path, preload] + argv, stdout=out, stderr=err,
                             env=env, cwd=ctx.work, start_new_session=True)
        try:
            p.wait(timeout=ctx.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    usage = {}
    try:
        with open(usage_path) as f:
            for kv in f.read().split():
                k, _, v = kv.partition("=")
                usage[k] = float(v)
    except OSError:
        pass
    rc = int(usage.get("status", -1)) if usage else -1
    rec.update(rc=rc, wall_s=usage.get("wall_ns", 0) / 1e9,
               maxrss_kb=int(usage.get("maxrss_kb", 0)),
               utime_s=usage.get("utime_s", 0), stime_s=usage.get("stime_s", 0))
    problems = []
    if wl.stdout_file:
        rec["output_sha1"] = file_hash(out_path)
        rec["output_bytes"] = os.path.getsize(out_path)
        fields = None
    else:
        with open(out_path, errors="replace") as f:
            text = f.read()
        fields = parse_result(text)
        if "CHECK FAILED" in text:
            problems.append(text[text.index("CHECK FAILED"):].splitlines()[0])
        elif fields is None:
            problems.append("no RESULT line")
    rec["fields"] = fields or {}
    # lockwatch reports
    nrep = 0
    excerpt = ""
    for lf in sorted(glob.glob(os.path.join(ctx.logdir, tag + ".*.log"))):
        with open(lf, errors="replace") as f:
            txt = f.read()
        if txt.strip():
            n = txt.count("WARNING: lockwatch")
            nrep += n if n else 1
            if not excerpt:
                summ = [l for l in txt.splitlines() if l.startswith("SUMMARY")]
                excerpt = "; ".join(sorted(set(summ))[:3]) or txt.splitlines()[0]
                rec["report_log"] = lf
    rec["reports"] = nrep
    if excerpt:
        rec["report_excerpt"] = excerpt
    if column == "lockwatch" and rc == 66:
        if not nrep:
            rec["reports"] = nrep = 1
    elif rc != 0:
        with open(err_path, errors="replace") as f:
            tail = f.read()[-300:].strip().replace("\n", " | ")
        problems.append("exit status %d%s" % (rc, (": " + tail) if tail else ""))
    if wl.kind == "micro" and fields is not None:
        if column == "lockwatch" and "lw_reports" not in fields:
            problems.append("lockwatch not active (no lockwatch_report_count)")
        if column == "null" and not fields.get("null_calls"):
            problems.append("null interposer not active")
        if column != "lockwatch" and "lw_reports" in fields:
            problems.append("lockwatch loaded in the %s column" % column)
    if wl.kind == "micro":
        rec["metric"] = fields.get("ns_per_op") if fields else None
    else:
        rec["metric"] = rec["wall_s"] or None
    rec["problems"] = problems
    return rec


def slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def order_for(rnd):
    """Round r: the columns rotated by r, reversed every other cycle of
    three, so each column takes each position equally often."""
    cols = list(COLUMNS)
    k = rnd % 3
    cols = cols[k:] + cols[:k]
    if (rnd // 3) % 2:
        cols.reverse()
    return cols


def ratios(runs, num, den, key="metric"):
    out = []
    for rnd in sorted(runs):
        r = runs[rnd]
        if num in r and den in r and r[num].get(key) and r[den].get(key):
            out.append(r[num][key] / r[den][key])
    return out


def stable(values, tol):
    if len(values) < 5:
        return False
    a = statistics.median(values)
    b = statistics.median(values[:-2])
    return abs(a - b) <= tol * a


def run_workload(ctx, wl, records):
    if wl.kind == "micro":
        lo = wl.min_rounds or (ctx.noisy_min if wl.noisy else ctx.micro_min)
        hi = wl.max_rounds or (ctx.noisy_max if wl.noisy else ctx.micro_max)
    else:
        lo = wl.min_rounds or ctx.prog_min
        hi = wl.max_rounds or ctx.prog_max
    if ctx.rounds:
        lo = hi = ctx.rounds
    budget = wl.budget_s or (ctx.micro_budget if wl.kind == "micro" else ctx.prog_budget)
    runs = {}
    t0 = time.time()
    rnd = 0
    while True:
        runs[rnd] = {}
        for pos, col in enumerate(order_for(rnd)):
            rec = run_once(ctx, wl, col, rnd, pos)
            records.append(rec)
            runs[rnd][col] = rec
        rnd += 1
        if rnd >= hi:
            break
        if rnd >= lo:
            rn = ratios(runs, "lockwatch", "native")
            ru = ratios(runs, "lockwatch", "null")
            if stable(rn, ctx.tol) and stable(ru, ctx.tol):
                break
            if time.time() - t0 > budget or time.time() > ctx.deadline:
                break
    log("bench: %-32s %2d rounds, %5.1f s" % (wl.name, rnd, time.time() - t0))
    return runs


# ---------------------------------------------------------------- summary

def med(v):
    return statistics.median(v) if v else None


def fmt_metric(wl, v):
    if v is None:
        return "-"
    if wl.kind == "prog":
        return "%.2f s" % v
    if v >= 100000:
        return "%.0f us" % (v / 1000)
    if v >= 100:
        return "%.0f ns" % v
    return "%.1f ns" % v


def fmt_ratio(v):
    if not v:
        return "-"
    return "**%.2f** [%.2f-%.2f]" % (med(v), min(v), max(v))


def summarize(ctx, wl, runs):
    """Rows of the table for one workload, and its failures."""
    rounds = len(runs)
    percol = {c: [runs[r][c] for r in sorted(runs) if c in runs[r]] for c in COLUMNS}
    failures = []
    reports = 0
    report_excerpt = ""
    for c in COLUMNS:
        for rec in percol[c]:
            for p in rec["problems"]:
                failures.append("%s [%s, round %d]: %s" % (wl.name, c, rec["round"], p))
            if rec.get("reports"):
                reports += rec["reports"]
                report_excerpt = report_excerpt or rec.get("report_excerpt", "")
    if wl.stdout_file:
        hashes = {rec.get("output_sha1") for c in COLUMNS for rec in percol[c]}
        if len(hashes) > 1:
            failures.append("%s: outputs differ between runs" % wl.name)
    if reports:
        failures.append("%s: lockwatch reported %d time(s): %s" % (wl.name, reports,
                                                                   report_excerpt))
    med_metric = {c: med([r["metric"] for r in percol[c] if r.get("metric")]) for c in COLUMNS}
    rss = {c: med([r["maxrss_kb"] for r in percol[c]]) for c in COLUMNS}
    rn = ratios(runs, "lockwatch", "native")
    ru = ratios(runs, "lockwatch", "null")
    for c in COLUMNS:
        for rec in percol[c]:
            rec["cpu_s"] = (rec.get("utime_s") or 0) + (rec.get("stime_s") or 0)
    rcpu = ratios(runs, "lockwatch", "native", key="cpu_s")
    natv = [r["metric"] for r in percol["native"] if r.get("metric")]
    spread = (max(natv) / min(natv)) if natv else None
    row = {
        "workload": wl.name, "desc": wl.desc, "rounds": rounds,
        "native": med_metric["native"], "null": med_metric["null"],
        "lockwatch": med_metric["lockwatch"],
        "lw_native": med(rn), "lw_native_min": min(rn) if rn else None,
        "lw_native_max": max(rn) if rn else None,
        "lw_null": med(ru), "lw_null_min": min(ru) if ru else None,
        "lw_null_max": max(ru) if ru else None,
        "native_spread": spread,
        "lw_native_cpu": med(rcpu),
        "rss_kb": rss, "reports": reports, "checks": [], "unit": "s" if wl.kind == "prog" else "ns",
    }
    cells = {"ratios_native": rn, "ratios_null": ru}
    base, limit = wl.target
    if limit is not None:
        v = med(rn if base == "native" else ru)
        if v is not None:
            row["checks"].append(("lockwatch/%s <= %g" % (base, limit), "%.2f" % v, v <= limit))
    rows = [(row, cells)]
    f = lambda c, k: [r["fields"].get(k) for r in percol[c]]
    if wl.name in ("fresh", "fresh-free"):
        per_lock, growth, kept = [], [], []
        for rnd in sorted(runs):
            r = runs[rnd]
            if "lockwatch" not in r or "native" not in r:
                continue
            lw, nat = r["lockwatch"]["fields"], r["native"]["fields"]
            try:
                d = ((lw["rss_live_kb"] - lw["rss_base_kb"]) -
                     (nat["rss_live_kb"] - nat["rss_base_kb"]))
                per_lock.append(d * 1024.0 / lw["live_locks"])
                growth.append((lw["rss_after3_kb"] - lw["rss_after1_kb"]) -
                              (nat["rss_after3_kb"] - nat["rss_after1_kb"]))
                kept.append((lw["rss_after1_kb"] - lw["rss_base_kb"]) -
                            (nat["rss_after1_kb"] - nat["rss_base_kb"]))
            except (KeyError, TypeError):
                pass
        if per_lock:
            row["lw_bytes_per_live_lock"] = med(per_lock)
            row["lw_growth_rounds_2_3_kb"] = med(growth)
            row["lw_kept_after_destroy_kb"] = med(kept)
            row["checks"].append(("lockwatch bytes per live lock <= 200",
                                  "%.0f" % med(per_lock), med(per_lock) <= 200))
            flat = med(growth) <= max(256, 0.01 * max(med(kept), 0))
            row["checks"].append(("no growth over rounds 2-3 (after free)",
                                  "%+.0f kB" % med(growth), flat))
            row["notes"] = ("lockwatch memory kept after every lock was destroyed/freed: "
                            "%.1f MB (high-water; reused, flat over rounds)" % (med(kept) / 1024))
    if wl.name == "churn":
        g = []
        for rnd in sorted(runs):
            r = runs[rnd]
            try:
                g.append(r["lockwatch"]["fields"]["growth_b_per_thread"] -
                         r["native"]["fields"]["growth_b_per_thread"])
            except (KeyError, TypeError):
                pass
        warm = []
        for rnd in sorted(runs):
            r = runs[rnd]
            try:
                lw, nat = r["lockwatch"]["fields"], r["native"]["fields"]
                warm.append((lw["rss_at_half_kb"] - lw["rss_at_1000_kb"]) -
                            (nat["rss_at_half_kb"] - nat["rss_at_1000_kb"]))
            except (KeyError, TypeError):
                pass
        if g:
            row["lw_growth_b_per_ended_thread"] = med(g)
            row["checks"].append(("lockwatch memory growth per ended thread ~ 0 (<= 16 B, "
                                  "second half of the threads)",
                                  "%.0f B" % med(g), med(g) <= 16))
        if warm:
            row["notes"] = ("lockwatch memory added between thread 1,000 and thread %d "
                            "(one-time warm-up, vs native): %.1f MB; growth checked over "
                            "threads %d-%d" % (
                                int(runs[0]["lockwatch"]["fields"].get("threads_total", 0) / 2),
                                med(warm) / 1024,
                                int(runs[0]["lockwatch"]["fields"].get("threads_total", 0) / 2),
                                int(runs[0]["lockwatch"]["fields"].get("threads_total", 0))))
    if wl.name == "chain-cycle":
        before = [x for x in f("lockwatch", "chain_before_ns_per_edge") if x]
        after = [x for x in f("lockwatch", "chain_after_ns_per_edge") if x]
        inproc = [a / b for a, b in zip(after, before)]
        row["lw_after_before"] = med(inproc)
        if inproc:
            row["checks"].append(("lockwatch new edge after/before an unrelated cycle <= 1.5",
                                  "%.2f" % med(inproc), med(inproc) <= 1.5))
        row["notes"] = ("new edge: %.1f us before, %.1f us after the cycle"
                        % (med(before) / 1000, med(after) / 1000) if before and after else "")
    if wl.name == "cache":
        # What an entry's whole life (its lock born, 4 new order edges,
        # 3 lookups, destroyed) costs under lockwatch beyond native, from
        # the medians of the same round's columns.
        per_entry = []
        for rnd in sorted(runs):
            r = runs[rnd]
            try:
                lw, nat = r["lockwatch"]["fields"], r["native"]["fields"]
                ops, born = float(lw["ops"]), float(lw["entries_born"])
                per_entry.append((float(lw["ns_per_op"]) - float(nat["ns_per_op"])) * ops / born)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                pass
        if per_entry:
            row["lw_ns_per_entry"] = med(per_entry)
            row["checks"].append(("lockwatch cost per entry's life <= 5 us",
                                  "%.1f us" % (med(per_entry) / 1000), med(per_entry) <= 5000))
            row["notes"] = ("lockwatch cost per cache entry's life (a new lock, its new order "
                            "edges, their removal): %.1f us" % (med(per_entry) / 1000))
    if wl.name == "graph":
        before = [x for x in f("lockwatch", "nested4_before_ns") if x]
        after = [x for x in f("lockwatch", "nested4_after_ns") if x]
        inproc = [a / b for a, b in zip(after, before)]
        row["workload"] = "graph: nested4 after 1 M-edge graph"
        row["lw_after_before"] = med(inproc)
        build = med([x for x in f("lockwatch", "build_ns_per_edge") if x])
        row["lw_build_ns_per_edge"] = build
        if inproc:
            row["checks"].append(("lockwatch after/before graph <= 1.1 (known edges)",
                                  "%.2f" % med(inproc), med(inproc) <= 1.1))
        row["notes"] = ("graph build: %.1f us per new edge under lockwatch" % (build / 1000)
                        if build else "")
        # second row: new edges after the graph
        nrow = dict(row)
        nrow["checks"] = []
        nrow["workload"] = "graph: new edge from a new lock into it"
        ncells = {}
        by = {c: [x for x in f(c, "new_edge_after_ns") if x] for c in COLUMNS}
        nrow.update({c: med(by[c]) for c in COLUMNS})
        pr = lambda num, den: [runs[k][num]["fields"]["new_edge_after_ns"] /
                               runs[k][den]["fields"]["new_edge_after_ns"]
                               for k in sorted(runs)
                               if num in runs[k] and den in runs[k]
                               and runs[k][num]["fields"].get("new_edge_after_ns")
                               and runs[k][den]["fields"].get("new_edge_after_ns")]
        rn2, ru2 = pr("lockwatch", "native"), pr("lockwatch", "null")
        nrow.update(lw_native=med(rn2), lw_native_min=min(rn2) if rn2 else None,
                    lw_native_max=max(rn2) if rn2 else None, lw_null=med(ru2),
                    lw_null_min=min(ru2) if ru2 else None,
                    lw_null_max=max(ru2) if ru2 else None)
        ncells = {"ratios_native": rn2, "ratios_null": ru2}
        nb = [x for x in f("lockwatch", "new_edge_before_ns") if x]
        na = by["lockwatch"]
        if nb and na:
            ratio = med([a / b for a, b in zip(na, nb)])
            nrow["lw_after_before"] = ratio
            nrow["checks"].append(("lockwatch new edge after/before graph <= 2",
                                   "%.0f (%.1f us -> %.1f ms)" % (ratio, med(nb) / 1e3,
                                                                    med(na) / 1e6),
                                   ratio <= 2))
        nrow["notes"] = "%d locks, %d edges, no cycle" % (
            (f("lockwatch", "locks") or [0])[0] or 0, (f("lockwatch", "edges") or [0])[0] or 0)
        rows.append((nrow, ncells))
    if reports:
        row["checks"].append(("no lockwatch report", "%d reports" % reports, False))
    return rows, failures


def verdict(row):
    if row.get("skipped"):
        return "skipped: " + row["skipped"]
    if not row["checks"]:
        return "-"
    parts = []
    for name, val, ok in row["checks"]:
        parts.append("%s %s" % ("met" if ok else "**MISSED**", val) if "report" not in name
                     else "**REPORTED** (%s)" % val)
    return "; ".join(parts)


def target_text(wl, row):
    names = [c[0] for c in row["checks"] if "report" not in c[0]]
    return "; ".join(names) if names else "-"


def markdown(ctx, table, meta):
    lines = []
    lines.append("lockwatch benchmarks, %s, commit %s%s; %s, %d CPUs (%s); %s"
                 % (meta["date"], meta["commit"], " (dirty)" if meta["dirty"] else "",
                    meta["machine"]["cpu_model"], meta["machine"]["nproc"],
                    "quick" if ctx.quick else "full", meta["kernel_str"]))
    lines.append("")
    lines.append("| workload | rounds | native | null | lockwatch | lw/native median [min-max] "
                 "| lw/null median [min-max] | native spread | lw/native CPU "
                 "| peak RSS MB native/null/lw | target | result |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for wl, row, cells in table:
        if row.get("skipped"):
            lines.append("| %s | - | - | - | - | - | - | - | - | - | - | skipped: %s |"
                         % (row["workload"], row["skipped"]))
            continue
        rss = row["rss_kb"]
        rsscell = "/".join("%.0f" % (rss[c] / 1024) if rss[c] is not None else "-"
                           for c in COLUMNS)
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["workload"], row["rounds"], fmt_metric(wl, row["native"]),
            fmt_metric(wl, row["null"]), fmt_metric(wl, row["lockwatch"]),
            fmt_ratio(cells["ratios_native"]), fmt_ratio(cells["ratios_null"]),
            "%.2fx" % row["native_spread"] if row.get("native_spread") else "-",
            "%.2f" % row["lw_native_cpu"] if row.get("lw_native_cpu") else "-",
            rsscell, target_text(wl, row), verdict(row)))
    notes = [(row["workload"], row["notes"]) for _, row, _ in table if row.get("notes")]
    if notes:
        lines.append("")
        for name, n in notes:
            lines.append("- %s: %s" % (name, n))
    lines += scaling_lines(ctx, table, meta["machine"]["nproc"])
    lines.append("")
    lines.append("native/null/lockwatch: median ns per operation (microbenchmarks, timed "
                 "inside the program) or wall seconds (programs); ratios are medians of "
                 "per-round ratios, [min-max] over rounds; native spread = slowest/fastest "
                 "native round; lw/native CPU = median ratio of the whole process's user+system "
                 "time (set-up included); columns alternate order every round.")
    return "\n".join(lines)


# ---------------------------------------------------------------- perf

def perf_profile(ctx, wl):
    if not shutil.which("perf"):
        log("bench: perf not installed (apt-get install linux-perf)")
        return
    data = os.path.join(ctx.results, "perf-%s.data" % slug(wl.name))
    rep = os.path.join(ctx.results, "perf-%s.txt" % slug(wl.name))
    env, preload = column_env(ctx, "lockwatch", os.path.join(ctx.logdir, "perf.%p.log"))
    env["LD_PRELOAD"] = preload
    argv = wl.argv(ctx)
    out = subprocess.DEVNULL
    if wl.stdout_file:
        out = open(os.path.join(ctx.work, "out.perf"), "wb")
    subprocess.call(["perf", "record", "-q", "-F", "4999", "-g", "-o", data, "--"] + argv,
                    env=env, cwd=ctx.work, stdout=out, stderr=subprocess.DEVNULL)
    txt = sh(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit", "0.5",
              "--sort", "dso,symbol", "-g", "none"])
    with open(rep, "w") as f:
        f.write(txt)
    print("\n### perf profile, %s under lockwatch (%s)\n" % (wl.name, rep))
    print("```")
    print("\n".join(l for l in txt.splitlines() if l and not l.startswith("#"))[:6000])
    print("```")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 rounds (under 2 min)")
    ap.add_argument("--builddir", default=".", help="top build directory (default .)")
    ap.add_argument("--srcdir", default=None, help="top source directory (default: "
                    "this script's parent)")
    ap.add_argument("--results", default=None, help="results directory "
                    "(default BUILDDIR/bench/results)")
    ap.add_argument("--only", default=None, help="run only workloads matching this regex")
    ap.add_argument("--rounds", type=int, default=None, help="exactly this many rounds each")
    ap.add_argument("--perf", default="", help="also profile these workloads under "
                    "lockwatch with perf (comma list of names, or 'all')")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install")
    ap.add_argument("--no-programs", action="store_true", help="microbenchmarks only")
    ap.add_argument("--lib", default=None, help="measure this liblockwatch.so, or the one "
                    "built in this tree (e.g. a clean clone of a commit), instead of "
                    "BUILDDIR/src/.libs/liblockwatch.so")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run before kill")
    ap.add_argument("--scaling", action="store_true", help="also run the contended and rwlock "
                    "modes at 1-16 threads (default: only on a machine with 16 CPUs or more)")
    args = ap.parse_args()

    ctx = Ctx()
    ctx.quick = args.quick
    ctx.scaling = args.scaling or (not args.quick and
                                   (os.cpu_count() or 1) >= SCALING_CPUS)
    ctx.no_install = args.no_install
    ctx.timeout = args.timeout
    ctx.rounds = args.rounds
    ctx.builddir = os.path.abspath(args.builddir)
    ctx.srcdir = os.path.abspath(args.srcdir or os.path.join(os.path.dirname(
        os.path.abspath(__file__)), ".."))
    ctx.results = os.path.abspath(args.results or os.path.join(ctx.builddir, "bench", "results"))
    ctx.logdir = os.path.join(ctx.results, "logs")
    tmp = os.environ.get("TMPDIR", "/tmp")
    ctx.work = os.path.join(tmp, "lockwatch-bench")
    for d in (ctx.results, ctx.logdir, ctx.work):
        os.makedirs(d, exist_ok=True)
    ctx.micro = os.path.join(ctx.builddir, "bench", "micro")
    ctx.null_lib = os.path.join(ctx.builddir, "bench", "libnullpreload.so")
    ctx.lw_lib = os.path.join(ctx.builddir, "src", ".libs", "liblockwatch.so")
    lib_tree = ctx.srcdir
    if args.lib:
        if os.path.isdir(args.lib):
            lib_tree = os.path.abspath(args.lib)
            ctx.lw_lib = os.path.join(lib_tree, "src", ".libs", "liblockwatch.so")
        else:
            ctx.lw_lib = os.path.abspath(args.lib)
            lib_tree = sh(["git", "-C", os.path.dirname(ctx.lw_lib), "rev-parse",
                           "--show-toplevel"]) or os.path.dirname(ctx.lw_lib)
    ctx.spawn = os.path.join(ctx.builddir, "bench", "spawn")
    ctx.python = os.path.realpath(sys.executable)
    for p in (ctx.micro, ctx.null_lib, ctx.lw_lib, ctx.spawn):
        if not os.path.exists(p):
            log("bench: %s is missing: run `make bench` (it builds it)" % p)
            return 2
    if ctx.quick:
        scale = {"graph": 0.1, "churn": 1.0, "chain-cycle": 1.0}   # churn: 30,000 threads to see memory flat
        ctx.micro_scale = lambda mode: scale.get(mode, 0.1)
        ctx.micro_min = ctx.micro_max = ctx.noisy_max = ctx.noisy_min = 5
        ctx.prog_min = ctx.prog_max = 3
        ctx.micro_budget, ctx.prog_budget = 10, 20
        ctx.total_budget = 100
        input_size = 20 * 1000 * 1000
        ctx.py_items, ctx.sqlite_scale = 50000, 0.25
    else:
        ctx.micro_scale = lambda mode: 1.0
        ctx.micro_min, ctx.micro_max, ctx.noisy_max = 7, 15, 25
        ctx.noisy_min = 11
        ctx.prog_min, ctx.prog_max = 5, 9
        ctx.micro_budget, ctx.prog_budget = 60, 200
        ctx.total_budget = 720
        input_size = 200 * 1000 * 1000
        ctx.py_items, ctx.sqlite_scale = 200000, 1.0
    ctx.tol = 0.02

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "commit": sh(["git", "-C", lib_tree, "rev-parse", "--short", "HEAD"]) or "unknown",
        "dirty": bool(sh(["git", "-C", lib_tree, "status", "--porcelain", "--",
                          "src", "include"])),
        "library": ctx.lw_lib,
        "machine": machine_info(),
        "quick": ctx.quick,
        "scaling_measured": ctx.scaling,
        "python": ctx.python,
    }
    meta["kernel_str"] = "Linux " + meta["machine"]["kernel"]

    # The null interposer must interpose exactly what lockwatch does.
    lw_syms, null_syms = exported(ctx.lw_lib), exported(ctx.null_lib)
    failures = []
    if lw_syms and null_syms:
        missing = sorted(lw_syms - null_syms)
        extra = sorted(null_syms - lw_syms)
        meta["null_interposer_missing"] = missing
        meta["null_interposer_extra"] = extra
        if missing:
            failures.append("the null interposer lacks functions lockwatch interposes: %s "
                            "(add them to bench/nullpreload.c)" % ", ".join(missing))
        if extra:
            log("bench: warning: the null interposer also interposes %s" % ", ".join(extra))
    else:
        log("bench: warning: objdump unavailable; interposed sets not compared")

    wls = workloads(ctx)
    if args.only:
        wls = [w for w in wls if re.search(args.only, w.name)]
    if args.no_programs:
        wls = [w for w in wls if w.kind == "micro"]
    if any(w.kind == "prog" for w in wls):
        install_missing(ctx)
        build_sqlite(ctx)
        ctx.input = os.path.join(ctx.work, "input-%dM.txt" % (input_size // 1000000))
        if any(w.stdout_file for w in wls):
            gen_input(ctx.input, input_size)
    else:
        ctx.sqlite_prog, ctx.sqlite_why, ctx.input = None, "", ""

    t_start = time.time()
    ctx.deadline = t_start + ctx.total_budget
    records = []
    table = []
    for wl in wls:
        why = wl.needs(ctx) if wl.needs else None
        if why:
            table.append((wl, {"workload": wl.name, "skipped": why, "checks": []}, {}))
            log("bench: %-32s skipped: %s" % (wl.name, why))
            continue
        runs = run_workload(ctx, wl, records)
        rows, fails = summarize(ctx, wl, runs)
        failures += fails
        for row, cells in rows:
            table.append((wl, row, cells))
    meta["elapsed_s"] = time.time() - t_start

    md = markdown(ctx, table, meta)
    print(md)
    if failures:
        print("\nBENCHMARK FAILURES:")
        for f in failures:
            print("- " + f)
    missed = [row["workload"] for _, row, _ in table
              if any(not ok for name, _, ok in row.get("checks", []) if "report" not in name)]
    print("\n%d workloads, %d rows; targets missed: %s; %.0f s"
          % (len(wls), len(table), ", ".join(missed) or "none", meta["elapsed_s"]))

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = "%s-%s%s" % (stamp, meta["commit"], "-quick" if ctx.quick else "")
    doc = {"meta": meta, "failures": failures,
           "rows": [dict(row, ratios_native=cells.get("ratios_native"),
                         ratios_null=cells.get("ratios_null"))
                    for _, row, cells in table],
           "runs": records}
    latest = "latest" + ("-quick" if ctx.quick else "")
    for name in (base, latest):
        with open(os.path.join(ctx.results, name + ".json"), "w") as f:
            json.dump(doc, f, indent=1, default=str)
        with open(os.path.join(ctx.results, name + ".md"), "w") as f:
            f.write(md + "\n")
        with open(os.path.join(ctx.results, name + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["commit", "workload", "round", "position", "column", "metric", "unit",
                        "wall_s", "maxrss_kb", "utime_s", "stime_s", "rc", "reports",
                        "problems", "fields"])
            for r in records:
                w.writerow([meta["commit"], r["workload"], r["round"], r["position"],
                            r["column"], r.get("metric"), r["unit"],
                            "%.4f" % r["wall_s"], r["maxrss_kb"], "%.3f" % r["utime_s"],
                            "%.3f" % r["stime_s"], r["rc"], r["reports"],
                            "; ".join(r["problems"]),
                            " ".join("%s=%s" % kv for kv in sorted(r["fields"].items()))])
    log("bench: raw figures in %s.{json,csv,md}" % os.path.join(ctx.results, base))

    if args.perf:
        names = [n.strip() for n in args.perf.split(",")]
        for wl in wls:
            if "all" in names or wl.name in names or slug(wl.name) in names:
                perf_profile(ctx, wl)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
