#!/bin/sh
# t063-e2e-ha: high availability as SPEC §8 describes it.  Two identical
# segalert instances (separate state_dirs) both notify through their
# alertmanager receiver into a two-node Alertmanager cluster on loopback
# (--cluster.peer); both nodes route to one webhook.  A rule that fires on
# the simulator's data must reach that webhook exactly once: not twice
# (once per segalert) nor four times (once per segalert per node).
#
# Needs /usr/bin/prometheus-alertmanager (`make deps` installs it): when it
# is missing the test fails saying so (it does not skip).
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t063-e2e-ha.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
AM=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}

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

if [ ! -x "$AM" ]; then
    notok "prometheus-alertmanager is installed ($AM missing: run make deps)"
    finish
fi

cat >"$T/scenario.conf" <<'CONF'
seed = 63
token = "test-token"
source "web" {
  events_per_minute = 600
  destination "amplitude" {}
}
CONF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }

# ---- the Alertmanager cluster -------------------------------------------------------------------
cat >"$T/am.yml" <<CONF
route:
  receiver: sink
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: $hook_URL/am
CONF
WA=$(free_port) PA=$(free_port) WB=$(free_port) PB=$(free_port)
# start_am NAME WEB_PORT CLUSTER_PORT [extra flags]
start_am() {
    name=$1 web=$2 cl=$3
    shift 3
    "$AM" --config.file="$T/am.yml" --storage.path="$T/$name" \
        --web.listen-address=127.0.0.1:$web --cluster.listen-address=127.0.0.1:$cl \
        --cluster.gossip-interval=50ms --cluster.peer-timeout=3s \
        --cluster.pushpull-interval=5s "$@" >"$T/$name.log" 2>&1 &
    eval "PID_$name=$!"
    bg_pid $!
}
start_am amA $WA $PA
start_am amB $WB $PB --cluster.peer=127.0.0.1:$PA
# cluster_ready PORT: the node's cluster is ready with 2 peers
cluster_ready() {
    curl -s "http://127.0.0.1:$1/api/v2/status" 2>/dev/null | "$PY" -c "import json, sys
c = json.load(sys.stdin)['cluster']
sys.exit(0 if c['status'] == 'ready' and len(c['peers']) == 2 else 1)" 2>/dev/null
}
both_ready() { cluster_ready $WA && cluster_ready $WB; }
if wait_for 30 both_ready; then
    ok "Alertmanager cluster: both nodes ready with 2 peers"
else
    notok "Alertmanager cluster: both nodes ready with 2 peers"
    tail -n 5 "$T/amA.log" "$T/amB.log"
fi

# ---- two segalert replicas ----------------------------------------------------------------------
cat >"$T/rules.conf" <<'CONF'
rule "traffic-seen" {
  expr     = "attempted >= 1"
  severity = "warning"
  summary  = "{{destination}} receives events from {{source}}"
}
CONF
for r in 1 2; do
    cat >"$T/s$r.conf" <<CONF
state_dir = "$T/s$r-state"
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
receiver "am" { type = "alertmanager"  urls = {"http://127.0.0.1:$WA", "http://127.0.0.1:$WB"} }
route "all" { receiver = "am" }
CONF
    SIM_TOKEN=test-token "$SEGALERT" run -c "$T/s$r.conf" >"$T/s$r.out" 2>"$T/s$r.err" &
    eval "PID_s$r=$!"
    bg_pid $!
done

if wait_for 40 sinktrue hook "len(R) >= 1"; then
    ok "the webhook behind the cluster received a notification"
else
    notok "the webhook behind the cluster received a notification"
    tail -n 5 "$T/s1.err" "$T/s2.err" "$T/amA.log" "$T/amB.log"
fi
# Both replicas posted to both nodes (else there was nothing to deduplicate).
received() {
    curl -s "http://127.0.0.1:$1/metrics" | "$PY" -c "import re, sys
n = sum(float(m.group(1)) for m in re.finditer(r'^alertmanager_alerts_received_total\{status=\"firing\"[^}]*\} (\S+)$', sys.stdin.read(), re.M))
sys.exit(0 if n >= 2 else 1)"
}
check "both replicas posted the alert to node A" wait_for 20 received $WA
check "both replicas posted the alert to node B" wait_for 20 received $WB
check "replica 1 delivered to its alertmanager receiver" grep -q 'notify: delivered .* to receiver .*"am' "$T/s1.err"
check "replica 2 delivered to its alertmanager receiver" grep -q 'notify: delivered .* to receiver .*"am' "$T/s2.err"
# The second node would send after peer_timeout (3 s) if the first one's
# notification log had not reached it; the replicas re-send every 15 s.
sleep 16
check "exactly ONE notification for the alert ($(sinkq hook 'len(R)') received)" [ "$(sinkq hook 'len(R)')" -eq 1 ]
check "it is the alert: firing, alertname, source, destination, severity" "$PY" -c "import json, sys
j = json.loads(open(sorted(__import__('glob').glob(sys.argv[1] + '/[0-9]*.json'))[0]).read())
j = json.loads(j['body'])
a = j['alerts']
l = a[0]['labels']
ok = j['version'] == '4' and j['status'] == 'firing' and len(a) == 1 \
    and l.get('alertname') == 'traffic-seen' and l.get('source') == 'web' \
    and l.get('destination') == 'amplitude' and l.get('severity') == 'warning' \
    and l.get('workspace') == 'sim' \
    and a[0]['annotations'].get('summary') == 'amplitude receives events from web'
sys.exit(0 if ok else 1)" "$T/hook"
check "both nodes hold the alert" sh -c "curl -s http://127.0.0.1:$WA/api/v2/alerts | grep -q traffic-seen && curl -s http://127.0.0.1:$WB/api/v2/alerts | grep -q traffic-seen"

stop_daemon "$PID_s1" 15
check "replica 1: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon "$PID_s2" 15
check "replica 2: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
# Graceful Alertmanager shutdown waits ~10 s per node: SIGKILL.
kill -9 "$PID_amA" "$PID_amB" 2>/dev/null
wait "$PID_amA" "$PID_amB" 2>/dev/null
check "no sanitizer report" no_sanitizer_report "$T/s1.err" "$T/s2.err"
check "no error logged" sh -c "! grep -q 'level=error' '$T/s1.err' '$T/s2.err'"
finish
