"""What lockwatch takes from the program (examples/resources, lockwatch(7)
"What lockwatch takes from the program"): the program's first open()
returns 3 at the start of main and still after a thread made lockwatch
unwind (libunwind's pipe lives at 500 and up, not at the lowest free
descriptors), and it can create at most one thread-specific key fewer than
natively (lockwatch's own; libunwind's fast trace, which needs one, is not
used by default).  And the thread-local storage README.md and lockwatch(7)
state is what the library's PT_TLS segment takes.  And libcapstone (the
decoder of race sampling) is loaded only when race sampling starts: with
races off (the default) a watched program's /proc/PID/maps has no
libcapstone, with LOCKWATCH_RACES=sample it has (unless perf_event_open is
refused here, when sampling never starts)."""
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

    def capstone_mapped(extra_env, what):
        r = lw.run_preload(["cat", "/proc/self/maps"], extra_env=extra_env)
        t.require(r.returncode == 0, "%s: cat /proc/self/maps failed:\n%s" % (what, r.describe()))
        t.require(os.path.realpath(lw.lib()) in r.stdout or "liblockwatch" in r.stdout,
                  "%s: liblockwatch is not in the maps:\n%s" % (what, r.stdout))
        return "libcapstone" in r.stdout, r
    mapped, off = capstone_mapped({}, "races off")
    t.expect(not mapped, "races off (the default): libcapstone is mapped in the watched "
             "program:\n%s" % "\n".join(ln for ln in off.stdout.splitlines() if "capstone" in ln))
    mapped, on = capstone_mapped({"LOCKWATCH_RACES": "sample"}, "races on")
    if "race sampling is off" in on.stderr:
        t.note("race sampling refused here (%s): libcapstone not expected" % on.stderr.strip())
        t.expect(not mapped, "race sampling refused, yet libcapstone is mapped")
    else:
        t.expect(mapped, "LOCKWATCH_RACES=sample: libcapstone is not mapped\n%s" % on.describe())
        t.expect(on.stderr == "", "LOCKWATCH_RACES=sample: stderr %r" % on.stderr)

    size = tls_size(lw.lib())
    for doc, pattern in (("README.md", r"(\d+) bytes of each thread's thread-local storage"),
                         (os.path.join("man", "lockwatch.7"),
                          r"(\d+) bytes of each thread's thread\\-local storage")):
        with open(os.path.join(lw.srcdir(), doc)) as f:
            m = re.search(pattern, f.read())
        t.expect(m and int(m.group(1)) == size, "%s states %s bytes of thread-local storage, "
                 "the library's PT_TLS takes %d" % (doc, m.group(1) if m else "no", size))


lw.main(main)
