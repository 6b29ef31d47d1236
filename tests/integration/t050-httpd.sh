#!/bin/sh
# t050-httpd: the daemon's HTTP side against segalert-sim: health and
# readiness, /metrics accepted by promtool, the JSON API, the status page
# rendered by headless Chromium (DOM and a screenshot), silences through
# the API and the CLI, reload, `segalert status` with the daemon running
# and from the state file once it has stopped.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t050-httpd.sh
#
# Needs promtool (Debian package prometheus) and chromium: when they are
# missing the test fails saying so (it does not skip).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# http METHOD PATH [curl args...]: body in $T/body, headers in $T/hdr,
# prints the status code.
http() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}

json() {    # json 'python expression over d' < file: exit 0 when true
    "$PY" -c "import json,sys
d=json.load(sys.stdin)
sys.exit(0 if ($1) else 1)"
}

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
cat >"$T/segalert.conf" <<EOF
state_dir = "$T/state"
listen = "127.0.0.1:$PORT"
enable_lifecycle = true
rule_files = {"$SRC/rules/*.conf"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
  max_concurrency = 4
}
receiver "console" { type = "log" }
route "default" { receiver = "console" }
EOF

# The CLI commands load the same configuration, secrets included.
SIM_TOKEN=test-token
export SIM_TOKEN
"$SEGALERT" run -c "$T/segalert.conf" --eval-interval 1s \
    >"$T/run.out" 2>"$T/run.err" &
RUN_PID=$!
bg_pid $RUN_PID

healthy() { [ "$(http GET /-/healthy)" = 200 ]; }
ready() { [ "$(http GET /-/ready)" = 200 ]; }
check "/-/healthy answers 200" wait_for 15 healthy
check "/-/healthy says OK" contains "$T/body" "OK"
check "/-/ready becomes 200 after the first poll" wait_for 60 ready
check "no libmicrohttpd warning at start" sh -c "! grep -q 'MHD_OPTION\|level=warn msg=\"httpd' '$T/run.err'"

# --- /metrics -------------------------------------------------------------
has_series() {
    http GET /metrics >/dev/null && grep -q '^segment_successes_total{' "$T/body"
}
check "/metrics has collected Segment series" wait_for 30 has_series
cp "$T/body" "$T/metrics"
check "/metrics content type is text/plain; version=0.0.4" \
    grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/hdr"
if command -v promtool >/dev/null 2>&1; then
    if promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1; then
        ok "promtool check metrics accepts /metrics"
    else
        notok "promtool check metrics accepts /metrics"
        head -20 "$T/promtool.out"
    fi
else
    notok "promtool not installed (Debian package prometheus)"
fi
check "segalert_workspace_up is 1" \
    grep -q '^segalert_workspace_up{workspace="sim"} 1$' "$T/metrics"
check "segalert_build_info" grep -q '^segalert_build_info{version="' "$T/metrics"
check "API requests by endpoint and code class" \
    grep -q '^segalert_api_requests_total{workspace="sim",endpoint="delivery_metrics",code_class="2xx"} [1-9]' "$T/metrics"
check "poll staleness per family" \
    grep -q '^segalert_poll_staleness_seconds{workspace="sim",family="delivery"} ' "$T/metrics"
check "connections gauge" grep -q '^segalert_connections{workspace="sim"} 3$' "$T/metrics"
check "alerts by state" grep -q '^segalert_alerts{state="firing"} ' "$T/metrics"
check "Segment series carry their labels" \
    grep -q '^segment_successes_total{.*destination="Amplitude (prod)".*workspace="sim"} ' "$T/metrics"
check "the token never appears in /metrics" sh -c "! grep -q test-token '$T/metrics'"

# --- JSON API -------------------------------------------------------------
check "GET /api/v1/alerts is 200" [ "$(http GET /api/v1/alerts)" = 200 ]
check "/api/v1/alerts is valid JSON with data.alerts" \
    json 'd["status"] == "success" and isinstance(d["data"]["alerts"], list)' <"$T/body"
check "/api/v1/rules lists the shipped rules" \
    sh -c "curl -s '$BASE/api/v1/rules' | $PY -c 'import json,sys; d=json.load(sys.stdin); n=[r[\"name\"] for r in d[\"data\"][\"rules\"]]; sys.exit(0 if \"delivery-discard-ratio\" in n else 1)'"
http GET /api/v1/status >/dev/null
check "/api/v1/status: workspace sim up, ready" \
    json 'd["data"]["ready"] and d["data"]["workspaces"][0]["name"] == "sim" and d["data"]["workspaces"][0]["up"] and d["data"]["workspaces"][0]["connections"] == 3' <"$T/body"
check "unknown path is 404" [ "$(http GET /nope)" = 404 ]
check "wrong method is 405" [ "$(http POST /metrics)" = 405 ]
check "405 says what is allowed" grep -qi '^Allow: GET, HEAD' "$T/hdr"

# --- the status page in a real browser --------------------------------------
check "GET / is text/html" sh -c "[ \"\$(curl -s -o /dev/null -w '%{content_type}' '$BASE/')\" = 'text/html; charset=utf-8' ]"
if [ -x "$CHROMIUM" ]; then
    chrome() {
        timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
            --disable-background-networking --disable-component-update \
            --disable-sync --no-first-run --user-data-dir="$T/chrome" "$@"
    }
    chrome --dump-dom "$BASE/" >"$T/dom.html" 2>"$T/chrome.err"
    check "chromium renders the page" contains "$T/dom.html" "</html>"
    check "page has the workspaces table" contains "$T/dom.html" 'id="workspaces"'
    check "page has the alerts table" contains "$T/dom.html" 'id="alerts"'
    check "page has the rules table" contains "$T/dom.html" 'id="rules"'
    check "page has receivers and silences" \
        sh -c "grep -qF 'id=\"receivers\"' '$T/dom.html' && grep -qF 'id=\"silences\"' '$T/dom.html'"
    check "page shows workspace sim polled" \
        grep -q 'data-workspace="sim"' "$T/dom.html"
    check "page lists rule delivery-discard-ratio" \
        grep -q 'class="rule" data-rule="delivery-discard-ratio"' "$T/dom.html"
    check "no script in the page" sh -c "! grep -qi '<script' '$T/dom.html'"
    chrome --screenshot="$T/status.png" --window-size=1280,900 "$BASE/" \
        >/dev/null 2>>"$T/chrome.err"
    check "screenshot produced" sh -c "[ -s '$T/status.png' ] && head -c 8 '$T/status.png' | grep -q PNG"
    if [ -n "${SCREENSHOT_DIR:-}" ] && [ -s "$T/status.png" ]; then
        cp "$T/status.png" "$SCREENSHOT_DIR/t050-status.png"
    fi
else
    notok "chromium not installed (Debian package chromium)"
fi

# --- silences through the API and the CLI ----------------------------------
code=$(http POST /api/v1/silences -H 'Content-Type: application/json' \
    --data '{"matchers":["rule=delivery-discard-ratio","source=web*"],"duration":"2h","comment":"t050","createdBy":"tester"}')
check "POST /api/v1/silences is 200" [ "$code" = 200 ]
SID=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["silenceId"])' <"$T/body" 2>/dev/null)
check "POST /api/v1/silences returns a silenceId" [ -n "$SID" ]
check "a bad silence is 400" \
    [ "$(http POST /api/v1/silences -H 'Content-Type: application/json' --data '{"matchers":["nope"],"duration":"2h","comment":"x"}')" = 400 ]
check "a silence without a comment is 400" \
    [ "$(http POST /api/v1/silences -H 'Content-Type: application/json' --data '{"matchers":["rule=x"],"duration":"2h"}')" = 400 ]
check "... which says a comment is required" contains "$T/body" "comment is required"
# the snapshot follows the main loop's next cycle
silence_listed() {
    http GET /api/v1/silences >/dev/null &&
        json "any(s['id'] == '$SID' and s['status'] == 'active' and s['matchers'] == ['rule=delivery-discard-ratio', 'source=web*'] for s in d['data']['silences'])" <"$T/body"
}
check "GET /api/v1/silences lists it as active" wait_for 5 silence_listed
"$SEGALERT" silence list -c "$T/segalert.conf" >"$T/sil.out" 2>"$T/sil.err"
check "silence list shows it" contains "$T/sil.out" "$SID"
"$SEGALERT" silence add -c "$T/segalert.conf" --match rule=mtu-* --for 30m \
    --comment "from the cli" >"$T/add.out" 2>"$T/add.err"
CID=$(cat "$T/add.out")
check "silence add through the daemon prints an id" \
    sh -c "echo '$CID' | grep -qE '^[0-9a-f]{16}$'"
"$SEGALERT" silence expire -c "$T/segalert.conf" "$CID" >"$T/exp.out" 2>&1
check "silence expire through the daemon" contains "$T/exp.out" "expired"
check "DELETE of an unknown silence is 404" \
    [ "$(http DELETE /api/v1/silence/ffffffffffffffff -H 'Content-Type: application/json')" = 404 ]

# --- reload ------------------------------------------------------------------
check "POST /-/reload is 200 (enable_lifecycle)" \
    [ "$(http POST /-/reload -H 'Content-Type: application/json')" = 200 ]
check "the daemon is still ready after the reload" wait_for 10 ready

# --- segalert status with the daemon running -----------------------------------
"$SEGALERT" status -c "$T/segalert.conf" >"$T/status.out" 2>"$T/status.err"
rc=$?
check "segalert status exits 0" [ $rc -eq 0 ]
check "segalert status prints the workspace line" grep -qE '^sim +up +3 ' "$T/status.out"
check "segalert status prints the alerts and receivers" \
    sh -c "grep -q '^ALERTS:' '$T/status.out' && grep -q '^console  *log' '$T/status.out'"
# The operator running `status` need not hold the workspace token.
env -u SIM_TOKEN "$SEGALERT" status -c "$T/segalert.conf" >"$T/status-nosecret.out" 2>"$T/status-nosecret.err"
check "segalert status works without the token in the environment" \
    grep -qE '^sim +up +3 ' "$T/status-nosecret.out"
"$SEGALERT" status -c "$T/segalert.conf" --json >"$T/status.json" 2>/dev/null
check "segalert status --json" \
    json 'd["source"] == "daemon" and d["status"]["workspaces"][0]["name"] == "sim"' <"$T/status.json"

# --url / SEGALERT_URL reach the daemon without any configuration file.
mkdir -p "$T/noconf"
(cd "$T/noconf" && "$SEGALERT" status --url "$BASE/" --wide) >"$T/status-url.out" 2>"$T/status-url.err"
check "status --url without a configuration exits 0" [ $? -eq 0 ]
check "status --url prints the workspace line" grep -qE '^sim +up +3 ' "$T/status-url.out"
(cd "$T/noconf" && SEGALERT_URL="$BASE" "$SEGALERT" silence list) >"$T/sil-url.out" 2>&1
check "SEGALERT_URL: silence list reaches the daemon" contains "$T/sil-url.out" "$SID"
"$SEGALERT" status --url "ftp://x" >/dev/null 2>"$T/status-badurl.err"
check "status --url that is not http exits 2" [ $? -eq 2 ]
check "status --url that is not http says so" contains "$T/status-badurl.err" "--url 'ftp://x' is not an http:// or https:// URL"

# --- after the daemon stops: from the state file ---------------------------------
kill -TERM $RUN_PID 2>/dev/null
gone() { ! kill -0 $RUN_PID 2>/dev/null; }
check "the daemon stops on SIGTERM" wait_for 20 gone
"$SEGALERT" status -c "$T/segalert.conf" >"$T/status2.out" 2>"$T/status2.err"
rc=$?
check "segalert status without a daemon exits 0" [ $rc -eq 0 ]
check "segalert status says it reads the state file" \
    contains "$T/status2.out" "daemon not running; from state file $T/state/state.json saved"
check "the state file keeps the silence" contains "$T/status2.out" "$SID"
"$SEGALERT" silence add -c "$T/segalert.conf" --match rule=volume-* --for 1h \
    --comment "offline" >"$T/add2.out" 2>"$T/add2.err"
OID=$(cat "$T/add2.out")
check "silence add without a daemon edits the state file" \
    sh -c "echo '$OID' | grep -qE '^[0-9a-f]{16}$'"
"$SEGALERT" silence list -c "$T/segalert.conf" >"$T/sil2.out" 2>&1
check "silence list without a daemon shows both" \
    sh -c "grep -q '$OID' '$T/sil2.out' && grep -q '$SID' '$T/sil2.out'"
"$SEGALERT" silence expire -c "$T/segalert.conf" "$OID" >/dev/null 2>&1
check "silence expire without a daemon" [ $? -eq 0 ]

# a URL given: nothing falls back to a state file (it may be another's)
(cd "$T/noconf" && "$SEGALERT" status --url "$BASE") >/dev/null 2>"$T/status-url2.err"
check "status --url with nothing listening exits 1" [ $? -eq 1 ]
check "status --url with nothing listening says so" contains "$T/status-url2.err" "nothing listens on $BASE"
"$SEGALERT" silence list -c "$T/segalert.conf" --url "$BASE" >/dev/null 2>"$T/sil-url2.err"
check "silence list --url does not fall back to the state file" [ $? -eq 1 ]

# nothing at all: no daemon, no state file
rm -rf "$T/state"
"$SEGALERT" status -c "$T/segalert.conf" >/dev/null 2>"$T/status3.err"
check "segalert status with neither daemon nor state exits 1" [ $? -eq 1 ]
finish
