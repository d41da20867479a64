#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mh migrate on two lab hosts (qemu-mh as the emulator):
#  - a plain domain migrates peer-to-peer with --verbose (progress bar and
#    figures) and back client-managed;
#  - --sev-helper refuses a non-SEV domain and an SEV domain without the
#    helper, with messages that say what is missing, and changes nothing;
#  - an SEV domain with <mh:helper mode='on-request'>: without an arm the
#    migration is refused as QEMU 7.2 refuses SEV guests; the QMP
#    arm-migration-handler arms and disarms it.
# The full SEV migration through the helper is in test-demo.sh.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 2
mh_require_qemu_mh
W=$MH_LAB_DIR/mig
mkdir -p "$W"
chmod 755 "$W"

# --- a plain domain, there (p2p) and back (client-managed)
mh_domain_xml "$W/plain.xml" plain 64 "$MH_QEMU_MH"
mh_virsh 1 define "$W/plain.xml" >/dev/null
mh_virsh 1 start plain >/dev/null
port=$(mh_free_port)
out=$("$VIRT_MH" -c "$MH_URI1" migrate plain "$MH_URI2" --p2p --live --verbose --persistent \
      --undefine-source --migrate-uri "tcp://127.0.0.1:$port" --timeout 120 2>&1) ||
    mh_fail "virt-mh migrate --p2p failed: $out"
grep -q "^Migration: \[#*\] 100 %" <<<"$out" || mh_fail "no progress bar: $out"
grep -q "Migration of 'plain' to .* completed" <<<"$out" || mh_fail "no completion line: $out"
grep -qE "^  memory: .* processed of " <<<"$out" || mh_fail "no memory figures: $out"
mh_domstate_is 2 plain running || mh_fail "plain is not running on host 2"
[ -z "$(mh_domstate 1 plain)" ] || mh_fail "plain is still defined on host 1 (--undefine-source)"
mh_log "p2p: $(grep -E '^  (time|memory|downtime)' <<<"$out" | tr -s ' ' | tr '\n' ';')"

port=$(mh_free_port)
out=$("$VIRT_MH" -c "$MH_URI2" migrate plain "$MH_URI1" --live --verbose \
      --migrate-uri "tcp://127.0.0.1:$port" 2>&1) ||
    mh_fail "virt-mh migrate (client-managed) failed: $out"
mh_domstate_is 1 plain running || mh_fail "plain is not running on host 1 after the way back"
mh_log "client-managed back to host 1: $(grep -E '^  time' <<<"$out" | tr -s ' ')"

# --- --sev-helper refusals
# refused_sev_helper DOM WHAT MESSAGE: `migrate --sev-helper` of DOM fails
# with MESSAGE (the start of the error line) and leaves DOM running.
refused_sev_helper() {
    local dom=$1 what=$2 message=$3 out
    if out=$("$VIRT_MH" -c "$MH_URI1" migrate "$dom" "$MH_URI2" --p2p --live --sev-helper 2>&1); then
        mh_fail "--sev-helper accepted $what"
    fi
    awk -v m="$message" 'index($0, m) == 1 { found = 1 } END { exit !found }' <<<"$out" ||
        mh_fail "unexpected refusal of $what: $out"
    mh_domstate_is 1 "$dom" running || mh_fail "$dom changed after a refusal"
    mh_log "$what refused: $out"
}
refused_sev_helper plain "a non-SEV domain" "error: --sev-helper: domain 'plain' is not an SEV domain"
mh_virsh 1 destroy plain >/dev/null

[ -f "$MH_OVMF_CODE" ] || mh_skip "firmware not installed: $MH_OVMF_CODE (package ovmf)"
mh_domain_xml "$W/sev.xml" sevd 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
mh_virsh 1 define "$W/sev.xml" >/dev/null
mh_virsh 1 start sevd >/dev/null
refused_sev_helper sevd "an SEV domain without the helper" \
    "error: --sev-helper: domain 'sevd' has no mirror helper (no <mh:helper>"
mh_virsh 1 destroy sevd >/dev/null

# --- mode='on-request': refused unarmed; the arm command
"$VIRT_MH" -c "$MH_URI1" enable sevd --mode on-request >/dev/null || mh_fail "virt-mh enable failed"
mh_virsh 1 start sevd >/dev/null
port=$(mh_free_port)
if out=$("$VIRT_MH" -c "$MH_URI1" migrate sevd "$MH_URI2" --p2p --live \
         --migrate-uri "tcp://127.0.0.1:$port" 2>&1); then
    mh_fail "an unarmed on-request SEV domain migrated"
fi
grep -q "SEV: Migration is not implemented" <<<"$out" || mh_fail "unexpected refusal: $out"
mh_domstate_is 1 sevd running || mh_fail "sevd is not running after the refused migration"
mh_log "on-request, not armed: $out"
qmp() {
    mh_virsh 1 qemu-monitor-command sevd "$1"
}
r=$(qmp '{"execute":"arm-migration-handler"}')
grep -q '"armed":true' <<<"$r" && grep -q '"mode":"on-request"' <<<"$r" || mh_fail "arm: $r"
r=$(qmp '{"execute":"arm-migration-handler","arguments":{"armed":false}}')
grep -q '"armed":false' <<<"$r" || mh_fail "disarm: $r"
r=$(qmp '{"execute":"arm-migration-handler","arguments":{"armed":"yes"}}' 2>&1) || true
grep -q "Invalid parameter type for 'armed', expected: boolean" <<<"$r" || mh_fail "bad argument: $r"
mh_log "arm-migration-handler: armed, disarmed, bad argument refused"
mh_virsh 1 destroy sevd >/dev/null
echo "PASS"
