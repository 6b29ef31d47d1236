#!/usr/bin/python3
"""Ground truth for the export tests: read back, from every intake, the
count intervals segalert exported for each connection, and compare their
`successes` and `discarded` with what segalert-sim says for exactly those
intervals (standard library only).

  export_truth.py --sim URL --token TOKEN [--influx URL DB] [--vm URL]
                  [--sink NAME=DIR ...] [--prefix segment.]

Intakes read (each optional):
  influxdb    InfluxDB 1.x (--influx): the points of
              PREFIX_connection with interval_s > 0 (InfluxQL SELECT), and
              the totals by InfluxQL SUM() ... GROUP BY the connection.
  vm-influx   VictoriaMetrics (--vm), what the influx exporter wrote to
              /write?db=DB: PREFIX_connection_successes{db=DB} etc. with
              their interval_s, raw samples from /api/v1/export.
  vm-datadog  VictoriaMetrics, what the datadog (api_version 1) exporter
              wrote to /datadog/api/v1/series: PREFIXsuccesses etc.  The
              v1 intake keeps no interval, so an interval's length is
              looked up by its start in the other intakes (same daemon,
              same ledger).
              For both: the totals by PromQL sum_over_time over the whole
              run, which must equal the raw sums.
  NAME        an export_sink.py directory (--sink newrelic=DIR): the count
              points it accepted, with their intervals.

For each intake and connection: the intervals sorted by start; `repeats`
counts an interval exported twice (VictoriaMetrics and the sinks keep
every sample; InfluxDB would overwrite one at the same time, so there
only overlaps show), `overlaps` an interval that starts before the
previous one ends.  The intervals are merged into runs of contiguous
ones and the sim is asked for each run (GET /destinations/ID/
delivery-metrics over [start, end)): the sim is deterministic, so asking
later for a past window gives what segalert read then, and a run's
truth is exactly the sum of its intervals' truths when no outcome is
counted twice.

Prints one JSON object: {"intakes": {NAME: {"connections", "intervals",
"repeats", "overlaps", "unknown_interval", "covered_s_min" (the least
total length of exported intervals over the connections), "last_end_min"
(the earliest, over the connections, end of their last interval),
"successes": [exported, truth], "discarded": [exported, truth],
"worst_rel_err" (over connections and both metrics), "query_matches"
(the SUM / sum_over_time totals equal the raw sums, or null),
"per_connection": {...}}}}
"""
import argparse
import glob
import json
import os
import time
import urllib.parse
import urllib.request

SIM_MAX_WINDOW_S = 4 * 3600


def get(url, headers=None, raw=False):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read().decode()
    return data if raw else json.loads(data)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def sim_counts(sim, token, dest_id, source_id, start, end):
    out = {"successes": 0.0, "discarded": 0.0}
    while start < end:
        stop = min(end, start + SIM_MAX_WINDOW_S)
        q = urllib.parse.urlencode({"sourceId": source_id,
                                    "startTime": iso(start),
                                    "endTime": iso(stop),
                                    "granularity": "MINUTE"})
        d = get("%s/destinations/%s/delivery-metrics?%s" % (sim, dest_id, q),
                {"Authorization": "Bearer " + token})
        for m in d["data"]["deliveryMetricsSummary"]["metrics"]:
            if m["metricName"] in out:
                out[m["metricName"]] += float(m["total"])
        start = stop
    return out["successes"], out["discarded"]


# ---- readers: {(source_id, destination_id): [(start, length|None, s, d)]} ----

def read_influxdb(url, db, prefix):
    meas = (prefix.replace(".", "_") + "connection")
    q = ('SELECT successes, discarded, interval_s FROM "%s" WHERE '
         'interval_s > 0 GROUP BY source_id, destination_id' % meas)
    d = get("%s/query?%s" % (url, urllib.parse.urlencode(
        {"db": db, "q": q, "epoch": "s"})))
    conns = {}
    for s in d["results"][0].get("series", []):
        key = (s["tags"]["source_id"], s["tags"]["destination_id"])
        for v in s["values"]:
            r = dict(zip(s["columns"], v))
            conns.setdefault(key, []).append(
                (float(r["time"]), float(r["interval_s"]),
                 float(r["successes"] or 0), float(r["discarded"] or 0)))
    q = ('SELECT SUM(successes), SUM(discarded) FROM "%s" WHERE '
         'interval_s > 0 GROUP BY source_id, destination_id' % meas)
    d = get("%s/query?%s" % (url, urllib.parse.urlencode({"db": db, "q": q})))
    sums = {}
    for s in d["results"][0].get("series", []):
        key = (s["tags"]["source_id"], s["tags"]["destination_id"])
        r = dict(zip(s["columns"], s["values"][0]))
        sums[key] = (float(r["sum"] or 0), float(r["sum_1"] or 0))
    return conns, sums


def vm_export(url, selector):
    """{key: [(t, v)]} of the raw samples, duplicates kept."""
    q = urllib.parse.urlencode({"match[]": selector})
    out = {}
    for line in get("%s/api/v1/export?%s" % (url, q), raw=True).splitlines():
        if not line.strip():
            continue
        j = json.loads(line)
        key = (j["metric"].get("source_id"), j["metric"].get("destination_id"))
        pts = out.setdefault(key, [])
        for ts, v in zip(j["timestamps"], j["values"]):
            pts.append((ts / 1000.0, float(v)))
    return out


def vm_sum_over_time(url, selector, t_from, t_to):
    window = int(t_to - t_from) + 2
    q = ('sum by (source_id, destination_id) (sum_over_time(%s[%ds]))'
         % (selector, window))
    d = get("%s/api/v1/query?%s" % (url, urllib.parse.urlencode(
        {"query": q, "time": "%d" % (t_to + 1)})))
    return {(r["metric"].get("source_id"), r["metric"].get("destination_id")):
            float(r["value"][1]) for r in d["data"]["result"]}


def join_vm(succ, disc, lengths):
    """Pair the samples of successes and discarded by (key, time); every
    sample of successes is one interval (a duplicate stays one more)."""
    conns = {}
    for key, pts in succ.items():
        dpts = {}
        for t, v in disc.get(key, []):
            dpts.setdefault(t, []).append(v)
        for t, v in sorted(pts):
            dv = dpts.get(t, [0.0])
            d = dv.pop(0) if len(dv) > 1 else dv[0]
            conns.setdefault(key, []).append(
                (t, lengths.get(key, {}).get(t), v, d))
    return conns


def read_vm(url, prefix, db, lengths_from):
    """vm-influx and vm-datadog, with the PromQL totals."""
    out = {}
    meas = prefix.replace(".", "_") + "connection"
    sel = {
        "vm-influx": ('{__name__="%s_successes",db="%s"}' % (meas, db),
                      '{__name__="%s_discarded",db="%s"}' % (meas, db)),
        "vm-datadog": ('{__name__="%ssuccesses"}' % prefix,
                       '{__name__="%sdiscarded"}' % prefix),
    }
    ivs = vm_export(url, '{__name__="%s_interval_s",db="%s"}' % (meas, db))
    vm_lengths = {}
    for key, pts in ivs.items():
        for t, v in pts:
            vm_lengths.setdefault(key, {})[t] = v
    for name, (s_sel, d_sel) in sel.items():
        succ = vm_export(url, s_sel)
        disc = vm_export(url, d_sel)
        lengths = vm_lengths
        if name == "vm-datadog":
            lengths = {k: dict(v) for k, v in lengths_from.items()}
            for key, m in vm_lengths.items():
                lengths.setdefault(key, {}).update(m)
        conns = join_vm(succ, disc, lengths)
        times = [t for pts in succ.values() for t, _ in pts]
        sums = {}
        if times:
            s_tot = vm_sum_over_time(url, s_sel, min(times), max(times))
            d_tot = vm_sum_over_time(url, d_sel, min(times), max(times))
            for key in set(s_tot) | set(d_tot):
                sums[key] = (s_tot.get(key, 0.0), d_tot.get(key, 0.0))
        out[name] = (conns, sums)
    return out


def read_sink(directory, prefix):
    conns = {}
    for f in sorted(glob.glob(os.path.join(directory, "[0-9]*.json"))):
        rec = json.load(open(f))
        if rec["status"] >= 300:
            continue
        by_t = {}
        for p in rec["points"]:
            if p["kind"] != "count" or p["name"] not in (
                    prefix + "successes", prefix + "discarded"):
                continue
            a = p["attrs"]
            key = (a.get("source_id"), a.get("destination_id"))
            k2 = (key, p["start"], p["end"])
            e = by_t.setdefault(k2, [0.0, 0.0, 0])
            e[0 if p["name"].endswith("successes") else 1] += p["value"]
            e[2] += 1
        for (key, start, end), (s, d, _) in by_t.items():
            conns.setdefault(key, []).append((start, end - start, s, d))
    return conns


# ---- comparison ---------------------------------------------------------------------

def compare(conns, sums, sim, token):
    res = {"connections": 0, "intervals": 0, "repeats": 0, "overlaps": 0,
           "unknown_interval": 0, "covered_s_min": None,
           "last_end_min": None, "successes": [0.0, 0.0],
           "discarded": [0.0, 0.0], "worst_rel_err": 0.0,
           "query_matches": None, "per_connection": {}}
    if sums is not None:
        res["query_matches"] = True
    for key, rows in sorted(conns.items(), key=lambda kv: str(kv[0])):
        src, dst = key
        res["connections"] += 1
        rows = sorted(rows)
        seen, runs, covered = set(), [], 0.0
        exp_s = exp_d = 0.0
        prev_end = None
        for (t, iv, s, d) in rows:
            res["intervals"] += 1
            exp_s += s
            exp_d += d
            if t in seen:
                res["repeats"] += 1
                continue
            seen.add(t)
            if iv is None or iv <= 0:
                res["unknown_interval"] += 1
                continue
            if prev_end is not None and t < prev_end - 0.5:
                res["overlaps"] += 1
            prev_end = t + iv
            covered += iv
            if runs and abs(runs[-1][1] - t) < 0.5:
                runs[-1][1] = t + iv
            else:
                runs.append([t, t + iv])
        tru_s = tru_d = 0.0
        for a, b in runs:
            ts, td = sim_counts(sim, token, dst, src, a, b)
            tru_s += ts
            tru_d += td
        for name, e, t in (("successes", exp_s, tru_s),
                           ("discarded", exp_d, tru_d)):
            res[name][0] += e
            res[name][1] += t
            err = abs(e - t) / t if t > 0 else (1.0 if e > 0 else 0.0)
            res["worst_rel_err"] = max(res["worst_rel_err"], err)
        if sums is not None:
            q = sums.get(key, (0.0, 0.0))
            if abs(q[0] - exp_s) > 0.5 or abs(q[1] - exp_d) > 0.5:
                res["query_matches"] = False
        last_end = runs[-1][1] if runs else 0.0
        if res["covered_s_min"] is None or covered < res["covered_s_min"]:
            res["covered_s_min"] = covered
        if res["last_end_min"] is None or last_end < res["last_end_min"]:
            res["last_end_min"] = last_end
        res["per_connection"]["%s/%s" % (src, dst)] = {
            "intervals": len(rows), "runs": [[a, b] for a, b in runs],
            "covered_s": covered, "successes": [exp_s, tru_s],
            "discarded": [exp_d, tru_d],
            "query": list(sums.get(key, ())) if sums is not None else None}
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--influx", nargs=2, metavar=("URL", "DB"))
    ap.add_argument("--vm")
    ap.add_argument("--vm-db", default="segment")
    ap.add_argument("--sink", action="append", default=[])
    ap.add_argument("--prefix", default="segment.")
    a = ap.parse_args()

    read = {}
    if a.influx:
        read["influxdb"] = read_influxdb(a.influx[0], a.influx[1], a.prefix)
    for spec in a.sink:
        name, d = spec.split("=", 1)
        read[name] = (read_sink(d, a.prefix), None)
    # interval lengths by start, from every intake that keeps them
    lengths = {}
    for conns, _ in read.values():
        for key, rows in conns.items():
            for t, iv, _, _ in rows:
                if iv:
                    lengths.setdefault(key, {})[t] = iv
    if a.vm:
        vm = read_vm(a.vm, a.prefix, a.vm_db, lengths)
        read.update(vm)
    out = {"intakes": {}}
    for name, (conns, sums) in read.items():
        out["intakes"][name] = compare(conns, sums, a.sim, a.token)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
