#!/bin/sh
# t034-delivery-slow-sink: many alert groups at once to one webhook that
# answers slowly must not cause duplicates (README "Receivers and routing",
# docs/notifications.md "Delivery").  One evaluation fires 300 alerts in
# 300 groups (segalert-sim with 300 connections, a rule true for every one,
# group_by every label), the receiver has max_connections = 15 and a 1.5 s
# timeout, and the sink (tests/peers/http_sink.py) answers:
#   A. every request after 1 s (close to the timeout, below it): every
#      notification arrives exactly once, no retry is logged, and the sink
#      never has more than max_connections requests in progress;
#   B. the first 4 requests after 3 s (they time out), the rest at once:
#      those 4 notifications, and only those, are sent again (once each,
#      after the first attempt), every other one exactly once.
# The daemon and the sim run on a scaled clock (lib.sh use_scaled_clock,
# 20x: group_wait, the 30 s retry back-off); the sink's delays and the
# receiver's timeout are real time.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t034-delivery-slow-sink.sh
. "$(dirname "$0")/lib.sh"

SINK="$SRC/tests/peers/http_sink.py"
NGROUPS=300
MAXCONN=15
SLOW_TIMEOUTS=4

start_sink() {  # start_sink NAME MODE -> port in $T/NAME.port
    : >"$T/$1.out"
    "$PY" "$SINK" --port 0 --dir "$T/$1" --mode "$2" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    wait_for 10 grep -q READY "$T/$1.out" || { echo "sink $1 did not start" >&2; return 1; }
    sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" >"$T/$1.port"
}
lacks() { ! grep -qF -- "$2" "$1"; }   # lacks FILE TEXT
sink_stat() {   # sink_stat NAME KEY
    curl -s "http://127.0.0.1:$(cat "$T/$1.port")/_stats" |
        "$PY" -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
# notified NAME: the sink saw a request for every one of the rule's groups
notified() {
    "$PY" - "$T/$1" "$NGROUPS" <<'EOF'
import glob, json, sys
keys = set()
for f in glob.glob(sys.argv[1] + "/[0-9]*.json"):
    b = json.loads(json.load(open(f))["body"])
    if b["commonLabels"].get("rule") == "every-connection":
        keys.add(b["groupKey"])
sys.exit(0 if len(keys) >= int(sys.argv[2]) else 1)
EOF
}
# verify NAME TIMED_OUT_MODE: what the sink recorded, checked in Python;
# prints one "ok - ..." / "not ok - ..." line per check.
verify() {
    "$PY" - "$T/$1" "$NGROUPS" "$2" <<'EOF'
import collections, glob, json, sys
d, groups, slow = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recs = [json.load(open(f)) for f in sorted(glob.glob(d + "/[0-9]*.json"))]
by_id = collections.defaultdict(list)
rule_groups = set()
for r in recs:
    b = json.loads(r["body"])
    by_id[b["segalert"]["notificationId"]].append(r)
    if b["commonLabels"].get("rule") == "every-connection":
        rule_groups.add(b["groupKey"])
timed_out = {i for i, rs in by_id.items() if rs[0]["mode"] == slow}
twice = {i for i, rs in by_id.items() if len(rs) == 2}
more = {i for i, rs in by_id.items() if len(rs) > 2}
def check(what, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + what +
          ("" if cond else " (%s)" % detail))
check("%d groups of the rule notified" % groups, len(rule_groups) == groups,
      "%d" % len(rule_groups))
check("no notification sent more than twice", not more, sorted(more)[:5])
if slow == "-":
    check("every notification arrived exactly once", not twice and not more,
          "%d sent again, e.g. %s" % (len(twice), sorted(twice)[:5]))
else:
    check("the %d requests that timed out were each retried once"
          % len(timed_out), timed_out and timed_out <= twice,
          "timed out %s, twice %s" % (sorted(timed_out), sorted(twice)[:10]))
    check("nothing else was sent again", twice <= timed_out,
          sorted(twice - timed_out)[:5])
    check("each retry came after its first attempt and was answered",
          all(rs[0]["time"] < rs[1]["time"] and rs[1]["mode"] != slow
              for i, rs in by_id.items() if i in twice), "")
    check("a retry is the same notification (same group key)",
          all(json.loads(rs[0]["body"])["groupKey"] ==
              json.loads(rs[1]["body"])["groupKey"]
              for i, rs in by_id.items() if i in twice), "")
EOF
}

use_scaled_clock 20
cat >"$T/sim.conf" <<'SCEN'
seed = 11
token = "test-token"
rate_limit = 0
latency = "0"
generate { sources = 30  destinations_per_source = 10  events_per_minute = 100 }
SCEN
start_sim "$T/sim.conf" || { notok "sim starts"; finish; }
SIM_TOKEN=test-token
export SIM_TOKEN
mkdir -p "$T/rules"
cat >"$T/rules/r.conf" <<'RULES'
rule "every-connection" {
  expr     = "attempted >= 0"
  severity = "warning"
  summary  = "{{source}} -> {{destination}}"
}
RULES

# run_case NAME: the daemon against sink NAME until it has seen every
# group and has been quiet for a while (retries included); then SIGTERM.
run_case() {
    nm=$1
    cat >"$T/$nm.conf" <<CONF
state_dir = "$T/state-$nm"
listen = ""
rule_files = {"rules/*.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 1000000
  max_concurrency = 32
  poll_interval = "1h"
}
receiver "hook" {
  type = "webhook"
  url = "http://127.0.0.1:$(cat "$T/$nm.port")/hook"
  send_resolved = false
  timeout = "1500ms"
  max_connections = $MAXCONN
}
route "each" {
  receiver = "hook"
  group_by = {"..."}
  group_wait = "1s"
  group_interval = "1h"
  repeat_interval = "24h"
}
CONF
    (cd "$T" && exec "$SEGALERT" run -c "$T/$nm.conf" --eval-interval 1h) \
        >"$T/$nm.stdout" 2>"$T/$nm.log" &
    pid=$!
    bg_pid $pid
    # 300 posts at 15 at a time, 1 s each: about 20 s (x2 + 10 s of margin)
    if ! wait_for 60 notified "$nm"; then
        notok "$nm: every group notified within 60 s ($(sink_stat "$nm" count) requests)"
    fi
    # retries (30 s virtual) and anything sent twice would come now
    n0=-1
    while [ "$(sink_stat "$nm" count)" != "$n0" ]; do
        n0=$(sink_stat "$nm" count)
        sleep 3
    done
    kill -TERM $pid
    wait $pid
    echo $? >"$T/$nm.rc"
}

# --- A: slow answers, below the timeout -------------------------------------
start_sink slow slow:1 || { notok "sink starts"; finish; }
run_case slow
check "A: daemon exits 0 on SIGTERM" [ "$(cat "$T/slow.rc")" = 0 ]
verify slow - | while IFS= read -r line; do echo "${line%% - *} - A: ${line#* - }"; done |
    tee "$T/slow.verdict"
grep -q '^not ok' "$T/slow.verdict" && FAILS=$((FAILS + 1))
check "A: no retry logged" lacks "$T/slow.log" 'will retry'
max=$(sink_stat slow max_inflight)
check "A: at most max_connections ($MAXCONN) requests in progress at the sink (saw $max)" \
    [ "$max" -le "$MAXCONN" ]
check "A: the limit was used (more than one request at a time; saw $max)" \
    [ "$max" -gt 1 ]

# --- B: the first requests time out -------------------------------------------
modes=""
i=0
while [ $i -lt $SLOW_TIMEOUTS ]; do modes="${modes}slow:3,"; i=$((i + 1)); done
start_sink late "${modes}ok" || { notok "sink starts"; finish; }
run_case late
check "B: daemon exits 0 on SIGTERM" [ "$(cat "$T/late.rc")" = 0 ]
verify late slow:3 | while IFS= read -r line; do echo "${line%% - *} - B: ${line#* - }"; done |
    tee "$T/late.verdict"
grep -q '^not ok' "$T/late.verdict" && FAILS=$((FAILS + 1))
retries=$(grep -c 'will retry' "$T/late.log")
check "B: $SLOW_TIMEOUTS retries logged (saw $retries)" [ "$retries" -eq "$SLOW_TIMEOUTS" ]
check "B: the retries were for timeouts" \
    [ "$(grep 'will retry' "$T/late.log" | grep -ci 'time')" -eq "$SLOW_TIMEOUTS" ]

finish
