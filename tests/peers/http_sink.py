#!/usr/bin/python3
"""A recording HTTP peer for segalert's receiver tests (standard library only).

    http_sink.py --port P --dir DIR [--mode MODE] [--strict] [--max-body N]

Listens on 127.0.0.1 only (--port 0 picks a free port) and prints
"READY <port>" on stdout once it accepts connections; otherwise quiet.
SIGTERM (or SIGINT) stops it.

Every request except the control endpoints below is recorded as
DIR/NNNN.json (0001, 0002, ... in arrival order), written to a temporary
file and renamed into place, so a reader that sees N files sees N complete
records:

    {"method", "path", "headers": {name: value}, "body": text (UTF-8,
     invalid bytes replaced), "body_b64": the exact body bytes in base64,
     "time": arrival (Unix seconds, float), "mode": the mode that answered,
     "status": the status code answered}

How it answers depends on the mode (initially --mode, default "ok"):

    ok                   200 {"status":"ok"}  (a generic receiver's success;
                         NOT Slack's confirmation)
    slack-ok             200 "ok"  (Slack incoming webhook success)
    pd-202               202 {"status":"success","message":"Event processed",
                         "dedup_key": the request's dedup_key}  (PagerDuty)
    429:N                429 with "Retry-After: N"
    500                  500 "internal server error"
    NNN                  any other status code NNN with a short text body
    400-invalid-payload  400 "invalid_payload"  (Slack's error style)
    400-json             400 {"status":"invalid event","message":"Event object
                         is invalid","errors":["..."]}  (PagerDuty's style)
    400-echo             400 "refused <path>: <first 60 bytes of the body>"
                         (a service that quotes what it got, secrets and all)
    slow:N               sleep N seconds, then 200 {"status":"ok"}

MODE may be a comma-separated list ("429:2,ok"): each request consumes the
first entry while more than one remain, so the last one sticks.

Like a strict service, whatever the mode:
    --strict      a body that is not valid UTF-8 JSON (Python's json.loads
                  of the bytes decoded strictly) is answered 400
                  "invalid_payload" (what Slack, PagerDuty or a strict
                  webhook answer: a permanent failure for segalert);
    --max-body N  a body over N bytes is answered 413.
The record then has "refused" with the reason.

Control endpoints (not recorded):
    POST /_mode   body = the new MODE (list); answers 200 "ok"
    GET  /_mode   the current mode list
    GET  /_count  the number of requests recorded so far
    GET  /_stats  {"count": recorded, "inflight": recorded requests not yet
                  answered, "max_inflight": the most at once so far}
                  (a request counts from its arrival until its answer is
                  about to be written, so it never outlasts the client's
                  view of the request)
"""

import argparse
import base64
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"

PD_INVALID = {
    "status": "invalid event",
    "message": "Event object is invalid",
    "errors": ["'routing_key' is invalid (must be 32 characters)"],
}


class Sink:
    def __init__(self, directory, mode):
        self.dir = directory
        self.lock = threading.Lock()
        self.count = 0
        self.inflight = 0
        self.max_inflight = 0
        self.modes = parse_modes(mode)

    def enter(self):
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def leave(self):
        with self.lock:
            self.inflight -= 1

    def take_mode(self):
        with self.lock:
            m = self.modes[0]
            if len(self.modes) > 1:
                self.modes.pop(0)
            return m

    def set_modes(self, text):
        modes = parse_modes(text)
        with self.lock:
            self.modes = modes

    def record(self, rec):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, "%04d" % n)
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(rec, f, indent=1, sort_keys=True)
        os.rename(base + ".tmp", base + ".json")


MODE_RE = re.compile(r"^(ok|slack-ok|pd-202|400-invalid-payload|400-json|400-echo|"
                     r"429:\d+(\.\d+)?|slow:\d+(\.\d+)?|[1-5]\d\d)$")


def parse_modes(text):
    modes = [m.strip() for m in text.strip().split(",") if m.strip()]
    if not modes:
        raise ValueError("empty mode")
    for m in modes:
        if not MODE_RE.match(m):
            raise ValueError("unknown mode %r" % m)
    return modes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive; answers Expect: 100-continue
    server_version = "segalert-http-sink/1"
    sink = None                     # set in main()
    strict = False
    max_body = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, body, ctype="text/plain", extra=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            ctype = "application/json"
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def handle_any(self):
        arrived = time.time()
        body = self.read_body()
        path = self.path
        refused = None
        if path not in ("/_count", "/_mode"):
            if self.max_body is not None and len(body) > self.max_body:
                refused = (413, "body of %d bytes over %d" % (len(body), self.max_body))
            elif self.strict:
                try:
                    json.loads(body.decode("utf-8"))
                except ValueError as e:     # UnicodeDecodeError included
                    refused = (400, "invalid_payload: %s" % e)
        if path == "/_count" and self.command == "GET":
            return self.answer(200, "%d\n" % self.sink.count)
        if path == "/_stats" and self.command == "GET":
            with self.sink.lock:
                stats = {"count": self.sink.count,
                         "inflight": self.sink.inflight,
                         "max_inflight": self.sink.max_inflight}
            return self.answer(200, stats)
        if path == "/_mode" and self.command == "GET":
            return self.answer(200, ",".join(self.sink.modes) + "\n")
        if path == "/_mode" and self.command == "POST":
            try:
                self.sink.set_modes(body.decode("utf-8", "replace"))
            except ValueError as e:
                return self.answer(400, "%s\n" % e)
            return self.answer(200, "ok")

        self.sink.enter()
        try:
            status, reply, extra = self.record_and_wait(arrived, body, path,
                                                        refused)
        finally:
            self.sink.leave()
        try:
            self.answer(status, reply, extra=extra)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do

    def record_and_wait(self, arrived, body, path, refused):
        """Record the request; returns the answer after the mode's delay.
        refused: (status, reason) when --strict/--max-body refuse the body."""
        mode = self.sink.take_mode()
        status, reply, extra, delay = 200, {"status": "ok"}, [], 0.0
        if refused:
            mode = "refused"
        if mode == "slack-ok":
            reply = "ok"
        elif mode == "pd-202":
            status = 202
            try:
                key = json.loads(body).get("dedup_key")
            except (ValueError, AttributeError):
                key = None
            reply = {"status": "success", "message": "Event processed",
                     "dedup_key": key}
        elif mode.startswith("429:"):
            status, reply = 429, {"message": "rate limited"}
            extra = [("Retry-After", mode[4:])]
        elif mode == "400-invalid-payload":
            status, reply = 400, "invalid_payload"
        elif mode == "400-json":
            status, reply = 400, PD_INVALID
        elif mode == "400-echo":
            status = 400
            reply = "refused %s: %s" % (path, body[:60].decode("utf-8", "replace"))
        elif mode.startswith("slow:"):
            delay = float(mode[5:])
        elif mode == "refused":
            status, reply = refused
        elif mode != "ok":
            status = int(mode)
            reply = "internal server error" if status == 500 else \
                "status %d from http_sink" % status

        self.sink.record({
            "method": self.command,
            "path": path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "time": arrived,
            "mode": mode,
            "status": status,
            "refused": refused[1] if refused else None,
        })
        if delay:
            time.sleep(delay)
        return status, reply, extra

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    ap = argparse.ArgumentParser(description="recording HTTP sink")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--max-body", type=int, default=None)
    args = ap.parse_args()
    Handler.strict = args.strict
    Handler.max_body = args.max_body
    os.makedirs(args.dir, exist_ok=True)
    try:
        Handler.sink = Sink(args.dir, args.mode)
    except ValueError as e:
        sys.stderr.write("http_sink.py: %s\n" % e)
        return 2

    # a burst of connections (a receiver's max_connections at once) must
    # not overflow the listen queue (default 5)
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((HOST, args.port), Handler)
    server.daemon_threads = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True)
    t.start()
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
