#!/bin/sh
# t064-state-safety: nothing outside state_dir is touched, and a state
# that cannot be saved holds notifications instead of sending what a crash
# would send again (docs/security.md, README.md "Operations").
#
#  A. a symlink planted as the lock file, as the temp file of a save and
#     as state.json: the victim files are never written or truncated; the
#     lock and state.json symlinks are refused with a message that names
#     them;
#  B. a state_dir writable by others (0777, or 0770) is refused; one owned
#     by another user too (only when the test runs as root);
#  C. saves fail (the file-size limit of the running daemon is lowered
#     with prlimit: every write past it fails, as on a full disk): the
#     firing notifications wait (the webhook gets nothing), the log
#     receiver gets segalert-state-unwritable at once, the error is
#     logged once and then at most once a minute; when writes work again
#     the held notifications go out, once each.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t064-state-safety.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

. "$(dirname "$0")/e2e-lib.sh"

cat >"$T/rules.conf" <<'CONF'
rule "lossy" {
  expr     = "discard_ratio > 2% and attempted >= 100"
  for      = "0s"
  severity = "critical"
  summary  = "{{destination}} discards {{value|pct}} of events from {{source}}"
}
CONF

# ---- A. symlinks ------------------------------------------------------------------
mkdir -p "$T/a-state"
chmod 0700 "$T/a-state"
printf 'precious\n' >"$T/victim-lock"
printf 'precious\n' >"$T/victim-state"
cat >"$T/a.conf" <<CONF
state_dir = "$T/a-state"
listen = ""
rule_files = {"$T/rules.conf"}
workspace "w" { api_url = "http://127.0.0.1:9/" token = "x" }
CONF
ln -s "$T/victim-lock" "$T/a-state/segalert.lock"
"$SEGALERT" run --once -c "$T/a.conf" >"$T/a1.out" 2>"$T/a1.err"
RC=$?
check "A: a symlinked lock file: run refuses (exit $RC)" [ "$RC" -ne 0 ]
check "A: ... and says it is a symlink" contains "$T/a1.err" "segalert.lock"
check "A: ... the file it points to is untouched" [ "$(cat "$T/victim-lock")" = precious ]
rm -f "$T/a-state/segalert.lock"

# the temp file of the first save, planted for the pid the daemon will get
# is not predictable; plant it for a range of pids around the next one
next=$(cat /proc/sys/kernel/ns_last_pid 2>/dev/null || echo 0)
i=1
while [ $i -le 40 ]; do
    ln -s "$T/victim-state" "$T/a-state/state.json.tmp-$((next + i))" 2>/dev/null
    ln -s "$T/victim-state" "$T/a-state/state.journal.tmp-$((next + i))" 2>/dev/null
    i=$((i + 1))
done
"$SEGALERT" run --once -c "$T/a.conf" >"$T/a2.out" 2>"$T/a2.err"
check "A: symlinks planted as temp files: the victim is untouched" [ "$(cat "$T/victim-state")" = precious ]
check "A: ... and state.json is a regular file" [ -f "$T/a-state/state.json" ] && [ ! -L "$T/a-state/state.json" ]
check "A: ... and the planted links are gone (removed, not followed)" sh -c "! ls '$T/a-state'/*.tmp-* >/dev/null 2>&1"

rm -f "$T/a-state/state.json" "$T/a-state/state.journal"
ln -s "$T/victim-state" "$T/a-state/state.json"
"$SEGALERT" run --once -c "$T/a.conf" >"$T/a3.out" 2>"$T/a3.err"
RC=$?
check "A: a symlinked state.json: run refuses (exit $RC)" [ "$RC" -ne 0 ]
check "A: ... naming the symlink" contains "$T/a3.err" "symlink"
check "A: ... the victim is untouched" [ "$(cat "$T/victim-state")" = precious ]
rm -f "$T/a-state/state.json"

# ---- B. permissions ---------------------------------------------------------------
for mode in 0777 0770; do
    chmod $mode "$T/a-state"
    "$SEGALERT" run --once -c "$T/a.conf" >"$T/b.out" 2>"$T/b.err"
    RC=$?
    check "B: state_dir mode $mode: refused (exit $RC)" [ "$RC" -ne 0 ]
    check "B: ... with the chmod that fixes it" contains "$T/b.err" "chmod 0700"
done
chmod 0750 "$T/a-state"
"$SEGALERT" run --once -c "$T/a.conf" >"$T/b.out" 2>"$T/b.err"
check "B: state_dir mode 0750 (readable by the group): runs, with a warning" \
    sh -c "[ $? -ne 2 ] && grep -q 'readable by group' '$T/b.err'"
chmod 0700 "$T/a-state"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$T/a-state"
    "$SEGALERT" run --once -c "$T/a.conf" >"$T/b.out" 2>"$T/b.err"
    RC=$?
    check "B: state_dir owned by another user: refused (exit $RC)" [ "$RC" -ne 0 ]
    check "B: ... naming the owner" contains "$T/b.err" "owned by uid"
    chown 0 "$T/a-state"
else
    ok "B: state_dir owned by another user # SKIP needs root"
fi

# ---- C. saves fail --------------------------------------------------------------------
use_scaled_clock 20
cat >"$T/scenario.conf" <<CONF
seed = 64
token = "test-token"
source "web" {
  events_per_minute = 6000
  daily_amplitude = 0
CONF
i=1
while [ $i -le 12 ]; do
    echo "  destination \"dest$i\" { discard_ratio = 0.3 }" >>"$T/scenario.conf"
    i=$((i + 1))
done
echo "}" >>"$T/scenario.conf"
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
start_sink hook || { notok "webhook sink starts"; finish; }
mkdir -p "$T/c-state"
chmod 0700 "$T/c-state"
cat >"$T/c.conf" <<CONF
state_dir = "$T/c-state"
listen = ""
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "5s"
  delivery_window = "1m"
  volume_interval = "1m"
  usage_interval = "1h"
  request_budget = 600
}
defaults {
  group_by = {"rule", "destination"}
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "1h"
}
receiver "hook" { type = "webhook"  url = "$hook_URL/hook" }
receiver "console" { type = "log" }
route "all" { receiver = "hook" continue = true }
route "log" { receiver = "console" }
CONF
# The daemon starts with a soft file-size limit of 4 KiB (the hard one
# unlimited, so prlimit can lift it later without privileges): the
# start-up snapshot fits, the first save with a dozen firing alerts, their
# groups and notifications does not, nor the compaction after it.
# SIGXFSZ is ignored (inherited through exec), so a write past the limit
# fails with EFBIG instead of killing the process, as a full disk fails
# with ENOSPC.  stdout and stderr go through pipes, which the limit does
# not cover.
mkfifo "$T/c.errfifo"
cat <"$T/c.errfifo" >"$T/c.log" &
( trap '' XFSZ; exec prlimit --fsize=4096:unlimited env SIM_TOKEN=test-token \
    "$SEGALERT" run -c "$T/c.conf" 2>"$T/c.errfifo" ) | cat >"$T/c.out" &
i=0
DPID=""
while [ -z "$DPID" ] && [ $i -lt 50 ]; do
    DPID=$(pgrep -f "segalert run -c $T/c.conf" | head -1)
    sleep 0.1
    i=$((i + 1))
done
bg_pid "$DPID"
check "C: the daemon runs" [ -n "$DPID" ]
check "C: saves fail, the error is logged" wait_for 20 grep -q 'cannot save state' "$T/c.log"
check "C: the log receiver (stdout) got segalert-state-unwritable at once" \
    wait_for 5 grep -q 'segalert-state-unwritable' "$T/c.out"
vsleep 60
check "C: nothing reached the webhook while the notifications are not saved" \
    [ "$(sinkq hook "len(R)")" -eq 0 ]
n_err=$(grep -c 'cannot save state' "$T/c.log")
check "C: the error is not repeated every pass ($n_err lines in $(awk -v k="$CLOCK_SCALE" 'BEGIN { printf "%.0f", 60 / k }') s)" \
    [ "$n_err" -le 2 ]
prlimit --pid "$DPID" --fsize=unlimited:unlimited
check "C: writes work again: the state is saved" wait_for 10 grep -q 'state saved again' "$T/c.log"
lossy() { sinkq hook "len([r for r in A if r['j']['commonLabels'].get('rule') == 'lossy' and r['j']['status'] == '$1'])"; }
all_out() { [ "$(lossy firing)" -ge 12 ]; }
check "C: the held notifications go out (12 groups)" wait_for 10 all_out
vsleep 20
check "C: each exactly once, none resolved meanwhile" [ "$(lossy firing) $(lossy resolved)" = "12 0" ]
check "C: no notification sent twice" [ "$(sinkq hook "len(set(r['j']['segalert']['notificationId'] for r in A)) == len(A)")" = True ]
check "C: segalert-state-unwritable went to the webhook too (firing, then resolved)" \
    [ "$(sinkq hook "[r['j']['status'] for r in A if r['j']['commonLabels'].get('rule') == 'segalert-state-unwritable']")" = "['firing', 'resolved']" ]
kill -TERM "$DPID" 2>/dev/null
i=0; while alive "$DPID" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "C: stops" sh -c "! kill -0 $DPID 2>/dev/null"
check "no sanitizer report" no_sanitizer_report "$T"/*.err "$T/c.log"
finish
