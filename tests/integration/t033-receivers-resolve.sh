#!/bin/sh
# t033: one alert, every receiver type at once (routes with continue), through
# the daemon: each real local peer gets the firing notification and then the
# resolved one - Slack (incoming-webhook sink), PagerDuty (trigger then
# resolve with the same dedup_key), webhook (Alertmanager v4 JSON), email
# (aiosmtpd; [FIRING] then [RESOLVED]) and log (stdout).  The alert is made
# to resolve by a SIGHUP that sets the workspace's mtu_limit to 0.
# The daemon and the sim run on a scaled clock (lib.sh use_scaled_clock,
# 20x: the request budget's pacing, polls and group timers); the peers and
# the receivers' timeouts are real time.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SINK="$SRC/tests/peers/http_sink.py"

start_sink() {  # start_sink NAME MODE -> port in $T/NAME.port
    : >"$T/$1.out"
    "$PY" "$SINK" --port 0 --dir "$T/$1" --mode "$2" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    wait_for 10 grep -q READY "$T/$1.out" || { echo "sink $1 did not start" >&2; return 1; }
    sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" >"$T/$1.port"
}
# bodies NAME: every recorded body of sink NAME, one JSON document per line
bodies() { "$PY" -c "
import json,glob,sys
for f in sorted(glob.glob('$T/$1/[0-9]*.json')):
    print(json.dumps(json.loads(json.load(open(f))['body'])))"; }

use_scaled_clock 20
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
start_sink slack slack-ok || { notok "slack sink"; finish; }
start_sink pd pd-202 || { notok "pagerduty sink"; finish; }
start_sink hook ok || { notok "webhook sink"; finish; }
SMTP_PORT=$(free_port)
: >"$T/smtp.out"
"$PY" "$SRC/tests/peers/smtp_server.py" --port "$SMTP_PORT" --maildir "$T/mail" >"$T/smtp.out" 2>"$T/smtp.err" &
bg_pid $!
wait_for 15 grep -q READY "$T/smtp.out" || { notok "smtp server starts"; cat "$T/smtp.err"; finish; }

mkdir -p "$T/rules"
cat >"$T/rules/r.conf" <<'RULES'
rule "mtu-watch" {
  expr     = "mtu > 0 and $mtu_limit > 0"
  severity = "critical"
  sources  = {""}
  summary  = "MTU {{value|si}} seen (limit {{mtu_limit|si}})"
}
RULES
write_cfg() {  # write_cfg MTU_LIMIT
    cat >"$T/seg.conf" <<CONF
state_dir = "$T/state"
listen = ""
rule_files = {"rules/*.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  mtu_limit = $1
}
defaults { group_wait = "1s"  group_interval = "2s"  repeat_interval = "1h" }
receiver "slack" { type = "slack"  url = "http://127.0.0.1:$(cat "$T/slack.port")/services/T/B/x" }
receiver "pd"    { type = "pagerduty"  url = "http://127.0.0.1:$(cat "$T/pd.port")/v2/enqueue"  routing_key_env = "PD_KEY" }
receiver "hook"  { type = "webhook"  url = "http://127.0.0.1:$(cat "$T/hook.port")/hook" }
receiver "mail"  { type = "email"  smtp_host = "127.0.0.1"  smtp_port = $SMTP_PORT  starttls = "no"
                   from = "segalert <alerts@example.com>"  to = {"oncall@example.com"} }
receiver "console" { type = "log" }
route "r1" { receiver = "slack"  continue = true }
route "r2" { receiver = "pd"  continue = true }
route "r3" { receiver = "hook"  continue = true }
route "r4" { receiver = "mail"  continue = true }
route "r5" { receiver = "console" }
CONF
}
write_cfg 1
export SIM_TOKEN=test-token PD_KEY=R0UT1NGKEY0123456789
(cd "$T" && exec "$SEGALERT" run -c seg.conf --eval-interval 1s) >"$T/stdout" 2>"$T/log" &
SEG=$!
bg_pid $SEG

count() { ls "$T/$1" 2>/dev/null | grep -c '^[0-9].*\.json$'; }
mails() { ls "$T/mail" 2>/dev/null | grep -c '\.eml$'; }
check "firing reaches slack" vwait 40 sh -c "[ \$(ls '$T/slack' 2>/dev/null | grep -c json) -ge 1 ]"
check "firing reaches pagerduty" wait_for 10 sh -c "[ \$(ls '$T/pd' 2>/dev/null | grep -c json) -ge 1 ]"
check "firing reaches the webhook" wait_for 10 sh -c "[ \$(ls '$T/hook' 2>/dev/null | grep -c json) -ge 1 ]"
check "firing reaches the mailbox" wait_for 15 sh -c "[ \$(ls '$T/mail' 2>/dev/null | grep -c eml) -ge 1 ]"
check "firing printed by the log receiver" wait_for 10 grep -q 'receiver=console .*status=firing rule=mtu-watch' "$T/stdout"

# resolve: the rule needs $mtu_limit > 0
write_cfg 0
kill -HUP $SEG
check "resolved reaches slack" vwait 30 sh -c "[ \$(ls '$T/slack' | grep -c json) -ge 2 ]"
check "resolved reaches pagerduty" wait_for 10 sh -c "[ \$(ls '$T/pd' | grep -c json) -ge 2 ]"
check "resolved reaches the webhook" wait_for 10 sh -c "[ \$(ls '$T/hook' | grep -c json) -ge 2 ]"
check "resolved reaches the mailbox" wait_for 15 sh -c "[ \$(ls '$T/mail' | grep -c eml) -ge 2 ]"
check "resolved printed by the log receiver" wait_for 10 grep -q 'receiver=console .*status=resolved rule=mtu-watch' "$T/stdout"
vsleep 10  # nothing more may arrive (5 group intervals)

check "slack: exactly firing then resolved (text and colour)" "$PY" -c "
import json,glob
b=[json.loads(json.load(open(f))['body']) for f in sorted(glob.glob('$T/slack/[0-9]*.json'))]
assert len(b)==2, len(b)
assert 'FIRING' in b[0]['text'].upper() and 'RESOLVED' in b[1]['text'].upper(), (b[0]['text'], b[1]['text'])
assert b[0]['attachments'][0]['color'] != b[1]['attachments'][0]['color']
"
check "pagerduty: trigger then resolve, same dedup_key" "$PY" -c "
import json,glob
b=[json.loads(json.load(open(f))['body']) for f in sorted(glob.glob('$T/pd/[0-9]*.json'))]
assert len(b)==2, len(b)
assert b[0]['event_action']=='trigger' and b[1]['event_action']=='resolve', [x['event_action'] for x in b]
assert b[0]['dedup_key']==b[1]['dedup_key'] and len(b[0]['dedup_key'])<=255
assert b[0]['routing_key']=='R0UT1NGKEY0123456789'
"
check "webhook: v4 firing then resolved with endsAt" "$PY" -c "
import json,glob
b=[json.loads(json.load(open(f))['body']) for f in sorted(glob.glob('$T/hook/[0-9]*.json'))]
assert len(b)==2, len(b)
assert b[0]['version']=='4' and b[0]['status']=='firing' and b[1]['status']=='resolved'
assert b[0]['alerts'][0]['labels']['rule']=='mtu-watch'
assert b[1]['alerts'][0]['endsAt']!='0001-01-01T00:00:00Z'
assert b[1]['segalert']['reason']=='all_resolved'
"
check "email: [FIRING] then [RESOLVED] subjects" "$PY" -c "
import glob,email
m=[email.message_from_binary_file(open(f,'rb')) for f in sorted(glob.glob('$T/mail/*.eml'))]
assert len(m)==2, len(m)
s=[x['Subject'] for x in m]
assert 'FIRING' in s[0] and 'RESOLVED' in s[1], s
"
check "no secret in the daemon's output" sh -c "! grep -q R0UT1NGKEY0123456789 '$T/log' '$T/stdout'"
kill -TERM $SEG; wait $SEG
check "daemon exits 0 on SIGTERM" [ $? -eq 0 ]
finish
