# Shared helpers for integration tests (POSIX sh).  Source it first:
#   . "$(dirname "$0")/lib.sh"
# Every test gets a temp dir ($T), TAP-ish output (ok / not ok lines) and a
# cleanup trap that kills whatever it started (register pids with bg_pid).

SEGALERT=${SEGALERT:-$PWD/segalert}
SEGALERT_SIM=${SEGALERT_SIM:-$PWD/segalert-sim}
SRC=${SEGALERT_SRC:-$PWD}
T=$(mktemp -d "${TMPDIR:-/tmp}/segalert-it.XXXXXX")
PIDS=""
FAILS=0

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.1
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM

bg_pid() { PIDS="$PIDS $1"; }

PY=${PY:-/usr/bin/python3}

# free_port: a free TCP port on 127.0.0.1 (to pass to a server we start).
free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: retry every 0.2 s until the command succeeds.
wait_for() {
    n=$(($1 * 5))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

# ---- scaled time -------------------------------------------------------------
# Tests that wait on daemon timers run segalert and segalert-sim on a scaled
# clock (include/core/clock.h, docs/sim.md "Scaled time"): virtual wall time
# = CLOCK_START + (real wall time - CLOCK_ORIGIN) x CLOCK_SCALE.  Every daemon
# and sim timer follows it; NOT scaled (real seconds): HTTP/SMTP timeouts
# (receiver `timeout`, `request_timeout`), the 10 s SIGTERM flush deadline,
# Alertmanager, and the Python peers (the time they record is real).
# Without use_scaled_clock the helpers below run on the real clock.
CLOCK_SCALE=1 CLOCK_ORIGIN=0 CLOCK_START=0

# use_scaled_clock N [START]: export SEGALERT_CLOCK with origin = now and
# virtual time START at the origin (default: now), so that every segalert
# and segalert-sim started afterwards shares the clock.  Also exports
# CLOCK_SCALE/CLOCK_ORIGIN/CLOCK_START for Python checks (see vtime).
use_scaled_clock() {
    CLOCK_SCALE=$1
    CLOCK_ORIGIN=$(date +%s.%3N)
    CLOCK_START=${2:-$CLOCK_ORIGIN}
    SEGALERT_CLOCK="scale=$CLOCK_SCALE,origin=$CLOCK_ORIGIN,start=$CLOCK_START"
    export SEGALERT_CLOCK CLOCK_SCALE CLOCK_ORIGIN CLOCK_START
}

# vtime [REAL]: the virtual unix time (3 decimals) at real unix time REAL
# (default: now).  In Python: CLOCK_START + (t - CLOCK_ORIGIN) * CLOCK_SCALE
# with the exported values (PY_VTIME defines v(t) for that).
vtime() {
    awk -v r="${1:-$(date +%s.%N)}" -v k="$CLOCK_SCALE" -v o="$CLOCK_ORIGIN" \
        -v s="$CLOCK_START" 'BEGIN { printf "%.3f\n", s + (r - o) * k }'
}
# vnow: the virtual unix time now, whole seconds (for shell arithmetic,
# where a real test used `date +%s`).
vnow() { vtime | sed 's/\..*//'; }
# PY_VTIME: Python source defining v(t), the virtual time at real time t,
# for checks that compare what a Python peer recorded (real time) with what
# segalert wrote (its clock): "$PY" -c "$PY_VTIME
# ...".
PY_VTIME='import os
def v(t):
    k = float(os.environ.get("CLOCK_SCALE", 1))
    return float(os.environ.get("CLOCK_START", 0)) + (t - float(os.environ.get("CLOCK_ORIGIN", 0))) * k'

# vsleep V: sleep for V seconds of virtual time.
vsleep() { sleep "$(awk -v v="$1" -v k="$CLOCK_SCALE" 'BEGIN { printf "%.3f", v / k }')"; }

# vwait V COMMAND...: retry COMMAND every 0.1 s until it succeeds; give up
# once V seconds of virtual time (V/N real) have passed, plus a margin for
# a loaded machine (ASan, other jobs): the real deadline is 2 V/N + 10 s
# (V < 0 counts as 0).  The margin is spent only when the test fails.
vwait() {
    end=$(awk -v v="$1" -v k="$CLOCK_SCALE" -v now="$(date +%s.%N)" \
        'BEGIN { printf "%.3f", now + 2 * (v > 0 ? v : 0) / k + 10 }')
    shift
    while :; do
        "$@" && return 0
        awk -v end="$end" -v now="$(date +%s.%N)" 'BEGIN { exit !(now < end) }' ||
            return 1
        sleep 0.1
    done
}

ok()    { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
# check "description" command...: ok when the command succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
# contains FILE TEXT: fixed-string search
contains() { grep -qF -- "$2" "$1"; }

# Start segalert-sim with a scenario; sets SIM_URL and SIM_PID.
start_sim() {
    scenario=$1; shift
    : >"$T/sim.out"
    "$SEGALERT_SIM" --listen 127.0.0.1:0 --scenario "$scenario" "$@" \
        >"$T/sim.out" 2>"$T/sim.err" &
    SIM_PID=$!
    bg_pid $SIM_PID
    i=0
    while [ $i -lt 100 ]; do
        SIM_URL=$(sed -n 's/^segalert-sim listening on \(http[^ ]*\).*/\1/p' "$T/sim.out")
        [ -n "$SIM_URL" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    echo "segalert-sim did not start:" >&2
    cat "$T/sim.err" >&2
    return 1
}

# stop_sim: stop the sim start_sim started (before starting another).
stop_sim() {
    kill "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
}

# sim_stat EXPR: evaluate a python expression over the /sim/stats JSON (s).
sim_stat() {
    curl -s "$SIM_URL/sim/stats" | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# Write a config for one workspace pointing at the sim: write_config FILE [extra workspace lines]
write_config() {
    f=$1; shift
    {
        echo "state_dir = \"$T/state\""
        echo "listen = \"\""
        echo "workspace \"sim\" {"
        echo "  api_url = \"$SIM_URL\""
        echo "  token_env = \"SIM_TOKEN\""
        for line in "$@"; do echo "  $line"; done
        echo "}"
    } >"$f"
}

finish() {
    [ "$FAILS" -eq 0 ]
    exit $?
}
