#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virsh nodesevinfo on a lab host. libvirt answers it from the host's
# *default* emulator (qemu-system-x86_64 found in libvirtd's PATH), not
# from a domain's <emulator>; the lab makes qemu-mh that default
# (DIR/bin/qemu-system-x86_64 first in the daemon's PATH).
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 1
mh_require_qemu_mh
out=$(mh_virsh 1 nodesevinfo 2>&1) || mh_fail "virsh nodesevinfo failed: $out"
grep -q "^cbitpos *: 47" <<<"$out" || mh_fail "nodesevinfo: cbitpos: $out"
grep -q "^reduced-phys-bits *: 1" <<<"$out" || mh_fail "nodesevinfo: reduced-phys-bits: $out"
pdh=$(awk -F': *' '/^pdh/ {print $2}' <<<"$out")
[ "$(printf %s "$pdh" | base64 -d | wc -c)" = $((0x824)) ] || mh_fail "nodesevinfo: PDH is not an SEV certificate"
# The same identity as the platform directory of that host.
[ "$(printf %s "$pdh" | base64 -d | sha256sum)" = "$(sha256sum <"$MH_LAB_DIR/host1/mh-platform/pdh.cert")" ] ||
    mh_fail "nodesevinfo: PDH differs from host1's platform identity"
mh_log "nodesevinfo: $(tr '\n' ' ' <<<"$out" | cut -c1-120)..."
echo "PASS"
