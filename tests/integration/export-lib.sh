# export-lib.sh - helpers of the export tests (t09x): the intakes they
# push to, all started on 127.0.0.1 under $T and stopped by lib.sh's
# cleanup.  Source it after lib.sh.
#
#   start_vm            VictoriaMetrics (Datadog v1 series at
#                       /datadog/api/v1/series, Influx line protocol at
#                       /write, PromQL at /api/v1/query); sets VM_URL
#   start_influxd       InfluxDB 1.x with a database "segment"; sets
#                       INFLUX_URL
#   start_export_sink NAME SCHEMA [PORT [MODE [--dead]]]
#                       tests/peers/export_sink.py (newrelic | otlp),
#                       recording into $T/NAME; sets NAME_URL and
#                       NAME_PID (--dead: refuses connections until
#                       kill -USR1 NAME_PID)
#   metric URL NAME [LABELS]   the value of one /metrics series (or empty)

VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
INFLUXD_BIN=${INFLUXD_BIN:-/usr/bin/influxd}

# wait_http URL CODE SECONDS: until URL answers with status CODE.
wait_http() {
    wait_for "$3" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$1')\" = '$2' ]"
}

start_vm() {
    port=$(free_port)
    # -search.latencyOffset 0s and no cache: a point is visible to the
    # query that follows its write (by default VictoriaMetrics hides the
    # last 30 s and caches answers).  The points are in the past (the
    # tests' scaled clock starts an hour back), within the retention.
    "$VM_BIN" -httpListenAddr "127.0.0.1:$port" -storageDataPath "$T/vm" \
        -retentionPeriod 10y -search.latencyOffset 0s -search.disableCache \
        -loggerLevel ERROR >"$T/vm.log" 2>&1 &
    bg_pid $!
    VM_URL=http://127.0.0.1:$port
    wait_http "$VM_URL/health" 200 20
}

# vm_flush: make everything written searchable now.
vm_flush() { curl -s "$VM_URL/internal/force_flush" >/dev/null; }

start_influxd() {
    port=$(free_port)
    rpc=$(free_port)
    mkdir -p "$T/influx"
    cat >"$T/influx/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$T/influx/meta"
  logging-enabled = false
[data]
  dir = "$T/influx/data"
  wal-dir = "$T/influx/wal"
  query-log-enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[[udp]]
  enabled = false
CONF
    "$INFLUXD_BIN" run -config "$T/influx/influxd.conf" >"$T/influxd.log" 2>&1 &
    bg_pid $!
    INFLUX_URL=http://127.0.0.1:$port
    wait_http "$INFLUX_URL/ping" 204 20 &&
        curl -s -XPOST "$INFLUX_URL/query" \
            --data-urlencode "q=CREATE DATABASE segment" | grep -q statement_id
}

start_export_sink() {
    mkdir -p "$T/$1"
    "$PY" "$SRC/tests/peers/export_sink.py" --schema "$2" --dir "$T/$1" \
        --port "${3:-0}" --mode "${4:-ok}" ${5:-} >"$T/$1.out" 2>"$T/$1.err" &
    bg_pid $!
    eval "${1}_PID=$!"
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
    cat "$T/$1.err" >&2
    return 1
}

# sinkpy NAME EXPR: a python expression over R, the requests an
# export_sink.py recorded (each with errors, points, gzip, status...).
sinkpy() {
    "$PY" -c "import glob, json, os, sys
R = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(sys.argv[1], '[0-9]*.json')))]
print($2)" "$T/$1"
}

metric() {
    curl -s "$1/metrics" | awk -v n="$2" -v l="${3:-}" '
        { split($0, a, " ") }
        a[1] == n l { print a[2]; exit }'
}
