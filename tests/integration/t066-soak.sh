#!/bin/sh
# t066-soak: a compressed soak.  segalert-sim plays five discard incidents
# on five connections (30 scenario minutes on a clock 20 times real time,
# about 90 s); the daemon is killed with SIGKILL at random moments (at
# least 10 times) and restarted at once; the webhook fails in stretches
#     (500s, a hang past the timeout).  At the end, with a
# healthy webhook:
#   - nothing lost: every incident's alert was notified firing and, after
#     it ended, resolved (the last notification of each group resolves it);
#   - nothing stuck: the outbox is empty and no alert is left firing;
#   - duplicates (a notification id answered 200 twice) only within the
#     documented window: the first 200 came at most DUP_WINDOW_S before a
#     kill (the daemon died between the receiver's answer and the save).
#     Their number is printed.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t066-soak.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20
DUP_WINDOW_S=${DUP_WINDOW_S:-1.0}     # real seconds
V0=$(vnow)
iso() { "$PY" -c 'import sys, time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(sys.argv[1]))))' "$1"; }

cat >"$T/scenario.conf" <<CONF
seed = 66
token = "test-token"
source "web" {
  events_per_minute = 3000
  daily_amplitude = 0
CONF
for i in 1 2 3 4 5; do
    echo "  destination \"dest$i\" { discard_ratio = 0.001 }" >>"$T/scenario.conf"
done
echo "}" >>"$T/scenario.conf"
# incidents at +2, +6, +10, +14, +18 scenario minutes, 3 minutes each
for i in 1 2 3 4 5; do
    at=$((V0 + 60 * (4 * i - 2)))
    cat >>"$T/scenario.conf" <<CONF
incident "spike$i" {
  kind = "discard_spike"
  source = "web"
  destination = "dest$i"
  at = "$(iso $at)"
  duration = "3m"
  value = 0.3
}
CONF
done
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }

cat >"$T/rules.conf" <<'CONF'
rule "lossy" {
  expr     = "discard_ratio > 5% and attempted >= 100"
  recover  = "discard_ratio < 1% or attempted < 100"
  for      = "0s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
CONF
cat >"$T/seg.conf" <<CONF
state_dir = "$T/state"
listen = ""
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "10s"
  delivery_window = "1m"
  volume_interval = "1m"
  usage_interval = "1h"
  request_budget = 600
}
defaults {
  group_by = {"rule", "destination"}
  group_wait = "2s"
  group_interval = "10s"
  repeat_interval = "4h"
}
receiver "hook" { type = "webhook"  url = "$hook_URL/hook"  timeout = "3s" }
route "all" { receiver = "hook" }
CONF

RUN=0
start_daemon() {
    RUN=$((RUN + 1))
    SIM_TOKEN=test-token "$SEGALERT" run -v -c "$T/seg.conf" >"$T/d.$RUN.out" 2>"$T/d.$RUN.err" &
    DPID=$!
    bg_pid $DPID
}
start_daemon
: >"$T/kills"
KILLS=0
# the webhook's mood in stretches, cycling
MODES="ok 500 ok hang ok 500 ok"
set -- $MODES
END_V=$((V0 + 60 * 24))
while [ "$(vnow)" -lt "$END_V" ]; do
    # 2.5 .. 6 real seconds between kills
    sleep "$(awk -v r="$(od -An -N2 -tu2 /dev/urandom)" 'BEGIN { printf "%.2f", 2.5 + (r % 350) / 100 }')"
    [ $# -eq 0 ] && set -- $MODES
    curl -s -X POST --data "$1" "$hook_URL/_mode" >/dev/null
    shift
    kill -9 "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    date +%s.%N >>"$T/kills"
    KILLS=$((KILLS + 1))
    start_daemon
done
curl -s -X POST --data ok "$hook_URL/_mode" >/dev/null
check "at least 10 kill -9s ($KILLS)" [ "$KILLS" -ge 10 ]

# ---- drain: healthy webhook, every incident over --------------------------------
STATE_PY="import sys; sys.path.insert(0, '$SRC/tests/integration'); import statefile"
settled() {
    "$PY" - "$T/state" "$T/hook" <<EOF
$STATE_PY
import glob, json, os
S = statefile.load(sys.argv[1])
if S["outbox"]["entries"]:
    sys.exit(1)
if any(i["state"]["state"] != "inactive" for i in S["instances"]):
    sys.exit(1)
sys.exit(0)
EOF
}
if vwait 600 settled; then
    ok "drained: outbox empty, no alert left firing or pending"
else
    notok "drained: outbox empty, no alert left firing or pending"
fi
stop_daemon "$DPID" 15
check "last run stops cleanly ($RC)" [ "$RC" -eq 0 ]

# ---- judge ------------------------------------------------------------------------
"$PY" - "$T/hook" "$T/kills" "$DUP_WINDOW_S" >"$T/judge.out" 2>&1 <<'EOF'
import glob, json, os, sys
recs = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "[0-9]*.json"))):
    r = json.load(open(f))
    try:
        r["j"] = json.loads(r["body"])
    except ValueError:
        r["j"] = None
    recs.append(r)
kills = [float(l) for l in open(sys.argv[2]) if l.strip()]
window = float(sys.argv[3])
A = [r for r in recs if r["mode"] == "ok" and r["j"]]
# the last answered notification of each group (destination)
last = {}
fired = set()
for r in sorted(A, key=lambda r: r["t"]):
    dest = r["j"]["commonLabels"].get("destination")
    last[dest] = r["j"]["status"]
    if r["j"]["status"] == "firing":
        fired.add(dest)
print("groups fired:", sorted(fired))
print("last status per group:", last)
lost = [d for d in ("dest%d" % i for i in range(1, 6)) if d not in fired]
stuck = [d for d, s in last.items() if s != "resolved"]
first200 = {}
dups = []
for r in sorted(A, key=lambda r: r["t"]):
    nid = r["j"]["segalert"]["notificationId"]
    if nid in first200:
        dups.append((nid, first200[nid]))
    else:
        first200[nid] = r["t"]
outside = [(n, t) for n, t in dups
           if not any(t <= k <= t + window for k in kills)]
print("notifications answered:", len(first200), "requests answered 200:", len(A),
      "duplicates:", len(dups), "outside the window:", len(outside))
for n, t in outside:
    print("  duplicate outside the window:", n, t)
print("RESULT lost=%d stuck=%d dups=%d outside=%d" % (len(lost), len(stuck), len(dups), len(outside)))
EOF
sed 's/^/  # /' "$T/judge.out"
res=$(sed -n 's/^RESULT //p' "$T/judge.out")
check "every incident was notified firing (nothing lost): $res" sh -c "echo '$res' | grep -q 'lost=0 '"
check "every group ends resolved (nothing stuck)" sh -c "echo '$res' | grep -q 'stuck=0 '"
check "duplicates only within ${DUP_WINDOW_S}s before a kill" sh -c "echo '$res' | grep -q 'outside=0$'"
check "no sanitizer report" no_sanitizer_report "$T"/d.*.err
finish
