#!/usr/bin/python3
"""A New Relic Metric API or OTLP/HTTP (JSON) intake for segalert's export
tests: it validates every request against the documented schema and keeps
the points it accepted (standard library only).

    export_sink.py --schema newrelic|otlp --dir DIR [--port P] [--mode M]

Listens on 127.0.0.1 only (--port 0 picks a free port) and prints "READY
<port>" once it accepts connections.  With --dead it binds the port but
does not listen - connections are refused, as by an intake that is down,
and no other process can take the port - until SIGUSR1 brings it up.
SIGTERM stops it.

Every request is checked, then recorded as DIR/NNNN.json (written to a
temporary file and renamed):

    {"path", "headers", "gzip": bool, "wire_bytes", "body_bytes",
     "errors": [every way the request breaks the schema],
     "points": [{"name", "kind": "count"|"gauge", "start", "end", "t",
                 "value", "attrs": {k: v}}],       (times: unix seconds)
     "status": the status answered, "time": arrival}

A request with errors is refused: 400 with the errors (New Relic's and the
OTLP specification's answer to a malformed payload, never retried).  A
valid one gets the intake's success: New Relic 202 {"requestId": ...};
OTLP 200 application/json {} (an ExportMetricsServiceResponse without
partialSuccess).  --mode / POST /_mode "503" answers 503 instead (a busy
intake), "hang" never answers (the request is recorded, then the
connection is held for an hour), "ok" goes back.

What is checked (the documents the exporters follow):

  New Relic, docs.newrelic.com "Report metrics via the Metric API" and
  "Metric API limits and restricted attributes": POST; Content-Type
  application/json; an Api-Key (or X-License-Key) header; Content-Encoding
  gzip or none; at most 10^6 bytes posted; a JSON array of objects with a
  "metrics" array and an optional "common" object; each metric a "name"
  (string, <= 255 characters), a numeric finite "value", "type" gauge |
  count | summary (default gauge), a "timestamp" in milliseconds (an
  integer, not older than 48 hours and not in the future by more than 10
  minutes, relative to CLOCK_*), "interval.ms" a positive integer (required
  for count); "attributes" an object of at most 100 entries, keys <= 255
  characters, values strings (<= 4096 characters), numbers or booleans.

  OTLP, opentelemetry.io/docs/specs/otlp "OTLP/HTTP" and its JSON encoding:
  POST to /v1/metrics; Content-Type application/json; gzip or none; an
  ExportMetricsServiceRequest: "resourceMetrics" [{"resource":
  {"attributes": [KeyValue]}, "scopeMetrics": [{"scope": {"name"},
  "metrics": [Metric]}]}]; lowerCamelCase field names only; a Metric has a
  non-empty "name" and exactly one of gauge / sum / histogram /
  exponentialHistogram / summary (only gauge and sum are expected here);
  a sum has "aggregationTemporality" as an INTEGER enum (1 = DELTA is what
  segalert's counts must use), "isMonotonic" a boolean, "dataPoints" with
  "startTimeUnixNano" < "timeUnixNano" (64-bit integers as decimal strings),
  exactly one of asDouble / asInt; a gauge's points have timeUnixNano;
  KeyValue = {"key": string, "value": {"stringValue"|"intValue"|
  "doubleValue"|"boolValue": ...}}.
"""

import argparse
import gzip
import json
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
NR_MAX_WIRE = 1000000
NR_MAX_ATTRS = 100
NR_MAX_NAME = 255
NR_MAX_VALUE = 4096
NR_MAX_AGE_S = 48 * 3600
FUTURE_S = 600


def vnow():
    """The tests' virtual time (tests/integration/lib.sh vtime)."""
    k = float(os.environ.get("CLOCK_SCALE", 1))
    o = float(os.environ.get("CLOCK_ORIGIN", 0))
    s = float(os.environ.get("CLOCK_START", 0))
    return s + (time.time() - o) * k


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and \
        math.isfinite(v)


# ---- New Relic ---------------------------------------------------------------

def check_newrelic(doc, errors, points):
    if not isinstance(doc, list) or not doc:
        errors.append("payload is not a non-empty JSON array")
        return
    now = vnow()
    for bi, block in enumerate(doc):
        if not isinstance(block, dict):
            errors.append("[%d] is not an object" % bi)
            continue
        extra = set(block) - {"common", "metrics"}
        if extra:
            errors.append("[%d] unknown members %s" % (bi, sorted(extra)))
        common = block.get("common", {})
        if not isinstance(common, dict):
            errors.append("[%d].common is not an object" % bi)
            common = {}
        cattrs = common.get("attributes", {})
        metrics = block.get("metrics")
        if not isinstance(metrics, list):
            errors.append("[%d].metrics is not an array" % bi)
            continue
        for mi, m in enumerate(metrics):
            where = "[%d].metrics[%d]" % (bi, mi)
            if not isinstance(m, dict):
                errors.append(where + " is not an object")
                continue
            name = m.get("name")
            if not isinstance(name, str) or not name or \
                    len(name) > NR_MAX_NAME:
                errors.append(where + ".name missing or too long")
            mtype = m.get("type", "gauge")
            if mtype not in ("gauge", "count", "summary"):
                errors.append(where + ".type %r" % (mtype,))
            value = m.get("value")
            if mtype == "summary":
                if not isinstance(value, dict):
                    errors.append(where + ".value of a summary")
            elif not is_num(value):
                errors.append(where + ".value %r is not a finite number"
                              % (value,))
            ts = m.get("timestamp", common.get("timestamp"))
            if not isinstance(ts, int) or isinstance(ts, bool):
                errors.append(where + ".timestamp %r is not an integer"
                              % (ts,))
                continue
            if ts < 10 ** 12:
                errors.append(where + ".timestamp %d is not milliseconds"
                              % ts)
            t = ts / 1000.0
            if t < now - NR_MAX_AGE_S or t > now + FUTURE_S:
                errors.append(where + ".timestamp %d outside [now - 48 h, "
                              "now + 10 min]" % ts)
            iv = m.get("interval.ms", common.get("interval.ms"))
            if mtype in ("count", "summary"):
                if not isinstance(iv, int) or isinstance(iv, bool) or iv <= 0:
                    errors.append(where + ".interval.ms %r: a count needs a "
                                  "positive integer" % (iv,))
                    continue
            attrs = dict(cattrs) if isinstance(cattrs, dict) else {}
            a = m.get("attributes", {})
            if not isinstance(a, dict):
                errors.append(where + ".attributes is not an object")
                a = {}
            attrs.update(a)
            if len(attrs) > NR_MAX_ATTRS:
                errors.append(where + " has %d attributes" % len(attrs))
            for k, v in attrs.items():
                if len(k) > NR_MAX_NAME:
                    errors.append(where + " attribute name too long")
                if isinstance(v, str):
                    if len(v) > NR_MAX_VALUE:
                        errors.append(where + " attribute %s too long" % k)
                elif not (is_num(v) or isinstance(v, bool)):
                    errors.append(where + " attribute %s: %r" % (k, v))
            p = {"name": name, "kind": "count" if mtype == "count" else
                 "gauge", "value": value, "attrs": attrs, "t": t}
            if mtype == "count":
                p["start"], p["end"] = t, t + iv / 1000.0
            points.append(p)


# ---- OTLP ----------------------------------------------------------------------

ANY_VALUES = ("stringValue", "intValue", "doubleValue", "boolValue",
              "arrayValue", "kvlistValue", "bytesValue")
METRIC_DATA = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


def check_keys(obj, allowed, where, errors):
    bad = set(obj) - set(allowed)
    if bad:
        errors.append("%s: unknown or non-camelCase fields %s"
                      % (where, sorted(bad)))


def kvs(lst, where, errors):
    out = {}
    if not isinstance(lst, list):
        errors.append(where + " is not an array")
        return out
    for i, kv in enumerate(lst):
        w = "%s[%d]" % (where, i)
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            errors.append(w + " is not a KeyValue")
            continue
        check_keys(kv, ("key", "value"), w, errors)
        v = kv.get("value")
        if not isinstance(v, dict) or len(v) != 1 or \
                next(iter(v)) not in ANY_VALUES:
            errors.append(w + ".value is not an AnyValue")
            continue
        out[kv["key"]] = next(iter(v.values()))
    return out


def nanos(v, where, errors):
    """A fixed64 in the JSON mapping: a decimal string (numbers are
    accepted by parsers, but the OTLP encoding writes strings)."""
    if not isinstance(v, str) or not v.isdigit():
        errors.append("%s %r is not a decimal string" % (where, v))
        return None
    return int(v)


def check_otlp(doc, errors, points):
    if not isinstance(doc, dict):
        errors.append("payload is not an object")
        return
    check_keys(doc, ("resourceMetrics",), "request", errors)
    rms = doc.get("resourceMetrics")
    if not isinstance(rms, list) or not rms:
        errors.append("resourceMetrics missing or empty")
        return
    for ri, rm in enumerate(rms):
        w = "resourceMetrics[%d]" % ri
        check_keys(rm, ("resource", "scopeMetrics", "schemaUrl"), w, errors)
        res = rm.get("resource", {})
        rattrs = kvs(res.get("attributes", []), w + ".resource.attributes",
                     errors)
        if "service.name" not in rattrs:
            errors.append(w + ".resource has no service.name")
        for si, sm in enumerate(rm.get("scopeMetrics") or []):
            ws = "%s.scopeMetrics[%d]" % (w, si)
            check_keys(sm, ("scope", "metrics", "schemaUrl"), ws, errors)
            scope = sm.get("scope")
            if not isinstance(scope, dict) or not scope.get("name"):
                errors.append(ws + ".scope has no name")
            for mi, m in enumerate(sm.get("metrics") or []):
                wm = "%s.metrics[%d]" % (ws, mi)
                check_keys(m, ("name", "description", "unit", "metadata") +
                           METRIC_DATA, wm, errors)
                name = m.get("name")
                if not isinstance(name, str) or not name:
                    errors.append(wm + ".name missing")
                data = [k for k in METRIC_DATA if k in m]
                if len(data) != 1:
                    errors.append(wm + " has %d data fields" % len(data))
                    continue
                kind = data[0]
                body = m[kind]
                if kind == "sum":
                    check_keys(body, ("dataPoints", "aggregationTemporality",
                                      "isMonotonic"), wm + ".sum", errors)
                    at = body.get("aggregationTemporality")
                    if not isinstance(at, int) or isinstance(at, bool):
                        errors.append(wm + ".sum.aggregationTemporality %r is "
                                      "not an integer enum" % (at,))
                    elif at != 1:
                        errors.append(wm + ".sum.aggregationTemporality %d is "
                                      "not DELTA (1)" % at)
                    if not isinstance(body.get("isMonotonic"), bool):
                        errors.append(wm + ".sum.isMonotonic not a boolean")
                elif kind == "gauge":
                    check_keys(body, ("dataPoints",), wm + ".gauge", errors)
                else:
                    errors.append(wm + ": unexpected %s" % kind)
                    continue
                for pi, dp in enumerate(body.get("dataPoints") or []):
                    wp = "%s.%s.dataPoints[%d]" % (wm, kind, pi)
                    check_keys(dp, ("attributes", "startTimeUnixNano",
                                    "timeUnixNano", "asDouble", "asInt",
                                    "exemplars", "flags"), wp, errors)
                    attrs = kvs(dp.get("attributes", []), wp + ".attributes",
                                errors)
                    t = nanos(dp.get("timeUnixNano"), wp + ".timeUnixNano",
                              errors)
                    vals = [k for k in ("asDouble", "asInt") if k in dp]
                    if len(vals) != 1:
                        errors.append(wp + " needs exactly one of asDouble, "
                                      "asInt")
                        continue
                    v = dp[vals[0]]
                    if vals[0] == "asInt":
                        v = int(v) if isinstance(v, str) and \
                            v.lstrip("-").isdigit() else None
                    if not is_num(v):
                        errors.append(wp + " value %r" % (dp[vals[0]],))
                        continue
                    if t is None:
                        continue
                    p = {"name": name, "kind": "gauge", "value": v,
                         "attrs": attrs, "t": t / 1e9}
                    if kind == "sum":
                        st = nanos(dp.get("startTimeUnixNano"),
                                   wp + ".startTimeUnixNano", errors)
                        if st is None:
                            continue
                        if not st < t:
                            errors.append(wp + ": startTimeUnixNano is not "
                                          "before timeUnixNano")
                        p["kind"] = "count"
                        p["start"], p["end"] = st / 1e9, t / 1e9
                    points.append(p)


# ---- the server -------------------------------------------------------------------

class Sink:
    def __init__(self, directory, schema, mode):
        self.dir = directory
        self.schema = schema
        self.mode = mode
        self.lock = threading.Lock()
        self.count = 0

    def record(self, rec):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, "%04d" % n)
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(rec, f, sort_keys=True)
        os.rename(base + ".tmp", base + ".json")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "segalert-export-sink/1"
    sink = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_count":
            return self.answer(200, {"count": self.sink.count})
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        arrived = time.time()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if self.path == "/_mode":
            self.sink.mode = raw.decode().strip()
            return self.answer(200, {"mode": self.sink.mode})
        sink = self.sink
        errors, points = [], []
        h = {k.lower(): v for k, v in self.headers.items()}
        ctype = h.get("content-type", "").split(";")[0].strip()
        if ctype != "application/json":
            errors.append("Content-Type %r" % ctype)
        enc = h.get("content-encoding", "identity").lower()
        body = raw
        if enc == "gzip":
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError) as e:
                errors.append("bad gzip: %s" % e)
                body = None
        elif enc not in ("identity", ""):
            errors.append("Content-Encoding %r" % enc)
        if sink.schema == "newrelic":
            if not (h.get("api-key") or h.get("x-license-key")):
                errors.append("no Api-Key header")
            if len(raw) > NR_MAX_WIRE:
                errors.append("%d bytes posted, over 10^6" % len(raw))
        else:
            if not self.path.split("?")[0].endswith("/v1/metrics"):
                errors.append("path %s is not /v1/metrics" % self.path)
        doc = None
        if body is not None:
            try:
                doc = json.loads(body)
            except ValueError as e:
                errors.append("not JSON: %s" % e)
        if doc is not None:
            if sink.schema == "newrelic":
                check_newrelic(doc, errors, points)
            else:
                check_otlp(doc, errors, points)
        if errors:
            status, reply = 400, {"errors": errors[:20]}
            points = []
        elif sink.mode in ("503", "hang"):
            status, reply = 503, {"error": "busy"}
            points = []
        elif sink.schema == "newrelic":
            status, reply = 202, {"requestId": "r%d" % (sink.count + 1)}
        else:
            status, reply = 200, {}
        sink.record({"path": self.path, "headers": dict(self.headers),
                     "gzip": enc == "gzip", "wire_bytes": len(raw),
                     "body_bytes": len(body or b""), "errors": errors,
                     "points": points, "status": status, "time": arrived,
                     "mode": sink.mode})
        if sink.mode == "hang":
            time.sleep(3600)
            return
        try:
            self.answer(status, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", choices=("newrelic", "otlp"), required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--dead", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    Handler.sink = Sink(a.dir, a.schema, a.mode)
    srv = ThreadingHTTPServer((HOST, a.port), Handler,
                              bind_and_activate=False)
    srv.daemon_threads = True
    srv.server_bind()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    up = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: up.set())
    if not a.dead:
        up.set()
    print("READY %d" % srv.server_address[1], flush=True)
    try:
        while not up.wait(0.1):
            pass
        srv.server_activate()       # listen(): connections are accepted
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
