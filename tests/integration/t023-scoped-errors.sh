#!/bin/sh
# Errors stay scoped to what failed, against segalert-sim's deterministic
# faults: a 403 on one endpoint disables that endpoint (not the workspace),
# a 404 on one source's connected destinations skips that source, a
# pagination cursor that repeats ends the listing with an error, items
# repeated across pages count once, and a 429 on /events/volume slows
# volume only while delivery metrics and usage go on.
# `segalert fetch` and the sim run on a scaled clock (10x): the sim's rate
# window and the client's waits follow it.
. "$(dirname "$0")/lib.sh"

use_scaled_clock 10

scenario() {    # scenario FILE FAULT_LINES...
    f=$1; shift
    cat >"$f" <<'EOF'
seed = 23
token = "test-token"
rate_limit = 0
latency = "0"
source "web" {
  events_per_minute = 300
  destination "amplitude" { name = "Amp" }
  destination "mixpanel" { name = "Mix" }
}
source "gone" {
  events_per_minute = 100
  destination "webhooks" { name = "Hook" }
}
source "ios" {
  events_per_minute = 50
  destination "braze" { name = "Braze" }
}
EOF
    echo "faults {" >>"$f"
    for l in "$@"; do echo "  $l" >>"$f"; done
    echo "}" >>"$f"
}

# --- 403 on the MTU endpoints, 404 on one source -------------------------------
scenario "$T/scoped.sim" 'forbidden = {"/usage/mtu/*"}' 'not_found_sources = {"gone"}'
start_sim "$T/scoped.sim" || { notok "sim starts"; finish; }
write_config "$T/c.conf" 'request_budget = 6000'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/c.conf" >"$T/out" 2>"$T/err"
rc=$?
check "403: fetch exits 1 (a family is incomplete: $rc)" [ $rc -eq 1 ]
check "403: each forbidden endpoint named with Segment's message" grep -q 'usage_mtu: forbidden.*HTTP 403: The token does not have the permission' "$T/err"
check "403: and the per-source one" grep -q 'usage_mtu_sources: forbidden' "$T/err"
check "403: not taken for a bad token" sh -c "! grep -qi 'unauthorized\|check the token' '$T/err'"
check "403: API calls still collected" grep -q '^usage {workspace="sim"} api_calls=' "$T/out"
check "403: no MTU sample" sh -c "! grep -q 'mtu=' '$T/out'"
check "403: delivery metrics still collected" grep -q '^connection {.*source="web".*destination_type="amplitude".*successes=' "$T/out"
n=$(grep -c '^connection {' "$T/out")
check "404: the other sources' 3 connections discovered ($n)" [ "$n" -eq 3 ]
check "404: the skipped source is reported" contains "$T/err" "1 source skipped: connected destinations not found (404)"
n=$(grep -c "source 'gone' (.*) skipped" "$T/err")
check "404: logged once ($n)" [ "$n" -eq 1 ]
check "404: discovery did not fail" sh -c "! grep -q 'discovery failed\|discovery did not' '$T/err'"
check "404: its events still count in the workspace total" "$PY" -c "
import re
out = open('$T/out').read()
def vol(sel):
    return float(re.search(r'^source \{' + sel + r'\} event_volume=(\S+)', out, re.M).group(1))
web = vol(r'workspace=\"sim\",source=\"web\",[^}]*')
ios = vol(r'workspace=\"sim\",source=\"ios\",[^}]*')
total = vol(r'workspace=\"sim\"')
assert total > web + ios, (total, web, ios)
"
stop_sim

# --- a daemon with the 403: one coverage alert names the endpoint -------------
# (t070 covers the coverage alert's life; here only that a 403 darkens the
# one family, not the workspace.)
scenario "$T/forbid.sim" 'forbidden = {"/usage/mtu/*"}'
start_sim "$T/forbid.sim" || { notok "sim starts"; finish; }
write_config "$T/d.conf" 'request_budget = 6000'
cat >>"$T/d.conf" <<EOF
rule_files = {"$SRC/rules/*.conf"}
receiver "console" { type = "log" }
route "all" { receiver = "console" }
EOF
SIM_TOKEN=test-token "$SEGALERT" run --once -c "$T/d.conf" >"$T/once.out" 2>"$T/once.err"
check "403: run --once does not call the workspace down" sh -c "! grep -qi 'workspace.*down\|unauthorized' '$T/once.err'"
# the log receiver prints notifications on stdout
check "403: a coverage alert naming the endpoint" grep -q 'status=firing rule=segalert-coverage .*labels={endpoint="usage_mtu[a-z_]*",family="usage"' "$T/once.out"
n=$(grep -c 'status=firing rule=segalert-coverage' "$T/once.out")
check "403: only the usage family is blind ($n coverage alert)" [ "$n" -eq 1 ]
stop_sim

# --- a pagination cursor that repeats ------------------------------------------
scenario "$T/loop.sim" 'repeat_cursor = {"/sources"}'
start_sim "$T/loop.sim" || { notok "sim starts"; finish; }
write_config "$T/c.conf" 'request_budget = 6000'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/c.conf" --timeout 60s >"$T/out" 2>"$T/err"
check "repeating cursor: fetch exits 1" [ $? -eq 1 ]
check "repeating cursor: reported with the endpoint" grep -q "GET /sources: pagination cursor '.*' repeats after page 2" "$T/err"
n=$(sim_stat "s['by_endpoint']['sources'].get('200', 0)")
check "repeating cursor: not followed round in circles ($n pages)" [ "$n" -eq 2 ]
stop_sim

# --- items repeated across pages: counted once ---------------------------------
# Pages of one item make every page after the first repeat the one before.
scenario "$T/dup.sim" 'duplicate_items = {"/sources"}'
echo 'max_page_size = 1' >>"$T/dup.sim"
start_sim "$T/dup.sim" || { notok "sim starts"; finish; }
write_config "$T/c.conf" 'request_budget = 6000'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/c.conf" >"$T/out" 2>"$T/err"
check "duplicate items: fetch succeeds" [ $? -eq 0 ]
n=$(grep -c '^connection {' "$T/out")
check "duplicate items: 4 connections, none twice ($n)" [ "$n" -eq 4 ]
n=$(grep -c '^source {workspace="sim",source=' "$T/out")
check "duplicate items: 3 sources ($n)" [ "$n" -eq 3 ]
stop_sim

# --- a 429 on /events/volume slows volume only ---------------------------------
# One volume request per 60 s window (6 s real at 10x).  The test spends the
# window's one request itself, then fetches: its volume request is refused
# until the window turns; its delivery and usage requests must not wait.
# If the window turns between the two (the test's own request was the
# window's last moment), the round is repeated.
cat >"$T/vol.sim" <<'EOF'
seed = 24
token = "test-token"
rate_limit = 0
volume_rate_limit = 1
latency = "0"
source "web" {
  events_per_minute = 300
  destination "amplitude" { name = "Amp" }
  destination "mixpanel" { name = "Mix" }
  destination "webhooks" { name = "Hook" }
}
EOF
start_sim "$T/vol.sim" -v || { notok "sim starts"; finish; }
write_config "$T/v.conf" 'request_budget = 6000' 'max_concurrency = 1'
round=0
while [ $round -lt 3 ]; do
    round=$((round + 1))
    before=$(sim_stat "s['by_endpoint'].get('events_volume', {}).get('429', 0)")
    curl -s -o /dev/null -H 'Authorization: Bearer test-token' \
        "$SIM_URL/events/volume?granularity=HOUR&startTime=2026-01-01T00:00:00Z&endTime=2026-01-01T01:00:00Z"
    : >"$T/sim.err"
    SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/v.conf" >"$T/out" 2>"$T/err"
    rc=$?
    after=$(sim_stat "s['by_endpoint'].get('events_volume', {}).get('429', 0)")
    [ "$after" -gt "$before" ] && break
done
check "volume 429: the fetch met the limit (round $round)" [ "$after" -gt "$before" ]
check "volume 429: fetch succeeds" [ $rc -eq 0 ]
check "volume 429: logged for the volume class" contains "$T/err" "rate limited (429) on events_volume"
check "volume 429: only the volume budget lowered" contains "$T/err" "volume budget lowered to"
check "volume 429: the workspace budget untouched" sh -c "! grep -q 'request budget lowered\|workspace budget lowered' '$T/err'"
check "volume 429: volume collected after the wait" grep -q '^source {workspace="sim",source="web"' "$T/out"
check "volume 429: no other endpoint was refused" "$PY" -c "
import json, urllib.request
s = json.load(urllib.request.urlopen('$SIM_URL/sim/stats'))
bad = {e: c for e, c in s['by_endpoint'].items() if e != 'events_volume' and '429' in c}
assert not bad, bad
"
# The sim's request log, in order: every delivery and usage request of the
# fetch is answered between the volume 429 and the volume 200.
check "volume 429: delivery and usage did not wait for it" "$PY" -c "
import re
lines = [l for l in open('$T/sim.err') if 'sim: GET /' in l]
seq = [(re.search(r'GET (/[^ ?]*)', l).group(1), int(re.search(r'-> (\d+)', l).group(1))) for l in lines]
i429 = next(i for i, (p, c) in enumerate(seq) if p == '/events/volume' and c == 429)
i200 = next(i for i, (p, c) in enumerate(seq) if p == '/events/volume' and c == 200 and i > i429)
between = [p for p, c in seq[i429 + 1:i200] if p != '/events/volume']
d = sum('/delivery-metrics' in p for p in between)
u = sum(p.startswith('/usage/') for p in between)
assert d == 3 and u == 4, (d, u, seq)
"
finish
