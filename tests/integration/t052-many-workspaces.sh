#!/bin/sh
# t052-many-workspaces: twelve workspaces in one daemon.  Every workspace
# has its own request-rate history: segalert_api_requests_last_minute is a
# real rate for each of them (it used to be -1 from the 9th on, when the
# daemon kept rates in a fixed table of 8 workspaces), and the status API
# lists all twelve.
. "$(dirname "$0")/lib.sh"

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
{
    echo "state_dir = \"$T/state\""
    echo "listen = \"127.0.0.1:$PORT\""
    echo "rule_files = {\"$SRC/rules/*.conf\"}"
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        cat <<EOF
workspace "w$i" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
  max_concurrency = 2
}
EOF
    done
    echo 'receiver "console" { type = "log" }'
    echo 'route "default" { receiver = "console" }'
} >"$T/segalert.conf"
SIM_TOKEN=test-token
export SIM_TOKEN
"$SEGALERT" run -c "$T/segalert.conf" --eval-interval 1s \
    >"$T/run.out" 2>"$T/run.err" &
bg_pid $!

# every workspace has a measured rate > 0 (two samples 5 s apart needed)
all_rates() {
    curl -s "$BASE/metrics" >"$T/metrics" || return 1
    nrates=$(grep -c '^segalert_api_requests_last_minute{workspace="w[0-9]*"} [1-9]' "$T/metrics")
    [ "$nrates" -eq 12 ]
}
check "all 12 workspaces report a request rate on /metrics" wait_for 40 all_rates
if grep -q '^segalert_api_requests_last_minute{.*} -1' "$T/metrics"; then
    notok "no workspace reports -1"
    grep '^segalert_api_requests_last_minute' "$T/metrics" | head -20
else
    ok "no workspace reports -1"
fi
check "w12 is up" grep -q '^segalert_workspace_up{workspace="w12"} 1' "$T/metrics"
curl -s "$BASE/api/v1/status" >"$T/status.json"
check "/api/v1/status lists 12 workspaces" "$PY" -c "import json,sys
d=json.load(open('$T/status.json'))['data']
sys.exit(0 if len(d['workspaces']) == 12 else 1)"
finish
