#!/bin/sh
# Install the Debian packages given as arguments that are not installed yet.
# As root this runs apt-get; otherwise it prints the exact command to run.
# Package scripts are kept from starting services (policy-rc.d), and
# nothing that runs is touched.
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
# Our own policy-rc.d only when the machine has none (and removed after).
ours=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    ours=1
fi
apt-get update -qq >/dev/null 2>&1 || apt-get update
apt-get install -y -qq --no-install-recommends $missing >/tmp/segalert-deps.log 2>&1 || {
    tail -20 /tmp/segalert-deps.log >&2
    [ -n "$ours" ] && rm -f /usr/sbin/policy-rc.d
    exit 1
}
[ -n "$ours" ] && rm -f /usr/sbin/policy-rc.d
# Services the packages may have started anyway (systemd without
# policy-rc.d) are left alone: they are not ours, and every test starts its
# own peers on free ports.
exit 0
