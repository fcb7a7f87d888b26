"""Every LOCKWATCH_* variable defined in src/options.def is documented in
man/lockwatch.1."""
import os
import re

import lwtest as lw

OPT = re.compile(r"^\s*LW_OPT_[A-Z]+\s*\(\s*\w+\s*,\s*(LOCKWATCH_[A-Z0-9_]+)\s*,", re.M)


def main(t):
    top = lw.srcdir()
    options = os.path.join(top, "src", "options.def")
    man = os.path.join(top, "man", "lockwatch.1")
    t.require(os.path.isfile(options), "%s does not exist" % options)
    t.require(os.path.isfile(man), "%s does not exist" % man)
    with open(options, encoding="utf-8") as f:
        names = OPT.findall(f.read())
    t.require(names, "no LW_OPT_*(field, LOCKWATCH_NAME, ...) row found in %s" % options)
    t.note("options.def defines: " + ", ".join(names))
    with open(man, encoding="utf-8") as f:
        # roff escapes \- and \_ would hide a name from a plain search
        page = f.read().replace("\\_", "_").replace("\\-", "-").replace("\\&", "")
    for name in names:
        t.expect(name in page, "%s is defined in src/options.def but not documented in %s"
                 % (name, man))


lw.main(main)
