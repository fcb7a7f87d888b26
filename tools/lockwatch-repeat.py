#!/usr/bin/env python3
"""lockwatch-repeat: `lockwatch --repeat N [--jobs J] -- program args`.

Runs the program N times under liblockwatch.so, J at a time, each run with
LOCKWATCH_JITTER (the caller's, else 50) and a seed of its own (the
caller's LOCKWATCH_SEED and the following ones, else a random start), and
the program once natively.  Merges the findings of all runs by fingerprint,
replays each finding's seeds until one shows it again (at most
REPLAY_TRIES runs), prints a summary (each finding, in how many runs, the
seed that first showed it and the command that replays it, checked),
writes the merged JSON Lines
log, and exits non-zero when any run found something (LOCKWATCH_EXITCODE,
default 66; 1 when that is 0) or failed in a way the native run did not (1).

Python 3 standard library only.  Called by the lockwatch launcher, which
has already checked the options and found the library; it passes
--lib PATH --repeat N --jobs J [--merged FILE] -- program args.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import tempfile

SEED_MAX = 2147483647
DEFAULT_JITTER = 50


REPLAY_TRIES = 3   # replays of a finding's seeds before the summary is printed


def parse_args(argv):
    p = argparse.ArgumentParser(prog="lockwatch --repeat", add_help=False)
    p.add_argument("--lib", required=True)
    p.add_argument("--repeat", type=int, required=True)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--merged", default="lockwatch-repeat.jsonl")
    p.add_argument("program", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if a.program and a.program[0] == "--":
        a.program = a.program[1:]
    if not a.program:
        p.error("no program")
    if a.repeat < 1 or a.jobs < 1:
        p.error("--repeat and --jobs take a number of at least 1")
    return a


def env_int(name, default, lo, hi):
    v = os.environ.get(name, "")
    try:
        n = int(v)
    except ValueError:
        return default
    return n if lo <= n <= hi else default


def read_findings(path):
    """The JSON objects of a log; a truncated last line is skipped."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue   # a process killed mid-line
                # The graph record each process writes at exit is no finding.
                if isinstance(obj, dict) and "kind" in obj and obj["kind"] != "graph":
                    out.append(obj)
    except OSError:
        pass
    return out


def where(rep):
    """The first named frame of the finding's first stack."""
    cycle = rep.get("cycle") or []
    threads = rep.get("threads") or []
    idx = cycle[0].get("stack") if cycle else (threads[0].get("stack") if threads else None)
    stacks = rep.get("stacks") or []
    if isinstance(idx, int) and 0 <= idx < len(stacks):
        for fr in stacks[idx]:
            if isinstance(fr, dict) and fr.get("function"):
                return fr["function"]
    return "?"


def run_one(i, seed, a, jitter, tmp):
    env = dict(os.environ)
    pre = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = a.lib + (":" + pre if pre else "")
    env["LOCKWATCH_FORMAT"] = "json"
    env["LOCKWATCH_LOG"] = os.path.join(tmp, "run%d.%%p.jsonl" % i)
    env["LOCKWATCH_JITTER"] = str(jitter)
    env["LOCKWATCH_SEED"] = str(seed)
    with open(os.path.join(tmp, "run%d.out" % i), "wb") as out:
        rc = subprocess.call(a.program, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)
    reps = []
    for name in sorted(os.listdir(tmp)):
        if name.startswith("run%d." % i) and name.endswith(".jsonl"):
            reps.extend(read_findings(os.path.join(tmp, name)))
    return i, seed, rc, reps


def main(argv):
    a = parse_args(argv)
    jitter = env_int("LOCKWATCH_JITTER", DEFAULT_JITTER, 0, 100)
    if "LOCKWATCH_JITTER" not in os.environ:
        jitter = DEFAULT_JITTER
    exitcode = env_int("LOCKWATCH_EXITCODE", 66, 0, 255)
    base = env_int("LOCKWATCH_SEED", 0, 0, SEED_MAX)
    if base == 0:
        base = int.from_bytes(os.urandom(4), "little") % SEED_MAX + 1
    seeds = [(base - 1 + i) % SEED_MAX + 1 for i in range(a.repeat)]

    native_env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKWATCH_")}
    native = subprocess.call(a.program, env=native_env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    results = []
    merged = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="lockwatch-repeat.") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            futs = [ex.submit(run_one, i, seeds[i], a, jitter, tmp) for i in range(a.repeat)]
            for f in futs:
                results.append(f.result())

        for i, seed, rc, reps in sorted(results):
            seen = set()
            for rep in reps:
                fp = rep.get("fingerprint") or json.dumps(rep.get("message"))
                m = merged.setdefault(fp, {"rep": rep, "runs": set(), "first_seed": seed,
                                           "first_run": i, "seeds": []})
                if fp not in seen:
                    m["runs"].add(i)
                    m["seeds"].append(seed)
                    seen.add(fp)
            expected = exitcode if (reps and exitcode) else native
            if rc != expected and not (reps and rc == exitcode):
                failed.append((i, seed, rc))

        # The interleaving also depends on the machine's load: a seed that
        # showed a finding does not always show it again.  Replay the seeds
        # that showed it, in order, up to REPLAY_TRIES runs, and print one
        # that did show it again.
        n = a.repeat
        for fp, m in merged.items():
            m["replay_seed"], m["replayed"] = m["first_seed"], False
            for seed in m["seeds"][:REPLAY_TRIES]:
                _, _, _, reps = run_one(n, seed, a, jitter, tmp)
                n += 1
                if any((r.get("fingerprint") or json.dumps(r.get("message"))) == fp
                       for r in reps):
                    m["replay_seed"], m["replayed"] = seed, True
                    break

    prog = " ".join(shlex.quote(w) for w in a.program)
    print("lockwatch --repeat: %d runs of %s (LOCKWATCH_JITTER=%d, seeds %d..%d, %d at a time); "
          "native exit status %d" % (a.repeat, prog, jitter, seeds[0], seeds[-1], a.jobs, native))
    if not merged:
        print("no findings")
    else:
        print("%d finding%s:" % (len(merged), "" if len(merged) == 1 else "s"))
        for fp, m in sorted(merged.items(), key=lambda kv: (-len(kv[1]["runs"]), kv[0])):
            rep = m["rep"]
            print("  %s in %s: %d of %d runs, first with seed %d  [%s]"
                  % (rep.get("kind"), where(rep), len(m["runs"]), a.repeat, m["first_seed"], fp))
            print("    %s" % rep.get("message", ""))
            print("    replay: LOCKWATCH_JITTER=%d LOCKWATCH_SEED=%d lockwatch %s"
                  % (jitter, m["replay_seed"], prog))
            print("    (%s)" % ("checked: this replay showed it again" if m["replayed"] else
                              "not shown again by %d replay%s of its seeds: the interleaving "
                              "also depends on the machine's load"
                              % (min(REPLAY_TRIES, len(m["seeds"])),
                                 "" if min(REPLAY_TRIES, len(m["seeds"])) == 1 else "s")))
    for i, seed, rc in failed:
        print("run %d (seed %d) exited %d; natively the program exits %d" % (i + 1, seed, rc, native))

    with open(a.merged, "w", encoding="utf-8") as f:
        for fp, m in merged.items():
            rep = dict(m["rep"])
            rep["runs"] = len(m["runs"])
            rep["of_runs"] = a.repeat
            rep["in_runs"] = sorted(i + 1 for i in m["runs"])
            rep["first_seed"] = m["first_seed"]
            rep["replay_seed"] = m["replay_seed"]
            rep["replayed"] = m["replayed"]
            f.write(json.dumps(rep, separators=(",", ":")) + "\n")
    print("merged JSON log: %s" % a.merged)

    if merged:
        return exitcode if exitcode else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
