"""The layers of DESIGN.md "Findings are data", checked on the sources and
the built objects: the writer (src/report.c) includes nothing of the core
but the finding header; the finding header needs only the base layer; no
core object but the sink calls the writer; and the core's objects never
call the old report entry points."""
import os
import re
import shutil
import subprocess

import lwtest as lw

# Headers of the core proper: the writer must not see them.
CORE_HEADERS = {"lw_core.h", "thread.h", "registry.h", "graph.h", "rules.h", "deadlock.h",
                "intercept.h"}
# What report.c may include besides system headers: its own header, the
# finding, and the base layer (memory, formatting, logging, options, and the
# symboliser it formats stacks with, and lockname.h, which tells what a
# lock's memory is from its address alone, beside the symboliser).
REPORT_ALLOWED = {"report.h", "finding.h", "arena.h", "fmt.h", "log.h", "lw_atomic.h",
                  "lw_base.h", "lw_sys.h", "options.h", "stacks.h", "lockname.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(path):
    with open(path, encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def closure(src, name, seen=None):
    """Every project header reached from name (a file in src)."""
    seen = set() if seen is None else seen
    for inc in includes(os.path.join(src, name)):
        if inc not in seen and os.path.isfile(os.path.join(src, inc)):
            seen.add(inc)
            closure(src, inc, seen)
    return seen


def main(t):
    src = os.path.join(lw.srcdir(), "src")
    direct = set(includes(os.path.join(src, "report.c")))
    t.expect(direct <= REPORT_ALLOWED, "src/report.c includes %s, outside the finding header "
             "and the base layer" % sorted(direct - REPORT_ALLOWED))
    reached = closure(src, "report.c")
    t.expect(not (reached & CORE_HEADERS), "src/report.c reaches core headers %s through %s"
             % (sorted(reached & CORE_HEADERS), sorted(reached)))
    fh = closure(src, "finding.h")
    t.expect(fh <= {"lw_base.h"}, "src/finding.h includes %s (only lw_base.h is allowed)"
             % sorted(fh))

    # The built core: who calls the writer.
    lib = os.environ.get("LW_LIB", "")
    archive = os.path.join(os.path.dirname(lib), "liblwcore.a")
    if not shutil.which("nm"):
        raise lw.Skip("nm is not installed")
    t.require(os.path.isfile(archive), "%s was not built" % archive)
    out = subprocess.run(["nm", "-A", "-u", archive], capture_output=True, text=True, check=True)
    callers = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^.*?:([^:]+\.o):\s+U\s+(\S+)$", line)
        if m:
            callers.setdefault(m.group(2), set()).add(m.group(1))
    writer = callers.get("lw_report_finding", set())
    t.expect(writer and all("sink" in o for o in writer),
             "lw_report_finding is called from %s; only the sink may call the writer"
             % sorted(writer))
    for old in ("lw_report_issue", "lw_report_inversion", "lw_issue_new"):
        t.expect(old not in callers, "%s is still called by %s" % (old, sorted(callers.get(old, ()))))


lw.main(main)
