"""lockwatch.pc: the header needs no library, so `pkg-config --cflags --libs
lockwatch` gives the include directory only, and a program built with it
links and runs (with and without the preload).  Linking liblockwatch.so
itself would pull in its interposers and break the link."""
import os
import shutil
import subprocess
import tempfile

import lwtest as lw

PROGRAM = r"""
#include <stdio.h>
#include <lockwatch.h>
#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
    if (lockwatch_name_lock)
        lockwatch_name_lock(&m, "m");
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    printf("active=%d\n", lockwatch_active ? lockwatch_active() : 0);
    return 0;
}
"""


def main(t):
    pkgconfig = shutil.which("pkg-config") or shutil.which("pkgconf")
    if not pkgconfig:
        raise lw.Skip("no pkg-config or pkgconf installed")
    cc = os.environ.get("CC") or "cc"
    builddir = os.environ.get("LW_BUILDDIR")
    t.require(builddir, "LW_BUILDDIR is not set (run through make check)")
    pc = os.path.join(builddir, "lockwatch.pc")
    t.require(os.path.isfile(pc), "%s does not exist" % pc)
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        env = dict(os.environ, PKG_CONFIG_PATH=builddir)
        env.pop("PKG_CONFIG_LIBDIR", None)
        # The uninstalled .pc, pointed at the source tree's header and the
        # build tree's library, as an installed one points at the prefix.
        argv = [pkgconfig,
                "--define-variable=includedir=" + os.path.join(lw.srcdir(), "include"),
                "--define-variable=libdir=" + os.path.dirname(lw.lib()),
                "--cflags", "--libs", "lockwatch"]
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        t.require(p.returncode == 0, "%s: exit %d\n%s" % (" ".join(argv), p.returncode, p.stderr))
        flags = p.stdout.split()
        t.note("pkg-config --cflags --libs lockwatch: " + p.stdout.strip())
        t.expect(not any(f.startswith("-l") for f in flags),
                 "pkg-config --libs lockwatch names a library (%s); the header needs none"
                 % p.stdout.strip())
        src = os.path.join(tmp, "pc.c")
        exe = os.path.join(tmp, "pc")
        with open(src, "w", encoding="utf-8") as f:
            f.write(PROGRAM)
        build = [cc, "-Wall", "-Wextra", "-Werror", "-pthread", "-o", exe, src] + flags
        p = subprocess.run(build, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        t.require(p.returncode == 0, "%s: exit %d\n%s" % (" ".join(build), p.returncode, p.stdout))
        res = lw.run_native([exe])
        t.expect(res.returncode == 0 and res.stdout == "active=0\n",
                 "the program built with pkg-config, run natively:\n" + res.describe())
        res = lw.run_preload([exe], fmt="json")
        t.expect(res.returncode == 0 and res.stdout == "active=1\n",
                 "the program built with pkg-config, under lockwatch:\n" + res.describe())


lw.main(main)
