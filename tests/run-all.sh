#!/bin/sh
# The whole test suite (make test): build and run every unit test, rule test
# and integration test, first normally, then under ASan+UBSan; print one
# closing line "N passed, N failed" and exit non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
JOBS=${JOBS:-2}
TOTAL_PASS=0
TOTAL_FAIL=0
LOGDIR=${TEST_LOGDIR:-build/test-logs}
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"

run_variant() {
    variant=$1; shift
    echo "== build ($variant)"
    if ! make -s -j"$JOBS" DEVELOPER=1 "$@" all unit-tests >"$LOGDIR/build-$variant.log" 2>&1; then
        tail -30 "$LOGDIR/build-$variant.log"
        echo "build ($variant) failed"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
        return
    fi
    out=$(sh tests/run-suite.sh "$variant" "$@")
    rc=$?
    echo "$out" | grep -v '^SUITE '
    p=$(echo "$out" | sed -n 's/^SUITE \([0-9]*\) \([0-9]*\)$/\1/p')
    f=$(echo "$out" | sed -n 's/^SUITE \([0-9]*\) \([0-9]*\)$/\2/p')
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=1
    [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
}

run_variant release
if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_variant sanitize SANITIZE=address,undefined
fi
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
