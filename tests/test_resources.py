"""What lockwatch takes from the program (examples/resources, lockwatch(7)
"What lockwatch takes from the program"): the program's first open()
returns 3 at the start of main and still after a thread made lockwatch
unwind (libunwind's pipe lives at 500 and up, not at the lowest free
descriptors), and it can create at most one thread-specific key fewer than
natively (lockwatch's own; libunwind's fast trace, which needs one, is not
used by default)."""
import re

import lwtest as lw


def parse(t, out, what):
    m = re.search(r"first fd (\d+), fd after a thread (\d+), keys (\d+)", out)
    t.require(m, "%s: unexpected output %r" % (what, out))
    return tuple(int(x) for x in m.groups())


def main(t):
    prog = lw.example("resources")
    native = lw.run_native(prog)
    t.require(native.returncode == 0, "native run failed:\n%s" % native.describe())
    n_first, n_after, n_keys = parse(t, native.stdout, "native")
    run = lw.run_preload(prog)
    t.expect(run.returncode == 0 and not run.reports, "resources under lockwatch: status %d, "
             "reports %r" % (run.returncode, lw.kinds_count(run.reports or [])))
    first, after, keys = parse(t, run.stdout, "lockwatch")
    t.expect(first == n_first, "first open() returned %d, natively %d" % (first, n_first))
    t.expect(after == n_after, "open() after a thread returned %d, natively %d"
             % (after, n_after))
    t.expect(n_keys - keys <= 1, "%d keys fewer than natively (%d against %d)"
             % (n_keys - keys, keys, n_keys))


lw.main(main)
