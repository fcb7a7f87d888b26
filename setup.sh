#!/bin/sh
# setup.sh: install what lockwatch needs to build on Debian 12, build it, and
# show it finding a real lock-order inversion.  Non-interactive; run it as
# root or as a user with sudo, from the top of the source tree.  Running it
# again is harmless: it installs only what is missing and rebuilds.
set -eu

cd "$(dirname "$0")"

say() {
    printf '\n==> %s\n' "$*"
}

# Debian packages: compiler and Autotools, libunwind (backtraces), uthash
# (the stack depot's hash), Check (unit tests), python3 (integration tests),
# g++ (C++ test programs), libdw-dev and libiberty-dev (lockwatch-symbolizer:
# source lines and inlined frames from DWARF, demangled C++ names),
# libcapstone-dev (the instruction decoder of sampled race detection), graphviz
# (lockwatch-report's --svg and the HTML page's graph), chromium (the test
# that loads that page in a browser).
packages='build-essential autoconf automake libtool pkg-config libunwind-dev uthash-dev check python3 g++ libdw-dev libiberty-dev libcapstone-dev graphviz chromium'

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup.sh: this is not a Debian system; install the equivalents of: $packages" >&2
    echo "setup.sh: then run: autoreconf -fi && ./configure && make" >&2
    exit 1
fi

missing=
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=
    elif command -v sudo >/dev/null 2>&1; then
        as_root=sudo
    else
        echo "setup.sh: missing Debian packages:$missing" >&2
        echo "setup.sh: run this script as root, or install sudo, or install them yourself" >&2
        exit 1
    fi
    say "Installing Debian packages:$missing"
    # shellcheck disable=SC2086 # $as_root and $missing are word lists
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    # shellcheck disable=SC2086
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null
else
    say "Debian packages: all present"
fi

say "Building (autoreconf -fi, ./configure, make)"
autoreconf -fi
./configure
make -j"$(nproc)"

# The demo: two threads take two mutexes in opposite orders.  lockwatch
# reports the inversion even when the run happens not to deadlock, and the
# program then exits with status 66 (LOCKWATCH_EXITCODE), meaning "lockwatch
# reported something".  The timeout only guards against a broken build.
say "Demo: tools/lockwatch examples/inversion"
# The demo uses the defaults and the library just built, whatever is set.
unset LOCKWATCH_FORMAT LOCKWATCH_LOG LOCKWATCH_EXITCODE LOCKWATCH_LIBRARY
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
timeout 120 tools/lockwatch examples/inversion 2>"$report" </dev/null || status=$?
cat "$report" >&2

if [ "$status" -eq 66 ] && grep -q '^WARNING: lockwatch: lock-order inversion' "$report"; then
    cat <<'EOF'

setup.sh: done.  The report above is lockwatch finding a real lock-order
inversion in examples/inversion; exit status 66 is lockwatch's "found
something" status (set LOCKWATCH_EXITCODE to change it), so the demo worked.
Next: run the test suite with   make check
Run your own program with       tools/lockwatch ./your-program [args]
EOF
    exit 0
fi

echo "" >&2
echo "setup.sh: the demo did not produce the expected report (exit status $status, expected 66 and a lock-order-inversion report)" >&2
exit 1
