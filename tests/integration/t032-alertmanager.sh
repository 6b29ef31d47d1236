#!/bin/sh
# t032-alertmanager: the `alertmanager` receiver against a real Alertmanager
# (Debian's prometheus-alertmanager 0.25, single node on 127.0.0.1, its
# webhook receiver pointing at tests/peers/http_sink.py):
#   - `segalert notify-test` to Alertmanager: delivered, visible in its API,
#     forwarded to the webhook as version "4" JSON;
#   - `segalert run` (default evaluation interval): a firing rule shows up
#     in /api/v2/alerts with alertname/rule/severity, Alertmanager's webhook
#     says "firing"; segalert re-sends while firing (to every URL of the
#     receiver: a second URL is an http_sink "tap" that records the posts),
#     each post's endsAt covering the next; after a SIGHUP that makes the
#     rule's condition false, segalert posts endsAt and the webhook says
#     "resolved", never before;
#   - `segalert run --eval-interval 1s`: the alert must stay active in
#     Alertmanager while it fires (the endsAt of each post must cover the
#     time until the next re-send).
#
# The first daemon (a) and its sim run on a scaled clock (lib.sh
# use_scaled_clock, 4x), so its 15 s evaluation and re-send period pass in
# 3.75 s.  Alertmanager compares the endsAt segalert sends with its own,
# real, clock: a's clock starts 45 s behind real time and gains 3 s per
# second, so it stays between 45 s behind and ~10 s ahead for the ~20 s
# the test takes -- a firing endsAt (now + 60 s) stays in Alertmanager's
# future, a resolved one (now) reaches its past within the waits below.
# The second daemon (b, 1 s evaluation, endsAt now + 4 s) and its sim stay
# on the real clock.  Times the taps record are real; the checks on a's
# posts convert them to a's clock (v()).
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t032-alertmanager.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SINK="$SRC/tests/peers/http_sink.py"
AM_BIN=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}

# start_sink NAME MODE: an http_sink recording into $T/NAME; port in $T/NAME.port
start_sink() {
    "$PY" "$SINK" --port 0 --dir "$T/$1" --mode "$2" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" 2>/dev/null)
        if [ -n "$p" ]; then
            echo "$p" >"$T/$1.port"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "http_sink $1 did not start:" >&2
    cat "$T/$1.err" >&2
    return 1
}

# am_alerts 'python expression': over A = Alertmanager's /api/v2/alerts
# (list), with helper named(N) = the alerts whose alertname is N.
am_alerts() {
    curl -s -m 5 "http://127.0.0.1:$AM_PORT/api/v2/alerts" >"$T/am-alerts.json" 2>/dev/null
    "$PY" - "$T/am-alerts.json" "$1" <<'EOF'
import json, sys
try:
    A = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
named = lambda n: [a for a in A if a["labels"].get("alertname") == n]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# hooks DIR 'python expression': over W = the webhook payloads Alertmanager
# posted (parsed bodies, in order, each with "_t" = arrival time) and
# P = the same for a tap sink (JSON arrays segalert posted, "_t" added to
# each alert).  Helpers: about(w, N) = w has alerts named N.
hooks() {
    "$PY" - "$T/$1" "$2" <<'EOF'
import glob, json, sys
W = []
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    r = json.load(open(f))
    try:
        b = json.loads(r["body"])
    except ValueError:
        continue
    if isinstance(b, dict):
        b["_t"] = r["time"]
        b["_path"] = r["path"]
    else:
        b = {"_t": r["time"], "_path": r["path"], "alerts": b}
    W.append(b)
P = W
about = lambda w, n: any(a["labels"].get("alertname") == n for a in w.get("alerts", []))
import os
def v(t):  # real time -> the scaled clock's time (lib.sh vtime)
    return float(os.environ.get("CLOCK_START", 0)) + \
        (t - float(os.environ.get("CLOCK_ORIGIN", 0))) * float(os.environ.get("CLOCK_SCALE", 1))
from datetime import datetime
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
EOF
}

if [ ! -x "$AM_BIN" ]; then
    notok "Alertmanager not installed ($AM_BIN; Debian package prometheus-alertmanager, make deps)"
    finish
fi

start_sink hook ok || { notok "http_sink (Alertmanager webhook) starts"; finish; }
start_sink tap ok || { notok "http_sink (tap) starts"; finish; }
start_sink tapb ok || { notok "http_sink (tap b) starts"; finish; }
AM_PORT=$(free_port)
cat >"$T/am.yml" <<EOF
route:
  receiver: sink
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:$(cat "$T/hook.port")/am
        send_resolved: true
EOF
"$AM_BIN" --config.file="$T/am.yml" --storage.path="$T/am" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
    >"$T/am.log" 2>&1 &
AM_PID=$!
bg_pid $AM_PID
am_ready() { curl -sf -m 2 "http://127.0.0.1:$AM_PORT/-/ready" >/dev/null 2>&1; }
if wait_for 30 am_ready; then
    ok "Alertmanager is ready on 127.0.0.1:$AM_PORT"
else
    notok "Alertmanager is ready on 127.0.0.1:$AM_PORT"
    tail -5 "$T/am.log" | sed 's/^/  # /'
    finish
fi

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "segalert-sim starts"; finish; }
SIM_TOKEN=test-token
export SIM_TOKEN
AM_URL="http://127.0.0.1:$AM_PORT"
TAP_URL="http://127.0.0.1:$(cat "$T/tap.port")"
TAPB_URL="http://127.0.0.1:$(cat "$T/tapb.port")"

# conf NAME RULE MTU_LIMIT URLS
conf() {
    cat >"$T/$1.rules" <<EOF
rule "$2" {
  expr = "successes >= 0 and \$mtu_limit > 0"
  severity = "warning"
  summary = "{{destination}} from {{source}}"
}
EOF
    cat >"$T/$1.conf" <<EOF
state_dir = "$T/$1-state"
listen = ""
log_level = "debug"
rule_files = {"$T/$1.rules"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
  mtu_limit = $3
}
receiver "am" { type = "alertmanager"  urls = {$4} }
route "default" { receiver = "am" }
EOF
}

# --- notify-test ------------------------------------------------------------
conf nt segalert-unused 1 "\"$AM_URL\""
"$SEGALERT" notify-test -c "$T/nt.conf" am >"$T/nt.out" 2>"$T/nt.err"
check "notify-test to Alertmanager exits 0" [ $? = 0 ]
check "notify-test says delivered" contains "$T/nt.out" 'receiver "am" (alertmanager): delivered test notification'
check "Alertmanager's API shows the test alert (active, rule and severity labels)" \
    wait_for 10 am_alerts 'any(a["status"]["state"] == "active" and a["labels"].get("rule") == "segalert-test" and a["labels"].get("severity") == "info" for a in named("segalert-test"))'
check "Alertmanager forwards the test alert to its webhook (version 4, firing)" \
    wait_for 15 hooks hook 'any(w.get("version") == "4" and w["status"] == "firing" and about(w, "segalert-test") for w in W)'

# --- the daemon: fire, re-send, resolve -------------------------------------
conf b am-fast 1 "\"$AM_URL\", \"$TAPB_URL\""
use_scaled_clock 4 $(($(date +%s) - 45))
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "segalert-sim starts (scaled clock)"; finish; }
conf a am-fire 1 "\"$AM_URL\", \"$TAP_URL\""
"$SEGALERT" check -c "$T/a.conf" >"$T/a.check" 2>&1 || { notok "segalert check a.conf"; cat "$T/a.check"; }
"$SEGALERT" run -c "$T/a.conf" >"$T/a.out" 2>"$T/a.err" &
APID=$!
bg_pid $APID
SEGALERT_CLOCK= "$SEGALERT" run -c "$T/b.conf" --eval-interval 1s >"$T/b.out" 2>"$T/b.err" &
BPID=$!
bg_pid $BPID

three_active() {
    am_alerts 'len([a for a in named("am-fire") if a["status"]["state"] == "active"]) == 3'
}
if wait_for 30 three_active; then
    ok "Alertmanager shows the firing rule's 3 alerts (one per connection)"
else
    notok "Alertmanager shows the firing rule's 3 alerts (one per connection)"
    tail -10 "$T/a.err" | sed 's/^/  # /'
fi
check "their labels: alertname, rule, severity, workspace, source, destination; a summary" \
    am_alerts 'named("am-fire") and all(a["labels"].get("rule") == "am-fire" and a["labels"].get("severity") == "warning" and a["labels"].get("workspace") == "sim" and a["labels"].get("source") and a["labels"].get("destination") and " from " in a["annotations"].get("summary", "") for a in named("am-fire"))'
check "Alertmanager's webhook: version 4, status firing, receiver sink, the 3 alerts" \
    wait_for 15 hooks hook 'any(w.get("version") == "4" and w["status"] == "firing" and w["receiver"] == "sink" and w["groupLabels"] == {"alertname": "am-fire"} and len([a for a in w["alerts"] if a["status"] == "firing"]) == 3 for w in W if about(w, "am-fire"))'
check "segalert posts to every URL of the receiver (tap: POST /api/v2/alerts, a JSON array)" \
    hooks tap 'P and all(p["_path"] == "/api/v2/alerts" for p in P) and any(about(p, "am-fire") for p in P)'
check "a firing alert's endsAt lies ahead (Alertmanager keeps it between re-sends)" \
    hooks tap 'all(ts(a["endsAt"]) > v(p["_t"]) + 10 for p in P for a in p["alerts"])'
# re-sent while firing (the route to an alertmanager receiver re-sends
# every 15 s whatever the configured timing)
check "segalert re-sends the firing alerts" vwait 25 hooks tap 'len(P) >= 2'
check "each post's endsAt covers the time until the next post" \
    hooks tap 'len(P) >= 2 and all(min(ts(a["endsAt"]) for a in P[i]["alerts"]) >= v(P[i + 1]["_t"]) for i in range(len(P) - 1))'

# resolve: mtu_limit = 0 makes the condition false; reload
T_HUP=$("$PY" -c 'import time; print(time.time())')
check "no resolved webhook for am-fire before the reload" \
    hooks hook 'not any(a["status"] == "resolved" for w in W if about(w, "am-fire") for a in w["alerts"] if a["labels"].get("alertname") == "am-fire")'
sed 's/^  mtu_limit = 1$/  mtu_limit = 0/' "$T/a.conf" >"$T/a.conf.new" && mv "$T/a.conf.new" "$T/a.conf"
kill -HUP $APID
check "after SIGHUP segalert posts the alerts with endsAt (resolved)" \
    vwait 40 hooks tap "any(p['_t'] >= $T_HUP and len(p['alerts']) == 3 and all(ts(a['endsAt']) <= v(p['_t']) + 1 for a in p['alerts']) for p in P)"
check "Alertmanager's webhook says resolved for the 3 alerts" \
    wait_for 15 hooks hook "any(w['_t'] >= $T_HUP and w['status'] == 'resolved' and about(w, 'am-fire') and len([a for a in w['alerts'] if a['status'] == 'resolved' and ts(a['endsAt']) > 0]) == 3 for w in W)"
check "Alertmanager no longer lists am-fire as active" \
    wait_for 10 am_alerts 'not [a for a in named("am-fire") if a["status"]["state"] == "active"]'
check "the daemon logged the reload" contains "$T/a.err" "reloaded"

# --eval-interval 1s: same contract, watched over at least 15 s of b's
# re-sends (a's scaled re-send period no longer makes the test wait that long)
wait_for 30 hooks tapb 'P and P[-1]["_t"] - P[0]["_t"] >= 15'
check "(eval 1s) segalert re-sends the firing alerts" wait_for 25 hooks tapb 'len(P) >= 2'
check "(eval 1s) each post's endsAt covers the time until the next post" \
    hooks tapb 'len(P) >= 2 and all(min(ts(a["endsAt"]) for a in P[i]["alerts"]) >= P[i + 1]["_t"] for i in range(len(P) - 1))'
hooks tapb 'print("  # (eval 1s) posts at +%s s, endsAt - post: %s s" % ([round(p["_t"] - P[0]["_t"], 1) for p in P], sorted(set(round(ts(a["endsAt"]) - p["_t"]) for p in P for a in p["alerts"])))) or True'
check "(eval 1s) Alertmanager never resolved am-fast while it fires" \
    hooks hook '[w for w in W if about(w, "am-fire") or about(w, "am-fast")] and not any(w["status"] == "resolved" or any(a["status"] == "resolved" for a in w["alerts"]) for w in W if about(w, "am-fast"))'

for p in $APID $BPID; do kill -TERM $p; done
for p in $APID $BPID; do
    i=0
    while kill -0 $p 2>/dev/null && [ $i -lt 75 ]; do sleep 0.2; i=$((i + 1)); done
    if kill -0 $p 2>/dev/null; then
        notok "segalert $p stops on SIGTERM within 15 s"
    else
        wait "$p"
        rc=$?
        check "segalert $([ "$p" = "$APID" ] && echo a || echo b) exits 0 on SIGTERM" [ $rc = 0 ]
    fi
done
san=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err "$T"/*.out 2>/dev/null)
check "no sanitizer report from segalert or segalert-sim${san:+: $san}" [ -z "$san" ]
finish
