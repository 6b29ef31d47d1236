#!/bin/sh
# t051-admin-api: no web page can change segalert (README.md "Operations",
# "HTTP API safety").  Against a running daemon:
#   - the CSRF form: a text/plain POST with a foreign Origin (curl, and a
#     real form submitted by headless Chromium from another origin) creates
#     no silence, and cannot reload;
#   - DNS rebinding: Host: attacker.example is 421 on every endpoint;
#   - /-/reload over HTTP is off (403 naming enable_lifecycle) unless
#     enable_lifecycle = true;
#   - "/-/reload%00.css" is 404, not a reload;
#   - with admin_token set, the token is required on the loopback listener
#     too, and the CLI (segalert silence) sends it from admin_token_env.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim sh tests/integration/t051-admin-api.sh
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# http METHOD PATH [curl args...]: body in $T/body, prints the status.
http() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}

# nsilences: how many silences the daemon lists.
nsilences() {
    curl -s "$BASE/api/v1/silences" |
        "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["silences"]))'
}

start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "sim starts"; finish; }
SIM_TOKEN=test-token
export SIM_TOKEN

# start_daemon NAME [global lines...]: segalert on a free port; sets BASE,
# PORT, DPID; its stderr in $T/NAME.err.
start_daemon() {
    name=$1
    shift
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    {
        echo "state_dir = \"$T/state-$name\""
        echo "listen = \"127.0.0.1:$PORT\""
        for line in "$@"; do echo "$line"; done
        echo "workspace \"sim\" {"
        echo "  api_url = \"$SIM_URL\""
        echo "  token_env = \"SIM_TOKEN\""
        echo "}"
        echo "rule \"traffic\" { expr = \"successes > 0\" }"
        echo "receiver \"console\" { type = \"log\" }"
        echo "route \"default\" { receiver = \"console\" }"
    } >"$T/$name.conf"
    "$SEGALERT" run -c "$T/$name.conf" >"$T/$name.out" 2>"$T/$name.err" &
    DPID=$!
    bg_pid $DPID
    wait_for 15 sh -c "curl -sf '$BASE/-/healthy' >/dev/null"
}

stop_daemon() {
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
}

printf '%s' '{"matchers":["rule=*"],"duration":"8760h","comment":"x","createdBy":"attacker"}' >"$T/silence.json"

# ---- a loopback daemon without admin_token, enable_lifecycle off ------------
check "daemon A (loopback, no token) answers" start_daemon a
check "no silence to begin with" [ "$(nsilences)" = 0 ]

code=$(http POST /api/v1/silences -H 'Origin: http://attacker.example' \
    -H 'Content-Type: text/plain' --data-binary @"$T/silence.json")
check "CSRF form (Origin attacker.example, text/plain) is refused ($code)" [ "$code" = 403 ]
code=$(http POST /api/v1/silences -H 'Content-Type: text/plain' \
    --data-binary @"$T/silence.json")
check "a text/plain body without Origin is 415 ($code)" [ "$code" = 415 ]
code=$(http POST /api/v1/silences -H 'Origin: http://attacker.example' \
    -H 'Content-Type: application/json' --data-binary @"$T/silence.json")
check "JSON from a foreign Origin is 403 ($code)" [ "$code" = 403 ]
code=$(http POST /api/v1/silences -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary @"$T/silence.json")
check "a urlencoded form body is 415 ($code)" [ "$code" = 415 ]
check "no silence was created" [ "$(nsilences)" = 0 ]

code=$(http POST /-/reload -H 'Origin: http://attacker.example' \
    -H 'Content-Type: text/plain' --data-binary 'x')
check "CSRF form on /-/reload is refused ($code)" [ "$code" = 403 ]
code=$(http POST /-/reload -H 'Content-Type: application/json')
check "/-/reload without enable_lifecycle is 403 ($code)" [ "$code" = 403 ]
check "... saying which option enables it" contains "$T/body" "enable_lifecycle = true"
code=$(http POST '/-/reload%00.css' -H 'Content-Type: application/json')
check "/-/reload%00.css is 404 ($code)" [ "$code" = 404 ]
check "nothing was reloaded" sh -c "! grep -q 'daemon: reloading' '$T/a.err'"

# DNS rebinding: the page's own name in Host
for p in /api/v1/alerts /api/v1/silences /api/v1/status /metrics / /-/healthy; do
    code=$(http GET "$p" -H 'Host: attacker.example')
    check "GET $p with Host: attacker.example is 421 ($code)" [ "$code" = 421 ]
done
code=$(http GET /api/v1/alerts -H "Host: attacker.example:$PORT")
check "... with the port too ($code)" [ "$code" = 421 ]
code=$(http DELETE /api/v1/silence/0123456789abcdef -H 'Host: attacker.example' \
    -H 'Content-Type: application/json')
check "DELETE with Host: attacker.example is 421 ($code)" [ "$code" = 421 ]
code=$(http GET /api/v1/alerts -H "Host: localhost:$PORT")
check "Host: localhost:PORT is served ($code)" [ "$code" = 200 ]
code=$(http GET /api/v1/alerts -H "Host: [::1]:$PORT")
check "Host: [::1]:PORT is served ($code)" [ "$code" = 200 ]

# The form a page would really send, from another origin, in a browser.
if [ -x "$CHROMIUM" ]; then
    mkdir -p "$T/site"
    cat >"$T/site/index.html" <<EOF
<!doctype html>
<html><body>
<form id="f" method="POST" enctype="text/plain" action="$BASE/api/v1/silences">
<input type="hidden" name='{"matchers":["rule=*"],"duration":"8760h","comment":"csrf","x":"' value='"}'>
</form>
<form id="g" method="POST" enctype="text/plain" action="$BASE/-/reload" target="r">
<input type="hidden" name="a" value="b">
</form>
<iframe name="r"></iframe>
<script>document.getElementById("g").submit(); document.getElementById("f").submit();</script>
</body></html>
EOF
    SITE_PORT=$(free_port)
    (cd "$T/site" && exec "$PY" -m http.server "$SITE_PORT" --bind 127.0.0.1) \
        >"$T/site.out" 2>&1 &
    bg_pid $!
    wait_for 10 sh -c "curl -sf http://127.0.0.1:$SITE_PORT/index.html >/dev/null"
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update \
        --disable-sync --no-first-run --user-data-dir="$T/chrome" \
        --virtual-time-budget=5000 --dump-dom \
        "http://127.0.0.1:$SITE_PORT/index.html" >"$T/csrf-dom.html" 2>"$T/chrome.err"
    check "the browser's form POST reached the daemon and was refused" \
        contains "$T/csrf-dom.html" "cross-origin request refused"
    check "the browser's form created no silence" [ "$(nsilences)" = 0 ]
    check "the browser's form did not reload" sh -c "! grep -q 'daemon: reloading' '$T/a.err'"
else
    notok "chromium not installed (Debian package chromium)"
fi

# The CLI still works (JSON, no token needed on loopback without one).
"$SEGALERT" silence add -c "$T/a.conf" --match rule=traffic --for 1h \
    --comment "t051" --author tester >"$T/add-a.out" 2>"$T/add-a.err"
check "silence add through daemon A" grep -qE '^[0-9a-f]{16}$' "$T/add-a.out"
check "one silence now" [ "$(nsilences)" = 1 ]
"$SEGALERT" silence add -c "$T/a.conf" --match rule=traffic --for 1h \
    >"$T/add-nc.out" 2>"$T/add-nc.err"
check "silence add without --comment exits 2" [ $? -eq 2 ]
check "... asking for --comment" contains "$T/add-nc.err" "--comment TEXT is required"
AID=$(cat "$T/add-a.out")
"$SEGALERT" silence expire -c "$T/a.conf" "$AID" >"$T/exp-a.out" 2>&1
check "silence expire through daemon A" contains "$T/exp-a.out" "expired"
stop_daemon

# ---- admin_token on loopback, enable_lifecycle on, allowed_hosts ---------------
T051_ADMIN=t051-admin-secret
export T051_ADMIN
check "daemon B (loopback, admin_token, enable_lifecycle) answers" \
    start_daemon b 'admin_token_env = "T051_ADMIN"' 'enable_lifecycle = true' \
    'allowed_hosts = {"segalert.test"}'
code=$(http POST /api/v1/silences -H 'Content-Type: application/json' \
    --data-binary @"$T/silence.json")
check "loopback: a write without the token is 401 ($code)" [ "$code" = 401 ]
code=$(http POST /api/v1/silences -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer wrong' --data-binary @"$T/silence.json")
check "loopback: a wrong token is 401 ($code)" [ "$code" = 401 ]
code=$(http DELETE /api/v1/silence/0123456789abcdef -H 'Content-Type: application/json')
check "loopback: DELETE without the token is 401 ($code)" [ "$code" = 401 ]
code=$(http POST /-/reload -H 'Content-Type: application/json')
check "loopback: /-/reload without the token is 401 ($code)" [ "$code" = 401 ]
check "no silence was created" [ "$(nsilences)" = 0 ]
code=$(http GET /api/v1/silences)
check "reads need no token ($code)" [ "$code" = 200 ]
code=$(http GET /api/v1/status -H 'Host: segalert.test')
check "Host: segalert.test (allowed_hosts) is served ($code)" [ "$code" = 200 ]
code=$(http GET /api/v1/status -H 'Host: other.test')
check "Host: other.test is 421 ($code)" [ "$code" = 421 ]
code=$(http POST /-/reload -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $T051_ADMIN")
check "/-/reload with the token and enable_lifecycle is 200 ($code)" [ "$code" = 200 ]
check "the daemon reloaded" wait_for 10 grep -q 'daemon: reloaded' "$T/b.err"
check "... with nothing to say about the HTTP settings" \
    sh -c "! grep -q 'the HTTP server takes them on restart' '$T/b.err'"
# The HTTP server keeps its settings until a restart, and says so.
sed -i 's/^enable_lifecycle = true/enable_lifecycle = false/' "$T/b.conf"
kill -HUP "$DPID"
check "a reload that changes enable_lifecycle warns it takes effect on restart" \
    wait_for 10 grep -q 'enable_lifecycle changed; the HTTP server takes them on restart' "$T/b.err"
code=$(http POST /-/reload -H 'Origin: http://attacker.example' \
    -H 'Content-Type: text/plain' -H "Authorization: Bearer $T051_ADMIN")
check "... but not from a form, token or not ($code)" [ "$code" = 403 ]

"$SEGALERT" silence add -c "$T/b.conf" --match rule=traffic --for 1h \
    --comment "with the token" >"$T/add-b.out" 2>"$T/add-b.err"
check "the CLI sends the token from admin_token_env" grep -qE '^[0-9a-f]{16}$' "$T/add-b.out"
BID=$(cat "$T/add-b.out")
env -u T051_ADMIN "$SEGALERT" silence add -c "$T/b.conf" --match rule=traffic \
    --for 1h --comment "no token" >"$T/add-b2.out" 2>"$T/add-b2.err"
check "without the token the CLI fails" [ $? -ne 0 ]
check "... saying the daemon wants the admin_token" contains "$T/add-b2.err" "admin_token"
"$SEGALERT" silence list -c "$T/b.conf" >"$T/list-b.out" 2>&1
check "silence list shows the CLI's silence" contains "$T/list-b.out" "$BID"
"$SEGALERT" silence expire -c "$T/b.conf" "$BID" >"$T/exp-b.out" 2>&1
check "silence expire with the token" contains "$T/exp-b.out" "expired"
check "the token never appears in the log" sh -c "! grep -q '$T051_ADMIN' '$T/b.err'"
stop_daemon
finish
