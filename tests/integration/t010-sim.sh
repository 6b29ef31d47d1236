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

# ---- bad scenario -----------------------------------------------------------
"$SIM" --scenario "$FIX/bad.conf" >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc = 2 ] && grep -q "bad.conf:4: no such option 'latency_bogus'" "$TMP/bad.err"
passed "bad scenario: exit 2 with FILE:LINE: message"

# ---- clean shutdown: every sim exits 0 on SIGTERM (under ASan: no leaks) --
for name in basic many rl faults scaled; do
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
