#!/bin/sh
# t092-dashboards: the example dashboards (examples/dashboards/) parse and
# reference only what segalert emits.  segalert runs a few scenario
# minutes against the simulator (a discard incident, so an alert fires;
# a plan limit, so the limit series exist), with a datadog exporter to
# VictoriaMetrics; then tests/peers/dashboard_names.py reads every query
# of the Grafana dashboard against the names and labels of /metrics, and
# every query of the Datadog dashboard against the metric names and tags
# the exporter wrote.  No hand-written list of names.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t092-dashboards.sh
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
. "$(dirname "$0")/export-lib.sh"

if [ ! -x "$VM_BIN" ]; then
    echo "ok - SKIP: $VM_BIN is not installed (make test-deps)"
    finish
fi
use_scaled_clock 60 "$(($(date +%s) - 3600))"
start_vm || { notok "VictoriaMetrics starts"; finish; }
cat >"$T/scenario.conf" <<'CONF'
seed = 92
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { }
}
source "ios" {
  events_per_minute = 200
  destination "braze" { }
}
incident "discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  start = "-10m"
  duration = "1h"
  value = 0.3
}
CONF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
cat >"$T/rules.conf" <<'CONF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  severity = "critical"
}
CONF
PORT=$(free_port)
cat >"$T/seg.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "1m"
  delivery_window = "5m"
  volume_interval = "1m"
  mtu_limit = 100000
  api_calls_limit = 5000000
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
export "dd" { type = "datadog"  api_version = 1  url = "$VM_URL/datadog"  api_key = "k"  interval = "1m" }
CONF
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/seg.conf" >"$T/seg.out" 2>"$T/seg.err" &
PID=$!
bg_pid $PID
URL=http://127.0.0.1:$PORT
# every family has spoken: a firing alert, counters, volume buckets final
ready() {
    curl -s "$URL/metrics" >"$T/metrics.txt" &&
        grep -q '^ALERTS{.*alertstate="firing"' "$T/metrics.txt" &&
        grep -q '^segment_event_volume_total{' "$T/metrics.txt" &&
        grep -q '^segment_workspace_mtu_limit{' "$T/metrics.txt" &&
        grep -q '^segment_workspace_period_end_timestamp_seconds{' "$T/metrics.txt"
}
check "/metrics has alerts, counters, volume and the plan" vwait 600 ready
vsleep 120
curl -s "$URL/metrics" >"$T/metrics.txt"
kill -TERM $PID
wait $PID
vm_flush

"$PY" "$SRC/tests/peers/dashboard_names.py" \
    --grafana "$SRC/examples/dashboards/grafana-segalert.json" \
    --datadog "$SRC/examples/dashboards/datadog-segalert.json" \
    --metrics "$T/metrics.txt" --vm "$VM_URL" >"$T/names.json" 2>"$T/names.err"
RC=$?
echo "# $(cat "$T/names.json" "$T/names.err")"
q() {   # q EXPR: a python expression over R (the report)
    "$PY" -c "import json, sys
R = json.load(open(sys.argv[1]))
print($1)" "$T/names.json"
}
for b in grafana datadog; do
    check "$b: parses, every panel has a query" [ "$(q "R['$b']['problems']")" = "[]" ]
    check "$b: every metric is one segalert emits ($(q "len(R['$b']['metrics'])") names)" \
        [ "$(q "R['$b']['unknown_metrics']")" = "[]" ]
    check "$b: every label / tag is on those series" [ "$(q "R['$b']['unknown_labels']")" = "[]" ]
done
check "the checker agrees (exit 0)" [ "$RC" -eq 0 ]
check "grafana: discard ratio, p95 latency, volume vs last week, MTU vs plan" \
    [ "$(q "sorted(t.split(',')[0].split(' ')[0] for t in R['grafana']['panels'])")" = "['Alerts', 'Discard', 'Event', 'MTU', 'Time']" ]
check "datadog: the same panels" \
    [ "$(q "sorted(t.split(',')[0].split(' ')[0] for t in R['datadog']['panels'])")" = "['Discard', 'Event', 'MTU', 'Time', 'segalert']" ]
check "grafana: last week by offset, the forecast by predict_linear" \
    sh -c "grep -q 'offset 1w' '$SRC/examples/dashboards/grafana-segalert.json' && grep -q 'predict_linear' '$SRC/examples/dashboards/grafana-segalert.json'"
check "datadog: last week by week_before, the forecast by forecast()" \
    sh -c "grep -q 'week_before(' '$SRC/examples/dashboards/datadog-segalert.json' && grep -q 'forecast(' '$SRC/examples/dashboards/datadog-segalert.json'"
check "no sanitizer report" sh -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' '$T/seg.err'"
finish
