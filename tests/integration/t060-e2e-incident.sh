#!/bin/sh
# t060-e2e-incident: end to end: collection, notification and state.  First
# a daemon whose token the sim rejects (401) raises the
# segalert-workspace-down meta-alert and keeps running; a reload with the
# token fixed resolves it.  Then segalert-sim plays an incident (a discard
# spike on one connection); the daemon polls it, the rule goes pending,
# fires, and a recording webhook receives exactly one "firing" notification
# (Alertmanager webhook v4), later exactly one "resolved".
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t060-e2e-incident.sh
#
# Everything runs on a scaled clock (lib.sh use_scaled_clock): 20 scenario
# seconds per real second, a minute in 3 s.  The daemon reads delivery
# metrics over the last minute (delivery_window "1m", ending at each poll);
# the incident is placed inside one (virtual) UTC minute so the firing and
# the resolved come within predictable bounds.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20

# The workspace without the incident (for the 401 part); the incident's
# scenario adds it once its time is known.
cat >"$T/base.conf" <<EOF
seed = 60
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.001 }
  destination "mixpanel" { discard_ratio = 0.001 }
}
EOF
start_sim "$T/base.conf" || { notok "sim starts"; finish; }

cat >"$T/rules.conf" <<'EOF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  # No warning tier: the sliding delivery window passes through 0.5-2 %
  # as the incident fades, and a critical -> warning change is its own
  # notification; these tests count firing/resolved notifications.
  recover  = "discard_ratio < 0.2% or attempted < 100"
  for      = "5s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
EOF

# write_daemon_config FILE STATE_DIR LISTEN HOOK_URL
write_daemon_config() {
    cat >"$1" <<EOF
state_dir = "$2"
listen = "$3"
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
receiver "hook" { type = "webhook"  url = "$4/hook" }
route "all" { receiver = "hook" }
EOF
}
# ---- first: a token the sim rejects ----------------------------------------------------
start_sink hook401 || { notok "second webhook sink starts"; finish; }
PORT=$(free_port)
write_daemon_config "$T/u.conf" "$T/state401" "127.0.0.1:$PORT" "$hook401_URL"
SIM_TOKEN=not-the-token "$SEGALERT" run -c "$T/u.conf" >"$T/u.out" 2>"$T/u.err" &
UPID=$!
bg_pid $UPID
meta='[r for r in A if r["j"] and any(a["labels"].get("rule") == "segalert-workspace-down" for a in r["j"]["alerts"])]'
if vwait 20 sinktrue hook401 "$meta"; then
    ok "401: the webhook receives the segalert-workspace-down alert"
else
    notok "401: the webhook receives the segalert-workspace-down alert"
fi
check "401: it is firing, critical, for workspace sim" sinktrue hook401 \
    "[a for r in $meta for a in r['j']['alerts'] if a['status'] == 'firing' and a['labels'].get('severity') == 'critical' and a['labels'].get('workspace') == 'sim' and 'unauthorized' in a['annotations'].get('summary', '')]"
check "401: the daemon keeps running" alive $UPID
# The status API shows the workspace down by the time the alert is out.
status_down() {
    curl -s "http://127.0.0.1:$PORT/api/v1/status" >"$T/status401.json"
    "$PY" -c "import json, sys
ws = json.load(open(sys.argv[1]))['data']['workspaces']
sys.exit(0 if len(ws) == 1 and ws[0]['up'] is False and ws[0]['unauthorized'] is True else 1)" "$T/status401.json" 2>/dev/null
}
check "401: /api/v1/status shows the workspace down and unauthorized" wait_for 2 status_down
check "401: /-/healthy answers 200" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/-/healthy")" = 200 ]
check "401: logged as unauthorized" grep -q 'unauthorized' "$T/u.err"
check "401: the rejected token is never logged" sh -c "! grep -qF not-the-token '$T/u.err' '$T/u.out'"
check "401: exactly one notification (no storm)" [ "$(sinkq hook401 'len(R)')" -eq 1 ]
# The operator fixes the token and reloads: the meta-alert resolves.
sed 's/token_env = "SIM_TOKEN"/token = "test-token"/' "$T/u.conf" >"$T/u.conf.new" && mv "$T/u.conf.new" "$T/u.conf"
kill -HUP $UPID
if vwait 20 sinktrue hook401 "st('resolved') >= 1"; then
    ok "401 fixed by a reload: the meta-alert is resolved"
else
    notok "401 fixed by a reload: the meta-alert is resolved"
fi
check "401 fixed: the resolved is segalert-workspace-down, with endsAt" sinktrue hook401 \
    "[a for r in A if r['j']['status'] == 'resolved' for a in r['j']['alerts'] if a['labels'].get('rule') == 'segalert-workspace-down' and a['status'] == 'resolved' and a['endsAt'] != '0001-01-01T00:00:00Z']"
status_up() {
    curl -s "http://127.0.0.1:$PORT/api/v1/status" >"$T/status401.json"
    "$PY" -c "import json, sys
ws = json.load(open(sys.argv[1]))['data']['workspaces']
sys.exit(0 if ws[0]['up'] is True and ws[0]['unauthorized'] is False else 1)" "$T/status401.json" 2>/dev/null
}
check "401 fixed: /api/v1/status shows the workspace up" wait_for 10 status_up
stop_daemon $UPID 15
check "401: SIGTERM stops it with exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "401: one firing and one resolved notification in all" [ "$(sinkq hook401 "(st('firing'), st('resolved'), len(R))")" = "(1, 1, 2)" ]
check "401 fixed: no error after the reload (polls resume where they were)" sh -c "! sed -n '/daemon: reloaded/,\$p' '$T/u.err' | grep -q 'level=error'"
check "401: no sanitizer report" no_sanitizer_report "$T/u.err"

kill $SIM_PID 2>/dev/null
wait $SIM_PID 2>/dev/null

# ---- the incident inside one UTC minute ------------------------------------------------
# Placed from now (virtual time) at an absolute time (`at`), so the time
# the sim takes to start does not move it: it lies in [EDGE-60, EDGE-2],
# starts at least 4 s from now and lasts at most 45 s.
set -- $("$PY" -c 'import math, sys, time
t = float(sys.argv[1])
edge = math.ceil((t + 4 + 12 + 2) / 60) * 60
start = max(math.ceil(t + 4), math.ceil(edge - 2 - 45))
print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)), math.floor(edge - 2 - start), edge)' "$(vtime)")
INC_AT=$1 INC_DUR=$2 EDGE=$3
{
    cat "$T/base.conf"
    cat <<EOF
incident "amplitude-discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  at = "$INC_AT"
  duration = "${INC_DUR}s"
  value = 0.3
}
EOF
} >"$T/scenario.conf"
start_sim "$T/scenario.conf" || { notok "sim starts (incident)"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }
PORT2=$(free_port)
write_daemon_config "$T/segalert.conf" "$T/state" "127.0.0.1:$PORT2" "$hook_URL"
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/segalert.conf" >"$T/d.out" 2>"$T/d.err" &
DPID=$!
bg_pid $DPID

# ---- the incident: firing ---------------------------------------------------------------
if vwait $((EDGE - $(vnow) + 40)) sinktrue hook "st('firing') >= 1"; then
    ok "firing notification received"
else
    notok "firing notification received (incident at $INC_AT for ${INC_DUR}s, minute ends at $EDGE)"
    tail -n 20 "$T/d.err"
fi
# The status page draws the firing alert's value metric (discard_ratio, a
# bare name no window reads: the store keeps its history for the sparkline
# alone) over the polls so far, not just the newest one.
curl -s "http://127.0.0.1:$PORT2/" >"$T/page.html"
check "status page: the sparkline of the firing alert has its history" "$PY" -c "import re, sys
m = re.search(r'<title>discard_ratio: ([0-9]+) points', open(sys.argv[1]).read())
sys.exit(0 if m and int(m.group(1)) >= 2 else 1)" "$T/page.html"
# The daemon's view of the same minute, through `segalert fetch`.
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/segalert.conf" >"$T/fetch.out" 2>"$T/fetch.err"
sinkq hook "[r['j'] for r in A if r['j'].get('status') == 'firing'][0]" >/dev/null 2>&1 &&
    sinkq hook "json.dumps([r['j'] for r in A if r['j'].get('status') == 'firing'][0], indent=1)" >"$T/firing.json"
check "firing: Alertmanager webhook v4 shape" "$PY" -c "import json, sys
j = json.load(open(sys.argv[1]))
ok = j['version'] == '4' and j['status'] == 'firing' and j['receiver'] == 'hook' \
    and isinstance(j['groupKey'], str) and j['groupKey'] \
    and j['groupLabels'] == {'rule': 'delivery-discard-ratio', 'workspace': 'sim'} \
    and 'commonLabels' in j and 'commonAnnotations' in j and 'externalURL' in j \
    and len(j['alerts']) == 1
sys.exit(0 if ok else 1)" "$T/firing.json"
check "firing: labels source=web destination=amplitude rule=delivery-discard-ratio severity=critical" "$PY" -c "import json, sys
a = json.load(open(sys.argv[1]))['alerts'][0]
l = a['labels']
ok = a['status'] == 'firing' and l.get('rule') == 'delivery-discard-ratio' \
    and l.get('alertname') == 'delivery-discard-ratio' and l.get('source') == 'web' \
    and l.get('destination') == 'amplitude' and l.get('destination_type') == 'amplitude' \
    and l.get('workspace') == 'sim' and l.get('severity') == 'critical' and a['fingerprint']
sys.exit(0 if ok else 1)" "$T/firing.json"
check "firing: startsAt set, endsAt zero, reason first, notification id" "$PY" -c "import json, sys
j = json.load(open(sys.argv[1]))
a = j['alerts'][0]
ok = a['startsAt'].startswith('20') and a['endsAt'] == '0001-01-01T00:00:00Z' \
    and j['segalert']['reason'] == 'first' and j['segalert']['notificationId']
sys.exit(0 if ok else 1)" "$T/firing.json"
# summary = "amplitude discards X% of events from web": X is the rule value
# (the discard ratio of the delivery window when the rule fired), above the
# rule's 2% and at most the incident's 30%, and the same number the payload
# carries as its value annotation (in percent: the rule value is a ratio).  The window ends at the poll time, so
# `segalert fetch` a moment later sees a ratio in the same range, not the
# same number.
check "firing: summary carries the rule value" "$PY" -c "import json, re, sys
a = json.load(open(sys.argv[1]))['alerts'][0]
m = re.fullmatch(r'amplitude discards ([0-9.]+)% of events from web', a['annotations'].get('summary', ''))
f = [l for l in open(sys.argv[2]) if l.startswith('connection ') and 'destination=\"amplitude\"' in l]
r = re.search(r' discard_ratio=([0-9.e+-]+)', f[0]) if f else None
# the value annotation is in the rule's unit: a ratio reads as a percentage
vs = a['annotations'].get('value', 'nan')
v = float(vs[:-1]) / 100 if vs.endswith('%') else float(vs)
if not m or not r:
    sys.exit(1)
x, now = float(m.group(1)), 100 * float(r.group(1))
print('summary %s%%, value %.4f, fetch %.4f%%' % (m.group(1), v, now), file=sys.stderr)
sys.exit(0 if 2 < x <= 30.05 and abs(x - 100 * v) <= 0.01 + 0.005 * x and 2 < now <= 30.05 else 1)" "$T/firing.json" "$T/fetch.out"

# ---- resolved --------------------------------------------------------------------------
if vwait $((EDGE + 100 - $(vnow))) sinktrue hook "st('resolved') >= 1"; then
    ok "resolved notification received"
else
    notok "resolved notification received"
    tail -n 20 "$T/d.err"
fi
check "no second firing while the incident lasted (repeat_interval 1h)" [ "$(sinkq hook "st('firing')")" -eq 1 ]
sinkq hook "json.dumps([r['j'] for r in A if r['j'].get('status') == 'resolved'][0], indent=1)" >"$T/resolved.json" 2>/dev/null
check "resolved: status resolved, endsAt set after startsAt, same alert" "$PY" -c "import json, sys
j = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2]))
a, fa = j['alerts'][0], f['alerts'][0]
ok = j['status'] == 'resolved' and len(j['alerts']) == 1 and a['status'] == 'resolved' \
    and a['endsAt'] != '0001-01-01T00:00:00Z' and a['endsAt'] > a['startsAt'] \
    and a['fingerprint'] == fa['fingerprint'] and a['labels'] == fa['labels'] \
    and j['groupKey'] == f['groupKey'] \
    and j['segalert']['reason'] in ('resolved', 'all_resolved') \
    and j['segalert']['notificationId'] != f['segalert']['notificationId']
sys.exit(0 if ok else 1)" "$T/resolved.json" "$T/firing.json"

# Two group intervals more: nothing else may arrive.
vsleep 11
check "exactly one firing and one resolved notification, nothing else" \
    [ "$(sinkq hook "(st('firing'), st('resolved'), len(R))")" = "(1, 1, 2)" ]
check "the daemon logged both transitions" sh -c "grep -q 'FIRING critical delivery-discard-ratio  amplitude ← web' '$T/d.err' && grep -q 'RESOLVED critical delivery-discard-ratio  amplitude ← web  now ' '$T/d.err'"

stop_daemon $DPID 15
check "SIGTERM stops the daemon with exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T/d.err"
check "no error logged" sh -c "! grep -q 'level=error' '$T/d.err'"
finish
