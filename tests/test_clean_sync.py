"""Correct uses of the primitives that the deadlock and misuse rules watch
produce no report: producer_consumer (condition variables), timedlock_backoff
(opposite orders, but the second lock is a timed lock with back-off: the
threads are blocked on each other for a while, and recover), recursive_ok
(a recursive mutex relocked by its owner), cancel_cond_ok (a thread cancelled
in pthread_cond_wait whose cleanup handler unlocks), robust_ok (owner dies
holding a robust mutex; EOWNERDEAD and pthread_mutex_consistent),
fork_child_ok (fork while threads lock; the child locks and exits 0) and
cleanup_unlock_ok (threads that pthread_exit, are cancelled in a sleep, or
return holding mutexes that their cleanup handlers or a thread-specific-data
destructor release: decided after those ran).

Each must, under lockwatch as natively: exit 0, print the same, write
nothing on stderr, and make no report (JSON and text), also with a short
LOCKWATCH_DEADLOCK_MS."""
import lwtest as lw

PROGRAMS = ["producer_consumer", "timedlock_backoff", "recursive_ok", "cancel_cond_ok",
            "robust_ok", "fork_child_ok", "cleanup_unlock_ok"]

# timedlock_backoff keeps both threads blocked on each other in timed locks
# for 200 ms: with 50 ms a deadlock detector that counted timed waits would
# report it.
SHORT_DEADLOCK_MS = "50"


def main(t):
    lw.detector_is_live(t)
    # In fork_child_ok the children append to the same LOCKWATCH_LOG.
    runs = (("json", None), (None, None), ("json", {"LOCKWATCH_DEADLOCK_MS": SHORT_DEADLOCK_MS}))
    for name in PROGRAMS:
        lw.check_quiet_example(t, name, runs)


lw.main(main)
