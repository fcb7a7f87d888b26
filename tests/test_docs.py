"""The manuals and --help agree with the code:
  - every LOCKWATCH_* variable of src/options.def is documented in the
    ENVIRONMENT sections of both lockwatch(1) and lockwatch(7), each with a
    default and an example;
  - every option the launcher accepts (its parser's cases and one per table
    row) is in `lockwatch --help` and in lockwatch(1);
  - `groff -ww -man -z` is silent on every page in man/;
  - every page in man/ is installed by man/Makefile.am;
  - lockwatch(3) exists and documents every function and macro of
    include/lockwatch.h."""
import glob
import os
import re
import shutil
import subprocess

import lwtest as lw

OPT = re.compile(r"^\s*LW_OPT_[A-Z]+\s*\(\s*\w+\s*,\s*(LOCKWATCH_[A-Z0-9_]+)\s*,", re.M)
# Options the launcher's own parser knows besides the table's rows.
LAUNCHER_CASE = re.compile(r"^\s+(-[-\w |*=]+)\)\s*$", re.M)


def plain(text):
    # roff escapes \- and \_ would hide a name from a plain search
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\_", "_").replace("\\-", "-").replace("\\&", "")


def section(page, title):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH |\Z)" % re.escape(title), page, re.M | re.S)
    return m.group(1) if m else ""


def entries(env):
    """NAME -> text of its .TP entry in an ENVIRONMENT section."""
    out = {}
    for m in re.finditer(r"^\.TP\n\.B (LOCKWATCH_\w+)\n(.*?)(?=^\.TP\n|^\.PP\n|\Z)", env,
                         re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def main(t):
    top = lw.srcdir()
    options = os.path.join(top, "src", "options.def")
    with open(options, encoding="utf-8") as f:
        names = OPT.findall(f.read())
    t.require(names, "no LW_OPT_*(field, LOCKWATCH_NAME, ...) row found in %s" % options)
    t.note("options.def defines: " + ", ".join(names))

    for page in ("lockwatch.1", "lockwatch.7"):
        path = os.path.join(top, "man", page)
        t.require(os.path.isfile(path), "%s does not exist" % path)
        with open(path, encoding="utf-8") as f:
            env = plain(section(f.read(), "ENVIRONMENT"))
        t.expect(env, "%s has no ENVIRONMENT section" % page)
        ent = entries(env)
        for name in names:
            if name not in ent:
                t.expect(False, "%s is in src/options.def but has no entry in the "
                         "ENVIRONMENT section of %s" % (name, page))
                continue
            t.expect("Default" in ent[name], "%s: ENVIRONMENT entry %s gives no default"
                     % (page, name))
            t.expect("Example" in ent[name], "%s: ENVIRONMENT entry %s gives no example"
                     % (page, name))

    # Every launcher option in --help and in lockwatch(1).
    launcher_src = os.path.join(top, "tools", "lockwatch.in")
    with open(launcher_src, encoding="utf-8") as f:
        src = f.read()
    loop = src[src.index("# Command line"):src.index("# The library")]
    opts = set()
    for m in LAUNCHER_CASE.finditer(loop):
        for alt in m.group(1).split("|"):
            alt = alt.strip().split("=")[0]
            if re.match(r"^--?[a-z]", alt) and "*" not in alt:
                opts.add(alt)
    opts.add("--library")
    for name in names:
        opts.add("--" + name[len("LOCKWATCH_"):].lower().replace("_", "-"))
    t.note("launcher options: " + " ".join(sorted(opts)))
    env = lw.base_env()
    rc, out, err, _ = lw.run([lw.launcher(), "--help"], env)
    t.require(rc == 0, "lockwatch --help: exit %d\n%s" % (rc, err))
    with open(os.path.join(top, "man", "lockwatch.1"), encoding="utf-8") as f:
        man1 = plain(section(f.read(), "OPTIONS"))
    for o in sorted(opts):
        t.expect(re.search(r"(^|[\s,])%s\b" % re.escape(o), out, re.M),
                 "launcher option %s is not in lockwatch --help" % o)
        t.expect(re.search(r"^\.B[IR]? (.*[\s\"])?%s\b" % re.escape(o), man1, re.M),
                 "launcher option %s has no entry in the OPTIONS of lockwatch(1)" % o)

    # lockwatch(3): the public header, every name in it.
    with open(os.path.join(top, "include", "lockwatch.h"), encoding="utf-8") as f:
        header = f.read()
    api = sorted(set(re.findall(r"\b(lockwatch_\w+)\s*\(", header)) |
                 set(re.findall(r"#define\s+(LOCKWATCH_\w+)", header)) - {"LOCKWATCH_H"})
    t.require(api, "no lockwatch_* function found in include/lockwatch.h")
    man3 = os.path.join(top, "man", "lockwatch.3")
    t.expect(os.path.isfile(man3), "%s does not exist" % man3)
    if os.path.isfile(man3):
        with open(man3, encoding="utf-8") as f:
            page3 = plain(f.read())
        for name in api:
            t.expect(name in page3, "%s is declared in include/lockwatch.h but not documented "
                     "in lockwatch(3)" % name)

    # groff finds nothing to complain about, and every page is installed.
    pages = sorted(glob.glob(os.path.join(top, "man", "lockwatch*.[0-9]")))
    with open(os.path.join(top, "man", "Makefile.am"), encoding="utf-8") as f:
        man_am = f.read()
    for p in pages:
        t.expect(os.path.basename(p) in man_am, "%s is not installed by man/Makefile.am" % p)
    if not shutil.which("groff"):
        raise lw.Skip("groff is not installed: the pages were not checked with groff -ww")
    for p in pages:
        r = subprocess.run(["groff", "-ww", "-man", "-z", p], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        t.expect(r.returncode == 0 and not r.stdout.strip(),
                 "groff -ww -man -z %s: exit %d\n%s" % (p, r.returncode, r.stdout))


lw.main(main)
