#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test guest under libvirt on lab hosts: it boots from <kernel> under
# OVMF, its status block reads back through 'virsh qemu-monitor-command'
# (tests/guest/guest-status.sh), and it keeps verifying its memory with no
# error across a correct live migration (p2p host 1 -> host 2, then
# client-managed back): the integrity check gives no false alarm, and every
# page is verified on the destination after each switch-over.
#
#   test-guest-libvirt.sh [qemu|qemu-mh]
# qemu (default): /usr/bin/qemu-system-x86_64 as the emulator; qemu-mh: the
# lab's qemu-mh with a plain (non-SEV) domain (SKIP when qemu-mh is not built).
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

variant=${1:-qemu}
mh_variant_check "$variant"
efi=$MH_BUILD_DIR/tests/guest/mh-guest.efi
status_sh=$MH_SOURCE_DIR/tests/guest/guest-status.sh
[ -f "$efi" ] || mh_skip "test guest not built ($efi): install gnu-efi and rebuild"
[ -f "$MH_OVMF_CODE" ] || mh_skip "OVMF not installed ($MH_OVMF_CODE)"
command -v python3 >/dev/null || mh_skip "python3 not installed (needed to pick free ports)"

mh_lab_up 2
mh_variant_emulator "$variant"
emulator=$MH_EMULATOR

dom=mh-guest-$variant
marker="MH-MARKER-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
guest_efi=$(mh_lab_copy "$efi")
# The lab directory belongs to the lab user, so its QEMUs can write here.
log=$MH_LAB_DIR/$dom-serial.log
xml=$MH_LAB_DIR/$dom.xml
mh_domain_xml "$xml" "$dom" 128 "$emulator" --loader ovmf \
    --kernel "$guest_efi" --cmdline "mem=64 rate=2000 interval=1000 marker=$marker" \
    --serial-log "$log"
# Both ends of a migration write the same log: the destination must append
# instead of truncating what the source wrote.
sed -i "s|<source path='$log'/>|<source path='$log' append='on'/>|" "$xml"
grep -q "append='on'" "$xml" || mh_fail "could not set append='on' on the serial log in $xml"

serial() { tr -d '\r\0' <"$log" 2>/dev/null || true; }
serial_has() { serial | grep -Eq "$1"; }
status() { bash "$status_sh" "$1" "$dom"; }
field() { sed -n "s/^$1=//p" <<<"$2"; }
uri() { local v="MH_URI$1"; echo "${!v}"; }

mh_virsh 1 define "$xml" >/dev/null || mh_fail "cannot define $dom on host 1"
mh_on_exit "mh_virsh 1 destroy $dom >/dev/null 2>&1; mh_virsh 2 destroy $dom >/dev/null 2>&1; mh_virsh 1 undefine --nvram $dom >/dev/null 2>&1; mh_virsh 2 undefine --nvram $dom >/dev/null 2>&1"
start=$(date +%s%N)
mh_virsh 1 start "$dom" >/dev/null || mh_fail "cannot start $dom on host 1"
mh_wait_for "'mh-guest: ready' on the serial log" 240 serial_has '^mh-guest: ready '
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
mh_log "ready ${ready_ms} ms after 'virsh start' ($variant, 128 MiB, mem=64): $(serial | grep '^mh-guest: ready ')"
serial | grep -q "marker=$marker" || mh_fail "the guest did not take the marker from <cmdline>"

# wait_passes N MORE: on host N, MORE verify passes complete from now on
# with errors=0 (guest-status.sh --wait-passes), and pages are dirtied.
wait_passes() {
    local n=$1 more=$2 st0 st rc=0
    st0=$(status "$(uri "$n")") || mh_fail "no status block on host $n: $st0"
    st=$(bash "$status_sh" --wait-passes "$more" --timeout 120 "$(uri "$n")" "$dom") || rc=$?
    case $rc in
        0) ;;
        3) mh_fail "integrity errors on host $n: $st
$(serial | grep 'INTEGRITY' | head)" ;;
        *) mh_fail "no $more clean verify passes on host $n (guest-status.sh exit $rc): $st" ;;
    esac
    [ "$(field state "$st")" = running ] || mh_fail "guest not running on host $n: $st"
    [ "$(field dirtied "$st")" -gt "$(field dirtied "$st0")" ] ||
        mh_fail "the workload did not dirty pages on host $n: $st"
    mh_log "ok: host $n: $(tr '\n' ' ' <<<"$st")"
}

wait_passes 1 2

migrate() {
    local from=$1 to=$2 mode=$3 port t0 ms
    port=$(mh_free_port)
    t0=$(date +%s%N)
    if [ "$mode" = p2p ]; then
        mh_virsh "$from" migrate --live --p2p --persistent --undefinesource "$dom" \
            "$(uri "$to")" "tcp://127.0.0.1:$port" || mh_fail "p2p migration host $from -> $to failed"
    else
        mh_virsh "$from" migrate --live --persistent --undefinesource "$dom" \
            "$(uri "$to")" "tcp://127.0.0.1:$port" || mh_fail "client-managed migration host $from -> $to failed"
    fi
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    mh_wait_for "$dom running on host $to" 30 test "$(mh_domstate "$to" "$dom")" = running
    mh_log "$mode live migration host $from -> host $to took $ms ms"
    # Two full passes on the destination: every page verified at least once
    # after the switch-over.
    wait_passes "$to" 2
}

migrate 1 2 p2p
migrate 2 1 direct

if serial | grep -q 'INTEGRITY FAILURE'; then
    mh_fail "integrity failure on the serial log: $(serial | grep 'INTEGRITY FAILURE' | head -3)"
fi
echo "PASS: test guest ready in ${ready_ms} ms under libvirt ($variant); status block via virsh; no integrity error across two live migrations"
