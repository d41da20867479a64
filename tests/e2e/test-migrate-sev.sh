#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Live migration of an SEV domain with the mirror helper through the MH,
# under an unmodified libvirt: the test guest runs its dirtying workload and
# verifies its own memory; the guest owner injects the migration key into
# each target during Prepare through the target's owner monitor.
#   host 1 -> host 2 (virsh migrate --live --p2p), then
#   host 2 -> host 1 (client-managed), the target of the first being the
#   source of the second with the key it received.
# Integrity: the guest's own verification passes after each switch-over
# (tests/guest: every page checked against its generation counters), not
# qemu-mh's accounting. Figures come from virsh domjobinfo --completed.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

dom=sevmig
mig_setup 2
mig_define_start "$dom"
mig_wait_passes 1 "$dom" 1

check_jobinfo() {  # check_jobinfo HOST: the target's completed job statistics are real
    local n=$1 info
    info=$(mh_virsh "$n" domjobinfo "$dom" --completed) || mh_fail "domjobinfo --completed on host $n failed"
    mh_log "domjobinfo --completed on host $n: $(tr -s ' ' <<<"$info" | tr '\n' ';')"
    grep -Eq '^Memory processed: +[1-9]' <<<"$info" || mh_fail "no memory processed in: $info"
    grep -Eq '^Memory total: +[1-9]' <<<"$info" || mh_fail "no memory total in: $info"
    grep -Eq '^Total downtime: +[0-9]+ +ms' <<<"$info" || mh_fail "no downtime in: $info"
    grep -Eq '^Iteration: +[1-9]' <<<"$info" || mh_fail "no iteration count in: $info"
}

mig_migrate "$dom" 1 2 p2p || mh_fail "p2p migration host 1 -> 2 failed: $(cat "$MIG_W/migrate.out")
owner: $(cat "$MIG_W/owner.out")"
mh_log "owner on the target: $(tail -n 2 "$MIG_W/owner.out" | tr '\n' ' ')"
mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
[ -z "$(mh_domstate 1 "$dom")" ] || mh_fail "$dom still on host 1 after the migration: $(mh_domstate 1 "$dom")"
grep -q 'Migration: \[100 %\]' "$MIG_W/migrate.out" || mh_fail "virsh --verbose showed no progress: $(cat "$MIG_W/migrate.out")"
check_jobinfo 2
mig_wait_passes 2 "$dom" 2

# The MH on host 2 must use the migration key injected into host 2's own
# launch, captured when the owner injected it, not whatever the secret
# area holds now (after the migration: the copy restored from host 1).
# Wipe the secret area in host 2's guest RAM through its file (the
# mem-path=/proc/self/fd/N that qemu-mh gave QEMU); host 2 ->
# host 1 must still work.
qmh_mh=$(mh_virsh 2 qemu-monitor-command "$dom" '{"execute":"query-migration-handler"}') ||
    mh_fail "query-migration-handler on host 2 failed: $qmh_mh"
mh_log "MH on host 2 after the incoming migration: $qmh_mh"
grep -q '"state":"running"' <<<"$qmh_mh" || mh_fail "the MH used by the migration is not running on host 2: $qmh_mh"
grep -Eq '"pages-restored":[1-9]' <<<"$qmh_mh" || mh_fail "query-migration-handler on host 2 does not show the restored pages: $qmh_mh"
head -c 4096 /dev/zero >"$MIG_W/zero.page"
mh_guest_ram_write 2 "$dom" "$MIG_SECRET_GPA" "$MIG_W/zero.page" ||
    mh_fail "cannot wipe the secret area on host 2"
mig_migrate "$dom" 2 1 direct || mh_fail "client-managed migration host 2 -> 1 failed: $(cat "$MIG_W/migrate.out")
owner: $(cat "$MIG_W/owner.out")"
mh_wait_for "$dom running on host 1" 30 mh_domstate_is 1 "$dom" running
grep -q "key from this launch's injected secret table" "$MH_LAB_DIR/host2/cache/libvirt/qemu/log/$dom.log" ||
    mh_fail "the MH on host 2 did not run with the key of its own launch: $(grep 'migration handler' "$MH_LAB_DIR/host2/cache/libvirt/qemu/log/$dom.log" | tail -5)"
check_jobinfo 1
mig_wait_passes 1 "$dom" 2

if mig_serial "$dom" | grep -q 'INTEGRITY FAILURE'; then
    mh_fail "integrity failure on the serial log: $(mig_serial "$dom" | grep 'INTEGRITY FAILURE' | head -3)"
fi
grep -h "MH \|migration completed" "$MH_LAB_DIR"/host*/cache/libvirt/qemu/log/"$dom".log | tail -n 12 || true
echo "PASS: SEV domain with the mirror helper migrated host 1 -> 2 (p2p) -> 1 (client-managed) through the MH; host 2's MH used the key of its own launch (secret area wiped before 2 -> 1); guest integrity verified by the guest after each switch-over"
