"""Frames of a library loaded by a relative path (dlopen("./libb.so")) are
labelled with that library's file, not the executable.

The program changes into the library's directory, opens it by "./libb.so",
goes back to "/" (so the relative name no longer leads anywhere) and runs
an inversion whose lock calls are made inside the library.  Every frame of
the library must name libb.so's absolute path with an offset inside that
file, and the inversion's lock calls must be there."""
import os
import subprocess
import tempfile

import lwtest as lw

LIB = r"""
#include <pthread.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
__attribute__((noinline)) void lib_ab(void)
{
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
}
__attribute__((noinline)) void lib_ba(void)
{
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
}
"""

MAIN = r"""
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void (*ab)(void), (*ba)(void);
static void *t1(void *x) { ab(); return x; }
int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) != 0)
        return 2;
    void *h = dlopen("./libb.so", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 3;
    }
    if (chdir("/") != 0)
        return 4;
    ab = (void (*)(void))dlsym(h, "lib_ab");
    ba = (void (*)(void))dlsym(h, "lib_ba");
    pthread_t t;
    pthread_create(&t, NULL, t1, NULL);
    pthread_join(t, NULL);
    ba();
    puts("done");
    return 0;
}
"""


def build(t, tmp):
    cc = os.environ.get("CC") or "cc"
    lib_c, main_c = os.path.join(tmp, "libb.c"), os.path.join(tmp, "main.c")
    with open(lib_c, "w") as f:
        f.write(LIB)
    with open(main_c, "w") as f:
        f.write(MAIN)
    lib, exe = os.path.join(tmp, "libb.so"), os.path.join(tmp, "relmain")
    for argv in ([cc, "-g", "-O0", "-shared", "-fPIC", "-pthread", "-o", lib, lib_c],
                 [cc, "-g", "-O0", "-pthread", "-o", exe, main_c, "-ldl"]):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        t.require(p.returncode == 0, "%s failed:\n%s" % (" ".join(argv), p.stdout))
    return lib, exe


def main(t):
    lw.detector_is_live(t)
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        lib, exe = build(t, tmp)
        lib = os.path.realpath(lib)
        native = lw.run_native([exe, tmp])
        t.require(native.returncode == 0 and "done" in native.stdout,
                  "native run failed:\n%s" % native.describe())
        run = lw.run_preload([exe, tmp])
        t.require(lw.kinds_count(run.reports) == {"lock-order-inversion": 1},
                  "expected one inversion, got %r:\n%s"
                  % (lw.kinds_count(run.reports), lw.describe_reports(run.reports)))
        rep = run.reports[0]
        size = os.path.getsize(lib)
        in_lib = []
        for e in rep["cycle"]:
            for key in ("stack", "held_stack"):
                frames = lw.stack(rep, e[key])
                t.require(frames, "cycle edge %s has no frames" % key)
                top = frames[0]
                t.expect(top.get("module") == lib,
                         "the %s's lock call is labelled %r, expected the library %s"
                         % (key, top.get("module"), lib))
                in_lib += [fr for fr in frames if fr.get("module") == lib]
        for fr in in_lib:
            off = int(fr.get("offset") or "0", 16)
            t.expect(0 < off < size, "frame %r: offset outside libb.so (%d bytes)" % (fr, size))
            t.expect((fr.get("function") or "") in ("lib_ab", "lib_ba"),
                     "frame in libb.so names %r, not lib_ab or lib_ba" % fr.get("function"))
        t.expect(not any(fr.get("module") == os.path.realpath(exe) and
                         (fr.get("function") or "").startswith("lib_")
                         for e in rep["cycle"] for fr in lw.stack(rep, e["stack"])),
                 "a library frame is labelled as the executable")


lw.main(main)
