#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# MH migrations that must fail cleanly: every failure is a libvirt error,
# the source guest keeps running (and keeps verifying its memory), and the
# target host is left without the domain.
#   - the target got the wrong migration key (key confirmation refuses it)
#   - the target never got a key (the target MH cannot start)
#   - post-copy (--postcopy), multifd (--parallel) and tunnelled
#     (--tunnelled) migration, refused up front
#   - virsh domjobabort in the middle of the MH phase
#   - the target's qemu-mh killed in the middle of the MH phase
#   - the target's real QEMU killed in the middle of the MH phase
#   - the target's qemu-mh killed after the source stopped the guest for
#     the final pass (the source guest must be resumed)
# Then a correct migration of the same guest still works.
set -euo pipefail
# Big and busy enough that the final pass (guest stopped) takes a while.
MIG_MEM=${MIG_MEM:-512}
MIG_GUEST_MEM=${MIG_GUEST_MEM:-448}
MIG_RATE=${MIG_RATE:-30000}
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

dom=sevfail
mig_setup 2
mig_define_start "$dom"
mig_wait_passes 1 "$dom" 1
touch "$MIG_W/t0"

after_failure() { mig_after_failure "$dom" "$1"; }

# --- wrong key on the target
"$VIRT_MH" owner new-key --out "$MIG_W/wrong.bin" >/dev/null
if MIG_TARGET_KEY=$MIG_W/wrong.bin mig_migrate "$dom" 1 2 p2p; then
    mh_fail "migration with the wrong key on the target succeeded"
fi
grep -Eqi 'key|confirm' "$MIG_W/migrate.out" || mh_fail "the error does not say the key was refused: $(cat "$MIG_W/migrate.out")"
after_failure "wrong key"

# --- no key on the target (the owner never injects)
MIG_TARGET_KEY=/nonexistent/key
if mig_migrate "$dom" 1 2 p2p; then
    mh_fail "migration to a target without the key succeeded"
fi
unset MIG_TARGET_KEY
grep -Eqi 'key|secret' "$MIG_W/migrate.out" || mh_fail "the error does not name the missing key: $(cat "$MIG_W/migrate.out")"
after_failure "target without key"

# --- post-copy and multifd, which the MH phase cannot honour: refused
# before a page moves, in QEMU's words through libvirt
for opt in --postcopy --parallel; do
    if MIG_TARGET_KEY=/nonexistent/key mig_migrate "$dom" 1 2 p2p "$opt"; then
        mh_fail "migrate $opt of an SEV domain with the helper succeeded"
    fi
    # QEMU itself refuses post-copy where userfaultfd is not open to the
    # lab user ("Postcopy is not supported"); where it is, qemu-mh does.
    grep -Eq "capability '(postcopy-ram|multifd)' is not supported|Postcopy is not supported" \
        "$MIG_W/migrate.out" ||
        mh_fail "migrate $opt: unexpected error: $(cat "$MIG_W/migrate.out")"
    after_failure "migrate $opt"
done
# Tunnelled: libvirt carries the stream itself (no migration URI).
mig_target_xml "$dom" 1 2
if mh_virsh 1 migrate --live --p2p --tunnelled --xml "$MIG_W/$dom-2.xml" "$dom" "$(mig_uri 2)" \
        >"$MIG_W/migrate.out" 2>&1; then
    mh_fail "a tunnelled migration of an SEV domain with the helper succeeded"
fi
grep -q "tunnelled migration is not supported" "$MIG_W/migrate.out" ||
    mh_fail "migrate --tunnelled: unexpected error: $(cat "$MIG_W/migrate.out")"
after_failure "migrate --tunnelled"

# --- domjobabort during the MH phase (libvirt's bandwidth limit, which the
# MH phase honours, keeps it long enough to hit)
mig_migrate "$dom" 1 2 p2p --bandwidth 8 &
mpid=$!
mh_wait_for "the migration job on host 1" 60 bash -c "virsh -q -c '$(mig_uri 1)' domjobinfo $dom | grep -q 'Unbounded'"
sleep 1
mh_virsh 1 domjobabort "$dom" || mh_fail "domjobabort failed"
if wait "$mpid"; then
    mh_fail "aborted migration reported success"
fi
grep -Eqi 'cancel|abort' "$MIG_W/migrate.out" || mh_fail "the error does not say it was cancelled: $(cat "$MIG_W/migrate.out")"
after_failure "domjobabort"

# --- the target's qemu-mh dies during the MH phase
mig_migrate "$dom" 1 2 p2p --bandwidth 8 &
mpid=$!
mh_wait_for "the migration job on host 1" 60 bash -c "virsh -q -c '$(mig_uri 1)' domjobinfo $dom | grep -q 'Unbounded'"
sleep 1
tpid=$(mig_qemu_pid 2 "$dom")
[ -n "$tpid" ] || mh_fail "cannot find the target's qemu-mh pid"
kill -9 "$tpid"
if wait "$mpid"; then
    mh_fail "migration to a killed target reported success"
fi
after_failure "target killed"

# --- the target's real QEMU (qemu-mh's child) dies during the MH phase
mig_migrate "$dom" 1 2 p2p --bandwidth 8 &
mpid=$!
mh_wait_for "the migration job on host 1" 60 bash -c "virsh -q -c '$(mig_uri 1)' domjobinfo $dom | grep -q 'Unbounded'"
sleep 1
tpid=$(mig_qemu_pid 2 "$dom")
qpid=$(pgrep -P "$tpid" qemu-system || true)
[ -n "$qpid" ] || mh_fail "cannot find the target's real QEMU (child of qemu-mh $tpid)"
kill -9 "$qpid"
if wait "$mpid"; then
    mh_fail "migration to a target whose QEMU was killed reported success"
fi
after_failure "target QEMU killed"

# --- the target's qemu-mh dies while the source guest is stopped for the
# final pass: a large downtime limit makes the source stop the guest after
# the first (throttled) pass with nearly all of RAM still to send.
mig_migrate "$dom" 1 2 p2p --bandwidth 64 &
mpid=$!
mh_wait_for "the migration job on host 1" 60 bash -c "virsh -q -c '$(mig_uri 1)' domjobinfo $dom | grep -q 'Unbounded'"
mh_virsh 1 migrate-setmaxdowntime "$dom" 100000 || mh_fail "migrate-setmaxdowntime failed"
for ((i = 0; i < 3000; i++)); do
    [ "$(mh_domstate 1 "$dom")" = paused ] && break
    sleep 0.01
done
[ "$(mh_domstate 1 "$dom")" = paused ] || mh_fail "the source never stopped the guest for the final pass"
tpid=$(mig_qemu_pid 2 "$dom")
[ -n "$tpid" ] || mh_fail "cannot find the target's qemu-mh pid"
kill -9 "$tpid"
mh_log "target qemu-mh $tpid killed while the source guest was paused for the final pass"
if wait "$mpid"; then
    mh_fail "migration to a target killed in the final pass reported success"
fi
after_failure "target killed in the final pass"

# --- and a correct migration still goes through
mig_migrate "$dom" 1 2 p2p || mh_fail "migration after the failures failed: $(cat "$MIG_W/migrate.out")"
mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
mig_wait_passes 2 "$dom" 2
echo "PASS: wrong key, missing key, domjobabort, a target qemu-mh or QEMU killed in the MH phase and a target killed during the final pass (guest stopped, then resumed) each failed with a libvirt error, left the guest running on the source and nothing on the target; a later migration succeeded"
