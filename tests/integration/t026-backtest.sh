#!/bin/sh
# segalert backtest against segalert-sim: three past discard incidents are
# found once each, at the right time (within a delivery window and an
# evaluation step), a quiet range finds nothing, and a second run over the
# same range reads the cache (zero API requests at /sim/stats).
. "$(dirname "$0")/lib.sh"

# A real-time clock that sim and segalert share, started 30 s after a
# whole 5 minutes, so both runs fall in the same 5-minute range end.
now=$(date +%s)
use_scaled_clock 1 $((now / 300 * 300 + 30))
start_sim "$SRC/tests/fixtures/backtest/scenario.conf" || { notok "sim starts"; finish; }
SIM_START=$(vnow)
write_config "$T/bt.conf" 'request_budget = 100000' 'max_concurrency = 8'
{
    echo "rule_files = {\"$SRC/tests/fixtures/backtest/rules.conf\"}"
    echo 'receiver "console" { type = "log" }'
    echo 'route "all" { receiver = "console" }'
} >>"$T/bt.conf"

SIM_TOKEN=bt-token "$SEGALERT" backtest -c "$T/bt.conf" --days 2 --json \
    >"$T/out1" 2>"$T/err1"
rc=$?
check "backtest exits 0 ($rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/err1"
check "an estimate before fetching" grep -q 'about [0-9]* requests' "$T/err1"
check "no progress line without a terminal" sh -c "! grep -q 'fetching' '$T/err1'"
n1=$(sim_stat "s['requests_total']")
check "the first run asked the API ($n1 requests)" [ "$n1" -gt 100 ]
check "the JSON reports the requests it made" "$PY" -c "
import json; d=json.load(open('$T/out1'))
assert d['requests'] == $n1, (d['requests'], $n1)"
check "exactly the three incidents, once each, at their times" "$PY" -c "
import json, datetime
def t(s): return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp()
d = json.load(open('$T/out1'))
assert t(d['to']) - t(d['from']) == 2 * 86400, d
r = [x for x in d['rules'] if x['rule'] == 'bt-discard-ratio']
assert len(r) == 1, d
f = r[0]['firings']
assert len(f) == 3, f
want = [$SIM_START - 40 * 3600, $SIM_START - 20 * 3600, $SIM_START - 6 * 3600]
for x, w in zip(sorted(f, key=lambda x: x['start']), want):
    assert x['labels']['destination'] == 'amp', x
    assert x['severity'] == 'critical', x
    # within one delivery window (5m) and one evaluation step (1m)
    assert abs(t(x['start']) - w) <= 360, (x, w)
    assert x['end'] is not None and t(x['end']) > t(x['start']) + 30 * 60, x
assert r[0]['notifications'] >= 3, r
"
check "the connection without incidents never fired" sh -c "! grep -q '\"hook\"' '$T/out1'"

SIM_TOKEN=bt-token "$SEGALERT" backtest -c "$T/bt.conf" --days 2 --json \
    >"$T/out2" 2>"$T/err2"
check "second run exits 0" [ $? -eq 0 ]
n2=$(sim_stat "s['requests_total']")
check "the second run made zero API requests ($n1 -> $n2)" [ "$n2" -eq "$n1" ]
check "the second run reports the same firings and requests 0" "$PY" -c "
import json
a = json.load(open('$T/out1')); b = json.load(open('$T/out2'))
assert b['requests'] == 0, b['requests']
assert a['rules'] == b['rules'], (a['rules'], b['rules'])"

# A quiet range: between the second and the third incident.
from=$(date -u -d "@$((SIM_START - 15 * 3600))" +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d "@$((SIM_START - 10 * 3600))" +%Y-%m-%dT%H:%M:%SZ)
SIM_TOKEN=bt-token "$SEGALERT" backtest -c "$T/bt.conf" --from "$from" \
    --to "$to" >"$T/out3" 2>"$T/err3"
check "quiet range exits 0" [ $? -eq 0 ]
check "a quiet range finds nothing" grep -q 'verdict: quiet' "$T/out3"
check "text output: no firing lines in a quiet range" \
    grep -q '^bt-discard-ratio: 0 firings, 0 notifications' "$T/out3"

SIM_TOKEN=bt-token "$SEGALERT" backtest -c "$T/bt.conf" --days 2 >"$T/out4" 2>&1
check "text verdict for the incidents" \
    grep -q 'verdict: would have paged 3 times' "$T/out4"
check "--rules matching nothing is said" sh -c "SIM_TOKEN=bt-token '$SEGALERT' backtest -c '$T/bt.conf' --days 2 --rules 'nope*' 2>&1 | grep -q 'matches no rule'"
check "--days and --from together are refused" sh -c "! '$SEGALERT' backtest -c '$T/bt.conf' --days 2 --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z 2>/dev/null"
finish
