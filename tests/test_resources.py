"""What lockwatch takes from the program (examples/resources, lockwatch(7)
"What lockwatch takes from the program"): the program's first open()
returns 3 at the start of main and still after a thread made lockwatch
unwind (libunwind's pipe lives at 500 and up, not at the lowest free
descriptors), and it can create at most one thread-specific key fewer than
natively (lockwatch's own; libunwind's fast trace, which needs one, is not
used by default).  And the thread-local storage README.md and lockwatch(7)
state is what the library's PT_TLS segment takes."""
import os
import re
import struct

import lwtest as lw


def tls_size(path):
    """The memory size of the ELF file's PT_TLS segment (0: none)."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, off)
        if p_type == 7:   # PT_TLS
            return struct.unpack_from("<Q", data, off + 0x28)[0]   # p_memsz
    return 0


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

    size = tls_size(lw.lib())
    for doc, pattern in (("README.md", r"(\d+) bytes of each thread's thread-local storage"),
                         (os.path.join("man", "lockwatch.7"),
                          r"(\d+) bytes of each thread's thread\\-local storage")):
        with open(os.path.join(lw.srcdir(), doc)) as f:
            m = re.search(pattern, f.read())
        t.expect(m and int(m.group(1)) == size, "%s states %s bytes of thread-local storage, "
                 "the library's PT_TLS takes %d" % (doc, m.group(1) if m else "no", size))


lw.main(main)
