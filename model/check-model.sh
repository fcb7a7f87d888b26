#!/bin/sh
# check-model.sh: `make check-model`'s work (model/Makefile.am says what).
# Usage: check-model.sh SRCDIR  (environment: SPIN, PAN_CC, PAN_CFLAGS,
# PAN_DEPTH, MODEL_FLAGS, BROKEN_VARIANTS).  Exit status 0 when the model
# holds (no assertion violation or invalid end state, no non-progress
# cycle) and every broken variant fails the safety search.
set -u
src=$(cd "${1:-.}" && pwd)
SPIN=${SPIN:-spin}
PAN_CC=${PAN_CC:-cc}
PAN_CFLAGS=${PAN_CFLAGS:--O2 -w -DCOLLAPSE -DMEMLIM=8192}
PAN_DEPTH=${PAN_DEPTH:-20000}
MODEL_FLAGS=${MODEL_FLAGS:-}
BROKEN_VARIANTS=${BROKEN_VARIANTS:-BROKEN_V1 BROKEN_NO_ODD_CHECK BROKEN_LATE_BUCKET BROKEN_NO_BUCKET_CHECK BROKEN_NO_REUSE_BUMP}

# run NAME SPIN-DEFINES PAN-DEFINES PAN-FLAGS: one search in run/NAME;
# prints pan's summary; pan's whole output stays in run/NAME/out.
run() {
    rm -rf "run/$1" && mkdir -p "run/$1" || exit 1
    (
        cd "run/$1" || exit 1
        cp "$src/registry.pml" . || exit 1
        # shellcheck disable=SC2086
        $SPIN $2 $MODEL_FLAGS -a registry.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
        # shellcheck disable=SC2086
        $PAN_CC $PAN_CFLAGS $3 -o pan pan.c || exit 1
        start=$(date +%s)
        # shellcheck disable=SC2086
        ./pan -m"$PAN_DEPTH" $4 >out 2>&1
        grep -E "^(pan:|State-vector| *[0-9.e+]+ states, stored)" out | sed 's/^/    /'
        echo "    ($(( $(date +%s) - start )) s)"
    ) || exit 1
}

echo "check-model: $($SPIN -V)"
echo "check-model: safety (assertions, invalid end states) ${MODEL_FLAGS}"
run safety "" -DSAFETY ""
grep -q "errors: 0" run/safety/out || { echo "check-model: FAILED: the model has a violation"; exit 1; }
echo "check-model: termination (non-progress cycles) ${MODEL_FLAGS}"
run progress "" -DNP -l
grep -q "errors: 0" run/progress/out || { echo "check-model: FAILED: a lookup may never end"; exit 1; }
for v in $BROKEN_VARIANTS; do
    echo "check-model: broken variant $v (must fail)"
    run "$v" "-D$v" -DSAFETY ""
    if ! grep -q "errors: [1-9]" "run/$v/out"; then
        echo "check-model: FAILED: broken variant $v was not caught"
        exit 1
    fi
done
echo "check-model: the model holds, and every broken variant fails"
