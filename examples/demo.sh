#!/bin/sh
# make demo: segalert-sim with the demo scenario + segalert run with the
# demo configuration (the shipped rules and defaults), both on a clock 30x
# faster than real time; alerts fire and resolve in the terminal within a
# few minutes.  Ctrl-C stops both.
set -u
cd "$(dirname "$0")/.." || exit 1
SIM_ADDR=127.0.0.1:9480
DIR=/tmp/segalert-demo
mkdir -p "$DIR"

for port in 9480 9477; do
    if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
        echo "demo: port $port is in use (another demo still running?); stop it first" >&2
        exit 1
    fi
done

# One clock for both: scenario time runs 30x real time from now.
SCALE=30
SEGALERT_CLOCK="scale=$SCALE,origin=$(date +%s)"
export SEGALERT_CLOCK

./segalert-sim --listen "$SIM_ADDR" --scenario examples/demo-scenario.conf \
    >"$DIR/sim.out" 2>"$DIR/sim.log" &
SIM=$!
SEG=""
stop() {
    trap - INT TERM EXIT
    [ -n "$SEG" ] && kill -TERM "$SEG" 2>/dev/null && wait "$SEG" 2>/dev/null
    kill -TERM "$SIM" 2>/dev/null; wait "$SIM" 2>/dev/null
    echo
    echo "demo: stopped (logs in $DIR)"
    exit 0
}
trap stop INT TERM EXIT
i=0
until grep -q listening "$DIR/sim.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $SIM 2>/dev/null; then
        echo "demo: segalert-sim did not start:" >&2; cat "$DIR/sim.log" >&2; exit 1
    fi
    sleep 0.05
done

# The plan limit: 30 % above where the usual pace (the scenario's 8,000
# new MTUs a day) ends the month, so the baseline's forecast stays quiet
# and the scenario's sign-up bot (an MTU surge) is what pushes the
# workspace over.
period=$(date -u +%Y-%m-01)
mtu=$(curl -s -H "Authorization: Bearer sim-token" \
    "http://$SIM_ADDR/usage/mtu/daily?period=$period&pagination.count=100" |
    sed 's/},{/}\n{/g' | tail -1 |
    sed -n 's/.*"identified":"\([0-9]*\)".*"neverIdentified":"\([0-9]*\)".*/\1 \2/p' |
    awk '{ print $1 + $2 }')
[ -n "$mtu" ] || mtu=0
period_end=$(date -u -d "$period +1 month" +%s)
days_left=$(( (period_end - $(date +%s)) / 86400 + 1 ))
limit=$(( (mtu + days_left * 8000 * 13 / 10) / 1000 * 1000 + 1000 ))
rm -rf "$DIR/state"
sed -e "s/^  mtu_limit       = 0/  mtu_limit       = $limit/" \
    -e "s|^rule_files = .*|rule_files = {\"$PWD/rules/*.conf\"}|" \
    examples/demo.conf >"$DIR/demo.conf"

cat <<MSG

  segalert demo
  -------------
  segalert-sim serves a simulated workspace on http://$SIM_ADDR
  (examples/demo-scenario.conf: 4 sources, 12 connections).  segalert runs
  the shipped rules (rules/*.conf) with the default settings.  Both run on
  a clock ${SCALE}x faster than real time: one minute here is half an hour
  there.

  10 scenario minutes in (20 s from now) six things go wrong for an hour:
  Amplitude discards 20 % of the web events, Braze slows to a 20-minute
  p95, the billing webhook stalls, the Android app stops sending, an iOS
  campaign sends 4x the events, a sign-up bot pushes MTU over the plan
  limit of $limit.  Expect each alert within about a minute, and the
  delivery and volume alerts to resolve two to four minutes after that.

  Status page:  http://127.0.0.1:9477/      Metrics: http://127.0.0.1:9477/metrics

  Alert changes print below, one line each (FIRING / RESOLVED ...); the
  notifications the 'console' log receiver writes go to
  $DIR/notifications.log, the daemon's log to $DIR/segalert.log.
  Ctrl-C stops both.

MSG
./segalert run -c "$DIR/demo.conf" >"$DIR/notifications.log" 2>"$DIR/segalert.log" &
SEG=$!
# Show the alert lines (one per change) and errors from the log as they
# happen, without the logfmt around them.
# (tail --pid ends with the daemon, so nothing lingers after Ctrl-C.)
tail -n +1 --pid="$SEG" -F "$DIR/segalert.log" 2>/dev/null |
    grep --line-buffered -E 'msg="(FIRING|RESOLVED|SEVERITY|FLAPPING|STEADY) |level=error' |
    sed -u 's/^ts=[^ ]*T\([0-9:]*\)Z level=[a-z]* msg="/  \1  /; s/\\"/"/g; s/"$//' &
TAIL=$!
wait $SEG
kill $TAIL 2>/dev/null
