#!/bin/sh
# The API's limit below the client's budget: the client slows down on 429s,
# converges, loses no sample, and the 429s stay bounded.  A 429 on
# /events/volume pauses volume only (a stub API, until segalert-sim can
# rate-limit one endpoint).
# `segalert fetch` and the sim run on a scaled clock (lib.sh
# use_scaled_clock, 10x): the sim's rate-limit window, the client's budget
# and its waits on 429s all follow it.
. "$(dirname "$0")/lib.sh"

use_scaled_clock 10

cat >"$T/rl.conf" <<'CONF'
seed = 9
token = "test-token"
rate_limit = 10          # 10 requests per 5 s window (120/min)
rate_window = "5s"
source "web_prod" {
  events_per_minute = 400
CONF
i=1
while [ $i -le 30 ]; do
    printf '  destination "d%02d" { slug = "webhooks" }\n' $i >>"$T/rl.conf"
    i=$((i + 1))
done
echo "}" >>"$T/rl.conf"
start_sim "$T/rl.conf" || { notok "sim starts"; finish; }
write_config "$T/c.conf" 'request_budget = 600' 'max_concurrency = 4'
start=$(vnow)
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/c.conf" >"$T/out" 2>"$T/err"
rc=$?
took=$(( $(vnow) - start ))
check "fetch succeeds under the rate limit ($took s)" [ $rc -eq 0 ]
n=$(grep -c '^connection {' "$T/out")
check "no sample lost: 30 connections ($n)" [ "$n" -eq 30 ]
check "usage collected" grep -q '^usage {workspace="sim"} ' "$T/out"
limited=$(sim_stat "s['rate_limited']")
accepted=$(sim_stat "s['requests_total'] - s['rate_limited']")
check "429s bounded ($limited for $accepted accepted)" [ "$limited" -le 12 ]
check "budget lowered after 429s" contains "$T/err" "budget lowered to"
peak=$(sim_stat "s['peak_accepted_per_minute']")
check "never above the API's limit over a minute ($peak accepted)" [ "$peak" -le 130 ]
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null

# --- a 429 on /events/volume pauses volume only -----------------------------------
# Real time (the stub knows no scaled clock).  One request at a time: the
# volume poll goes first (its priority is higher) and gets a 429 asking for
# 3 s; delivery metrics and usage must not wait for it.  The stub logs
# "TIME STATUS PATH" per request.
unset SEGALERT_CLOCK
cat >"$T/stub.py" <<'PYEOF'
import http.server, json, sys, time, urllib.parse
log = sys.argv[1]
state = {"volume": 0}
S = "srcA000000000000000000"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def route(self, path, q):
        if path == "/sources":
            return 200, {"data": {"sources": [{"id": S, "slug": "web",
                                               "name": "Web", "enabled": True}]}}
        if path.endswith("/connected-destinations"):
            return 200, {"data": {"destinations": [
                {"id": "d%d" % i, "name": "d%d" % i, "enabled": True,
                 "metadata": {"slug": "webhooks"}} for i in range(3)]}}
        if path.endswith("/delivery-metrics"):
            return 200, {"data": {"deliveryMetricsSummary": {"metrics": [
                {"metricName": "successes", "total": 1}]}}}
        if path == "/events/volume":
            state["volume"] += 1
            if state["volume"] == 1:
                return 429, {"errors": [{"type": "RequestError",
                    "message": "Too many requests",
                    "data": {"msBeforeNext": 3000}}]}
            return 200, {"data": {"result": [{"source": {"id": S}, "series": [
                {"time": q["startTime"][0], "count": 5}]}]}}
        key = [k for k in ("dailyPerSourceMTUUsage", "dailyWorkspaceMTUUsage",
                           "dailyPerSourceAPICallsUsage",
                           "dailyWorkspaceAPICallsUsage")]
        kind = {"/usage/mtu/sources/daily": key[0], "/usage/mtu/daily": key[1],
                "/usage/api-calls/sources/daily": key[2],
                "/usage/api-calls/daily": key[3]}.get(path)
        if kind:
            return 200, {"data": {kind: []}}
        return 404, {"errors": [{"type": "NotFound", "message": "no"}]}
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        code, body = self.route(u.path, urllib.parse.parse_qs(u.query))
        with open(log, "a") as f:
            f.write("%.3f %d %s\n" % (time.time(), code, u.path))
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("READY %d" % srv.server_address[1], flush=True)
srv.serve_forever()
PYEOF
: >"$T/stub.log"
"$PY" "$T/stub.py" "$T/stub.log" >"$T/stub.out" 2>"$T/stub.err" &
bg_pid $!
wait_for 10 grep -q '^READY' "$T/stub.out" || notok "stub starts"
SIM_URL="http://127.0.0.1:$(sed -n 's/^READY //p' "$T/stub.out")"
write_config "$T/v.conf" 'request_budget = 600' 'max_concurrency = 1'
SIM_TOKEN=test-token "$SEGALERT" fetch -c "$T/v.conf" >"$T/out" 2>"$T/err"
check "volume 429: fetch succeeds" [ $? -eq 0 ]
check "volume 429: only the volume budget lowered" contains "$T/err" "rate limited (429) on events_volume; waiting"
check "volume 429: logged as the volume class" contains "$T/err" "volume budget lowered to 42/min"
check "volume 429: volume collected after the wait" grep -q '^source {workspace="sim",source="web"' "$T/out"
check "volume 429: the others did not wait for it" "$PY" -c "
rows = [l.split() for l in open('$T/stub.log')]
t429 = [float(t) for t, c, p in rows if c == '429'][0]
others = [float(t) for t, c, p in rows if p != '/events/volume' and float(t) > t429]
retry = [float(t) for t, c, p in rows if p == '/events/volume' and c == '200'][0]
assert len(others) == 3 + 4, rows          # 3 delivery, 4 usage
assert max(others) < t429 + 1.5, (t429, others)
assert retry >= t429 + 2.9, (t429, retry)
"
finish
