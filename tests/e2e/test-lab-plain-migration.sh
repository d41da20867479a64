#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Live migration of a plain (non-SEV) domain between two lab hosts, the way
# a cloud does it: 'virsh migrate --live --p2p' (source libvirtd talks to the
# destination, Nova's flags PERSIST_DEST|UNDEFINE_SOURCE), and client-managed
# ('virsh migrate --live' without --p2p), then back.  After each move the
# domain runs on the destination in a QEMU started as a migration target
# (-incoming), the destination reports a completed incoming job with RAM
# transferred, and the source has no trace of it.
#
#   test-lab-plain-migration.sh [qemu|qemu-mh]
# qemu (default): /usr/bin/qemu-system-x86_64 as the emulator;
# qemu-mh: the lab's copy of qemu-mh (SKIP when qemu-mh is not built).
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

variant=${1:-qemu}
mh_variant_check "$variant"
command -v python3 >/dev/null || mh_skip "python3 not installed (needed to pick free ports)"

mh_lab_up 2

mh_variant_emulator "$variant"
emulator=$MH_EMULATOR
mh_log "variant $variant: emulator $emulator"

# qemu_pid N DOM: pid of the domain's QEMU on host N (libvirt's pid file).
qemu_pid() {
    local f="$MH_LAB_DIR/host$1/run/libvirt/qemu/run/$2.pid"
    [ -s "$f" ] && cat "$f"
}

# check_moved DOM FROM TO: DOM runs on TO, as a migration target, and is
# gone from FROM (neither running nor defined there).
check_moved() {
    local dom=$1 from=$2 to=$3 pid cmd info processed
    mh_wait_for "$dom running on host $to" 30 mh_domstate_is "$to" "$dom" running
    if mh_virsh "$from" dominfo "$dom" >/dev/null 2>&1; then
        mh_fail "$dom still known on host $from after migration: $(mh_virsh "$from" list --all)"
    fi
    pid=$(qemu_pid "$to" "$dom") || mh_fail "no QEMU pid file for $dom on host $to"
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline") || mh_fail "QEMU $pid of $dom is not running"
    [[ "$cmd" == *"-incoming"* ]] || mh_fail "QEMU of $dom on host $to was not started as a migration target"
    [[ "$cmd" == *"$MH_LAB_DIR/host$to/"* ]] || mh_fail "QEMU of $dom does not belong to host $to: $cmd"
    if [ -n "$(qemu_pid "$from" "$dom" 2>/dev/null || true)" ]; then
        mh_fail "source host $from still has a pid file for $dom"
    fi
    info=$(mh_virsh "$to" domjobinfo "$dom" --completed) ||
        mh_fail "no completed job on host $to for $dom"
    processed=$(sed -n 's/^Memory processed: *\([0-9.]*\) \(.*\)$/\1 \2/p' <<<"$info")
    [ -n "$processed" ] || mh_fail "completed job on host $to shows no memory transfer: $info"
    mh_log "ok: $dom moved host $from -> host $to (QEMU pid $pid, memory processed $processed)"
}

# The guest: 128 MiB, no disk; SeaBIOS finds nothing to boot and keeps
# retrying, which keeps the vCPU busy and RAM in use but the load low.
run_case() {
    local mode=$1 dom="plain-$variant-$1" port xml start ms
    xml=$MH_LAB_DIR/$dom.xml
    mh_domain_xml "$xml" "$dom" 128 "$emulator"
    if [ "$mode" = p2p ]; then
        mh_virsh 1 define "$xml" >/dev/null || mh_fail "cannot define $dom on host 1"
        mh_virsh 1 start "$dom" >/dev/null || mh_fail "cannot start $dom on host 1"
    else
        mh_virsh 1 create "$xml" >/dev/null || mh_fail "cannot create $dom on host 1"
    fi
    mh_wait_for "$dom running on host 1" 30 mh_domstate_is 1 "$dom" running
    # Let the guest run a moment so there is live state to carry.
    sleep 1

    port=$(mh_free_port)
    start=$(date +%s%N)
    if [ "$mode" = p2p ]; then
        mh_virsh 1 migrate --live --p2p --persistent --undefinesource "$dom" "$MH_URI2" \
            "tcp://127.0.0.1:$port" || mh_fail "virsh migrate --live --p2p $dom failed"
    else
        mh_virsh 1 migrate --live "$dom" "$MH_URI2" "tcp://127.0.0.1:$port" ||
            mh_fail "virsh migrate --live (client-managed) $dom failed"
    fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    mh_log "$mode migration of $dom host 1 -> host 2 took $ms ms"
    check_moved "$dom" 1 2
    if [ "$mode" = p2p ]; then
        [ "$(mh_virsh 2 dominfo "$dom" | sed -n 's/^Persistent: *//p')" = yes ] ||
            mh_fail "$dom is not persistent on host 2 after --persistent"
    fi

    # And back, the other way round, to show both hosts can be either end.
    port=$(mh_free_port)
    if [ "$mode" = p2p ]; then
        mh_virsh 2 migrate --live --p2p --persistent --undefinesource "$dom" "$MH_URI1" \
            "tcp://127.0.0.1:$port" || mh_fail "p2p migration of $dom back to host 1 failed"
    else
        mh_virsh 2 migrate --live "$dom" "$MH_URI1" "tcp://127.0.0.1:$port" ||
            mh_fail "client-managed migration of $dom back to host 1 failed"
    fi
    check_moved "$dom" 2 1

    mh_virsh 1 destroy "$dom" >/dev/null || mh_fail "cannot destroy $dom on host 1"
    if [ "$mode" = p2p ]; then
        mh_virsh 1 undefine "$dom" --nvram >/dev/null 2>&1 || mh_virsh 1 undefine "$dom" >/dev/null
    fi
}

run_case p2p
run_case direct

# With a domain still running on each host, 'lab down' must leave nothing
# behind (for qemu-mh: neither the front-end nor the QEMU under it).
for i in 1 2; do
    mh_domain_xml "$MH_LAB_DIR/last$i.xml" "last-$variant-$i" 64 "$emulator"
    mh_virsh "$i" create "$MH_LAB_DIR/last$i.xml" >/dev/null || mh_fail "cannot start a domain on host $i"
done
before=$(mh_lab_processes | wc -l)
mh_lab_down
left=$(mh_lab_processes)
[ -z "$left" ] || mh_fail "processes left after lab down: $left"
mh_log "ok: lab down stopped all $before lab processes"

echo "PASS: plain live migration between two lab hosts ($variant): p2p and client-managed, both directions"
