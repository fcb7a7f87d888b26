"""Where reports go, whatever the program does with its descriptors
(lockwatch(7) "What lockwatch takes from the program"; issue 13):
  - LOCKWATCH_LOG naming a FIFO nobody reads: no hang; one warning, the
    report on stderr;
  - stderr a pipe whose reader is gone: no SIGPIPE death, the report's
    status (66);
  - LOCKWATCH_LOG=/dev/full: the report is not lost: a note and the report
    on stderr; a log that cannot be opened: one warning for all reports;
  - a program started with fd 2 closed that opens its data file (fd 2), one
    that dup2s a socket over fd 2, one that close_range()s everything and
    opens 600 files: nothing of lockwatch's lands in its files or socket
    (examples/report_channels)."""
import os
import subprocess
import tempfile

import lwtest as lw

BANNER = lw.TEXT_BANNER


def channels(t, mode, tmp, **popen):
    prog = lw.example("report_channels")
    env = lw.preload_env(fmt=None)
    p = subprocess.run([prog, mode, tmp], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, timeout=60, universal_newlines=True, **popen)
    return p


def main(t):
    lw.detector_is_live(t)
    inv = lw.example("inversion")
    with tempfile.TemporaryDirectory(prefix="lwtest.") as tmp:
        # A FIFO nobody reads.
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        try:
            run = lw.run_preload([inv], fmt=None, log=False,
                                 extra_env={"LOCKWATCH_LOG": fifo}, timeout=30)
            t.expect(run.returncode == lw.DEFAULT_EXITCODE, "FIFO log: exit status %d"
                     % run.returncode)
            t.expect("nobody reads" in run.stderr and BANNER in run.stderr,
                     "FIFO log: expected a warning and the report on stderr:\n%s"
                     % run.stderr[-2000:])
        except lw.Failure as e:
            t.expect(False, "FIFO log: %s" % e)

        # A log that cannot be opened: one warning, however many reports.
        run = lw.run_preload([lw.example("lock_names")], fmt=None, log=False,
                             extra_env={"LOCKWATCH_LOG": os.path.join(tmp, "no", "such.log")})
        t.expect(run.stderr.count("cannot open LOCKWATCH_LOG") == 1 and
                 run.stderr.count(BANNER) > 1,
                 "unopenable log: expected one warning and every report on stderr, got %d "
                 "warnings, %d reports" % (run.stderr.count("cannot open LOCKWATCH_LOG"),
                                           run.stderr.count(BANNER)))

        # /dev/full.
        run = lw.run_preload([inv], fmt=None, log=False,
                             extra_env={"LOCKWATCH_LOG": "/dev/full"})
        t.expect(run.returncode == lw.DEFAULT_EXITCODE, "/dev/full: exit status %d"
                 % run.returncode)
        t.expect("could not be written" in run.stderr and BANNER in run.stderr,
                 "/dev/full: expected a note and the report on stderr:\n%s" % run.stderr[-2000:])

        # stderr a pipe without a reader.
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run([inv], env=lw.preload_env(fmt=None), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=w, timeout=60)
        finally:
            os.close(w)
        t.expect(p.returncode == lw.DEFAULT_EXITCODE,
                 "stderr a broken pipe: exit status %d (-13 is death by SIGPIPE)" % p.returncode)

        # fd 2 closed at start: the data file gets fd 2.
        p = channels(t, "closed2", tmp, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: os.close(2))
        t.expect("data file on fd 2, stray 0" in p.stdout and p.returncode == lw.DEFAULT_EXITCODE,
                 "fd 2 closed at start: %r, status %d" % (p.stdout, p.returncode))

        # A socket over fd 2; the report goes to the stderr of the start.
        p = channels(t, "socket2", tmp, stderr=subprocess.PIPE)
        t.expect("socket2: stray 0" in p.stdout, "socket over fd 2: %r" % p.stdout)
        t.expect(BANNER in (p.stderr or ""), "socket over fd 2: no report on the first stderr")

        # close_range and 600 opens.
        p = channels(t, "closerange", tmp, stderr=subprocess.PIPE)
        t.expect("closerange: 600 files, stray 0" in p.stdout,
                 "close_range and 600 opens: %r" % p.stdout)
        t.expect(p.returncode == lw.DEFAULT_EXITCODE, "close_range: exit status %d"
                 % p.returncode)


lw.main(main)
