#!/usr/bin/env python3
"""Run incidents of examples/incidents/ against segalert with the shipped
rule packs and the default configuration, on a scaled clock, and judge the
notifications: each expected alert within its time, nothing else.

    incidents.py SEGALERT SEGALERT_SIM SRC_DIR WORK_DIR REPORT FILE...

Incidents run INCIDENT_JOBS at a time (default: all at once), each with
its own segalert-sim, segalert and recording webhook, on a clock scaled so
that its `observe` span takes about INCIDENT_REAL_S real seconds (default
30) -- or longer, when that would make a real second more than half a
percent of the tightest time to notify it expects.  The daemon must keep up with a clock running thousands of times real
time, so a machine too busy for that delays notifications in scenario time;
fewer jobs or more real seconds are the remedy.  Prints TAP-ish "ok - ..." /
"not ok - ..." lines and writes a Markdown table to REPORT:

    | incident | expected | time to notify | false notifications |

Times are scenario (virtual) time from the incident's start to the first
notification of the expected alert received by the webhook.  A false
notification is a firing alert that no `expect` or `allow` line of the
file names -- except a segalert-coverage alert for a family whose
staleness limit (three read intervals) is under a second of real time at
the run's scale: scheduling delay on a busy machine alone exceeds that, so
it is printed as a "# ... not counted" line instead.  The header format is
in examples/incidents/README.md.
"""
import calendar
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

REAL_S = float(os.environ.get("INCIDENT_REAL_S", "30"))
# Real time under which a coverage alert's staleness limit is judged too
# short to mean anything on a shared machine (Run.clock_blind).
COVERAGE_REAL_S = 1.0
JOBS = int(os.environ.get("INCIDENT_JOBS", "0"))


def duration(s):
    """'30m', '1h30m', '1d', '90s' -> seconds."""
    total, n = 0.0, ""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    for ch in s.strip():
        if ch.isdigit() or ch == ".":
            n += ch
        elif ch in units and n:
            total += float(n) * units[ch]
            n = ""
        else:
            raise ValueError("bad duration %r" % s)
    if n:
        raise ValueError("bad duration %r" % s)
    return total


def fmt(seconds):
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return "%dh%02dm" % (h, m)
    return "%dm%02ds" % (m, s) if m else "%ds" % s


def header(path):
    """The '# key: value' lines of an incident file."""
    h = {"expect": [], "allow": [], "config": {}}
    for line in open(path):
        m = re.match(r"#\s*([a-z-]+):\s*(.*?)\s*$", line)
        if not m:
            continue
        key, val = m.groups()
        if key in ("expect", "allow"):
            h[key].append(val)
        elif key == "config":
            for kv in val.split():
                k, v = kv.split("=", 1)
                h["config"][k] = v
        elif key in ("incident", "incident-start", "observe", "clock-start"):
            h[key] = val
    return h


def matcher(spec):
    """'rule=X a=b within 30m' -> (labels dict, within seconds or None)."""
    words = spec.split()
    within = None
    if "within" in words:
        i = words.index("within")
        within = duration(words[i + 1])
        words = words[:i]
    labels = dict(w.split("=", 1) for w in words)
    return labels, within


def matches(alert_labels, want):
    return all(alert_labels.get(k) == v for k, v in want.items())


class Sink(http.server.BaseHTTPRequestHandler):
    """Records every POST with the real time it arrived."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        self.server.records.append((time.time(), doc))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class Run:
    def __init__(self, path, args):
        self.path = path
        self.name = os.path.basename(path)[:-5]
        self.h = header(path)
        self.segalert, self.sim, self.src, work = args
        self.dir = os.path.join(work, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.observe = duration(self.h.get("observe", "2h"))
        start = self.h.get("incident-start", "none")
        self.inc_start = None if start == "none" else duration(start)
        # A real second of delay (a busy machine, the webhook's round trip)
        # is `scale` seconds of scenario time: keep it under half a percent
        # of the tightest expectation, even if observing takes longer.
        withins = [matcher(e)[1] for e in self.h["expect"] if e != "nothing"]
        withins = [w for w in withins if w]
        self.scale = max(60.0, self.observe / REAL_S)
        if withins:
            self.scale = max(60.0, min(self.scale, min(withins) / 2))
        self.results = []
        self.false = []
        self.blind = []                     # see clock_blind()
        self.error = None

    # virtual <-> real on the shared scaled clock
    def v(self, real):
        return self.vstart + (real - self.origin) * self.scale

    def run(self):
        try:
            self._run()
        except Exception as e:              # reported as a failure
            self.error = "%s: %s" % (type(e).__name__, e)

    def _run(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        srv.records = []
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.origin = time.time()
        # scenario time starts on a whole minute, so an incident at "30m"
        # starts on one too: its first minute is a whole empty minute
        self.vstart = float(int(self.origin) // 60 * 60)
        if "clock-start" in self.h:
            self.vstart = calendar.timegm(time.strptime(
                self.h["clock-start"], "%Y-%m-%dT%H:%M:%SZ"))
        env = dict(os.environ)
        env["SEGALERT_CLOCK"] = "scale=%g,origin=%.3f,start=%.3f" % (
            self.scale, self.origin, self.vstart)
        sim_out = open(os.path.join(self.dir, "sim.out"), "w+")
        sim = subprocess.Popen([self.sim, "--listen", "127.0.0.1:0",
                                "--scenario", self.path], env=env,
                               stdout=sim_out,
                               stderr=open(os.path.join(self.dir, "sim.err"), "w"))
        url = None
        for _ in range(200):
            sim_out.seek(0)
            m = re.search(r"listening on (http\S+)", sim_out.read())
            if m:
                url = m.group(1)
                break
            time.sleep(0.05)
        if not url:
            sim.kill()
            raise RuntimeError("segalert-sim did not start")
        stats = json.load(urllib.request.urlopen(url + "/sim/stats"))
        # the sim's start in scenario time: incidents count from it
        self.sim_start = self.v(time.time()) - stats["uptime_s"]
        ws = "\n".join("  %s = %s" % (k, v if v.isdigit() else '"%s"' % v)
                       for k, v in self.h["config"].items())
        conf = os.path.join(self.dir, "segalert.conf")
        with open(conf, "w") as f:
            f.write("""state_dir = "%s/state"
listen = ""
rule_files = {"%s/rules/*.conf"}
workspace "sim" {
  api_url = "%s"
  token = "sim-token"
%s
}
receiver "hook" { type = "webhook" url = "http://127.0.0.1:%d/hook" }
route "all" { receiver = "hook" }
""" % (self.dir, self.src, url, ws, srv.server_address[1]))
        daemon = subprocess.Popen([self.segalert, "run", "-c", conf], env=env,
                                  stdout=open(os.path.join(self.dir, "d.out"), "w"),
                                  stderr=open(os.path.join(self.dir, "d.err"), "w"))
        end_v = self.sim_start + self.observe
        while self.v(time.time()) < end_v and daemon.poll() is None:
            time.sleep(0.2)
        for p in (daemon, sim):
            p.send_signal(signal.SIGTERM)
        for p in (daemon, sim):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        srv.shutdown()
        self.rc = daemon.returncode
        # what the webhook received, in scenario time, for a closer look
        with open(os.path.join(self.dir, "webhook.jsonl"), "w") as f:
            for t, doc in srv.records:
                f.write(json.dumps({"received": self.v(t), "body": doc}) + "\n")
        self.judge(srv.records)

    def judge(self, records):
        firing = []                         # (virtual time, labels)
        for t, doc in records:
            for a in (doc or {}).get("alerts", []):
                if a.get("status") == "firing":
                    firing.append((self.v(t), a.get("labels", {})))
        expects = [matcher(e) for e in self.h["expect"] if e != "nothing"]
        allows = [matcher(a)[0] for a in self.h["allow"]]
        for want, within in expects:
            hits = [t for t, lab in firing if matches(lab, want)]
            ttn = (min(hits) - self.sim_start - (self.inc_start or 0)
                   if hits else None)
            self.results.append((want, within, ttn))
        seen = set()
        for t, lab in firing:
            if any(matches(lab, w) for w, _ in expects) or \
               any(matches(lab, a) for a in allows):
                continue
            key = tuple(sorted(lab.items()))
            if key in seen:
                continue
            seen.add(key)
            if self.clock_blind(lab):
                self.blind.append(lab)
            else:
                self.false.append(lab)

    def clock_blind(self, lab):
        """A coverage alert for a family whose staleness limit (three
        read intervals) is under COVERAGE_REAL_S of real time at this
        scale: a busy machine's scheduling delay alone exceeds it (at
        5,760x, three minutes of scenario time are 31 ms), so it says
        nothing about segalert.  Reported, not counted as false."""
        if lab.get("rule") != "segalert-coverage":
            return False
        cfg = self.h["config"]
        every = {"source": duration(cfg.get("volume_interval", "1m")),
                 "connection": duration(cfg.get("poll_interval", "5m")),
                 "usage": duration(cfg.get("usage_interval", "1h"))}
        fam = lab.get("family")
        return fam in every and 3 * every[fam] / self.scale < COVERAGE_REAL_S


def describe(labels):
    rule = labels.get("rule", "?")
    rest = ", ".join("%s=%s" % (k, v) for k, v in sorted(labels.items())
                     if k in ("source", "destination_type", "family",
                              "workspace") and k != "rule")
    return "%s (%s)" % (rule, rest) if rest else rule


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    args = sys.argv[1:5]
    report = sys.argv[5]
    runs = [Run(p, args) for p in sys.argv[6:]]
    slots = threading.BoundedSemaphore(JOBS if JOBS > 0 else len(runs))

    def limited(r):
        with slots:
            r.run()
    threads = [threading.Thread(target=limited, args=(r,)) for r in runs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rows = []
    for r in runs:
        if r.error:
            print("not ok - %s: %s" % (r.name, r.error))
            continue
        if r.rc not in (0, None):
            print("not ok - %s: segalert exited %s" % (r.name, r.rc))
        if not r.results:
            rows.append("| %s | nothing | - | %d |" % (r.name, len(r.false)))
        for want, within, ttn in r.results:
            what = describe(want)
            good = ttn is not None and (within is None or ttn <= within)
            print("%s - %s: %s notified %s after the incident started "
                  "(within %s)" % ("ok" if good else "not ok", r.name, what,
                                   fmt(ttn) if ttn is not None else "never",
                                   fmt(within)))
            rows.append("| %s | %s within %s | %s | %d |" % (
                r.name, what, fmt(within), fmt(ttn), len(r.false)))
        for lab in r.blind:
            print("# %s: %s not counted: at %.0fx its staleness limit is "
                  "under %.1f s of real time" % (r.name, describe(lab),
                                                 r.scale, COVERAGE_REAL_S))
        if r.false:
            print("not ok - %s: false notifications: %s" % (
                r.name, "; ".join(describe(l) for l in r.false)))
        else:
            print("ok - %s: no false notification" % r.name)
    with open(report, "w") as f:
        f.write("| incident | expected | time to notify | false "
                "notifications |\n|---|---|---|---|\n")
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
