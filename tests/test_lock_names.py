"""Locks named by what they are (examples/lock_names.c, built with -g).

- globals: accounts[1].lock and accounts[3].lock, members of a global array
  of structs, with the declaration's file:line (the line of `accounts` in
  the source, found in the source, not written here);
- a static (audit_lock) with its declaration, and a heap lock as a heap
  object with its allocation's address (16 bytes into it);
- a lock on the reporting thread's own stack: the local variable and the
  frame that owns it; a lock on another thread's stack: that thread;
- a name given with lockwatch_name_lock() wins;
- the names are in the Cycle line, the edge headings, the lock footers and
  the JSON message; the fingerprint stays the same from run to run;
- C++: a member of a class object in a namespace
  (bank::ledger.accounts_[1].m_), and cxx_bank's locks on main's stack.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import lwtest as lw

SRC = "lock_names.c"


def source_line(pattern):
    """The 1-based line of examples/lock_names.c matching pattern."""
    path = os.path.join(lw.srcdir(), "examples", SRC)
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            if re.search(pattern, text):
                return n
    raise AssertionError("no line matches %r in %s" % (pattern, path))


def report_with(reports, label):
    for r in reports:
        if any(lk.get("label") == label for lk in r["locks"]):
            return r
    return None


def lock_labelled(rep, label):
    return [lk for lk in rep["locks"] if lk.get("label") == label][0]


def check_decl(t, lk, pattern, what):
    want = source_line(pattern)
    t.expect(os.path.basename(lk.get("decl_file") or "") == SRC and lk.get("decl_line") == want,
             "%s: declared at %s:%s, the source says %s:%d"
             % (what, lk.get("decl_file"), lk.get("decl_line"), SRC, want))


def check_json(t):
    prog = lw.example("lock_names")
    native = lw.run_native(prog)
    t.require(native.returncode == 0 and "lock_names: done" in native.stdout,
              "lock_names fails natively:\n" + native.describe())
    run = lw.run_preload(prog)
    reps = [r for r in run.reports if r["kind"] == "lock-order-inversion"]
    t.require(len(reps) == 5, "expected five inversions:\n" + run.describe())
    for r in reps:
        problems = lw.validate_report(r, run.pid)
        t.expect(not problems, "malformed report: %s" % problems)

    # 1. Globals: members of an array of structs, with their declaration.
    rep = report_with(reps, "accounts[1].lock")
    t.require(rep is not None, "no lock labelled accounts[1].lock:\n" + run.describe())
    for idx in (1, 3):
        lk = lock_labelled(rep, "accounts[%d].lock" % idx)
        t.expect(lk.get("memory") == "global" and lk.get("variable") == "accounts" and
                 lk.get("member") == "[%d].lock" % idx and
                 (lk.get("symbol") or "").startswith("accounts"),
                 "accounts[%d].lock: %r" % (idx, lk))
        check_decl(t, lk, r"^struct account accounts\[", "accounts[%d].lock" % idx)
        t.expect("%s (accounts[%d].lock)" % (lk["id"], idx) in rep["message"],
                 "the message does not name %s: %r" % (lk["id"], rep["message"]))

    # 2. A static and a heap object.
    rep = report_with(reps, "audit_lock")
    t.require(rep is not None, "no lock labelled audit_lock:\n" + run.describe())
    lk = lock_labelled(rep, "audit_lock")
    t.expect(lk.get("memory") == "static", "audit_lock: %r" % lk)
    check_decl(t, lk, r"^static pthread_mutex_t audit_lock", "audit_lock")
    heap = [l for l in rep["locks"] if l is not lk][0]
    t.expect(heap.get("memory") == "heap", "the journal's lock: %r" % heap)
    if heap.get("heap_object"):
        off = int(heap["address"], 16) - int(heap["heap_object"], 16)
        t.expect(off == 16 and heap["label"] == "heap object %s+0x10" % heap["heap_object"],
                 "the journal's lock is %d bytes into %s, labelled %r (want 16)"
                 % (off, heap["heap_object"], heap["label"]))
    else:
        t.expect(heap.get("label") == "heap memory", "the journal's lock: %r" % heap)
    t.expect("%s (%s)" % (heap["id"], heap["label"]) in rep["message"] and
             "(audit_lock)" in rep["message"], "message %r" % rep["message"])

    # 3. The reporting thread's own stack: the local and its frame.
    label = "local 'frame_lock' of stack_case"
    rep = report_with(reps, label)
    t.require(rep is not None, "no lock labelled %r:\n%s" % (label, run.describe()))
    lk = lock_labelled(rep, label)
    t.expect(lk.get("memory") == "stack" and lk.get("stack_of") == "T0" and
             (lk.get("frame") or {}).get("function") == "stack_case",
             "frame_lock: %r" % lk)
    check_decl(t, lk, r"^\s+pthread_mutex_t frame_lock;", "frame_lock")
    t.expect("(%s)" % label in rep["message"], "message %r" % rep["message"])

    # 4. Another thread's stack: that thread, the one that took it first.
    rep = report_with(reps, "accounts[2].lock")
    t.require(rep is not None, "no lock labelled accounts[2].lock")
    other = [l for l in rep["locks"] if l.get("label") != "accounts[2].lock"][0]
    owner = [e["thread"] for e in rep["cycle"] if e["from"] == other["id"]]
    t.expect(other.get("memory") == "stack" and owner and other.get("stack_of") == owner[0] and
             other.get("label") == "stack of %s" % owner[0],
             "own_lock (on %r's stack): %r" % (owner, other))

    # 5. lockwatch_name_lock() wins; its unnamed partner is ledger[1].
    rep = report_with(reps, '"ledger head"')
    t.require(rep is not None, "no lock labelled \"ledger head\"")
    t.expect(any(l.get("label") == "ledger[1]" for l in rep["locks"]),
             "ledger[1]: %r" % rep["locks"])
    t.expect('("ledger head")' in rep["message"] and "(ledger[1])" in rep["message"],
             "message %r" % rep["message"])

    # The viewer's headings name the locks as the text report does.
    with tempfile.TemporaryDirectory(prefix="lwnames.") as tmp:
        log = os.path.join(tmp, "names.jsonl")
        with open(log, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in run.reports))
        viewer = os.path.join(os.path.dirname(lw.launcher()), "lockwatch-report")
        out = subprocess.run([viewer, log], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True).stdout
        t.expect(re.search(r"M\d+ \(accounts\[3\]\.lock, 0x[0-9a-f]+\) acquired while holding "
                           r"M\d+ \(accounts\[1\]\.lock, 0x[0-9a-f]+\)", out),
                 "lockwatch-report does not name the accounts:\n" + out)

    # Names do not enter the fingerprint: the same five in another run.
    again = lw.run_preload(prog)
    t.expect(sorted(r["fingerprint"] for r in again.reports) ==
             sorted(r["fingerprint"] for r in run.reports),
             "fingerprints changed between runs")


def check_text(t):
    text = lw.run_preload(lw.example("lock_names"), fmt=None, log=False).stderr
    t.expect(re.search(r"Cycle in lock order graph: M\d+ \(accounts\[1\]\.lock, 0x[0-9a-f]+\) => "
                       r"M\d+ \(accounts\[3\]\.lock, 0x[0-9a-f]+\) => M\d+", text),
             "the Cycle line does not name accounts[1].lock and accounts[3].lock:\n" + text)
    t.expect(re.search(r"\n  Mutex M\d+ \(accounts\[3\]\.lock\) acquired here while holding "
                       r"mutex M\d+ \(accounts\[1\]\.lock\) in thread T\d+", text),
             "no edge heading names both accounts:\n" + text)
    t.expect(re.search(r"\n  Mutex M\d+ \(local 'frame_lock' of stack_case\) acquired here while "
                       r"holding mutex M\d+ \(accounts\[0\]\.lock\)", text),
             "no edge heading names frame_lock:\n" + text)
    decl = source_line(r"^struct account accounts\[")
    t.expect(re.search(r"Mutex M\d+ \(accounts\[1\]\.lock, 0x[0-9a-f]+, normal mutex\), global "
                       r"accounts\[1\]\.lock declared at \S*%s:%d, first initialised at:"
                       % (re.escape(SRC), decl), text),
             "the footer of accounts[1].lock does not give its declaration (line %d):\n%s"
             % (decl, text))
    t.expect(re.search(r"Cycle in lock order graph: M\d+ \(\"ledger head\", 0x[0-9a-f]+\)", text),
             "the given name is not in the Cycle line:\n" + text)
    t.expect(re.search(r"Mutex M\d+ \(heap (object 0x[0-9a-f]+\+0x10|memory)\) acquired here", text),
             "no edge heading names the heap object:\n" + text)


CXX_SOURCE = r"""
#include <mutex>
#include <thread>

namespace bank {
struct Account { long balance; std::mutex m_; };
struct Ledger { int n; Account accounts_[3]; };
Ledger ledger;
}

static void move(int a, int b)
{
    std::lock_guard<std::mutex> x(bank::ledger.accounts_[a].m_);
    std::lock_guard<std::mutex> y(bank::ledger.accounts_[b].m_);
    bank::ledger.accounts_[a].balance--;
}

int main()
{
    std::thread t1(move, 0, 1);
    t1.join();
    std::thread t2(move, 1, 0);
    t2.join();
    return 0;
}
"""


def check_cxx(t, tmp):
    # cxx_bank's accounts are locals of main, locked by other threads.
    run = lw.run_preload(lw.example("cxx_bank"))
    rep = run.reports[0] if run.reports else {"locks": []}
    t.expect(rep["locks"] and all(l.get("memory") == "stack" and l.get("stack_of") == "T0"
                                  for l in rep["locks"]),
             "cxx_bank: locks not on main's stack: %r" % rep["locks"])
    cxx = shlex.split(os.environ.get("CXX") or "") or ["c++"]
    if not shutil.which(cxx[0]):
        print("no C++ compiler (%s): the namespace check is skipped" % cxx[0])
        return
    src = os.path.join(tmp, "ns_bank.cpp")
    with open(src, "w") as f:
        f.write(CXX_SOURCE)
    prog = os.path.join(tmp, "ns_bank")
    res = subprocess.run(cxx + ["-g", "-O0", "-pthread", "-o", prog, src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    t.require(res.returncode == 0, "cannot compile %s: %s" % (src, res.stderr))
    run = lw.run_preload(prog)
    t.require(len(run.reports) == 1, "ns_bank: expected one report:\n" + run.describe())
    labels = sorted(l.get("label") or "" for l in run.reports[0]["locks"])
    t.expect(labels == ["bank::ledger.accounts_[0].m_", "bank::ledger.accounts_[1].m_"],
             "ns_bank: labels %r" % labels)
    t.expect("(bank::ledger.accounts_[0].m_)" in run.reports[0]["message"],
             "ns_bank: message %r" % run.reports[0]["message"])


def main(t):
    lw.detector_is_live(t)
    check_json(t)
    check_text(t)
    with tempfile.TemporaryDirectory(prefix="lwnames.") as tmp:
        check_cxx(t, tmp)


lw.main(main)
