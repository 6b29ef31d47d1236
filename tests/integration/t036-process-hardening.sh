#!/bin/sh
# t036-process-hardening: `segalert run` keeps its secrets to itself.
#  - core dumps are off: RLIMIT_CORE is 0, soft and hard
#    (/proc/PID/limits, what prlimit --pid PID --core shows);
#  - the process is not dumpable (PR_SET_DUMPABLE 0): its /proc/PID files
#    (environ, mem) belong to root, not to the user it runs as, so another
#    process of that user cannot read its environment or memory.  Checked
#    by running the daemon as an unprivileged user (setpriv, when the test
#    runs as root) and looking at who owns /proc/PID/environ.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t036-process-hardening.sh
. "$(dirname "$0")/lib.sh"

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
PORT=$(free_port)

# As root, run the daemon as nobody so /proc ownership tells something.
RUN_AS=""
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
        RUN_AS="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) --clear-groups"
        chmod 711 "$T"
    fi
fi
RUN_UID=$(id -u)
[ -n "$RUN_AS" ] && RUN_UID=$(id -u nobody)

mkdir -p "$T/state"
chmod 700 "$T/state"
[ -n "$RUN_AS" ] && chown nobody "$T/state"
cat >"$T/rules.conf" <<'CONF'
rule "traffic-seen" { expr = "attempted >= 1" }
CONF
cat >"$T/segalert.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$T/rules.conf"}
workspace "sim" { api_url = "$SIM_URL" token_env = "SIM_TOKEN" }
receiver "log" { type = "log" }
route "default" { receiver = "log" }
CONF
chmod 644 "$T/segalert.conf" "$T/rules.conf"

SIM_TOKEN=test-token
export SIM_TOKEN
$RUN_AS "$SEGALERT" run -c "$T/segalert.conf" >"$T/run.out" 2>"$T/run.err" &
PID=$!
bg_pid $PID
healthy() { curl -sf "http://127.0.0.1:$PORT/-/healthy" >/dev/null; }
if ! wait_for 20 healthy; then
    notok "the daemon starts"
    sed 's/^/  # /' "$T/run.err" | tail -20
    finish
fi
ok "the daemon starts"
# setpriv execs segalert: $PID is the daemon itself
check "the pid is segalert's" sh -c "grep -q segalert /proc/$PID/comm"

# /proc/PID/limits: "Max core file size   SOFT   HARD   bytes" (what
# `prlimit --pid PID --core` prints, without needing CAP_SYS_RESOURCE)
core_limit() {
    awk -v col="$1" '/^Max core file size/ { print $(4 + col) }' "/proc/$PID/limits"
}
check "core dumps off: RLIMIT_CORE soft 0" [ "$(core_limit 1)" = 0 ]
check "core dumps off: RLIMIT_CORE hard 0 (cannot be raised back)" \
    [ "$(core_limit 2)" = 0 ]

if [ "$RUN_UID" != 0 ]; then
    check "the daemon runs as uid $RUN_UID" \
        sh -c "awk '/^Uid:/ { exit \$2 != $RUN_UID }' /proc/$PID/status"
    check "not dumpable: /proc/PID/environ belongs to root, not uid $RUN_UID" \
        [ "$(stat -c %u "/proc/$PID/environ")" = 0 ]
    check "not dumpable: /proc/PID/mem belongs to root" \
        [ "$(stat -c %u "/proc/$PID/mem")" = 0 ]
else
    ok "# SKIP dumpable check: running as root without setpriv"
fi
check "no warning about hardening in the log" \
    sh -c "! grep -q 'core dumps\|non-dumpable' '$T/run.err'"

kill -TERM "$PID"
wait "$PID"
check "SIGTERM: exit 0" [ $? = 0 ]
finish
