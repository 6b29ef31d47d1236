#!/bin/sh
# make demo: segalert-sim with the demo scenario + segalert run with the
# demo configuration; alerts fire and resolve in the terminal within a few
# minutes.  Ctrl-C stops both.
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

# Set the plan limit a little above today's MTU so the scenario's sign-up
# bot (an MTU surge) pushes the workspace over it.
period=$(date -u +%Y-%m-01)
mtu=$(curl -s -H "Authorization: Bearer sim-token" \
    "http://$SIM_ADDR/usage/mtu/daily?period=$period&pagination.count=100" |
    sed 's/},{/}\n{/g' | tail -1 |
    sed -n 's/.*"identified":"\([0-9]*\)".*"neverIdentified":"\([0-9]*\)".*/\1 \2/p' |
    awk '{ print $1 + $2 }')
[ -n "$mtu" ] || mtu=0
limit=$((mtu + 800))
rm -rf "$DIR/state"
sed "s/^  mtu_limit       = 0/  mtu_limit       = $limit/" examples/demo.conf >"$DIR/demo.conf"
mkdir -p "$DIR/demo-rules"
cp examples/demo-rules/*.conf "$DIR/demo-rules/"

cat <<MSG

  segalert demo
  -------------
  segalert-sim serves a simulated workspace on http://$SIM_ADDR
  (examples/demo-scenario.conf: 4 sources, 12 connections, incidents from
  20 s on: discards, slow deliveries, a stall, a volume drop and spike, an
  MTU surge over the plan limit of $limit).

  Status page:  http://127.0.0.1:9477/      Metrics: http://127.0.0.1:9477/metrics

  Notifications print below as 'notify receiver=console ...' lines; the
  daemon's log goes to $DIR/segalert.log.  Ctrl-C stops both.

MSG
./segalert run -c "$DIR/demo.conf" 2>"$DIR/segalert.log" &
SEG=$!
# Show alert transitions from the log as they happen.
tail -n +1 -F "$DIR/segalert.log" 2>/dev/null |
    grep --line-buffered -E 'msg="alert: |level=error' |
    sed -u 's/.*msg="alert: \([a-z_]*\) /  alert \1: /; s/\\"/"/g; s/"$//' &
TAIL=$!
wait $SEG
kill $TAIL 2>/dev/null
