#!/bin/sh
# t035-webhook-signature: the verifying examples of docs/notifications.md
# "Webhook signatures" work, as printed, on a request segalert really sent.
#
# `segalert notify-test` posts a signed webhook to a recording sink
# (tests/peers/http_sink.py); the Python and shell examples are taken from
# the doc (the ```python verify-webhook and ```sh verify-webhook blocks)
# and run against the captured header and body: they accept it, and
# refuse a tampered body, another secret, a replay of an old request
# (correctly signed an hour ago) and the old body-only header.
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t035-webhook-signature.sh
. "$(dirname "$0")/lib.sh"

DOC="$SRC/docs/notifications.md"
SINK="$SRC/tests/peers/http_sink.py"

# The examples, as printed.
awk '/^```python verify-webhook$/ { f = 1; next } /^```$/ { f = 0 } f' \
    "$DOC" >"$T/verify.py"
awk '/^```sh verify-webhook$/ { f = 1; next } /^```$/ { f = 0 } f' \
    "$DOC" >"$T/verify.sh"
check "the doc has a Python example" grep -q 'def verify' "$T/verify.py"
check "the doc has a shell example" grep -q 'openssl dgst' "$T/verify.sh"

"$PY" "$SINK" --port 0 --dir "$T/hook" >"$T/sink.out" 2>"$T/sink.err" &
bg_pid $!
wait_for 5 grep -q '^READY' "$T/sink.out" || { notok "http_sink starts"; finish; }
PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/sink.out")

HOOK_SECRET='hmac-S3cret-"quoted"-7f1c'
export HOOK_SECRET
cat >"$T/seg.conf" <<EOF
state_dir = "$T/state"
listen = ""
workspace "w" { api_url = "http://127.0.0.1:9" token = "tok-1234" }
receiver "hook" {
  type = "webhook"
  url = "http://127.0.0.1:$PORT/hook"
  hmac_secret_env = "HOOK_SECRET"
}
route "default" { receiver = "hook" }
EOF
"$SEGALERT" notify-test -c "$T/seg.conf" hook >"$T/nt.out" 2>"$T/nt.err"
check "notify-test delivers the signed webhook" [ $? = 0 ]
check "the sink recorded it" [ -f "$T/hook/0001.json" ]

# The captured request: header value and exact body bytes.
"$PY" - "$T/hook/0001.json" "$T" <<'EOF'
import base64, json, sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/sig", "w").write(r["headers"]["X-Segalert-Signature"])
open(sys.argv[2] + "/body.json", "wb").write(base64.b64decode(r["body_b64"]))
EOF
SIG=$(cat "$T/sig")
check "the header has the documented shape t=<unix>,v1=<64 hex>" \
    sh -c "echo '$SIG' | grep -qE '^t=[0-9]+,v1=[0-9a-f]{64}$'"

# pyverify SECRET SIGFILE BODYFILE: the doc's verify() on those
pyverify() {
    "$PY" - "$T/verify.py" "$1" "$2" "$3" <<'EOF'
import sys
ns = {}
exec(open(sys.argv[1]).read(), ns)
secret, sig, body = sys.argv[2], open(sys.argv[3]).read(), open(sys.argv[4], "rb").read()
sys.exit(0 if ns["verify"](secret.encode(), sig, body) else 1)
EOF
}
# shverify SECRET SIG DIR: the doc's shell lines in DIR (body.json there)
shverify() {
    (cd "$3" && SECRET=$1 SIG=$2 sh "$T/verify.sh") >"$T/sh.out" 2>&1
}

mkdir -p "$T/tampered" "$T/old"
sed 's/"firing"/"resolved"/' "$T/body.json" >"$T/tampered/body.json"
check "the tampered copy differs" sh -c "! cmp -s '$T/body.json' '$T/tampered/body.json'"

check "python example: accepts the request" pyverify "$HOOK_SECRET" "$T/sig" "$T/body.json"
check "python example: refuses a tampered body" eval "! pyverify \"\$HOOK_SECRET\" '$T/sig' '$T/tampered/body.json'"
check "python example: refuses another secret" eval "! pyverify other-secret '$T/sig' '$T/body.json'"
check "shell example: accepts the request" shverify "$HOOK_SECRET" "$SIG" "$T"
check "shell example: ... and says so" grep -qx valid "$T/sh.out"
check "shell example: refuses a tampered body" eval "! shverify \"\$HOOK_SECRET\" '$SIG' '$T/tampered'"
check "shell example: ... and says so" grep -qx invalid "$T/sh.out"
check "shell example: refuses another secret" eval "! shverify other-secret '$SIG' '$T'"

# A replay: the same body, correctly signed an hour ago.
cp "$T/body.json" "$T/old/body.json"
OLD_SIG=$("$PY" - "$T/body.json" <<'EOF'
import hashlib, hmac, os, sys, time
t = int(time.time()) - 3600
body = open(sys.argv[1], "rb").read()
mac = hmac.new(os.environ["HOOK_SECRET"].encode(), b"%d." % t + body, hashlib.sha256)
print("t=%d,v1=%s" % (t, mac.hexdigest()))
EOF
)
printf '%s' "$OLD_SIG" >"$T/old/sig"
check "python example: refuses a request signed an hour ago" eval "! pyverify \"\$HOOK_SECRET\" '$T/old/sig' '$T/old/body.json'"
check "shell example: refuses a request signed an hour ago" eval "! shverify \"\$HOOK_SECRET\" '$OLD_SIG' '$T/old'"
check "shell example: ... as stale" grep -q stale "$T/sh.out"

# The old header (HMAC of the body alone) no longer verifies.
LEGACY=$("$PY" -c 'import hashlib, hmac, os, sys
print("sha256=" + hmac.new(os.environ["HOOK_SECRET"].encode(), open(sys.argv[1], "rb").read(), hashlib.sha256).hexdigest())' "$T/body.json")
printf '%s' "$LEGACY" >"$T/legacy.sig"
check "python example: refuses the old sha256= header" eval "! pyverify \"\$HOOK_SECRET\" '$T/legacy.sig' '$T/body.json'"
check "shell example: refuses the old sha256= header" eval "! shverify \"\$HOOK_SECRET\" '$LEGACY' '$T'"

finish
