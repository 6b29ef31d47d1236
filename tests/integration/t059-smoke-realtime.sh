#!/bin/sh
# t059-smoke-realtime: one incident end to end on the REAL clock (no
# SEGALERT_CLOCK), so the production clock path stays covered while the
# other end-to-end tests run on a scaled clock.  segalert-sim serves a
# discard spike that began ten minutes ago; the daemon (short poll, `for`
# and group timers) fires once; then the sim is replaced, on the same port,
# by the same workspace without the incident (same seed: same ids), and the
# daemon resolves once.  Timestamps are checked against real time.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t059-smoke-realtime.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

unset SEGALERT_CLOCK

# scenario FILE [INCIDENT_AT]: the workspace, with the incident when given
scenario() {
    cat >"$1" <<EOF
seed = 59
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.001 }
}
EOF
    [ -n "${2:-}" ] && cat >>"$1" <<EOF
incident "amplitude-discards" {
  kind = "discard_spike"
  source = "web"
  destination = "amplitude"
  at = "$2"
  duration = "1h"
  value = 0.3
}
EOF
}
scenario "$T/incident.conf" "$("$PY" -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600)))')"
scenario "$T/calm.conf"
SIM_PORT=$(free_port)
start_sim "$T/incident.conf" --listen "127.0.0.1:$SIM_PORT" || { notok "sim starts"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }

cat >"$T/rules.conf" <<'EOF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  recover  = "discard_ratio < 0.2% or attempted < 100"
  for      = "2s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
EOF
cat >"$T/segalert.conf" <<EOF
state_dir = "$T/state"
listen = ""
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "1s"
  delivery_window = "1m"
  volume_interval = "1m"
  usage_interval = "1h"
  request_budget = 600
}
defaults {
  group_by = {"rule", "workspace"}
  group_wait = "1s"
  group_interval = "2s"
  repeat_interval = "1h"
}
receiver "hook" { type = "webhook"  url = "$hook_URL/hook" }
route "all" { receiver = "hook" }
EOF
T0=$("$PY" -c 'import time; print(time.time())')
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/segalert.conf" --eval-interval 1s >"$T/d.out" 2>"$T/d.err" &
DPID=$!
bg_pid $DPID

if wait_for 20 sinktrue hook "st('firing') >= 1"; then
    ok "firing notification received"
else
    notok "firing notification received"
    tail -n 20 "$T/d.err"
fi
check "the daemon runs on the real clock (no \"(test clock)\")" \
    sh -c "grep -q 'daemon: segalert .* started' '$T/d.err' && ! grep -q 'test clock' '$T/d.err'"
# startsAt is real time (whole seconds): after the daemon started, before
# the webhook got it, and `for` (2 s) before the notification.
check "firing: startsAt is real time, at least 'for' (2 s) before the notification" "$PY" -c "import datetime, glob, json, sys
r = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + '/[0-9]*.json'))][0]
a = json.loads(r['body'])['alerts'][0]
s = datetime.datetime.fromisoformat(a['startsAt'].replace('Z', '+00:00')).timestamp()
print('startsAt - daemon start %.1f s, notification - startsAt %.1f s' % (s - $T0, r['t'] - s), file=sys.stderr)
sys.exit(0 if a['status'] == 'firing' and $T0 - 1 <= s and s + 2 <= r['t'] <= s + 15 else 1)" "$T/hook"

# The incident ends: the same workspace without it, on the same port.
kill $SIM_PID 2>/dev/null
wait $SIM_PID 2>/dev/null
T1=$("$PY" -c 'import time; print(time.time())')
start_sim "$T/calm.conf" --listen "127.0.0.1:$SIM_PORT" || notok "calm sim starts on the same port"
# Delivery windows end on whole minutes: the first window read wholly from
# the calm sim may end up to a minute (plus a poll) after the swap.
if wait_for 90 sinktrue hook "st('resolved') >= 1"; then
    ok "resolved notification received"
else
    notok "resolved notification received"
    tail -n 20 "$T/d.err"
fi
# (endsAt is in whole seconds: floor(e) > T1 - 1 when e >= T1.)
check "resolved: endsAt is real time, after the incident ended" "$PY" -c "import datetime, glob, json, sys
R = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + '/[0-9]*.json'))]
r = [r for r in R if json.loads(r['body'])['status'] == 'resolved'][0]
a = json.loads(r['body'])['alerts'][0]
e = datetime.datetime.fromisoformat(a['endsAt'].replace('Z', '+00:00')).timestamp()
sys.exit(0 if a['status'] == 'resolved' and $T1 - 1 < e <= r['t'] + 1 else 1)" "$T/hook"
# group_interval (2 s) twice: nothing else may arrive.
sleep 4
check "exactly one firing and one resolved notification, nothing else" \
    [ "$(sinkq hook "(st('firing'), st('resolved'), len(R))")" = "(1, 1, 2)" ]
stop_daemon $DPID 15
check "SIGTERM stops the daemon with exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T/d.err"
check "no error logged" sh -c "! grep -q 'level=error' '$T/d.err'"
finish
