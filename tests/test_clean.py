"""Correct programs produce no report: clean_ordered, gated (cycle under a
common gate lock), trylock (the reversed order uses trylock),
cond_reacquire (pthread_cond_wait releases and re-acquires its mutex) and
signal_locks (a profiling signal handler takes a lock of its own while the
interrupted thread is anywhere in its lock and unlock calls)."""
import lwtest as lw

PROGRAMS = ["clean_ordered", "gated", "trylock", "cond_reacquire", "signal_locks"]


def main(t):
    lw.detector_is_live(t)
    for name in PROGRAMS:
        lw.check_quiet_example(t, name)


lw.main(main)
