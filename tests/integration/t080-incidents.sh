#!/bin/sh
# t080-incidents: every incident of examples/incidents/ against the shipped
# rule packs and the default configuration, time-compressed: each expected
# alert is notified within the time its file promises, and nothing else is
# notified (no false page).  The detection table (README) comes from this
# run; the report is kept in the test log.
#
# Under the sanitizers the daemon runs several times slower and cannot keep
# up with a clock compressing days into seconds, so that build runs the
# minute-scale incidents only, with more real time each.
. "$(dirname "$0")/lib.sh"

if [ "${SEGALERT_VARIANT:-release}" = release ]; then
    files="$(ls "$SRC"/examples/incidents/*.conf) $SRC/examples/demo-scenario.conf"
    jobs=6
    real_s=30
else
    files="$SRC/examples/incidents/total-outage.conf
$SRC/examples/incidents/stall.conf
$SRC/examples/incidents/device-and-filtered.conf"
    jobs=3
    real_s=45
fi

# shellcheck disable=SC2086
INCIDENT_JOBS=$jobs INCIDENT_REAL_S=$real_s "$PY" "$SRC/tests/integration/incidents.py" \
    "$SEGALERT" "$SEGALERT_SIM" "$SRC" "$T" "$T/report.md" $files >"$T/out" 2>&1
rc=$?
cat "$T/out"
echo "# report:"
sed 's/^/# /' "$T/report.md" 2>/dev/null
[ $rc -eq 0 ] || notok "incidents.py exited $rc"
n=$(grep -c '^ok - .*notified' "$T/out")
[ "$n" -ge 2 ] || notok "expected timed notifications, got $n"
finish
