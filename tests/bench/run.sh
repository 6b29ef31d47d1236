#!/bin/sh
# make bench: every benchmark, figures printed as tables.  Not a test: no
# pass/fail, just numbers (docs/design.md "Performance targets" gives the
# targets).  Talks to 127.0.0.1 only.  Usage: run.sh BUILD_DIR   (binaries ./segalert, ./segalert-sim)
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

# ---- evaluation in the running daemon, rule unit tests -------------------------
echo "## Evaluation in the running daemon: segalert run, shipped packs, segalert-sim at latency 0"
echo "(targets: <= 150 ns at 10k and <= 200 ns at 50k connections; RSS <= 64 MiB at 10k, <= 100 MiB at 50k)"
SEGALERT="$SEGALERT" SEGALERT_SIM="$SIM" \
    SWEEP_TIMEOUT_S="${BENCH_SWEEP_TIMEOUT_S:-100}" sh tests/bench/daemon_eval.sh
echo
echo "## Rule unit tests: segalert test beside promtool test rules, 1,000 series x 24 h at 1-minute steps"
echo "(target: less memory than promtool)"
SEGALERT="$SEGALERT" sh tests/bench/ruletest.sh 1000
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

# ---- notifications -------------------------------------------------------------
echo "## Notification throughput (targets: >= 3,000 webhooks/s, >= 100 emails/s)"
echo "| what | count | delivered | time | rate |"
echo "|---|---|---|---|---|"
"$O/bench/bench_notify" webhook 20000 64
SMTP_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 tests/peers/smtp_server.py --port "$SMTP_PORT" --maildir "$T/mail" >"$T/smtp.out" 2>&1 &
SMTP_PID=$!
i=0; while ! grep -q READY "$T/smtp.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
"$O/bench/bench_notify" email 1000 "$SMTP_PORT"
kill $SMTP_PID 2>/dev/null; wait $SMTP_PID 2>/dev/null
echo

# ---- state file ----------------------------------------------------------------
echo "## State saves: journal of what changed vs rewriting the whole file (2,000 and 20,000 alerts)"
"$O/bench/bench_state" 2000 20000
echo
echo "## State size at 10,000 connections with no alert firing (shipped packs; quiet instances are rebuilt from data, not saved)"
"$O/bench/bench_packs" rules 10000 state
echo

# ---- silences -------------------------------------------------------------------
echo "## Loading silences from the state file (linear: no id compared with every other)"
"$O/bench/bench_silences" 20000 200000
echo

# ---- alert groups at once (segalert beside Alertmanager) ----------------------
sh tests/bench/groups.sh "$O"
echo

# ---- export ------------------------------------------------------------------
echo "## Export at 10,000 connections: one delivery sweep (11 points a connection), batches of each intake's documented size"
echo "| what | points | batches | CPU per batch | CPU per batch with gzip | bytes per point | bytes per point gzipped |"
echo "|---|---|---|---|---|---|---|"
"$O/bench/bench_export"
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

# Sweeps against the latency bound at 2k, 8k and 50k connections, and the
# budget's sliding window (peak per 60 s, 429s, share used) below the
# sim's limit.
SEGALERT="$SEGALERT" SEGALERT_SIM="$SIM" sh tests/bench/sweep.sh
echo

# ---- detection latency ---------------------------------------------------------
echo "## Detection latency: incident start in the sim -> notification printed"
echo "(poll_interval 10s, group_wait 2s: target <= 10 + 2 + 2 = 14 s)"
cat >"$T/det.scen" <<SCEN
seed = 4
token = "bench-token"
source "web" {
  events_per_minute = 3000
  destination "amplitude" { discard_ratio = 0.001 }
}
incident "outage" { kind = "discard_spike"  source = "web"  destination = "amplitude"  start = "25s"  duration = "3m"  value = 1.0 }
SCEN
mkdir -p "$T/detrules"
cat >"$T/detrules/r.conf" <<'RULES'
rule "discards" { expr = "discard_ratio > 5% and attempted >= 100"  for = "0s"  severity = "critical" }
RULES
sim_t0=$(date +%s.%N)
start_sim "$T/det.scen"
cat >"$T/det.conf" <<CONF
state_dir = "$T/detstate"
listen = ""
rule_files = {"detrules/*.conf"}
workspace "bench" {
  api_url = "$URL"
  token = "bench-token"
  poll_interval = "10s"
  delivery_window = "1m"
  request_budget = 600
}
defaults { group_wait = "2s" group_interval = "10s" }
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
( "$SEGALERT" run -c "$T/det.conf" 2>"$T/det.log" | while IFS= read -r line; do
      echo "$(date +%s.%N) $line"; done >"$T/det.out" ) &
DPID=$!
i=0; while ! grep -q 'status=firing' "$T/det.out" 2>/dev/null && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
t_notify=$(grep -m1 'status=firing' "$T/det.out" | cut -d' ' -f1)
pkill -TERM -f "segalert run -c $T/det.conf" 2>/dev/null; wait $DPID 2>/dev/null
stop_sim
echo "| incident start | notification | latency |"
echo "|---|---|---|"
if [ -n "$t_notify" ]; then
    echo "| sim start + 25 s | printed | $(echo "scale=1; $t_notify - $sim_t0 - 25" | bc) s |"
else
    echo "| sim start + 25 s | none within 90 s | - |"
fi
echo

# ---- memory at 10,000 connections -------------------------------------------------
echo "## Memory: segalert run at 10,000 connections with the default packs, beside Alertmanager"
cat >"$T/big.scen" <<SCEN
seed = 5
token = "bench-token"
generate { sources = 1000  destinations_per_source = 10  events_per_minute = 100 }
SCEN
start_sim "$T/big.scen"
cat >"$T/big.conf" <<CONF
state_dir = "$T/bigstate"
listen = ""
rule_files = {"$PWD/rules/*.conf"}
workspace "bench" {
  api_url = "$URL"
  token = "bench-token"
  request_budget = 1000000
  max_concurrency = 32
  mtu_limit = 100000000
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
"$SEGALERT" run -c "$T/big.conf" >/dev/null 2>"$T/big.log" &
BPID=$!
i=0; while [ $i -lt 240 ]; do
    c=$(grep -c 'discovered' "$T/big.log"); sweeps=$(stat "s['by_endpoint'].get('delivery_metrics',{}).get('200',0)")
    [ "$sweeps" -ge 10000 ] && break
    sleep 1; i=$((i+1))
done
sleep 20
seg_rss=$(awk '/VmRSS/ {print $2}' /proc/$BPID/status)
seg_hwm=$(awk '/VmHWM/ {print $2}' /proc/$BPID/status)
kill -TERM $BPID 2>/dev/null; wait $BPID 2>/dev/null
stop_sim
AM=/usr/bin/prometheus-alertmanager
am_rss="-"
if [ -x $AM ]; then
    AMP=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$T/am.yml"
    $AM --config.file="$T/am.yml" --storage.path="$T/am" --web.listen-address=127.0.0.1:$AMP --cluster.listen-address= >"$T/am.log" 2>&1 &
    AMPID=$!
    sleep 5
    am_rss=$(awk '/VmRSS/ {print $2}' /proc/$AMPID/status)
    kill -9 $AMPID 2>/dev/null; wait $AMPID 2>/dev/null
fi
echo "| process | RSS | peak |"
echo "|---|---|---|"
echo "| segalert run, 10,000 connections, default packs (target <= 64 MiB) | $((seg_rss / 1024)) MiB | $((seg_hwm / 1024)) MiB |"
if [ "$am_rss" != "-" ]; then
    echo "| prometheus-alertmanager idle, same run | $((am_rss / 1024)) MiB | |"
fi
