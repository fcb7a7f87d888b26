#!/bin/sh
# need-packages.sh COMMAND:PACKAGE...: installs the Debian packages whose
# command is missing (apt-get, as root or through sudo; idempotent), for the
# checks outside `make check` that need more than setup.sh installs
# (check-fuzz: clang and its libFuzzer runtime; check-model: spin).  A
# PACKAGE may name a file instead of a command: FILE=PATH:PACKAGE.
# Exit status 1, with one line saying what to install, when it cannot.
set -u
missing=
for pair in "$@"; do
    what=${pair%%:*}
    pkg=${pair#*:}
    case $what in
    FILE=*) [ -e "${what#FILE=}" ] && continue ;;
    *) command -v "$what" >/dev/null 2>&1 && continue ;;
    esac
    missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    as_root=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=sudo
else
    echo "need-packages.sh: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "need-packages.sh: installing:$missing"
# shellcheck disable=SC2086 # word lists
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null ||
    { $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null &&
      $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null; } ||
    { echo "need-packages.sh: could not install:$missing" >&2; exit 1; }
