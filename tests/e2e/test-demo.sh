#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mh demo, the README's main job, end to end (real libvirtd, QEMU under
# TCG through qemu-mh, OVMF, the test guest):
#  1. "virt-mh demo --dir D": two lab hosts, the guest owner's key broker
#     (TLS, behind the demo's recording relay), an SEV domain with the
#     mirror helper started through the broker, live migration host 1 ->
#     host 2 (peer-to-peer) -> host 1 (client-managed) by plain libvirt
#     calls, the hosts' hook attesting each target with the broker; each
#     migration must print "integrity: PASS", the broker's audit lines,
#     "confidentiality of the broker's traffic: PASS" and
#     "confidentiality of the migration stream: PASS" (as root with
#     tcpdump from a packet capture, otherwise through the demo's own
#     relay), and its figures; afterwards no process of the lab is left;
#  2. "virt-mh demo --keep --helper-mode on-request --capture relay": the
#     stream checked through the relay even as root; the lab and the broker
#     stay up with the guest running on host 1, and the URIs are printed;
#     a plain "virsh migrate --live --p2p" (as a new user would try it)
#     then moves the guest to host 2; the test then takes it down.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

command -v libvirtd >/dev/null 2>&1 || [ -x /usr/sbin/libvirtd ] ||
    mh_skip "libvirtd not installed (package libvirt-daemon)"
[ -x "$MH_QEMU_SYSTEM" ] || mh_skip "QEMU not installed ($MH_QEMU_SYSTEM, package qemu-system-x86)"
[ -x "$VIRT_MH" ] || mh_fail "virt-mh not built: $VIRT_MH"
[ -x "$QEMU_MH" ] || mh_skip "qemu-mh not built ($QEMU_MH)"
[ -f "$MH_BUILD_DIR/tests/guest/mh-guest.efi" ] ||
    mh_skip "the test guest is not built (package gnu-efi)"
[ -f /usr/share/ovmf/OVMF.fd ] || mh_skip "firmware not installed: /usr/share/ovmf/OVMF.fd (package ovmf)"

# Whether the demo can capture packets here, as the demo decides it (else
# it checks the stream through its relay).
expect_capture=0
if [ "$(id -u)" = 0 ] && { command -v tcpdump >/dev/null 2>&1 || [ -x /usr/sbin/tcpdump ] ||
                           [ -x /usr/bin/tcpdump ]; }; then
    expect_capture=1
fi

# The lab directory is ours (--dir), so that we can check for leftovers.
MH_LAB_DIR=$(mktemp -d /tmp/mhdemo-t.XXXXXX)
OUT=$MH_LAB_DIR.out
mh_register_path "$MH_LAB_DIR"
mh_register_path "$OUT"
mh_register_path "$MH_LAB_DIR.keep"
mh_on_exit "'$VIRT_MH' lab down --dir '$MH_LAB_DIR' >/dev/null 2>&1; rm -rf '$MH_LAB_DIR' '$OUT' '$MH_LAB_DIR.keep'"

# count PATTERN FILE: lines matching the extended regexp
count() {
    grep -cE "$1" "$2" || true
}

# check_run FILE HOW: the verdict lines of one demo run whose stream
# check went by HOW ("captured" by tcpdump or "carried" by the relay)
check_run() {
    local f=$1 how=$2 n
    n=$(count '^    integrity: PASS \(on host [12] ' "$f")
    [ "$n" = 2 ] || mh_fail "expected 2 'integrity: PASS' lines, got $n"
    n=$(count "^    confidentiality of the migration stream: PASS \([0-9.]+ [KMG]iB (of TCP payload )?$how .* marker .* found 0 time\(s\), migration key found 0 time\(s\)\)" "$f")
    [ "$n" = 2 ] || mh_fail "expected 2 'confidentiality of the migration stream: PASS (... $how ...)' lines, got $n"
    n=$(count 'MH stream header seen [1-9]' "$f")
    [ "$n" = 2 ] || mh_fail "the MH stream was seen in $n of 2 migrations"
    n=$(count "control string found yes" "$f")
    [ "$n" = 2 ] || mh_fail "the control string was not found in $n of 2 checks"
    n=$(count "^    confidentiality of the broker's traffic: PASS \([0-9.]+ [KM]iB " "$f")
    [ "$n" = 2 ] || mh_fail "expected 2 'confidentiality of the broker's traffic: PASS' lines, got $n"
    n=$(count '^    broker: secret GRANTED for platform ' "$f")
    [ "$n" = 3 ] || mh_fail "expected 3 granted secrets in the broker's audit lines (start, 2 hops), got $n"
    grep -q 'done: the guest runs on host 2' "$f" || mh_fail "no switch-over to host 2"
    grep -q 'done: the guest runs on host 1' "$f" || mh_fail "no switch-over back to host 1"
    n=$(count '^  downtime: +[0-9]+ ms' "$f")
    [ "$n" = 2 ] || mh_fail "expected 2 downtime figures, got $n"
    n=$(count '^  throughput: ' "$f")
    [ "$n" = 2 ] || mh_fail "expected 2 throughput figures, got $n"
    grep -q 'the broker verified it and sealed key 0x[0-9a-f]* for this launch' "$f" ||
        mh_fail "no attested first launch"
    grep -q '^    demo completed in ' "$f" || mh_fail "no completion line"
}

# --- 1. the main job, torn down at the end
mh_log "virt-mh demo --dir $MH_LAB_DIR"
rc=0
"$VIRT_MH" demo --dir "$MH_LAB_DIR" >"$OUT" 2>&1 || rc=$?
cat "$OUT"
[ "$rc" = 0 ] || mh_fail "virt-mh demo exited $rc"
if [ "$expect_capture" = 1 ]; then check_run "$OUT" captured; else check_run "$OUT" carried; fi
grep -q '^==> Tearing the lab down' "$OUT" || mh_fail "the demo did not tear the lab down"
left=$(mh_lab_processes)
[ -z "$left" ] || mh_fail "processes of the lab left after the demo: $left"
grep -E '^    migration [12], ' "$OUT" | while read -r l; do mh_log "$l"; done

# --- 2. --keep, with a helper in mode on-request (armed by the source before
# each migration; the target must take the MH path unarmed): the lab and the
# guest stay
rm -rf "$MH_LAB_DIR"
mkdir -p "$MH_LAB_DIR"
mh_log "virt-mh demo --keep --helper-mode on-request --capture relay --dir $MH_LAB_DIR"
rc=0
"$VIRT_MH" demo --keep --helper-mode on-request --capture relay --dir "$MH_LAB_DIR" >"$OUT" 2>&1 || rc=$?
cat "$OUT"
[ "$rc" = 0 ] || mh_fail "virt-mh demo --keep --helper-mode on-request --capture relay exited $rc"
check_run "$OUT" carried
[ "$(grep -c 'mode on-request, armed for this migration' "$OUT")" = 2 ] ||
    mh_fail "on-request: the helper was not armed for both migrations"
grep -q '^==> Keeping the lab (--keep)' "$OUT" || mh_fail "--keep: no keep step"
uri1=$(grep -m1 '^qemu+unix:///session?socket=.*host1' "$OUT") || mh_fail "--keep: host 1's URI not printed"
grep -q '^qemu+unix:///session?socket=.*host2' "$OUT" || mh_fail "--keep: host 2's URI not printed"
state=$(virsh -q -c "$uri1" domstate mh-demo 2>&1 | head -n 1)
[ "$state" = running ] || mh_fail "--keep: mh-demo on host 1 is '$state', not running"
# As a user would go on with the kept lab, the broker still serving:
# mode on-request is armed by "virt-mh migrate --sev-helper", a plain virsh
# migrate is refused as QEMU refuses SEV migration.
uri2=$(grep -m1 '^qemu+unix:///session?socket=.*host2' "$OUT")
if out=$(virsh -c "$uri1" migrate --live --p2p mh-demo "$uri2" "tcp://127.0.0.1:$(mh_free_port)" 2>&1); then
    mh_fail "--keep: an unarmed on-request helper migrated with plain virsh"
fi
grep -q 'SEV: Migration is not implemented' <<<"$out" || mh_fail "--keep: unexpected refusal: $out"
out=$("$VIRT_MH" -c "$uri1" migrate --sev-helper --p2p --live --persistent --undefine-source \
      --migrate-uri "tcp://127.0.0.1:$(mh_free_port)" mh-demo "$uri2" 2>&1) ||
    mh_fail "--keep: virt-mh migrate --sev-helper failed: $out"
state=$(virsh -q -c "$uri2" domstate mh-demo 2>&1 | head -n 1)
[ "$state" = running ] || mh_fail "--keep: after virt-mh migrate --sev-helper mh-demo on host 2 is '$state'"
mh_log "--keep: 'virt-mh migrate --sev-helper' moved the guest to host 2 (the hook attested it with the kept broker)"
"$VIRT_MH" lab down --dir "$MH_LAB_DIR" >/dev/null || mh_fail "lab down after --keep failed"
left=$(mh_lab_processes)
[ -z "$left" ] || mh_fail "processes of the lab left after lab down: $left"
echo "PASS"
