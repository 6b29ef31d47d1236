#!/bin/sh
# Run one build variant's tests.  Usage: run-suite.sh VARIANT O BIN_DIR
# (the build directory and binary directory `make print-dirs` gives).
# Prints a line per test binary / script and finally "SUITE passed failed".
set -u
variant=$1
O=$2
BIN=$3
LOGDIR=${TEST_LOGDIR:-build/test-logs}/$variant
mkdir -p "$LOGDIR"
export SEGALERT_VARIANT="$variant"
export SEGALERT="$PWD/$BIN/segalert" SEGALERT_SIM="$PWD/$BIN/segalert-sim"
export SEGALERT_SRC="$PWD"
pass=0; fail=0

# Unit tests (cmocka): count its test cases from its summary lines.
for t in "$O"/tests/test_*; do
    case "$t" in *.o|*.d) continue ;; esac
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ -n "${UNIT_ONLY:-}" ]; then
        case " $UNIT_ONLY " in *" $name "*) ;; *) continue ;; esac
    fi
    "$t" >"$LOGDIR/$name.log" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOGDIR/$name.log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOGDIR/$name.log" | tail -1)
    [ -n "$p" ] || p=0; [ -n "$f" ] || f=0
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -eq 0 ]; then echo "ok   unit/$name ($p)"
    else echo "FAIL unit/$name ($f failed) - see $LOGDIR/$name.log"; grep -E '^\[  (FAILED|ERROR)|Failure|error' "$LOGDIR/$name.log" | head -10; fi
done

# Rule tests: segalert test over every file in tests/rules.
if ls tests/rules/*.conf >/dev/null 2>&1; then
    "$SEGALERT" test tests/rules/*.conf >"$LOGDIR/rules.log" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGDIR/rules.log" | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); [ -n "$p" ] || p=0
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); [ -n "$f" ] || f=0
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -eq 0 ]; then echo "ok   rules ($p)"; else echo "FAIL rules ($f failed)"; grep FAIL "$LOGDIR/rules.log" | head -20; fi
fi

# The layering of the tree (docs/design.md): includes point down.
if sh tests/layering.sh >"$LOGDIR/layering.log" 2>&1; then
    pass=$((pass + 1)); echo "ok   layering"
else
    fail=$((fail + 1)); echo "FAIL layering"; grep '^not ok' "$LOGDIR/layering.log" | head -10
fi

# Integration tests: each script prints "ok - ..." / "not ok - ..." lines.
# They spend most of their time waiting on timers, so they run a few at a
# time (INTEGRATION_JOBS, default 3); each uses its own temp dir and ports.
export LOGDIR
selected() {     # selected NAME: in INTEGRATION_ONLY (prefixes), or all
    [ -z "${INTEGRATION_ONLY:-}" ] && return 0
    for p in $INTEGRATION_ONLY; do
        case "$1" in "$p"*) return 0 ;; esac
    done
    return 1
}
# The longest scripts start first, so the pool does not end waiting on a
# long one started last.
LONG_FIRST="t080 t032 t062 t063 t059 t031 t050"
{
    for p in $LONG_FIRST; do ls tests/integration/"$p"-*.sh 2>/dev/null; done
    for t in tests/integration/t[0-9]*.sh; do
        case " $LONG_FIRST " in *" $(basename "$t" | cut -d- -f1) "*) ;; *) echo "$t" ;; esac
    done
} | while read -r t; do
    selected "$(basename "$t")" && echo "$t"
done |
    xargs -P "${INTEGRATION_JOBS:-3}" -I{} sh -c '
        name=$(basename "{}" .sh)
        timeout 600 sh "{}" >"$LOGDIR/$name.log" 2>&1
        echo $? >"$LOGDIR/$name.rc"'
for t in tests/integration/t[0-9]*.sh; do
    [ -f "$t" ] || continue
    selected "$(basename "$t")" || continue
    name=$(basename "$t" .sh)
    rc=$(cat "$LOGDIR/$name.rc" 2>/dev/null || echo 1)
    touch "$LOGDIR/$name.log"      # a script that never ran is a failure
    p=$(grep -c '^ok ' "$LOGDIR/$name.log")
    f=$(grep -c '^not ok ' "$LOGDIR/$name.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -eq 0 ]; then echo "ok   integration/$name ($p)"
    else echo "FAIL integration/$name - see $LOGDIR/$name.log"; grep '^not ok' "$LOGDIR/$name.log" | head -10; tail -5 "$LOGDIR/$name.log"; fi
done
echo "SUITE $pass $fail"
[ "$fail" -eq 0 ]
