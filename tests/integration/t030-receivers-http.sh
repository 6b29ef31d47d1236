#!/bin/sh
# t030-receivers-http: the HTTP receivers (webhook, slack, pagerduty)
# against real local HTTP peers (tests/peers/http_sink.py):
#   - `segalert notify-test`: payload shapes (Alertmanager v4 webhook JSON,
#     Slack Block Kit, PagerDuty Events v2), HMAC signature, custom headers,
#     timeouts, and the delivered / temporary / permanent verdicts for the
#     answers each service really gives; secrets never printed;
#   - `segalert run`: a 429 with Retry-After is retried (after Retry-After,
#     byte-identical, delivered exactly once per group), a long Retry-After
#     postpones the retry in the state file, a 400 is not retried and is
#     logged as a permanent failure; SIGTERM exits 0; nothing queued is lost;
#   - `segalert check` accepts the documented group_by = {"..."}.
#
# The `segalert run` part runs the daemons and a sim on a scaled clock
# (lib.sh use_scaled_clock, 20x): the 30 s retry back-off passes in 1.5 s.
# The sinks record real arrival times; the checks convert them to the
# daemons' (virtual) time.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t030-receivers-http.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SINK="$SRC/tests/peers/http_sink.py"

# start_sink NAME MODE: an http_sink recording into $T/NAME; sets
# SINK_PORT and writes it to $T/NAME.port.
start_sink() {
    "$PY" "$SINK" --port 0 --dir "$T/$1" --mode "$2" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    i=0
    while [ $i -lt 100 ]; do
        SINK_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" 2>/dev/null)
        if [ -n "$SINK_PORT" ]; then
            echo "$SINK_PORT" >"$T/$1.port"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "http_sink $1 did not start:" >&2
    cat "$T/$1.err" >&2
    return 1
}
sink_mode() {   # sink_mode NAME MODE
    [ "$(curl -s -d "$2" "http://127.0.0.1:$(cat "$T/$1.port")/_mode")" = ok ]
}
sink_count() {  # sink_count NAME: requests recorded
    curl -s "http://127.0.0.1:$(cat "$T/$1.port")/_count" | tr -d '\n'
}
sink_has() {    # sink_has NAME N: at least N requests recorded
    [ "$(sink_count "$1")" -ge "$2" ] 2>/dev/null
}

# rec NAME N 'python expression': true when the expression holds for
# record N of sink NAME (r = the record, b = its body parsed as JSON, raw =
# the exact body bytes).  Prints the expression when it does not hold.
rec() {
    "$PY" - "$T/$1/$(printf %04d "$2").json" "$3" <<'EOF'
import base64, hashlib, hmac, json, os, re, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    r = json.load(open(path))
    raw = base64.b64decode(r["body_b64"])
    try:
        b = json.loads(raw)
    except ValueError:
        b = None
    ok = eval(expr)
except Exception as e:
    sys.stderr.write("  %s: %s: %r\n" % (os.path.basename(path), expr, e))
    sys.exit(1)
if not ok:
    sys.stderr.write("  %s: does not hold: %s\n" % (os.path.basename(path), expr))
sys.exit(0 if ok else 1)
EOF
}

# notify NAME RECEIVER [args]: run notify-test, outputs in $T/nt-NAME.*
notify() {
    nm=$1
    shift
    "$SEGALERT" notify-test -c "$T/nt.conf" "$@" >"$T/nt-$nm.out" 2>"$T/nt-$nm.err"
    echo $? >"$T/nt-$nm.rc"
}
rc_is() { [ "$(cat "$T/nt-$1.rc")" = "$2" ]; }
out_has() { contains "$T/nt-$1.out" "$2"; }

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "segalert-sim starts"; finish; }
for s in hook slack pd; do
    start_sink "$s" ok || { notok "http_sink $s starts"; finish; }
done
HOOK_PORT=$(cat "$T/hook.port")
SLACK_PORT=$(cat "$T/slack.port")
PD_PORT=$(cat "$T/pd.port")
DEAD_PORT=$(free_port)     # nothing listens there

SIM_TOKEN=test-token
HOOK_SECRET=hmac-S3cret-7f1c
PD_ROUTING_KEY=R0uting0Key0abcdef0123456789abcd
export SIM_TOKEN HOOK_SECRET PD_ROUTING_KEY
HDR_TOKEN=hdr-T0ken-99
SLACK_PATH=/services/T0000/B0000/SlackS3cretPath

cat >"$T/nt.conf" <<EOF
state_dir = "$T/nt-state"
listen = ""
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
}
receiver "hook" {
  type = "webhook"
  url = "http://127.0.0.1:$HOOK_PORT/hook"
  hmac_secret_env = "HOOK_SECRET"
  headers = {"X-Team=data-eng", "Authorization: Bearer $HDR_TOKEN"}
}
receiver "slowhook" {
  type = "webhook"
  url = "http://127.0.0.1:$HOOK_PORT/slow"
  timeout = "1s"
}
receiver "deadhook" { type = "webhook" url = "http://127.0.0.1:$DEAD_PORT/hook" }
receiver "chat" { type = "slack" url = "http://127.0.0.1:$SLACK_PORT$SLACK_PATH" }
receiver "pager" {
  type = "pagerduty"
  url = "http://127.0.0.1:$PD_PORT/v2/enqueue"
  routing_key_env = "PD_ROUTING_KEY"
}
route "default" { receiver = "hook" }
EOF

# --- webhook ----------------------------------------------------------------
T0=$(date +%s)
notify hook -v hook
check "webhook: notify-test exits 0" rc_is hook 0
check "webhook: says delivered" out_has hook 'receiver "hook" (webhook): delivered test notification'
check "webhook: exactly one request" [ "$(sink_count hook)" = 1 ]
check "webhook: POST to the configured path" rec hook 1 'r["method"] == "POST" and r["path"] == "/hook"'
check "webhook: Content-Type application/json" \
    rec hook 1 'r["headers"].get("Content-Type") == "application/json"'
check "webhook: Alertmanager v4 JSON: version, status, receiver, groupKey" \
    rec hook 1 'b["version"] == "4" and b["status"] == "firing" and b["receiver"] == "hook" and isinstance(b["groupKey"], str) and b["groupKey"] != ""'
check "webhook: v4 fields groupLabels, commonLabels, commonAnnotations, externalURL, truncatedAlerts" \
    rec hook 1 'all(k in b for k in ("groupLabels", "commonLabels", "commonAnnotations", "externalURL", "truncatedAlerts")) and isinstance(b["commonLabels"], dict)'
check "webhook: alerts[0] is the firing test alert (rule segalert-test, alertname)" \
    rec hook 1 'len(b["alerts"]) == 1 and b["alerts"][0]["status"] == "firing" and b["alerts"][0]["labels"]["rule"] == "segalert-test" and b["alerts"][0]["labels"]["alertname"] == "segalert-test"'
check "webhook: alert has startsAt (RFC 3339), endsAt zero time, fingerprint, annotations.summary" \
    rec hook 1 're.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", b["alerts"][0]["startsAt"]) and b["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z" and b["alerts"][0]["fingerprint"] and "Test notification" in b["alerts"][0]["annotations"]["summary"]'
check "webhook: X-Segalert-Signature is t=<time>,v1=<HMAC-SHA256(secret, time.body)>" \
    rec hook 1 'r["headers"].get("X-Segalert-Signature") == "t=%s,v1=%s" % (r["headers"]["X-Segalert-Timestamp"], hmac.new(os.environ["HOOK_SECRET"].encode(), r["headers"]["X-Segalert-Timestamp"].encode() + b"." + raw, hashlib.sha256).hexdigest())'
check "webhook: the signature does not verify with another secret" \
    rec hook 1 'r["headers"].get("X-Segalert-Signature") != "t=%s,v1=%s" % (r["headers"]["X-Segalert-Timestamp"], hmac.new(b"other-secret", r["headers"]["X-Segalert-Timestamp"].encode() + b"." + raw, hashlib.sha256).hexdigest())'
check "webhook: the body alone is not what is signed (no replay without the time)" \
    rec hook 1 'hmac.new(os.environ["HOOK_SECRET"].encode(), raw, hashlib.sha256).hexdigest() not in r["headers"].get("X-Segalert-Signature")'
check "webhook: X-Segalert-Timestamp is the current Unix time" \
    rec hook 1 "abs(int(r['headers'].get('X-Segalert-Timestamp', '0')) - $T0) <= 5"
check "webhook: custom header X-Team arrives" rec hook 1 'r["headers"].get("X-Team") == "data-eng"'
check "webhook: custom Authorization header arrives" \
    rec hook 1 "r['headers'].get('Authorization') == 'Bearer $HDR_TOKEN'"

# --- slack ------------------------------------------------------------------
sink_mode slack slack-ok
notify chat chat
check "slack: notify-test exits 0 on 200 \"ok\"" rc_is chat 0
check "slack: says delivered" out_has chat 'receiver "chat" (slack): delivered'
check "slack: posted to the webhook URL's path" rec slack 1 "r['method'] == 'POST' and r['path'] == '$SLACK_PATH'"
check "slack: JSON with a text fallback mentioning the test" \
    rec slack 1 'isinstance(b["text"], str) and "segalert-test" in b["text"]'
check "slack: Block Kit blocks with a header" \
    rec slack 1 'isinstance(b["blocks"], list) and b["blocks"] and b["blocks"][0]["type"] == "header" and b["blocks"][0]["text"]["text"]'
check "slack: attachment coloured for severity info (#1f77b4) with blocks" \
    rec slack 1 'b["attachments"][0]["color"] == "#1f77b4" and len(b["attachments"][0]["blocks"]) >= 1'
check "slack: the summary is in a section" \
    rec slack 1 'any("Test notification from segalert" in blk.get("text", {}).get("text", "") for blk in b["attachments"][0]["blocks"] if blk["type"] == "section")'

sink_mode slack ok      # 200 with a JSON body: not Slack's confirmation
notify chat-200 chat
check "slack: 200 without body \"ok\" is not delivered (exit 1)" rc_is chat-200 1
check "slack: ... and is temporary" out_has chat-200 "temporary: segalert would retry"

sink_mode slack 400-invalid-payload
notify chat-400 chat
check "slack: 400 invalid_payload exits 1" rc_is chat-400 1
check "slack: says NOT delivered, naming the server and Slack's error token" out_has chat-400 "NOT delivered: 127.0.0.1:$(cat "$T/slack.port")"
check "slack: ... Slack's error token" out_has chat-400 ': invalid_payload'
check "slack: ... permanent" out_has chat-400 "permanent: segalert would not retry"
check "slack: one request per notify-test (3 so far)" [ "$(sink_count slack)" = 3 ]

# A service that quotes what it got: the secret URL path comes back in the
# answer, which notify-test prints redacted (it used to print it as is).
sink_mode slack 400-echo
notify chat-echo chat
check "slack: an answer quoting the request exits 1" rc_is chat-echo 1
check "slack: ... and notify-test prints it" out_has chat-echo ': HTTP 400: refused'
check "slack: ... with the secret webhook path redacted" sh -c "! grep -qF SlackS3cretPath '$T/nt-chat-echo.out'"
check "slack: ... as <redacted>" out_has chat-echo '<redacted>'

# --- pagerduty --------------------------------------------------------------
sink_mode pd pd-202
notify pager pager
check "pagerduty: notify-test exits 0 on 202" rc_is pager 0
check "pagerduty: says delivered" out_has pager 'receiver "pager" (pagerduty): delivered'
check "pagerduty: posted to the configured URL" rec pd 1 'r["method"] == "POST" and r["path"] == "/v2/enqueue"'
check "pagerduty: event_action trigger with the routing key" \
    rec pd 1 'b["event_action"] == "trigger" and b["routing_key"] == os.environ["PD_ROUTING_KEY"]'
check "pagerduty: dedup_key present, at most 255 chars" \
    rec pd 1 'isinstance(b["dedup_key"], str) and 0 < len(b["dedup_key"]) <= 255'
check "pagerduty: payload summary, source and severity info" \
    rec pd 1 'b["payload"]["summary"] and b["payload"]["source"] and b["payload"]["severity"] == "info"'
check "pagerduty: custom_details carry the alert" \
    rec pd 1 'isinstance(b["payload"]["custom_details"], dict) and "segalert-test" in json.dumps(b["payload"]["custom_details"])'

sink_mode pd 400-json
notify pager-400 pager
check "pagerduty: 400 exits 1" rc_is pager-400 1
check "pagerduty: 400 is permanent" out_has pager-400 "permanent: segalert would not retry"
check "pagerduty: the reason carries PagerDuty's message" out_has pager-400 "Event object is invalid"
check "pagerduty: ... and its errors" out_has pager-400 "routing_key"
check "pagerduty: same dedup_key for the same group" \
    "$PY" -c "import json,sys; a=json.load(open('$T/pd/0001.json')); b=json.load(open('$T/pd/0002.json')); sys.exit(0 if json.loads(a['body'])['dedup_key'] == json.loads(b['body'])['dedup_key'] else 1)"

sink_mode pd 400-echo
notify pager-echo pager
check "pagerduty: an answer quoting the event (routing key and all) exits 1" rc_is pager-echo 1
check "pagerduty: ... printed with the routing key redacted" \
    sh -c "grep -qF 'routing_key' '$T/nt-pager-echo.out' && grep -qF '<redacted>' '$T/nt-pager-echo.out' && ! grep -qF '$PD_ROUTING_KEY' '$T/nt-pager-echo.out'"

# --- webhook failures -------------------------------------------------------
sink_mode hook 500
notify hook-500 hook
check "webhook 500: exit 1" rc_is hook-500 1
check "webhook 500: temporary (would retry)" out_has hook-500 "temporary: segalert would retry"
check "webhook 500: reason names the status" out_has hook-500 "HTTP 500"

sink_mode hook 429:2
notify hook-429 hook
check "webhook 429: exit 1" rc_is hook-429 1
check "webhook 429: temporary (would retry)" out_has hook-429 "temporary: segalert would retry"
check "webhook 429: reason says rate limited" out_has hook-429 "429"

sink_mode hook 404
notify hook-404 hook
check "webhook 404: exit 1, permanent" sh -c "[ \"\$(cat '$T/nt-hook-404.rc')\" = 1 ] && grep -qF 'permanent: segalert would not retry' '$T/nt-hook-404.out'"

sink_mode hook slow:5
t1=$(date +%s)
notify hook-slow slowhook
t2=$(date +%s)
check "webhook timeout: exit 1" rc_is hook-slow 1
check "webhook timeout: temporary with a timeout reason" \
    sh -c "grep -qF 'temporary: segalert would retry' '$T/nt-hook-slow.out' && grep -qiE 'timeout|timed out' '$T/nt-hook-slow.out'"
check "webhook timeout: gave up after about timeout = 1s (< 4 s)" [ $((t2 - t1)) -lt 4 ]

notify dead deadhook
check "nothing listening: exit 1" rc_is dead 1
check "nothing listening: temporary" out_has dead "temporary: segalert would retry"
check "nothing listening: a connect error" sh -c "grep -qiE 'connect' '$T/nt-dead.out'"

notify nope no-such-receiver
check "unknown receiver: exit 2" rc_is nope 2
check "unknown receiver: names it and lists the receivers" \
    sh -c "grep -qF 'no-such-receiver' '$T/nt-nope.err' && grep -qF '\"hook\"' '$T/nt-nope.err' && grep -qF '\"chat\"' '$T/nt-nope.err' && grep -qF '\"pager\"' '$T/nt-nope.err'"

leaks=$(grep -lF -e "$HOOK_SECRET" -e "$HDR_TOKEN" -e "$PD_ROUTING_KEY" -e "SlackS3cretPath" \
    "$T"/nt-*.out "$T"/nt-*.err 2>/dev/null)
check "no secret (HMAC secret, header token, routing key, Slack URL) in notify-test output${leaks:+: $leaks}" \
    [ -z "$leaks" ]

# --- the daemon: retries and permanent failures -----------------------------
# One rule that fires at once for each of the sim's 3 connections, one
# group per connection, a webhook receiver per daemon.  From here on the
# daemons and a new sim share a scaled clock.
kill $SIM_PID 2>/dev/null
wait $SIM_PID 2>/dev/null
use_scaled_clock 20
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "segalert-sim starts (scaled clock)"; finish; }
cat >"$T/always.rules" <<'EOF'
rule "always" {
  expr = "successes >= 0"
  severity = "warning"
  summary = "{{destination}} from {{source}}"
}
EOF
# daemon_conf NAME SINK: config for a daemon posting to sink SINK
daemon_conf() {
    cat >"$T/$1.conf" <<EOF
state_dir = "$T/$1-state"
listen = ""
log_level = "debug"
rule_files = {"$T/always.rules"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
}
defaults {
  group_by = {"rule", "workspace", "source_id", "destination_id"}
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "1h"
}
receiver "hook" {
  type = "webhook"
  url = "http://127.0.0.1:$(cat "$T/$2.port")/alerts"
  hmac_secret_env = "HOOK_SECRET"
}
route "default" { receiver = "hook" }
EOF
}
start_daemon() {    # start_daemon NAME: sets DPID_NAME
    "$SEGALERT" run -c "$T/$1.conf" --eval-interval 1s >"$T/$1.out" 2>"$T/$1.err" &
    p=$!
    bg_pid $p
    eval "DPID_$1=$p"
}
stop_daemon() {     # stop_daemon NAME: SIGTERM, wait up to 15 s, exit code in $T/NAME.rc
    eval "p=\$DPID_$1"
    kill -TERM "$p" 2>/dev/null
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 75 ]; do sleep 0.2; i=$((i + 1)); done
    if kill -0 "$p" 2>/dev/null; then echo timeout >"$T/$1.rc"; return; fi
    wait "$p"
    echo $? >"$T/$1.rc"
}

# The first three posts (one per group, sent together) are answered 429;
# the retries, 24-30 s of the daemon's time later, are answered 200.
start_sink retry 429:2,429:2,429:2,ok || notok "http_sink retry starts"
start_sink later 429:100 || notok "http_sink later starts"
start_sink perm 400 || notok "http_sink perm starts"
# docs/notifications.md: group_by = {"..."} groups by every label (one
# group per alert), and src/notify/dispatch.c implements it.
daemon_conf dots retry
sed 's/^  group_by = .*/  group_by = {"..."}/' "$T/dots.conf" >"$T/dots2.conf"
"$SEGALERT" check -c "$T/dots2.conf" >"$T/dots.out" 2>&1
check "check accepts the documented group_by = {\"...\"}" [ $? = 0 ]
grep -F "group_by" "$T/dots.out" | sed 's/^/  # /'

daemon_conf retry retry
daemon_conf later later
daemon_conf perm perm
start_daemon retry
start_daemon later
start_daemon perm

if vwait 30 sink_has retry 1; then
    ok "daemon: first notification posted (answered 429, Retry-After: 2)"
else
    notok "daemon: first notification posted (answered 429, Retry-After: 2)"
    sed 's/^/  # /' "$T/retry.err" | tail -20
fi
check "daemon: the first answer was a 429" rec retry 1 'r["status"] == 429'
check "daemon: the webhook is signed" \
    rec retry 1 'r["headers"].get("X-Segalert-Signature") == "t=%s,v1=%s" % (r["headers"]["X-Segalert-Timestamp"], hmac.new(os.environ["HOOK_SECRET"].encode(), r["headers"]["X-Segalert-Timestamp"].encode() + b"." + raw, hashlib.sha256).hexdigest())'
check "daemon: a real alert: rule always, severity warning, reason first" \
    rec retry 1 'b["alerts"][0]["labels"]["rule"] == "always" and b["alerts"][0]["labels"]["severity"] == "warning" and b["segalert"]["reason"] == "first"'

# summary of sink NAME per notification: prints one JSON object
sink_summary() {
    "$PY" - "$T/$1" <<'EOF'
import glob, json, os, sys
recs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.json"))]
by_id, ok_by_group, retried_ok = {}, {}, True
# gaps in seconds of the daemons' (scaled) clock
scale = float(os.environ.get("CLOCK_SCALE", 1))
for r in recs:
    b = json.loads(r["body"])
    by_id.setdefault(b["segalert"]["notificationId"], []).append(r)
    if 200 <= r["status"] < 300:
        ok_by_group[b["groupKey"]] = ok_by_group.get(b["groupKey"], 0) + 1
# every notification answered 429 was retried: >= 2 s later, same bytes,
# and the retry was delivered
gaps = []
for nid, rs in by_id.items():
    for a, c in zip(rs, rs[1:]):
        gaps.append((c["time"] - a["time"]) * scale)
        if a["status"] != 429 or a["body_b64"] != c["body_b64"]:
            retried_ok = False
    if rs[-1]["status"] // 100 != 2 and rs[-1]["status"] != 429:
        retried_ok = False
print(json.dumps({"n": len(recs), "ids": len(by_id),
                  "per_id": sorted(len(v) for v in by_id.values()),
                  "ok_by_group": ok_by_group, "gaps": gaps,
                  "retried_ok": retried_ok,
                  "n429": sum(1 for r in recs if r["status"] == 429),
                  "first": recs[0]["time"] if recs else 0}))
EOF
}
# all_delivered NAME GROUPS: every one of GROUPS groups got a 2xx
all_delivered() {
    sink_summary "$1" | "$PY" -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if len(s['ok_by_group']) >= $2 and s['n429'] > 0 and s['n'] >= s['n429'] + $2 else 1)"
}
# 3 connections, one group each; the retry comes after 30 s of back-off
# (minus up to 20 % jitter), at least Retry-After.
if vwait 50 all_delivered retry 3; then
    ok "daemon: after the 429 the notifications were retried and delivered"
else
    notok "daemon: after the 429 the notifications were retried and delivered"
    sink_summary retry | sed 's/^/  # /'
fi
vsleep 6    # > group_interval: a duplicate would show up now
sink_summary retry >"$T/retry.summary"
summ() { "$PY" -c "import json,sys; s=json.load(open('$T/$1.summary')); sys.exit(0 if ($2) else 1)"; }
check "daemon: exactly one successful delivery per group (3 groups)" \
    summ retry 's["ok_by_group"] and len(s["ok_by_group"]) == 3 and all(v == 1 for v in s["ok_by_group"].values())'
check "daemon: retries are byte-identical and follow a 429" summ retry 's["retried_ok"]'
check "daemon: a retry waits at least Retry-After (2 s) and the 30 s back-off minus jitter" \
    summ retry 's["gaps"] and min(s["gaps"]) >= 23'
check "daemon: nothing but 429s and one delivery per notification" \
    summ retry 's["n"] == s["n429"] + 3 and max(s["per_id"]) == 2'
check "daemon: logs the retry" contains "$T/retry.err" "will retry"
check "daemon: logs the delivery" contains "$T/retry.err" "notify: delivered"

# Retry-After: 100 > back-off: the retry is scheduled >= 100 s later.
later_sched() {
    "$PY" - "$T/later-state" "$T/later" "$SRC/tests/integration" <<'EOF'
import glob, json, os, sys
sys.path.insert(0, sys.argv[3])
import statefile        # the snapshot plus the journal, as the daemon reads it
# next_attempt is the daemon's (scaled) time: the sink's real time converted
first = min(json.load(open(f))["time"] for f in glob.glob(sys.argv[2] + "/*.json"))
first = float(os.environ.get("CLOCK_START", 0)) + \
    (first - float(os.environ.get("CLOCK_ORIGIN", 0))) * float(os.environ.get("CLOCK_SCALE", 1))
def entries(o):
    if isinstance(o, dict):
        if "next_attempt" in o and "attempts" in o:
            yield o
        for v in o.values():
            yield from entries(v)
    elif isinstance(o, list):
        for v in o:
            yield from entries(v)
es = [e for e in entries(statefile.load(sys.argv[1])) if e["attempts"] >= 1]
if not es:
    sys.exit(1)
print("  # retry scheduled %.1f s after the first request" % (min(e["next_attempt"] for e in es) - first))
sys.exit(0 if min(e["next_attempt"] for e in es) >= first + 98 else 2)
EOF
}
later_sched_quiet() { later_sched >/dev/null 2>&1; }
wait_for 15 later_sched_quiet
check "daemon: Retry-After: 100 postpones the retry by 100 s (state file outbox)" later_sched

# 400 (permanent): each notification is posted once and never retried.
perm_failed() { [ "$(grep -c 'permanently failed' "$T/perm.err")" -ge 3 ]; }
check "daemon: 400 is logged as permanently failed (3 groups)" wait_for 20 perm_failed
# A retry would come 24-30 s (daemon time) after the first attempt: look
# after 31 s of it.
sink_summary perm >"$T/perm.summary"
perm_first=$(vtime "$("$PY" -c "import json; print(json.load(open('$T/perm.summary'))['first'])")" | sed 's/\..*//')
while [ $(($(vnow) - perm_first)) -lt 31 ]; do sleep 0.1; done
sink_summary perm >"$T/perm.summary"
check "daemon: 400: exactly one request per notification, none retried after 31 s" \
    summ perm 's["n"] == 3 and s["ids"] == 3 and s["per_id"] == [1, 1, 1]'
check "daemon: the permanent failure log names the receiver and the reason" \
    grep -q 'permanently failed.*HTTP 400' "$T/perm.err"

stop_daemon retry
stop_daemon later
stop_daemon perm
for d in retry later perm; do
    check "daemon $d: SIGTERM exits 0" [ "$(cat "$T/$d.rc")" = 0 ]
done
check "daemon: the postponed notifications stay queued in the state file after SIGTERM" \
    later_sched
leaks=$(grep -lF -e "$HOOK_SECRET" "$T/retry.err" "$T/later.err" "$T/perm.err" \
    "$T/retry.out" "$T/later.out" "$T/perm.out" "$T"/*-state/state.* 2>/dev/null)
check "daemon: the HMAC secret is not in the logs (debug) or the state file${leaks:+: $leaks}" \
    [ -z "$leaks" ]
san=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err "$T"/*.out 2>/dev/null)
check "no sanitizer report from segalert or segalert-sim${san:+: $san}" [ -z "$san" ]
finish
