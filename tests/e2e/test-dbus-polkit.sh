#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mhd on a system bus asks polkit (issue 15): a private bus of type
# "system" with the real polkitd on it and virt-mhd --system (libvirt's
# test driver behind it). An unprivileged caller is refused for each of
# the three actions (manage, migrate, inject-secret) with a named error
# that names the action, and nothing is done; root is let through.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || mh_skip "needs root (polkitd, a caller of another uid)"
[ -x /usr/lib/polkit-1/polkitd ] || mh_skip "polkitd not installed (package polkitd)"
command -v dbus-daemon >/dev/null || mh_skip "dbus-daemon not installed"
command -v setpriv >/dev/null || mh_skip "setpriv not installed (package util-linux)"
MHD=$MH_BUILD_DIR/tools/virt-mhd/virt-mhd
BUS=org.mirrorhelper.MirrorHelper1
ROOT=/org/mirrorhelper/MirrorHelper1
mh_tmpdir W mhpk
chmod 755 "$W"

# polkitd reads its actions once, from the system's directory.
actions=/usr/share/polkit-1/actions/$BUS.policy
if [ ! -e "$actions" ]; then
    install -m 0644 "$MH_SOURCE_DIR/data/$BUS.policy" "$actions"
    mh_on_exit "rm -f '$actions'"
fi
cat >"$W/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$W/system.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow send_type="signal"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$W/bus.conf" --nofork >"$W/bus.log" 2>&1 &
mh_on_exit "kill $! 2>/dev/null"
mh_wait_for "the bus" 10 test -S "$W/system.sock"
chmod 666 "$W/system.sock"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$W/system.sock
/usr/lib/polkit-1/polkitd --no-debug >"$W/polkitd.log" 2>&1 &
mh_on_exit "kill $! 2>/dev/null"
mh_wait_for "polkitd" 20 gdbus call --system --dest org.freedesktop.PolicyKit1 \
    --object-path /org/freedesktop/PolicyKit1/Authority \
    --method org.freedesktop.DBus.Properties.Get org.freedesktop.PolicyKit1.Authority BackendName
"$MHD" --system -c test:///default >"$W/mhd.log" 2>&1 &
mh_on_exit "kill $! 2>/dev/null"
call() { gdbus call --system --dest "$BUS" "$@"; }
mh_wait_for "virt-mhd" 20 call --object-path "$ROOT" --method "$BUS.Manager.ListDomains"
obj=$(call --object-path "$ROOT" --method "$BUS.Manager.LookupByName" test | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
[ -n "$obj" ] || mh_fail "no object for the test driver's domain"

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" gdbus call --system --dest "$BUS" "$@"; }
refused() {  # refused ACTION METHOD ARGS...
    local action=$1 out
    shift
    if out=$(as_nobody --object-path "$obj" --method "$BUS.Domain.$1" "${@:2}" 2>&1); then
        mh_fail "an unprivileged $1 was allowed: $out"
    fi
    grep -q "$BUS.Error.Refused: not authorized for $BUS.$action" <<<"$out" ||
        mh_fail "$1: expected Refused for $action, got: $out"
    mh_log "nobody: $1 refused ($action)"
}
refused manage Disable
refused manage Enable "{}"
refused migrate Migrate "'test:///default'" "{}" 0
refused inject-secret InjectLaunchSecret "'AAAA'" "'AAAA'" "{}"
# Unprotected reads still answer an unprivileged caller.
as_nobody --object-path "$obj" --method org.freedesktop.DBus.Properties.Get "$BUS.Domain" Name |
    grep -q "'test'" || mh_fail "an unprivileged read of Name failed"
# Root passes polkit; Disable on a domain without the helper succeeds.
call --object-path "$obj" --method "$BUS.Domain.Disable" >/dev/null || mh_fail "root's Disable was refused"
echo "PASS: virt-mhd --system asks polkit: an unprivileged caller is refused for manage, migrate and inject-secret, root is let through"
