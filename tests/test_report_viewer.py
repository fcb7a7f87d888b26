#!/usr/bin/env python3
"""lockwatch-report, the viewer (tools/lockwatch-report.py), on recorded logs.

The logs in tests/data/ are real ones, written by `tools/lockwatch` with
LOCKWATCH_FORMAT=json on the examples (inversion twice, deadlock_2threads,
cycle4, cxx_inversion, blocking_pipe, double_lock with
LOCKWATCH_GEN_SUPPRESSIONS=1), and three made from them: truncated.jsonl (a
stray non-JSON line, then deadlock_2threads's log with its last line cut in
half, as a killed process leaves it), hostile.jsonl (inversion with lock,
thread and function names that are HTML, shell and terminal injections) and
inversion-lines.jsonl (inversion's frames given `file` and `line` by
addr2line, as the core will write them).  order_pair-ab.jsonl is a clean
run of examples/order_pair ab (its graph record only) and
order-violation.jsonl a run of order_pair ba with the order file made from
it (the order-violation, then the graph record).

The HTML page in a browser is tests/test_report_browser.py.
"""
import html.parser
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import lwtest as lw

HOSTILE = ('<script>alert(1)</script>', '"; rm -rf / #', '</pre><img src=x onerror=alert(2)>')


def viewer():
    return os.path.join(os.path.dirname(lw.launcher()), "lockwatch-report")


def data(name):
    return os.path.join(lw.srcdir(), "tests", "data", name)


def run(args, env=None, cwd=None):
    return subprocess.run([sys.executable, viewer()] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd=cwd,
                          timeout=120, check=False)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lw-viewer-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)


class TextMode(Tmp):
    def test_truncated_log(self):
        r = run([data("truncated.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("line 3 is cut short", r.stderr)
        self.assertIn("1 line(s) that are not lockwatch JSON records skipped", r.stderr)
        self.assertIn("1 finding(s) in 1 record(s) from 1 log(s)", r.stdout)
        self.assertIn("lock-order-inversion", r.stdout)
        self.assertNotIn("\ndeadlock ", r.stdout)

    def test_merge_by_fingerprint(self):
        r = run([data("inversion-run1.jsonl"), data("inversion-run2.jsonl"),
                 data("deadlock_2threads.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 finding(s) in 4 record(s) from 3 log(s)", r.stdout)
        rows = [l.split() for l in r.stdout.splitlines() if l.startswith("lock-order-inversion ")]
        # inversion's two runs: one finding, seen twice in two processes
        self.assertIn(["lock-order-inversion", "2", "2", "take_a_then_b", "inversion+0x11a3"], rows)
        self.assertIn("2 time(s) in 2 process(es)", r.stdout)

    def test_stacks_and_source(self):
        r = run([data("inversion-lines.jsonl")], cwd=lw.srcdir())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("previously acquired by the same thread", r.stdout)
        self.assertIn("take_a_then_b examples/inversion.c:29", r.stdout)
        # the line with two lines of context on each side, the line marked
        with open(os.path.join(lw.srcdir(), "examples", "inversion.c")) as f:
            src = f.read().split("\n")
        for n in range(27, 32):
            self.assertIn("%5d | %s" % (n, src[n - 1].rstrip()), r.stdout)
        self.assertRegex(r.stdout, r">\s+29 \| ")

    def test_no_source_without_lines(self):
        r = run([data("inversion-run1.jsonl")], cwd=lw.srcdir())
        self.assertNotIn(" | ", r.stdout)
        self.assertIn("/examples/inversion+0x11a3)", r.stdout)

    def test_first_location_skips_libstdcxx_wrapper(self):
        r = run([data("cxx_inversion.jsonl")])
        row = [l for l in r.stdout.splitlines() if l.startswith("lock-order-inversion ")][0]
        self.assertNotIn("gthread", row)

    def test_terminal_escapes_shown_not_sent(self):
        """hostile.jsonl names a thread with an escape sequence: printed as text."""
        r = run([data("hostile.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        self.assertIn('"\\x1b[2J\\x1b]0;owned\\x07"', r.stdout)

    def test_unreadable(self):
        r = run([self.path("missing.jsonl")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read", r.stderr)


class Outputs(Tmp):
    ALL = ["inversion-run1.jsonl", "deadlock_2threads.jsonl", "cycle4.jsonl",
           "blocking_pipe.jsonl", "cxx_inversion.jsonl"]

    def test_dot(self):
        out = self.path("g.dot")
        r = run(["--dot", out] + [data(x) for x in self.ALL])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            dot = f.read()
        self.assertTrue(dot.startswith("digraph lockwatch {"))
        self.assertIn('"lock_a"', dot)
        self.assertIn('"lock_b"', dot)
        # cycle4: four edges of one cycle, all red
        self.assertGreaterEqual(dot.count("color=red"), 2 + 4)

    def test_dot_unnamed_locks_stay_apart(self):
        """cycle4's four unnamed locks, three first locked at one place: four nodes."""
        out = self.path("g.dot")
        run(["--dot", out, data("cycle4.jsonl")])
        with open(out) as f:
            dot = f.read()
        self.assertEqual(dot.count('label="mutex '), 4)
        self.assertEqual(dot.count(" -> "), 4 + 1)   # and the comment's

    def test_svg_without_dot(self):
        empty = self.path("bin")
        os.mkdir(empty)
        env = dict(os.environ, PATH=empty)
        r = run(["--svg", self.path("g.svg"), data("inversion-run1.jsonl")], env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--svg needs graphviz's dot, which is not installed", r.stderr)
        self.assertFalse(os.path.exists(self.path("g.svg")))

    def test_svg(self):
        if shutil.which("dot") is None:
            self.skipTest("graphviz's dot is not installed")
        out = self.path("g.svg")
        r = run(["--svg", out, data("deadlock_2threads.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            svg = f.read()
        self.assertIn("<svg", svg)
        self.assertIn("lock_a", svg)

    def test_html(self):
        out = self.path("r.html")
        r = run(["--html", out] + [data(x) for x in self.ALL])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            page = f.read()
        self.assertIn("<details", page)
        self.assertIn('id="summary"', page)
        self.assertIn('id="graph"', page)
        self.assertEqual(page.count('class="finding"'), 6)
        Wellformed().feed(page)

    def test_html_without_dot(self):
        """Without graphviz the page's graph is a table of edges."""
        empty = self.path("bin")
        os.mkdir(empty)
        out = self.path("r.html")
        r = run(["--html", out, data("deadlock_2threads.jsonl")], env=dict(os.environ, PATH=empty))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            page = f.read()
        graph = page[page.index('id="graph"'):page.index("<h2>Findings")]
        self.assertNotIn("<svg", graph)
        self.assertIn("dot is not installed", graph)
        self.assertIn("<td>lock_a</td><td>lock_b</td>", graph)

    def test_graph_record(self):
        """A {"kind":"graph"} record (the whole run's graph) adds its edges,
        not highlighted; locks without a "key" member (an older log) are
        named as before."""
        sys.path.insert(0, os.path.join(lw.srcdir(), "tools"))
        import importlib
        rep = importlib.import_module("lockwatch-report")
        with open(data("inversion-run1.jsonl")) as f:
            inv = json.loads(f.readline())
        gr = {"kind": "graph", "pid": inv["pid"], "truncated": False, "stacks": inv["stacks"],
              "locks": [{"id": "M1", "address": "0x1", "kind": "mutex", "name": "lock_a"},
                        {"id": "M7", "address": "0x2", "kind": "mutex", "name": "lock_c"}],
              "edges": [{"from": "M1", "to": "M7", "thread": "T1", "stack": 0}]}
        path = self.path("g.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(gr) + "\n")
        log = rep.load([data("deadlock_2threads.jsonl"), path])
        self.assertEqual(len(log.findings), 2)
        g = rep.build_graph(log)
        self.assertFalse(g.edges[("lock_a", "lock_c")]["cycle"])
        self.assertTrue(g.edges[("lock_a", "lock_b")]["cycle"])
        locks, edges, cycles = rep.parse_order(rep.render_order(g, 2))
        self.assertLess(locks.index("lock_b"), locks.index("lock_c"))

    def test_html_escapes_hostile_names(self):
        out = self.path("r.html")
        r = run(["--html", out, data("hostile.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            page = f.read()
        for s in HOSTILE:
            self.assertNotIn(s, page)
        self.assertNotIn("<script", page)
        self.assertNotIn("<img", page)
        self.assertNotIn("<b>", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertIn("&quot;; rm -rf / #", page)
        p = Wellformed()
        p.feed(page)
        self.assertNotIn("script", p.tags)
        self.assertNotIn("img", p.tags)

    def test_dot_escapes_hostile_names(self):
        out = self.path("g.dot")
        r = run(["--dot", out, data("hostile.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            dot = f.read()
        self.assertIn('label="\\"; rm -rf / #"', dot)
        if shutil.which("dot"):
            c = subprocess.run(["dot", "-Tsvg", out], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, check=False)
            self.assertEqual(c.returncode, 0, c.stderr)
            self.assertNotIn(b"<script", c.stdout)

    def test_sarif(self):
        out = self.path("r.sarif")
        r = run(["--sarif", out] + [data(x) for x in self.ALL + ["inversion-lines.jsonl"]])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            doc = json.load(f)
        # the members the SARIF 2.1.0 schema requires, and those code
        # scanning needs
        self.assertEqual(doc["version"], "2.1.0")
        self.assertIn("sarif-schema-2.1.0.json", doc["$schema"])
        self.assertEqual(len(doc["runs"]), 1)
        run0 = doc["runs"][0]
        driver = run0["tool"]["driver"]
        self.assertEqual(driver["name"], "lockwatch")
        rule_ids = [x["id"] for x in driver["rules"]]
        self.assertEqual(len(rule_ids), len(set(rule_ids)))
        # 6 findings of the logs, and inversion-lines has run1's fingerprint
        self.assertEqual(len(run0["results"]), 6)
        for res in run0["results"]:
            self.assertIn(res["ruleId"], rule_ids)
            self.assertEqual(rule_ids[res["ruleIndex"]], res["ruleId"])
            self.assertIn(res["level"], ("none", "note", "warning", "error"))
            self.assertTrue(res["message"]["text"])
            self.assertRegex(res["partialFingerprints"]["lockwatch/v1"], "^[0-9a-f]{16}$")
            self.assertEqual(len(res["locations"]), 1)
            loc = res["locations"][0]
            self.assertTrue(loc["logicalLocations"][0]["name"])
            if "physicalLocation" in loc:
                pl = loc["physicalLocation"]
                self.assertTrue(pl["artifactLocation"]["uri"])
                self.assertGreaterEqual(pl["region"]["startLine"], 1)
        # the inversion finding first read from inversion-lines? no: run1 came
        # first, without lines; read the lines log alone for the region
        r = run(["--sarif", out, data("inversion-lines.jsonl")])
        with open(out) as f:
            loc = json.load(f)["runs"][0]["results"][0]["locations"][0]
        self.assertEqual(loc["physicalLocation"]["artifactLocation"]["uri"], "examples/inversion.c")
        self.assertEqual(loc["physicalLocation"]["region"]["startLine"], 29)

    def test_suppressions(self):
        r = run(["--suppressions", data("misuse-gen-suppressions.jsonl"), data("inversion-run1.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("double-lock:add_item", lines)   # the log's own rule
        self.assertIn("lock-order-inversion:fingerprint:7f64b0cea0c2efbf", lines)

    def test_suppressions_are_accepted(self):
        """The rules printed from a run's log silence its findings in the next
        run (lockwatch(5))."""
        supp = self.path("lw.supp")
        first = lw.run_preload([lw.example("inversion")])
        self.assertEqual(first.returncode, 66, first.describe())
        log = self.path("inversion.jsonl")
        with open(log, "w") as f:
            f.write(first.log_text)
        r = run(["--suppressions", log])
        self.assertIn("lock-order-inversion:fingerprint:", r.stdout)
        with open(supp, "w") as f:
            f.write(r.stdout)
        res = lw.run_preload([lw.example("inversion")],
                             extra_env={"LOCKWATCH_SUPPRESSIONS": supp})
        self.assertEqual(res.returncode, 0, res.describe())

    def test_order_round_trip(self):
        out = self.path("order.txt")
        logs = [data(x) for x in ("deadlock_2threads.jsonl", "cycle4.jsonl", "hostile.jsonl")]
        r = run(["--order", out] + logs)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            txt = f.read()
        sys.path.insert(0, os.path.join(lw.srcdir(), "tools"))
        import importlib
        rep = importlib.import_module("lockwatch-report")
        locks, edges, cycles = rep.parse_order(txt)
        self.assertIn("lock_a", locks)
        self.assertIn('"; rm -rf / #', locks)
        self.assertIn(("lock_a", "lock_b"), edges)
        self.assertIn(["lock_a", "lock_b"], cycles)
        # every lock once; every edge either goes down the order or lies in a cycle
        self.assertEqual(len(locks), len(set(locks)))
        pos = {k: i for i, k in enumerate(locks)}
        in_cycle = {k: n for n, c in enumerate(cycles) for k in c}
        for a, b in edges:
            self.assertTrue(pos[a] < pos[b] or in_cycle.get(a, -1) == in_cycle.get(b, -2), (a, b))
        # written again from what was read: the same file
        g = rep.Graph()
        for k in locks:
            g.add_node(k, "mutex")
        for line in txt.split("\n"):
            f = line.split("\t")
            if f[0] == "edge":
                where = rep.order_unescape(f[3][len("# thread "):])
                th, _, where = where.partition(" at ")
                g.add_edge(rep.order_unescape(f[1]), rep.order_unescape(f[2]), where, th, True, None)
        self.assertEqual(rep.render_order(g, len(logs)), txt)

    def test_order_acyclic(self):
        """Without a cycle the order is a topological one."""
        sys.path.insert(0, os.path.join(lw.srcdir(), "tools"))
        import importlib
        rep = importlib.import_module("lockwatch-report")
        g = rep.Graph()
        for k in ("c", "a", "b", "d\tx"):
            g.add_node(k, "mutex")
        for a, b in (("a", "b"), ("b", "c"), ("a", "c"), ("d\tx", "a")):
            g.add_edge(a, b, "f x.c:1", "T1", False, None)
        locks, edges, cycles = rep.parse_order(rep.render_order(g, 1))
        self.assertEqual(locks, ["d\tx", "a", "b", "c"])
        self.assertEqual(cycles, [])
        self.assertEqual(len(edges), 4)


class GraphAndOrder(Tmp):
    """The graph record the library writes at exit (order_pair-ab.jsonl: a
    clean run of examples/order_pair ab), the order file made from it, and
    the order-violation a later run reports against that file
    (order-violation.jsonl: examples/order_pair ba with it)."""

    def setUp(self):
        super().setUp()
        sys.path.insert(0, os.path.join(lw.srcdir(), "tools"))
        import importlib
        self.rep = importlib.import_module("lockwatch-report")

    def test_graph_record_read(self):
        log = self.rep.load([data("order_pair-ab.jsonl")])
        self.assertEqual(log.findings, [])
        self.assertEqual(len(log.graphs), 1)
        g = self.rep.build_graph(log)
        self.assertEqual(set(g.nodes), {"queue_lock", "stats_lock"})
        e = g.edges[("queue_lock", "stats_lock")]
        self.assertFalse(e["cycle"])
        self.assertFalse(e["violation"])
        self.assertIn("queue_then_stats", e["where"])
        # not a finding: the text mode counts it as a record only
        r = run([data("order_pair-ab.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 finding(s) in 1 record(s) from 1 log(s)", r.stdout)

    def test_graph_record_drawn(self):
        out = self.path("g.dot")
        r = run(["--dot", out, data("order_pair-ab.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            dot = f.read()
        ids = dict(re.findall(r'^  (n\d+) \[label="([^"]*)"\];$', dot, re.M))
        by_label = {v: k for k, v in ids.items()}
        self.assertIn("queue_lock", by_label)
        self.assertIn("stats_lock", by_label)
        edge = [l for l in dot.splitlines()
                if l.strip().startswith("%s -> %s " % (by_label["queue_lock"], by_label["stats_lock"]))]
        self.assertEqual(len(edge), 1, dot)
        self.assertNotIn("color=red", edge[0])

    def test_order_from_graph_record(self):
        out = self.path("lock.order")
        r = run(["--order", out, data("order_pair-ab.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            txt = f.read()
        locks, edges, cycles = self.rep.parse_order(txt)
        self.assertEqual(locks, ["queue_lock", "stats_lock"])
        self.assertEqual(edges, [("queue_lock", "stats_lock")])
        self.assertEqual(cycles, [])

    def test_order_round_trip(self):
        """Written with --order, parsed back, written again from what was
        read: the same order, the same file."""
        out = self.path("lock.order")
        logs = [data(x) for x in ("order_pair-ab.jsonl", "cycle4.jsonl", "deadlock_2threads.jsonl")]
        r = run(["--order", out] + logs)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            txt = f.read()
        locks, edges, cycles = self.rep.parse_order(txt)
        self.assertLess(locks.index("queue_lock"), locks.index("stats_lock"))
        g = self.rep.Graph()
        for k in locks:
            g.add_node(k, "mutex")
        for line in txt.split("\n"):
            f = line.split("\t")
            if f[0] == "edge":
                th, _, where = self.rep.order_unescape(f[3][len("# thread "):]).partition(" at ")
                g.add_edge(self.rep.order_unescape(f[1]), self.rep.order_unescape(f[2]), where, th,
                           False, None)
        again = self.rep.render_order(g, len(logs))
        self.assertEqual(again, txt)
        self.assertEqual(self.rep.parse_order(again), (locks, edges, cycles))

    def test_order_violation_shown(self):
        r = run([data("order-violation.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 finding(s) in 2 record(s) from 1 log(s)", r.stdout)
        self.assertIn("order-violation", r.stdout)
        self.assertIn("previously acquired by the same thread", r.stdout)
        self.assertIn("stats_then_queue", r.stdout)
        log = self.rep.load([data("order-violation.jsonl"), data("order_pair-ab.jsonl")])
        g = self.rep.build_graph(log)
        self.assertTrue(g.edges[("stats_lock", "queue_lock")]["violation"])
        self.assertFalse(g.edges[("queue_lock", "stats_lock")]["violation"])
        dot = self.rep.render_dot(g)
        self.assertIn("color=orange", dot)
        # both orders seen: the order written from both logs has a cycle
        locks, edges, cycles = self.rep.parse_order(self.rep.render_order(g, 2))
        self.assertIn(["queue_lock", "stats_lock"], cycles)

    def test_order_violation_sarif(self):
        out = self.path("r.sarif")
        r = run(["--sarif", out, data("order-violation.jsonl")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            doc = json.load(f)
        run0 = doc["runs"][0]
        rules = run0["tool"]["driver"]["rules"]
        self.assertEqual([x["id"] for x in rules], ["order-violation"])
        self.assertIn("LOCKWATCH_ORDER_FILE", rules[0]["shortDescription"]["text"])
        self.assertEqual(len(run0["results"]), 1)
        self.assertEqual(run0["results"][0]["level"], "warning")
        self.assertIn("stats_then_queue", json.dumps(run0["results"][0]["locations"]))


class Wellformed(html.parser.HTMLParser):
    """Collects the tags of a page; fails on a closing tag never opened."""
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self):
        super().__init__()
        self.tags = set()
        self.open = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            while self.open.pop() != tag:
                pass
        else:
            raise AssertionError("closing tag </%s> never opened" % tag)


class Interactive(unittest.TestCase):
    """-i through a pseudo-terminal: opens, lists, opens a finding, quits."""

    def read_until(self, fd, want, timeout=30):
        buf = b""
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                if all(w.encode() in buf for w in want):
                    return buf
        self.fail("no %r on the terminal in %ds; got %r" % (want, timeout, buf[-2000:]))

    def test_browse(self):
        import fcntl
        import termios
        pid, fd = pty.fork()
        if pid == 0:
            env = dict(os.environ, TERM="xterm", LINES="40", COLUMNS="160")
            os.execve(sys.executable, [sys.executable, viewer(), "-i", data("deadlock_2threads.jsonl"),
                                       data("blocking_pipe.jsonl")], env)
        try:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
            self.read_until(fd, ["3 finding(s)", "lock-order-inversion", "deadlock",
                                 "blocking-call-under-lock", "Enter open"])
            os.write(fd, b"\r")
            self.read_until(fd, ["previously acquired by the same thread", "next/prev stack"])
            os.write(fd, b"\t")
            os.write(fd, b"g")
            self.read_until(fd, ["Graph around lock_a", "next lock"])
            os.write(fd, b"q")
            os.write(fd, b"q")
            os.write(fd, b"f")
            self.read_until(fd, ["of kind blocking-call-under-lock"])
            os.write(fd, b"q")
            end = time.time() + 30
            while time.time() < end:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                select.select([fd], [], [], 0.2) and self.drain(fd)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.fail("the viewer did not quit on q")
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)
        finally:
            os.close(fd)

    @staticmethod
    def drain(fd):
        try:
            os.read(fd, 65536)
        except OSError:
            pass
        return True


def main(t):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    t.require(res.wasSuccessful(), "%d failure(s), %d error(s) in the viewer's unit tests"
              % (len(res.failures), len(res.errors)))


if __name__ == "__main__":
    lw.main(main)
