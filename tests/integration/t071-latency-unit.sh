#!/bin/sh
# t071-latency-unit: Segment does not document the unit of delivery
# latencies; latency_unit says it (seconds by default).  When the values
# cannot be in the configured unit, the daemon warns once per connection
# and names the fix; when they can, it says nothing.
. "$(dirname "$0")/lib.sh"

run_once() {    # run_once SIM_UNIT CONFIGURED_UNIT NAME
    cat >"$T/$3.sim" <<EOF
seed = 71
token = "test-token"
latency_unit = "$1"
source "web" {
  events_per_minute = 300
  destination "amp" { latency_avg = "400ms"  latency_p95 = "1800ms" }
  destination "mix" { latency_avg = "250ms"  latency_p95 = "900ms" }
}
EOF
    start_sim "$T/$3.sim" || { notok "sim starts"; return; }
    cat >"$T/$3.conf" <<EOF
state_dir = "$T/$3-state"
listen = ""
rule_files = {"$SRC/rules/*.conf"}
workspace "w" {
  api_url = "$SIM_URL"
  token = "test-token"
  latency_unit = "$2"
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
EOF
    timeout 60 "$SEGALERT" run --once -c "$T/$3.conf" >"$T/$3.out" 2>"$T/$3.err"
}

run_once ms s ms-as-s
check "API in ms, configured s: a warning names the fix" \
    grep -q 'do not look like seconds: the API may report milliseconds; set latency_unit = \\"ms\\" in workspace \\"w\\"' "$T/ms-as-s.err"
check "  once per connection (2 connections, 2 warnings)" \
    [ "$(grep -c 'do not look like seconds' "$T/ms-as-s.err")" -eq 2 ]
run_once s ms s-as-ms
check "API in s, configured ms: a warning names the fix" \
    grep -q 'do not look like milliseconds: the API may report seconds; set latency_unit = \\"s\\"' "$T/s-as-ms.err"
run_once ms ms ms-as-ms
check "units that match: no warning" sh -c "! grep -q 'do not look like' '$T/ms-as-ms.err'"
run_once s s s-as-s
check "seconds as seconds: no warning" sh -c "! grep -q 'do not look like' '$T/s-as-s.err'"
finish
