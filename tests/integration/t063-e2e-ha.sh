#!/bin/sh
# t063-e2e-ha: high availability as README.md "High availability" describes it.  Two identical
# segalert instances (separate state_dirs) both notify through their
# alertmanager receiver into a two-node Alertmanager cluster on loopback
# (--cluster.peer); both nodes route to one webhook.  A rule that fires on
# the simulator's data must reach that webhook exactly once: not twice
# (once per segalert) nor four times (once per segalert per node).
#
# segalert and the sim run on a scaled clock (lib.sh use_scaled_clock, 20x:
# the first evaluation and the replicas' re-sends every 15 s come in a
# twentieth of the time); Alertmanager runs on the real clock.
#
# Needs /usr/bin/prometheus-alertmanager (`make deps` installs it): when it
# is missing the test fails saying so (it does not skip).
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t063-e2e-ha.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
AM=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}

. "$(dirname "$0")/e2e-lib.sh"

if [ ! -x "$AM" ]; then
    notok "prometheus-alertmanager is installed ($AM missing: run make deps)"
    finish
fi

use_scaled_clock 20

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
# B joins A at start: a refused join is retried only every 10 s
# (--cluster.reconnect-interval), so start B once A listens.
am_up() { curl -sf -m 2 "http://127.0.0.1:$1/-/healthy" >/dev/null 2>&1; }
wait_for 30 am_up $WA
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
    SIM_TOKEN=test-token "$SEGALERT" run -v -c "$T/s$r.conf" >"$T/s$r.out" 2>"$T/s$r.err" &
    eval "PID_s$r=$!"
    bg_pid $!
done

if vwait 40 sinktrue hook "len(R) >= 1"; then
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
# The second node would send after peer_timeout (3 s, real time) if the
# first one's notification log had not reached it; the replicas re-send
# every 15 s of their clock.  6 s covers both: twice the peer timeout, and
# 120 s of the replicas' time (eight re-sends each).
sleep 6
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
