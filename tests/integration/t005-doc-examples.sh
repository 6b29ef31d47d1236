#!/bin/sh
# t005-doc-examples: every configuration example in README.md and docs/*.md
# passes `segalert check --syntax-only`, and every rule test example passes
# `segalert test`, so that an example can no longer rot.
#
# A fenced block is a configuration example when it holds a section of the
# configuration (rule, workspace, receiver, route, defaults, export,
# server...), a rule test when it holds a `test "..." {` section; other
# blocks (shell, JSON, sim scenarios, diagrams) are not checked here.  A
# fragment is completed before the check: a workspace, a receiver and a
# route are added when it has none, and the shipped rule packs when it
# has no rule (a fragment is allowed to show one section).
#
#   SEGALERT=./segalert sh tests/integration/t005-doc-examples.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

mkdir -p "$T/rules" "$T/ex/rules" "$T/ex/docs"
cp "$SRC"/rules/*.conf "$T/rules/"
cp "$SRC"/rules/*.conf "$T/ex/rules/"
"$PY" - "$SRC" "$T/ex" <<'EOF'
import glob, os, re, sys
src, out = sys.argv[1], sys.argv[2]
files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
config_re = re.compile(r'^\s*(rule|workspace|receiver|route|export|defaults|server|silence_limits)\b[^=\n]*\{', re.M)
test_re = re.compile(r'^\s*test\s+"[^"]*"\s*\{', re.M)
n = 0
for path in files:
    if os.path.basename(path) == "sim.md":
        continue                        # simulator scenarios, not segalert's
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            # a block inside a list item is indented like its fence
            body = "\n".join(l[indent:] if l[:indent].strip() == "" else l
                             for l in lines[start:j]) + "\n"
            i = j + 1
            kind = "test" if test_re.search(body) else \
                   "conf" if config_re.search(body) else None
            if not kind:
                continue
            n += 1
            name = "%s-%d-%s" % (os.path.basename(path)[:-3], start, kind)
            with open(os.path.join(out, "docs", name + ".conf"), "w") as f:
                f.write("# %s:%d\n" % (os.path.relpath(path, src), start))
                f.write(body)
            continue
        i += 1
print(n)
EOF
n=$(ls "$T/ex/docs" | wc -l)
check "examples found in README.md and docs/ ($n)" [ "$n" -ge 3 ]

# the shipped example configurations (not the simulator's scenarios)
for f in "$SRC"/examples/*.conf; do
    grep -q '^[[:space:]]*workspace[[:space:]]*"' "$f" || continue
    if "$SEGALERT" check --syntax-only -c "$f" >"$T/ex.out" 2>&1; then
        ok "examples/$(basename "$f") passes check --syntax-only"
    else
        notok "examples/$(basename "$f") passes check --syntax-only"
        sed 's/^/    /' "$T/ex.out" | head -20
    fi
done

for f in "$T"/ex/docs/*.conf; do
    where=$(sed -n '1s/^# //p' "$f")
    case $f in
    *-test.conf)
        # rule tests name the packs as ../rules/NAME.conf (README.md) or
        # ../../rules/NAME.conf (tests/rules): both resolve from ex/docs
        if "$SEGALERT" test "$f" >"$f.out" 2>&1; then
            ok "rule test example at $where passes"
        else
            notok "rule test example at $where passes"
            sed 's/^/    /' "$f.out" | head -20
        fi
        ;;
    *)
        {
            # examples written for an install read its rule packs
            sed "s|/usr/local/share/segalert/rules|$T/rules|" "$f"
            grep -q '^[[:space:]]*workspace[[:space:]]*"' "$f" ||
                printf 'workspace "doc" { token_env = "DOC_TOKEN" }\n'
            grep -q '^[[:space:]]*receiver[[:space:]]*"' "$f" ||
                printf 'receiver "doc-log" { type = "log" }\n'
            grep -q '^[[:space:]]*route[[:space:]]*"' "$f" ||
                printf 'route "doc-all" { receiver = "%s" }\n' \
                    "$(sed -n 's/^[[:space:]]*receiver[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -1 | grep . || echo doc-log)"
            grep -q -e '^[[:space:]]*rule[[:space:]]*"' -e '^[[:space:]]*rule_files' "$f" ||
                printf 'rule_files = {"%s/rules/*.conf"}\n' "$T"
            grep -q '^[[:space:]]*state_dir' "$f" ||
                printf 'state_dir = "%s/state"\n' "$T"
        } >"$f.full"
        if "$SEGALERT" check --syntax-only -c "$f.full" >"$f.out" 2>&1; then
            ok "configuration example at $where passes check"
        else
            notok "configuration example at $where passes check"
            sed 's/^/    /' "$f.out" | head -20
        fi
        ;;
    esac
done
finish
