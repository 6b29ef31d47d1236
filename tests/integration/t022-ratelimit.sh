#!/bin/sh
# The API's limit below the client's budget: the client slows down on 429s,
# converges, loses no sample, and the 429s stay bounded.  (A 429 on
# /events/volume pausing volume only is t023.)
# `segalert fetch` and the sim run on a scaled clock (lib.sh
# use_scaled_clock, 10x): the sim's rate-limit window, the client's budget
# and its waits on 429s all follow it.
. "$(dirname "$0")/lib.sh"

use_scaled_clock 10

cat >"$T/rl.conf" <<'CONF'
seed = 9
token = "test-token"
rate_limit = 10          # 10 requests per 5 s window (120/min)
rate_window = "5s"
source "web_prod" {
  events_per_minute = 400
CONF
i=1
while [ $i -le 30 ]; do
    printf '  destination "d%02d" { slug = "webhooks" }\n' $i >>"$T/rl.conf"
    i=$((i + 1))
done
echo "}" >>"$T/rl.conf"
start_sim "$T/rl.conf" || { notok "sim starts"; finish; }
write_config "$T/c.conf" 'request_budget = 600' 'max_concurrency = 4'
start=$(vnow)
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/c.conf" >"$T/out" 2>"$T/err"
rc=$?
took=$(( $(vnow) - start ))
check "fetch succeeds under the rate limit ($took s)" [ $rc -eq 0 ]
n=$(grep -c '^connection {' "$T/out")
check "no sample lost: 30 connections ($n)" [ "$n" -eq 30 ]
check "usage collected" grep -q '^usage {workspace="sim"} ' "$T/out"
limited=$(sim_stat "s['rate_limited']")
accepted=$(sim_stat "s['requests_total'] - s['rate_limited']")
check "429s bounded ($limited for $accepted accepted)" [ "$limited" -le 12 ]
check "budget lowered after 429s" contains "$T/err" "budget lowered to"
peak=$(sim_stat "s['peak_accepted_per_minute']")
check "never above the API's limit over a minute ($peak accepted)" [ "$peak" -le 130 ]
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

finish
