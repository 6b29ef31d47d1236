#!/bin/sh
# t024-budget-window: request_budget below the API's limit, with far more
# to poll than the budget covers.  The sim counts every request in sliding
# 60 s windows (/sim/stats peak_per_minute): no window ever holds more than
# the budget, so the API never answers 429; the budget is used (the client
# does not pace itself below it), and requests go out max_concurrency at a
# time, not one per loop pass.  (The fake-clock proof of the same
# guarantee under bursts, retries and 429s is test_budget_exact_under_bursts
# in tests/unit/test_segment.c.)
# segalert run and the sim share a scaled clock (6x): a minute is 10 s.
. "$(dirname "$0")/lib.sh"

use_scaled_clock 6

BUDGET=100
CONC=16
cat >"$T/scen.conf" <<'SCEN'
seed = 24
token = "test-token"
rate_limit = 130             # per minute (UTC minutes)
volume_rate_limit = 60       # /events/volume, Segment's documented limit
latency = "300ms"
latency_jitter = "200ms"
generate { sources = 40  destinations_per_source = 10  events_per_minute = 100 }
SCEN
start_sim "$T/scen.conf" || { notok "sim starts"; finish; }
mkdir -p "$T/rules"
echo 'rule "discards" { expr = "discard_ratio > 50% and attempted >= 100"  for = "5m" }' \
    >"$T/rules/r.conf"
cat >"$T/segalert.conf" <<CONF
state_dir = "$T/state"
listen = ""
rule_files = {"$T/rules/*.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = $BUDGET
  max_concurrency = $CONC
  poll_interval = "1m"
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
SIM_TOKEN=test-token
export SIM_TOKEN
start=$(vnow)
"$SEGALERT" run -c "$T/segalert.conf" >"$T/run.out" 2>"$T/run.err" &
RUN_PID=$!
bg_pid $RUN_PID

# 400 connections a minute (800 in the first sweep) against 100 a minute:
# the budget binds the whole time.  Three and a half minutes: three full
# windows of the client (60 s + its 1 s guard) and part of a fourth.
vsleep 210
elapsed=$(( $(vnow) - start ))
total=$(sim_stat "s['requests_total']")
peak=$(sim_stat "s['peak_per_minute']")
peak_ok=$(sim_stat "s['peak_accepted_per_minute']")
limited=$(sim_stat "s['rate_limited']")
inflight=$(sim_stat "s['max_in_flight']")
kill "$RUN_PID" 2>/dev/null
wait "$RUN_PID" 2>/dev/null

check "the daemon polled ($total requests in $elapsed s of scaled time)" \
    [ "$total" -gt 0 ]
check "no 60 s window above the budget: $peak requests at most (budget $BUDGET)" \
    [ "$peak" -le "$BUDGET" ]
check "no 429 from the API ($limited)" [ "$limited" -eq 0 ]
check "every request accepted ($peak_ok at most in a window)" \
    [ "$peak_ok" -eq "$peak" ]
# Each window of 61 s that began within the run was full: at least three.
check "the budget is used: $total requests >= 3 x $BUDGET" \
    [ "$total" -ge $((3 * BUDGET)) ]
check "requests go out max_concurrency at a time (at most $inflight in flight, $CONC allowed)" \
    [ "$inflight" -eq "$CONC" ]
check "no error logged" sh -c "! grep -q 'level=error' '$T/run.err'"
check "no rate-limit warning logged" sh -c "! grep -q 'rate limited (429)' '$T/run.err'"
stop_sim
finish
