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
    dirs=$(make -s --no-print-directory "$@" print-dirs)
    out=$(sh tests/run-suite.sh "$variant" $dirs)
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

# VARIANTS: which builds to test (make test: release and ASan+UBSan;
# make test-tsan: ThreadSanitizer over the tests that run threads).
if [ "${SKIP_SANITIZE:-0}" = 1 ]; then
    VARIANTS=${VARIANTS:-release}
fi
for v in ${VARIANTS:-release sanitize}; do
    case $v in
    release)
        run_variant release ;;
    sanitize)
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_variant sanitize SANITIZE=address,undefined ;;
    tsan)
        # The threads: HTTP server (libmicrohttpd, its watchdog: t053),
        # SMTP worker, logging from all of them.  A report fails the run.
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        UNIT_ONLY="${TSAN_UNIT:-test_log test_deliver test_receivers test_http test_smtp test_httpd test_statuspage}" \
        INTEGRATION_ONLY="${TSAN_INTEGRATION:-t031 t050 t053 t062}" \
        run_variant tsan SANITIZE=thread ;;
    *)
        echo "unknown variant $v"; TOTAL_FAIL=$((TOTAL_FAIL + 1)) ;;
    esac
done
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
