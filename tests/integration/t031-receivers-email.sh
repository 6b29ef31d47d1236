#!/bin/sh
# t031-receivers-email: the email receiver against real SMTP servers
# (aiosmtpd, tests/peers/smtp_server.py) with a throw-away CA:
#   (a) STARTTLS required + AUTH: delivered over TLS as alice; an RFC 5322
#       message with CRLF line ends; the password never printed
#   (b) wrong password: permanent, "authentication failed"
#   (c) server without STARTTLS while required: nothing sent
#   (d) recipient refused (550): permanent; 451: temporary
#   (+) certificate from an unknown CA: nothing sent
#   (e) header injection through the daemon: a destination name with
#       CR/LF + "Bcc:" (served by segalert-sim) in the Subject template
#       adds no header and no recipient
#
#   SEGALERT=./segalert SEGALERT_SIM=./segalert-sim SEGALERT_SRC=. \
#       sh tests/integration/t031-receivers-email.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SMTPD="$SRC/tests/peers/smtp_server.py"

# start_smtp NAME ARGS...: smtp_server.py with maildir $T/NAME; sets
# SMTP_PORT and writes it to $T/NAME.port.
start_smtp() {
    nm=$1
    shift
    "$PY" "$SMTPD" --port 0 --maildir "$T/$nm" "$@" >"$T/$nm.out" 2>"$T/$nm.err" &
    bg_pid $!
    i=0
    while [ $i -lt 200 ]; do
        SMTP_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/$nm.out" 2>/dev/null)
        if [ -n "$SMTP_PORT" ]; then
            echo "$SMTP_PORT" >"$T/$nm.port"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "smtp_server $nm did not start:" >&2
    cat "$T/$nm.err" >&2
    return 1
}
mails() {      # mails NAME: messages received in $T/NAME
    _mc=0
    for _mf in "$T/$1"/*.eml; do [ -f "$_mf" ] && _mc=$((_mc + 1)); done
    echo $_mc
}

# notify NAME RECEIVER: notify-test -v (debug output too), outputs in
# $T/nt-NAME.*; bounded by `timeout` so a hang fails instead of blocking.
notify() {
    timeout 60 "$SEGALERT" notify-test -v -c "$T/nt.conf" "$2" >"$T/nt-$1.out" 2>"$T/nt-$1.err"
    echo $? >"$T/nt-$1.rc"
}
rc_is() { [ "$(cat "$T/nt-$1.rc")" = "$2" ]; }
out_has() { contains "$T/nt-$1.out" "$2"; }

# msg FILE 'python expression': m = email.message (compat32 parser),
# raw = bytes, hdr = raw header block, env = envelope dict of lists.
msg() {
    "$PY" - "$1" "$2" <<'EOF'
import email, email.utils, os, re, sys, time
path, expr = sys.argv[1], sys.argv[2]
try:
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw)
    uf = lambda s: re.sub(r"\r?\n(?=[ \t])", "", s or "")
    hdr = raw.split(b"\r\n\r\n", 1)[0]
    env = {}
    for line in open(path[:-4] + ".env"):
        k, _, v = line.rstrip("\n").partition(": ")
        env.setdefault(k, []).append(v)
    ok = eval(expr)
except Exception as e:
    sys.stderr.write("  %s: %s: %r\n" % (os.path.basename(path), expr, e))
    sys.exit(1)
if not ok:
    sys.stderr.write("  %s: does not hold: %s\n" % (os.path.basename(path), expr))
sys.exit(0 if ok else 1)
EOF
}

sh "$SRC/tests/peers/make-test-ca.sh" "$T/ca" || { notok "make-test-ca.sh"; finish; }
sh "$SRC/tests/peers/make-test-ca.sh" "$T/otherca" || { notok "make-test-ca.sh (second CA)"; finish; }
CERT="$T/ca/server.crt"
KEY="$T/ca/server.key"
CA="$T/ca/ca.crt"

SMTP_PASSWORD='S3cret-pw-42'
WRONG_PASSWORD='Wr0ng-pw-17'
export SMTP_PASSWORD WRONG_PASSWORD
start_smtp tls --starttls "$CERT" "$KEY" --require-starttls --auth "alice:$SMTP_PASSWORD" ||
    { notok "SMTP server (STARTTLS + AUTH) starts"; finish; }
start_smtp notls --no-starttls || { notok "SMTP server without STARTTLS starts"; finish; }
start_smtp picky --starttls "$CERT" "$KEY" --refuse-rcpt refused@example.com \
    --tempfail-rcpt later@example.com || { notok "SMTP server (refusing) starts"; finish; }
start_sim "$SRC/tests/fixtures/sim/basic.conf" || { notok "segalert-sim starts"; finish; }
SIM_TOKEN=test-token
export SIM_TOKEN

# receiver NAME PORTFILE CA TO [extra lines]
receiver() {
    echo "receiver \"$1\" {"
    echo "  type = \"email\""
    echo "  smtp_host = \"localhost\""
    echo "  smtp_port = $(cat "$T/$2.port")"
    echo "  starttls = \"required\""
    echo "  tls_ca_file = \"$3\""
    echo "  from = \"segalert <alerts@example.com>\""
    echo "  to = {\"$4\"}"
    echo "  timeout = \"10s\""
    shift 4
    for l in "$@"; do echo "  $l"; done
    echo "}"
}
{
    echo "state_dir = \"$T/nt-state\""
    echo "listen = \"\""
    echo "workspace \"sim\" {"
    echo "  api_url = \"$SIM_URL\""
    echo "  token_env = \"SIM_TOKEN\""
    echo "}"
    receiver mail tls "$CA" oncall@example.com 'username = "alice"' 'password_env = "SMTP_PASSWORD"'
    receiver badpw tls "$CA" oncall@example.com 'username = "alice"' 'password_env = "WRONG_PASSWORD"'
    receiver notls notls "$CA" oncall@example.com
    receiver refused picky "$CA" refused@example.com
    receiver later picky "$CA" later@example.com
    receiver otherca picky "$T/otherca/ca.crt" oncall@example.com
    echo 'route "default" { receiver = "mail" }'
} >"$T/nt.conf"

# --- (a) STARTTLS required + AUTH -------------------------------------------
notify mail mail
check "(a) notify-test exits 0" rc_is mail 0
check "(a) says delivered" out_has mail 'receiver "mail" (email): delivered test notification'
check "(a) the server received exactly one message" [ "$(mails tls)" = 1 ]
M="$T/tls/1.eml"
check "(a) envelope: over TLS, authenticated as alice" msg "$M" 'env["tls"] == ["yes"] and env["auth"] == ["alice"]'
check "(a) envelope: MAIL FROM alerts@example.com, RCPT TO oncall@example.com" \
    msg "$M" 'env["from"] == ["alerts@example.com"] and env["rcpt"] == ["oncall@example.com"]'
check "(a) From and To headers" \
    msg "$M" 'm["From"] == "segalert <alerts@example.com>" and m["To"] == "oncall@example.com"'
check "(a) Subject mentions the test" msg "$M" '"segalert-test" in m["Subject"]'
check "(a) Date header is RFC 5322 and current" \
    msg "$M" 'abs(email.utils.parsedate_to_datetime(m["Date"]).timestamp() - time.time()) < 120'
check "(a) Message-ID <local@domain>" msg "$M" 're.match(r"^<[^<>@\s]+@[^<>@\s]+>$", m["Message-ID"])'
check "(a) MIME-Version 1.0, Content-Type text/plain; charset=UTF-8" \
    msg "$M" 'm["MIME-Version"] == "1.0" and m["Content-Type"].replace(" ", "").lower() == "text/plain;charset=utf-8"'
check "(a) every header appears once" \
    msg "$M" 'all(len(m.get_all(h)) == 1 for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"))'
check "(a) CRLF line ends only (no bare LF or CR)" \
    msg "$M" 'raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")'
check "(a) no line longer than 998 bytes" msg "$M" 'max(len(l) for l in raw.split(b"\r\n")) <= 998'
check "(a) the body describes the test alert" \
    msg "$M" '"Test notification from segalert" in m.get_payload(decode=True).decode("utf-8")'

# --- (b) wrong password -----------------------------------------------------
notify badpw badpw
check "(b) wrong password: exit 1" rc_is badpw 1
check "(b) says NOT delivered, authentication failed" \
    sh -c "grep -qF 'NOT delivered' '$T/nt-badpw.out' && grep -qiF 'authentication failed' '$T/nt-badpw.out'"
check "(b) permanent" out_has badpw "permanent: segalert would not retry"
check "(b) nothing delivered" [ "$(mails tls)" = 1 ]

# --- (c) STARTTLS required, server without STARTTLS -------------------------
notify notls notls
check "(c) no STARTTLS offered: exit 1" rc_is notls 1
check "(c) says NOT delivered and why" \
    sh -c "grep -qF 'NOT delivered' '$T/nt-notls.out' && grep -qF 'STARTTLS' '$T/nt-notls.out'"
check "(c) nothing sent in clear text" [ "$(mails notls)" = 0 ]

# --- (d) recipient refused / temporarily refused ----------------------------
notify refused refused
check "(d) 550 recipient: exit 1" rc_is refused 1
check "(d) 550 recipient: permanent, with the server's answer" \
    sh -c "grep -qF 'permanent: segalert would not retry' '$T/nt-refused.out' && grep -qF '550' '$T/nt-refused.out'"
notify later later
check "(d) 451 recipient: exit 1" rc_is later 1
check "(d) 451 recipient: temporary" out_has later "temporary: segalert would retry"
check "(d) nothing delivered by the refusing server" [ "$(mails picky)" = 0 ]

# --- certificate not from the configured CA ---------------------------------
notify otherca otherca
check "untrusted certificate: exit 1" rc_is otherca 1
check "untrusted certificate: says the certificate is not trusted" \
    sh -c "grep -qiE 'certificate|verify' '$T/nt-otherca.out'"
check "untrusted certificate: nothing delivered" [ "$(mails picky)" = 0 ]

# --- no password in any output (incl. -v debug) -----------------------------
B64_PLAIN=$("$PY" -c "import base64; print(base64.b64encode(b'\0alice\0$SMTP_PASSWORD').decode())")
B64_LOGIN=$("$PY" -c "import base64; print(base64.b64encode(b'$SMTP_PASSWORD').decode())")
B64_WRONG=$("$PY" -c "import base64; print(base64.b64encode(b'\0alice\0$WRONG_PASSWORD').decode())")
leaks=$(grep -lF -e "$SMTP_PASSWORD" -e "$WRONG_PASSWORD" -e "$B64_PLAIN" -e "$B64_LOGIN" \
    -e "$B64_WRONG" "$T"/nt-*.out "$T"/nt-*.err 2>/dev/null)
check "no password (plain or base64) in notify-test output${leaks:+: $leaks}" [ -z "$leaks" ]

# --- (e) header injection through the daemon --------------------------------
BASIC_URL=$SIM_URL
# segalert-sim serves names as written in the scenario; libconfuse turns
# \r\n into CR LF, so the "destination" label carries a line break.
cat >"$T/evil.sim" <<'EOF'
seed = 7
token = "test-token"
rate_limit = 0
latency = "0"
source "web_prod" {
  name = "Web (prod)"
  type = "javascript"
  events_per_minute = 1200
  destination "amplitude" {
    name = "Amp\r\nBcc: evil@example.com\r\nX-Injected: yes"
    discard_ratio = 0.002
  }
}
EOF
start_sim "$T/evil.sim" || { notok "segalert-sim (evil scenario) starts"; finish; }
start_smtp plain || { notok "plain SMTP server starts"; finish; }
cat >"$T/always.rules" <<'EOF'
rule "always" {
  expr = "successes >= 0"
  severity = "warning"
  summary = "{{destination}} from {{source}}"
}
EOF
cat >"$T/daemon.conf" <<EOF
state_dir = "$T/d-state"
listen = ""
log_level = "debug"
rule_files = {"$T/always.rules"}
workspace "sim" {
  api_url = "$SIM_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
}
defaults {
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "1h"
}
receiver "mail" {
  type = "email"
  smtp_host = "localhost"
  smtp_port = $(cat "$T/plain.port")
  starttls = "no"
  from = "segalert <alerts@example.com>"
  to = {"oncall@example.com"}
  subject = "{{rule}} on {{destination}}"
}
route "default" { receiver = "mail" }
EOF
"$SEGALERT" run -c "$T/daemon.conf" --eval-interval 1s >"$T/daemon.out" 2>"$T/daemon.err" &
DPID=$!
bg_pid $DPID
# (f) meanwhile, a daemon mails each of the basic sim's 3 connections (one
# group each) over STARTTLS + AUTH, and repeats them after 5 s: several
# STARTTLS sessions in one process (libesmtp 1.1.0's default SSL_CTX made
# the second one crash).
cat >"$T/daemon-f.conf" <<EOF
state_dir = "$T/f-state"
listen = ""
log_level = "debug"
rule_files = {"$T/always.rules"}
workspace "sim" {
  api_url = "$BASIC_URL"
  token_env = "SIM_TOKEN"
  request_budget = 600
}
defaults {
  group_by = {"rule", "workspace", "source_id", "destination_id"}
  group_wait = "1s"
  group_interval = "5s"
  repeat_interval = "5s"
}
$(receiver mail tls "$CA" oncall@example.com 'username = "alice"' 'password_env = "SMTP_PASSWORD"')
route "default" { receiver = "mail" }
EOF
"$SEGALERT" run -c "$T/daemon-f.conf" --eval-interval 1s >"$T/daemon-f.out" 2>"$T/daemon-f.err" &
FPID=$!
bg_pid $FPID

got_mail() { [ "$(mails plain)" -ge 1 ]; }
if wait_for 40 got_mail; then
    ok "(e) the daemon mailed the alert"
else
    notok "(e) the daemon mailed the alert"
    tail -20 "$T/daemon.err" | sed 's/^/  # /'
fi
T_MAIL=$(date +%s)
M="$T/plain/1.eml"
check "(e) the label with CR/LF reached the Subject (on one line)" \
    msg "$M" '"Bcc: evil@example.com" in uf(m["Subject"]) and "always on Amp" in uf(m["Subject"])'
check "(e) no injected Bcc or X-Injected header" \
    msg "$M" 'm["Bcc"] is None and m["X-Injected"] is None and not re.search(rb"(?im)^(bcc|x-injected):", hdr)'
check "(e) the only recipient is oncall@example.com" msg "$M" 'env["rcpt"] == ["oncall@example.com"]'
check "(e) headers stay well-formed (CRLF only, headers end before the body)" \
    msg "$M" 'b"\n" not in raw.replace(b"\r\n", b"") and m["Message-ID"] and m["Content-Type"].startswith("text/plain")'
check "(e) the body shows the alert summary" \
    msg "$M" '"evil@example.com" in m.get_payload(decode=True).decode("utf-8") and "from web_prod" in m.get_payload(decode=True).decode("utf-8")'

# (f) the daemon's messages: a first and then a repeat for each group
f_mails() {
    "$PY" - "$T/tls" "$1" <<'EOF'
import email, email.utils, glob, json, sys
recs = []
for f in sorted(glob.glob(sys.argv[1] + "/*.eml"), key=lambda f: int(f.split("/")[-1][:-4])):
    m = email.message_from_bytes(open(f, "rb").read())
    env = open(f[:-4] + ".env").read()
    if m["X-Segalert-Reason"] == "test":
        continue
    recs.append({"reason": m["X-Segalert-Reason"],
                 "group": m["X-Segalert-Notification"].split("-")[0],
                 "t": email.utils.parsedate_to_datetime(m["Date"]).timestamp(),
                 "tls": "tls: yes" in env, "auth": "auth: alice" in env,
                 "session": [l for l in env.splitlines() if l.startswith("session:")][0]})
first = {r["group"]: r["t"] for r in recs if r["reason"] == "first"}
rep = {}
for r in recs:
    if r["reason"] == "repeat":
        rep.setdefault(r["group"], r["t"])
s = {"n": len(recs), "first": len(first), "groups_repeated": len(set(rep) & set(first)),
     "min_repeat_gap": min([rep[g] - first[g] for g in rep if g in first] or [0]),
     "all_tls_auth": all(r["tls"] and r["auth"] for r in recs),
     "sessions": len(set(r["session"] for r in recs)),
     "firsts_per_group": max([sum(1 for r in recs if r["reason"] == "first" and r["group"] == g) for g in first] or [0])}
if sys.argv[2] == "print":
    print(json.dumps(s))
    sys.exit(0)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
if wait_for 40 f_mails 's["first"] == 3 and s["groups_repeated"] == 3'; then
    ok "(f) the daemon mailed 3 groups over STARTTLS + AUTH, then repeated them"
else
    notok "(f) the daemon mailed 3 groups over STARTTLS + AUTH, then repeated them"
    f_mails print | sed 's/^/  # /'
    tail -20 "$T/daemon-f.err" | sed 's/^/  # /'
fi
check "(f) every message went over TLS, authenticated as alice" f_mails 's["n"] >= 6 and s["all_tls_auth"]'
check "(f) in several SMTP sessions" f_mails 's["sessions"] >= 2'
check "(f) one first per group; repeats after repeat_interval (5 s)" \
    f_mails 's["firsts_per_group"] == 1 and s["min_repeat_gap"] >= 4'
check "(f) the daemon is still running" kill -0 $FPID

# > group_interval after the first mail: a duplicate would have come
while [ $(($(date +%s) - T_MAIL)) -lt 6 ]; do sleep 0.5; done
check "(e) one message only (no duplicate after group_interval)" [ "$(mails plain)" = 1 ]

for p in $DPID $FPID; do kill -TERM $p; done
for p in $DPID $FPID; do
    i=0
    while kill -0 $p 2>/dev/null && [ $i -lt 75 ]; do sleep 0.2; i=$((i + 1)); done
    if kill -0 $p 2>/dev/null; then
        notok "daemon $p stops on SIGTERM within 15 s"
    else
        wait "$p"
        rc=$?
        check "daemon $([ "$p" = "$DPID" ] && echo '(e)' || echo '(f)') exits 0 on SIGTERM" [ $rc = 0 ]
    fi
done
leaks=$(grep -lF -e "$SMTP_PASSWORD" -e "$B64_PLAIN" -e "$B64_LOGIN" "$T"/daemon*.out \
    "$T"/daemon*.err "$T"/f-state/state.* 2>/dev/null)
check "(f) no password in the daemon's debug log or state file${leaks:+: $leaks}" [ -z "$leaks" ]
san=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err "$T"/*.out 2>/dev/null)
check "no sanitizer report from segalert or segalert-sim${san:+: $san}" [ -z "$san" ]
finish
