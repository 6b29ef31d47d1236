#!/bin/sh
# segalert fetch against segalert-sim: every family's series with labels and
# values; pagination across many pages; request headers and budget.
. "$(dirname "$0")/lib.sh"

# --- the demo workspace: every family ------------------------------------
start_sim "$SRC/examples/demo-scenario.conf" || { notok "sim starts"; finish; }
TOKEN=$(sed -n 's/^token *= *"\([^"]*\)".*/\1/p' "$SRC/examples/demo-scenario.conf")
write_config "$T/demo.conf" 'request_budget = 600' 'max_concurrency = 8'
SIM_TOKEN=$TOKEN "$SEGALERT" fetch -c "$T/demo.conf" >"$T/out" 2>"$T/err"
rc=$?
check "fetch exits 0" [ $rc -eq 0 ]
nconn=$(grep -c '^connection {' "$T/out")
check "connection series printed ($nconn)" [ "$nconn" -ge 10 ]
check "source series printed" grep -q '^source {.*event_volume=' "$T/out"
check "workspace-total volume series printed" grep -q '^source {workspace="sim"} event_volume=' "$T/out"
check "usage per source printed" grep -q '^usage {workspace="sim",source=.*mtu=' "$T/out"
check "workspace usage printed" grep -q '^usage {workspace="sim"} .*api_calls=' "$T/out"
check "connection labels" grep -Eq 'connection \{workspace="sim",source="[^"]*",source_id="[^"]*",destination="[^"]*",destination_id="[^"]*",destination_type="[^"]*"(,mode="(cloud|device)")?\}' "$T/out"
check "delivery metrics and derived ratios" grep -q 'successes=[0-9]*.*discarded=.*attempted=.*discard_ratio=' "$T/out"
check "latency converted to seconds" grep -qE 'time_to_success_p95=[0-9]+(\.[0-9]+)? ' "$T/out"
check "source_volume joined onto connections" grep -q 'source_volume=' "$T/out"
check "disabled source skipped" sh -c "! grep -q 'disabled' '$T/out'"
check "summary logged" contains "$T/err" "fetch: ws=sim"

SIM_TOKEN=$TOKEN "$SEGALERT" fetch -c "$T/demo.conf" --json >"$T/json" 2>/dev/null
check "--json is valid JSON with families" /usr/bin/python3 -c "
import json,sys
d=json.load(open('$T/json'))
fams={x['family'] for x in d}
assert fams=={'connection','source','usage'}, fams
c=[x for x in d if x['family']=='connection'][0]
assert 'destination_type' in c['labels'] and 'successes' in c['values']
# The workspace total is at least the sum of the selected sources (it also
# counts sources the filters leave out), at the same bucket.
src=[x for x in d if x['family']=='source']
tot=[x for x in src if list(x['labels'])==['workspace']]
assert len(tot)==1, tot
per=[x for x in src if 'source_id' in x['labels'] and x['time']==tot[0]['time']]
assert per, src
assert tot[0]['values']['event_volume'] >= sum(x['values']['event_volume'] for x in per)
"
check "the token never appears in output" sh -c "! grep -qF '$TOKEN' '$T/out' '$T/err' '$T/json'"
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- many pages: 20 sources x 5 destinations, pages of 7 ---------------------
start_sim "$SRC/tests/fixtures/sim/many.conf" || { notok "sim starts"; finish; }
TOKEN=$(sed -n 's/^token *= *"\([^"]*\)".*/\1/p' "$SRC/tests/fixtures/sim/many.conf")
write_config "$T/many.conf" 'request_budget = 6000' 'max_concurrency = 16'
SIM_TOKEN=$TOKEN "$SEGALERT" fetch -c "$T/many.conf" >"$T/out" 2>"$T/err"
check "fetch over many pages exits 0" [ $? -eq 0 ]
nconn=$(grep -c '^connection {' "$T/out")
nsrc=$(grep -c '^source {workspace="sim",source=' "$T/out")
check "all 100 connections discovered across pages ($nconn)" [ "$nconn" -eq 100 ]
check "all 20 sources' volume across result pages ($nsrc)" [ "$nsrc" -eq 20 ]
check "one workspace-total volume series" [ "$(grep -c '^source {workspace="sim"} ' "$T/out")" -eq 1 ]
pages=$(sim_stat "s['by_endpoint']['sources'].get('200',0)")
check "sources listed in 3 pages of 7 ($pages)" [ "$pages" -eq 3 ]
cd_pages=$(sim_stat "s['by_endpoint']['connected_destinations'].get('200',0)")
check "one destinations page per source ($cd_pages)" [ "$cd_pages" -eq 20 ]
peak=$(sim_stat "s['max_in_flight']")
check "concurrency cap respected (max in flight $peak <= 16)" [ "$peak" -le 16 ]
finish
