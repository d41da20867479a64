#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --version in the style of libvirt's tools ("libvirtd (libvirt) 9.0.0"):
# "PROGRAM (mirror-helper) VERSION"; qemu-mh prints QEMU's own lines first,
# which is what callers of "qemu -version" parse.
set -uo pipefail
build=${MH_BUILD_DIR:?}
want="(mirror-helper) $(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "${MH_SOURCE_DIR:?}/meson.build" | head -1)"
fail=0
check() {  # check NAME OUTPUT
    if [ "$(tail -n 1 <<<"$2")" = "$1 $want" ]; then
        echo "ok: $1: $(tail -n 1 <<<"$2")"
    else
        echo "FAIL: $1 --version: $2"
        fail=1
    fi
}
check virt-mh "$("$build/tools/virt-mh/virt-mh" --version)"
check virt-mhd "$("$build/tools/virt-mhd/virt-mhd" --version)"
if [ -x /usr/bin/qemu-system-x86_64 ]; then
    out=$(MH_QEMU_CONF=/dev/null "$build/sim/qemu-mh/qemu-mh" -version)
    check qemu-mh "$out"
    head -n 1 <<<"$out" | grep -q '^QEMU emulator version ' || { echo "FAIL: qemu-mh -version lost QEMU's line: $out"; fail=1; }
else
    echo "note: QEMU not installed, qemu-mh -version not checked"
fi
[ "$fail" = 0 ] && echo "PASS: --version" || exit 1
