"""examples/c11_inversion: the inversion with C11 mtx_t / thrd_t."""
import lwtest as lw


def main(t):
    lw.check_two_lock_inversion(t, "c11_inversion", "c11-mutex")


lw.main(main)
