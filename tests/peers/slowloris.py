#!/usr/bin/python3
"""slowloris.py - slow clients against an HTTP server, and a prober that
times the answers of the paths that must keep working meanwhile.

    slowloris.py --port P --conns 200 --sources 127.0.0.2,127.0.0.3
                 --duration 15 [--trickle 1.0] [--probe /-/healthy,/metrics]

Opens --conns connections spread over the --sources addresses (bound as
the client side, so a server sees that many clients), sends the start of a
request and then one more header line every --trickle seconds, never the
end of the header.  The connections the server closed or refused are
opened again at each tick, as slowloris tools do.  Meanwhile a prober
(from 127.0.0.1, or --probe-source) GETs each --probe path in turn with a
1 s timeout.

Prints one JSON object: probes, failures (no 2xx within 1 s), the longest
run of consecutive failures, the slowest probe in seconds, the first
failures, and how often the server closed or refused a slow connection.
"""
import argparse
import http.client
import json
import selectors
import socket
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--sources", default="127.0.0.2")
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--trickle", type=float, default=1.0)
    p.add_argument("--probe", default="/-/healthy,/metrics")
    p.add_argument("--probe-source", default="127.0.0.1")
    p.add_argument("--probe-every", type=float, default=0.2)
    return p.parse_args()


class Slow:
    """The slow connections, driven from one thread, the way slowloris
    tools work: every --trickle seconds one more header line on every
    connection, and the ones the server closed are opened again."""

    def __init__(self, a):
        self.a = a
        self.sources = a.sources.split(",")
        self.sel = selectors.DefaultSelector()
        self.closed = 0       # closed by the server after it accepted
        self.refused = 0      # could not even connect
        self.opened = 0
        self.socks = {}       # sock -> slot
        self.dead = []        # slots to open again at the next tick

    def open(self, slot):
        src = self.sources[slot % len(self.sources)]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((src, 0))
            s.settimeout(1.0)
            s.connect((self.a.host, self.a.port))
            s.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
        except OSError:
            s.close()
            self.refused += 1
            self.dead.append(slot)
            return
        self.opened += 1
        self.socks[s] = slot
        self.sel.register(s, selectors.EVENT_READ)

    def drop(self, s):
        slot = self.socks.pop(s)
        self.sel.unregister(s)
        s.close()
        self.closed += 1
        self.dead.append(slot)

    def run(self, until):
        for i in range(self.a.conns):
            self.open(i)
        tick = time.monotonic() + self.a.trickle
        while time.monotonic() < until:
            timeout = max(0.0, min(tick, until) - time.monotonic())
            for key, _ in self.sel.select(timeout=timeout):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.drop(s)
            if time.monotonic() < tick:
                continue
            tick += self.a.trickle
            for s in list(self.socks):
                try:
                    s.send(b"X-Slow: a\r\n")
                except OSError:
                    self.drop(s)
            dead, self.dead = self.dead, []
            for slot in dead:
                self.open(slot)
        for s in list(self.socks):
            self.sel.unregister(s)
            s.close()


def probe(a, until, out):
    paths = a.probe.split(",")
    i = 0
    run = 0
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        t0 = time.monotonic()
        ok = False
        why = ""
        try:
            c = http.client.HTTPConnection(a.host, a.port, timeout=1.0,
                                           source_address=(a.probe_source, 0))
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            ok = 200 <= r.status < 300
            why = "HTTP %d" % r.status
            c.close()
        except Exception as e:  # noqa: BLE001 - any failure is a failure
            why = type(e).__name__ + ": " + str(e)
        dt = time.monotonic() - t0
        out["probes"] += 1
        out["max_s"] = max(out["max_s"], dt)
        if not ok or dt >= 1.0:
            out["failures"] += 1
            run += 1
            out["max_consecutive_failures"] = max(
                out["max_consecutive_failures"], run)
            if len(out["first_failures"]) < 5:
                out["first_failures"].append(
                    "%s after %.2f s: %s (%.3f s)" %
                    (path, time.monotonic() - out["t0"], why, dt))
        else:
            run = 0
        time.sleep(max(0, a.probe_every - dt))


def main():
    a = parse_args()
    start = time.monotonic()
    until = start + a.duration
    out = {"probes": 0, "failures": 0, "max_consecutive_failures": 0,
           "max_s": 0.0, "first_failures": [], "t0": start}
    slow = Slow(a)
    t = threading.Thread(target=slow.run, args=(until,))
    t.start()
    time.sleep(0.5)           # let the slow connections pile up first
    probe(a, until, out)
    t.join()
    del out["t0"]
    out.update(opened=slow.opened, closed_by_server=slow.closed,
               refused=slow.refused, max_s=round(out["max_s"], 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
