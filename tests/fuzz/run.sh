#!/bin/sh
# make fuzz: build each libFuzzer target with clang (ASan+UBSan) and run it
# briefly (FUZZ_SECONDS, default 20) from the seed corpus in tests/fixtures.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${FUZZ_SECONDS:-20}
O=build/fuzz
mkdir -p "$O"
PKG="libcurl libcjson libconfuse libesmtp-1.0 libmicrohttpd openssl zlib"
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iinclude $(pkg-config --cflags $PKG)"
LIBS="$(pkg-config --libs $PKG) -lpthread -lm"
SRCS=$(ls src/*/*.c | grep -v -e 'src/cmd/main.c' -e '^src/sim/')
rc=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    echo "== $name"
    if ! clang $CFLAGS -fsanitize=fuzzer,address,undefined $t $SRCS $LIBS -o "$O/$name" 2>"$O/$name.build.log"; then
        tail -20 "$O/$name.build.log"; rc=1; continue
    fi
    corpus="$O/corpus-$name"
    mkdir -p "$corpus"
    case $name in
        fuzz_segment_parse) cp tests/fixtures/*.json tests/fixtures/hostile/* "$corpus"/ 2>/dev/null ;;
        fuzz_expr) for r in rules/*.conf; do sed -n 's/^ *\(expr\|warn\|recover\) *= *"\(.*\)".*/\2/p' "$r"; done |
                   awk -v d="$corpus" '{ f = d "/seed" NR; print > f; close(f) }' ;;
        fuzz_template) for r in rules/*.conf; do sed -n 's/^ *\(summary\|description\) *= *"\(.*\)".*/\2/p' "$r"; done |
                   awk -v d="$corpus" '{ f = d "/seed" NR; print > f; close(f) }' ;;
        fuzz_config) cp examples/*.conf rules/*.conf tests/fixtures/config/*.conf "$corpus"/ 2>/dev/null ;;
        fuzz_ruletest) cp tests/rules/*.conf "$corpus"/ 2>/dev/null ;;
        fuzz_silence_body) cp tests/fixtures/fuzz/silence/* "$corpus"/ 2>/dev/null ;;
        fuzz_state) cp tests/fixtures/fuzz/state/* "$corpus"/ 2>/dev/null ;;
        fuzz_smtp_reply) cp tests/fixtures/fuzz/smtp/* "$corpus"/ 2>/dev/null ;;
    esac
    # the regression corpus (inputs that once failed) runs first, every time
    [ -d "tests/fuzz/regressions/$name" ] && cp "tests/fuzz/regressions/$name"/* "$corpus"/ 2>/dev/null
    if ! "$O/$name" -max_total_time="$SECS" -rss_limit_mb=1024 "$corpus" >"$O/$name.log" 2>&1; then
        echo "FAIL $name (see $O/$name.log)"; tail -30 "$O/$name.log"; rc=1
    else
        grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$O/$name.log" | tail -1
    fi
done
exit $rc
