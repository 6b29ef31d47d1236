#!/bin/sh
# segalert test: shipped pack tests pass; a wrong expectation fails with a
# readable difference and exit 1; a malformed test file exits 2.
. "$(dirname "$0")/lib.sh"

"$SEGALERT" test "$SRC"/tests/rules/*.conf >"$T/out" 2>&1
check "pack tests pass" [ $? -eq 0 ]
check "summary line" grep -qE '^[0-9]+ passed, 0 failed$' "$T/out"

cat >"$T/wrong.conf" <<CONF
test "wrong expectation" {
  rule_files = {"$SRC/rules/delivery.conf"}
  interval = "5m"
  series "connection" {
    labels    = {"source=web", "destination=Amplitude"}
    successes = "1000x6"
    discarded = "0 0 300x4"
    expired   = "0x6"
  }
  expect { at = "10m" rule = "delivery-discard-ratio" state = "firing" }
}
CONF
"$SEGALERT" test "$T/wrong.conf" >"$T/out" 2>&1
check "failing test exits 1" [ $? -eq 1 ]
check "FAIL line" contains "$T/out" "FAIL wrong expectation"
check "difference: expected" contains "$T/out" 'at 10m rule "delivery-discard-ratio": expected state=firing'
check "difference: got" contains "$T/out" 'got: state=pending severity=critical'
check "count line" contains "$T/out" "0 passed, 1 failed"

printf 'test "x" {\n  bogus = 1\n}\n' >"$T/bad.conf"
"$SEGALERT" test "$T/bad.conf" >"$T/out" 2>&1
check "malformed test file exits 2" [ $? -eq 2 ]
check "malformed file named with line" contains "$T/out" "bad.conf:2:"

cat >"$T/badseries.conf" <<CONF
test "bad series" {
  rule_files = {"$SRC/rules/delivery.conf"}
  series "connection" { successes = "1 2 abc" }
  expect { at = "1m" rule = "delivery-discard-ratio" state = "inactive" }
}
CONF
"$SEGALERT" test "$T/badseries.conf" >"$T/out" 2>&1
check "bad series value fails the test" [ $? -eq 1 ]
check "bad series value explained" contains "$T/out" "invalid series value 'abc'"
# Two sections with the same labels are one series; a template reads the
# newest value of a metric no rule reads (the store keeps no history of
# it); a gap ('_') longer than two intervals is no data.
cat >"$T/merge-rules.conf" <<'CONF'
rule "merge-discards" {
  expr    = "sum(discarded, 15m) > 10"
  for     = "0s"
  summary = "{{retried}} retries, {{successes}} delivered"
}
CONF
cat >"$T/merge.conf" <<CONF
test "sections merge" {
  rule_files = {"$T/merge-rules.conf"}
  interval = "5m"
  series "connection a" {
    labels    = {"source=web", "destination=Amplitude"}
    successes = "1000x8"
    retried   = "3x8"
  }
  series "connection b" {
    labels    = {"source=web", "destination=Amplitude"}
    discarded = "0 0 20x6"
  }
  expect { at = "5m"   rule = "merge-discards"  state = "inactive" }
  expect { at = "10m"  rule = "merge-discards"  state = "firing"
           summary = "3 retries, 1000 delivered" }
  expect { at = "40m"  rule = "merge-discards"  state = "firing"
           value = 60 }
}
CONF
"$SEGALERT" test "$T/merge.conf" >"$T/out" 2>&1
check "sections with the same labels make one series" [ $? -eq 0 ]
check "template reads a newest-only metric" contains "$T/out" "ok   sections merge"
# Many series of one family in one test: one connection fires, the other
# stays quiet (libconfuse once merged or refused sections of one title).
cat >"$T/two.conf" <<CONF
test "one connection fires, the other stays quiet" {
  rule_files = {"$SRC/rules/delivery.conf"}
  interval = "5m"
  series "connection" {
    labels    = {"source=web", "destination=Amplitude"}
    successes = "1000x14"
    discarded = "2x6 110x8"
    expired   = "0x14"
  }
  series "connection" {
    labels    = {"source=ios", "destination=Braze"}
    successes = "996x14"
    discarded = "4x14"
    expired   = "0x14"
  }
  expect { at = "40m"  rule = "delivery-discard-ratio"  state = "firing"
           labels = {"source=web", "destination=Amplitude"} }
  expect { at = "40m"  rule = "delivery-discard-ratio"  state = "inactive"
           labels = {"source=ios", "destination=Braze"} }
  expect { at = "40m"  rule = "delivery-discard-ratio"  state = "inactive"
           labels = {"destination=Braze"} }
}
CONF
"$SEGALERT" test "$T/two.conf" >"$T/out" 2>&1
check "two series of one family: one fires, one quiet" [ $? -eq 0 ]
check "two series of one family: ok line" contains "$T/out" "ok   one connection fires, the other stays quiet"

# A misspelled key fails its own test with file:line and a did-you-mean;
# the file's other tests still run; times print as written.
cat >"$T/typo.conf" <<CONF
test "typo" {
  rule_files = {"$SRC/rules/delivery.conf"}
  interval = "5m"
  series "connection" {
    labels   = {"source=web", "destination=Amplitude"}
    discardd = "1x3"
  }
  expect { at = "10m"  rule = "delivery-discard-ratio"  state = "inactive" }
}
test "after the typo" {
  rule_files = {"$SRC/rules/delivery.conf"}
  series "connection" { successes = "1x3" }
  expect { at = "10206m"  rule = "delivery-discard-ratio"  state = "firing" }
}
CONF
"$SEGALERT" test "$T/typo.conf" >"$T/out" 2>&1
check "unknown key: the file is malformed (exit 2)" [ $? -eq 2 ]
check "unknown key: file:line and did-you-mean" contains "$T/out" \
    "typo.conf:6: unknown option 'discardd' in series \"connection\"; did you mean 'discarded'?"
check "unknown key: its test fails" contains "$T/out" "FAIL typo"
check "unknown key: the next test still runs" contains "$T/out" "FAIL after the typo"
check "exact times in the output" contains "$T/out" 'at 10206m rule'
check "unknown key: counts" contains "$T/out" "0 passed, 2 failed"
finish
