#!/bin/sh
# Evaluation in the running daemon: `segalert run` with the shipped rule
# packs (rules/*.conf) against segalert-sim (generated workspace, no API
# latency, no rate limit) at 1k, 10k and 50k connections.  Waits for the
# first sweeps (every connection polled, the volume back-fill read), then
# reads the daemon's own figures from its debug log ("evaluated N (rule,
# series) in X ms", src/daemon/alerts.c) and its memory from /proc.
#
# Prints one row per size: connections | (rule, series) | eval pass ms
# (median of the passes after the count settled) | ns per (rule, series) |
# RSS | peak RSS.  Not a test: no pass/fail (docs/design.md "Performance
# targets" has the targets).
#
# Usage: daemon_eval.sh [CONNECTIONS...]   (default: 1000 10000 50000)
# Environment: SEGALERT, SEGALERT_SIM (default ./segalert, ./segalert-sim),
# PASSES (passes measured after the count settles, default 3),
# EVAL_INTERVAL (segalert run --eval-interval, default 3s: more passes in
# less time; a pass costs the same), SWEEP_TIMEOUT_S (default 300).
set -u
SEGALERT=${SEGALERT:-$PWD/segalert}
SIM=${SEGALERT_SIM:-$PWD/segalert-sim}
RULES=${RULES:-$PWD/rules}
PASSES=${PASSES:-3}
EVAL_INTERVAL=${EVAL_INTERVAL:-3s}
SWEEP_TIMEOUT_S=${SWEEP_TIMEOUT_S:-300}
PY=${PY:-/usr/bin/python3}
T=$(mktemp -d /tmp/segalert-daemon-eval.XXXXXX)
SIM_PID=""
SEG_PID=""
cleanup() {
    [ -n "$SEG_PID" ] && kill "$SEG_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
    [ -n "$SEG_PID" ] && wait "$SEG_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null; }

# The evaluation passes logged so far: "N MS" per line.
passes() {
    sed -n 's/.*evaluated \([0-9]*\) (rule, series) in \([0-9.]*\) ms.*/\1 \2/p' \
        "$T/seg.log"
}

run_size() {  # run_size CONNECTIONS
    conns=$1
    nsrc=$(( (conns + 9) / 10 ))
    rm -rf "$T/state" "$T/seg.log" "$T/sim.out"
    cat >"$T/scen" <<SCEN
seed = 7
token = "bench-token"
rate_limit = 0
latency = "0s"
generate { sources = $nsrc  destinations_per_source = 10  events_per_minute = 100 }
SCEN
    : >"$T/sim.out"
    "$SIM" --listen 127.0.0.1:0 --scenario "$T/scen" >"$T/sim.out" 2>"$T/sim.err" &
    SIM_PID=$!
    URL=""
    i=0
    while [ $i -lt 200 ] && [ -z "$URL" ]; do
        URL=$(sed -n 's/^segalert-sim listening on \(http[^ ]*\).*/\1/p' "$T/sim.out")
        [ -z "$URL" ] && sleep 0.05
        i=$((i + 1))
    done
    if [ -z "$URL" ]; then
        echo "| $conns | segalert-sim did not start | | | | |"
        cat "$T/sim.err" >&2
        return
    fi
    # The status page and /metrics are on (the default): the snapshot the
    # daemon publishes after each pass is part of its memory.
    port=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
    cat >"$T/seg.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$port"
log_level = "debug"
rule_files = {"$RULES/*.conf"}
workspace "bench" {
  api_url = "$URL"
  token = "bench-token"
  request_budget = 1000000
  max_concurrency = 64
  request_timeout = "60s"
  mtu_limit = 100000000
  api_calls_limit = 100000000000
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
    # Debug level for the evaluation line; the log goes to a file on the
    # same disk, it is not what is measured.
    "$SEGALERT" run --eval-interval "$EVAL_INTERVAL" -c "$T/seg.conf" \
        >/dev/null 2>"$T/seg.log" &
    SEG_PID=$!
    # Wait until the count covers every connection (4 delivery rules) and
    # stops growing (the first pass at the full count runs as the sweep
    # ends), then for PASSES more passes.
    want=$((conns * 4))
    start=$(date +%s)
    settled=""
    while :; do
        now=$(date +%s)
        if [ $((now - start)) -gt "$SWEEP_TIMEOUT_S" ]; then
            break
        fi
        if ! kill -0 "$SEG_PID" 2>/dev/null; then
            break
        fi
        n=$(passes | awk -v w="$want" '
            { if ($1 >= w && $1 == prev) settled = settled ? settled : NR; prev = $1 }
            END { if (settled) print NR - settled + 1; else print 0 }')
        if [ "$n" -ge "$PASSES" ]; then
            settled=yes
            break
        fi
        sleep 1
    done
    rss=$(kib "$SEG_PID" VmRSS)
    hwm=$(kib "$SEG_PID" VmHWM)
    kill -TERM "$SEG_PID" 2>/dev/null
    wait "$SEG_PID" 2>/dev/null
    SEG_PID=""
    kill "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
    SIM_PID=""
    if [ -z "$settled" ]; then
        # The first sweep did not finish in time: the last pass still
        # gives ns per (rule, series) of what it evaluated (fewer series,
        # less memory than the full size would take).
        passes | tail -n 1 | awk -v rss="${rss:-0}" -v hwm="${hwm:-0}" \
            -v c="$conns" -v lim="$SWEEP_TIMEOUT_S" '
            { n = $1; ms = $2 }
            END {
                if (!n) {
                    printf "| %d | no pass in %d s | | | %d MiB | %d MiB |\n",
                           c, lim, rss / 1024, hwm / 1024
                    exit
                }
                printf "| %d | %d (first sweep not done in %d s) | %.1f | %.0f | %d MiB | %d MiB |\n",
                       c, n, lim, ms, ms * 1e6 / n, rss / 1024,
                       hwm / 1024
            }'
        return
    fi
    # The last PASSES passes with the settled count: median duration.
    passes | tail -n "$PASSES" | sort -k2 -g | awk -v p="$PASSES" \
        -v rss="${rss:-0}" -v hwm="${hwm:-0}" -v c="$conns" '
        NR == int((p + 1) / 2) { n = $1; ms = $2 }
        END {
            printf "| %d | %d | %.1f | %.0f | %d MiB | %d MiB |\n", c, n, ms,
                   n ? ms * 1e6 / n : 0, rss / 1024, hwm / 1024
        }'
}

echo "| connections | (rule, series) | eval pass ms | ns per (rule, series) | RSS | peak RSS |"
echo "|---|---|---|---|---|---|"
for c in ${*:-1000 10000 50000}; do
    run_size "$c"
done
