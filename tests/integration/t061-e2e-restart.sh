#!/bin/sh
# t061-e2e-restart: restarts never re-send what was delivered and never
# lose what was queued (docs/notifications.md "Restarts and reloads").
#
#  A. restart mid-incident: the daemon fires, is stopped with SIGTERM
#     (state.json, compacted at the stop, holds the firing instance and
#     the notification log; the journal is empty), is
#     started again: no second "firing" (repeat_interval is 1h), and the
#     "resolved" still arrives, once.
#  B. kill -9 between enqueue and delivery: the webhook holds the request
#     without answering, the daemon is killed; the state (state.json and
#     the saves in state.journal) holds the notification in its outbox;
#     after a restart against a healthy
#     webhook that notification (same id) is delivered exactly once.
#
# A and B run side by side (two daemons, two state dirs, one simulator)
# so the test waits for the incident only once, on a scaled clock (lib.sh
# use_scaled_clock): 20 scenario seconds per real second, a minute in 3 s.
# B is killed as soon as its firing reaches the webhook and A stopped right
# after, both long before the incident resolves (~100 virtual s later).
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t061-e2e-restart.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20

# ---- scenario: the incident inside one UTC minute ------------------------------------
# The daemon reads the last minute of delivery metrics (delivery_window
# "1m", ending at each poll): the incident lies in [EDGE-60, EDGE-2], so
# the rule fires by EDGE and resolves within a minute after the incident.
# It is placed at an absolute (virtual) time, `at`, so the time the sim
# takes to start does not move it; it starts at least 4 s from now.
set -- $("$PY" -c 'import math, sys, time
t = float(sys.argv[1])
edge = math.ceil((t + 4 + 12 + 2) / 60) * 60
start = max(math.ceil(t + 4), math.ceil(edge - 2 - 45))
print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)), math.floor(edge - 2 - start), edge)' "$(vtime)")
INC_AT=$1 INC_DUR=$2 EDGE=$3
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
  at = "$INC_AT"
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
  # No warning tier: the sliding delivery window passes through 0.5-2 %
  # as the incident fades, and a critical -> warning change is its own
  # notification; these tests count firing/resolved notifications.
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
    SIM_TOKEN=test-token "$SEGALERT" run -v -c "$T/$1.conf" >"$T/$1.$RUNS.out" 2>"$T/$1.$RUNS.err" &
    eval "PID_$1=$!"
    bg_pid $!
}
write_daemon_config a "$hookA_URL"
write_daemon_config b "$hookB_URL"
start_daemon a
A1=$RUNS
start_daemon b
B1=$RUNS

# jstate NAME EXPR: a python expression over S, the daemon's state (its
# state.json and the saves in state.journal, as the daemon reads them)
jstate() {
    "$PY" -c "import sys
sys.path.insert(0, sys.argv[2])
import statefile
S = statefile.load(sys.argv[1])
print($2)" "$T/$1-state" "$SRC/tests/integration"
}

# ---- the firings -------------------------------------------------------------------------
if vwait $((EDGE - $(vnow) + 40)) sinktrue hookA "st('firing') >= 1"; then
    ok "A: firing notification received"
else
    notok "A: firing notification received (incident at $INC_AT for ${INC_DUR}s, minute ends at $EDGE)"
    tail -n 20 "$T/a.$A1.err"
fi
NA=$(sinkq hookA "[r['j']['segalert']['notificationId'] for r in A if r['j']['status'] == 'firing'][0]" 2>/dev/null)
FP=$(sinkq hookA "[r['j']['alerts'][0]['fingerprint'] for r in A if r['j']['status'] == 'firing'][0]" 2>/dev/null)

# ---- B: the webhook holds the request; kill -9 --------------------------------------------
if vwait $((EDGE - $(vnow) + 40)) sinktrue hookB "[r for r in R if r['mode'] == 'hang' and r['j']['status'] == 'firing']"; then
    ok "B: the firing notification reached the (hanging) webhook"
else
    notok "B: the firing notification reached the (hanging) webhook"
    tail -n 20 "$T/b.$B1.err"
fi
NB=$(sinkq hookB "[r['j']['segalert']['notificationId'] for r in R if r['j']['status'] == 'firing'][0]" 2>/dev/null)
kill -9 "$PID_b" 2>/dev/null
wait "$PID_b" 2>/dev/null

# ---- A: SIGTERM, restart -------------------------------------------------------------------
stop_daemon "$PID_a" 12
check "A: SIGTERM: exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "A: state.json holds the instance, firing and announced" [ "$(jstate a "[(i['rule'], i['series']['destination'], i['state']['state'], i['state']['announced_firing']) for i in S['instances']]")" = "[('delivery-discard-ratio', 'amplitude', 'firing', True)]" ]
check "A: state.json holds the notification log of the group (alert $FP announced)" [ "$(jstate a "[(g['receiver'], [f['fingerprint'] for f in g['nflog']['firing']], g['nflog']['notified_at'] > 0) for g in S['dispatch']['groups']]")" = "[('hook', ['$FP'], True)]" ]
check "A: nothing left in the outbox" [ "$(jstate a "len(S['outbox']['entries'])")" -eq 0 ]
check "A: the stop compacted the state (the journal holds no save)" [ "$(jstate a "len(list(statefile.frames(open(sys.argv[1] + '/state.journal', 'rb').read())))")" = 1 ]
check "A: first run: no sanitizer report" no_sanitizer_report "$T/a.$A1.err"
start_daemon a
A2=$RUNS
check "A: restarted: the instance is restored" wait_for 5 grep -q 'state restored: 1 alert instances (0 dropped)' "$T/a.$A2.err"

# ---- B: what the crash left, restart -------------------------------------------------------
check "B: the state (snapshot + journal) holds the notification $NB in the outbox" [ "$(jstate b "[(e['notification']['id'], e['notification']['receiver'], e['notification']['alerts'][0]['status']) for e in S['outbox']['entries']]")" = "[('$NB', 'hook', 'firing')]" ]
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
outbox_empty() { [ "$(jstate b "len(S['outbox']['entries'])")" = 0 ]; }
check "B: its outbox is empty once delivered" wait_for 5 outbox_empty

# ---- A: no repeat after the restart; the resolved once ----------------------------------------
# Two group intervals (5 s) and more after the restart.
vsleep 11
check "A: no second firing after the restart (repeat_interval 1h)" [ "$(sinkq hookA "st('firing')")" -eq 1 ]
if vwait $((EDGE + 100 - $(vnow))) sinktrue hookA "st('resolved') >= 1"; then
    ok "A: resolved notification received after the restart"
else
    notok "A: resolved notification received after the restart"
    tail -n 20 "$T/a.$A2.err"
fi
check "A: the resolved is for the same alert and group" [ "$(sinkq hookA "[(r['j']['alerts'][0]['fingerprint'], r['j']['alerts'][0]['endsAt'] != '0001-01-01T00:00:00Z', r['j']['segalert']['notificationId'] != '$NA') for r in A if r['j']['status'] == 'resolved']")" = "[('$FP', True, True)]" ]
vsleep 11
check "A: exactly one firing and one resolved in all, nothing else" [ "$(sinkq hookA "(st('firing'), st('resolved'), len(R))")" = "(1, 1, 2)" ]
check "B: the notification $NB was delivered (answered 200) exactly once" [ "$(sinkq hookB "len([r for r in A if r['j']['segalert']['notificationId'] == '$NB'])")" -eq 1 ]
check "B: no other firing notification" [ "$(sinkq hookB "st('firing')")" -eq 1 ]
# B's resolve comes from its own evaluation, which a busy machine may
# delay past A's: wait for it (bounded), then count
vwait 60 sinktrue hookB "st('resolved') >= 1"
vsleep 11
check "B: the resolved arrives once ($(sinkq hookB "st('resolved')"))" [ "$(sinkq hookB "st('resolved')")" -eq 1 ]

stop_daemon "$PID_a" 12
check "A: second run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon "$PID_b" 12
check "B: second run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T/a.$A2.err" "$T/b.$B2.err"
check "no error logged" sh -c "! grep -q 'level=error' '$T/a.$A1.err' '$T/a.$A2.err' '$T/b.$B2.err'"
finish
