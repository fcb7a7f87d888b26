"""lockwatch never calls its own interposers.

liblockwatch.so exports wrappers of libc functions (pthread_*, fcntl, write,
exit, ...).  A call from lockwatch's own code to one of those names binds,
at run time, to lockwatch's wrapper rather than to libc: the tool observes
itself, re-enters itself, or (exit) changes the program's exit status from
inside.  Internal code must reach libc through the pointers the interposers
resolve with dlsym (LW_REAL) or make the system call itself (src/lw_sys.h).

Checked on the built objects, so whatever the compiler emitted counts
(fortified __*_chk variants, uthash's exit(), ...):
  - the interposed names: the functions liblockwatch.so exports, but its
    public lockwatch_* API;
  - the core (every member of liblwcore.a, which the unit tests link without
    the interposers) has no undefined reference to any of them;
  - no interposer object has a relocation against any of them (the real
    functions are reached through pointers from dlsym/dlvsym, by name
    strings, which make no relocation; a relocation is a call to, or the
    address of, our own wrapper, even in the file that defines it);
  - liblockwatch.so itself has no dynamic relocation against any of them
    (every reference to a preemptible name from inside the library leaves
    one, whatever object it came from)."""
import os
import shutil
import subprocess

import lwtest as lw


def tool_output(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
    except OSError as e:
        raise lw.Failure("cannot run %s: %s" % (argv[0], e))
    if p.returncode != 0:
        raise lw.Failure("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr))
    return p.stdout


def interposed_names(so):
    """Functions the library defines and exports, without symbol versions,
    but the public API."""
    names = set()
    for line in tool_output(["nm", "-D", "--defined-only", so]).splitlines():
        f = line.split()
        if len(f) != 3 or f[1] not in "TtWwi":
            continue
        name = f[2].split("@")[0]
        if not name.startswith("lockwatch_"):
            names.add(name)
    return names


def core_undefined(archive):
    """member -> undefined symbols, for every object in the archive."""
    out = {}
    for line in tool_output(["nm", "-A", "-u", archive]).splitlines():
        # "path/liblwcore.a:member.o:                 U name"
        head, _, rest = line.rpartition(":")
        member = head.rsplit(":", 1)[-1]
        f = rest.split()
        if len(f) == 2 and f[0] in "Uw":
            out.setdefault(member, set()).add(f[1].split("@")[0])
    return out


def relocated_symbols(path):
    """Names of the symbols that relocations in path refer to."""
    names = set()
    for line in tool_output(["readelf", "-rW", path]).splitlines():
        f = line.split()
        # Offset Info Type Sym.Value Sym.Name [+ addend]
        if len(f) >= 5 and f[2].startswith("R_"):
            names.add(f[4].split("@")[0])
    return names


def main(t):
    for tool in ("nm", "readelf"):
        if not shutil.which(tool):
            raise lw.Skip("%s (binutils) is not installed" % tool)
    so = lw.lib()
    libs = os.path.dirname(so)
    archive = os.path.join(libs, "liblwcore.a")
    t.require(os.path.isfile(archive), "%s does not exist: build first (make)" % archive)
    interposers = sorted(f for f in os.listdir(libs)
                         if f.startswith("liblockwatch_la-") and f.endswith(".o"))
    t.require(interposers, "no liblockwatch_la-*.o objects in %s" % libs)

    names = interposed_names(so)
    # Not an empty check: the names we know are interposed are there.
    for must in ("pthread_mutex_lock", "fcntl", "write", "exit", "pthread_create"):
        t.require(must in names, "nm does not list %s among liblockwatch.so's exports: %s"
                  % (must, sorted(names)))

    und = core_undefined(archive)
    t.require(und, "nm -u found no object in %s" % archive)
    for member, syms in sorted(und.items()):
        bad = sorted(syms & names)
        t.expect(not bad, "core object %s calls interposed %s: it would run lockwatch's own "
                 "wrapper (use LW_REAL or a raw system call, src/lw_sys.h)"
                 % (member, ", ".join(bad)))

    for obj in interposers:
        bad = sorted(relocated_symbols(os.path.join(libs, obj)) & names)
        t.expect(not bad, "interposer object %s refers to interposed %s by name: a call to "
                 "lockwatch's own wrapper (the real function is LW_REAL(name))"
                 % (obj, ", ".join(bad)))

    bad = sorted(relocated_symbols(so) & names)
    t.expect(not bad, "liblockwatch.so has relocations against its own interposed %s"
             % ", ".join(bad))


lw.main(main)
