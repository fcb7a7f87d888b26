#!/usr/bin/env python3
"""lockwatch-report --html in a real browser: headless Chromium loads the
page written from recorded logs (tests/data) with no console message (the
page has no script: any message is an error) and its DOM holds the summary,
every finding and the graph.  A control page with a console.error proves
the console is seen.  Skipped, loudly, where Chromium is not installed
(setup.sh installs it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import lwtest as lw

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LOGS = ("inversion-run1.jsonl", "deadlock_2threads.jsonl", "cycle4.jsonl", "blocking_pipe.jsonl",
        "hostile.jsonl")


def load(browser, path):
    """(DOM after load, console lines)."""
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--user-data-dir=" + os.path.dirname(path) + "/profile",
                        "--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=120, check=False)
    if r.returncode != 0:
        raise lw.Failure("%s exited with status %d: %s" % (browser, r.returncode, r.stderr[-2000:]))
    return r.stdout, [l for l in r.stderr.splitlines() if ":CONSOLE" in l]


def main(t):
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        print("*" * 72)
        print("SKIP: no Chromium (%s) in PATH: the HTML page was NOT checked in a browser."
              % ", ".join(BROWSERS))
        print("      setup.sh installs it (Debian package chromium).")
        print("*" * 72)
        raise lw.Skip("Chromium is not installed")
    tmp = tempfile.mkdtemp(prefix="lw-browser-")
    try:
        ctl = os.path.join(tmp, "control.html")
        with open(ctl, "w") as f:
            f.write('<!DOCTYPE html><html><body><script>console.error("lw-control")</script>'
                    "</body></html>\n")
        _, console = load(browser, ctl)
        t.require(any("lw-control" in l for l in console),
                  "the browser's console is not seen (control page's console.error missing)")

        page = os.path.join(tmp, "report.html")
        viewer = os.path.join(os.path.dirname(lw.launcher()), "lockwatch-report")
        logs = [os.path.join(lw.srcdir(), "tests", "data", x) for x in LOGS]
        r = subprocess.run([sys.executable, viewer, "--html", page] + logs, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
        t.require(r.returncode == 0, "lockwatch-report --html failed: " + r.stderr)
        dom, console = load(browser, page)
        t.expect(not console, "console messages on the report page: %s" % console)
        t.expect('id="summary"' in dom, "no summary table in the DOM")
        n = len(re.findall(r'class="finding"', dom))
        t.expect(n == 6, "%d findings in the DOM, expected 6" % n)
        t.expect("<details" in dom and "previously acquired by the same thread" in dom,
                 "no collapsible stacks in the DOM")
        graph = dom[dom.find('id="graph"'):dom.find("<h2>Findings")]
        t.expect("lock_a" in graph and "lock_b" in graph, "the graph does not show lock_a and lock_b")
        if shutil.which("dot"):
            t.expect("<svg" in graph, "dot is installed but the graph is not an inline SVG")
        t.expect("<script" not in dom.lower(), "a script element in the DOM (hostile.jsonl)")
        t.expect("&lt;script&gt;alert(1)&lt;/script&gt;" in dom, "the hostile lock name is not shown escaped")
        t.note("%s: page of %d findings loaded, no console message" % (os.path.basename(browser), n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    lw.main(main)
