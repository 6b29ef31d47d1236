#!/bin/sh
# API trouble is reported, retried where it makes sense, never a crash loop:
# 401, 5xx/garbage/truncated/HTML bodies and dropped connections, timeouts,
# fetch's overall deadline.  Errors scoped to one endpoint or source (403,
# 404, repeating cursors, a 429 on one endpoint class) are t023.
# `segalert fetch` and the sims run on a scaled clock (lib.sh
# use_scaled_clock, 20x), so the client's retry back-off passes in a
# twentieth of the time; request timeouts are real time.
. "$(dirname "$0")/lib.sh"

use_scaled_clock 20

# --- wrong token: 401 reported once -----------------------------------------
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
write_config "$T/c.conf"
SIM_TOKEN=not-the-token "$SEGALERT" fetch -c "$T/c.conf" >"$T/out" 2>"$T/err"
check "401: fetch exits 1" [ $? -eq 1 ]
n=$(grep -c 'unauthorized (HTTP 401)' "$T/err")
check "401: logged once ($n)" [ "$n" -eq 1 ]
check "401: tells what to check" contains "$T/err" "check the token"
total=$(sim_stat "s['requests_total']")
check "401: no request storm ($total requests)" [ "$total" -le 2 ]
check "401: the wrong token is not printed" sh -c "! grep -qF not-the-token '$T/err' '$T/out'"
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- every request fails in some way: retried, then reported ------------------
start_sim "$SRC/tests/fixtures/sim/faults.conf" || { notok "sim starts"; finish; }
write_config "$T/f.conf" 'request_budget = 6000' 'request_timeout = "5s"'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/f.conf" >"$T/out" 2>"$T/err"
rc=$?
check "faults: fetch exits 1, no crash ($rc)" [ $rc -eq 1 ]
check "faults: gave up after retries" contains "$T/err" "gave up after 4 attempts"
check "faults: discovery failure reported" contains "$T/err" "discovery"
n=$(sim_stat "s['requests_total']")
check "faults: the request was retried ($n requests)" [ "$n" -ge 4 ]
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- some requests fail: retries recover every sample -----------------------------
cat >"$T/flaky.conf" <<'CONF'
seed = 11
token = "test-token"
source "web_prod" {
  events_per_minute = 500
  destination "amplitude" {}
  destination "mixpanel" {}
  destination "braze" {}
}
# Every URL fails twice (5xx, then garbage) before it works: retries must
# recover every sample, deterministically.
faults { fail_first = 2 }
CONF
start_sim "$T/flaky.conf" || { notok "sim starts"; finish; }
write_config "$T/fl.conf" 'request_budget = 6000'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/fl.conf" >"$T/out" 2>"$T/err"
check "flaky: fetch succeeds" [ $? -eq 0 ]
check "flaky: all 3 connections have samples" [ "$(grep -c '^connection {' "$T/out")" -eq 3 ]
check "flaky: usage complete" grep -q '^usage {workspace="sim"} .*mtu=' "$T/out"
total=$(sim_stat "s['requests_total']")
# 10 requests (sources, destinations, 3 delivery, volume, 4 usage), each
# answered 5xx, then garbage (a 200), then properly.
check "flaky: each of the 10 requests took exactly 3 attempts ($total)" [ "$total" -eq 30 ]
check "flaky: retries logged at debug only, no error" sh -c "! grep -q 'level=error' '$T/err'"
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- 422: Segment's message and the request are logged, not retried --------------
cat >"$T/422.conf" <<'CONF'
seed = 2
token = "test-token"
source "web_prod" {
  destination "amplitude" {}
  destination "mixpanel" {}
}
faults { error_422 = 1.0  paths = {"/destinations/*"} }
CONF
start_sim "$T/422.conf" || { notok "sim starts"; finish; }
write_config "$T/q.conf" 'request_budget = 6000'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/q.conf" >"$T/out" 2>"$T/err"
check "422: fetch exits 1" [ $? -eq 1 ]
check "422: Segment's message logged" contains "$T/err" "Invalid date/time range: injected by segalert-sim (field startTime)"
check "422: the request is named" grep -q "GET /destinations/[A-Za-z0-9]*/delivery-metrics?sourceId=.*HTTP 422" "$T/err"
n=$(sim_stat "s['by_endpoint']['delivery_metrics'].get('422',0)")
check "422: not retried (one request per connection: $n)" [ "$n" -eq 2 ]
check "422: other families still collected" grep -q '^source {' "$T/out"
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- a slow server hits the timeout ---------------------------------------------------
cat >"$T/slow.conf" <<'CONF'
seed = 1
token = "test-token"
source "web_prod" { destination "amplitude" {} }
# slow_for is scenario time: 600 s is 30 s of real time at 20x.
faults { slow = 1.0  slow_for = "600s" }
CONF
start_sim "$T/slow.conf" || { notok "sim starts"; finish; }
write_config "$T/s.conf" 'request_timeout = "500ms"' 'request_budget = 6000'
start=$(date +%s)
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/s.conf" >"$T/out" 2>"$T/err"
rc=$?
took=$(( $(date +%s) - start ))
check "timeout: fetch exits 1" [ $rc -eq 1 ]
check "timeout: reported as a timeout" grep -qi "timed out\|timeout" "$T/err"
check "timeout: honoured (took ${took}s, 4 attempts of 0.5 s plus back-off)" [ "$took" -le 20 ]

# --- fetch's own deadline: stops, reports what it could not fetch, exits 1 --------
# The same slow server, with a request timeout far beyond the deadline.
write_config "$T/d.conf" 'request_timeout = "60s"' 'request_budget = 6000'
start=$(date +%s)
SIM_TOKEN=test-token timeout 60 "$SEGALERT" fetch -c "$T/d.conf" --timeout 2s >"$T/out" 2>"$T/err"
rc=$?
took=$(( $(date +%s) - start ))
check "deadline: fetch exits 1 ($rc)" [ $rc -eq 1 ]
check "deadline: honoured (took ${took}s for --timeout 2s)" [ "$took" -le 6 ]
check "deadline: says it stopped" contains "$T/err" "stopped at the deadline (--timeout 2s)"
check "deadline: names what was not fetched" contains "$T/err" 'workspace "sim": discovery did not finish'
check "deadline: still prints (empty) results" contains "$T/out" "# connection: 0 series"
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/d.conf" --timeout soon >/dev/null 2>"$T/err"
check "deadline: a bad --timeout is a usage error" [ $? -eq 2 ]
check "deadline: and says why" contains "$T/err" "'soon' is not a positive duration"
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

finish
