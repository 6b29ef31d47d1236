#!/bin/sh
# t090-export: exported counts add up (README.md "Export to your
# observability tool"), against real intakes:
#
#   dd    type = "datadog" api_version = 1  -> VictoriaMetrics
#         /datadog/api/v1/series
#   vmi   type = "influx" (url + database)  -> VictoriaMetrics /write
#   idb   type = "influx" (url = ".../write?db=segment", the issue's form)
#         -> InfluxDB 1.x
#   nr    type = "newrelic"                 -> export_sink.py, which
#   otel  type = "otlp"                     -> validates every request
#         against the documented schema (tests/peers/export_sink.py)
#
# The simulator runs a discard incident on one of three connections for
# the whole test, 37 scenario minutes on a scaled clock (40 per real
# second, started an hour back so that every point is in the past for the
# databases).  segalert is killed with kill -9 after 15 minutes and
# started again on the same state directory.  Then, for every intake and
# connection (tests/peers/export_truth.py), the exported `successes` and
# `discarded` - read back by InfluxQL SUM / PromQL sum_over_time and as
# raw points - equal the simulator's figures for exactly the exported
# intervals (within 1 %), no interval is there twice or overlaps another,
# and the intervals cover at least 30 minutes, the restart included.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t090-export.sh
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
. "$(dirname "$0")/export-lib.sh"

for b in "$VM_BIN" "$INFLUXD_BIN"; do
    if [ ! -x "$b" ]; then
        echo "ok - SKIP: $b is not installed (make test-deps)"
        finish
    fi
done

SCALE=40
# an hour back: 90 real seconds before the virtual clock reaches now
use_scaled_clock $SCALE "$(($(date +%s) - 3600))"

start_vm || { notok "VictoriaMetrics starts"; cat "$T/vm.log"; finish; }
start_influxd || { notok "InfluxDB starts"; cat "$T/influxd.log"; finish; }
start_export_sink nr newrelic || { notok "New Relic sink starts"; finish; }
start_export_sink otel otlp || { notok "OTLP sink starts"; finish; }

cat >"$T/scenario.conf" <<'CONF'
seed = 90
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.002 }
  destination "mixpanel" { discard_ratio = 0.01 }
}
source "ios" {
  events_per_minute = 300
  daily_amplitude = 0
  destination "braze" { }
}
incident "amplitude-discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  start = "-5m"
  duration = "90m"
  value = 0.3
}
CONF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }

PORT=$(free_port)
cat >"$T/seg.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$SRC/rules/delivery.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "1m"
  delivery_window = "5m"
  volume_interval = "1m"
  usage_interval = "1h"
}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
export "dd" {
  type = "datadog"
  api_version = 1
  url = "$VM_URL/datadog"
  api_key = "dd-test-key"
  tags = {"env:test"}
}
export "vmi" { type = "influx"  url = "$VM_URL"  database = "segment" }
export "idb" { type = "influx"  url = "$INFLUX_URL/write?db=segment" }
export "nr" {
  type = "newrelic"
  url = "$nr_URL/metric/v1"
  api_key = "nr-test-key"
}
export "otel" {
  type = "otlp"
  url = "$otel_URL"
  headers = {"Authorization=Bearer otel-test"}
}
CONF
if SIM_TOKEN=test-token "$SEGALERT" check -c "$T/seg.conf" >"$T/check.out" 2>&1; then
    ok "segalert check accepts the five export sections"
else
    notok "segalert check accepts the five export sections"
    cat "$T/check.out"
fi

# segalert export-test: one batch through each section, the answer shown
for x in dd vmi idb nr otel; do
    if SIM_TOKEN=test-token "$SEGALERT" export-test -c "$T/seg.conf" $x \
            >"$T/export-test-$x.out" 2>&1 &&
            grep -q '^  accepted' "$T/export-test-$x.out"; then
        ok "export-test $x: the intake accepted the test batch"
    else
        notok "export-test $x: the intake accepted the test batch"
        cat "$T/export-test-$x.out"
    fi
done
check "export-test: the test gauge reached New Relic and OTLP" \
    [ "$(sinkpy nr "[p['name'] for r in R for p in r['points']]")$(sinkpy otel "[p['name'] for r in R for p in r['points']]")" = "['segment.export_test']['segment.export_test']" ]

RUNS=0
start_daemon() {
    RUNS=$((RUNS + 1))
    SIM_TOKEN=test-token "$SEGALERT" run -c "$T/seg.conf" \
        >"$T/seg.$RUNS.out" 2>"$T/seg.$RUNS.err" &
    PID=$!
    bg_pid $PID
}
URL=http://127.0.0.1:$PORT
T_START=$(vnow)
# exporters_all METRIC VALUE: every exporter's METRIC{exporter=...} is VALUE
exporters_all() {
    for x in dd vmi idb nr otel; do
        [ "$(metric "$URL" "$1" "{exporter=\"$x\"}")" = "$2" ] || return 1
    done
}

# ---- run 1: 15 minutes, then kill -9 -----------------------------------------------
start_daemon
vsleep 900
check "run 1: every exporter is up after 15 minutes" exporters_all segalert_export_up 1
SENT1=$(metric $URL segalert_export_points_sent_total '{exporter="idb"}')
check "run 1: points were sent ($SENT1 to InfluxDB)" [ "${SENT1:-0}" -gt 100 ]
kill -9 $PID
wait $PID 2>/dev/null
T_KILL=$(vnow)
check "the cursor files are on disk" sh -c "
    for x in dd vmi idb nr otel; do [ -s '$T/state/export-'\$x'.cursor' ] || exit 1; done"

# ---- run 2: 22 minutes more, then SIGTERM (which flushes) ------------------------------
start_daemon
vsleep 1320
check "run 2: exporters are up" exporters_all segalert_export_up 1
OVERLAP=$(metric $URL segalert_export_points_dropped_total '{exporter="idb",reason="overlap"}')
# Usually run 2's first window reaches back into what run 1 exported and
# is dropped whole; when the kill lost a window's points first, it fits
# the gap exactly.  Either way the intakes show no overlap (below).
echo "# run 2: $OVERLAP points of windows overlapping run 1's were not sent"
check "run 2: segalert_export_points_dropped_total{reason=\"overlap\"} is there" \
    [ -n "$OVERLAP" ]
check "no point refused by any intake" exporters_all segalert_export_points_failed_total 0
SIM_TOKEN=test-token "$SEGALERT" status -c "$T/seg.conf" >"$T/status.out" 2>&1
check "segalert status lists the exporters" sh -c "
    for x in dd vmi idb nr otel; do grep -q \"\$x\" '$T/status.out' || exit 1; done"
curl -s "$URL/api/v1/status" >"$T/status.json"
check "/api/v1/status has the five exporters" [ "$("$PY" -c "import json,sys
d = json.load(open(sys.argv[1]))
print(sorted(e['name'] for e in d['data']['exporters']))" "$T/status.json" 2>&1)" = "['dd', 'idb', 'nr', 'otel', 'vmi']" ]
kill -TERM $PID
wait $PID
check "run 2: SIGTERM stops the daemon (exit code $?)" [ $? -eq 0 ]
T_END=$(vnow)

# ---- what the intakes hold ------------------------------------------------------------------------
vm_flush
"$PY" "$SRC/tests/peers/export_truth.py" --sim "$SIM_URL" --token test-token \
    --influx "$INFLUX_URL" segment --vm "$VM_URL" \
    --sink "newrelic=$T/nr" --sink "otlp=$T/otel" >"$T/truth.json" 2>"$T/truth.err" ||
    { notok "export_truth.py ran"; cat "$T/truth.err"; }
# truth NAME EXPR: a python expression over R, the report of intake NAME
truth() {
    "$PY" -c "import json, sys
R = json.load(open(sys.argv[1]))['intakes'][sys.argv[2]]
print($2)" "$T/truth.json" "$1"
}
for x in influxdb vm-influx vm-datadog newrelic otlp; do
    echo "# $x: $(truth $x "{k: v for k, v in R.items() if k != 'per_connection'}" 2>&1)"
    check "$x: the three connections" [ "$(truth $x "R['connections']")" = 3 ]
    check "$x: successes and discarded within 1 % of the simulator for the exported intervals ($(truth $x "R['successes'], R['discarded']"))" \
        [ "$(truth $x "R['worst_rel_err'] <= 0.01 and R['discarded'][1] > 1000")" = True ]
    check "$x: no interval exported twice, none overlapping another" \
        [ "$(truth $x "(R['repeats'], R['overlaps'], R['unknown_interval'])")" = "(0, 0, 0)" ]
    check "$x: the intervals cover at least 30 minutes of each connection ($(truth $x "R['covered_s_min']") s)" \
        [ "$(truth $x "R['covered_s_min'] >= 1800")" = True ]
    check "$x: and reach past the restart (to $(truth $x "R['last_end_min']"), killed at $T_KILL)" \
        [ "$(truth $x "R['last_end_min'] >= $T_KILL + 900")" = True ]
done
for x in influxdb vm-influx vm-datadog; do
    check "$x: the query language's sum (InfluxQL SUM, PromQL sum_over_time) says the same" \
        [ "$(truth $x "R['query_matches']")" = True ]
done

# ---- New Relic and OTLP: every request valid ------------------------------------------------------------
for x in nr otel; do
    check "$x: requests received ($(sinkpy $x "len(R)"))" [ "$(sinkpy $x "len(R) > 10")" = True ]
    check "$x: every request valid against the schema" [ "$(sinkpy $x "[e for r in R for e in r['errors']][:3]")" = "[]" ]
    check "$x: every request gzipped" [ "$(sinkpy $x "all(r['gzip'] for r in R)")" = True ]
done
check "nr: counts carry interval.ms, gauges none; the tags are attributes" [ "$(sinkpy nr "sorted({(p['kind'], p['name']) for r in R for p in r['points'] if p['name'] in ('segment.successes', 'segment.time_to_success_p95')}), all(p['attrs'].get('workspace') == 'sim' for r in R for p in r['points'] if p['name'] != 'segment.export_test')")" = "[('count', 'segment.successes'), ('gauge', 'segment.time_to_success_p95')] True" ]
check "otel: the Authorization header configured" [ "$(sinkpy otel "{r['headers'].get('Authorization') for r in R}")" = "{'Bearer otel-test'}" ]

# ---- what else is exported ----------------------------------------------------------------------
vm_has() {     # vm_has PROMQL TEXT: the answer at T_END contains TEXT
    curl -s "$VM_URL/api/v1/query" --data-urlencode "query=$1" \
        --data-urlencode "time=$T_END" | grep -qF -- "$2"
}
check "VictoriaMetrics: the alert gauge of the firing discard alert" \
    vm_has 'max_over_time({__name__="segment.alert",rule="delivery-discard-ratio",destination="amplitude",state="firing"}[3h])' '"1"]'
curl -s "$VM_URL/api/v1/label/__name__/values" >"$T/vm-names.json"
vm_names_have() {   # vm_names_have NAME...: segment.NAME are metric names
    for n in "$@"; do grep -qF "\"segment.$n\"" "$T/vm-names.json" || return 1; done
}
check "VictoriaMetrics: per-source and workspace volume under different names" \
    vm_names_have event_volume workspace_event_volume
check "VictoriaMetrics: usage gauges, MTU and API calls, per source and for the workspace" \
    vm_names_have mtu api_calls workspace_mtu workspace_api_calls
check "VictoriaMetrics: the exporter's tags are on the series" \
    vm_has 'count_over_time({__name__="segment.successes",env="test",destination="amplitude"}[3h])' '"value"'

check "no error logged" sh -c "! grep -h 'level=error' '$T/seg.1.err' '$T/seg.2.err'"
check "no sanitizer report" sh -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' '$T/seg.1.err' '$T/seg.2.err' $T/export-test-*.out"
echo "# scenario time: $T_START .. $T_END (kill -9 at $T_KILL)"
finish
