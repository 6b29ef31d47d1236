#!/bin/sh
# t061-e2e-restart: restarts never re-send what was delivered and never
# lose what was queued (SPEC §5 outbox, §6 state).
#
#  A. restart mid-incident: the daemon fires, is stopped with SIGTERM
#     (state.json holds the firing instance and the notification log), is
#     started again: no second "firing" (repeat_interval is 1h), and the
#     "resolved" still arrives, once.
#  B. kill -9 between enqueue and delivery: the webhook holds the request
#     without answering, the daemon is killed; state.json holds the
#     notification in its outbox; after a restart against a healthy
#     webhook that notification (same id) is delivered exactly once.
#
# A and B run side by side (two daemons, two state dirs, one simulator)
# so the test waits for the incident only once.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t061-e2e-restart.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# ---- helpers ------------------------------------------------------------------
# A recording HTTP receiver: every request goes to DIR/NNNN.json as
# {"method","path","headers","body","mode","t"}; the answer depends on the
# mode (ok: 200; 500: 500; hang: no answer for 60 s), set with POST /_mode.
cat >"$T/sink.py" <<'PYEOF'
import http.server, json, os, sys, threading, time
out = sys.argv[1]
state = {"mode": sys.argv[2] if len(sys.argv) > 2 else "ok", "n": 0}
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, code, text):
        b = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.answer(200, state["mode"])
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = body.decode("utf-8", "replace")
        if self.path == "/_mode":
            state["mode"] = body.strip()
            self.answer(200, "ok")
            return
        with lock:
            state["n"] += 1
            k = state["n"]
            mode = state["mode"]
        rec = {"method": "POST", "path": self.path, "headers": dict(self.headers),
               "body": body, "mode": mode, "t": time.time()}
        tmp = os.path.join(out, ".%04d.tmp" % k)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(out, "%04d.json" % k))
        if mode == "hang":
            time.sleep(60)
            self.close_connection = True
            return
        self.answer(500 if mode == "500" else 200, "ok" if mode == "ok" else "boom")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("READY %d" % srv.server_address[1], flush=True)
srv.serve_forever()
PYEOF

# start_sink NAME [MODE]: records into $T/NAME/, sets NAME_URL.
start_sink() {
    mkdir -p "$T/$1"
    "$PY" "$T/sink.py" "$T/$1" "${2:-ok}" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" 2>/dev/null)
        if [ -n "$p" ]; then
            eval "${1}_URL=http://127.0.0.1:$p"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# sinkq NAME EXPR: a python expression over R (the recorded requests, each
# with "j" = the parsed JSON body) and A (those answered 200), with
# st(s) = number of answered notifications whose status is s.
sinkq() {
    "$PY" -c "import glob, json, os, re, sys
R = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], '[0-9]*.json'))):
    r = json.load(open(f))
    try:
        r['j'] = json.loads(r['body'])
    except ValueError:
        r['j'] = None
    R.append(r)
A = [r for r in R if r['mode'] == 'ok']
def st(s):
    return sum(1 for r in A if isinstance(r['j'], dict) and r['j'].get('status') == s)
print($2)" "$T/$1"
}
# sinktrue NAME EXPR: exit 0 when the expression is true
sinktrue() { [ "$(sinkq "$1" "bool($2)")" = True ]; }

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

free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# alive PID: the process exists and is not a zombie (kill -0 succeeds on
# a child this shell has not reaped yet).
alive() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# stop_daemon PID SECONDS: SIGTERM, wait up to SECONDS; sets RC to the exit
# code (124 when it had to be killed).
stop_daemon() {
    kill -TERM "$1" 2>/dev/null
    n=$(($2 * 10))
    while [ $n -gt 0 ] && alive "$1"; do
        sleep 0.1
        n=$((n - 1))
    done
    if alive "$1"; then
        kill -9 "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        RC=124
        return
    fi
    wait "$1"
    RC=$?
}

no_sanitizer_report() {
    ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$@"
}

# ---- scenario: the incident inside one UTC minute ------------------------------------
# The daemon reads the last complete minute of delivery metrics
# (delivery_window "1m"): the incident lies in [EDGE-60, EDGE-2], so the
# rule fires just after EDGE and resolves just after EDGE+60.
set -- $("$PY" -c 'import math, time
t = time.time()
edge = math.ceil((t + 4 + 12 + 2) / 60) * 60
start = max(4, math.ceil(edge - 2 - 45 - t))
print(start, math.floor(edge - 2 - t - start), edge)')
INC_START=$1 INC_DUR=$2 EDGE=$3
cat >"$T/scenario.conf" <<CONF
seed = 61
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.001 }
}
incident "amplitude-discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  start = "${INC_START}s"
  duration = "${INC_DUR}s"
  value = 0.3
}
CONF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hookA || { notok "webhook sink A starts"; finish; }
start_sink hookB hang || { notok "webhook sink B starts"; finish; }

cat >"$T/rules.conf" <<'CONF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  warn     = "discard_ratio > 0.5% and attempted >= 100"
  recover  = "discard_ratio < 0.2% or attempted < 100"
  for      = "5s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
CONF

# write_daemon_config NAME HOOK_URL: $T/NAME.conf with state in $T/NAME-state
write_daemon_config() {
    cat >"$T/$1.conf" <<CONF
state_dir = "$T/$1-state"
listen = ""
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "5s"
  delivery_window = "1m"
  volume_interval = "1m"
  usage_interval = "1h"
  request_budget = 600
}
defaults {
  group_by = {"rule", "workspace"}
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "1h"
}
receiver "hook" { type = "webhook"  url = "$2/hook"  timeout = "20s" }
route "all" { receiver = "hook" }
CONF
}
# start_daemon NAME: sets PID_NAME; logs to $T/NAME.N.err (N = run number)
RUNS=0
start_daemon() {
    RUNS=$((RUNS + 1))
    SIM_TOKEN=test-token "$SEGALERT" run -c "$T/$1.conf" >"$T/$1.$RUNS.out" 2>"$T/$1.$RUNS.err" &
    eval "PID_$1=$!"
    bg_pid $!
}
write_daemon_config a "$hookA_URL"
write_daemon_config b "$hookB_URL"
start_daemon a
A1=$RUNS
start_daemon b
B1=$RUNS

# jstate NAME EXPR: a python expression over S, the daemon's state.json
jstate() {
    "$PY" -c "import json, sys
S = json.load(open(sys.argv[1]))
print($2)" "$T/$1-state/state.json"
}

# ---- A: the firing, then SIGTERM ---------------------------------------------------------
now=$(date +%s)
if wait_for $((EDGE - now + 40)) sinktrue hookA "st('firing') >= 1"; then
    ok "A: firing notification received"
else
    notok "A: firing notification received (incident ${INC_START}s+${INC_DUR}s, minute ends at $EDGE)"
    tail -n 20 "$T/a.$A1.err"
fi
NA=$(sinkq hookA "[r['j']['segalert']['notificationId'] for r in A if r['j']['status'] == 'firing'][0]" 2>/dev/null)
FP=$(sinkq hookA "[r['j']['alerts'][0]['fingerprint'] for r in A if r['j']['status'] == 'firing'][0]" 2>/dev/null)
stop_daemon "$PID_a" 12
check "A: SIGTERM: exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "A: state.json holds the instance, firing and announced" [ "$(jstate a "[(i['rule'], i['series']['destination'], i['state']['state'], i['state']['announced_firing']) for i in S['instances']]")" = "[('delivery-discard-ratio', 'amplitude', 'firing', True)]" ]
check "A: state.json holds the notification log of the group (alert $FP announced)" [ "$(jstate a "[(g['receiver'], [f['fingerprint'] for f in g['nflog']['firing']], g['nflog']['notified_at'] > 0) for g in S['dispatch']['groups']]")" = "[('hook', ['$FP'], True)]" ]
check "A: nothing left in the outbox" [ "$(jstate a "len(S['outbox']['entries'])")" -eq 0 ]
check "A: first run: no sanitizer report" no_sanitizer_report "$T/a.$A1.err"
start_daemon a
A2=$RUNS
check "A: restarted: the instance is restored" wait_for 5 grep -q 'state restored: 1 alert instances (0 dropped)' "$T/a.$A2.err"

# ---- B: the webhook holds the request; kill -9 --------------------------------------------
now=$(date +%s)
if wait_for $((EDGE - now + 40)) sinktrue hookB "[r for r in R if r['mode'] == 'hang' and r['j']['status'] == 'firing']"; then
    ok "B: the firing notification reached the (hanging) webhook"
else
    notok "B: the firing notification reached the (hanging) webhook"
    tail -n 20 "$T/b.$B1.err"
fi
NB=$(sinkq hookB "[r['j']['segalert']['notificationId'] for r in R if r['j']['status'] == 'firing'][0]" 2>/dev/null)
kill -9 "$PID_b" 2>/dev/null
wait "$PID_b" 2>/dev/null
check "B: state.json holds the notification $NB in the outbox" [ "$(jstate b "[(e['notification']['id'], e['notification']['receiver'], e['notification']['alerts'][0]['status']) for e in S['outbox']['entries']]")" = "[('$NB', 'hook', 'firing')]" ]
check "B: not delivered before the crash" sh -c "! grep -q 'notify: delivered' '$T/b.$B1.err'"
curl -s -X POST --data ok "$hookB_URL/_mode" >/dev/null
start_daemon b
B2=$RUNS
if wait_for 10 sinktrue hookB "[r for r in A if r['j']['segalert']['notificationId'] == '$NB']"; then
    ok "B: after the restart the queued notification is delivered"
else
    notok "B: after the restart the queued notification is delivered"
    tail -n 20 "$T/b.$B2.err"
fi
check "B: the restart said 1 queued notification" grep -q 'state restored: 1 alert instances (0 dropped), 1 queued notifications' "$T/b.$B2.err"
check "B: its outbox is empty once delivered" wait_for 5 sh -c "[ \"\$(\"$PY\" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[\"outbox\"][\"entries\"]))' '$T/b-state/state.json')\" = 0 ]"

# ---- A: no repeat after the restart; the resolved once ----------------------------------------
# Two group intervals (5 s) and more after the restart.
sleep 11
check "A: no second firing after the restart (repeat_interval 1h)" [ "$(sinkq hookA "st('firing')")" -eq 1 ]
now=$(date +%s)
if wait_for $((EDGE + 100 - now)) sinktrue hookA "st('resolved') >= 1"; then
    ok "A: resolved notification received after the restart"
else
    notok "A: resolved notification received after the restart"
    tail -n 20 "$T/a.$A2.err"
fi
check "A: the resolved is for the same alert and group" [ "$(sinkq hookA "[(r['j']['alerts'][0]['fingerprint'], r['j']['alerts'][0]['endsAt'] != '0001-01-01T00:00:00Z', r['j']['segalert']['notificationId'] != '$NA') for r in A if r['j']['status'] == 'resolved']")" = "[('$FP', True, True)]" ]
sleep 11
check "A: exactly one firing and one resolved in all, nothing else" [ "$(sinkq hookA "(st('firing'), st('resolved'), len(R))")" = "(1, 1, 2)" ]
check "B: the notification $NB was delivered (answered 200) exactly once" [ "$(sinkq hookB "len([r for r in A if r['j']['segalert']['notificationId'] == '$NB'])")" -eq 1 ]
check "B: no other firing notification" [ "$(sinkq hookB "st('firing')")" -eq 1 ]
check "B: the resolved arrives once" [ "$(sinkq hookB "st('resolved')")" -eq 1 ]

stop_daemon "$PID_a" 12
check "A: second run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon "$PID_b" 12
check "B: second run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T/a.$A2.err" "$T/b.$B2.err"
check "no error logged" sh -c "! grep -q 'level=error' '$T/a.$A1.err' '$T/a.$A2.err' '$T/b.$B2.err'"
finish
