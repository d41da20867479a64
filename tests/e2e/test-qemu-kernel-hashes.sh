#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Measured direct kernel boot (<launchSecurity kernelHashes='yes'>): the
# launch digest covers the firmware and the kernel-hashes table, and
# libvirt's virt-qemu-sev-validate computes the same measurement; a
# different command line does not match. Debian's OVMF has no hashes-table
# area, which qemu-mh refuses exactly like QEMU 7.2; a copy with the area
# set (as the AmdSev OVMF build has it) is used for the rest.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

KERNEL=$MH_BUILD_DIR/tests/guest/mh-guest.efi
VALIDATE=/usr/bin/virt-qemu-sev-validate
mh_lab_up 1
mh_require_qemu_mh
[ -f "$MH_OVMF_CODE" ] || mh_skip "firmware not installed: $MH_OVMF_CODE (package ovmf)"
[ -f "$KERNEL" ] || mh_skip "test guest not built: $KERNEL (needs gnu-efi)"
[ -x "$VALIDATE" ] || mh_skip "virt-qemu-sev-validate not installed (package libvirt-clients-qemu)"
/usr/bin/python3 -c 'import lxml, cryptography' 2>/dev/null ||
    mh_skip "virt-qemu-sev-validate needs python3-lxml and python3-cryptography"

W=$MH_LAB_DIR/kh
mkdir -p "$W"
chmod 777 "$W"
kernel=$(mh_lab_copy "$KERNEL")
CMDLINE="mem=16 rate=10"

validate() {  # validate TK [ARGS...]
    local tk=$1
    shift
    PATH=/usr/bin:$PATH "$VALIDATE" --insecure -c "$MH_URI1" -o kh --tk "$tk" "$@" 2>&1
}

# domain FILE FIRMWARE [SESSION_DIR]
domain() {
    mh_domain_xml "$1" kh 128 "$MH_QEMU_MH" --loader "$2" --sev 0x0033 \
        --kernel "$kernel" --cmdline "$CMDLINE"
    sed -i "s|<launchSecurity type='sev'>|<launchSecurity type='sev' kernelHashes='yes'>|" "$1"
    grep -q "kernelHashes='yes'" "$1" || mh_fail "domain: no <launchSecurity> in $1"
    if [ -n "${3:-}" ]; then
        mh_xml_add_session "$1" "$3"
    fi
}

# --- Debian's OVMF: refused as QEMU refuses it
domain "$W/debian.xml" "$MH_OVMF_CODE"
if out=$(mh_virsh 1 create "$W/debian.xml" --paused 2>&1); then
    mh_fail "kernel hashes accepted with a firmware that has no hashes-table area"
fi
grep -q "SEV: guest firmware hashes table area is invalid (base=0x0 size=0x0)" <<<"$out" ||
    mh_fail "unexpected refusal: $out"
mh_log "Debian OVMF + kernelHashes: refused (hashes table area is invalid (base=0x0 size=0x0))"

# --- a firmware copy with a hashes-table area
mh_ovmf_set_area "$MH_OVMF_CODE" "$W/OVMF_HASHES.fd" hashes-table \
    7255371f-3a3b-4b04-927b-1da6efa8d454 0x80f000 0x400

# The platform's PDH, from a launch without a session.
domain "$W/r.xml" "$W/OVMF_HASHES.fd"
mh_virsh 1 create "$W/r.xml" --paused >/dev/null
mh_virsh 1 qemu-monitor-command kh '{"execute":"query-sev-capabilities"}' |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["return"]["pdh"])' >"$W/pdh.b64"
grep -q "and kernel hashes" "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/kh.log" ||
    mh_fail "the kernel hashes were not measured"
mh_virsh 1 destroy kh >/dev/null

"$VIRT_MH" owner session --pdh "$W/pdh.b64" --policy 0x33 --out "$W/sess" >/dev/null ||
    mh_fail "virt-mh owner session failed"
domain "$W/s.xml" "$W/OVMF_HASHES.fd" "$W/sess"
mh_virsh 1 create "$W/s.xml" --paused >/dev/null
out=$(validate "$W/sess/tk.bin") || mh_fail "virt-qemu-sev-validate rejected the measurement: $out"
grep -q "Looks good to me" <<<"$out" || mh_fail "validator: $out"
mh_log "kernel hashes: virt-qemu-sev-validate agrees: $out"
if out=$(validate "$W/sess/tk.bin" --ignore-config --firmware "$W/OVMF_HASHES.fd" \
         --kernel "$kernel" --cmdline "mem=16 rate=11"); then
    mh_fail "a different kernel command line validated"
fi
grep -q "Measurement does not match" <<<"$out" || mh_fail "validator: $out"
mh_log "another command line: $out"
mh_virsh 1 destroy kh >/dev/null
echo "PASS"
