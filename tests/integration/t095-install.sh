#!/bin/sh
# t095-install: `make install DESTDIR=... PREFIX=/usr` yields a tree that
# starts: the unit runs binaries that exist in that tree, with a dynamic
# user and its state directory, does not restart on a configuration error,
# passes `systemd-analyze verify` (where systemd-analyze exists; the
# complaints that only mean "this root is not a whole system" are set
# aside); the man page names the installed paths; the installed
# configuration reads the installed rule packs and passes `check`.
#
# Runs `make install` (of the release build, ./segalert) in the source
# tree: only in the release variant of the suite.
#
#   SEGALERT=./segalert sh tests/integration/t095-install.sh
. "$(dirname "$0")/lib.sh"

if [ "${SEGALERT_VARIANT:-release}" != release ]; then
    ok "install # SKIP release variant only"
    finish
fi

R="$T/root"
make -C "$SRC" --no-print-directory install DESTDIR="$R" PREFIX=/usr >"$T/make.out" 2>&1
RC=$?
check "make install DESTDIR=... PREFIX=/usr (exit $RC)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || sed 's/^/    /' "$T/make.out" | tail -20

UNIT="$R/usr/lib/systemd/system/segalert.service"
check "the unit is installed in /usr/lib/systemd/system" [ -f "$UNIT" ]
for line in ExecStart ExecStartPre; do
    bin=$(sed -n "s/^$line=\([^ ]*\) .*/\1/p" "$UNIT")
    check "$line runs $bin, which exists in the tree" [ -n "$bin" ] && [ -x "$R$bin" ]
done
check "the unit runs as a dynamic user with its state directory" \
    sh -c "grep -qx 'DynamicUser=yes' '$UNIT' && grep -qx 'StateDirectory=segalert' '$UNIT'"
check "the unit names no account that must exist" sh -c "! grep -q '^User=\|^Group=' '$UNIT'"
check "a configuration error (exit 2) is not restarted" grep -qx 'RestartPreventExitStatus=2' "$UNIT"
check "no placeholder left in the unit" sh -c "! grep -q '@[A-Z]*@' '$UNIT'"
check "the unit reads /etc/segalert/segalert.conf" grep -q -- '-c /etc/segalert/segalert.conf' "$UNIT"

if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify --root="$R" "$UNIT" >"$T/verify.out" 2>&1
    # an empty root has no sysinit.target, /bin/kill or man: not ours
    grep -v -e 'sysinit.target not found' -e '/bin/kill is not executable' \
        -e "Command 'man " "$T/verify.out" | grep . >"$T/verify.ours"
    check "systemd-analyze verify: nothing about the unit itself" [ ! -s "$T/verify.ours" ]
    [ -s "$T/verify.ours" ] && sed 's/^/    /' "$T/verify.ours"
    systemd-analyze security --offline=true --root="$R" segalert.service >"$T/sec.out" 2>&1
    level=$(sed -n 's/.*Overall exposure level for segalert.service: \([0-9.]*\).*/\1/p' "$T/sec.out")
    check "systemd-analyze security: exposure $level <= 2.0" \
        [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'
else
    ok "systemd-analyze verify # SKIP not installed"
fi

MAN="$R/usr/share/man/man1/segalert.1"
check "the man page names the installed rule packs" grep -q '/usr/share/segalert/rules' "$MAN"
check "the man page does not name /usr/local" sh -c "! grep -q '/usr/local' '$MAN'"

CONF="$R/etc/segalert/segalert.conf"
check "the configuration is installed" [ -f "$CONF" ]
check "it reads the installed rule packs" grep -q '^rule_files = {"/usr/share/segalert/rules/\*.conf"}' "$CONF"
check "its mode keeps it from other users" [ "$(stat -c %a "$CONF")" = 640 ]
# checked as the installed tree would be: the packs where it says, relative
# to the root
sed "s|\"/usr/share/segalert/rules|\"$R/usr/share/segalert/rules|" "$CONF" >"$T/check.conf"
"$R/usr/bin/segalert" check --syntax-only -c "$T/check.conf" >"$T/check.out" 2>&1
RC=$?
check "the installed configuration passes check --syntax-only (exit $RC)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || sed 's/^/    /' "$T/check.out" | head
npacks=$(ls "$SRC"/rules/*.conf | wc -l)
check "... with every rule pack (the file and $npacks packs)" grep -q "rules in $((npacks + 1)) files" "$T/check.out"

# a second install keeps the configuration
echo "# edited" >>"$CONF"
make -C "$SRC" --no-print-directory install DESTDIR="$R" PREFIX=/usr >"$T/make2.out" 2>&1
check "a second make install keeps an edited configuration" grep -qx '# edited' "$CONF"
make -C "$SRC" --no-print-directory uninstall DESTDIR="$R" PREFIX=/usr >"$T/make3.out" 2>&1
check "make uninstall removes the binaries and the unit" sh -c "[ ! -e '$R/usr/bin/segalert' ] && [ ! -e '$UNIT' ]"
check "... and keeps the configuration" [ -f "$CONF" ]
finish
