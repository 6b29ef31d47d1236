#!/bin/sh
# Install the Debian packages given as arguments that are not installed yet.
# As root this runs apt-get; otherwise it prints the exact command to run.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "segalert: missing Debian packages:$missing" >&2
    echo "run as root: apt-get install -y$missing" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start services (Alertmanager would bind :9093).
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -qq >/dev/null 2>&1 || apt-get update
apt-get install -y -qq --no-install-recommends $missing >/tmp/segalert-deps.log 2>&1 || {
    tail -20 /tmp/segalert-deps.log >&2
    rm -f /usr/sbin/policy-rc.d
    exit 1
}
rm -f /usr/sbin/policy-rc.d
# Debian starts these after install on some machines; tests run their own.
for s in prometheus-alertmanager prometheus; do
    pkill -x "$s" 2>/dev/null || true
done
exit 0
