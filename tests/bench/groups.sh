#!/bin/sh
# groups.sh BUILD_DIR: many simultaneous alert groups, segalert beside
# Alertmanager, both notifying the same fast HTTP sink (tests/peers/
# count_sink.c, built by `make bench`).  Prints one table (markdown).
# Not a test: figures only (docs/design.md "Performance targets").
#
#   sh tests/bench/groups.sh build/rel        (tests/bench/run.sh calls it)
#   GROUPS_RUNS="20000:0" sh tests/bench/groups.sh build/rel
#
# GROUPS_RUNS: the runs, "N:SOFT_NOFILE" each (0 = leave the open-files soft
# limit as it is); default "2000:0 20000:0 2000:1024".
# GROUPS_DEADLINE_S: how long one system gets from the trigger to the last
# notification (default 30; a run cut short shows its time with a "+");
# GROUPS_STARTUP_S: how long segalert may take to poll the simulator and
# fire (default 60).
# GROUPS_QUIET_S: the sink is done when it has seen N notifications and
# nothing more for this long (default 2).
#
# segalert runs end to end: segalert-sim serves a generated workspace of N
# connections (N/10 sources x 10 destinations), one rule is true for every
# connection at the first evaluation, the route groups by every label (one
# group per alert) with group_wait 1s and posts webhooks to the sink.
#   trigger = the moment the daemon logs its first FIRING line
#             (the evaluation that fires every alert; the line is
#             timestamped by this script as it arrives).
# Alertmanager 0.25 (/usr/bin/prometheus-alertmanager, skipped when not
# installed) gets the same N alerts POSTed to /api/v2/alerts in batches of
# 1000, a route grouping by every label, group_wait 1s, a webhook to the sink.
#   trigger = the start of the first POST.
# For both: time = trigger -> the last notification the sink received;
# duplicates = requests beyond the first per notification (segalert's
# notification id, Alertmanager's group key: one notification per group
# here); lost = notifications never received; peak RSS = VmHWM.
set -u
O=${1:-build/rel}
SEGALERT=${SEGALERT:-$PWD/segalert}
SIM=${SEGALERT_SIM:-$PWD/segalert-sim}
SINK=$PWD/$O/bench/count_sink
AM=${AM:-/usr/bin/prometheus-alertmanager}
PY=/usr/bin/python3
RUNS=${GROUPS_RUNS:-2000:0 20000:0 2000:1024}
QUIET_S=${GROUPS_QUIET_S:-2}
DEADLINE_S=${GROUPS_DEADLINE_S:-30}
STARTUP_S=${GROUPS_STARTUP_S:-60}
GROUP_WAIT=1s
T=$(mktemp -d /tmp/segalert-groups.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM

if [ ! -x "$SINK" ]; then
    echo "groups.sh: $SINK is missing (make bench builds it)" >&2
    exit 1
fi

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_sink: a fresh count_sink; sets SINK_PORT and SINK_PID.
start_sink() {
    : >"$T/sink.out"
    "$SINK" --port 0 >"$T/sink.out" 2>"$T/sink.err" &
    SINK_PID=$!
    PIDS="$PIDS $SINK_PID"
    i=0
    while [ $i -lt 100 ]; do
        SINK_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/sink.out")
        [ -n "$SINK_PORT" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
    echo "groups.sh: count_sink did not start" >&2
    cat "$T/sink.err" >&2
    exit 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# sink_wait N TRIGGER_FILE: until the sink saw N notifications and then
# QUIET_S seconds without a request; or DEADLINE_S after the trigger (the
# time in TRIGGER_FILE), or STARTUP_S when the trigger never comes.
# Prints the sink's final stats JSON.
sink_wait() {
    "$PY" - "$SINK_PORT" "$1" "$QUIET_S" "$DEADLINE_S" "$STARTUP_S" "$2" <<'EOF'
import json, os, sys, time, urllib.request
port, n, quiet = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline, startup, trigger = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
url = "http://127.0.0.1:%s/_stats" % port
end = time.time() + startup
last_req, last_change = -1, time.time()
while True:
    s = json.load(urllib.request.urlopen(url))
    if s["requests"] != last_req:
        last_req, last_change = s["requests"], time.time()
    if s["groups"] >= n and time.time() - last_change >= quiet:
        break
    try:
        end = float(open(trigger).read()) + deadline
    except (OSError, ValueError):
        pass
    if time.time() > end:
        s["timed_out"] = True
        break
    time.sleep(0.1)
print(json.dumps(s))
EOF
}

hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- segalert ----------------------------------------------------------------

# run_segalert N NOFILE: writes $T/seg.result ("trigger stats_json hwm_kib").
run_segalert() {
    n=$1 nofile=$2
    nsrc=$(( (n + 9) / 10 ))
    cat >"$T/seg.scen" <<SCEN
seed = 7
token = "bench-token"
generate { sources = $nsrc  destinations_per_source = 10  events_per_minute = 100 }
SCEN
    : >"$T/sim.out"
    "$SIM" --listen 127.0.0.1:0 --scenario "$T/seg.scen" >"$T/sim.out" 2>"$T/sim.err" &
    SIM_PID=$!
    PIDS="$PIDS $SIM_PID"
    i=0; SIM_URL=""
    while [ $i -lt 100 ] && [ -z "$SIM_URL" ]; do
        SIM_URL=$(sed -n 's/^segalert-sim listening on \(http[^ ]*\).*/\1/p' "$T/sim.out")
        sleep 0.05; i=$((i + 1))
    done
    mkdir -p "$T/segrules"
    cat >"$T/segrules/all.conf" <<'RULES'
rule "bench-every-connection" {
  expr = "attempted >= 0"
  for = "0s"
  severity = "critical"
  summary = "{{source}} -> {{destination}}"
}
RULES
    rm -rf "$T/segstate"
    cat >"$T/seg.conf" <<CONF
state_dir = "$T/segstate"
listen = ""
rule_files = {"segrules/*.conf"}
workspace "bench" {
  api_url = "$SIM_URL"
  token = "bench-token"
  request_budget = 1000000
  max_concurrency = 32
  poll_interval = "1h"
  request_timeout = "60s"
}
receiver "sink" {
  type = "webhook"
  url = "http://127.0.0.1:$SINK_PORT/hook"
  send_resolved = false
}
route "each" {
  receiver = "sink"
  group_by = {"..."}
  group_wait = "$GROUP_WAIT"
  group_interval = "1h"
  repeat_interval = "24h"
}
CONF
    # The launcher timestamps the daemon's first FIRING line as it
    # arrives and keeps the rest of the log.
    "$PY" - "$T" "$nofile" "$SEGALERT" "$T/seg.conf" <<'EOF' &
import os, resource, subprocess, sys, time
t, nofile, seg, conf = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def limit():
    if nofile > 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
p = subprocess.Popen([seg, "run", "-c", conf, "--eval-interval", "1h"],
                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                     preexec_fn=limit, cwd=os.path.dirname(conf))
open(t + "/seg.pid", "w").write("%d\n" % p.pid)
log = open(t + "/seg.log", "wb")
seen = False
for line in p.stderr:
    if not seen and b"msg=\"FIRING " in line:
        open(t + "/seg.trigger", "w").write("%.3f\n" % time.time())
        seen = True
    log.write(line)
p.wait()
EOF
    LPID=$!
    PIDS="$PIDS $LPID"
    i=0
    while [ ! -s "$T/seg.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    SEG_PID=$(cat "$T/seg.pid")
    stats=$(sink_wait "$n" "$T/seg.trigger")
    hwm=$(hwm_kib "$SEG_PID")
    kill -TERM "$SEG_PID" 2>/dev/null
    wait "$LPID" 2>/dev/null
    stop_pid "$SIM_PID"
    trig=$(cat "$T/seg.trigger" 2>/dev/null || echo 0)
    echo "$trig $stats $hwm" >"$T/seg.result"
    rm -f "$T/seg.pid" "$T/seg.trigger"
}

# ---- Alertmanager ----------------------------------------------------------------

# run_am N NOFILE: writes $T/am.result ("trigger stats_json hwm_kib").
run_am() {
    n=$1 nofile=$2
    AMPORT=$(free_port)
    cat >"$T/am.yml" <<YML
route:
  receiver: sink
  group_by: ['...']
  group_wait: $GROUP_WAIT
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:$SINK_PORT/hook
        send_resolved: false
YML
    rm -rf "$T/amdata"
    (
        [ "$nofile" -gt 0 ] && ulimit -Sn "$nofile"
        exec "$AM" --config.file="$T/am.yml" --storage.path="$T/amdata" \
            --web.listen-address=127.0.0.1:$AMPORT --cluster.listen-address= \
            --log.level=warn
    ) >"$T/am.log" 2>&1 &
    AMPID=$!
    PIDS="$PIDS $AMPID"
    i=0
    while ! curl -sf "http://127.0.0.1:$AMPORT/-/ready" >/dev/null 2>&1; do
        sleep 0.1; i=$((i + 1))
        [ $i -gt 300 ] && { echo "groups.sh: alertmanager did not start" >&2; cat "$T/am.log" >&2; return 1; }
    done
    "$PY" - "$AMPORT" "$n" "$T/am.trigger" <<'EOF'
import http.client, json, sys, time
port, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
batches = []
for b in range(0, n, 1000):
    batches.append(json.dumps([
        {"labels": {"alertname": "bench-every-connection", "source": "s%05d" % (i // 10),
                    "destination": "d%d" % (i % 10), "severity": "critical"},
         "annotations": {"summary": "s%05d -> d%d" % (i // 10, i % 10)},
         "endsAt": ends}
        for i in range(b, min(b + 1000, n))]).encode())
c = http.client.HTTPConnection("127.0.0.1", int(port))
t0 = time.time()
for body in batches:
    c.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("alertmanager answered %d" % r.status)
open(out, "w").write("%.3f\n" % t0)
EOF
    stats=$(sink_wait "$n" "$T/am.trigger")
    hwm=$(hwm_kib "$AMPID")
    stop_pid "$AMPID"
    echo "$(cat "$T/am.trigger") $stats $hwm" >"$T/am.result"
}

# ---- table -----------------------------------------------------------------------

# fields RESULT_FILE N: "seconds duplicates lost MiB connections" of one run
fields() {
    "$PY" - "$1" "$2" "$DEADLINE_S" <<'EOF'
import json, sys
line = open(sys.argv[1]).read().split(" ", 1)
n = int(sys.argv[2])
trig = float(line[0])
rest = line[1].rsplit(" ", 1)
s, hwm = json.loads(rest[0]), int(rest[1] or 0)
lost = n - s["groups"]
if trig <= 0:
    secs = "no-trigger"     # never fired within GROUPS_STARTUP_S
elif s.get("timed_out"):
    secs = "%.0f+" % float(sys.argv[3])     # cut: at least the deadline
else:
    secs = "%.2f" % (s["last"] - trig)
print("%s %d %d %d %d" % (secs, s["duplicates"], lost, hwm // 1024,
                          s["connections"]))
EOF
}

echo "## Alert groups at once: trigger -> last notification, segalert vs Alertmanager 0.25"
echo "(one alert per group, group_wait $GROUP_WAIT, webhooks to one local C sink; trigger = segalert's"
echo "first FIRING log line / the first POST of the alerts to Alertmanager; time = the"
echo "last request at the sink; duplicates counted per notification; peak RSS = VmHWM; connections"
echo "= TCP connections that carried notifications; \"+\" = cut ${DEADLINE_S} s after the trigger."
echo "Targets: segalert <= AM, 0 duplicates)"
echo
echo "| groups | open files (soft, at start) | segalert | Alertmanager | segalert / AM | duplicates seg / AM | lost seg / AM | peak RSS seg / AM | connections seg / AM |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $RUNS; do
    n=${run%%:*} nofile=${run##*:}
    lim=$( [ "$nofile" -gt 0 ] && echo "$nofile" || ulimit -Sn )
    start_sink
    run_segalert "$n" "$nofile"
    seg=$(fields "$T/seg.result" "$n")
    stop_pid "$SINK_PID"
    am="- - - - -"
    if [ -x "$AM" ]; then
        start_sink
        run_am "$n" "$nofile" && am=$(fields "$T/am.result" "$n")
        stop_pid "$SINK_PID"
    fi
    set -- $seg; s_t=$1 s_d=$2 s_l=$3 s_m=$4 s_c=$5
    set -- $am; a_t=$1 a_d=$2 a_l=$3 a_m=$4 a_c=$5
    ratio=$(awk -v s="$s_t" -v a="$a_t" 'BEGIN {
        if (a + 0 > 0 && s ~ /^[0-9]/) printf "%.2f%s", s / a, (s ~ /\+$/ ? "+" : "")
        else print "-" }')
    echo "| $n | $lim | ${s_t} s | ${a_t} s | $ratio | $s_d / $a_d | $s_l / $a_l | $s_m / $a_m MiB | $s_c / $a_c |"
done
