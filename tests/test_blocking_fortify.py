"""blocking-call-under-lock in a fortified build (PITFALLS 20).

With -O2 -D_FORTIFY_SOURCE=2, a read() into a buffer of known size calls
__read_chk, recv() __recv_chk, poll() __poll_chk, and so on; with
-D_FILE_OFFSET_BITS=64, pread() calls pread64 (or __pread64_chk) and fcntl()
fcntl64.  The test compiles a small program both ways (with the compiler of
$CC, else `cc`; skipped when there is none), checks that the binary really
calls those entry points, and that lockwatch reports each call, under the
name the program wrote.  The program also checks errno after each call: a
successful call leaves it alone, a failing one sets what the C library sets,
whether the report is written before the call or after it
(LOCKWATCH_BLOCKING_MIN_US)."""
import os
import shlex
import shutil
import subprocess
import tempfile

import lwtest as lw

KIND = "blocking-call-under-lock"

SOURCE = r"""
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fortify_io: line %d: %s is false (errno %d)\n",     \
                    __LINE__, #cond, errno);                                     \
            failures++;                                                          \
        }                                                                        \
    } while (0)

int main(void)
{
    char buf[64];
    struct pollfd pfd[2];
    volatile size_t want_v = sizeof(buf); /* unknown to the compiler: the _chk forms */
    volatile nfds_t nfds_v = 1;
    size_t want = want_v;
    nfds_t nfds = nfds_v;
    char path[] = "/tmp/lockwatch-fortify-XXXXXX";
    int p[2], sv[2], fd, st;
    struct flock fl;

    fd = mkstemp(path);
    if (fd < 0 || pipe(p) != 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
        return 1;
    unlink(path);
    if (write(fd, "file data", 9) != 9 || write(p[1], "pipe data", 9) != 9 ||
        send(sv[1], "one", 3, 0) != 3 || send(sv[1], "two", 3, 0) != 3)
        return 1;
    memset(pfd, 0, sizeof(pfd));
    pfd[0].fd = p[0];
    pfd[0].events = POLLIN;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;

    pthread_mutex_lock(&io_lock);
    CHECK(poll(pfd, nfds, -1) == 1);                       /* __poll_chk */
    CHECK(ppoll(pfd, nfds, NULL, NULL) == 1);              /* __ppoll_chk */
    errno = 1234;
    CHECK(read(p[0], buf, want) == 9);                     /* __read_chk */
    CHECK(errno == 1234);
    CHECK(recv(sv[0], buf, want, 0) == 3);                 /* __recv_chk */
    CHECK(recvfrom(sv[0], buf, want, 0, NULL, NULL) == 3); /* __recvfrom_chk */
    errno = 4321;
    CHECK(pread(fd, buf, want, 0) == 9);                   /* __pread_chk, __pread64_chk */
    CHECK(errno == 4321);
    CHECK(fcntl(fd, F_SETLKW, &fl) == 0);                  /* fcntl, fcntl64 */
    errno = 0;
    CHECK(waitpid(-1, &st, 0) == -1 && errno == ECHILD);   /* no child: fails at once */
    pthread_mutex_unlock(&io_lock);

    printf("fortify_io: 8 calls under a lock, %d unexpected result(s)\n", failures);
    return failures ? 1 : 0;
}
"""

# The program is single-threaded: its lock is never shared, and pread is
# family file; both are checked only when asked for.
ENV = {"LOCKWATCH_BLOCKING": "all", "LOCKWATCH_BLOCKING_UNSHARED": "1"}

# (flags, entry points the binary must call, expected reports in order)
VARIANTS = [
    ([], ["__poll_chk", "__ppoll_chk", "__read_chk", "__recv_chk", "__recvfrom_chk",
          "__pread_chk", "fcntl"],
     [("poll", "pipe"), ("ppoll", "pipe"), ("read", "pipe"), ("recv", "net"),
      ("recvfrom", "net"), ("pread", "file"), ("fcntl", "wait"), ("waitpid", "wait")]),
    (["-D_FILE_OFFSET_BITS=64"],
     ["__poll_chk", "__ppoll_chk", "__read_chk", "__recv_chk", "__recvfrom_chk",
      "__pread64_chk", "fcntl64"],
     [("poll", "pipe"), ("ppoll", "pipe"), ("read", "pipe"), ("recv", "net"),
      ("recvfrom", "net"), ("pread64", "file"), ("fcntl64", "wait"), ("waitpid", "wait")]),
]


def compiler():
    cc = shlex.split(os.environ.get("CC") or "") or ["cc"]
    if not shutil.which(cc[0]):
        raise lw.Skip("no C compiler (%s) to build the fortified program" % cc[0])
    return cc


def dynamic_symbols(binary):
    """Names in the binary's dynamic string table (enough to see which
    entry points it imports; no binutils needed)."""
    with open(binary, "rb") as f:
        data = f.read()
    return set(w.decode("ascii", "replace") for w in data.split(b"\0") if w)


def build(t, cc, tmp, flags):
    src = os.path.join(tmp, "fortify_io.c")
    with open(src, "w") as f:
        f.write(SOURCE)
    out = os.path.join(tmp, "fortify_io" + "".join(flags).replace("=", "").replace("-D", "_"))
    argv = cc + ["-O2", "-D_FORTIFY_SOURCE=2", "-D_GNU_SOURCE"] + flags + \
        ["-pthread", "-o", out, src]
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True)
    t.require(res.returncode == 0, "cannot compile the fortified program: %s\n%s%s"
              % (" ".join(argv), res.stdout, res.stderr))
    return out


def check_variant(t, cc, tmp, flags, imports, want):
    what = "fortify_io (%s)" % " ".join(["-O2", "-D_FORTIFY_SOURCE=2"] + flags)
    prog = build(t, cc, tmp, flags)
    syms = dynamic_symbols(prog)
    if not any(s.endswith("_chk") and s in syms for s in imports):
        raise lw.Skip("%s: the compiler did not fortify the calls (no __*_chk import); "
                      "nothing to test" % what)
    missing = [s for s in imports if s not in syms]
    t.require(not missing, "%s: the binary does not call %r; the test program no longer "
              "exercises them" % (what, missing))

    native = lw.native_ok(t, prog, what)
    run = lw.run_preload(prog, extra_env=ENV)
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d\n%s"
             % (what, run.returncode, lw.DEFAULT_EXITCODE, run.describe()))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    for rep in run.reports:
        problems = lw.validate_report(rep, run.pid)
        t.expect(not problems, "%s: malformed report:\n  %s" % (what, "\n  ".join(problems)))
    got = [((r.get("call") or {}).get("function"), (r.get("call") or {}).get("family"))
           for r in run.reports if r.get("kind") == KIND]
    t.expect(len(got) == len(run.reports), "%s: reports of another kind:\n%s"
             % (what, lw.describe_reports([r for r in run.reports if r.get("kind") != KIND])))
    t.expect(got == want, "%s: expected the reports %r, got %r" % (what, want, got))
    for rep in run.reports:
        th = (rep.get("threads") or [{}])[0]
        frames = lw.stack(rep, th.get("stack"))
        t.expect(frames and frames[0].get("function") == "main",
                 "%s: %s report: the call stack should start in main: %r"
                 % (what, (rep.get("call") or {}).get("function"), lw.functions(frames)))
        t.expect(len(th.get("holds") or []) == 1 and len(rep.get("locks") or []) == 1,
                 "%s: %s report should show the one lock held: holds %r, locks %r"
                 % (what, (rep.get("call") or {}).get("function"), th.get("holds"),
                    rep.get("locks")))

    # The report after the call (LOCKWATCH_BLOCKING_MIN_US) and no report at
    # all: errno must come out the same (the program checks it).
    for extra in ({"LOCKWATCH_BLOCKING_MIN_US": "1"}, {"LOCKWATCH_BLOCKING": "none"}):
        env = dict(ENV, **extra)
        run = lw.run_preload(prog, extra_env=env)
        w = "%s with %r" % (what, env)
        t.expect(run.returncode in (0, lw.DEFAULT_EXITCODE),
                 "%s: exit status %d (the program found a wrong result or errno)\n%s"
                 % (w, run.returncode, run.describe()))
        lw.expect_same_stdout(t, native, run, w)
        lw.expect_quiet_stderr(t, run, w)
        if "LOCKWATCH_BLOCKING" in extra:
            t.expect(run.reports == [] and run.returncode == 0,
                     "%s: expected no report and exit 0:\n%s"
                     % (w, lw.describe_reports(run.reports)))


def main(t):
    cc = compiler()
    with tempfile.TemporaryDirectory(prefix="lwfortify.") as tmp:
        for flags, imports, want in VARIANTS:
            check_variant(t, cc, tmp, flags, imports, want)


lw.main(main)
