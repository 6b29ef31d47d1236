#!/bin/sh
# Rule unit tests at scale: `segalert test` beside `promtool test rules` on
# the same workload, generated here for both: SERIES connection series x 1
# rule, 24 h of values at 1-minute steps, rules evaluated every minute,
# every series checked at the end (firing or not).
#
#   segalert:  sum(discarded, 15m) > 50            for = "5m"
#   promtool:  sum_over_time(discarded[15m]) > 50  for: 5m
#
# Series i holds the constant i % 10: a 15-minute sum of 15 * (i % 10),
# so the series with i % 10 >= 4 fire.  Prints one table row per tool:
# wall time and peak RSS (/usr/bin/time -v), and whether its test passed.
# Not a test: no pass/fail of its own (docs/design.md "Performance
# targets").
#
# Usage: ruletest.sh [SERIES]   (default 1000)
# Environment: SEGALERT (default ./segalert), PROMTOOL (default
# /usr/bin/promtool; the promtool row is left out when it is missing).
set -u
N=${1:-1000}
SEGALERT=${SEGALERT:-$PWD/segalert}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
STEPS=1440
T=$(mktemp -d /tmp/segalert-ruletest-bench.XXXXXX)
trap '[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT INT TERM

if [ ! -x /usr/bin/time ]; then
    echo "| (needs /usr/bin/time) | | | | |"
    exit 0
fi

# ---- segalert ---------------------------------------------------------------
cat >"$T/rules.conf" <<'RULES'
rule "bench-discards" {
  expr     = "sum(discarded, 15m) > 50"
  for      = "5m"
  severity = "critical"
}
RULES
awk -v n="$N" -v steps="$STEPS" 'BEGIN {
    print "test \"bench\" {"
    print "  rule_files = {\"rules.conf\"}"
    print "  interval = \"1m\""
    for (i = 0; i < n; i++) {
        printf "  series \"connection %d\" {\n", i
        printf "    labels = {\"source=web\", \"destination=d%05d\"}\n", i
        printf "    discarded = \"%dx%d\"\n  }\n", i % 10, steps
    }
    for (i = 0; i < n; i++)
        printf "  expect { at = \"%dm\"  rule = \"bench-discards\"  state = \"%s\"  labels = {\"destination=d%05d\"} }\n",
               steps, (i % 10 >= 4 ? "firing" : "inactive"), i
    print "}"
}' >"$T/test.conf"

# ---- promtool -----------------------------------------------------------------
cat >"$T/rules.yml" <<'RULES'
groups:
  - name: bench
    interval: 1m
    rules:
      - alert: BenchDiscards
        expr: sum_over_time(discarded[15m]) > 50
        for: 5m
        labels:
          severity: critical
RULES
awk -v n="$N" -v steps="$STEPS" 'BEGIN {
    print "rule_files:"
    print "  - rules.yml"
    print "evaluation_interval: 1m"
    print "tests:"
    print "  - interval: 1m"
    print "    input_series:"
    for (i = 0; i < n; i++) {
        printf "      - series: \x27discarded{source=\"web\",destination=\"d%05d\"}\x27\n", i
        printf "        values: \x27%dx%d\x27\n", i % 10, steps
    }
    print "    alert_rule_test:"
    printf "      - eval_time: %dm\n", steps
    print "        alertname: BenchDiscards"
    print "        exp_alerts:"
    for (i = 0; i < n; i++) {
        if (i % 10 < 4)
            continue
        print "          - exp_labels:"
        print "              severity: critical"
        print "              source: web"
        printf "              destination: d%05d\n", i
    }
}' >"$T/test.yml"

# run NAME CMD...: one row
run() {
    name=$1; shift
    ( cd "$T" && /usr/bin/time -v "$@" >"$T/out" 2>"$T/err" )
    rc=$?
    secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/err" |
           awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/err")
    if [ "$rc" -eq 0 ]; then verdict=passed; else verdict="FAILED (exit $rc)"; fi
    echo "| $name | $N | ${secs:-?} s | $(( ${kib:-0} / 1024 )) MiB | $verdict |"
    echo "$kib" >"$T/kib.$name"
}

echo "| tool | series (24 h at 1 min, 1 rule) | wall time | peak RSS | test |"
echo "|---|---|---|---|---|"
run segalert "$SEGALERT" test test.conf
if [ -x "$PROMTOOL" ]; then
    run promtool "$PROMTOOL" test rules test.yml
    s=$(cat "$T/kib.segalert"); p=$(cat "$T/kib.promtool")
    if [ -n "$s" ] && [ -n "$p" ] && [ "$p" -gt 0 ]; then
        echo "| segalert / promtool memory | | | $(echo "scale=2; $s / $p" | bc) | |"
    fi
fi
