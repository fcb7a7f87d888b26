"""Correct uses of the primitives that the deadlock and misuse rules watch
produce no report: producer_consumer (condition variables), timedlock_backoff
(opposite orders, but the second lock is a timed lock with back-off: the
threads are blocked on each other for a while, and recover), recursive_ok
(a recursive mutex relocked by its owner), cancel_cond_ok (a thread cancelled
in pthread_cond_wait whose cleanup handler unlocks), robust_ok (owner dies
holding a robust mutex; EOWNERDEAD and pthread_mutex_consistent),
fork_child_ok (fork while threads lock; the child locks and exits 0),
cleanup_unlock_ok (threads that pthread_exit, are cancelled in a sleep, or
return holding mutexes that their cleanup handlers or a thread-specific-data
destructor release: decided after those ran) and stack_lock_reuse (a
function leaves the mutex and rwlock on its stack locked; the next call puts
new statically initialised ones at the same addresses and locks them: glibc
grants them, so they are new locks, not a double lock) and reuse_after_free
(zeroed mutexes and rwlocks in freed and reused memory, taken in the
opposite order by the memory's next owner: new locks, no inversion).

Each must, under lockwatch as natively: exit 0, print the same, write
nothing on stderr, and make no report (JSON and text), also with a short
LOCKWATCH_DEADLOCK_MS."""
import lwtest as lw

PROGRAMS = ["producer_consumer", "timedlock_backoff", "recursive_ok", "cancel_cond_ok",
            "robust_ok", "fork_child_ok", "cleanup_unlock_ok", "stack_lock_reuse",
            "reuse_after_free"]

# timedlock_backoff keeps both threads blocked on each other in timed locks
# for 200 ms: with 50 ms a deadlock detector that counted timed waits would
# report it.
SHORT_DEADLOCK_MS = "50"


def backoff_short_deadlock_ms(t):
    """timedlock_backoff with LOCKWATCH_DEADLOCK_MS=50: its first timed locks
    wait 200 ms, longer than that, so they stall like a hang and their edges
    count: the inversion is reported (with the timeouts), but never a
    deadlock, since timed waits recover by themselves."""
    name = "timedlock_backoff"
    run = lw.run_preload([lw.example(name)], extra_env={"LOCKWATCH_DEADLOCK_MS": SHORT_DEADLOCK_MS})
    kinds = [r.get("kind") for r in run.reports]
    t.expect(kinds == ["lock-order-inversion"],
             "%s with LOCKWATCH_DEADLOCK_MS=%s: expected one inversion (200 ms timed waits are "
             "long here) and no deadlock, got %r" % (name, SHORT_DEADLOCK_MS, kinds))
    for rep in run.reports:
        timed = [e.get("timed_ms") for e in rep.get("cycle", [])]
        t.expect(all(isinstance(ms, int) and 100 <= ms <= 200 for ms in timed),
                 "%s: edges should carry the 200 ms timeouts: %r" % (name, timed))


def stack_reuse_is_real(t):
    """stack_lock_reuse only tests something if the second frame's locks
    lie where the first frame's were, and glibc granted every lock."""
    name = "stack_lock_reuse"
    native = lw.native_ok(t, lw.example(name), name)
    t.expect("12 of 12 lock calls returned 0, same addresses: yes" in native.stdout,
             "%s: the new locks must be at the old ones' addresses and be granted: %r"
             % (name, native.stdout))


def free_reuse_is_real(t):
    """reuse_after_free only tests something if the allocator gave the
    freed memory back for the new locks."""
    name = "reuse_after_free"
    native = lw.native_ok(t, lw.example(name), name)
    t.expect("memory reused: mutexes yes, rwlocks yes" in native.stdout,
             "%s: the new locks must be in the freed memory: %r" % (name, native.stdout))


def main(t):
    lw.detector_is_live(t)
    stack_reuse_is_real(t)
    free_reuse_is_real(t)
    # In fork_child_ok the children append to the same LOCKWATCH_LOG.
    runs = (("json", None), (None, None), ("json", {"LOCKWATCH_DEADLOCK_MS": SHORT_DEADLOCK_MS}))
    for name in PROGRAMS:
        # timedlock_backoff's 200 ms waits count as long below 200 ms
        lw.check_quiet_example(t, name, runs[:2] if name == "timedlock_backoff" else runs)
    backoff_short_deadlock_ms(t)


lw.main(main)
