#!/usr/bin/python3
"""Check the example dashboards (examples/dashboards/) against what a
running segalert emits (standard library only).

  dashboard_names.py --grafana FILE --metrics FILE \
                     --datadog FILE --vm URL

--metrics is the text of segalert's /metrics; --vm a VictoriaMetrics that
segalert's datadog exporter wrote to (its metric names and tag keys are
what Datadog would hold).  Every file must parse; every metric name a
query references must be one segalert emitted, and every label / tag key
a query groups or filters by must be on one of its series.  Prints one
JSON object {"grafana": {...}, "datadog": {...}} with, for each: "panels"
(titles), "metrics" (names used), "unknown_metrics", "unknown_labels",
"problems"; exits 1 when any list of unknowns or problems is not empty.
"""
import argparse
import json
import re
import sys
import time
import urllib.parse
import urllib.request

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
    "bool", "and", "or", "unless", "inf", "nan", "atan2",
}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


# ---- what segalert emits --------------------------------------------------------

def prom_series(text):
    """{metric name: set of label names} of a /metrics text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(%s)(\{(.*)\})?\s" % IDENT, line)
        if not m:
            continue
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        out.setdefault(m.group(1), set()).update(labels)
    return out


def vm_series(url, prefix):
    def get(path, params):
        q = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen("%s%s?%s" % (url, path, q),
                                    timeout=30) as r:
            return json.loads(r.read().decode())
    out = {}
    d = get("/api/v1/series", {"match[]": '{__name__=~"%s.*"}'
                               % prefix.replace(".", "[.]"),
                               "start": "%d" % (time.time() - 2 * 86400)})
    for s in d["data"]:
        name = s.pop("__name__")
        out.setdefault(name, set()).update(s)
    return out


# ---- Grafana: PromQL ---------------------------------------------------------------

def promql_refs(expr):
    """(metric names, label names) a PromQL expression references."""
    labels = set()
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)    # strings
    for body in re.findall(r"\{([^}]*)\}", e):
        labels.update(re.findall(r"(%s)\s*(?:=~|!~|!=|=)" % IDENT, body))
    e = re.sub(r"\{[^}]*\}", " ", e)                # matchers
    for body in re.findall(r"\b(?:by|without|on|ignoring|group_left|"
                           r"group_right)\s*\(([^)]*)\)", e):
        labels.update(x.strip() for x in body.split(",") if x.strip())
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
               r"\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)               # ranges
    e = re.sub(r"\$\{?\w+\}?", " ", e)              # template variables
    e = re.sub(r"\boffset\s+\w+", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])(%s)(?![\w:])(?!\s*\()" % IDENT, e):
        w = m.group(1)
        if w.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*", w):
            continue
        names.add(w)
    return names, labels


def check_grafana(path, series):
    res = {"panels": [], "metrics": [], "unknown_metrics": [],
           "unknown_labels": [], "problems": []}
    try:
        d = json.load(open(path))
    except ValueError as e:
        res["problems"].append("does not parse: %s" % e)
        return res
    for k in ("title", "uid", "panels", "schemaVersion"):
        if k not in d:
            res["problems"].append("no %s" % k)
    exprs = []
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        m = re.match(r"label_values\((.*),\s*(\w+)\)\s*$", q or "")
        if m:
            exprs.append((m.group(1), {m.group(2)}))
    for p in d.get("panels", []):
        if p.get("type") == "row":
            continue
        res["panels"].append(p.get("title"))
        if not p.get("targets"):
            res["problems"].append("panel %r has no query" % p.get("title"))
        for t in p.get("targets", []):
            exprs.append((t.get("expr", ""), set()))
    used, all_labels = set(), set()
    for expr, extra in exprs:
        names, labels = promql_refs(expr)
        if not names:
            res["problems"].append("no metric in %r" % expr)
        used |= names
        labels |= extra
        known = set().union(*(series.get(n, set()) for n in names)) \
            if names else set()
        for lab in labels:
            if lab not in known:
                res["unknown_labels"].append("%s in %r" % (lab, expr))
        all_labels |= labels
    res["metrics"] = sorted(used)
    res["unknown_metrics"] = sorted(n for n in used if n not in series)
    return res


# ---- Datadog: metric queries --------------------------------------------------------

DD_QUERY = re.compile(r"(?:avg|sum|min|max):([\w.]+)\{([^}]*)\}"
                      r"(?:\s*by\s*\{([^}]*)\})?")


def check_datadog(path, series):
    res = {"panels": [], "metrics": [], "unknown_metrics": [],
           "unknown_labels": [], "problems": []}
    try:
        d = json.load(open(path))
    except ValueError as e:
        res["problems"].append("does not parse: %s" % e)
        return res
    for k in ("title", "layout_type", "widgets"):
        if k not in d:
            res["problems"].append("no %s" % k)
    tvars = {"$" + v["name"]: v.get("prefix") for v in
             d.get("template_variables", [])}
    used = set()
    for w in d.get("widgets", []):
        defn = w.get("definition", {})
        res["panels"].append(defn.get("title"))
        queries = []
        for r in defn.get("requests", []):
            names = {q.get("name") for q in r.get("queries", [])}
            for q in r.get("queries", []):
                queries.append(q.get("query", ""))
            for f in r.get("formulas", []):
                refs = set(re.findall(r"[A-Za-z_]\w*", f.get("formula", "")))
                funcs = set(re.findall(r"([A-Za-z_]\w*)\s*\(",
                                       f.get("formula", "")))
                strings = set(re.findall(r"'(\w+)'", f.get("formula", "")))
                for ref in refs - funcs - strings:
                    if ref not in names:
                        res["problems"].append("formula %r names no query"
                                               % f["formula"])
        if not queries:
            res["problems"].append("widget %r has no query"
                                   % defn.get("title"))
        for q in queries:
            m = DD_QUERY.search(q)
            if not m:
                res["problems"].append("cannot read query %r" % q)
                continue
            name = m.group(1)
            used.add(name)
            known = series.get(name, set())
            keys = set()
            for f in m.group(2).split(","):
                f = f.strip()
                if f in ("*", ""):
                    continue
                if f in tvars:
                    if tvars[f]:
                        keys.add(tvars[f])
                    continue
                keys.add(f.split(":", 1)[0])
            keys |= {k.strip() for k in (m.group(3) or "").split(",")
                     if k.strip()}
            for k in keys:
                if k not in known:
                    res["unknown_labels"].append("%s in %r" % (k, q))
    res["metrics"] = sorted(used)
    res["unknown_metrics"] = sorted(n for n in used if n not in series)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grafana", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--datadog", required=True)
    ap.add_argument("--vm", required=True)
    ap.add_argument("--prefix", default="segment.")
    a = ap.parse_args()
    out = {
        "grafana": check_grafana(a.grafana,
                                 prom_series(open(a.metrics).read())),
        "datadog": check_datadog(a.datadog, vm_series(a.vm, a.prefix)),
    }
    print(json.dumps(out, sort_keys=True))
    bad = any(r[k] for r in out.values()
              for k in ("unknown_metrics", "unknown_labels", "problems"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
