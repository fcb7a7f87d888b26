"""lockwatch --repeat (tools/lockwatch-repeat.py through the launcher): N runs
with jitter and consecutive seeds, J at a time; findings merged by
fingerprint with the number of runs, the first seed and a replay command;
the merged JSON log; the exit status: LOCKWATCH_EXITCODE on any finding, 0
for a clean program (also one whose own status is not 0, as natively), 2
for a bad count."""
import json
import os
import re
import subprocess
import tempfile

import lwtest as lw


def launch(args, cwd):
    env = lw.base_env()
    env.pop("LD_PRELOAD", None)
    p = subprocess.run([lw.launcher()] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=lw.TIMEOUT * 4)
    return p


def main(t):
    lw.detector_is_live(t)
    with tempfile.TemporaryDirectory(prefix="lwrepeat.") as tmp:
        p = launch(["--repeat=4", "--jobs=2", "--seed=100", "--", lw.example("inversion")], tmp)
        what = "--repeat=4 on inversion"
        t.expect(p.returncode == lw.DEFAULT_EXITCODE, "%s: exit %d, expected %d\n%s%s"
                 % (what, p.returncode, lw.DEFAULT_EXITCODE, p.stdout, p.stderr))
        t.expect("1 finding:" in p.stdout and "4 of 4 runs, first with seed 100" in p.stdout,
                 "%s: summary should count 1 finding in 4 of 4 runs from seed 100:\n%s"
                 % (what, p.stdout))
        m = re.search(r"replay: LOCKWATCH_JITTER=50 LOCKWATCH_SEED=(\d+) lockwatch ", p.stdout)
        t.expect(m is not None and m.group(1) == "100", "%s: no replay line:\n%s" % (what, p.stdout))
        t.expect("seeds 100..103" in p.stdout, "%s: seeds should be 100..103:\n%s" % (what, p.stdout))
        log = os.path.join(tmp, "lockwatch-repeat.jsonl")
        t.require(os.path.exists(log), "%s: no merged log %s" % (what, log))
        with open(log, encoding="utf-8") as f:
            lines = [json.loads(l) for l in f if l.strip()]
        t.expect(len(lines) == 1 and lines[0].get("runs") == 4 and lines[0].get("first_seed") == 100
                 and re.match(r"^[0-9a-f]{16}$", lines[0].get("fingerprint", "")),
                 "%s: merged log should hold one finding seen in 4 runs: %r" % (what, lines))
        # The printed seed was replayed before the summary: it showed it again.
        t.expect(lines and lines[0].get("replay_seed") == 100 and lines[0].get("replayed") is True,
                 "%s: the merged log should give replay_seed 100, replayed: %r" % (what, lines))
        t.expect("(checked: this replay showed it again)" in p.stdout,
                 "%s: the summary should say the replay was checked:\n%s" % (what, p.stdout))

        # The replay gives the seed back in the report.
        run = lw.run_preload([lw.example("inversion")],
                             extra_env={"LOCKWATCH_JITTER": "50", "LOCKWATCH_SEED": "100"})
        t.expect(run.reports and run.reports[0].get("seed") == 100,
                 "replay with seed 100: the report should state it")

        p = launch(["--repeat", "3", lw.example("clean_ordered")], tmp)
        t.expect(p.returncode == 0 and "no findings" in p.stdout,
                 "--repeat 3 on clean_ordered: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))

        p = launch(["--repeat=2", "sh", "-c", "exit 3"], tmp)
        t.expect(p.returncode == 0 and "native exit status 3" in p.stdout
                 and "exited" not in p.stdout,
                 "--repeat on a program that exits 3 natively too: not a failure, got exit %d\n%s"
                 % (p.returncode, p.stdout))

        p = launch(["--repeat=0", lw.example("inversion")], tmp)
        t.expect(p.returncode == 2 and "lockwatch: error:" in p.stderr,
                 "--repeat=0: expected a usage error (exit 2), got %d: %s" % (p.returncode, p.stderr))


lw.main(main)
