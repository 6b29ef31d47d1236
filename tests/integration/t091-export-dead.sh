#!/bin/sh
# t091-export-dead: an intake that is down never gets in the way of
# alerting (README.md "Export to your observability tool").
#
# Two daemons watch the same simulator, side by side, with the same rules
# and their own webhook: A exports nothing; B has two exporters whose
# intakes are down for 11 scenario minutes, with a buffer of 200 points:
#
#   dead   type = "otlp" to a port bound but not listening (connection
#          refused)
#   hang   type = "newrelic" to a sink that takes the request and never
#          answers (timeout = "2s")
#
# A discard incident fires and resolves meanwhile.  Then:
#   - A and B sent the same notifications (firing and resolved);
#   - B's buffers never held more than 200 points; the oldest were
#     dropped and counted (segalert_export_points_dropped_total
#     {reason="buffer_full"}), the failed attempts too;
#   - once the intakes are back (the OTLP sink starts on the port, the
#     hanging one answers again) both exporters recover by themselves:
#     up, the buffer drained, the newest points delivered.
# On a scaled clock: 30 scenario seconds per real second.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t091-export-dead.sh
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
. "$(dirname "$0")/e2e-lib.sh"
. "$(dirname "$0")/export-lib.sh"

use_scaled_clock 30

cat >"$T/scenario.conf" <<'CONF'
seed = 91
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.001 }
  destination "mixpanel" { discard_ratio = 0.001 }
}
incident "amplitude-discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  start = "2m"
  duration = "4m"
  value = 0.3
}
CONF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hookA || { notok "webhook A starts"; finish; }
start_sink hookB || { notok "webhook B starts"; finish; }
start_export_sink hang newrelic 0 hang || { notok "hanging sink starts"; finish; }
# bound but not listening: connections refused, the port kept for later
start_export_sink dead otlp 0 ok --dead || { notok "dead sink starts"; finish; }
DEAD_PORT=${dead_URL##*:}

cat >"$T/rules.conf" <<'CONF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  recover  = "discard_ratio < 0.5% or attempted < 100"
  for      = "1m"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
CONF
# write_conf NAME HOOK_URL PORT [EXPORT SECTIONS...]
write_conf() {
    name=$1 hook=$2 port=$3
    shift 3
    {
        cat <<CONF
state_dir = "$T/$name-state"
listen = "127.0.0.1:$port"
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "30s"
  delivery_window = "2m"
  volume_interval = "1m"
  usage_interval = "1h"
}
defaults {
  group_by = {"rule", "workspace"}
  group_wait = "5s"
  group_interval = "30s"
  repeat_interval = "1h"
}
receiver "hook" { type = "webhook"  url = "$hook/hook"  timeout = "20s" }
route "all" { receiver = "hook" }
CONF
        for s in "$@"; do echo "$s"; done
    } >"$T/$name.conf"
}
PORT_A=$(free_port)
PORT_B=$(free_port)
write_conf a "$hookA_URL" "$PORT_A"
write_conf b "$hookB_URL" "$PORT_B" \
    "export \"dead\" { type = \"otlp\" url = \"http://127.0.0.1:$DEAD_PORT\" buffer = 200 interval = \"1m\" timeout = \"2s\" }" \
    "export \"hang\" { type = \"newrelic\" url = \"$hang_URL/metric/v1\" api_key = \"k\" buffer = 200 interval = \"1m\" timeout = \"2s\" }"
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/a.conf" >"$T/a.out" 2>"$T/a.err" &
PID_A=$!
bg_pid $PID_A
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/b.conf" >"$T/b.out" 2>"$T/b.err" &
PID_B=$!
bg_pid $PID_B
A=http://127.0.0.1:$PORT_A
B=http://127.0.0.1:$PORT_B
T_START=$(vnow)

# ---- 11 minutes down: sample B's buffers every minute -------------------------------
MAXBUF=0
i=0
while [ $i -lt 11 ]; do
    vsleep 60
    for x in dead hang; do
        b=$(metric "$B" segalert_export_buffered_points "{exporter=\"$x\"}")
        [ -n "$b" ] && [ "$b" -gt "$MAXBUF" ] && MAXBUF=$b
    done
    i=$((i + 1))
done
check "the buffers never held more than 200 points (most: $MAXBUF)" [ "$MAXBUF" -le 200 ]
check "and filled up" [ "$MAXBUF" -eq 200 ]
for x in dead hang; do
    d=$(metric "$B" segalert_export_points_dropped_total "{exporter=\"$x\",reason=\"buffer_full\"}")
    check "$x: the oldest points dropped and counted ($d)" [ "${d:-0}" -gt 0 ]
    check "$x: down" [ "$(metric "$B" segalert_export_up "{exporter=\"$x\"}")" = 0 ]
    r=$(metric "$B" segalert_export_requests_total "{exporter=\"$x\",outcome=\"retry\"}")
    check "$x: failed attempts counted and backed off ($r in 11 minutes)" \
        sh -c "[ ${r:-0} -ge 3 ] && [ ${r:-0} -le 20 ]"
    check "$x: nothing sent" [ "$(metric "$B" segalert_export_points_sent_total "{exporter=\"$x\"}")" = 0 ]
done
RSS_A=$(awk '/VmRSS/ {print $2}' /proc/$PID_A/status)
RSS_B=$(awk '/VmRSS/ {print $2}' /proc/$PID_B/status)
echo "# RSS after 11 minutes: A ${RSS_A} kB, B ${RSS_B} kB"
case "${SEGALERT_VARIANT:-release}" in
release)
    check "B's memory is A's, give or take 4 MiB (A $RSS_A kB, B $RSS_B kB)" \
        [ "$RSS_B" -le $((RSS_A + 4096)) ] ;;
*)  # a sanitizer's quarantine keeps what B's failed requests freed
    echo "# ($SEGALERT_VARIANT build: RSS not compared)" ;;
esac

# ---- the notifications ------------------------------------------------------------------------
note() {    # note HOOK: the notifications, in order, as (status, alerts)
    sinkq "$1" "[(r['j']['status'], sorted((a['labels']['alertname'], a['labels']['destination'], a['status']) for a in r['j']['alerts'])) for r in A]"
}
check "A: firing and resolved while the intakes were down" \
    [ "$(sinkq hookA "(st('firing'), st('resolved'))")" = "(1, 1)" ]
check "B: the same notifications as A ($(note hookB))" [ "$(note hookA)" = "$(note hookB)" ]

# ---- recovery ----------------------------------------------------------------------------------
T_BACK=$(vnow)
kill -USR1 "$dead_PID"
curl -s -X POST --data ok "$hang_URL/_mode" >/dev/null
recovered() {
    for x in dead hang; do
        [ "$(metric "$B" segalert_export_up "{exporter=\"$x\"}")" = 1 ] || return 1
        [ "$(metric "$B" segalert_export_buffered_points "{exporter=\"$x\"}")" -lt 50 ] || return 1
    done
}
# the back-off reaches EXPORT_BACKOFF_MAX_S (5 minutes) while down
if vwait 420 recovered; then
    ok "both exporters recover by themselves ($(($(vnow) - T_BACK)) s after the intakes came back)"
else
    notok "both exporters recover by themselves"
    curl -s "$B/metrics" | grep segalert_export_
fi
for x in dead hang; do
    check "$x: the points delivered are valid" [ "$(sinkpy $x "[e for r in R for e in r['errors']][:3]")" = "[]" ]
    check "$x: the newest counts survived (one starts after $((T_BACK - 180)))" \
        [ "$(sinkpy $x "any(p['kind'] == 'count' and p['start'] >= $T_BACK - 180 for r in R for p in r['points'])")" = True ]
done
# The oldest points queued go first (look at the delivery windows, queued
# in time order; a volume bucket is queued when final).  Not checked for
# "hang": the points of a request in flight cannot be dropped while it is
# out, so the queue's oldest go instead (include/export/exporter.h).
check "dead: the oldest were dropped (no delivery window before $((T_START + 120)))" \
    [ "$(sinkpy dead "all(p['start'] >= $T_START + 120 for r in R for p in r['points'] if p['name'] == 'segment.successes')")" = True ]

stop_daemon $PID_A 12
check "A: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon $PID_B 12
check "B: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "B: the failures were logged as warnings, rate-limited ($(grep -c 'export: ' "$T/b.err") lines)" \
    [ "$(grep -c 'export: ' "$T/b.err")" -le 12 ]
check "no sanitizer report" no_sanitizer_report "$T/a.err" "$T/b.err"
finish
