#!/bin/sh
# segalert check: every kind of mistake reported at once with file and line;
# the shipped packs and example configuration pass.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/rules"
cat >"$T/segalert.conf" <<'CONF'
state_dir = "/tmp/x"
rule_files = {"rules/*.conf"}
bogus_option = 3

workspace "prod" {
  token_env = "SEGALERT_TEST_MISSING_TOKEN"
  poll_interval = "five minutes"
}

receiver "hook" { type = "webhook" url = "http://127.0.0.1:1/x" }
receiver "hook" { type = "log" }
route "default" { receiver = "hoook" }
CONF
cat >"$T/rules/bad.conf" <<'CONF'
rule "discard-ratio" {
  expr = "discard_ratoi > 2% and attempted >= 100"
  summary = "{{destination}} {{value|pcnt}}"
}

rule "mixed" {
  expr = "discarded > 1 and event_volume > 3"
}

rule "syntax" {
  expr = "discarded > (1 +"
}

rule "unclosed" {
  expr = "discarded > 1"
CONF
unset SEGALERT_TEST_MISSING_TOKEN
(cd "$T" && "$SEGALERT" check -c segalert.conf) >"$T/out" 2>"$T/err"
rc=$?
check "check exits 2 on errors" [ $rc -eq 2 ]
check "unknown option with file and line" contains "$T/err" "segalert.conf:3: no such option 'bogus_option'"
check "missing secret names the workspace and variable" contains "$T/err" "segalert.conf:6: workspace \"prod\": environment variable 'SEGALERT_TEST_MISSING_TOKEN' (token_env) is not set"
check "bad duration" contains "$T/err" "segalert.conf:7: workspace \"prod\": invalid duration 'five minutes' for poll_interval"
check "duplicate receiver" contains "$T/err" "segalert.conf:11: duplicate receiver \"hook\""
check "route to a missing receiver, with did-you-mean" contains "$T/err" "segalert.conf:12: route \"default\": unknown receiver 'hoook' (did you mean 'hook'?)"
check "unknown metric with column and did-you-mean" contains "$T/err" "rules/bad.conf:2:11: rule \"discard-ratio\": expr: unknown metric 'discard_ratoi' (did you mean 'discard_ratio'?)"
check "caret under the mistake" contains "$T/err" "    ^"
check "unknown template filter with column" contains "$T/err" "rules/bad.conf:3:38: rule \"discard-ratio\": summary: unknown filter 'pcnt'"
check "mixed families" contains "$T/err" "rules/bad.conf:7:29: rule \"mixed\": expr: mixes metric families"
check "syntax error" contains "$T/err" "rules/bad.conf:11:27: rule \"syntax\": expr: unexpected end of expression"
check "unclosed section" contains "$T/err" "rules/bad.conf:14: section 'rule \"unclosed\"' is not closed"
check "error count" contains "$T/err" "10 errors"
check "nothing on stdout" [ ! -s "$T/out" ]

# The shipped packs and the reference configuration are clean.
cat >"$T/packs.conf" <<CONF
state_dir = "$T/state"
rule_files = {"$SRC/rules/*.conf"}
workspace "prod" { token = "tok-123456" mtu_limit = 1000000 }
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
"$SEGALERT" check -c "$T/packs.conf" >"$T/out" 2>"$T/err"
rc=$?
check "shipped rule packs pass check" [ $rc -eq 0 ]
check "summary line" grep -qE "ok: 1 workspace, 12 rules in 4 files, 1 receiver, 1 route" "$T/out"

# Never blind and green: a rule glob that matches nothing, or no rule at
# all, is a configuration error (the daemon would watch nothing).
cat >"$T/norules.conf" <<CONF
state_dir = "$T/state"
rule_files = {"rules-that-moved/*.conf"}
workspace "prod" { token = "tok-123456" }
receiver "console" { type = "log" }
route "all" { receiver = "console" }
CONF
"$SEGALERT" check -c "$T/norules.conf" >"$T/out" 2>"$T/err"
check "a rule glob matching no file: exit 2" [ $? -eq 2 ]
check "  names the glob and where it looked" contains "$T/err" "norules.conf:2: rule_files: 'rules-that-moved/*.conf' matches no file (looked for '$T/rules-that-moved/*.conf'"
check "  and that no rule is left" contains "$T/err" "no rule is configured: segalert would watch nothing"
"$SEGALERT" run --once -c "$T/norules.conf" >"$T/out" 2>"$T/err"
check "run refuses to start without rules (exit 2)" [ $? -eq 2 ]
sed -i '/^rule_files/d' "$T/norules.conf"
"$SEGALERT" check -c "$T/norules.conf" >"$T/out" 2>"$T/err"
check "no rule_files at all: exit 2" [ $? -eq 2 ]
check "  says so" contains "$T/err" "norules.conf: no rule is configured"

# lacks FILE TEXT: the fixed string is not in the file
lacks() { ! grep -qF -- "$2" "$1"; }

# Warnings (exit 0): routes no rule's alerts can match, an api_url host
# that is not a Segment region; a duration error shows the format.
cat >"$T/warn.conf" <<CONF
state_dir = "$T/state"
rule_files = {"$SRC/rules/*.conf"}
workspace "eu" {
  token = "tok-123456"
  api_url = "https://api.eu1.segmentapis.com"
}
receiver "hook" { type = "webhook" url = "http://127.0.0.1:1/x" }
route "typo" { match = {"severity=critcal"} receiver = "hook" }
route "old"  { match = {"rule=discard-ratio"} receiver = "hook" }
route "good" { match = {"rule=delivery-*", "severity=critical"} receiver = "hook" }
CONF
"$SEGALERT" check -c "$T/warn.conf" >"$T/out" 2>"$T/err"
check "warnings alone exit 0" [ $? -eq 0 ]
check "unknown Segment host warned" contains "$T/err" "warn.conf:5: warning: workspace \"eu\": api_url host 'api.eu1.segmentapis.com' is not a Segment region (api.segmentapis.com, eu1.api.segmentapis.com)"
check "misspelled severity warned" contains "$T/err" "warn.conf:8: warning: route \"typo\": match 'severity=critcal' is not a severity (critical, error, warning or info): the route can never match (did you mean 'critical'?)"
check "rule no rule has warned" contains "$T/err" "warn.conf:9: warning: route \"old\": match 'rule=discard-ratio' names no rule: the route can never match"
check "a route that can match is quiet" lacks "$T/err" 'route "good"'

sed 's/"https:\/\/api.eu1.segmentapis.com"/"http:\/\/127.0.0.1:1"\n  poll_interval = "10 m"/' \
    "$T/warn.conf" >"$T/dur.conf"
"$SEGALERT" check -c "$T/dur.conf" >"$T/out" 2>"$T/err"
check "bad duration exits 2" [ $? -eq 2 ]
check "bad duration shows the format" contains "$T/err" "invalid duration '10 m' for poll_interval (use a number and a unit, no space: 90s, 10m, 2h, 1d)"
check "loopback api_url is not warned" lacks "$T/err" "not a Segment region"

"$SEGALERT" check -c "$T/does-not-exist.conf" >"$T/out" 2>"$T/err"
check "missing file exits 2" [ $? -eq 2 ]
check "missing file named" contains "$T/err" "does-not-exist.conf"
finish
