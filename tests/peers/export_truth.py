#!/usr/bin/env python3
"""Ground truth for the export tests: compare what an intake holds with
what segalert-sim says for exactly the exported intervals.

  export_truth.py influx URL DB SIM_URL TOKEN    (InfluxDB 1.x, InfluxQL)
  export_truth.py vm URL SIM_URL TOKEN           (VictoriaMetrics, the
                                                  Datadog v1 series)

For every connection it reads the exported count intervals (Influx: the
points of segment_connection with their interval_s; VictoriaMetrics: the
raw samples of segment.successes / segment.discarded via /api/v1/export,
whose intervals come from the Influx run of the same daemon, passed as
--intervals FILE), asks the sim's delivery-metrics endpoint for each
interval, and prints one JSON object:

  {"connections": N, "intervals": N, "overlaps": N,
   "successes": [exported, truth], "discarded": [exported, truth],
   "worst_rel_err": x, "per_connection": {...}}

The sim is deterministic and counts outcomes by the time they happen, so
asking it later for a past interval gives what segalert read then.
"""
import json
import sys
import urllib.parse
import urllib.request


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().decode())


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def sim_counts(sim, token, dest_id, source_id, start, end):
    q = urllib.parse.urlencode({"sourceId": source_id, "startTime": iso(start),
                                "endTime": iso(end), "granularity": "MINUTE"})
    d = get("%s/destinations/%s/delivery-metrics?%s" % (sim, dest_id, q),
            {"Authorization": "Bearer " + token})
    out = {}
    for m in d["data"]["deliveryMetricsSummary"]["metrics"]:
        out[m["metricName"]] = float(m["total"])
    return out.get("successes", 0.0), out.get("discarded", 0.0)


def influx_intervals(url, db):
    q = ("SELECT successes, discarded, interval_s FROM segment_connection "
         "WHERE interval_s > 0 GROUP BY source_id, destination_id")
    d = get("%s/query?%s" % (url, urllib.parse.urlencode(
        {"db": db, "q": q, "epoch": "s"})))
    conns = {}
    for s in d["results"][0].get("series", []):
        key = (s["tags"]["source_id"], s["tags"]["destination_id"])
        cols = s["columns"]
        rows = []
        for v in s["values"]:
            r = dict(zip(cols, v))
            rows.append((float(r["time"]), float(r["interval_s"]),
                         float(r["successes"] or 0), float(r["discarded"] or 0)))
        conns[key] = sorted(rows)
    return conns


def vm_values(url, metric):
    q = urllib.parse.urlencode({"match[]": '{__name__="%s"}' % metric})
    req = urllib.request.Request("%s/api/v1/export?%s" % (url, q))
    out = {}
    with urllib.request.urlopen(req, timeout=30) as r:
        for line in r.read().decode().splitlines():
            if not line.strip():
                continue
            j = json.loads(line)
            key = (j["metric"]["source_id"], j["metric"]["destination_id"])
            pts = out.setdefault(key, [])
            for ts, v in zip(j["timestamps"], j["values"]):
                pts.append((ts / 1000.0, float(v)))
    return out


def compare(conns, sim, token):
    res = {"connections": 0, "intervals": 0, "overlaps": 0,
           "successes": [0.0, 0.0], "discarded": [0.0, 0.0],
           "worst_rel_err": 0.0, "per_connection": {}}
    for (src, dst), rows in sorted(conns.items()):
        res["connections"] += 1
        exp_s = exp_d = tru_s = tru_d = 0.0
        prev_end = None
        for (t, iv, s, d) in rows:
            if prev_end is not None and t < prev_end - 0.5:
                res["overlaps"] += 1
            prev_end = t + iv
            ts, td = sim_counts(sim, token, dst, src, t, t + iv)
            exp_s += s
            exp_d += d
            tru_s += ts
            tru_d += td
            res["intervals"] += 1
        for name, e, t in (("successes", exp_s, tru_s), ("discarded", exp_d, tru_d)):
            res[name][0] += e
            res[name][1] += t
            if t > 0:
                res["worst_rel_err"] = max(res["worst_rel_err"], abs(e - t) / t)
            elif e > 0:
                res["worst_rel_err"] = max(res["worst_rel_err"], 1.0)
        res["per_connection"]["%s/%s" % (src, dst)] = {
            "intervals": len(rows), "successes": [exp_s, tru_s],
            "discarded": [exp_d, tru_d]}
    return res


def main():
    kind = sys.argv[1]
    if kind == "influx":
        url, db, sim, token = sys.argv[2:6]
        conns = influx_intervals(url, db)
    elif kind == "vm":
        url, sim, token, influx_url, db = sys.argv[2:7]
        # intervals (start, length) from Influx, values from VictoriaMetrics
        iv = influx_intervals(influx_url, db)
        succ = vm_values(url, "segment.successes")
        disc = vm_values(url, "segment.discarded")
        conns = {}
        for key, rows in iv.items():
            length = {t: l for (t, l, _, _) in rows}
            s_pts = sorted(succ.get(key, []))
            d_pts = dict(disc.get(key, []))
            out = []
            for (t, v) in s_pts:
                out.append((t, length.get(t, 0.0), v, d_pts.get(t, 0.0)))
            conns[key] = out
        # every VictoriaMetrics sample counts, duplicates included
    else:
        sys.exit("usage: export_truth.py influx|vm ...")
    print(json.dumps(compare(conns, sim, token)))


if __name__ == "__main__":
    main()
