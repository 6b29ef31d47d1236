#!/bin/sh
# t062-e2e-signals: the daemon's operational contract (README.md "Operations").
#  - SIGHUP with a broken rules file: the running configuration is kept
#    (logged with the file, line and problem), polling goes on, /-/healthy
#    answers; fixed file + SIGHUP: reloaded, the new rule is live;
#  - a second instance on the same state_dir refuses to start;
#  - SIGTERM with a delivery hanging: exit 0 within ~12 s (10 s flush),
#    state.json written (valid, "version": 1) with that notification
#    still queued, due at once: a restart delivers it right away;
#  - a corrupt state.json is moved aside as state.json.corrupt-* (its
#    journal as state.journal.corrupt-*) with a loud error and the daemon
#    starts clean;
#  - `segalert run --once`: exit 0 against a healthy sim, 1 on a 401.
#
# The daemons and the sim run on a scaled clock (lib.sh use_scaled_clock,
# 20x): polls, evaluations and group timers pass in a twentieth of the
# time.  The SIGTERM flush deadline (10 s) and the receiver timeout are
# real time, so the SIGTERM part takes its 10 s as before.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t062-e2e-signals.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
start_sink hook hang || { notok "webhook sink starts"; finish; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"

# A rule that fires on the sim's normal data, so a notification is in
# flight (the webhook holds it) when the daemon is stopped.
cat >"$T/rules.conf" <<'CONF'
rule "traffic-seen" {
  expr     = "attempted >= 1"
  severity = "warning"
  summary  = "{{destination}} receives events from {{source}}"
}
CONF
cp "$T/rules.conf" "$T/rules.good"
cat >"$T/segalert.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
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
receiver "hook" { type = "webhook"  url = "$hook_URL/hook"  timeout = "30s" }
route "all" { receiver = "hook" }
CONF
SIM_TOKEN=test-token "$SEGALERT" run -v -c "$T/segalert.conf" >"$T/d.out" 2>"$T/d.err" &
DPID=$!
bg_pid $DPID

code() { curl -s -o "$T/body" -w '%{http_code}' "$BASE$1"; }
ready() { [ "$(code /-/ready)" = 200 ]; }
check "the daemon becomes ready (first poll done)" wait_for 20 ready
if vwait 20 sinktrue hook "[r for r in R if r['j']['status'] == 'firing']"; then
    ok "a firing notification reached the webhook (which holds it)"
else
    notok "a firing notification reached the webhook (which holds it)"
fi
NID=$(sinkq hook "R[0]['j']['segalert']['notificationId']" 2>/dev/null)

# ---- a second instance on the same state_dir ------------------------------------------------
PORT2=$(free_port)
sed "s/127.0.0.1:$PORT/127.0.0.1:$PORT2/" "$T/segalert.conf" >"$T/second.conf"
SIM_TOKEN=test-token timeout 20 "$SEGALERT" run -c "$T/second.conf" >"$T/second.out" 2>"$T/second.err"
rc=$?
check "second instance: exit code 1 ($rc)" [ "$rc" -eq 1 ]
check "second instance: says another segalert holds the state_dir" grep -q "another segalert (pid $DPID) is using state_dir $T/state" "$T/second.err"
check "the first instance is unaffected" alive $DPID
check "the first instance still answers /-/healthy" [ "$(code /-/healthy)" = 200 ]

# ---- SIGHUP with a broken rules file ----------------------------------------------------------
sed 's/attempted >= 1/attempted_typo >= 1/' "$T/rules.good" >"$T/rules.conf"
dm() { sim_stat "s['by_endpoint'].get('delivery_metrics', {}).get('200', 0)"; }
kill -HUP $DPID
check "broken reload: logged as failed, running configuration kept" \
    wait_for 10 grep -q 'reload failed; keeping the running configuration' "$T/d.err"
check "broken reload: the error names the file, line and unknown metric" \
    grep -q "level=error msg=\"config: $T/rules.conf:2:[0-9]*: .*unknown metric 'attempted_typo'" "$T/d.err"
check "broken reload: the daemon keeps running" alive $DPID
check "broken reload: /-/healthy answers 200" [ "$(code /-/healthy)" = 200 ]
n0=$(dm)
more_polls() { [ "$(dm)" -gt "$n0" ]; }
check "broken reload: the daemon still polls ($n0 delivery-metrics requests so far)" vwait 15 more_polls
code /api/v1/rules >/dev/null
check "broken reload: the old rule is still loaded" grep -q '"traffic-seen"' "$T/body"

# ---- SIGHUP with the file fixed (and a rule added) ----------------------------------------
ev() { sim_stat "s['by_endpoint'].get('events_volume', {}).get('$1', 0)"; }
v0=$(ev 200)
{ cat "$T/rules.good"; printf 'rule "second-rule" {\n  expr = "discard_ratio > 50%%"\n}\n'; } >"$T/rules.conf"
kill -HUP $DPID
check "fixed reload: logged as reloaded" \
    wait_for 10 grep -q 'daemon: reloaded: 1 workspaces, 2 rules' "$T/d.err"
rule_live() { code /api/v1/rules >/dev/null && grep -q '"second-rule"' "$T/body"; }
check "fixed reload: the new rule is live in /api/v1/rules" wait_for 5 rule_live
check "fixed reload: the firing instance kept its state" grep -q 'daemon: reloaded: .*(3 alert instances kept)' "$T/d.err"
check "fixed reload: the daemon keeps running" alive $DPID
more_volume() { [ "$(ev 200)" -gt "$v0" ]; }
check "fixed reload: event volume is polled again" vwait 10 more_volume
check "fixed reload: ... from where it was (no 422 for a range from 1970: $(ev 422))" [ "$(ev 422)" -eq 0 ]
check "reloads: nothing logged at error but the broken file's problems" \
    sh -c "! grep 'level=error' '$T/d.err' | grep -v 'config: $T/rules.conf:\|reload failed; keeping'"

# ---- SIGTERM while the webhook still holds the notification --------------------------------
check "the notification is still in flight" sh -c "! grep -q 'notify: delivered' '$T/d.err'"
t0=$("$PY" -c 'import time; print(time.time())')
stop_daemon $DPID 20
el=$("$PY" -c "import time; print('%.1f' % (time.time() - $t0))")
check "SIGTERM: exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "SIGTERM: stopped within 12 s (${el} s)" "$PY" -c "import sys; sys.exit(0 if $el <= 12 else 1)"
check "SIGTERM: logged the delivery that stays queued" grep -q 'deliveries still running at shutdown; they stay queued in the state file' "$T/d.err"
check "SIGTERM: state.json written at stop, valid JSON, version 1, the firing instances and the queued notification" "$PY" -c "import json, os, sys
p = sys.argv[1]
S = json.load(open(p))
ok = os.stat(p).st_mtime >= $t0 and S['version'] == 1 \
    and [e['notification']['id'] for e in S['outbox']['entries']] == ['$NID'] \
    and sorted(i['state']['state'] for i in S['instances'] if i['rule'] == 'traffic-seen') == ['firing'] * 3
if not ok:
    print('state.json: mtime %.1f, outbox %s, instances %s' % (os.stat(p).st_mtime - $t0,
          [e['notification']['id'] for e in S['outbox']['entries']],
          [(i['rule'], i['series'].get('destination'), i['state']) for i in S['instances']]), file=sys.stderr)
sys.exit(0 if ok else 1)" "$T/state/state.json"
check "SIGTERM: no sanitizer report" no_sanitizer_report "$T/d.err"
# next_attempt is the daemon's (virtual) time: compared with v(t0).
check "SIGTERM: the aborted attempt is not a receiver failure (no back-off)" "$PY" -c "import json, sys
$PY_VTIME
e = json.load(open(sys.argv[1]))['outbox']['entries'][0]
sys.exit(0 if e['next_attempt'] <= v($t0) else 1)" "$T/state/state.json"
check "SIGTERM: no 'will retry' logged for it" sh -c "! grep -q 'will retry' '$T/d.err'"

# ---- restart: the queued notification goes out at once ---------------------------------------
curl -s -X POST --data ok "$hook_URL/_mode" >/dev/null
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/segalert.conf" >"$T/r.out" 2>"$T/r.err" &
RPID=$!
bg_pid $RPID
if wait_for 8 sinktrue hook "[r for r in A if r['j']['segalert']['notificationId'] == '$NID']"; then
    ok "restart: the notification queued at SIGTERM is delivered at once"
else
    notok "restart: the notification queued at SIGTERM is delivered at once"
fi
stop_daemon $RPID 15
check "restart: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "restart: delivered once, nothing else re-sent" [ "$(sinkq hook "len(A)")" -eq 1 ]
check "restart: no sanitizer report" no_sanitizer_report "$T/r.err"

# ---- a corrupt state file ---------------------------------------------------------------------
size=$(wc -c <"$T/state/state.json")
head -c $((size / 2)) "$T/state/state.json" >"$T/half" && cat "$T/half" >"$T/state/state.json"
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/segalert.conf" >"$T/c.out" 2>"$T/c.err" &
CPID=$!
bg_pid $CPID
check "corrupt state: the daemon starts (/-/healthy 200)" wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $BASE/-/healthy)\" = 200 ]"
check "corrupt state: the file is moved aside as state.json.corrupt-*" sh -c "ls '$T/state'/state.json.corrupt-* >/dev/null 2>&1 && cmp -s '$T/half' '$T/state'/state.json.corrupt-*"
check "corrupt state: its journal is moved aside with it (state.journal.corrupt-*)" sh -c "ls '$T/state'/state.journal.corrupt-* >/dev/null 2>&1"
check "corrupt state: a loud error says so" grep -q 'level=error msg=.*state file was corrupt.*moved aside and segalert starts clean' "$T/c.err"
# the state as the daemon reads it: state.json and the saves of its journal
valid_state() { "$PY" -c "import sys; sys.path.insert(0, sys.argv[2]); import statefile; S = statefile.load(sys.argv[1]); sys.exit(0 if S['version'] == 1 and S['instances'] else 1)" "$T/state" "$SRC/tests/integration" 2>/dev/null; }
check "corrupt state: a fresh valid state is written" wait_for 20 valid_state
stop_daemon $CPID 15
check "corrupt state: SIGTERM, exit code 0 ($RC)" [ "$RC" -eq 0 ]
check "corrupt state: no sanitizer report" no_sanitizer_report "$T/c.err"

# ---- --once ------------------------------------------------------------------------------------
cat >"$T/once.conf" <<CONF
state_dir = "$T/once-state"
listen = ""
rule_files = {"$T/rules.good"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  delivery_window = "1m"
  request_budget = 600
}
defaults { group_wait = "5m" }
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
# group_wait is 5 minutes: --once does not wait for it (one evaluation has
# nothing more to gather), so `timeout 60` is plenty
SIM_TOKEN=test-token timeout 60 "$SEGALERT" run --once -c "$T/once.conf" >"$T/once.out" 2>"$T/once.err"
rc=$?
check "--once on a healthy sim: exit code 0, without waiting group_wait ($rc)" [ "$rc" -eq 0 ]
check "--once: the cycle's notification is printed by the log receiver" grep -q 'traffic-seen' "$T/once.out"
check "--once: state written" "$PY" -c "import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))['version'] == 1 else 1)" "$T/once-state/state.json"
rm -rf "$T/once-state"
SIM_TOKEN=not-the-token timeout 60 "$SEGALERT" run --once -c "$T/once.conf" >"$T/once401.out" 2>"$T/once401.err"
rc=$?
check "--once on a 401: exit code 1 ($rc)" [ "$rc" -eq 1 ]
check "--once on a 401: says unauthorized" grep -q 'unauthorized (HTTP 401)' "$T/once401.err"
# An API that never answers in time: --once gives up at its deadline
# (real time), says what was not finished and exits 1 - a cron job never
# hangs.
cat >"$T/slow.sim" <<'EOF'
seed = 62
token = "test-token"
source "web" { events_per_minute = 60  destination "amp" {} }
faults { slow = 1  slow_for = "1h" }
EOF
SIM_URL_HEALTHY=$SIM_URL
start_sim "$T/slow.sim" || notok "slow sim starts"
sed "s|$SIM_URL_HEALTHY|$SIM_URL|" "$T/once.conf" >"$T/slow.conf"
rm -rf "$T/once-state"
t0=$(date +%s)
SIM_TOKEN=test-token timeout 60 "$SEGALERT" run --once --timeout 3s -c "$T/slow.conf" >"$T/slow.out" 2>"$T/slow.err"
rc=$?
t1=$(date +%s)
check "--once --timeout 3s on an API that hangs: exit code 1 ($rc)" [ "$rc" -eq 1 ]
check "  within the deadline ($((t1 - t0)) s)" [ $((t1 - t0)) -le 15 ]
check "  says what it did not finish" grep -q 'once gave up after 3 s; not finished: ws=sim: discovery' "$T/slow.err"
"$SEGALERT" run --once --timeout soon -c "$T/slow.conf" >/dev/null 2>"$T/badtimeout.err"
check "an invalid --timeout is a usage error (exit 2)" [ $? -eq 2 ]
check "--once: no sanitizer report" no_sanitizer_report "$T/once.err" "$T/once401.err" "$T/slow.err"
finish
