# e2e-lib.sh - helpers shared by the end-to-end tests (t06x): a recording
# webhook receiver, waiting with timeouts, daemon start/stop helpers and the
# sanitizer-report check.  Source it after lib.sh (it uses $T, $PY, bg_pid).
# ---- ------------------------------------------------------------------
# A recording HTTP receiver: every request goes to DIR/NNNN.json as
# {"method","path","headers","body","mode","t"}; the answer depends on the
# mode (ok: 200; 500: 500; hang: no answer for 60 s), set with POST /_mode.
cat >"$T/sink.py" <<'PYEOF'
import http.server, json, os, sys, threading, time
out = sys.argv[1]
state = {"mode": sys.argv[2] if len(sys.argv) > 2 else "ok", "n": 0}
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, code, text):
        b = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.answer(200, state["mode"])
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = body.decode("utf-8", "replace")
        if self.path == "/_mode":
            state["mode"] = body.strip()
            self.answer(200, "ok")
            return
        with lock:
            state["n"] += 1
            k = state["n"]
            mode = state["mode"]
        rec = {"method": "POST", "path": self.path, "headers": dict(self.headers),
               "body": body, "mode": mode, "t": time.time()}
        tmp = os.path.join(out, ".%04d.tmp" % k)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(out, "%04d.json" % k))
        if mode == "hang":
            time.sleep(60)
            self.close_connection = True
            return
        self.answer(500 if mode == "500" else 200, "ok" if mode == "ok" else "boom")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("READY %d" % srv.server_address[1], flush=True)
srv.serve_forever()
PYEOF

# start_sink NAME [MODE]: records into $T/NAME/, sets NAME_URL.
start_sink() {
    mkdir -p "$T/$1"
    "$PY" "$T/sink.py" "$T/$1" "${2:-ok}" >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    i=0
    while [ $i -lt 100 ]; do
        p=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$1.out" 2>/dev/null)
        if [ -n "$p" ]; then
            eval "${1}_URL=http://127.0.0.1:$p"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# sinkq NAME EXPR: a python expression over R (the recorded requests, each
# with "j" = the parsed JSON body) and A (those answered 200), with
# st(s) = number of answered notifications whose status is s.
sinkq() {
    "$PY" -c "import glob, json, os, re, sys
R = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], '[0-9]*.json'))):
    r = json.load(open(f))
    try:
        r['j'] = json.loads(r['body'])
    except ValueError:
        r['j'] = None
    R.append(r)
A = [r for r in R if r['mode'] == 'ok']
def st(s):
    return sum(1 for r in A if isinstance(r['j'], dict) and r['j'].get('status') == s)
print($2)" "$T/$1"
}
# sinktrue NAME EXPR: exit 0 when the expression is true
sinktrue() { [ "$(sinkq "$1" "bool($2)")" = True ]; }

# alive PID: the process exists and is not a zombie (kill -0 succeeds on
# a child this shell has not reaped yet).
alive() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# stop_daemon PID SECONDS: SIGTERM, wait up to SECONDS; sets RC to the exit
# code (124 when it had to be killed).
stop_daemon() {
    kill -TERM "$1" 2>/dev/null
    n=$(($2 * 10))
    while [ $n -gt 0 ] && alive "$1"; do
        sleep 0.1
        n=$((n - 1))
    done
    if alive "$1"; then
        kill -9 "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        RC=124
        return
    fi
    wait "$1"
    RC=$?
}

no_sanitizer_report() {
    ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$@"
}
