"""Precision that stays: correct programs are silent in 20 jittered runs,
and the same orders without what makes them safe are reported, with the
confidence they deserve.

Each correct program (below, with what it stands for) runs once natively
(exit 0, something on stdout, and, where the program can say so, proof that
the situation it tests really arose: memory really reused, the robust
mutex's owner really died), then 20 times under lockwatch with
LOCKWATCH_JITTER=100 and LOCKWATCH_SEED=1..20: every run must exit as
natively, print the same, write nothing on stderr and make no report (the
children of the forking programs write to the same LOCKWATCH_LOG, so their
reports count too).

Then the contrasts, also 20 seeds each under the same jitter:
  - gated no-gate: the A/B inversion of gated without its gate, two threads
    holding nothing else: one report, "confidence":"feasible";
  - gated one-thread: both orders from one thread: still one report (as
    Helgrind, ThreadSanitizer and lockdep report it), "confidence":"latent",
    and the text report says it deadlocks once two threads run these paths;
  - readers_only_cycle writers-first: the read cycle on rwlocks that prefer
    writers (a waiting writer holds new readers back): one report,
    "feasible";
  - reuse_after_munmap VARIANT kept, for every variant: the same two locks in
    both orders (no unmapping): one report, so that what silences the reuse
    variants is the reuse, not blindness to those kinds of lock;
  - the inversion examples of the earlier issues (inversion,
    rwlock_inversion, c11_inversion, cxx_inversion, philosophers): one
    report each, "feasible", in every jittered run.
    (Every bug example is checked without jitter, report by report, by
    test_inversion, test_rwlock, test_cycle4, test_philosophers, test_c11,
    test_cxx, test_copied_mutex, test_misuse, test_deadlock, test_blocking
    and test_fork; cycle4 repeats its cycle 100,000 times, too slow to
    jitter here, and copied_mutex prints its locks' addresses, which change
    from run to run.)

Runs go 4 at a time: under jitter they mostly sleep.  The whole test takes
about a minute on 2 cores.
"""
import concurrent.futures
import os
import time

import lwtest as lw

JITTER = "100"
SEEDS = range(1, 21)
WORKERS = 4

# (program and arguments, what it stands for, text its native stdout must
# contain to show the case really arose, or None).  Longest runs first.
CORRECT = [
    (["producer_consumer"], "condition variables, signal under the mutex", None),
    (["clean_ordered"], "one global order over 64 locks, an rwlock, a recursive relock", None),
    (["timedlock_backoff"], "timed back-off with short timeouts, opposite orders", None),
    (["address_ordered"], "pairs and triples locked in address order", "total balance 12000"),
    (["readers_only_cycle"], "a cycle of read locks, and one through a mutex entering "
     "and leaving an rwlock as a reader", None),
    (["signal_after_unlock"], "signal and broadcast after the unlock", None),
    (["lost_wakeup_window_ok"], "the lost-wakeup window closed: condition set and signal "
     "sent under the mutex", None),
    (["lost_wakeup_window_ok", "after"], "the same, signal after the unlock", None),
    (["join_finished_ok"], "joining threads that finished, under a lock", None),
    (["gated"], "an inversion under a common gate lock", None),
    (["trylock"], "the reversed order by trylock with back-off", None),
    (["pshared_fork"], "process-shared mutexes and condvar across fork, a robust mutex "
     "whose owner process died", "owner died: recovered"),
    (["hand_over_hand"], "lock coupling on a list, nodes freed and reused elsewhere in it",
     "freed nodes reused by 12 of 12 inserts"),
    (["fork_child_ok"], "fork while threads lock; atfork handler", None),
    (["atfork_locks"], "pthread_atfork handlers taking three program locks in order",
     "4 of 4 children exited 0"),
    (["recursive_ok"], "recursive mutex relocked by its owner", None),
    (["reuse_after_munmap"], "locks in unmapped memory mapped again, opposite order",
     "mapped again at the same address: 8"),
    (["reuse_after_free"], "locks in freed memory reused, opposite order",
     "memory reused: mutexes yes, rwlocks yes"),
    (["stack_lock_reuse"], "new locks where a returned frame left its own locked",
     "same addresses: yes"),
    (["destroy_reinit"], "destroy then init at the same address, opposite order", None),
    (["robust_ok"], "robust mutex after EOWNERDEAD", "recovered 3 of 3 times"),
    (["cond_reacquire"], "pthread_cond_wait releases and re-acquires", None),
    (["cancel_cond_ok"], "cancelled in a condvar wait, cleanup unlocks", None),
    (["cleanup_unlock_ok"], "cleanup handlers and TSD destructors unlock", None),
]

REUSE_VARIANTS = ["zeroed", "init", "rwlock", "pshared", "robust", "pshared-rwlock",
                  "spin-to-mutex", "mutex-to-rwlock"]

# (program and arguments, confidence, text the text report must contain)
REPORTED = [(["gated", "no-gate"], "feasible", "Confidence: feasible"),
            (["readers_only_cycle", "writers-first"], "feasible", None),
            (["gated", "one-thread"], "latent",
             "it deadlocks once two threads run these paths at the same time")]
REPORTED += [(["reuse_after_munmap", v, "kept"], "feasible", None) for v in REUSE_VARIANTS]
REPORTED += [([name], "feasible", None) for name in
             ("inversion", "rwlock_inversion", "c11_inversion", "cxx_inversion",
              "philosophers")]


def jitter_env(seed):
    return {"LOCKWATCH_JITTER": JITTER, "LOCKWATCH_SEED": str(seed)}


def describe(argv):
    return " ".join([os.path.basename(argv[0])] + argv[1:])


def run_all(jobs):
    """jobs: (key, argv, seed); runs them WORKERS at a time under jitter.
    Returns {key: [(seed, Result)]}.  A run that fails to finish fails the
    test (lw.run raises)."""
    out = {}
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = {pool.submit(lw.run_preload, argv, extra_env=jitter_env(seed)): (key, seed)
                   for key, argv, seed in jobs}
        for fut in concurrent.futures.as_completed(futures):
            key, seed = futures[fut]
            out.setdefault(key, []).append((seed, fut.result()))
    for runs in out.values():
        runs.sort(key=lambda r: r[0])
    return out


def check_correct(t):
    natives, jobs = {}, []
    for argv, what, proof in CORRECT:
        name = describe(argv)
        prog = [lw.example(argv[0])] + argv[1:]
        native = lw.run_native(prog)
        t.require(native.returncode == 0 and native.stdout.strip(),
                  "%s (%s): the native run should exit 0 and print something\n%s"
                  % (name, what, native.describe()))
        if proof:
            t.expect(proof in native.stdout, "%s: the native run should show %r (else the case "
                     "it tests did not arise):\n%s" % (name, proof, native.stdout))
        natives[name] = native
        jobs += [(name, prog, seed) for seed in SEEDS]
    results = run_all(jobs)
    for argv, what, _ in CORRECT:
        name = describe(argv)
        native = natives[name]
        bad = []
        for seed, run in results[name]:
            problems = []
            if run.returncode != native.returncode:
                problems.append("exit status %d (native %d)" % (run.returncode, native.returncode))
            if run.stdout != native.stdout:
                problems.append("stdout %r (native %r)" % (run.stdout, native.stdout))
            if run.stderr:
                problems.append("stderr %r" % run.stderr[:2000])
            if run.reports:
                problems.append("%d report(s):\n%s" % (len(run.reports),
                                                       lw.describe_reports(run.reports[:2])))
            if problems:
                bad.append("seed %d: %s" % (seed, "; ".join(problems)))
        t.expect(not bad, "%s (%s) with LOCKWATCH_JITTER=%s: %d of %d runs not clean:\n  %s"
                 % (name, what, JITTER, len(bad), len(SEEDS), "\n  ".join(bad)))


def check_reported(t):
    natives, jobs = {}, []
    for argv, _, _ in REPORTED:
        name = describe(argv)
        prog = [lw.example(argv[0])] + argv[1:]
        natives[name] = lw.native_ok(t, prog, name)
        jobs += [(name, prog, seed) for seed in SEEDS]
    results = run_all(jobs)
    for argv, confidence, sentence in REPORTED:
        name = describe(argv)
        bad = []
        for seed, run in results[name]:
            kinds = [r.get("kind") for r in run.reports]
            if kinds != ["lock-order-inversion"]:
                bad.append("seed %d: reports %r, expected one lock-order-inversion" % (seed, kinds))
                continue
            rep = run.reports[0]
            problems = lw.validate_report(rep, run.pid)
            threads = {e.get("thread") for e in rep.get("cycle", [])}
            if problems:
                bad.append("seed %d: malformed report: %s" % (seed, problems))
            if rep.get("confidence") != confidence:
                bad.append("seed %d: confidence %r, expected %r (edges by threads %r)"
                           % (seed, rep.get("confidence"), confidence, sorted(threads)))
            if confidence == "latent" and len(threads) != 1:
                bad.append("seed %d: one thread took every edge, the cycle names %r"
                           % (seed, sorted(threads)))
            if confidence == "feasible" and len(threads) != len(rep.get("cycle", [])):
                bad.append("seed %d: each edge is another thread's, the cycle names %r"
                           % (seed, sorted(threads)))
            if run.returncode != lw.DEFAULT_EXITCODE or run.stdout != natives[name].stdout:
                bad.append("seed %d: exit %d, stdout %r (native %r)"
                           % (seed, run.returncode, run.stdout, natives[name].stdout))
            if run.stderr:
                bad.append("seed %d: stderr %r" % (seed, run.stderr[:2000]))
        t.expect(not bad, "%s with LOCKWATCH_JITTER=%s:\n  %s"
                 % (name, JITTER, "\n  ".join(bad)))
        if sentence:
            prog = [lw.example(argv[0])] + argv[1:]
            text = lw.run_preload(prog, fmt=None, log=False)
            t.expect(sentence in text.stderr, "%s: the text report should say %r:\n%s"
                     % (name, sentence, text.stderr))


def main(t):
    lw.detector_is_live(t)
    start = time.monotonic()
    check_correct(t)
    middle = time.monotonic()
    check_reported(t)
    t.note("test_precision: %d correct programs x %d seeds in %.1f s, %d reported ones x %d "
           "seeds in %.1f s (LOCKWATCH_JITTER=%s, %d at a time)"
           % (len(CORRECT), len(SEEDS), middle - start, len(REPORTED), len(SEEDS),
              time.monotonic() - middle, JITTER, WORKERS))


lw.main(main)
