#!/bin/sh
# t065-clock-restart: restarts after the clock moved, truthful delivery
# counters (docs/notifications.md "Restarts and duplicates").
#
#  Two daemons on one incident (one simulator, a scaled clock: 20 scenario
#  seconds per real second), each with a webhook that answers 500 at
#  first, so the firing notification waits for its retry:
#   - retrying (GET /api/v1/status) is 1 while it waits; retries_total > 0;
#   - both are stopped (SIGTERM); A's state.json is moved a day AHEAD (the
#     clock was set back between the runs), B's a day BACK; the webhooks
#     answer 200 from now on; both restart;
#   - A logs one warning naming how far ahead the file was; neither shows
#     an activeAt in the future;
#   - the queued firing goes out within group_interval + one retry step
#     (5 s + 30 s) of the restart, the resolved within that of the resolve;
#     retrying is back to 0;
#   - A is killed (kill -9) and restarted: `segalert status` shows as many
#     delivered as its webhook answered with 200.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t065-clock-restart.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20
DAY=86400
# group_interval + one retry step (OUTBOX_BACKOFF_FIRST_S), in virtual s
BOUND=35

set -- $("$PY" -c 'import math, sys, time
t = float(sys.argv[1])
edge = math.ceil((t + 4 + 12 + 2) / 60) * 60
start = max(math.ceil(t + 4), math.ceil(edge - 2 - 45))
print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)), math.floor(edge - 2 - start), edge)' "$(vtime)")
INC_AT=$1 INC_DUR=$2 EDGE=$3
cat >"$T/scenario.conf" <<CONF
seed = 65
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
start_sink hookA 500 || { notok "webhook sink A starts"; finish; }
start_sink hookB 500 || { notok "webhook sink B starts"; finish; }

cat >"$T/rules.conf" <<'CONF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  recover  = "discard_ratio < 0.2% or attempted < 100"
  for      = "5s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
CONF

PORT_a=$(free_port)
PORT_b=$(free_port)
write_daemon_config() {
    cat >"$T/$1.conf" <<CONF
state_dir = "$T/$1-state"
listen = "127.0.0.1:$3"
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
RUNS=0
start_daemon() {
    RUNS=$((RUNS + 1))
    SIM_TOKEN=test-token "$SEGALERT" run -c "$T/$1.conf" >"$T/$1.$RUNS.out" 2>"$T/$1.$RUNS.err" &
    eval "PID_$1=$!"
    bg_pid $!
}
write_daemon_config a "$hookA_URL" "$PORT_a"
write_daemon_config b "$hookB_URL" "$PORT_b"
start_daemon a
A1=$RUNS
start_daemon b
B1=$RUNS

# api NAME PATH EXPR: a python expression over D, the JSON at PATH
api() {
    eval "port=\$PORT_$1"
    curl -s "http://127.0.0.1:$port$2" | "$PY" -c "import json, sys
D = json.load(sys.stdin)
print($3)"
}
retrying() { api "$1" /api/v1/status "[r['retrying'] for r in D['data']['receivers']][0]"; }
retries_total() { api "$1" /api/v1/status "[r['retries_total'] for r in D['data']['receivers']][0]"; }
is_retrying() { [ "$(retrying "$1")" = "$2" ]; }

# ---- the firing meets a failing webhook -------------------------------------------------
for dn in a b; do
    N=$(echo $dn | tr a-z A-Z)
    if vwait $((EDGE - $(vnow) + 40)) sinktrue hook$N "[r for r in R if r['j']['status'] == 'firing']"; then
        ok "$N: the firing notification reached the webhook (answered 500)"
    else
        notok "$N: the firing notification reached the webhook (answered 500)"
    fi
    check "$N: retrying is 1 while it waits for its retry" wait_for 5 is_retrying $dn 1
    RT=$(retries_total $dn)
    check "$N: retries_total > 0 ($RT)" [ "${RT:-0}" -gt 0 ]
done
grep -q 'segalert_notifications_retries_total{receiver="hook"} [1-9]' "$T/metrics" 2>/dev/null
curl -s "http://127.0.0.1:$PORT_a/metrics" >"$T/metrics"
check "/metrics: retrying gauge and retries_total counter" sh -c "grep -q '^segalert_notifications_retrying{receiver=\"hook\"} 1' '$T/metrics' && grep -q '^segalert_notifications_retries_total{receiver=\"hook\"} [1-9]' '$T/metrics'"

# ---- stop, move the times, restart -----------------------------------------------------
stop_daemon "$PID_a" 12
check "A: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon "$PID_b" 12
check "B: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
# shift_state NAME SECONDS: every time of state.json (the journal is
# empty after a SIGTERM) moves by SECONDS, silences included
cat >"$T/shift.py" <<'PYEOF'
import json, sys
path, by = sys.argv[1], float(sys.argv[2])
TIMES = {"saved_at", "created_at", "active_at", "fired_at", "resolved_at",
         "last_true_at", "last_data_at", "last_eval_at", "data_through",
         "next_flush", "notified_at", "starts_at", "ends_at", "added_at",
         "next_attempt", "first_attempt"}
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in TIMES and isinstance(v, (int, float)) and v > 0:
                o[k] = v + by
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
d = json.load(open(path))
walk(d)
json.dump(d, open(path, "w"))
PYEOF
"$PY" "$T/shift.py" "$T/a-state/state.json" $DAY
"$PY" "$T/shift.py" "$T/b-state/state.json" -$DAY
check "A: the moved state holds the queued firing, due a day ahead" [ "$("$PY" -c "import json, sys
d = json.load(open(sys.argv[1]))
print([e['next_attempt'] > float(sys.argv[2]) + 80000 for e in d['outbox']['entries']])" "$T/a-state/state.json" "$(vtime)")" = "[True]" ]
curl -s -X POST --data ok "$hookA_URL/_mode" >/dev/null
curl -s -X POST --data ok "$hookB_URL/_mode" >/dev/null
RESTART=$(vnow)
start_daemon a
A2=$RUNS
start_daemon b
B2=$RUNS
check "A: one warning: the state was about a day ahead" wait_for 5 sh -c "[ \$(grep -c 'ahead of the clock' '$T/a.$A2.err') -eq 1 ] && grep -Eq '\\(86[0-9]{3} s\\) ahead of the clock' '$T/a.$A2.err'"
check "B: no warning (a state a day old is just old)" sh -c "! grep -q 'ahead of the clock' '$T/b.$B2.err'"

delivered_within() {   # NAME STATUS: answered 200 once
    sinktrue "$1" "st('$2') >= 1"
}
for dn in a b; do
    N=$(echo $dn | tr a-z A-Z)
    if vwait $BOUND delivered_within hook$N firing; then
        ok "$N: the queued firing went out within group_interval + one retry step"
    else
        notok "$N: the queued firing went out within group_interval + one retry step ($(vnow) - $RESTART virtual s)"
        tail -n 20 "$T/$dn.$RUNS.err"
    fi
    check "$N: retrying back to 0" wait_for 5 is_retrying $dn 0
    FUT=$(api $dn /api/v1/alerts "[a['activeAt'] for a in D['data']['alerts'] if a.get('activeAt') and __import__('calendar').timegm(__import__('time').strptime(a['activeAt'][:19], '%Y-%m-%dT%H:%M:%S')) > $(vnow) + 60]")
    check "$N: no activeAt in the future ($FUT)" [ "$FUT" = "[]" ]
done

# ---- the resolve -------------------------------------------------------------------------
# resolved_at of the instance, then the resolved notification within BOUND
for dn in a b; do
    N=$(echo $dn | tr a-z A-Z)
    if vwait $((EDGE + 120 - $(vnow))) delivered_within hook$N resolved; then
        ok "$N: the resolved notification went out"
    else
        notok "$N: the resolved notification went out"
        tail -n 20 "$T/$dn.$RUNS.err"
    fi
done
cat >"$T/lag.py" <<'PYEOF'
import glob, json, os, sys
exec(os.environ["PY_VTIME"])
for f in sorted(glob.glob(os.path.join(sys.argv[1], "[0-9]*.json"))):
    r = json.load(open(f))
    j = json.loads(r["body"])
    if r["mode"] == "ok" and j["status"] == "resolved":
        import calendar, time
        ends = j["alerts"][0]["endsAt"]
        t = calendar.timegm(time.strptime(ends[:19], "%Y-%m-%dT%H:%M:%S"))
        # a resolve that happened before the shutdown (a slow machine)
        # could only go out after the restart: measure from there
        t = max(t, float(sys.argv[2]))
        print("%.0f" % (v(r["t"]) - t))
        break
PYEOF
for dn in a b; do
    N=$(echo $dn | tr a-z A-Z)
    LAG=$(PY_VTIME="$PY_VTIME" "$PY" "$T/lag.py" "$T/hook$N" "$RESTART")
    check "$N: the resolved went out within $BOUND virtual s of the resolve (${LAG}s)" [ -n "$LAG" -a "${LAG:-999999}" -le $BOUND ]
done
check "A: one firing and one resolved answered, nothing else" [ "$(sinkq hookA "(st('firing'), st('resolved'), len(A))")" = "(1, 1, 2)" ]
# B's state is a day old: the group's last notification was a day ago, so
# a repeat of the firing (repeat_interval 1h) is right.  The restored
# instance judges only data newer than the restart (daemon/persist.c
# judge_from): the first window, which ends where the volume is known
# (a minute or more back, before the incident), must not resolve an
# incident that is still going on and fire it again.  What must hold: the
# queued notification went out once; one firing episode (every firing
# names the restored startsAt), one resolved, and it is the last word.
check "B: the queued firing answered once, the last notification is a resolved" [ "$(sinkq hookB "(len([r for r in A if r['j']['segalert']['notificationId'] == [x for x in R if x['mode'] == '500'][0]['j']['segalert']['notificationId']]), A[-1]['j']['status'])")" = "(1, 'resolved')" ]
check "B: 1 firing episode, 1 resolved: no resolve and fire again after the restart" [ "$(sinkq hookB "(len(set(r['j']['alerts'][0]['startsAt'] for r in A if r['j']['status'] == 'firing')), st('resolved'))")" = "(1, 1)" ]

# ---- kill -9: the counters survive ----------------------------------------------------------
kill -9 "$PID_a" 2>/dev/null
wait "$PID_a" 2>/dev/null
start_daemon a
A3=$RUNS
status_delivered() {
    "$SEGALERT" status -c "$T/a.conf" --json 2>/dev/null | "$PY" -c "import json, sys
D = json.load(sys.stdin)
def find(o):
    if isinstance(o, dict):
        if isinstance(o.get('receivers'), list):
            return [r['delivered'] for r in o['receivers']]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
print(find(D))"
}
up() { [ -n "$(status_delivered)" ] && [ "$(status_delivered)" != None ]; }
wait_for 10 up
SINK_OK=$(sinkq hookA "len(A)")
check "A: after kill -9 and restart, status shows delivered = the webhook's 200s ($(status_delivered) vs $SINK_OK)" [ "$(status_delivered)" = "[$SINK_OK]" ]

stop_daemon "$PID_a" 12
check "A: last run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
stop_daemon "$PID_b" 12
check "B: last run: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T"/a.*.err "$T"/b.*.err
check "no error logged" sh -c "! grep -q 'level=error' '$T'/a.*.err '$T'/b.*.err"
[ -n "$KEEP" ] && cp -r "$T" "$KEEP"
finish
