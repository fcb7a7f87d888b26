"""A signal to the program's whole process group (a service stop, ^C) does
not end lockwatch's symbolizer helper (examples/pgroup_signal, run in a
session of its own): the report made after the signal still has source
lines, and no "stopped answering" warning."""
import os
import subprocess

import lwtest as lw


def main(t):
    lw.detector_is_live(t)
    prog = lw.example("pgroup_signal")
    env = lw.base_env()
    env["LOCKWATCH_SYMBOLIZER"] = os.path.join(lw._env_path("LW_BUILDDIR"), "src",
                                               "lockwatch-symbolizer")
    p = subprocess.run([lw.launcher(), "--library=" + lw.lib(), prog], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       universal_newlines=True, start_new_session=True)
    t.expect("SIGTERM caught" in p.stdout, "the program did not get its SIGTERM: %r" % p.stdout)
    t.expect("stopped answering" not in p.stderr, "the helper died with the process group:\n%s"
             % p.stderr[-2000:])
    t.expect(p.stderr.count(lw.TEXT_BANNER) == 2, "expected two reports:\n%s" % p.stderr[-3000:])
    second = p.stderr.split(lw.TEXT_BANNER)[-1]
    t.expect("pgroup_signal.c:" in second, "the report after the signal has no source lines:\n%s"
             % second[:2000])


lw.main(main)
