#!/usr/bin/env python3
"""Real programs under lockwatch (issue 13, section 2): `make check-real`.

Each case installs its Debian packages when they are missing (apt-get,
idempotent; a case whose program cannot be installed is SKIPped with the
reason and the run goes on), generates a deterministic input, and runs the
program natively and under liblockwatch.so in alternating rounds.  It
asserts:

  * the same exit status and the same output (a checksum of the output,
    or for a server: the benchmark client's success and a query answer);
  * median wall time under lockwatch <= 1.5 x the native median;
  * the reports are exactly the expected ones: none, except what a
    suppression file shipped here silences (redis.supp), whose summary
    line must then name that file.

Servers listen on 127.0.0.1 on a free port, run under a timeout in their
own process group, and are always stopped (try/finally, SIGTERM then
SIGKILL to the group).  The benchmark client never runs under lockwatch:
only the server does, and the client's wall time is what is compared.

A case whose failure is a lockwatch bug (a false positive, a crash, a hang,
changed output) is marked XFAIL below with a comment naming the bug: it is
reported as such, not as a pass.

Standard library only.  Exit status 1 when any non-skipped case fails (an
case whose only problem is its known reports is XFAIL, not a failure).
The table goes to stdout and to tests/real/results.md (or --results)."""

import argparse
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_RATIO = 1.5
SUMMARY_RE = re.compile(r"^lockwatch: \d+ findings? suppressed:.*$", re.M)


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- packages

def have(tool):
    return shutil.which(tool) or os.path.exists(os.path.join("/usr/sbin", tool))


def ensure(ctx, pairs):
    """pairs: (tool, Debian package).  Installs the packages of the tools
    that are missing; raises Skip when that is impossible."""
    want = sorted({pkg for tool, pkg in pairs if not have(tool)})
    if not want:
        return
    if ctx.no_install:
        raise Skip("not installed: %s (--no-install)" % " ".join(want))
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Skip("not installed: %s (apt-get needs root)" % " ".join(want))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + want
    log("  installing %s" % " ".join(want))
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode != 0 and not ctx.updated:
        ctx.updated = True
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True)
    missing = [t for t, _ in pairs if not have(t)]
    if missing:
        tail = (r.stderr or "").strip().splitlines()[-1:] or ["?"]
        raise Skip("apt-get install %s failed: %s" % (" ".join(want), tail[0]))


# ---------------------------------------------------------------- inputs

def gen_text(path, size):
    """Deterministic, compressible text: Zipf-distributed words from a
    fixed vocabulary, 12 per line (as bench/run.py)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    rng = random.Random(20261207)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(20000)]
    cum, acc = [], 0.0
    for i in range(len(vocab)):
        acc += 1.0 / (i + 1)
        cum.append(acc)
    n = 0
    with open(path + ".tmp", "w") as out:
        while n < size:
            words = rng.choices(vocab, cum_weights=cum, k=120000)
            chunk = "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12)) + "\n"
            chunk = chunk[:size - n]
            out.write(chunk)
            n += len(chunk)
    os.rename(path + ".tmp", path)


def gen_yuv(path, w, h, frames):
    """A deterministic raw I420 clip: moving gradients and a square."""
    if os.path.exists(path) and os.path.getsize(path) == w * h * 3 // 2 * frames:
        return
    with open(path + ".tmp", "wb") as out:
        for f in range(frames):
            y = bytearray(w * h)
            for r in range(h):
                base = (r * 2 + f * 3) & 0xff
                row = bytes(((base + c + (f if (c // 16 + r // 16) % 2 else 0)) & 0xff)
                            for c in range(w))
                y[r * w:(r + 1) * w] = row
            sx, sy = (f * 5) % (w - 48), (f * 3) % (h - 48)
            for r in range(sy, sy + 48):
                y[r * w + sx:r * w + sx + 48] = b"\xf0" * 48
            cw, ch = w // 2, h // 2
            u = bytes(((c + f) & 0xff) for c in range(cw)) * ch
            v = bytes(((128 + r - f) & 0xff) for r in range(ch) for _ in range(cw))
            out.write(bytes(y) + u + v)
    os.rename(path + ".tmp", path)


# ---------------------------------------------------------------- running

def sha(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def lw_env(ctx, mode, logdir, extra=None):
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("LOCKWATCH_")}
    env["LC_ALL"] = "C"
    if mode == "lockwatch":
        env["LD_PRELOAD"] = ctx.lib
        env["LOCKWATCH_FORMAT"] = "json"
        env["LOCKWATCH_LOG"] = os.path.join(logdir, "lw.%p.jsonl")
        env.update(extra or {})
    return env


def read_reports(logdir):
    """The findings in a run's logs (graph records skipped) and any line
    that is not a JSON object."""
    found = []
    for lf in sorted(glob.glob(os.path.join(logdir, "lw.*.jsonl"))):
        with open(lf, errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    found.append({"kind": "unparsable", "message": line[:200], "log": lf})
                    continue
                if rec.get("kind") == "graph":
                    continue
                rec["log"] = lf
                found.append(rec)
    return found


def kill_group(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_batch(ctx, argv, mode, logdir, *, stdin=None, out_file=None, extra_env=None,
              cwd=None, timeout=None):
    """Runs argv once; returns (rc, wall seconds, stdout path, stderr text)."""
    env = lw_env(ctx, mode, logdir, extra_env)
    out_path = out_file or os.path.join(logdir, "stdout")
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    with open(out_path, "wb") as out, open(os.path.join(logdir, "stderr"), "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=out, stderr=err, env=env,
                             cwd=cwd or ctx.work, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout or ctx.timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            p.wait()
            rc = "timeout"
        wall = time.monotonic() - t0
    if stdin:
        fin.close()
    with open(os.path.join(logdir, "stderr"), errors="replace") as f:
        errtext = f.read()
    return rc, wall, out_path, errtext


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, p, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if p.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A server in its own process group, bounded by `timeout`, always
    stopped on exit from the with-block."""

    def __init__(self, ctx, argv, mode, logdir, port, extra_env=None, start_limit=60):
        self.ctx, self.argv, self.mode, self.logdir = ctx, argv, mode, logdir
        self.port, self.extra_env, self.start_limit = port, extra_env, start_limit
        self.rc = None

    def __enter__(self):
        env = lw_env(self.ctx, self.mode, self.logdir, self.extra_env)
        self.err = open(os.path.join(self.logdir, "server.stderr"), "wb")
        # timeout(1) bounds the server's life even if run.py dies;
        # --foreground: a SIGTERM to timeout goes to the server alone, not
        # to its process group (lockwatch's symbolizer helper lives there).
        self.p = subprocess.Popen(["timeout", "--foreground", "-s", "KILL",
                                   str(self.ctx.timeout * 3)]
                                  + self.argv, stdin=subprocess.DEVNULL, stdout=self.err,
                                  stderr=self.err, env=env, cwd=self.ctx.work,
                                  start_new_session=True)
        if not wait_port(self.port, self.p, self.start_limit):
            self.stop()
            raise Fail("%s server did not listen on 127.0.0.1:%d (rc %s): %s"
                       % (self.mode, self.port, self.rc, self.stderr_tail()))
        return self

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_group(self.p)
                self.p.wait()
        kill_group(self.p)   # stragglers of the group
        self.rc = self.p.returncode
        self.err.close()
        return self.rc

    def stderr_tail(self):
        with open(os.path.join(self.logdir, "server.stderr"), errors="replace") as f:
            return f.read()[-400:].strip().replace("\n", " | ")

    def stderr(self):
        with open(os.path.join(self.logdir, "server.stderr"), errors="replace") as f:
            return f.read()

    def __exit__(self, *exc):
        if self.rc is None:
            self.stop()
        return False


def client(argv, timeout, env=None):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout,
                       env=env)
    return r.returncode, r.stdout


# ---------------------------------------------------------------- cases

class Result:
    def __init__(self, name, known):
        self.name = name
        self.status = "PASS"
        self.why = []
        self.native = []
        self.lw = []
        self.reports = "none"
        self.known = known or []    # [(kind, regex)]: reports of a lockwatch bug
        self.known_seen = set()
        self.suppressed = []


CASES = []


def case(name, known=None, bug=None, slow=None):
    """known: the reports that a lockwatch bug makes on this program, as
    (kind, regular expression searched in the message and in every frame
    of every stack: "function module+offset"); bug: that bug in a few
    words.  Such reports make the case XFAIL instead of PASS; any other
    report, or any other problem, is still a FAIL.  slow: the lockwatch
    bug that makes this program slower than MAX_RATIO (then a ratio above
    it is an XFAIL too)."""
    def deco(fn):
        CASES.append((name, fn, known, bug, slow))
        return fn
    return deco


def report_text(rec):
    parts = [rec.get("message", "")]
    for st in rec.get("stacks", []):
        for fr in st:
            parts.append("%s %s+%s" % (fr.get("function"), os.path.basename(fr.get("module") or ""),
                                       fr.get("offset")))
    return "\n".join(parts)


def batch_case(ctx, res, make_argv, *, stdin=None, out_name=None, extra_env=None,
               outputs=None):
    """Alternating rounds of a batch program.  make_argv(out_path) gives the
    argv; the output compared is stdout, or the file out_name, plus
    outputs() when given (more checksums)."""
    digests = {}
    for rnd in range(ctx.rounds):
        order = ("native", "lockwatch") if rnd % 2 == 0 else ("lockwatch", "native")
        for mode in order:
            logdir = tempfile.mkdtemp(prefix="%s.%s.r%d." % (res.name, mode, rnd),
                                      dir=ctx.work)
            out = os.path.join(logdir, out_name) if out_name else None
            rc, wall, out_path, err = run_batch(ctx, make_argv(out or ""), mode, logdir,
                                                stdin=stdin, extra_env=extra_env)
            d = sha(out or out_path)
            if outputs:
                d += "+" + outputs(logdir)
            (res.native if mode == "native" else res.lw).append(wall)
            known = check_reports(ctx, res, logdir, err) if mode == "lockwatch" else 0
            if rc == 66 and known:
                rc = 0      # lockwatch's status for the known reports
            if rc != 0:
                res.why.append("%s round %d: exit status %s: %s"
                               % (mode, rnd, rc, err[-300:].strip().replace("\n", " | ")))
            digests.setdefault(d, []).append("%s r%d" % (mode, rnd))
            if logdir not in ctx.kept:
                shutil.rmtree(logdir, ignore_errors=True)
    if len(digests) > 1:
        res.why.append("outputs differ: %s" % "; ".join(
            "%s in %s" % (d, ",".join(v)) for d, v in digests.items()))


def check_reports(ctx, res, logdir, err, expect_supp=None):
    """No finding may be written but the case's known ones (their number
    is returned).  Suppressed ones are recorded from the summary line,
    which must name expect_supp."""
    found = []
    nknown = 0
    for rec in read_reports(logdir):
        text = report_text(rec)
        hit = [i for i, (kind, rx) in enumerate(res.known)
               if rec.get("kind") == kind and re.search(rx, text)]
        if hit:
            nknown += 1
            call = rec.get("message", "").split(" ", 1)[0]
            res.known_seen.add("%s: %s" % (rec.get("kind"), call))
        else:
            found.append(rec)
    if nknown:
        ctx.kept.add(logdir)
    if found:
        kinds = sorted({"%s (%s)" % (r.get("kind"), r.get("message", "")[:120]) for r in found})
        res.why.append("%d report(s): %s [logs in %s]" % (len(found), "; ".join(kinds), logdir))
        res.reports = ", ".join(sorted({r.get("kind", "?") for r in found}))
        ctx.kept.add(logdir)
    other = [l for l in err.splitlines() if l.startswith("lockwatch:")
             and not SUMMARY_RE.match(l)]
    if other:
        res.why.append("lockwatch lines on stderr: %s" % " | ".join(other[:3]))
        ctx.kept.add(logdir)
    summ = SUMMARY_RE.findall(err)
    if summ:
        if expect_supp is None or expect_supp not in summ[0]:
            res.why.append("unexpected suppression summary: %s" % summ[0])
        res.suppressed += summ
    return nknown


INPUT_MB = 24


def text_input(ctx):
    path = os.path.join(ctx.cache, "text-%dM" % INPUT_MB)
    gen_text(path, INPUT_MB * 1000 * 1000)
    return path


@case("pigz -p 2")
def c_pigz(ctx, res):
    ensure(ctx, [("pigz", "pigz")])
    src = text_input(ctx)
    batch_case(ctx, res, lambda o: ["pigz", "-p", "2", "-c", src])


@case("xz -T2 -1")
def c_xz(ctx, res):
    ensure(ctx, [("xz", "xz-utils")])
    src = text_input(ctx)
    batch_case(ctx, res, lambda o: ["xz", "-T2", "-1", "--block-size=4MiB", "-c", src])


@case("zstd -T2 -9")
def c_zstd(ctx, res):
    ensure(ctx, [("zstd", "zstd")])
    src = text_input(ctx)
    batch_case(ctx, res, lambda o: ["zstd", "-T2", "-9", "-q", "-c", src])


@case("lbzip2 -n 2")
def c_lbzip2(ctx, res):
    ensure(ctx, [("lbzip2", "lbzip2")])
    src = text_input(ctx)
    batch_case(ctx, res, lambda o: ["lbzip2", "-n", "2", "-c", src])


@case("pbzip2 -p2 (C++)")
def c_pbzip2(ctx, res):
    ensure(ctx, [("pbzip2", "pbzip2")])
    src = text_input(ctx)
    batch_case(ctx, res, lambda o: ["pbzip2", "-p2", "-c", src])


@case("sort --parallel=2")
def c_sort(ctx, res):
    ensure(ctx, [("sort", "coreutils")])
    src = text_input(ctx)
    # -S keeps sort in memory; --parallel makes it merge with threads.
    batch_case(ctx, res, lambda o: ["sort", "--parallel=2", "-S", "200M", "-k3,3", "-k1,1", src])


@case("x264 --threads 2")
def c_x264(ctx, res):
    ensure(ctx, [("x264", "x264")])
    w, h, n = 320, 240, 120
    clip = os.path.join(ctx.cache, "clip-%dx%d-%d.yuv" % (w, h, n))
    gen_yuv(clip, w, h, n)
    batch_case(ctx, res, lambda o: ["x264", "--threads", "2", "--preset", "medium",
                                    "--quiet", "--no-progress", "--input-res",
                                    "%dx%d" % (w, h), "--fps", "25", "-o", o, clip],
               out_name="out.264")


SQLITE_PY = r'''
import hashlib, sqlite3, sys, threading
db = sys.argv[1]
import os
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.unlink(db + suffix)
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, w INTEGER, v TEXT)")
con.commit()
con.close()
lock = threading.Lock()
counts = []
def writer(w):
    c = sqlite3.connect(db, timeout=30)
    # no fsync per commit: the run measures locks and threads, not the disk
    c.execute("PRAGMA synchronous=OFF")
    for batch in range(250):
        with c:
            c.executemany("INSERT INTO t VALUES (?, ?, ?)",
                          [(w * 1000000 + batch * 100 + i, w, "v%d" % (i * w)) for i in range(100)])
    c.close()
def reader(r):
    c = sqlite3.connect(db, timeout=30)
    n = 0
    for _ in range(400):
        n += c.execute("SELECT count(*) FROM t WHERE w = ?", (r % 2,)).fetchone()[0] >= 0
    c.close()
    with lock:
        counts.append(n)
ts = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
ts += [threading.Thread(target=reader, args=(r,)) for r in range(2)]
for t in ts: t.start()
for t in ts: t.join()
c = sqlite3.connect(db)
h = hashlib.sha1()
for row in c.execute("SELECT k, w, v FROM t ORDER BY k"):
    h.update(repr(row).encode())
print(c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("SELECT count(*) FROM t").fetchone()[0],
      h.hexdigest(), sorted(counts))
'''


@case("python3 threads + sqlite3 WAL")
def c_sqlite(ctx, res):
    ensure(ctx, [("python3", "python3")])
    script = os.path.join(ctx.cache, "sqlite_threads.py")
    with open(script, "w") as f:
        f.write(SQLITE_PY)
    db = os.path.join(ctx.work, "threads.db")
    # Debian's python3 (its sqlite3 module links the system libsqlite3),
    # not whichever interpreter runs this script.
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    batch_case(ctx, res, lambda o: [py, script, db])


NODE_JS = r'''
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const zlib = require('zlib');
if (isMainThread) {
  const N = 4;
  const results = new Array(N);
  let done = 0;
  for (let i = 0; i < N; i++) {
    const w = new Worker(__filename, { workerData: i });
    w.on('message', (m) => { results[i] = m; });
    w.on('exit', (code) => {
      if (code !== 0) { console.log('worker', i, 'exit', code); process.exitCode = 1; }
      if (++done === N) {
        // the libuv thread pool too: async pbkdf2 and gzip
        crypto.pbkdf2('pw', 'salt', 20000, 32, 'sha256', (err, key) => {
          zlib.gzip(Buffer.from(results.join('\n')), (e2, gz) => {
            console.log(results.join('\n'));
            console.log('pbkdf2', key.toString('hex'), 'gunzip',
                        zlib.gunzipSync(gz).length);
          });
        });
      }
    });
  }
} else {
  let h = crypto.createHash('sha256');
  let buf = Buffer.alloc(4096, workerData);
  for (let i = 0; i < 6000; i++) {
    h.update(buf);
    const c = crypto.createCipheriv('aes-128-cbc', Buffer.alloc(16, i & 255), Buffer.alloc(16, 1));
    buf = Buffer.concat([c.update(buf), c.final()]).subarray(0, 4096);
  }
  const arr = [];
  for (let i = 0; i < 200000; i++) arr.push({ k: (i * 7919) % 100003, s: 'x' + i });
  arr.sort((a, b) => a.k - b.k);
  parentPort.postMessage(workerData + ' ' + h.digest('hex') + ' ' + arr[12345].s);
}
'''


# A lockwatch bug (precision of blocking-call-under-lock for waits): a
# wait whose waker never takes the locks the waiter holds cannot deadlock,
# yet every such wait under a lock others take is reported.  Node's
# platform start-up waits on a semaphore (uv_sem_wait) for its delayed-task
# thread while holding platform_workers_mutex (WorkerThreadsTaskRunner's
# constructor), and V8's garbage collector joins its parallel jobs
# (DefaultJobState::Join, pthread_cond_wait) while holding the isolate's
# Locker mutex and the heap's GC mutexes, none of which the job threads
# take.  Both by design, both reported.
@case("node worker_threads",
      known=[("blocking-call-under-lock", r"WorkerThreadsTaskRunner::WorkerThreadsTaskRunner"),
             ("blocking-call-under-lock", r"^pthread_cond_wait\(\) may block \(wait\)[\s\S]*"
              r"(v8::platform::DefaultJob|v8::internal::IsolateSafepoint)")],
      bug="blocking-call-under-lock on waits whose waker needs none of the held locks",
      # Its cost: the exit graph's dladdr per frame (a scan of node's
      # 75,000 symbols) was fixed with _dl_find_object (6 s -> 1.1 s with
      # LOCKWATCH_BLOCKING=none); the reports above still start the
      # symbolizer on node's 80 MB binary, and its lock churn (V8's
      # mutexes, new edges with a backtrace each) keeps it over 1.5x.
      slow="new-edge backtraces and the symbolizer on an 80 MB binary keep node above 1.5x")
def c_node(ctx, res):
    ensure(ctx, [("node", "nodejs")])
    script = os.path.join(ctx.cache, "workers.js")
    with open(script, "w") as f:
        f.write(NODE_JS)
    batch_case(ctx, res, lambda o: ["node", script])


def server_case(ctx, res, start_argv, bench, answer, *, extra_env=None, expect_supp=None,
                prepare=None, start_limit=60, warmup=None):
    """Rounds of: start the server (natively or under lockwatch), run the
    benchmark client (timed), ask a query, stop the server.
    start_argv(port, workdir), bench(port) -> (ok, text), answer(port) -> str;
    warmup(port), when given, runs untimed before the benchmark."""
    answers = {}
    rcs = {}
    for rnd in range(ctx.rounds):
        order = ("native", "lockwatch") if rnd % 2 == 0 else ("lockwatch", "native")
        for mode in order:
            logdir = tempfile.mkdtemp(prefix="%s.%s.r%d." % (slug(res.name), mode, rnd),
                                      dir=ctx.work)
            port = free_port()
            if prepare:
                prepare(logdir)
            with Server(ctx, start_argv(port, logdir), mode, logdir, port, extra_env,
                        start_limit) as srv:
                if warmup:
                    wok, wtext = warmup(port)
                    if not wok:
                        res.why.append("%s round %d: warm-up client failed: %s"
                                       % (mode, rnd, wtext[-300:].strip().replace("\n", " | ")))
                t0 = time.monotonic()
                ok, text = bench(port)
                wall = time.monotonic() - t0
                if not ok:
                    res.why.append("%s round %d: benchmark client failed: %s"
                                   % (mode, rnd, text[-300:].strip().replace("\n", " | ")))
                ans = answer(port)
                rc = srv.stop()
                err = srv.stderr()
            (res.native if mode == "native" else res.lw).append(wall)
            answers.setdefault(ans, []).append("%s r%d" % (mode, rnd))
            known = check_reports(ctx, res, logdir, err, expect_supp) if mode == "lockwatch" else 0
            if rc == 66 and known:
                rc = "66 (known reports)"
            rcs.setdefault(rc, []).append("%s r%d" % (mode, rnd))
            if logdir not in ctx.kept:
                shutil.rmtree(logdir, ignore_errors=True)
    if len(answers) > 1:
        res.why.append("query answers differ: %r" % answers)
    if len(rcs) > 1 and not (len(rcs) == 2 and "66 (known reports)" in rcs
                              and res.known_seen):
        res.why.append("server exit statuses differ: %r" % rcs)


def slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def mc_query(port):
    """set then get over memcached's text protocol."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"set lwkey 0 0 6\r\nanswer\r\nget lwkey\r\nquit\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace").replace("\r\n", " ").strip()


@case("memcached -t 4 / memaslap")
def c_memcached(ctx, res):
    ensure(ctx, [("memcached", "memcached"), ("memcaslap", "libmemcached-tools")])

    def bench(port, n=150000):
        rc, out = client(["memcaslap", "-s", "127.0.0.1:%d" % port, "-T", "2", "-c", "32",
                          "-x", str(n), "-X", "512"], ctx.timeout)
        return rc == 0 and "Run time" in out and "TPS" in out, out

    # memcached's item locks (one per hash bucket, thousands) each form
    # new order edges with the LRU and slab locks the first time a key of
    # that bucket is stored: a new edge costs lockwatch a backtrace, so a
    # fresh server pays ~1.5-1.8x until the buckets have been seen.  An
    # untimed warm-up pass (both columns) measures the steady state.
    server_case(ctx, res,
                lambda port, d: ["memcached", "-t", "4", "-l", "127.0.0.1", "-p", str(port),
                                 "-U", "0", "-m", "64", "-u", "root"],
                bench, mc_query, warmup=lambda port: bench(port, 100000))


def redis_query(port):
    rc, out = client(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "EVAL",
                      "redis.call('SET','lw','41'); return redis.call('INCR','lw')", "0"], 30)
    # without -r the benchmark's keys are fixed: key:__rand_int__,
    # counter:__rand_int__ and mylist, which gets one LPUSH per request.
    rc2, out2 = client(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "EVAL",
                        "return {redis.call('DBSIZE'), redis.call('LLEN','mylist')}", "0"], 30)
    return "%s %s / %s %s" % (rc, out.strip(), rc2, " ".join(out2.split()))


@case("redis-server io-threads 2 / redis-benchmark")
def c_redis(ctx, res):
    ensure(ctx, [("redis-server", "redis-server"), ("redis-benchmark", "redis-tools"),
                 ("redis-cli", "redis-tools")])
    supp = os.path.join(HERE, "redis.supp")

    def bench(port):
        rc, out = client(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n",
                          "40000", "-c", "50", "-P", "4", "-t", "set,get,incr,lpush",
                          "-q"], ctx.timeout)
        return rc == 0 and out.count("requests per second") == 4, out

    server_case(ctx, res,
                lambda port, d: ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--io-threads", "2", "--io-threads-do-reads", "yes",
                                 "--save", "", "--appendonly", "no", "--dir", d,
                                 "--daemonize", "no", "--logfile", ""],
                bench, redis_query,
                extra_env={"LOCKWATCH_SUPPRESSIONS": supp}, expect_supp=supp)


def dns_query(port, name):
    """The answer to one UDP query for name's A records from 127.0.0.1:port:
    the response code and the addresses, sorted."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
    q = struct.pack(">HHHHHH", 0x4c57, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        try:
            s.sendto(q, ("127.0.0.1", port))
            data, _ = s.recvfrom(4096)
        except OSError as e:
            return "no answer (%s)" % e
    if len(data) < 12:
        return "short answer"
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    i = 12
    for _ in range(qd):   # question: name, type, class
        while data[i]:
            i += data[i] + 1
        i += 5
    addrs = []
    for _ in range(an):
        if data[i] & 0xc0 == 0xc0:
            i += 2
        else:
            while data[i]:
                i += data[i] + 1
            i += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(".".join(str(b) for b in data[i:i + 4]))
        i += rdlen
    return "rcode %d: %s" % (flags & 0xf, " ".join(sorted(addrs)))


UNBOUND_CONF = """server:
    interface: 127.0.0.1@{port}
    port: {port}
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    access-control: 127.0.0.0/8 allow
{extra}"""


# unbound keeps a lock per cache entry (its lruhash: table and bin locks,
# an rwlock per message and per rrset): under queries for new names,
# entries are born, ordered under their bin's lock and destroyed at
# eviction all the time (issue 13's "locks born by thousands").  The server
# under test forwards the zone lwtest. to a second unbound on another port,
# native, which answers every name in it (a redirect zone); its caches are
# small, so entries are evicted and replaced throughout.  About six new
# order edges a query, and each new edge is real work for lockwatch (a
# lookup that misses the edge table, the graph lock, a stack, the edge's
# removal when the entry goes): 1.5-1.8x on this 2-CPU machine, where
# dnsperf and the second server share the CPUs with it.  Before the
# one-sided reordering of the order graph, every entry's edge into a table
# lock walked all live entries: 20 s for the first 25,000 queries
# (0.7 s natively), worse with each one.
@case("unbound -num-threads 2 / dnsperf",
      slow="about six new order edges a query (cache entries' locks born, ordered and "
           "destroyed): their bookkeeping costs 1.5-1.8x")
def c_unbound(ctx, res):
    ensure(ctx, [("unbound", "unbound"), ("dnsperf", "dnsperf")])
    queries = os.path.join(ctx.work, "unbound-queries.txt")
    rng = random.Random(13)
    with open(queries, "w") as f:
        for i in range(200000):
            # half new names, half names asked shortly before (cache hits)
            k = i if i % 2 == 0 else rng.randrange(max(1, i - 2000), i + 1)
            f.write("n%d.lwtest A\n" % k)
    back_dir = tempfile.mkdtemp(prefix="unbound-back.", dir=ctx.work)
    back_port = free_port()
    with open(os.path.join(back_dir, "unbound.conf"), "w") as f:
        f.write(UNBOUND_CONF.format(port=back_port, dir=back_dir, extra=(
            "    num-threads: 1\n"
            "    local-zone: \"lwtest.\" redirect\n"
            "    local-data: \"lwtest. 3600 IN A 10.0.0.13\"\n")))

    def prepare(d):
        with open(os.path.join(d, "unbound.conf"), "w") as f:
            f.write(UNBOUND_CONF.format(port="{port}", dir=d, extra=(
                "    num-threads: 2\n"
                "    do-not-query-localhost: no\n"
                "    msg-cache-size: 2m\n"
                "    rrset-cache-size: 4m\n"
                "    msg-cache-slabs: 2\n"
                "    rrset-cache-slabs: 2\n"
                "forward-zone:\n"
                "    name: \"lwtest.\"\n"
                "    forward-addr: 127.0.0.1@%d\n" % back_port)))

    def start(port, d):
        conf = os.path.join(d, "unbound.conf")
        with open(conf) as f:
            text = f.read().replace("{port}", str(port))
        with open(conf, "w") as f:
            f.write(text)
        return ["unbound", "-d", "-c", conf]

    def bench(port):
        rc, out = client(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries,
                          "-n", "1", "-q", "50", "-t", "5"], ctx.timeout)
        m = re.search(r"Queries completed:\s+(\d+)", out)
        codes = re.search(r"Response codes:\s+(.*)", out)
        return (rc == 0 and m is not None and int(m.group(1)) == 200000 and codes is not None
                and re.fullmatch(r"NOERROR 200000 \(100\.00%\)", codes.group(1).strip())
                is not None), out

    with Server(ctx, ["unbound", "-d", "-c", os.path.join(back_dir, "unbound.conf")],
                "native", back_dir, back_port):
        server_case(ctx, res, start, bench, lambda port: dns_query(port, "lockwatch.lwtest"),
                    prepare=prepare)


# mariadbd's shutdown writes its one-byte-class wake-up to an empty pipe
# under LOCK_start_thread (signal_hand -> break_connect_loop): a write to a
# blocking pipe under a shared lock, which lockwatch reports because such a
# write blocks when the pipe is full; this pipe never fills, by design.
# tests/real/mariadb.supp silences it and must say so at exit.  (Telling
# from one run that a pipe can never fill is not possible: silencing
# writes that fit the pipe's room at that moment hid examples/rare_blocking's
# real bug, so lockwatch does not.)
@case("mariadbd / mariadb-slap")
def c_mariadb(ctx, res):
    ensure(ctx, [("mariadbd", "mariadb-server"), ("mariadb-slap", "mariadb-client"),
                 ("mariadb", "mariadb-client"), ("mariadb-install-db", "mariadb-server")])
    base = os.path.join(ctx.work, "mariadb-data")
    if not os.path.isdir(os.path.join(base, "mysql")):
        shutil.rmtree(base, ignore_errors=True)
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root",
                            "--datadir=" + base, "--auth-root-authentication-method=normal",
                            "--skip-test-db"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=ctx.timeout)
        if r.returncode != 0:
            raise Fail("mariadb-install-db failed: %s" % r.stdout[-300:])

    def prepare(d):
        shutil.copytree(base, os.path.join(d, "data"))

    def start(port, d):
        return ["mariadbd", "--no-defaults", "--user=root", "--datadir=" + os.path.join(d, "data"),
                "--socket=" + os.path.join(d, "sock"), "--pid-file=" + os.path.join(d, "pid"),
                "--port=%d" % port, "--bind-address=127.0.0.1", "--skip-grant-tables",
                "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
                "--thread-handling=one-thread-per-connection", "--skip-log-bin",
                "--log-error=" + os.path.join(d, "mariadbd.err")]

    def bench(port):
        rc, out = client(["mariadb-slap", "--no-defaults", "-h", "127.0.0.1", "-P", str(port),
                          "-u", "root", "--concurrency=4", "--iterations=2",
                          "--number-of-queries=4000", "--auto-generate-sql",
                          "--auto-generate-sql-load-type=mixed",
                          "--auto-generate-sql-add-autoincrement",
                          "--number-char-cols=3", "--number-int-cols=3"], ctx.timeout)
        return rc == 0 and "Average number of seconds" in out, out

    def answer(port):
        rc, out = client(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port),
                          "-u", "root", "-N", "-B", "-e",
                          "CREATE DATABASE lw; CREATE TABLE lw.t (a INT PRIMARY KEY, b TEXT) "
                          "ENGINE=InnoDB; INSERT INTO lw.t SELECT seq, md5(seq) FROM "
                          "seq_1_to_5000; SELECT count(*), sum(a), md5(group_concat(b ORDER BY a)) "
                          "FROM lw.t"], 60)
        return "%s %s" % (rc, out.strip())

    supp = os.path.join(HERE, "mariadb.supp")
    server_case(ctx, res, start, bench, answer, prepare=prepare, start_limit=90,
                extra_env={"LOCKWATCH_SUPPRESSIONS": supp}, expect_supp=supp)


# ---------------------------------------------------------------- main

def fmt(v):
    return "%.2f" % v if v else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", default=os.path.join(HERE, "..", ".."))
    ap.add_argument("--lib", help="liblockwatch.so to preload (default: BUILDDIR/src/.libs)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each column (default 3)")
    ap.add_argument("--only", help="regular expression on case names")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run (default 120)")
    ap.add_argument("--no-install", action="store_true", help="never run apt-get")
    ap.add_argument("--results", default=os.path.join(HERE, "results.md"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ctx = ap.parse_args()
    ctx.lib = os.path.abspath(ctx.lib or os.path.join(ctx.builddir, "src", ".libs",
                                                      "liblockwatch.so"))
    if not os.path.exists(ctx.lib):
        sys.exit("run.py: %s not found (build first)" % ctx.lib)
    ctx.updated = False
    ctx.kept = set()
    ctx.cache = os.path.join(os.environ.get("TMPDIR", "/tmp"), "lockwatch-real")
    os.makedirs(ctx.cache, exist_ok=True)
    ctx.work = tempfile.mkdtemp(prefix="run.", dir=ctx.cache)
    os.chmod(ctx.work, 0o755)
    t_start = time.monotonic()
    results = []
    for name, fn, known, bug, slow in CASES:
        if ctx.only and not re.search(ctx.only, name):
            continue
        res = Result(name, known)
        log("== %s" % name)
        t0 = time.monotonic()
        try:
            fn(ctx, res)
        except Skip as e:
            res.status, res.why = "SKIP", [str(e)]
        except (Fail, subprocess.TimeoutExpired, OSError) as e:
            res.why.append(str(e))
        if res.status != "SKIP":
            if res.native and res.lw:
                res.ratio = statistics.median(res.lw) / statistics.median(res.native)
                if res.ratio > MAX_RATIO and slow:
                    res.known_seen.add("lockwatch/native %.2f > %.1f" % (res.ratio, MAX_RATIO))
                    bug = "; ".join(b for b in (bug, slow) if b)
                elif res.ratio > MAX_RATIO:
                    res.why.append("lockwatch/native %.2f > %.1f" % (res.ratio, MAX_RATIO))
            if res.why:
                res.status = "FAIL"
            elif res.known_seen:
                res.status = "XFAIL"
                by_kind = {}
                for k in sorted(res.known_seen):
                    if not k.startswith("lockwatch/native"):
                        kind, _, call = k.partition(": ")
                        by_kind.setdefault(kind, []).append(call)
                res.reports = "; ".join("%s in %s" % (k, ", ".join(v))
                                        for k, v in by_kind.items()) or "none"
        if res.suppressed:
            res.reports = "%s; suppressed: %s" % (res.reports, res.suppressed[0].split(
                "suppressed:", 1)[0].replace("lockwatch: ", "").strip())
        log("   %s (%.0f s)%s" % (res.status, time.monotonic() - t0,
                                  "".join("\n   - " + w for w in res.why)))
        results.append((res, bug))

    rows = ["| program | native s | lockwatch s | ratio | reports | result |",
            "|---|---|---|---|---|---|"]
    for res, xfail in results:
        nat = statistics.median(res.native) if res.native else 0
        lw = statistics.median(res.lw) if res.lw else 0
        ratio = "%.2f" % res.ratio if getattr(res, "ratio", None) else "-"
        status = res.status
        if res.status in ("SKIP", "FAIL") and res.why:
            status += ": " + res.why[0][:160].replace("|", "/")
        if res.status == "XFAIL":
            status += " (lockwatch bug: %s)" % xfail
        rows.append("| %s | %s | %s | %s | %s | %s |" % (res.name, fmt(nat), fmt(lw), ratio,
                                                          res.reports.replace("|", "/"), status))
    head = ("Real programs under lockwatch, %s, %d round(s) per column, medians of wall "
            "time (servers: the benchmark client's), %.0f s in all.\n"
            % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ctx.rounds,
               time.monotonic() - t_start))
    table = head + "\n" + "\n".join(rows) + "\n"
    print("\n" + table)
    if not ctx.only:
        with open(ctx.results, "w") as f:
            f.write(table)
    if ctx.kept or ctx.keep:
        log("kept: %s" % (ctx.work if ctx.keep else " ".join(sorted(ctx.kept))))
    else:
        shutil.rmtree(ctx.work, ignore_errors=True)
    bad = [r for r, _ in results if r.status == "FAIL"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
