#!/bin/sh
# t070-coverage: segalert is never blind and green.  With a request budget
# too small to read 100 connections every poll interval, the daemon says so
# in its log, raises a segalert-coverage alert (workspace, family), and the
# status page, /-/ready, /api/v1/status, /metrics and `segalert status`
# show it; raising the budget (SIGHUP) resolves it.  Runs on a 20x clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20
cat >"$T/scenario.conf" <<'EOF'
seed = 70
token = "test-token"
generate {
  sources = 10
  destinations_per_source = 10
  events_per_minute = 200
}
EOF
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
cat >"$T/rules.conf" <<'EOF'
rule "quiet" { expr = "attempted < 0" }
EOF
write_conf() {   # write_conf BUDGET
    cat >"$T/segalert.conf" <<EOF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token = "test-token"
  poll_interval = "5m"
  request_budget = $1
  max_concurrency = 4
}
defaults { group_wait = "10s" group_interval = "1m" }
receiver "hook" { type = "webhook" url = "$hook_URL/hook" }
route "all" { receiver = "hook" }
EOF
}
write_conf 12
"$SEGALERT" run -c "$T/segalert.conf" >"$T/d.out" 2>"$T/d.err" &
DPID=$!
bg_pid $DPID

cov='[a for r in A if r["j"] for a in r["j"]["alerts"] if a["labels"].get("rule") == "segalert-coverage"]'
fired() { sinktrue hook "[a for a in $cov if a['status'] == 'firing']"; }
check "the coverage alert fires (budget too small)" vwait 600 fired
check "  labelled with workspace and family=connection" sinktrue hook \
    "[a for a in $cov if a['labels'].get('workspace') == 'sim' and a['labels'].get('family') == 'connection']"
check "  its description says what the budget can do" sinktrue hook \
    "[a for a in $cov if 'cannot read 100 connections every 5m' in a['annotations'].get('description', '')]"
check "the log says the budget is too small" \
    grep -q 'over the budget of 12/min: each connection will be read about every' "$T/d.err"
ready_code() { curl -s -o "$T/ready" -w '%{http_code}' "$BASE/-/ready"; }
check "/-/ready is 503 while blind" [ "$(ready_code)" = 503 ]
check "  and says why" grep -q '^blind: workspace sim, connection data' "$T/ready"
curl -s "$BASE/" >"$T/page.html"
check "the status page shows the blind spot" grep -q 'id="coverage"' "$T/page.html"
check "  and no green 'all quiet'" sh -c "! grep -q 'rules quiet' '$T/page.html'"
curl -s "$BASE/metrics" >"$T/metrics"
check "/metrics: segalert_coverage_blind 1 for the connection family" \
    grep -q '^segalert_coverage_blind{workspace="sim",family="connection"} 1' "$T/metrics"
check "/metrics: segalert_ready 0" grep -q '^segalert_ready 0' "$T/metrics"
"$SEGALERT" status -c "$T/segalert.conf" >"$T/status.out" 2>&1
check "segalert status says blind" grep -q 'blind: workspace sim' "$T/status.out"
check "  and BLIND in the delivery column" grep -q 'BLIND' "$T/status.out"

# The operator raises the budget: coverage returns, the alert resolves.
write_conf 600
kill -HUP $DPID
resolved() { sinktrue hook "[a for a in $cov if a['status'] == 'resolved']"; }
check "raising the budget resolves it" vwait 900 resolved
ready200() { [ "$(ready_code)" = 200 ]; }
check "/-/ready is 200 again" vwait 600 ready200
check "exactly one firing and one resolved coverage notification" \
    sinktrue hook "len([a for a in $cov if a['status'] == 'firing']) == 1 and len([a for a in $cov if a['status'] == 'resolved']) == 1"
stop_daemon $DPID 15
check "the daemon stops cleanly" [ "$RC" -eq 0 ]
check "no sanitizer report" no_sanitizer_report "$T/d.err"
finish
