#!/bin/sh
# sweep.sh - polling sweeps against the latency bound, and the request
# budget's sliding window against segalert-sim (tests/bench/run.sh calls
# it; it also runs alone from the repository root: sh tests/bench/sweep.sh).
# A benchmark, not a test: figures in two tables, no pass/fail
# (docs/design.md "Performance targets": sweeps >= 95 % of the latency
# bound, >= 95 % of request_budget used, no 60 s window above it, no 429).
#
# 1. Sweep efficiency: `segalert run` against the sim at 50 ms latency with
#    max_concurrency 64 and a budget that does not bind; the daemon logs
#    (at debug level) each sweep's length and the requests sent meanwhile.
#    Its first delivery sweep reads every connection twice (4 hours of
#    history, then the delivery window).  bound = requests x latency /
#    concurrency; efficiency = bound / achieved.  Also the daemon's CPU
#    time from start to the end of that sweep (discovery, back-fill,
#    volume and usage included).
# 2. Budget: `segalert run` with request_budget below the sim's rate_limit
#    and far more connections than the budget covers, for
#    SWEEP_BUDGET_S (default 145) real seconds; the sim's /sim/stats gives
#    the most requests it saw in any sliding 60 s window, the 429s, and
#    the mean rate over SWEEP_BUDGET_WINDOWS (default 2) whole windows of
#    the client (61 s: 60 s + its guard, include/api/segment.h) after a
#    20 s warm-up.
#
# Environment: SEGALERT, SEGALERT_SIM (default ./segalert, ./segalert-sim),
# SWEEP_SIZES (default "2000 8000 50000" connections), SWEEP_BUDGET (550),
# SWEEP_RATE_LIMIT (600), SWEEP_BUDGET_S (0 = no budget run).  Talks to 127.0.0.1 only; kills
# only what it started.  About 4 minutes (the 50,000-connection sweep is
# 100,000 requests: 80 s at the bound).
set -u
SEGALERT=${SEGALERT:-$PWD/segalert}
SIM=${SEGALERT_SIM:-$PWD/segalert-sim}
PY=${PY:-/usr/bin/python3}
SIZES=${SWEEP_SIZES:-"2000 8000 50000"}
LAT_MS=50
CONC=64
BUDGET=${SWEEP_BUDGET:-550}
RATE_LIMIT=${SWEEP_RATE_LIMIT:-600}
BUDGET_S=${SWEEP_BUDGET_S:-145}
WINDOWS=${SWEEP_BUDGET_WINDOWS:-2}
T=$(mktemp -d /tmp/segalert-sweep.XXXXXX)
SIM_PID="" RUN_PID=""
cleanup() {
    [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start_sim() {  # start_sim SCENARIO
    : >"$T/sim.out"
    "$SIM" --listen 127.0.0.1:0 --scenario "$1" >"$T/sim.out" 2>"$T/sim.err" &
    SIM_PID=$!
    i=0
    while [ $i -lt 600 ]; do
        URL=$(sed -n 's/^segalert-sim listening on \(http[^ ]*\).*/\1/p' "$T/sim.out")
        [ -n "$URL" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
    echo "segalert-sim did not start"; cat "$T/sim.err"; exit 1
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""; }
stop_run() { kill "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null; RUN_PID=""; }
stat() { curl -s "$URL/sim/stats" | "$PY" -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
# CPU seconds (user + system) of a running process.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }

scenario() {  # scenario FILE SOURCES RATE_LIMIT
    cat >"$1" <<SCEN
seed = 1
token = "bench-token"
rate_limit = $3
latency = "${LAT_MS}ms"
generate { sources = $2  destinations_per_source = 10  events_per_minute = 100 }
SCEN
}
mkdir -p "$T/rules"
echo 'rule "discards" { expr = "discard_ratio > 50% and attempted >= 100"  for = "5m" }' >"$T/rules/r.conf"
config() {  # config FILE BUDGET [extra workspace lines]
    f=$1 b=$2
    shift 2
    {
        echo "state_dir = \"$T/state\""
        echo 'listen = ""'
        echo "rule_files = {\"$T/rules/*.conf\"}"
        echo 'workspace "bench" {'
        echo "  api_url = \"$URL\""
        echo '  token = "bench-token"'
        echo "  request_budget = $b"
        echo "  max_concurrency = $CONC"
        echo '  request_timeout = "60s"'
        for l in "$@"; do echo "  $l"; done
        echo '}'
        echo 'receiver "console" { type = "log" }'
        echo 'route "all" { receiver = "console" }'
    } >"$f"
}

echo "## Polling sweeps at the latency bound ($LAT_MS ms API latency, max_concurrency $CONC; target >= 95 %)"
echo "segalert run's first delivery sweep (every connection read twice: 4 h of history, then the window)."
echo "| connections | requests in the sweep | bound | achieved | efficiency | most in flight (sim) | daemon CPU to then |"
echo "|---|---|---|---|---|---|---|"
for n in $SIZES; do
    scenario "$T/s.scen" $((n / 10)) 0
    start_sim "$T/s.scen"
    config "$T/s.conf" 1000000
    rm -rf "$T/state" "$T/run.err"
    : >"$T/run.err"
    "$SEGALERT" run -v -c "$T/s.conf" >/dev/null 2>>"$T/run.err" &
    RUN_PID=$!
    line=""
    i=0
    while [ $i -lt 6000 ]; do      # 10 minutes at most
        line=$(grep -m1 'delivery sweep:' "$T/run.err")
        [ -n "$line" ] && break
        kill -0 "$RUN_PID" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    cpu=$(cpu_s "$RUN_PID" 2>/dev/null || echo "?")
    inflight=$(stat "s['max_in_flight']")
    stop_run
    stop_sim
    if [ -z "$line" ]; then
        echo "| $n | (no sweep finished; see below) | | | | | |"
        grep 'level=error' "$T/run.err" | head -3
        continue
    fi
    req=$(echo "$line" | sed 's/.* \([0-9][0-9]*\) requests in.*/\1/')
    secs=$(echo "$line" | sed 's/.* requests in \([0-9.]*\) s.*/\1/')
    awk -v n="$n" -v r="$req" -v s="$secs" -v l="$LAT_MS" -v c="$CONC" \
        -v f="$inflight" -v cpu="$cpu" 'BEGIN {
        b = r * l / 1000 / c
        printf "| %d | %d | %.2f s | %.2f s | %.1f %% | %d | %s s |\n", n, r, b, s, 100 * b / s, f, cpu
    }'
done
echo

[ "$BUDGET_S" -gt 0 ] || exit 0
echo "## Request budget: no 60 s window above it (budget $BUDGET/min, sim rate_limit $RATE_LIMIT/min)"
echo "2,000 connections polled every minute (2,000 requests a minute wanted, 4,000 in the first sweep), ${BUDGET_S} s of segalert run."
scenario "$T/b.scen" 200 "$RATE_LIMIT"
start_sim "$T/b.scen"
config "$T/b.conf" "$BUDGET" 'poll_interval = "1m"'
rm -rf "$T/state"
"$SEGALERT" run -c "$T/b.conf" >/dev/null 2>"$T/b.err" &
RUN_PID=$!
span=$((61 * WINDOWS))
sleep 20
a0=$(stat "s['requests_total'] - s['rate_limited']")
sleep "$span"
a1=$(stat "s['requests_total'] - s['rate_limited']")
left=$((BUDGET_S - 20 - span))
[ "$left" -gt 0 ] && sleep "$left"
peak=$(stat "s['peak_accepted_per_minute']")
peak_all=$(stat "s['peak_per_minute']")
limited=$(stat "s['rate_limited']")
total=$(stat "s['requests_total']")
stop_run
stop_sim
echo "| budget | most requests in any 60 s window (sim) | of them accepted | 429s | requests | mean rate over $WINDOWS x 61 s | share of the budget |"
echo "|---|---|---|---|---|---|---|"
awk -v b="$BUDGET" -v p="$peak_all" -v pa="$peak" -v l="$limited" -v t="$total" \
    -v d=$((a1 - a0)) -v s="$span" 'BEGIN {
    r = d * 60 / s
    printf "| %d/min | %d | %d | %d | %d | %.0f/min | %.1f %% |\n", b, p, pa, l, t, r, 100 * r / b
}'
