"""examples/copied_mutex: a byte copy of a used mutex carries lockwatch's node
hint (kept in glibc's mutex, lockwatch(7) "Cost"); the copy must still be
told apart from the original: one inversion between the copy and `other`,
none through the original."""
import re

import lwtest as lw


def main(t):
    prog = lw.example("copied_mutex")
    lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "copied_mutex"
    # The addresses of this run (they move from run to run).
    m = re.search(r"copy=(0x[0-9a-f]+) other=(0x[0-9a-f]+) orig=(0x[0-9a-f]+)", run.stdout)
    t.require(m is not None, "%s: addresses not on stdout: %r" % (what, run.stdout))
    copy, other, orig = (int(x, 16) for x in m.groups())
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    rep = lw.require_single_inversion(t, run, what, 2)
    addrs = {int(lk["address"], 16) for lk in rep["locks"]}
    t.expect(addrs == {copy, other},
             "%s: inversion over %s, expected the copy %#x and other %#x (orig %#x)"
             % (what, sorted(hex(a) for a in addrs), copy, other, orig))


lw.main(main)
