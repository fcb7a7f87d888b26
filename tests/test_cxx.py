"""C++: std::mutex inversion reported once; a correct std::thread work queue
(std::lock_guard, std::unique_lock, std::condition_variable) is left alone."""
import lwtest as lw


def check_inversion(t):
    lw.check_two_lock_inversion(t, "cxx_inversion", "mutex")


def check_clean(t):
    prog = lw.example("cxx_clean")
    native = lw.native_ok(t, prog)
    lw.expect_clean_run(t, native, lw.run_preload(prog), "cxx_clean")


def main(t):
    check_inversion(t)
    check_clean(t)


lw.main(main)
