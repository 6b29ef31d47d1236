#!/bin/sh
# t037-hostile-names: names from the Segment API cannot break a receiver,
# /metrics, the page or the terminal (README.md "Operations", "Names from
# the API"; docs/notifications.md "Size limits").
#
# segalert-sim serves, byte for byte (docs/sim.md "Hostile names"):
#   - a source slug and name with invalid UTF-8 (a stray 0xff, an overlong
#     "/", a CESU-8 surrogate) and terminal escapes (ESC, BEL, C1 CSI);
#   - a destination whose name is invalid UTF-8 with an OSC title escape;
#   - a destination whose name is 300 KB long.
# A rule fires for every connection, with the names in its summary and
# description, grouped by destination, to every receiver type: webhook,
# Slack, PagerDuty and Alertmanager (recording sinks that refuse, as the
# services do, a body that is not strict UTF-8 JSON or is over the
# service's size), email (aiosmtpd) and log.  Then:
#   - every receiver got every notification, 2xx, valid JSON in valid
#     UTF-8, within its limit, long values cut with "… [truncated]";
#   - `promtool check metrics` accepts /metrics; the status page and the
#     JSON API are valid UTF-8; the text log has no raw control character
#     and no invalid UTF-8; no delivery failed.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t037-hostile-names.sh
. "$(dirname "$0")/lib.sh"

SINK="$SRC/tests/peers/http_sink.py"
SMTPD="$SRC/tests/peers/smtp_server.py"
PD_MAX=512000
BODY_MAX=1048576

# ---- the hostile scenario ------------------------------------------------------
# libconfuse reads \xNN escapes in strings; the 300 KB name is written out.
"$PY" - "$T/scenario.conf" <<'EOF'
import sys
big = "Huge " + "Z\u00fcrich \U0001F600 " * 30000
big = big.encode("utf-8")[:300 * 1024].decode("utf-8", "ignore")
open(sys.argv[1], "w", encoding="utf-8").write(r'''
seed = 7
token = "test-token"
source "web\xffbad" {
  name = "Web \xff\xc0\xaf prod\x1b[31m\x07\xc2\x9b"
  events_per_minute = 600
  destination "amp" { name = "Amp\xed\xa0\x80litude\xff \x1b]0;pwned\x07" }
  destination "huge" { name = "%s" }
}
''' % big)
EOF
check "the scenario has a 300 KB name" [ "$(wc -c <"$T/scenario.conf")" -gt 307200 ]

use_scaled_clock 20
start_sim "$T/scenario.conf" || { notok "sim starts"; finish; }
raw_sources() { curl -s -H 'Authorization: Bearer test-token' "$SIM_URL/sources"; }
check "the sim sends the invalid UTF-8 as it is (a strict client would choke)" \
    sh -c "curl -s -H 'Authorization: Bearer test-token' '$SIM_URL/sources' |
           '$PY' -c 'import sys; sys.stdin.buffer.read().decode(\"utf-8\")' 2>/dev/null; [ \$? -ne 0 ]"

# ---- receivers -------------------------------------------------------------------
start_sink() {      # start_sink NAME MODE [ARGS]: sets NAME_PORT
    nm=$1; mode=$2; shift 2
    "$PY" "$SINK" --port 0 --dir "$T/$nm" --mode "$mode" --strict "$@" \
        >"$T/$nm.out" 2>"$T/$nm.err" &
    bg_pid $!
    wait_for 10 grep -qs '^READY' "$T/$nm.out" || return 1
    eval "${nm}_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$nm.out")"
}
start_sink hook ok --max-body $BODY_MAX || { notok "webhook sink starts"; finish; }
start_sink slack slack-ok || { notok "slack sink starts"; finish; }
start_sink pd pd-202 --max-body $PD_MAX || { notok "pagerduty sink starts"; finish; }
start_sink am ok --max-body $BODY_MAX || { notok "alertmanager sink starts"; finish; }
"$PY" "$SMTPD" --port 0 --maildir "$T/mail" --no-starttls >"$T/smtp.out" 2>"$T/smtp.err" &
bg_pid $!
wait_for 10 grep -q '^READY' "$T/smtp.out" || { notok "smtp server starts"; finish; }
SMTP_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/smtp.out")

PORT=$(free_port)
cat >"$T/rules.conf" <<'CONF'
rule "hostile-seen" {
  expr        = "attempted >= 0"
  severity    = "warning"
  summary     = "{{destination}} receives events from {{source}}"
  description = "Destination {{destination}} of {{source}}."
}
CONF
cat >"$T/segalert.conf" <<CONF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
rule_files = {"$T/rules.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  poll_interval = "5s"
  delivery_window = "1m"
  request_budget = 600
}
defaults {
  group_by = {"rule", "destination"}
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "1h"
}
receiver "hook" { type = "webhook" url = "http://127.0.0.1:$hook_PORT/hook" hmac_secret = "k3y-s3cret" }
receiver "chat" { type = "slack" url = "http://127.0.0.1:$slack_PORT/services/T/B/x" }
receiver "pager" {
  type = "pagerduty"
  url = "http://127.0.0.1:$pd_PORT/v2/enqueue"
  routing_key = "R0uting0Key0abcdef0123456789abcd"
}
receiver "am" { type = "alertmanager" url = "http://127.0.0.1:$am_PORT" }
receiver "mail" {
  type = "email"
  smtp_host = "127.0.0.1"
  smtp_port = $SMTP_PORT
  starttls = "no"
  from = "segalert@example.com"
  to = {"oncall@example.com"}
}
receiver "console" { type = "log" }
route "hook" { receiver = "hook" continue = true }
route "chat" { receiver = "chat" continue = true }
route "pager" { receiver = "pager" continue = true }
route "am" { receiver = "am" continue = true }
route "mail" { receiver = "mail" continue = true }
route "console" { receiver = "console" }
CONF
chmod 600 "$T/segalert.conf"

SIM_TOKEN=test-token "$SEGALERT" run -c "$T/segalert.conf" >"$T/run.out" 2>"$T/run.err" &
DPID=$!
bg_pid $DPID

count() { ls "$T/$1" 2>/dev/null | grep -c "$2"; }
all_delivered() {
    [ "$(count hook '\.json$')" -ge 2 ] && [ "$(count slack '\.json$')" -ge 2 ] &&
    [ "$(count pd '\.json$')" -ge 2 ] && [ "$(count am '\.json$')" -ge 2 ] &&
    [ "$(count mail '\.eml$')" -ge 2 ]
}
if wait_for 60 all_delivered; then
    ok "both groups (invalid UTF-8, 300 KB name) reached every receiver"
else
    notok "both groups (invalid UTF-8, 300 KB name) reached every receiver"
    for s in hook slack pd am mail; do echo "  # $s: $(ls "$T/$s" 2>/dev/null | wc -l)"; done
    grep -i 'warn\|error' "$T/run.err" | cut -c1-300 | tail -10 | sed 's/^/  # /'
fi

# ---- what the HTTP receivers got ------------------------------------------------
# sinkcheck NAME LIMIT EXPR: for every record of sink NAME: answered 2xx,
# body strict UTF-8 JSON within LIMIT bytes, and EXPR holds (b = the body)
sinkcheck() {
    "$PY" - "$T/$1" "$2" "$3" <<'EOF'
import base64, glob, json, os, sys
d, limit, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MARK = "\u2026 [truncated]"
recs = [json.load(open(f)) for f in sorted(glob.glob(d + "/*.json"))]
if not recs:
    sys.exit("no request")
bad = 0
for r in recs:
    raw = base64.b64decode(r["body_b64"])
    why = None
    if not 200 <= r["status"] < 300:
        why = "answered %d (%s)" % (r["status"], r.get("refused"))
    elif len(raw) > limit:
        why = "%d bytes > %d" % (len(raw), limit)
    else:
        b = json.loads(raw.decode("utf-8"))
        if not eval(expr):
            why = "does not hold: " + expr
    if why:
        bad += 1
        sys.stderr.write("  # %s %s: %s\n" % (os.path.basename(d), r["path"], why))
sys.exit(1 if bad else 0)
EOF
}
# sinkcheck_any NAME EXPR: EXPR holds for at least one body of sink NAME
sinkcheck_any() {
    "$PY" - "$T/$1" "$2" <<'EOF'
import base64, glob, json, sys
d, expr = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(d + "/*.json")):
    r = json.load(open(f))
    try:
        b = json.loads(base64.b64decode(r["body_b64"]).decode("utf-8"))
    except ValueError:
        continue
    if eval(expr):
        sys.exit(0)
sys.exit(1)
EOF
}
check "webhook: every body 2xx, strict UTF-8 JSON, <= 1 MiB" sinkcheck hook $BODY_MAX 'True'
check "webhook: the 300 KB name cut with '… [truncated]', the bad bytes as U+FFFD" \
    sinkcheck hook $BODY_MAX 'not any("destination" in a["labels"] for a in b["alerts"]) or any(MARK in a["labels"]["destination"] or "\ufffd" in a["labels"]["destination"] for a in b["alerts"] if "destination" in a["labels"])'
check "webhook: still signed (t=..,v1=..)" \
    sinkcheck hook $BODY_MAX 'r["headers"]["X-Segalert-Signature"].startswith("t=")'
check "slack: every body 2xx, strict UTF-8 JSON" sinkcheck slack $BODY_MAX 'True'
check "slack: within Slack's limits (text, header 150, sections 3000, fields 2000, 50 blocks)" \
    sinkcheck slack $BODY_MAX 'len(b["text"]) <= 40000 and len(b["blocks"][0]["text"]["text"]) <= 150 and len(b["blocks"]) + len(b["attachments"][0]["blocks"]) <= 50 and all(len(x["text"]["text"]) <= 3000 and all(len(f["text"]) <= 2000 for f in x["fields"]) for x in b["attachments"][0]["blocks"] if x["type"] == "section")'
check "pagerduty: every event 202, strict UTF-8 JSON, <= 512 KB" sinkcheck pd $PD_MAX 'True'
# (a slow machine may also resolve the alert, or page segalert-coverage:
# the content checks are about the hostile alert's triggers)
check "pagerduty: summary <= 1024 in every trigger" \
    sinkcheck pd $PD_MAX 'b["event_action"] != "trigger" or len(b["payload"]["summary"]) <= 1024'
check "pagerduty: the alert was triggered" \
    sinkcheck_any pd 'b["event_action"] == "trigger"'
check "alertmanager: every post 2xx, strict UTF-8 JSON, <= 1 MiB, at /api/v2/alerts" \
    sinkcheck am $BODY_MAX 'r["path"] == "/api/v2/alerts" and isinstance(b, list) and b'
# ---- email ---------------------------------------------------------------------
"$PY" - "$T/mail" <<'EOF' >"$T/mail.check" 2>&1
import glob, sys
bad = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    raw = open(f, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print("%s: not UTF-8: %s" % (f, e)); bad += 1; continue
    head, _, body = text.partition("\r\n\r\n")
    if len(body.encode()) > 1048576:
        print("%s: body of %d bytes" % (f, len(body.encode()))); bad += 1
    if any(len(l.encode()) > 998 for l in text.split("\r\n")):
        print("%s: a line over 998 bytes" % f); bad += 1
    if "\x1b" in text or "\x07" in text:
        print("%s: a raw control character" % f); bad += 1
sys.exit(1 if bad else 0)
EOF
check "email: every message UTF-8, body <= 1 MiB, lines <= 998, no raw ESC/BEL" [ $? = 0 ]
[ -s "$T/mail.check" ] && sed 's/^/  # /' "$T/mail.check"

# ---- /metrics, the page, the API ----------------------------------------------------
curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
check "/metrics has the hostile series" grep -q 'segment_successes_total{' "$T/metrics"
check "/metrics has a U+FFFD where the bad bytes were" grep -q "$(printf '\357\277\275')" "$T/metrics"
if promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1; then
    ok "promtool check metrics accepts /metrics"
else
    notok "promtool check metrics accepts /metrics"
    cut -c1-200 "$T/promtool.out" | head -5 | sed 's/^/  # /'
fi
utf8() { "$PY" -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1" 2>/dev/null; }
curl -s "http://127.0.0.1:$PORT/" >"$T/page.html"
check "the status page is valid UTF-8" utf8 "$T/page.html"
curl -s "http://127.0.0.1:$PORT/api/v1/alerts" >"$T/alerts.json"
check "/api/v1/alerts is strict UTF-8 JSON" \
    "$PY" -c 'import json, sys; json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$T/alerts.json"

# ---- logs -----------------------------------------------------------------------------
check "no delivery failed (no permanent or retried failure logged)" \
    sh -c "! grep -q 'notify: receiver .* \\(permanently \\)\\?failed' '$T/run.err'"
check "the text log is valid UTF-8" utf8 "$T/run.err"
check "the text log has no raw ESC, BEL or C1 CSI" \
    sh -c "! grep -q \"\$(printf '\\033\\|\\007\\|\\302\\233')\" '$T/run.err'"
check "the log receiver's lines are valid UTF-8 without raw ESC/BEL" \
    sh -c "'$PY' -c 'import sys; t = open(sys.argv[1], \"rb\").read().decode(\"utf-8\"); sys.exit(\"\\x1b\" in t or \"\\x07\" in t or \"\\x9b\" in t)' '$T/run.out'"

kill -TERM $DPID
wait $DPID
check "SIGTERM: exit 0" [ $? = 0 ]
finish
