#!/bin/sh
# t010-sim: smoke test of segalert-sim itself (auth, shapes, pagination,
# validation, cross-endpoint consistency, rate limit, faults, stats).
#
#   SEGALERT_SIM=./segalert-sim sh tests/integration/t010-sim.sh
#
# Prints "ok - what" / "not ok - what" lines; exits 1 if any failed.

SIM=${SEGALERT_SIM:-./segalert-sim}
FIX=$(cd "$(dirname "$0")/../fixtures/sim" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TOKEN=test-token

TMP=$(mktemp -d "${TMPDIR:-/tmp}/t010-sim.XXXXXX") || exit 1
PIDS=""
cleanup() {
    for p in $PIDS; do
        kill "$p" 2>/dev/null
    done
    for p in $PIDS; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

FAILED=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; FAILED=$((FAILED + 1)); }
check() {   # check "what" command...
    what=$1
    shift
    if "$@"; then ok "$what"; else notok "$what"; fi
}
# passed "what": ok when the command just before succeeded.  For checks of
# several conditions: `check w [ a ] && [ b ]` would check only [ a ] (the
# && ends check's command), so write `[ a ] && [ b ]` then `passed w`.
passed() {
    if [ $? = 0 ]; then ok "$1"; else notok "$1"; fi
}

# start_sim NAME SCENARIO [ARGS...]: starts the sim on a free port, sets
# $BASE and $PID_NAME; the sim's stdout line gives the port.
start_sim() {
    name=$1
    scenario=$2
    shift 2
    "$SIM" --listen 127.0.0.1:0 --scenario "$scenario" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    pid=$!
    PIDS="$PIDS $pid"
    i=0
    while [ $i -lt 100 ]; do
        line=$(head -n 1 "$TMP/$name.out" 2>/dev/null)
        case $line in
        "segalert-sim listening on http://"*) break ;;
        esac
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$TMP/$name.err" >&2
            return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    BASE=${line#segalert-sim listening on }
    eval "PID_$name=$pid"
    case $BASE in http://127.0.0.1:[0-9]*) return 0 ;; esac
    return 1
}

get() {     # get URL-PATH [curl args...] -> body in $TMP/body, status echoed
    p=$1
    shift
    curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$BASE$p"
}

json() {    # json 'python expression over d' < file
    "$PY" -c "import json,sys
d=json.load(sys.stdin)
r=($1)
print(r if not isinstance(r,bool) else ('yes' if r else 'no'))"
}

# ---- basic.conf ---------------------------------------------------------
if start_sim basic "$FIX/basic.conf"; then
    ok "sim starts on port 0 and prints its address"
else
    notok "sim starts on port 0 and prints its address"
    exit 1
fi
BASIC=$BASE

st=$(curl -s -o "$TMP/body" -w '%{http_code}' "$BASE/sources")
check "401 without token" [ "$st" = 401 ]
check "401 body is the error envelope" \
    [ "$(json 'd["errors"][0]["type"]=="Unauthorized" and d["errors"][0]["status"]==401' <"$TMP/body")" = yes ]
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" "$BASE/sources")
check "401 with a wrong token" [ "$st" = 401 ]

st=$(get "/sources?pagination.count=10")
check "/sources 200" [ "$st" = 200 ]
check "/sources shape" [ "$(json '
len(d["data"]["sources"])==2 and
all(len(s["id"])==22 and s["id"].isalnum() and s["slug"] and s["workspaceId"]
    and isinstance(s["enabled"],bool) and s["writeKeys"]==[] and
    "slug" in s["metadata"] and isinstance(s["labels"],list)
    for s in d["data"]["sources"]) and
d["data"]["pagination"]["current"]=="MA==" and
d["data"]["pagination"]["previous"] is None and
"next" not in d["data"]["pagination"] and
d["data"]["pagination"]["totalEntries"]==2' <"$TMP/body")" = yes ]
SID=$(json 'd["data"]["sources"][0]["id"]' <"$TMP/body")

st=$(get "/sources/$SID/connected-destinations?pagination.count=200")
[ "$st" = 200 ] && [ "$(json '
len(d["data"]["destinations"])==2 and
all(x["sourceId"]=="'"$SID"'" and len(x["metadata"]["id"])==24 and
    x["metadata"]["slug"] for x in d["data"]["destinations"])' <"$TMP/body")" = yes ]
passed "connected-destinations shape"
DID=$(json 'd["data"]["destinations"][0]["id"]' <"$TMP/body")
st=$(get "/sources/NoSuchSourceXXXXXXXXXX/connected-destinations")
[ "$st" = 404 ] && [ "$(json 'd["errors"][0]["type"]' <"$TMP/body")" = NotFound ]
passed "404 envelope for an unknown source"
st=$(get "/no/such/path")
check "404 for an unknown path" [ "$st" = 404 ]

# A closed window of whole minutes, ending 2 minutes ago.
now=$(date -u +%s)
end=$(( (now / 60 - 2) * 60 ))
start=$(( end - 30 * 60 ))
S=$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)
E=$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ)
OLD=$(date -u -d "@$(( end - 5 * 3600 ))" +%Y-%m-%dT%H:%M:%SZ)

st=$(get "/destinations/$DID/delivery-metrics?sourceId=$SID&startTime=$OLD&endTime=$E&granularity=MINUTE")
[ "$st" = 422 ] && \
    grep -q "does not accept range over 4 hours" "$TMP/body"
passed "422 for a MINUTE range over 4 hours"
st=$(get "/destinations/$DID/delivery-metrics?startTime=$S&endTime=$E")
[ "$st" = 422 ] && \
    [ "$(json 'd["errors"][0]["field"]' <"$TMP/body")" = sourceId ]
passed "422 for delivery-metrics without sourceId"
st=$(get "/destinations/$DID/delivery-metrics?sourceId=$SID&startTime=$S&endTime=$E&granularity=WEEK")
check "422 for a bad granularity" [ "$st" = 422 ]
st=$(get "/destinations/$DID/delivery-metrics?sourceId=$SID&startTime=$E&endTime=$S")
check "422 for endTime <= startTime" [ "$st" = 422 ]
st=$(get "/destinations/NoSuchDestinationXXXXX/delivery-metrics?sourceId=$SID")
check "404 for an unknown destination" [ "$st" = 404 ]

st=$(get "/destinations/$DID/delivery-metrics?sourceId=$SID&startTime=$S&endTime=$E&granularity=MINUTE")
cp "$TMP/body" "$TMP/dm.json"
[ "$st" = 200 ] && [ "$(json '
[m["metricName"] for m in d["data"]["deliveryMetricsSummary"]["metrics"]]==
["successes","expired","discarded","retried","time_to_success","time_to_first_attempt"]' <"$TMP/dm.json")" = yes ]
passed "delivery-metrics shape"
st=$(get "/events/volume?granularity=MINUTE&startTime=$(echo "$S" | sed 's/:/%3A/g')&endTime=$E&groupBy.0=source&sourceId.0=$SID")
cp "$TMP/body" "$TMP/ev.json"
[ "$st" = 200 ] && [ "$(json '
len(d["data"]["result"])==1 and len(d["data"]["result"][0]["series"])==30 and
d["data"]["result"][0]["source"]["id"]=="'"$SID"'" and
d["data"]["result"][0]["total"]==sum(p["count"] for p in d["data"]["result"][0]["series"])' <"$TMP/ev.json")" = yes ]
passed "events/volume MINUTE by source: 30 buckets"
vol=$(json 'd["data"]["result"][0]["total"]' <"$TMP/ev.json")
att=$(json 'sum(m["total"] for m in d["data"]["deliveryMetricsSummary"]["metrics"] if m["metricName"] in ("successes","discarded","expired"))' <"$TMP/dm.json")
[ "$vol" -gt 0 ] && [ "$att" = "$vol" ]
passed "successes+discarded+expired == event volume ($att == $vol)"
check "successes_after_retry <= retried" [ "$(json '
(lambda m: m["successes"]["breakdown"][1]["value"] <= m["retried"]["total"])(
 {x["metricName"]:x for x in d["data"]["deliveryMetricsSummary"]["metrics"]})' <"$TMP/dm.json")" = yes ]

st=$(get "/events/volume?granularity=HOUR&startTime=$S")
check "422 for events/volume without endTime" [ "$st" = 422 ]
H0=$(date -u -d "@$(( (now / 3600 - 24 * 7) * 3600 ))" +%Y-%m-%dT%H:00:00Z)
H1=$(date -u -d "@$(( (now / 3600) * 3600 ))" +%Y-%m-%dT%H:00:00Z)
st=$(get "/events/volume?granularity=HOUR&startTime=$H0&endTime=$H1")
[ "$st" = 200 ] && [ "$(json '
len(d["data"]["result"])==1 and "source" not in d["data"]["result"][0] and
len(d["data"]["result"][0]["series"])==168' <"$TMP/body")" = yes ]
passed "events/volume 7 days HOUR ungrouped: 168 buckets"

P=$(date -u +%Y-%m-01)
st=$(get "/usage/mtu/sources/daily?period=$P&pagination.count=1000")
days=$(( $(date -u +%d | sed 's/^0//') ))
[ "$st" = 200 ] && [ "$(json '
len(d["data"]["dailyPerSourceMTUUsage"])=='"$((days * 2))"' and
all(isinstance(r["identified"],str) and isinstance(r["periodStart"],int)
    for r in d["data"]["dailyPerSourceMTUUsage"])' <"$TMP/body")" = yes ]
passed "usage/mtu/sources/daily: one row per source and day, counts as strings"
st=$(get "/usage/api-calls/daily?period=$P")
[ "$st" = 200 ] && [ "$(json '
(lambda v: v==sorted(v))([int(r["apiCalls"]) for r in d["data"]["dailyWorkspaceAPICallsUsage"]])' <"$TMP/body")" = yes ]
passed "usage/api-calls/daily cumulative"
st=$(get "/usage/mtu/daily")
check "422 for usage without period" [ "$st" = 422 ]
st=$(get "/sources?pagination.count=0")
check "422 for pagination.count=0" [ "$st" = 422 ]
st=$(get "/sources?pagination.cursor=%21%21")
check "422 for an invalid cursor" [ "$st" = 422 ]

curl -s "$BASE/sim/stats" >"$TMP/stats.json"
check "/sim/stats counts requests by endpoint and status" [ "$(json '
d["by_endpoint"]["sources"]["401"]==2 and d["by_endpoint"]["delivery_metrics"]["422"]==4 and
d["by_endpoint"]["delivery_metrics"]["200"]==1 and d["by_status"]["404"]==3 and
d["requests_total"]==sum(d["by_status"].values()) and d["in_flight"]==0 and
d["peak_per_minute"]>=d["peak_accepted_per_minute"]>0' <"$TMP/stats.json")" = yes ]
curl -s -X POST "$BASE/sim/reset-stats" >/dev/null
check "/sim/reset-stats zeroes the counters" \
    [ "$(curl -s "$BASE/sim/stats" | json 'd["requests_total"]')" = 0 ]

# ---- many.conf: pagination ------------------------------------------------
if start_sim many "$FIX/many.conf"; then
    cursor=""
    pages=0
    ids=""
    last_has_next=yes
    while :; do
        q="pagination.count=7"
        [ -n "$cursor" ] && q="$q&pagination.cursor=$(printf %s "$cursor" | sed 's/=/%3D/g')"
        st=$(get "/sources?$q")
        [ "$st" = 200 ] || break
        pages=$((pages + 1))
        ids="$ids $(json '" ".join(s["id"] for s in d["data"]["sources"])' <"$TMP/body")"
        cursor=$(json 'd["data"]["pagination"].get("next") or ""' <"$TMP/body")
        if [ -z "$cursor" ]; then
            last_has_next=$(json '"next" in d["data"]["pagination"]' <"$TMP/body")
            break
        fi
        [ $pages -lt 10 ] || break
    done
    n=$(echo $ids | wc -w)
    uniq=$(echo $ids | tr ' ' '\n' | sort -u | wc -l)
    [ "$pages" = 3 ] && [ "$n" = 20 ] && [ "$uniq" = 20 ]
    passed "pagination walks 20 sources in 3 pages of 7 ($pages pages, $n ids)"
    check "next is absent on the last page" [ "$last_has_next" = no ]
    st=$(get "/sources?pagination%5Bcount%5D=1000&pagination%5Bcursor%5D=Nw%3D%3D")
    [ "$st" = 200 ] && [ "$(json 'len(d["data"]["sources"])==7 and d["data"]["pagination"]["previous"]=="MA=="' <"$TMP/body")" = yes ]
    passed "bracket form pagination[count] accepted, capped at max_page_size"
else
    notok "many.conf sim starts"
fi

# ---- ratelimit.conf: 429 ------------------------------------------------
if start_sim rl "$FIX/ratelimit.conf"; then
    # Stay inside one fixed minute window.
    sec=$(date -u +%S | sed 's/^0//')
    [ "$sec" -gt 50 ] && sleep $((61 - sec))
    codes=""
    i=0
    while [ $i -lt 10 ]; do
        codes="$codes $(get /sources -D "$TMP/hdr")"
        i=$((i + 1))
    done
    n429=$(echo $codes | tr ' ' '\n' | grep -c 429)
    [ "$n429" = 5 ] && [ "$(echo $codes | tr ' ' '\n' | grep -c 200)" = 5 ]
    passed "rate_limit=5: 10 requests give 5 x 200 and 5 x 429 ($codes)"
    check "429 body carries msBeforeNext" [ "$(json '
d["errors"][0]["type"]=="RequestError" and 0 < d["errors"][0]["data"]["msBeforeNext"] <= 60000 and
d["errors"][0]["data"]["remainingPoints"]==0 and d["errors"][0]["data"]["consumedPoints"]==10' <"$TMP/body")" = yes ]
    check "429 carries X-RateLimit-* headers" \
        grep -qiE '^X-RateLimit-Reset: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000' "$TMP/hdr"
    check "/sim/stats counts the rate-limited requests" [ "$(curl -s "$BASE/sim/stats" | json '
d["rate_limited"]==5 and d["by_endpoint"]["sources"]["429"]==5 and d["peak_per_minute"]==10 and d["peak_accepted_per_minute"]==5')" = yes ]
else
    notok "ratelimit.conf sim starts"
fi

# ---- faults.conf: every request fails somehow, the sim keeps serving -----
if start_sim faults "$FIX/faults.conf"; then
    i=0
    while [ $i -lt 20 ]; do
        get /sources >/dev/null
        i=$((i + 1))
    done
    check "faults: sim survives and counts 20 faulty requests" [ "$(curl -s "$BASE/sim/stats" | json '
d["requests_total"]==20 and d["in_flight"]==0')" = yes ]
else
    notok "faults.conf sim starts"
fi

# ---- scaled clock: scenario time runs 60x real time ---------------------
# One source at 600 events a minute that stops dead 2 minutes (scenario
# time) after the sim starts, and a rate limit of 5 per 10-minute window
# (10 real seconds).  SEGALERT_CLOCK is set to junk: --clock overrides it.
# Real time is measured around every observation, so a slow machine only
# widens what is accepted; an unscaled clock fails every check.
cat >"$TMP/scaled.conf" <<'EOF'
seed = 7
token = "test-token"
rate_limit = 5
rate_window = "10m"
source "web" {
  events_per_minute = 600
  daily_amplitude = 0
  noise = 0
  destination "amplitude" { }
}
incident "stop" {
  kind = "volume_drop"
  start = "2m"
  duration = "1h"
  value = 0
}
EOF
since() {   # real seconds since $1 (unix time with a fraction)
    "$PY" -c "import time; print(time.time() - $1)"
}
origin=$("$PY" -c 'import time; print("%.3f" % time.time())')
if SEGALERT_CLOCK=junk start_sim scaled "$TMP/scaled.conf" \
        --clock "scale=60,origin=$origin"; then
    ok "--clock starts a sim (and overrides SEGALERT_CLOCK)"
    up=$(since "$origin")               # real seconds the start took
    get "/sources" >/dev/null
    SID=$(json 'd["data"]["sources"][0]["id"]' <"$TMP/body")
    # Minute buckets from the origin's minute on: one more per real second.
    m0=$("$PY" -c "print(int($origin // 60 * 60))")
    S=$(date -u -d "@$m0" +%Y-%m-%dT%H:%M:%SZ)
    E=$(date -u -d "@$((m0 + 3600))" +%Y-%m-%dT%H:%M:%SZ)
    sleep 4
    e0=$(since "$origin")
    st=$(get "/events/volume?granularity=MINUTE&startTime=$S&endTime=$E&groupBy.0=source&sourceId.0=$SID")
    e1=$(since "$origin")
    cp "$TMP/body" "$TMP/scaled-ev.json"
    n=$(json 'len(d["data"]["result"][0]["series"])' <"$TMP/scaled-ev.json")
    # Unscaled there would be 1 or 2 buckets; at 60x about e0..e1 + 1.
    [ "$st" = 200 ] && [ "$(json "$e0 - 1.5 <= $n <= $e1 + 2.5" \
        <"$TMP/scaled-ev.json")" = yes ]
    passed "scale=60: a minute bucket per real second ($n after ${e0%.*} s)"
    # The incident at +120 s of scenario time: the first bucket is full,
    # the first empty one starts 2 scenario minutes after the sim started
    # (give or take a minute; the start took $up real s).
    check "scale=60: the incident at +2m shows after ~2 s of real time" \
        [ "$(json "(lambda s, tz: s[0]['count'] > 0 and len(tz) > 0 and
  $origin + 60 <= min(tz) <= $origin + 60 * $up + 180)(
 d['data']['result'][0]['series'],
 [__import__('calendar').timegm(__import__('time').strptime(p['time'],
   '%Y-%m-%dT%H:%M:%SZ')) for p in d['data']['result'][0]['series']
  if p['count'] == 0])" <"$TMP/scaled-ev.json")" = yes ]
    e0=$(since "$origin")
    curl -s "$BASE/sim/stats" >"$TMP/scaled-stats.json"
    e1=$(since "$origin")
    check "scale=60: /sim/stats uptime_s is in scenario seconds" \
        [ "$(json "60 * ($e0 - $up) - 30 <= d['uptime_s'] <= 60 * $e1 + 30" \
             <"$TMP/scaled-stats.json")" = yes ]
    # The rate-limit window is 10 scenario minutes, 10 real seconds: one of
    # 12 requests is over the limit even if they straddle two windows.
    codes=""
    i=0
    while [ $i -lt 12 ]; do
        c=$(get /sources)
        codes="$codes $c"
        [ "$c" = 429 ] && cp "$TMP/body" "$TMP/scaled-429.json"
        i=$((i + 1))
    done
    if [ -f "$TMP/scaled-429.json" ]; then
        ms=$(json 'd["errors"][0]["data"]["msBeforeNext"]' \
             <"$TMP/scaled-429.json")
        [ "$ms" -gt 0 ] && [ "$ms" -le 600000 ]
        passed "scale=60: msBeforeNext is scenario time (0 < $ms <= 600000)"
        # The window is over msBeforeNext / 60 real milliseconds later.
        sleep "$("$PY" -c "print($ms / 60000.0 + 0.5)")"
        check "scale=60: the rate-limit window ends in real seconds" \
            [ "$(get /sources)" = 200 ]
    else
        notok "scale=60: rate_limit=5 gives a 429 among 12 requests ($codes)"
    fi
else
    notok "--clock starts a sim (and overrides SEGALERT_CLOCK)"
fi
"$SIM" --clock "scale=-1" >/dev/null 2>"$TMP/badclock.err"
rc=$?
[ $rc = 2 ] && grep -q "scale must be a positive number" "$TMP/badclock.err"
passed "an invalid --clock: exit 2 with a message"
SEGALERT_CLOCK="speed=9" "$SIM" >/dev/null 2>"$TMP/badclock.err"
rc=$?
[ $rc = 2 ] && grep -q "SEGALERT_CLOCK: unknown key 'speed'" "$TMP/badclock.err"
passed "an invalid SEGALERT_CLOCK: exit 2 with a message"

# ---- checks written in Python ---------------------------------------------
# pycheck [ARGS...] < program: runs the program after a small prelude
# (get(path) -> (status, json), ts(unix) -> ISO time, ok(what, cond),
# BASE, TOKEN, ARGV) and counts its "not ok" lines.
PYLIB='
import json, sys, time, calendar, urllib.request, urllib.error
BASE, TOKEN, ARGV = sys.argv[1], sys.argv[2], sys.argv[3:]
def get(path):
    req = urllib.request.Request(BASE + path,
                                 headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body
def ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
def unix(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
def ok(what, cond):
    print(("ok - " if cond else "not ok - ") + what)
    sys.stdout.flush()
def metrics(did, sid, a, b, gran="MINUTE"):
    st, d = get("/destinations/%s/delivery-metrics?sourceId=%s&startTime=%s"
                "&endTime=%s&granularity=%s" % (did, sid, ts(a), ts(b), gran))
    if st != 200:
        return None
    return {m["metricName"]: m
            for m in d["data"]["deliveryMetricsSummary"]["metrics"]}
def volume(sid, a, b, gran="MINUTE"):
    st, d = get("/events/volume?granularity=%s&startTime=%s&endTime=%s"
                "&groupBy.0=source&sourceId.0=%s" % (gran, ts(a), ts(b), sid))
    return d["data"]["result"][0] if st == 200 else None
def overview(step, sid, a, b, gran="MINUTE", did=None, extra=""):
    q = "/delivery-overview/%s?sourceId=%s&startTime=%s&endTime=%s" \
        "&granularity=%s%s" % (step, sid, ts(a), ts(b), gran, extra)
    if did:
        q += "&destinationConfigId=" + did
    return get(q)
def ids():
    st, d = get("/sources?pagination.count=1000")
    out = {}
    for s in d["data"]["sources"]:
        st, c = get("/sources/%s/connected-destinations" % s["id"])
        out[s["slug"]] = (s["id"], {x["name"]: x for x in
                                    c["data"]["destinations"]}
                                   if st == 200 else {})
    return out
'
pycheck() {
    { printf '%s\n' "$PYLIB"; cat; } >"$TMP/check.py"
    "$PY" "$TMP/check.py" "$BASE" "$TOKEN" "$@" >"$TMP/check.out" 2>&1
    rc=$?
    cat "$TMP/check.out"
    n=$(grep -c '^not ok' "$TMP/check.out")
    FAILED=$((FAILED + n))
    if [ $rc != 0 ]; then
        notok "python check exited $rc"
    fi
}

# ---- pipeline.conf: modes, filters, subscriptions, fan-out, overview ------
if start_sim pipeline "$FIX/pipeline.conf"; then
    pycheck <<'EOF'
W = ids()
sid, web = W["web"]
iid, ios = W["ios"]
now = time.time()
b = (int(now) // 60 - 1) * 60
a = b - 3600
vol = volume(sid, a, b)["total"]
ok("pipeline: web received %d events in an hour" % vol, vol == 36000)

def outcomes(m):
    return sum(m[k]["total"] for k in ("successes", "discarded", "expired"))

# device mode: all zero, and its metadata says so
fs = web["fullstory"]
md = fs["metadata"]
ok("device mode: metadata shows a BROWSER component and no cloud instance",
   [c["type"] for c in md["components"]] == ["BROWSER"] and
   md["supportedFeatures"]["cloudModeInstances"] == "NONE" and
   md["supportedFeatures"]["deviceModeInstances"] == "SINGLE")
ok("device mode on an iOS source: an IOS component",
   [c["type"] for c in ios["firebase"]["metadata"]["components"]] == ["IOS"])
amd = web["amplitude"]["metadata"]
ok("cloud mode: a SERVER component, cloudModeInstances MULTIPLE",
   [c["type"] for c in amd["components"]] == ["SERVER"] and
   amd["supportedFeatures"]["cloudModeInstances"] == "MULTIPLE" and
   amd["supportedFeatures"]["deviceModeInstances"] == "NONE")
m = metrics(fs["id"], sid, a, b)
ok("device mode: delivery metrics all zero while the source is busy",
   m is not None and all(x["total"] == 0 for x in m.values()))
for step in ("filtered-at-destination", "failed-delivery",
             "successful-delivery"):
    st, d = overview(step, sid, a, b, did=fs["id"])
    ok("device mode: %s total 0" % step, st == 200 and d["data"]["total"] == 0)

# filtered = 1: nothing attempted, everything filtered at the destination
au = web["audit"]
m = metrics(au["id"], sid, a, b)
ok("filtered = 1: delivery metrics all zero",
   all(x["total"] == 0 for x in m.values()))
st, d = overview("filtered-at-destination", sid, a, b, did=au["id"],
                 extra="&groupBy.0=discardReason")
ok("filtered = 1: filtered-at-destination == volume, DESTINATION_FILTER",
   st == 200 and d["data"]["total"] == vol and
   [x["discardReason"] for x in d["data"]["dataset"]] == ["DESTINATION_FILTER"])

# subscribed = 0.1: a tenth attempted, the rest NO_MATCHING_SUBSCRIPTION
br = web["braze"]
m = metrics(br["id"], sid, a, b)
st, d = overview("filtered-at-destination", sid, a, b, did=br["id"],
                 extra="&groupBy.0=discardReason")
ok("subscribed = 0.1: ~10%% attempted (%d of %d)" % (outcomes(m), vol),
   0.08 * vol < outcomes(m) < 0.12 * vol)
ok("subscribed: attempted + NO_MATCHING_SUBSCRIPTION == volume",
   outcomes(m) + d["data"]["total"] == vol and
   d["data"]["dataset"][0]["discardReason"] == "NO_MATCHING_SUBSCRIPTION")

# filtered + subscribed together
mp = web["mixpanel"]
m = metrics(mp["id"], sid, a, b)
st, d = overview("filtered-at-destination", sid, a, b, did=mp["id"],
                 extra="&groupBy.0=discardReason")
r = {x["discardReason"]: x["total"] for x in d["data"]["dataset"]}
ok("filtered 0.25 + subscribed 0.5: ~37%% attempted, the rest filtered "
   "(%s)" % r, 0.33 * vol < outcomes(m) < 0.42 * vol and
   outcomes(m) + sum(r.values()) == vol and 0.2 * vol < r["DESTINATION_FILTER"]
   < 0.3 * vol)

# fanout = 3: three deliveries per event
ga = web["gads"]
m = metrics(ga["id"], sid, a, b)
ok("fanout = 3: successes + discarded + expired == 3 x volume (%d)"
   % outcomes(m), outcomes(m) == 3 * vol)
st, d = overview("successful-delivery", sid, a, b, did=ga["id"])
ok("fanout: successful-delivery == delivery-metrics successes",
   st == 200 and d["data"]["total"] == m["successes"]["total"])

# discard reasons: the baseline mix plus the past 401 spike
am = web["amplitude"]
a2, b2 = b - 4 * 3600 + 60, b
m = metrics(am["id"], sid, a2, b2)
st, d = overview("failed-delivery", sid, a2, b2, did=am["id"],
                 extra="&groupBy.0=discardReason")
r = {x["discardReason"]: x["total"] for x in d["data"]["dataset"]}
ok("failed-delivery total == discarded + expired of delivery metrics",
   st == 200 and d["data"]["total"] == m["discarded"]["total"] +
   m["expired"]["total"] and sum(r.values()) == d["data"]["total"])
ok("discard reasons: baseline 400/INVALID_SETTINGS, the spike's 401 on top "
   "(%s)" % r, set(r) <= {"400", "INVALID_SETTINGS", "401", "expires"} and
   r.get("401", 0) > r.get("INVALID_SETTINGS", 0) > 0 and
   r.get("400", 0) > r.get("INVALID_SETTINGS", 0))
ok("grouped datasets come largest first",
   [x["total"] for x in d["data"]["dataset"]] ==
   sorted([x["total"] for x in d["data"]["dataset"]], reverse=True))
st, d = overview("failed-delivery", sid, a2, b2, did=am["id"],
                 extra="&groupBy.0=discardReason", gran="HOUR")
ok("HOUR buckets sum to the same total", st == 200 and
   d["data"]["total"] == m["discarded"]["total"] + m["expired"]["total"])
st, d = overview("successful-delivery", sid, a2, b2, did=am["id"])
ok("successful-delivery == successes, totalRetryCount == after retry",
   d["data"]["total"] == m["successes"]["total"] and
   d["data"]["dataset"][0]["totalRetryCount"] ==
   m["successes"]["breakdown"][1]["value"] and
   all(p["count"] >= p["retryCount"] for p in d["data"]["dataset"][0]["series"]))

# successfully-received == event volume, bucket by bucket
h0 = (int(now) // 3600 - 5) * 3600
h1 = (int(now) // 3600) * 3600
ev = volume(sid, h0, h1, "HOUR")
st, d = overview("successfully-received", sid, h0, h1, "HOUR")
ok("successfully-received == events/volume, bucket by bucket",
   st == 200 and len(d["data"]["dataset"]) == 1 and
   d["data"]["total"] == ev["total"] and
   [(p["time"], p["count"]) for p in d["data"]["dataset"][0]["series"]] ==
   [(p["time"], p["count"]) for p in ev["series"]])

# groupBy eventType / eventName, pagination
st, d = overview("successfully-received", sid, a, b,
                 extra="&groupBy.0=eventType")
types = {x["eventType"]: x["total"] for x in d["data"]["dataset"]}
ok("groupBy eventType: track is the largest, types sum to the total",
   st == 200 and sum(types.values()) == d["data"]["total"] == vol and
   max(types, key=types.get) == "track")
names, cursor, pages = [], None, 0
while pages < 10:
    st, d = overview("successfully-received", sid, a, b,
                     extra="&groupBy.0=eventName&groupBy.1=eventType"
                     "&pagination.count=4" +
                     ("&pagination.cursor=" + cursor if cursor else ""))
    if st != 200:
        break
    pages += 1
    names += [(x["eventType"], x["eventName"]) for x in d["data"]["dataset"]]
    cursor = d["data"]["pagination"].get("next")
    if not cursor:
        break
ok("groupBy eventName+eventType pages: 11 events in 3 pages of 4 (%d, %d)"
   % (len(names), pages), pages == 3 and len(set(names)) == 11 and
   ("track", "Order Completed") in names)

# source steps
ivol = volume(iid, a, b)["total"]
st, fi = overview("failed-on-ingest", iid, a, b, extra="&groupBy.0=discardReason")
st2, fs_ = overview("filtered-at-source", iid, a, b)
ok("failed-on-ingest ~2%% of the volume, by code (%d of %d)"
   % (fi["data"]["total"], ivol), st == 200 and
   0.01 * ivol < fi["data"]["total"] < 0.03 * ivol and
   {x["discardReason"] for x in fi["data"]["dataset"]} <=
   {"INVALID_PAYLOAD", "MESSAGE_TOO_LARGE"})
m = metrics(ios["amplitude"]["id"], iid, a, b)
ok("filtered-at-source ~10%, and destinations get the rest exactly",
   st2 == 200 and 0.08 * ivol < fs_["data"]["total"] < 0.12 * ivol and
   outcomes(m) == ivol - fs_["data"]["total"])

# validation
st, d = overview("failed-delivery", sid, a, b)
ok("422 without destinationConfigId on a destination step",
   st == 422 and d["errors"][0]["field"] == "destinationConfigId")
st, d = get("/delivery-overview/successful-delivery?sourceId=%s"
            "&destinationConfigId=%s&startTime=%s&endTime=%s"
            % (sid, am["id"], ts(a), ts(b)))
ok("422 without granularity", st == 422 and
   d["errors"][0]["field"] == "granularity")
st, d = get("/delivery-overview/successfully-received?startTime=%s"
            "&endTime=%s&granularity=MINUTE" % (ts(a), ts(b)))
ok("422 without sourceId", st == 422 and d["errors"][0]["field"] == "sourceId")
st, d = overview("failed-delivery", sid, a, b, did=ios["amplitude"]["id"])
ok("404 for a destination of another source", st == 404)
st, d = overview("failed-delivery", sid, a, b, did="NoSuchDestinationXXXXX")
ok("404 for an unknown destinationConfigId", st == 404)
st, d = overview("successfully-received", sid, a, b,
                 extra="&groupBy.0=appVersion")
ok("422 for groupBy appVersion (not simulated)", st == 422)
st, d = overview("successfully-received", sid, b - 5 * 3600, b)
ok("MINUTE: 422 over 4 hours", st == 422 and
   "does not accept range over 4 hours" in d["errors"][0]["message"])
st, d = overview("successfully-received", sid, b - 50 * 3600,
                 b - 49 * 3600)
ok("MINUTE: 422 older than 48 hours", st == 422 and
   "older than 48 hours" in d["errors"][0]["message"])
st, d = overview("successfully-received", sid, h1 - 10 * 86400, h1, "HOUR")
ok("HOUR: 10 days accepted (delivery metrics: 7 at most)", st == 200 and
   len(d["data"]["dataset"][0]["series"]) == 240 and
   metrics(am["id"], sid, h1 - 10 * 86400, h1, "HOUR") is None)
st, d = overview("successfully-received", sid, h1 - 15 * 86400, h1, "HOUR")
ok("HOUR: 422 over 14 days", st == 422 and
   "does not accept range over 14 days" in d["errors"][0]["message"])
d0 = (int(now) // 86400) * 86400
st, d = overview("successfully-received", sid, d0 - 29 * 86400, d0, "DAY")
ok("DAY: 29 days accepted", st == 200 and
   len(d["data"]["dataset"][0]["series"]) == 29)
st, d = overview("successfully-received", sid, d0 - 31 * 86400, d0, "DAY")
ok("DAY: 422 over 30 days", st == 422 and
   "does not accept range over 30 days" in d["errors"][0]["message"])
st, d = overview("successfully-received", sid, d0 - 32 * 86400,
                 d0 - 20 * 86400, "DAY")
ok("DAY: 422 older than 30 days", st == 422 and
   "older than 30 days" in d["errors"][0]["message"])
EOF
else
    notok "pipeline.conf sim starts"
fi

# ---- scoped-faults.conf: 403, 404, cursor loops, duplicates, volume limit -
if start_sim scoped "$FIX/scoped-faults.conf"; then
    pycheck <<'EOF'
st, d = get("/usage/mtu/daily?period=2026-01-01")
ok("forbidden: 403 with a Segment error envelope on /usage/*",
   st == 403 and d["errors"][0]["type"] == "Forbidden" and
   d["errors"][0]["status"] == 403)
st2, d2 = get("/usage/api-calls/sources/daily?period=2026-01-01")
ok("forbidden: every matching path, every time", st2 == 403)
st, d = get("/sources?pagination.count=2")
ok("forbidden: other paths answer", st == 200)
p = d["data"]["pagination"]
ok("repeat_cursor: next == current on the first page",
   p["current"] == "MA==" and p["next"] == "MA==")
st, d = get("/sources?pagination.count=2&pagination.cursor=" + p["next"])
ok("repeat_cursor: following next gives the same page and cursor again",
   st == 200 and d["data"]["pagination"]["next"] == "MA==")
slugs = {s["slug"]: s["id"] for s in d["data"]["sources"]}
st, d = get("/sources?pagination.count=1000")
all_ = {s["slug"]: s["id"] for s in d["data"]["sources"]}
ok("not_found_sources: the source is still listed", "gone" in all_)
st, d = get("/sources/%s/connected-destinations" % all_["gone"])
ok("not_found_sources: its connected-destinations answer 404 NotFound",
   st == 404 and d["errors"][0]["type"] == "NotFound")
st, d = get("/sources/%s/connected-destinations" % all_["ios"])
ok("not_found_sources: other sources answer", st == 200)
seen, cursor, pages = [], None, 0
while pages < 10:
    st, d = get("/sources/%s/connected-destinations?pagination.count=3%s"
                % (all_["web"], "&pagination.cursor=" + cursor
                   if cursor else ""))
    if st != 200:
        break
    pages += 1
    seen += [x["name"] for x in d["data"]["destinations"]]
    cursor = d["data"]["pagination"].get("next")
    if not cursor:
        break
ok("duplicate_items: 7 destinations in 3 overlapping pages (%s)" % seen,
   pages == 3 and len(seen) > 7 and len(set(seen)) == 7)
codes = []
for i in range(5):
    st, d = get("/events/volume?granularity=HOUR&startTime=%s&endTime=%s"
                % (ts(time.time() - 7200), ts(time.time())))
    codes.append(st)
    if st == 429:
        last = d
ok("volume_rate_limit = 3: 3 x 200 then 429 (%s)" % codes,
   codes == [200, 200, 200, 429, 429] and
   last["errors"][0]["data"]["consumedPoints"] == 5)
st, d = get("/sources")
ok("volume_rate_limit: other endpoints are not limited", st == 200)
EOF
    curl -s "$BASE/sim/stats" >"$TMP/scoped-stats.json"
    check "scoped faults: /sim/stats counts 403s and volume 429s" [ "$(json '
d["by_endpoint"]["usage_mtu"]["403"]==1 and d["by_endpoint"]["events_volume"]["429"]==2 and
d["rate_limited"]==2' <"$TMP/scoped-stats.json")" = yes ]
else
    notok "scoped-faults.conf sim starts"
fi

# ---- outage.conf on a 60x clock: outcomes that arrive late ----------------
origin=$("$PY" -c 'import time; print("%.3f" % time.time())')
if start_sim outage "$FIX/outage.conf" --clock "scale=60,origin=$origin"; then
    pycheck "$origin" <<'EOF'
T0 = float(ARGV[0])             # the sim's start, in scenario time
W = ids()
sid, api = W["api"]
wh, okd = api["wh"]["id"], api["ok"]["id"]
H = 3600

def figures(did, a, b):
    m = metrics(did, sid, a, b)
    return {k: m[k]["total"] for k in m}, m

# the past outage: [-3h, -2h), retries for 30 minutes
a, b = T0 - 3 * H + 120, T0 - 2.5 * H - 120
f, _ = figures(wh, a, b)
v = volume(sid, a, b)["total"]
ok("outage: no success, everything retried, ~10%% discarded (%s, volume %d)"
   % (f, v), f["successes"] == 0 and f["retried"] == v and
   0.07 * v < f["discarded"] < 0.13 * v and f["expired"] == 0)
g, _ = figures(okd, a, b)
ok("outage: the other destination of the source is unaffected",
   g["successes"] == v and g["retried"] == 0)
a, b = T0 - 2.5 * H + 120, T0 - 2 * H - 120
f, _ = figures(wh, a, b)
v = volume(sid, a, b)["total"]
ok("outage: events expire retry_for (30m) after they arrived (%s)" % f,
   f["successes"] == 0 and 0.85 * v < f["expired"] < 0.95 * v)
a, b = T0 - 2 * H - 60, T0 - 2 * H + 5 * 60
f, m = figures(wh, a, b)
v = volume(sid, a, b)["total"]
ok("outage end: the retried events succeed in a burst (%s, volume %d)"
   % (f, v), f["successes"] > 4 * v and
   m["successes"]["breakdown"][1]["value"] > 3 * v and
   m["time_to_success"]["breakdown"][0]["value"] > 60)

# Delivery Overview agrees, with the outage's code and "expires"
a, b = (int(T0) // H - 4) * H, (int(T0) // H - 1) * H
st, d = overview("failed-delivery", sid, a, b, "HOUR", wh,
                 "&groupBy.0=discardReason")
r = {x["discardReason"]: x["total"] for x in d["data"]["dataset"]}
f, _ = figures(wh, a, b)
ok("overview failed-delivery: 502 and expires, == discarded + expired (%s)"
   % r, st == 200 and set(r) == {"502", "expires"} and
   d["data"]["total"] == f["discarded"] + f["expired"])

# The current outage began 15 minutes before the start and retries for
# 20: its first events expire 5 minutes after the start.  The window
# [start, start + 9m) shows no outcome at first (they are in the future),
# then the expirations once they have happened.
f0, _ = figures(wh, T0 - 10 * 60, T0)
ok("ongoing outage: events being retried have no outcome yet (%s)" % f0,
   f0["successes"] == 0 and f0["expired"] == 0 and f0["retried"] > 0)
early = (time.time() - T0) * 60 < 4 * 60    # real -> scenario seconds
f1, _ = figures(wh, T0, T0 + 9 * 60)
ok("ongoing outage: nothing expired before retry_for has passed (%s%s)"
   % (f1, "" if early else "; too late to tell"),
   f1["expired"] == 0 or not early)
time.sleep(max(0.0, T0 + 10 - time.time()))  # until 10 scenario minutes
f2, _ = figures(wh, T0, T0 + 9 * 60)
ok("ongoing outage: the same window shows the expirations later (%s)" % f2,
   f2["expired"] > 0 and f2["successes"] == 0)
EOF
else
    notok "outage.conf sim starts"
fi

# ---- billing.conf: cycles starting on the 15th ----------------------------
# The clock runs at normal speed from 2026-03-20 12:00 UTC.
if start_sim billing "$FIX/billing.conf" \
        --clock "scale=1,start=$(date -u -d 2026-03-20T12:00:00Z +%s)"; then
    pycheck <<'EOF'
def rows(period):
    st, d = get("/usage/mtu/daily?period=" + period)
    return st, d["data"]["dailyWorkspaceMTUUsage"] if st == 200 else []
st, r = rows("2026-03-20")
ps, pe = unix("2026-03-15T00:00:00Z"), unix("2026-04-15T00:00:00Z")
ok("mtu_period_start on the 15th: periodStart/periodEnd 03-15 .. 04-15",
   st == 200 and all(x["periodStart"] == ps and x["periodEnd"] == pe
                     for x in r))
ok("one row per day since the 15th (6)", len(r) == 6 and
   r[0]["timestamp"] == "2026-03-15T00:00:00Z")
st, r2 = rows("2026-03-17")
ok("period= of another day of the cycle maps to the same cycle", r2 == r)
st, r3 = rows("2026-03-01")
ok("period=2026-03-01 is the cycle 02-15 .. 03-15 (28 rows)",
   len(r3) == 28 and r3[0]["periodStart"] == unix("2026-02-15T00:00:00Z")
   and r3[0]["periodEnd"] == ps)
ok("usage restarts at the cycle start", int(r[0]["identified"]) <
   int(r3[-1]["identified"]))
st, d = get("/usage/api-calls/sources/daily?period=2026-03-15")
ok("api-calls rows follow the same cycle (2 sources x 6 days)",
   st == 200 and len(d["data"]["dailyPerSourceAPICallsUsage"]) == 12)
st, r4 = rows("2026-04-15")
ok("a cycle that has not started has no rows", st == 200 and r4 == [])
EOF
else
    notok "billing.conf sim starts"
fi

# ---- examples/incidents: every scenario loads, headers are readable -------
INCIDENTS=$(cd "$(dirname "$0")/../../examples/incidents" && pwd) ||
    INCIDENTS=/nonexistent
n_inc=0
for f in "$INCIDENTS"/*.conf; do
    [ -f "$f" ] || continue
    name=inc$n_inc
    n_inc=$((n_inc + 1))
    base=$(basename "$f")
    if start_sim "$name" "$f"; then
        [ "$(curl -s -H "Authorization: Bearer $(sed -n 's/^token = "\(.*\)".*/\1/p' "$f")" \
              -o /dev/null -w '%{http_code}' "$BASE/sources")" = 200 ]
        passed "incidents/$base loads and serves"
        eval "pid=\$PID_$name"
        kill -TERM "$pid"
        wait "$pid"
        PIDS=$(echo "$PIDS" | sed "s/ $pid\b//")
        check "incidents/$base: no warning (every incident matches)" \
            sh -c "! grep -q 'warning' '$TMP/$name.err'"
    else
        notok "incidents/$base loads"
    fi
    grep -qE '^# incident-start: ([0-9]+[smhd]|none)$' "$f" &&
        grep -qE '^# expect: (nothing|rule=[a-z0-9-]+( [a-z_]+=[^ ]+)* within [0-9]+[smhd])$' "$f" &&
        ! grep -E '^# expect:' "$f" | grep -vqE '^# expect: (nothing|rule=[a-z0-9-]+( [a-z_]+=[^ ]+)* within [0-9]+[smhd])$'
    passed "incidents/$base: machine-readable incident-start and expect headers"
done
check "examples/incidents holds the 11 scenarios ($n_inc)" [ "$n_inc" -ge 11 ]

# ---- bad scenario -----------------------------------------------------------
"$SIM" --scenario "$FIX/bad.conf" >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc = 2 ] && grep -q "bad.conf:4: no such option 'latency_bogus'" "$TMP/bad.err"
passed "bad scenario: exit 2 with FILE:LINE: message"

# ---- invalid new options: exit 2 with FILE:LINE: message --------------------
badopt() {  # badopt "what" "expected message" < scenario text
    cat >"$TMP/badopt.conf"
    "$SIM" --scenario "$TMP/badopt.conf" >/dev/null 2>"$TMP/badopt.err"
    rc=$?
    [ $rc = 2 ] && grep -qF "$2" "$TMP/badopt.err"
    passed "invalid scenario: $1"
}
badopt "mode" "badopt.conf:2: mode must be \"cloud\" or \"device\"" <<'EOF'
source "web" {
  destination "a" { mode = "edge" }
}
EOF
badopt "fanout < 1" "option 'fanout' must be >= 1" <<'EOF'
source "web" {
  destination "a" { fanout = 0.5 }
}
EOF
badopt "subscribed > 1" "option 'subscribed' must be between 0 and 1" <<'EOF'
source "web" {
  destination "a" { subscribed = 2 }
}
EOF
badopt "discard_reasons not CODE=share" "'401' is not of the form" <<'EOF'
source "web" {
  destination "a" { discard_reasons = {"401"} }
}
EOF
badopt "a reason given twice" "reason '401' given twice" <<'EOF'
source "web" { destination "a" { } }
incident "x" { kind = "discard_spike"  reasons = {"401=1", "401=2"} }
EOF
badopt "reasons on a volume incident" "'reasons' applies to discard_spike" <<'EOF'
source "web" { destination "a" { } }
incident "x" { kind = "volume_drop"  reasons = {"401=1"} }
EOF
badopt "retry_for on a discard spike" "'retry_for' and 'discarded' apply" <<'EOF'
source "web" { destination "a" { } }
incident "x" { kind = "discard_spike"  retry_for = "1h" }
EOF
badopt "outage value > 1" "value 2 out of range for destination_outage" <<'EOF'
source "web" { destination "a" { } }
incident "x" { kind = "destination_outage"  value = 2 }
EOF
badopt "a malformed negative start" "invalid duration '-x'" <<'EOF'
source "web" { destination "a" { } }
incident "x" { kind = "volume_drop"  start = "-x" }
EOF
badopt "not_found_sources naming no source" "not_found_sources: no source 'nope'" <<'EOF'
source "web" { destination "a" { } }
faults { not_found_sources = {"nope"} }
EOF
badopt "volume_rate_limit < 0" "option 'volume_rate_limit' must be >= 0" <<'EOF'
volume_rate_limit = -1
EOF

# ---- clean shutdown: every sim exits 0 on SIGTERM (under ASan: no leaks) --
for name in basic many rl faults scaled pipeline scoped outage billing; do
    eval "pid=\${PID_$name:-}"
    [ -n "$pid" ] || continue
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    check "SIGTERM stops the $name sim with exit 0" [ $rc = 0 ]
    check "$name sim: no sanitizer report on stderr" \
        sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$TMP/$name.err'"
    PIDS=$(echo "$PIDS" | sed "s/ $pid\b//")
done

if [ "$FAILED" -gt 0 ]; then
    echo "# $FAILED failed"
    exit 1
fi
exit 0
