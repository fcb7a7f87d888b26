#!/usr/bin/env python3
"""lockwatch-report: read lockwatch's JSON Lines logs and show the findings.

    lockwatch-report [options] LOG...

Reads the logs (LOCKWATCH_FORMAT=json), merges and deduplicates the findings
by fingerprint over every process and run, and prints a summary table and
each finding with its stacks and, where a frame names a source file that is
on disk, the line with two lines of context.  Other modes: -i (a curses
browser), --dot/--svg (the lock-order graph), --html (one self-contained
page), --sarif (SARIF 2.1.0), --suppressions (one rule per finding), --order
(the observed lock hierarchy, as a file a team can commit).  See
lockwatch-report(1).

Python 3 standard library only, so it runs wherever the program runs.
Everything read from a log is data: it is escaped in HTML and in dot, and
never evaluated.
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

VERSION = "@PACKAGE_VERSION@"
PROG = "lockwatch-report"
CONTEXT_LINES = 2          # source lines shown before and after a frame's line
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/"
                "schemas/sarif-schema-2.1.0.json")
INFO_URI = "https://man7.org/linux/man-pages/man7/lockwatch.7.html"
# Kinds that are a hang or memory already misused: SARIF "error"; the rest
# are potential problems: "warning".
ERROR_KINDS = {"deadlock", "double-lock", "use-after-destroy", "destroy-locked",
               "unlock-not-owned"}
KIND_TITLES = {
    "lock-order-inversion": "lock-order inversion (potential deadlock)",
    "deadlock": "deadlock",
    "blocking-call-under-lock": "blocking call under a lock",
    "double-lock": "double lock",
    "unlock-not-owned": "unlock of a lock not owned",
    "destroy-locked": "destroy of a locked lock",
    "cond-wait-unlocked": "condition wait without its mutex held",
    "cond-multiple-mutexes": "condition variable used with several mutexes",
    "exit-holding-lock": "exit while holding a lock",
    "rwlock-upgrade": "rwlock upgrade (read to write)",
    "use-after-destroy": "use of a destroyed lock",
    "order-violation": "lock order violation (against LOCKWATCH_ORDER_FILE or LOCKWATCH_ORDER)",
    "assert-held": "lock not held where the program asserts it is",
    "assert-not-held": "lock held where the program asserts it is not",
    "data-race": "data race (sampled)",
    "lost-wakeup": "lost wake-up (condvar signalled without its mutex in a waiter's window)",
}
_SHARED_OBJECT = re.compile(r"\.so(\.[0-9.]+)?$")
# Control characters from a log must not reach a terminal as such (an
# escape sequence in a lock or thread name could rewrite the screen).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def for_terminal(s):
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()), s)


def note(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


# --------------------------------------------------------------------------
# reading and merging


class Log:
    """What the logs held: findings merged by fingerprint, graph records."""

    def __init__(self):
        self.findings = []       # Finding, in order of first appearance
        self.by_fp = {}
        self.graphs = []         # {"kind":"graph"} records, when a log has them
        self.records = 0
        self.files = []


class Finding:
    """One problem: the first record seen and where else it was seen."""

    def __init__(self, rec, path):
        self.rec = rec
        self.count = 1
        self.pids = []
        self.logs = []
        self.add(rec, path)

    def add(self, rec, path):
        pid = rec.get("pid")
        if pid is not None and pid not in self.pids:
            self.pids.append(pid)
        if path not in self.logs:
            self.logs.append(path)

    @property
    def kind(self):
        return str(self.rec.get("kind", "?"))

    @property
    def fingerprint(self):
        return str(self.rec.get("fingerprint") or "")


def read_lines(path, log):
    """The JSON objects of one log.  A last line cut short (a killed process)
    is skipped with a note; other lines that are not JSON objects are
    skipped and counted."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        note("cannot read %s: %s" % (path, e.strerror or e))
        return None
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    truncated_last = not text.endswith("\n") and text != ""
    out = []
    bad = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if truncated_last and n == len(lines):
                note("%s: line %d is cut short (the process was killed while "
                     "writing it?); skipped" % (path, n))
            else:
                bad += 1
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
            bad += 1
            continue
        out.append(obj)
    if bad:
        note("%s: %d line(s) that are not lockwatch JSON records skipped" % (path, bad))
    return out


def load(paths):
    log = Log()
    for path in paths:
        recs = read_lines(path, log)
        if recs is None:
            continue
        log.files.append(path)
        for rec in recs:
            log.records += 1
            if rec["kind"] == "graph":
                log.graphs.append(rec)
                continue
            fp = rec.get("fingerprint") or ("%s@%s:%d" % (rec["kind"], path, log.records))
            f = log.by_fp.get(fp)
            if f is None:
                f = log.by_fp[fp] = Finding(rec, path)
                log.findings.append(f)
            else:
                f.count += 1
                f.add(rec, path)
    return log


# --------------------------------------------------------------------------
# the parts of a record


def as_list(v):
    return v if isinstance(v, list) else []


def as_dict(v):
    return v if isinstance(v, dict) else {}


def text(v):
    """A log value as text (None as empty)."""
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v)


def stack_of(rec, idx):
    stacks = as_list(rec.get("stacks"))
    if isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < len(stacks):
        return [as_dict(fr) for fr in as_list(stacks[idx])]
    return None


def program_module(rec):
    """The program's own module: the one holding main, else the first module
    in the stacks that is not a shared library."""
    first = None
    for st in as_list(rec.get("stacks")):
        for fr in as_list(st):
            fr = as_dict(fr)
            mod = text(fr.get("module"))
            if fr.get("function") == "main":
                return mod
            if first is None and mod and not _SHARED_OBJECT.search(mod):
                first = mod
    return first


def lock_label(lk):
    """"ledger head" (M2) for a name given by the program; "M2 (accounts[3].lock,
    0x...)" for what lockwatch found the lock to be; "queue_lock (M2)" from a
    symbol alone; else "M2 (0x...)"."""
    lk = as_dict(lk)
    lid = text(lk.get("id")) or "?"
    if lk.get("name"):    # given with lockwatch_name_lock()
        return "%s (%s)" % (text(lk.get("name")), lid)
    if lk.get("label"):   # what the lock is: accounts[3].lock, stack of T2, ...
        return "%s (%s, %s)" % (lid, text(lk.get("label")), text(lk.get("address")) or "?")
    if lk.get("symbol"):  # logs without labels (no helper, older versions)
        return "%s (%s)" % (text(lk.get("symbol")), lid)
    return "%s (%s)" % (lid, text(lk.get("address")) or "?")


def locks_by_id(rec):
    return {text(lk.get("id")): as_dict(lk) for lk in map(as_dict, as_list(rec.get("locks")))}


def threads_by_id(rec):
    return {text(t.get("id")): as_dict(t) for t in map(as_dict, as_list(rec.get("threads")))}


def thread_label(t, tid):
    t = as_dict(t)
    s = tid or "?"
    if t.get("tid") is not None:
        s += " (tid=%s)" % text(t.get("tid"))
    if t.get("name"):
        s += " \"%s\"" % text(t.get("name"))
    return s


def sections(rec):
    """The stacks of a finding, each (title, stack index), in reading order."""
    out = []
    locks = locks_by_id(rec)
    threads = threads_by_id(rec)

    def lk(lid):
        return lock_label(locks.get(text(lid), {"id": lid}))

    # An inversion's cycle; an order violation's one edge ("edges").
    for e in map(as_dict, as_list(rec.get("cycle")) + as_list(rec.get("edges"))):
        th = thread_label(threads.get(text(e.get("thread"))), text(e.get("thread")))
        out.append(("%s acquired while holding %s in thread %s"
                    % (lk(e.get("to")), lk(e.get("from")), th), e.get("stack")))
        out.append(("%s previously acquired by the same thread" % lk(e.get("from")),
                    e.get("held_stack")))
    for tid, t in threads.items():
        if "action" in t or "stack" in t:
            out.append(("Thread %s %s" % (thread_label(t, tid), text(t.get("action"))),
                        t.get("stack")))
            for h in map(as_dict, as_list(t.get("holds"))):
                out.append(("  holding %s (%s), acquired" % (lk(h.get("lock")), text(h.get("mode"))),
                            h.get("stack")))
    for lid, l in locks.items():
        if l.get("role"):
            out.append(("%s %s" % (lock_label(l), text(l.get("role"))), l.get("stack")))
    for lid, l in locks.items():
        out.append(("%s (%s) first %s at" % (lock_label(l), text(l.get("kind")),
                                             text(l.get("first_seen")) or "seen"),
                    l.get("first_stack")))
    for tid, t in threads.items():
        if t.get("created_stack") is not None:
            out.append(("Thread %s created by %s at" % (thread_label(t, tid), text(t.get("created_by"))),
                        t.get("created_stack")))
    return [(title, idx) for title, idx in out if stack_of(rec, idx) is not None]


def primary_stack(rec):
    secs = sections(rec)
    if secs:
        return stack_of(rec, secs[0][1])
    return stack_of(rec, 0) or []


def is_lock_helper(fn):
    """A library lock wrapper inlined into the program (libstdc++'s
    __gthread_mutex_lock, std::mutex::lock): not the program's own code."""
    return "__gthread_" in fn or fn.startswith(("_ZNSt", "std::"))


def program_frame(rec, frames):
    """The first frame of the program's own code, else the innermost."""
    mod = program_module(rec)
    for fr in frames:
        fn = text(fr.get("function"))
        if fn and mod and fr.get("module") == mod and not is_lock_helper(fn):
            return fr
    return frames[0] if frames else None


def first_location_frame(rec):
    return program_frame(rec, primary_stack(rec))


def frame_where(fr):
    """function file:line, else function module+offset."""
    if fr is None:
        return "?"
    fn = text(fr.get("function")) or "??"
    if fr.get("file") and fr.get("line") is not None:
        return "%s %s:%s" % (fn, text(fr.get("file")), text(fr.get("line")))
    return "%s %s+%s" % (fn, os.path.basename(text(fr.get("module"))), text(fr.get("offset")))


def frame_line(i, fr):
    s = "#%d %s in %s" % (i, text(fr.get("pc")) or "?", text(fr.get("function")) or "??")
    if fr.get("file") and fr.get("line") is not None:
        s += " %s:%s" % (text(fr.get("file")), text(fr.get("line")))
    s += " (%s+%s)" % (text(fr.get("module")), text(fr.get("offset")))
    return s


_source_cache = {}


def source_context(fr):
    """[(line number, text, is the frame's line)] around a frame's line, or []."""
    path, line = fr.get("file"), fr.get("line")
    if not isinstance(path, str) or not isinstance(line, int) or isinstance(line, bool):
        return []
    if path not in _source_cache:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                _source_cache[path] = f.read().split("\n")
        except (OSError, ValueError):
            _source_cache[path] = None
    src = _source_cache[path]
    if not src or not 1 <= line <= len(src):
        return []
    lo, hi = max(1, line - CONTEXT_LINES), min(len(src), line + CONTEXT_LINES)
    return [(n, src[n - 1].rstrip(), n == line) for n in range(lo, hi + 1)]


def inlined_frames(fr):
    return [as_dict(x) for x in as_list(fr.get("inlined"))]


# --------------------------------------------------------------------------
# text


def summary_rows(log):
    rows = []
    for f in log.findings:
        rows.append((f.kind, str(f.count), str(len(f.pids)), frame_where(first_location_frame(f.rec))))
    return rows


def render_summary(log):
    head = ("kind", "count", "processes", "first location")
    rows = summary_rows(log)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(3)]
    out = ["lockwatch-report: %d finding(s) in %d record(s) from %d log(s)"
           % (len(log.findings), log.records, len(log.files)), ""]
    fmt = "%-*s  %*s  %*s  %s"
    out.append(fmt % (widths[0], head[0], widths[1], head[1], widths[2], head[2], head[3]))
    for r in rows:
        out.append(fmt % (widths[0], r[0], widths[1], r[1], widths[2], r[2], r[3]))
    return out


def render_stack(frames, indent="    "):
    out = []
    for i, fr in enumerate(frames):
        out.append(indent + frame_line(i, fr))
        for inl in inlined_frames(fr):
            out.append(indent + "   (inlined) %s" % frame_where(inl))
        for n, src, here in source_context(fr):
            out.append("%s     %s %5d | %s" % (indent, ">" if here else " ", n, src))
    return out


def render_finding(n, f):
    rec = f.rec
    out = ["=" * 72,
           "[%d] %s  (fingerprint %s; %d time(s) in %d process(es))"
           % (n, f.kind, f.fingerprint or "none", f.count, len(f.pids)),
           "    " + text(rec.get("message"))]
    if rec.get("confidence"):
        out.append("    confidence: " + text(rec.get("confidence")))
    out.append("    pids: %s; logs: %s" % (", ".join(map(text, f.pids)) or "?", ", ".join(f.logs)))
    for title, idx in sections(rec):
        out.append("")
        out.append("  " + title + ":")
        out.extend(render_stack(stack_of(rec, idx)))
    return out


def render_text(log):
    out = render_summary(log)
    for n, f in enumerate(log.findings, 1):
        out.append("")
        out.extend(render_finding(n, f))
    return out


# --------------------------------------------------------------------------
# the lock-order graph


def lock_key(rec, lk):
    """A lock's name across processes and runs: the "key" lockwatch wrote
    for it (its lockwatch_name_lock name, else the symbol of the global it
    is, else its kind and first-seen site: lockwatch-report(1), LOCK KEYS),
    the string LOCKWATCH_ORDER_FILE is matched with.  Locks first seen at
    one site share it: a class of locks.  For a record without one (an
    older lockwatch, a thread end): its name, else where it was first seen,
    with its id when another lock of the record was first seen there too."""
    lk = as_dict(lk)
    if isinstance(lk.get("key"), str) and lk.get("key"):
        return lk["key"]
    key = lock_key1(rec, lk)
    if not lk.get("name"):
        same = [o for o in map(as_dict, as_list(rec.get("locks")))
                if not o.get("name") and not o.get("key") and lock_key1(rec, o) == key]
        if len(same) > 1:
            key = key.replace(" first ", " %s first " % text(lk.get("id")), 1)
    return key


def lock_key1(rec, lk):
    if lk.get("name"):
        return text(lk.get("name"))
    pick = program_frame(rec, stack_of(rec, lk.get("first_stack")) or [])
    if pick is None:
        return "%s@pid%s" % (text(lk.get("address")), text(rec.get("pid")))
    return "%s first %s in %s" % (text(lk.get("kind")) or "lock",
                                      text(lk.get("first_seen")) or "seen", frame_where(pick))


class Graph:
    """Locks (by key) and edges from -> to (to taken while holding from)."""

    def __init__(self):
        self.nodes = {}          # key -> {"kind":..}
        # (from, to) -> {"where": str, "thread": str, "cycle": bool, "violation": bool, "fps": set}
        self.edges = {}
        self.truncated = False

    def add_node(self, key, kind):
        self.nodes.setdefault(key, {"kind": kind})

    def add_edge(self, a, b, where, thread, cycle, fp, violation=False):
        e = self.edges.setdefault((a, b), {"where": where, "thread": thread, "cycle": False,
                                           "violation": False, "fps": set()})
        e["cycle"] = e["cycle"] or cycle
        e["violation"] = e["violation"] or violation
        if fp:
            e["fps"].add(fp)


def build_graph(log):
    """The graph of the runs: the locks and edges of every {"kind":"graph"}
    record when the logs have them, and always the edges of every reported
    cycle (inversions' cycles, deadlocks' holds -> waits_for), highlighted."""
    g = Graph()
    for rec in log.graphs:
        locks = locks_by_id(rec)
        for lid, lk in locks.items():
            g.add_node(lock_key(rec, lk), text(lk.get("kind")))
        for e in map(as_dict, as_list(rec.get("edges"))):
            a, b = locks.get(text(e.get("from"))), locks.get(text(e.get("to")))
            if a is None or b is None:
                continue
            ka, kb = lock_key(rec, a), lock_key(rec, b)
            if ka == kb:
                continue   # two locks of one class: it orders nothing
            st = stack_of(rec, e.get("stack")) or []
            g.add_edge(ka, kb, frame_where(program_frame(rec, st)), text(e.get("thread")),
                       False, None)
        g.truncated = g.truncated or bool(rec.get("truncated"))
    for f in log.findings:
        rec = f.rec
        locks = locks_by_id(rec)

        def key(lid):
            lk = locks.get(text(lid))
            return lock_key(rec, lk) if lk else None

        # A cycle's edges, highlighted; an order violation's, drawn as such.
        member, violation = ("edges", True) if f.kind == "order-violation" else ("cycle", False)
        for e in map(as_dict, as_list(rec.get(member))):
            a, b = key(e.get("from")), key(e.get("to"))
            if a is None or b is None:
                continue
            g.add_node(a, text(locks[text(e.get("from"))].get("kind")))
            g.add_node(b, text(locks[text(e.get("to"))].get("kind")))
            st = stack_of(rec, e.get("stack")) or []
            g.add_edge(a, b, frame_where(program_frame(rec, st)), text(e.get("thread")),
                       not violation, f.fingerprint, violation=violation)
        if f.kind == "deadlock":
            for t in map(as_dict, as_list(rec.get("threads"))):
                b = key(t.get("waits_for"))
                if b is None:
                    continue
                for h in map(as_dict, as_list(t.get("holds"))):
                    a = key(h.get("lock"))
                    if a is None:
                        continue
                    g.add_node(a, text(locks[text(h.get("lock"))].get("kind")))
                    g.add_node(b, text(locks[text(t.get("waits_for"))].get("kind")))
                    st = stack_of(rec, t.get("stack")) or []
                    g.add_edge(a, b, frame_where(program_frame(rec, st)), text(t.get("id")),
                               True, f.fingerprint)
    return g


def dot_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(g, around=None):
    keep = None
    if around is not None:
        keep = {around} | {b for (a, b) in g.edges if a == around} | {a for (a, b) in g.edges if b == around}
    out = ["digraph lockwatch {",
           "  // lockwatch-report: an edge A -> B: some thread took B while holding A.",
           "  // Red edges belong to a reported cycle; orange ones are order violations",
           "  // (taken against LOCKWATCH_ORDER_FILE).",
           "  rankdir=TB;",
           '  node [shape=box, fontname="monospace", fontsize=10];',
           '  edge [fontname="monospace", fontsize=9];']
    ids = {}
    for n, (k, v) in enumerate(sorted(g.nodes.items())):
        ids[k] = "n%d" % n
        if keep is None or k in keep:
            out.append("  %s [label=%s%s];" % (ids[k], dot_quote(k),
                                               ', style=bold' if k == around else ""))
    for (a, b), e in sorted(g.edges.items()):
        if keep is not None and not (a in keep and b in keep and around in (a, b)):
            continue
        attrs = ["label=%s" % dot_quote("%s %s" % (e["thread"], e["where"]))]
        if e["cycle"]:
            attrs += ["color=red", "penwidth=2", "fontcolor=red"]
        elif e.get("violation"):
            attrs += ["color=orange", "penwidth=2", "fontcolor=orange", "style=dashed"]
        out.append("  %s -> %s [%s];" % (ids[a], ids[b], ", ".join(attrs)))
    if g.truncated:
        out.append('  truncated [shape=note, label="graph truncated by lockwatch"];')
    out.append("}")
    return "\n".join(out) + "\n"


def dot_to_svg(dot_text):
    """SVG text, or None when graphviz's dot is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    r = subprocess.run([exe, "-Tsvg"], input=dot_text.encode("utf-8"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        raise RuntimeError("dot failed: " + r.stderr.decode("utf-8", "replace").strip())
    return r.stdout.decode("utf-8", "replace")


def render_graph_text(g, around):
    """The edges into and out of one lock, for the terminal."""
    out = ["Graph around %s:" % around, ""]
    for (a, b), e in sorted(g.edges.items()):
        if around in (a, b):
            out.append("  %s%s -> %s" % ("[cycle] " if e["cycle"] else
                                          "[violation] " if e.get("violation") else "", a, b))
            out.append("      thread %s at %s" % (e["thread"], e["where"]))
    if len(out) == 2:
        out.append("  (no edges)")
    return out


# --------------------------------------------------------------------------
# the lock order file


def sccs(nodes, edges):
    """Tarjan's strongly connected components, iteratively; in reverse
    topological order of the condensation."""
    succ = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            succs = sorted(succ[v])
            if i < len(succs):
                work.append((v, i + 1))
                w = succs[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return out


def order_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def order_unescape(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), s)


def render_order(g, nfiles):
    comps = list(reversed(sccs(g.nodes, g.edges)))
    out = ["# lockwatch lock order: the hierarchy observed over %d log(s)" % nfiles,
           "# (written by lockwatch-report --order; see lockwatch-report(1)).",
           "# 'lock' lines: the locks, each to be taken only after those above it.",
           "# 'edge FROM TO': some thread took TO while holding FROM, with where.",
           "# 'cycle' lines: locks taken in both orders (a reported finding): no",
           "# order between them is justified until the program picks one.",
           "# Fields are separated by a tab; \\t, \\n and \\\\ escape those in names."]
    for comp in comps:
        if len(comp) > 1:
            out.append("cycle\t" + "\t".join(order_escape(k) for k in comp))
        for k in comp:
            out.append("lock\t" + order_escape(k))
    for (a, b), e in sorted(g.edges.items()):
        out.append("edge\t%s\t%s\t# thread %s at %s" % (order_escape(a), order_escape(b),
                                                       order_escape(e["thread"]),
                                                       order_escape(e["where"])))
    return "\n".join(out) + "\n"


def parse_order(txt):
    """An order file read back: (locks in order, edges, cycles)."""
    locks, edges, cycles = [], [], []
    for line in txt.split("\n"):
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        if f[0] == "lock" and len(f) == 2:
            locks.append(order_unescape(f[1]))
        elif f[0] == "edge" and len(f) >= 3:
            edges.append((order_unescape(f[1]), order_unescape(f[2])))
        elif f[0] == "cycle":
            cycles.append([order_unescape(x) for x in f[1:]])
        else:
            raise ValueError("not an order file line: %r" % line[:80])
    return locks, edges, cycles


# --------------------------------------------------------------------------
# SARIF 2.1.0


def file_uri(path):
    if os.path.isabs(path):
        return "file://" + urllib.parse.quote(path)
    return urllib.parse.quote(path)


def render_sarif(log):
    kinds = []
    for f in log.findings:
        if f.kind not in kinds:
            kinds.append(f.kind)
    rules = [{"id": k, "name": k,
              "shortDescription": {"text": KIND_TITLES.get(k, k)},
              "helpUri": INFO_URI} for k in kinds]
    results = []
    for f in log.findings:
        rec = f.rec
        fr = first_location_frame(rec) or {}
        loc = {}
        if isinstance(fr.get("file"), str) and isinstance(fr.get("line"), int) and fr.get("line") > 0:
            loc["physicalLocation"] = {"artifactLocation": {"uri": file_uri(fr["file"])},
                                       "region": {"startLine": fr["line"]}}
        loc["logicalLocations"] = [{
            "name": text(fr.get("function")) or "??",
            "fullyQualifiedName": "%s+%s" % (text(fr.get("module")), text(fr.get("offset"))),
            "kind": "function"}]
        results.append({
            "ruleId": f.kind,
            "ruleIndex": kinds.index(f.kind),
            "level": "error" if f.kind in ERROR_KINDS else "warning",
            "message": {"text": text(rec.get("message")) or KIND_TITLES.get(f.kind, f.kind)},
            "locations": [loc],
            "partialFingerprints": {"lockwatch/v1": f.fingerprint},
            "properties": {"count": f.count, "processes": len(f.pids)},
        })
    doc = {"version": "2.1.0", "$schema": SARIF_SCHEMA,
           "runs": [{"tool": {"driver": {"name": "lockwatch", "version": VERSION,
                                         "informationUri": INFO_URI, "rules": rules}},
                     "results": results}]}
    return json.dumps(doc, indent=2) + "\n"


# --------------------------------------------------------------------------
# suppressions


def render_suppressions(log):
    out = []
    for f in log.findings:
        rule = f.rec.get("suppression")
        if isinstance(rule, str) and rule.strip():
            out.append(for_terminal(rule.rstrip("\n")))
        elif f.fingerprint:
            out.append("# %s" % for_terminal(text(f.rec.get("message"))))
            out.append("%s:fingerprint:%s" % (f.kind, f.fingerprint))
    return "\n".join(out) + ("\n" if out else "")


# --------------------------------------------------------------------------
# HTML

CSS = """
body{font-family:sans-serif;margin:1.5em;max-width:80em}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}
pre{background:#f6f6f6;padding:.4em;overflow-x:auto}
.finding{border-top:2px solid #444;margin-top:1.5em}
.here{background:#ffe9a8}.kind{font-weight:bold;color:#a00}
svg{max-width:100%;height:auto}
"""


def h(s):
    return html.escape(text(s), quote=True)


def html_stack(frames):
    out = ["<pre>"]
    for i, fr in enumerate(frames):
        out.append(h(frame_line(i, fr)))
        for inl in inlined_frames(fr):
            out.append("   (inlined) " + h(frame_where(inl)))
        for n, src, here in source_context(fr):
            line = "     %5d | %s" % (n, src)
            out.append('<span class="here">%s</span>' % h(line) if here else h(line))
    out.append("</pre>")
    return "\n".join(out)


def render_html(log):
    g = build_graph(log)
    svg = None
    if g.nodes:
        try:
            svg = dot_to_svg(render_dot(g))
        except RuntimeError as e:
            note(str(e))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>lockwatch report</title><style>%s</style></head><body>" % CSS,
           "<h1>lockwatch report</h1>",
           "<p>%d finding(s) in %d record(s) from %d log(s): %s</p>"
           % (len(log.findings), log.records, len(log.files), h(", ".join(log.files))),
           '<h2>Summary</h2><table id="summary"><tr><th>#</th><th>kind</th><th>count</th>'
           "<th>processes</th><th>first location</th></tr>"]
    for n, (f, r) in enumerate(zip(log.findings, summary_rows(log)), 1):
        out.append('<tr><td><a href="#f%d">%d</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                   % (n, n, h(r[0]), h(r[1]), h(r[2]), h(r[3])))
    out.append("</table>")
    out.append('<h2>Lock-order graph</h2><div id="graph">')
    if not g.nodes:
        out.append("<p>No lock-order graph in these logs (no graph record, no reported "
                   "cycle).</p>")
    elif svg is not None:
        out.append(svg[svg.find("<svg"):] if "<svg" in svg else "")
    else:
        out.append("<p>(graphviz's dot is not installed: the graph as a table; red rows "
                   "are edges of a reported cycle)</p>")
    if g.nodes:
        out.append('<table class="edges"><tr><th>holding</th><th>took</th><th>thread</th>'
                   "<th>where</th></tr>")
        for (a, b), e in sorted(g.edges.items()):
            out.append('<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                       % (' style="color:#a00"' if e["cycle"] else "", h(a), h(b),
                          h(e["thread"]), h(e["where"])))
        out.append("</table>")
    out.append("</div><h2>Findings</h2>")
    for n, f in enumerate(log.findings, 1):
        rec = f.rec
        out.append('<div class="finding" id="f%d"><h3>[%d] <span class="kind">%s</span></h3>'
                   % (n, n, h(f.kind)))
        out.append("<p>%s</p>" % h(rec.get("message")))
        out.append("<p>fingerprint <code>%s</code>; %d time(s) in %d process(es) (pids %s)</p>"
                   % (h(f.fingerprint), f.count, len(f.pids), h(", ".join(map(text, f.pids)))))
        for i, (title, idx) in enumerate(sections(rec)):
            out.append("<details%s><summary>%s</summary>%s</details>"
                       % (" open" if i < 2 else "", h(title), html_stack(stack_of(rec, idx))))
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# the interactive browser

HELP_LIST = "Up/Down move  Enter open  f filter kind  g graph  q quit"
HELP_FINDING = "Up/Down scroll  Tab/S-Tab next/prev stack  n/p next/prev finding  g graph  q back"
HELP_GRAPH = "Up/Down scroll  l next lock  q back"


def interactive(log):
    import curses

    def put(scr, y, x, s, attr=0):
        """Draw, clipped; a terminal too small for a line only loses it."""
        hgt, wid = scr.getmaxyx()
        if 0 <= y < hgt and wid > 1:
            try:
                scr.addnstr(y, x, for_terminal(s), wid - 1, attr)
            except curses.error:
                pass

    def run(scr):
        try:
            curses.curs_set(0)
        except curses.error:
            pass   # a terminal that cannot hide the cursor
        kinds = sorted({f.kind for f in log.findings})
        state = {"filter": None, "sel": 0, "view": "list", "top": 0, "lock": 0}

        def shown():
            return [f for f in log.findings if state["filter"] in (None, f.kind)]

        def finding_lines(f):
            lines = render_finding(log.findings.index(f) + 1, f)
            marks = [i for i, l in enumerate(lines) if l.startswith("  ") and l.endswith(":")
                     and not l.startswith("    ")]
            return lines, marks

        def locks_of(f):
            rec = f.rec
            return [lock_key(rec, lk) for lk in map(as_dict, as_list(rec.get("locks")))]

        g = build_graph(log)
        while True:
            scr.erase()
            hgt, wid = scr.getmaxyx()
            body = max(1, hgt - 2)
            items = shown()
            if state["sel"] >= len(items):
                state["sel"] = max(0, len(items) - 1)
            if state["view"] == "list":
                title = "lockwatch-report: %d finding(s)%s" % (
                    len(items), "" if state["filter"] is None else " of kind " + state["filter"])
                rows = summary_rows(log)
                lines = [for_terminal("%3d %-26s %5s %4s  %s"
                                      % (log.findings.index(f) + 1, *rows[log.findings.index(f)]))
                         for f in items]
                top = max(0, state["sel"] - body + 1)
                for i, l in enumerate(lines[top:top + body]):
                    attr = curses.A_REVERSE if top + i == state["sel"] else 0
                    put(scr, 1 + i, 0, l, attr)
                helpline = HELP_LIST
            else:
                f = items[state["sel"]] if items else None
                if f is None:
                    state["view"] = "list"
                    continue
                if state["view"] == "finding":
                    lines, marks = finding_lines(f)
                    helpline = HELP_FINDING
                    title = "finding %d of %d" % (state["sel"] + 1, len(items))
                else:
                    lk = locks_of(f)
                    around = lk[state["lock"] % len(lk)] if lk else ""
                    lines = render_graph_text(g, around) if lk else ["(no locks)"]
                    helpline = HELP_GRAPH
                    title = "graph"
                state["top"] = max(0, min(state["top"], len(lines) - 1))
                for i, l in enumerate(lines[state["top"]:state["top"] + body]):
                    put(scr, 1 + i, 0, l)
            put(scr, 0, 0, title, curses.A_BOLD)
            put(scr, hgt - 1, 0, helpline, curses.A_REVERSE)
            scr.refresh()
            k = scr.getch()
            if k in (ord("Q"),):
                return
            if state["view"] == "list":
                if k == ord("q"):
                    return
                if k in (curses.KEY_DOWN, ord("j")):
                    state["sel"] = min(state["sel"] + 1, max(0, len(items) - 1))
                elif k in (curses.KEY_UP, ord("k")):
                    state["sel"] = max(0, state["sel"] - 1)
                elif k in (curses.KEY_ENTER, 10, 13) and items:
                    state["view"], state["top"] = "finding", 0
                elif k == ord("f"):
                    seq = [None] + kinds
                    state["filter"] = seq[(seq.index(state["filter"]) + 1) % len(seq)]
                    state["sel"] = 0
                elif k == ord("g") and items:
                    state["view"], state["top"], state["lock"] = "graph", 0, 0
                continue
            if k in (ord("q"), 27, curses.KEY_BACKSPACE, 127):
                state["view"] = "list" if state["view"] == "finding" else "finding"
                state["top"] = 0
            elif k in (curses.KEY_DOWN, ord("j")):
                state["top"] += 1
            elif k in (curses.KEY_UP, ord("k")):
                state["top"] = max(0, state["top"] - 1)
            elif k == curses.KEY_NPAGE or k == ord(" "):
                state["top"] += body
            elif k == curses.KEY_PPAGE:
                state["top"] = max(0, state["top"] - body)
            elif state["view"] == "finding" and k in (9, curses.KEY_BTAB):
                _, marks = finding_lines(items[state["sel"]])
                if marks:
                    if k == 9:
                        nxt = [m for m in marks if m > state["top"]]
                        state["top"] = nxt[0] if nxt else marks[0]
                    else:
                        prv = [m for m in marks if m < state["top"]]
                        state["top"] = prv[-1] if prv else marks[-1]
            elif state["view"] == "finding" and k == ord("n"):
                state["sel"] = min(state["sel"] + 1, len(items) - 1)
                state["top"] = 0
            elif state["view"] == "finding" and k == ord("p"):
                state["sel"] = max(0, state["sel"] - 1)
                state["top"] = 0
            elif state["view"] == "finding" and k == ord("g"):
                state["view"], state["top"], state["lock"] = "graph", 0, 0
            elif state["view"] == "graph" and k == ord("l"):
                state["lock"] += 1
                state["top"] = 0

    curses.wrapper(run)


# --------------------------------------------------------------------------


def write_file(path, data):
    if path == "-":
        sys.stdout.write(data)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog=PROG, description="Show, merge and export the findings of lockwatch's JSON Lines logs "
        "(LOCKWATCH_FORMAT=json). Without a mode option: a summary table and every finding.")
    p.add_argument("logs", nargs="+", metavar="LOG", help="JSON Lines logs (any number; merged)")
    p.add_argument("-i", "--interactive", action="store_true", help="browse the findings in the terminal")
    p.add_argument("--dot", metavar="FILE", help="write the lock-order graph in graphviz's dot language")
    p.add_argument("--svg", metavar="FILE", help="write the lock-order graph as SVG (needs graphviz's dot)")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML page")
    p.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code-scanning tools")
    p.add_argument("--suppressions", action="store_true", help="print a suppression rule per finding")
    p.add_argument("--order", metavar="FILE", help="write the observed lock order (a file to commit)")
    p.add_argument("--version", action="version", version="%s %s" % (PROG, VERSION))
    a = p.parse_args(argv)

    log = load(a.logs)
    if not log.files:
        note("error: none of the logs could be read")
        return 2
    try:
        if a.svg:
            svg = dot_to_svg(render_dot(build_graph(log)))
            if svg is None:
                note("error: --svg needs graphviz's dot, which is not installed (Debian: "
                     "apt-get install graphviz); --dot FILE writes the graph for rendering elsewhere")
                return 2
            write_file(a.svg, svg)
        if a.dot:
            write_file(a.dot, render_dot(build_graph(log)))
        if a.html:
            write_file(a.html, render_html(log))
        if a.sarif:
            write_file(a.sarif, render_sarif(log))
        if a.order:
            write_file(a.order, render_order(build_graph(log), len(log.files)))
        if a.suppressions:
            sys.stdout.write(render_suppressions(log))
        if a.interactive:
            if not sys.stdin.isatty() or not sys.stdout.isatty():
                note("error: -i needs a terminal")
                return 2
            interactive(log)
        if not (a.svg or a.dot or a.html or a.sarif or a.order or a.suppressions or a.interactive):
            sys.stdout.write("\n".join(map(for_terminal, render_text(log))) + "\n")
    except OSError as e:
        note("error: %s: %s" % (e.filename or "", e.strerror or e))
        return 2
    except RuntimeError as e:
        note("error: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
