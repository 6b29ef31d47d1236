#!/bin/sh
# t027-discard-reasons: discard reasons from Delivery Overview (README.md
# "Discard reasons").  segalert-sim plays two discard incidents with their
# reasons (401 mostly on amplitude, 400 on mixpanel); the webhook payload
# names the top reason and its share, and a route on discard_reason sends
# the 401 incident to one receiver and the 400 one to another.  Then 200
# connections in a discard incident at once: the Delivery Overview
# requests stay within overview_budget (counted at the sim's /sim/stats).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

use_scaled_clock 20

cat >"$T/sim.conf" <<EOF
seed = 66
token = "test-token"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  destination "amplitude" { discard_ratio = 0.001 }
  destination "mixpanel" { discard_ratio = 0.001 }
}
incident "creds" {
  kind = "discard_spike"  destination = "amplitude"
  start = "30s"  duration = "2h"  value = 0.2
  reasons = {"401=0.7", "400=0.3"}
}
incident "payload" {
  kind = "discard_spike"  destination = "mixpanel"
  start = "30s"  duration = "2h"  value = 0.2
  reasons = {"400=1"}
}
EOF
start_sim "$T/sim.conf" || { notok "sim starts"; finish; }
start_sink creds || { notok "sink starts"; finish; }
start_sink data || { notok "sink starts"; finish; }

cat >"$T/rules.conf" <<'EOF'
rule "delivery-discard-ratio" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  for      = "1m"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
EOF
PORT=$(free_port)
cat >"$T/d.conf" <<EOF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "10s"
  delivery_window = "1m"
  volume_interval = "1m"
  usage_interval = "1h"
  request_budget = 600
  overview_budget = 10
}
defaults {
  group_by = {"rule", "destination"}
  group_wait = "5s"
  group_interval = "10s"
  repeat_interval = "1h"
}
receiver "creds" { type = "webhook"  url = "$creds_URL/hook" }
receiver "data" { type = "webhook"  url = "$data_URL/hook" }
route "credentials" {
  # entries are ANDed: one glob for the credential codes
  match = {"discard_reason=40[13]"}
  receiver = "creds"
}
route "rest" { receiver = "data" }
EOF
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/d.conf" >"$T/d.out" 2>"$T/d.err" &
DPID=$!
bg_pid $DPID

firing_for() {  # SINK DEST
    sinktrue "$1" "[a for r in A for a in r['j']['alerts'] if a['status'] == 'firing' and a['labels'].get('destination') == '$2']"
}
if vwait 600 firing_for creds amplitude; then
    ok "the 401 incident (amplitude) reaches the credentials receiver"
else
    notok "the 401 incident (amplitude) reaches the credentials receiver"
fi
if vwait 120 firing_for data mixpanel; then
    ok "the 400 incident (mixpanel) reaches the data receiver"
else
    notok "the 400 incident (mixpanel) reaches the data receiver"
fi
# (the update that carries the reasons comes after the reasons are read,
# within overview_budget: a slow, sanitized build may need a few minutes)
check "the amplitude alert carries discard_reason=401" vwait 300 sinktrue creds \
    "[a for r in A for a in r['j']['alerts'] if a['labels'].get('destination') == 'amplitude' and a['labels'].get('discard_reason') == '401']"
check "its description names 401 with its share and meaning" vwait 300 sinktrue creds \
    "[a for r in A for a in r['j']['alerts'] if re.search(r'Discard reasons: 401 (6[5-9]|7[0-5])% \\(unauthorized', a['annotations'].get('description', ''))]"
check "... and 400 second" vwait 300 sinktrue creds \
    "[a for r in A for a in r['j']['alerts'] if re.search(r'; 400 (2[5-9]|3[0-5])% \\(bad request', a['annotations'].get('description', ''))]"
check "the mixpanel alert carries discard_reason=400, 100%" vwait 300 sinktrue data \
    "[a for r in A for a in r['j']['alerts'] if a['labels'].get('discard_reason') == '400' and 'Discard reasons: 400 100%' in a['annotations'].get('description', '')]"
check "no amplitude firing at the data receiver" sinktrue data \
    "not [a for r in A for a in r['j']['alerts'] if a['labels'].get('destination') == 'amplitude' and a['status'] == 'firing']"
check "no mixpanel alert at the credentials receiver" sinktrue creds \
    "not [a for r in A for a in r['j']['alerts'] if a['labels'].get('destination') == 'mixpanel']"
check "the fingerprint is the identity's (one amplitude alert)" sinktrue creds \
    "len(set(a['fingerprint'] for r in A for a in r['j']['alerts'])) == 1"
check "Delivery Overview was read" [ "$(sim_stat "s['by_endpoint'].get('delivery_overview', {}).get('200', 0)")" -ge 2 ]
cp -r "$T/creds" "${LOGDIR:-/tmp}/t066-creds-sample" 2>/dev/null
stop_daemon $DPID 10
stop_sim

# ---- 200 connections in a discard incident at once -------------------------
cat >"$T/sim200.conf" <<EOF
seed = 67
token = "test-token"
generate {
  sources = 20
  destinations_per_source = 10
  events_per_minute = 600
}
incident "all" {
  kind = "discard_spike"  start = "30s"  duration = "2h"  value = 0.2
  reasons = {"429=0.6", "ETIMEDOUT=0.4"}
}
EOF
start_sim "$T/sim200.conf" || { notok "sim starts (200)"; finish; }
sed -e "s|api_url = \".*\"|api_url = \"$SIM_URL\"|" \
    -e 's|overview_budget = 10|overview_budget = 5|' \
    -e "s|listen = \".*\"|listen = \"127.0.0.1:$(free_port)\"|" \
    -e 's|state_dir = ".*"|state_dir = "'"$T"'/state200"|' \
    -e 's|for      = "1m"|for = "0s"|' "$T/d.conf" >"$T/d200.conf"
sed -i 's|for      = "1m"|for      = "0s"|' "$T/rules.conf"
SIM_TOKEN=test-token "$SEGALERT" run -c "$T/d200.conf" >"$T/d200.out" 2>"$T/d200.err" &
DPID=$!
bg_pid $DPID
# Alerts fire before most reasons arrive (5 a minute for 200
# connections); a reason arriving later updates the alert without a new
# page, so the sink sees mostly alerts without reasons.
firing_any() {
    [ "$(sinkq data "len(set(a['fingerprint'] for r in A for a in r['j']['alerts'] if a['labels'].get('destination_type') and a['status'] == 'firing'))")" -ge 10 ]
}
if vwait 900 firing_any; then
    ok "200 connections: the alerts go out"
else
    notok "200 connections: the alerts go out"
fi
vsleep 240
n=$(sim_stat "sum(s['by_endpoint'].get('delivery_overview', {}).values())")
peak=$(sim_stat "s['peak_per_minute']")
up=$(sim_stat "s['uptime_s']")
limit=$(awk -v u="$up" 'BEGIN { printf "%d", 5 * (int(u / 61) + 1) }')
echo "# overview requests $n in ${up}s (limit $limit), peak/min all endpoints $peak"
check "200 connections: Delivery Overview requests within overview_budget ($n <= $limit)" [ "$n" -le "$limit" ]
check "200 connections: some were made" [ "$n" -ge 5 ]
check "200 connections: alerts without reasons went out too (not held back)" sinktrue data \
    "[a for r in A for a in r['j']['alerts'] if a['status'] == 'firing' and 'discard_reason' not in a['labels']]"
stop_daemon $DPID 10
finish
