#!/bin/sh
# make bench: every benchmark, figures printed as tables.  Not a test: no
# pass/fail, just numbers (SPEC §7 gives the targets).  Talks to 127.0.0.1
# only.  Usage: run.sh BUILD_DIR   (binaries ./segalert, ./segalert-sim)
set -u
O=${1:-build/rel}
SEGALERT=$PWD/segalert
SIM=$PWD/segalert-sim
T=$(mktemp -d /tmp/segalert-bench.XXXXXX)
SIM_PID=""
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM

echo "segalert benchmarks on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); figures depend on the machine."
echo

# ---- evaluation ----------------------------------------------------------
echo "## Expression evaluation (store + compiled expressions)"
"$O/bench/bench_eval"
echo
echo "## Shipped rule packs through the evaluator (target: <= 200 ns, pass <= 50 ms, RSS <= 64 MiB)"
echo "| what | figure |"
echo "|---|---|"
"$O/bench/bench_packs" rules
echo

# ---- check of 10,000 rules -------------------------------------------------
echo "## segalert check of a generated 10,000-rule file (target <= 300 ms)"
mkdir -p "$T/rules"
awk 'BEGIN {
    for (i = 0; i < 10000; i++) {
        printf "rule \"r%05d\" {\n  expr = \"discard_ratio > %d%% and attempted >= 100\"\n", i, 1 + i % 9
        printf "  for = \"10m\"\n  summary = \"{{destination}} discards {{value|pct}}\"\n}\n"
    }
}' >"$T/rules/gen.conf"
printf 'state_dir = "%s/state"\nrule_files = {"rules/*.conf"}\n' "$T" >"$T/seg.conf"
best=""
for i in 1 2 3; do
    s=$(date +%s%N)
    "$SEGALERT" check -c "$T/seg.conf" >/dev/null 2>&1
    e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "| rules | best of 3 |"
echo "|---|---|"
echo "| 10000 | ${best} ms |"
echo

# ---- polling ----------------------------------------------------------------
start_sim() {
    "$SIM" --listen 127.0.0.1:0 --scenario "$1" >"$T/sim.out" 2>"$T/sim.err" &
    SIM_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        URL=$(sed -n 's/^segalert-sim listening on \(http[^ ]*\).*/\1/p' "$T/sim.out")
        [ -n "$URL" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
    echo "segalert-sim did not start"; cat "$T/sim.err"; exit 1
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""; }
stat() { curl -s "$URL/sim/stats" | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
conf() {  # conf FILE budget concurrency
    cat >"$1" <<CONF
state_dir = "$T/state"
listen = ""
workspace "bench" {
  api_url = "$URL"
  token = "bench-token"
  request_budget = $2
  max_concurrency = $3
  request_timeout = "60s"
}
CONF
}
scenario() {  # scenario FILE rate_limit
    cat >"$1" <<SCEN
seed = 1
token = "bench-token"
rate_limit = $2
latency = "50ms"
generate { sources = 200  destinations_per_source = 10  events_per_minute = 100 }
SCEN
}

echo "## Polling sweep: 2,000 connections, 50 ms API latency (target >= 20x)"
scenario "$T/fast.scen" 0
start_sim "$T/fast.scen"
conf "$T/par.conf" 1000000 64
conf "$T/seq.conf" 1000000 1
s=$(date +%s%N); "$SEGALERT" fetch -c "$T/par.conf" >"$T/par.out" 2>"$T/par.err"; e=$(date +%s%N)
par_ms=$(( (e - s) / 1000000 )); par_req=$(stat "s['requests_total']")
curl -s -X POST "$URL/sim/reset-stats" >/dev/null
s=$(date +%s%N); "$SEGALERT" fetch -c "$T/seq.conf" >"$T/seq.out" 2>"$T/seq.err"; e=$(date +%s%N)
seq_ms=$(( (e - s) / 1000000 )); seq_req=$(stat "s['requests_total']")
stop_sim
nconn=$(grep -c '^connection {' "$T/par.out")
echo "| sweep | connections | requests | seconds |"
echo "|---|---|---|---|"
echo "| segalert (max_concurrency 64) | $nconn | $par_req | $(echo "scale=2; $par_ms/1000" | bc) |"
echo "| sequential, one request at a time | $(grep -c '^connection {' "$T/seq.out") | $seq_req | $(echo "scale=2; $seq_ms/1000" | bc) |"
echo "| speed-up | | | $(echo "scale=1; $seq_ms/$par_ms" | bc)x |"
echo

echo "## Request budget against the API's rate limit: sim limit 600/min, budget 600/min"
echo "(target: achieved >= 95 % of the budget, zero 429s in steady state)"
scenario "$T/limited.scen" 600
start_sim "$T/limited.scen"
conf "$T/lim.conf" 600 8
"$SEGALERT" fetch -c "$T/lim.conf" >"$T/lim.out" 2>"$T/lim.err" &
FPID=$!
sleep 30
a0=$(stat "s['requests_total'] - s['rate_limited']"); r0=$(stat "s['rate_limited']"); t0=$(date +%s%N)
sleep ${BENCH_STEADY_S:-120}
a1=$(stat "s['requests_total'] - s['rate_limited']"); r1=$(stat "s['rate_limited']"); t1=$(date +%s%N)
kill $FPID 2>/dev/null; wait $FPID 2>/dev/null
stop_sim
secs=$(echo "scale=3; ($t1 - $t0)/1000000000" | bc)
rate=$(echo "scale=1; ($a1 - $a0) * 60 / $secs" | bc)
echo "| window | accepted requests | achieved rate | share of budget | 429s |"
echo "|---|---|---|---|---|"
echo "| ${secs} s after 30 s warm-up | $((a1 - a0)) | ${rate}/min | $(echo "scale=1; $rate * 100 / 600" | bc) % | $((r1 - r0)) |"
echo "| first 30 s (start-up) | $a0 | | | $r0 |"
