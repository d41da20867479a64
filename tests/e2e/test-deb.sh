#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package (issue 16): dpkg-buildpackage -us -uc -b builds it
# from the tracked sources; its file list holds the tools, the hook, the
# daemons, the unit, the D-Bus and polkit files, the schema, the man
# pages, the completion and the translations; lintian reports no error;
# installed for real with dpkg -i its virt-mh runs, and dpkg --purge
# leaves none of its files behind. (The hook this build's tests use is
# saved first and put back after.)
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || mh_skip "installing a package needs root"
command -v dpkg-buildpackage >/dev/null || mh_skip "dpkg-buildpackage not installed (package dpkg-dev)"
[ -x /usr/bin/dh ] || mh_skip "debhelper not installed (package debhelper)"
dpkg-query -W -f='${Status}' mirror-helper 2>/dev/null | grep -q "ok installed" &&
    mh_skip "a mirror-helper package is installed on this machine already"
mh_tmpdir W mhdeb
# Only what git tracks: what a source package would hold.
if git -C "$MH_SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$MH_SOURCE_DIR" ls-files -z | (cd "$MH_SOURCE_DIR" && tar --null -T - -cf -) |
        (mkdir -p "$W/src" && cd "$W/src" && tar -xf -)
else
    mh_skip "not a git checkout: the package is built from the tracked files"
fi
mh_log "dpkg-buildpackage -us -uc -b (nocheck)"
(cd "$W/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b \
    >"$W/build.log" 2>&1) || mh_fail "dpkg-buildpackage failed: $(tail -30 "$W/build.log")"
deb=$(ls "$W"/mirror-helper_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$W/files"
for f in /usr/bin/virt-mh /usr/bin/qemu-mh /usr/bin/mh-sevctl /usr/sbin/virt-mhd \
         /usr/libexec/mirror-helper/mirror-helper-hook \
         /etc/libvirt/hooks/qemu.d/mirror-helper-hook /etc/mirror-helper/qemu-mh.conf \
         /lib/systemd/system/virt-mhd.service \
         /usr/share/dbus-1/system.d/org.mirrorhelper.MirrorHelper1.conf \
         /usr/share/dbus-1/system-services/org.mirrorhelper.MirrorHelper1.service \
         /usr/share/dbus-1/interfaces/org.mirrorhelper.MirrorHelper1.Domain.xml \
         /usr/share/polkit-1/actions/org.mirrorhelper.MirrorHelper1.policy \
         /usr/share/mirror-helper/schemas/mirror-helper.rng \
         /usr/share/bash-completion/completions/virt-mh \
         /usr/share/locale/de/LC_MESSAGES/mirror-helper.mo /usr/share/man/man1/virt-mh.1.gz \
         /usr/share/man/man8/virt-mhd.8.gz /usr/share/man/man8/mirror-helper-hook.8.gz \
         ${MH_DEB_EXTRA_FILES:-}; do
    grep -qx "$f" "$W/files" || mh_fail "the package lacks $f: $(cat "$W/files")"
done
mh_log "the package holds $(wc -l <"$W/files") paths"
if command -v lintian >/dev/null; then
    lintian --fail-on error --tag-display-limit 0 "$deb" >"$W/lintian.out" 2>&1 ||
        mh_fail "lintian reports errors: $(cat "$W/lintian.out")"
    mh_log "lintian: $(grep -c '^E:' "$W/lintian.out") errors, $(grep -c '^W:' "$W/lintian.out") warnings"
else
    echo "note: lintian not installed, not run"
fi

# Install for real, run, purge; the hook of this build's tests is kept aside.
hook=/etc/libvirt/hooks/qemu.d/mirror-helper-hook
if [ -e "$hook" ]; then cp -pL "$hook" "$W/hook.saved"; fi
mh_on_exit "dpkg --purge mirror-helper >/dev/null 2>&1; [ -f '$W/hook.saved' ] && install -D -m 0755 '$W/hook.saved' '$hook'"
rm -f "$hook"
dpkg -i "$deb" >"$W/install.log" 2>&1 || mh_fail "dpkg -i failed: $(cat "$W/install.log")"
v=$(/usr/bin/virt-mh --version) || mh_fail "the installed virt-mh does not run"
[ "$v" = "virt-mh (mirror-helper) 0.1.0" ] || mh_fail "virt-mh --version: $v"
/usr/sbin/virt-mhd --help >/dev/null || mh_fail "the installed virt-mhd does not run"
dpkg -L mirror-helper | while read -r f; do [ -d "$f" ] || echo "$f"; done >"$W/installed"
dpkg --purge mirror-helper >"$W/purge.log" 2>&1 || mh_fail "dpkg --purge failed: $(cat "$W/purge.log")"
left=$(while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done <"$W/installed")
[ -z "$left" ] || mh_fail "files left after purge: $left"
[ ! -e /etc/mirror-helper ] || mh_fail "/etc/mirror-helper left after purge"
echo "PASS: the package builds, holds the tools, hook, daemons, unit, D-Bus, polkit, schema and completion, lintian has no error, installs, runs ($v) and purges without leftovers"
