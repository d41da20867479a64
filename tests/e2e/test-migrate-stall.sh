#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A target that stops answering in the middle of an MH migration: its
# qemu-mh is stopped with SIGSTOP during the RAM (MH) phase, and again
# during the device-state phase. The source's qemu-mh must give the
# migration up within migrate_stall_timeout (qemu-mh.conf, shortened here),
# resume the guest if it had stopped it, and keep it running and
# verifying its memory while the target is still stopped.
#
# What libvirt 9.0 does next is its own: the destination's Finish asks the
# target's monitor (query-status) without a time limit, so "virsh migrate"
# returns only once the target answers again. The test then continues the
# target and checks the rest: a libvirt error, the domain on host 1 only,
# its guest verifying, nothing left behind (docs/reliability.md).
set -euo pipefail
MIG_MEM=${MIG_MEM:-128}
# A small working set at a low write rate, so that RAM converges even at
# the 1-2 MiB/s limits that keep each phase long enough to stop the target
# in it.
MIG_GUEST_MEM=${MIG_GUEST_MEM:-16}
MIG_RATE=${MIG_RATE:-100}
STALL=${MH_TEST_STALL_TIMEOUT:-10}
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

dom=sevstall
mig_setup 2
for h in 1 2; do
    echo "migrate_stall_timeout = $STALL" \
        >>"$MH_LAB_DIR/host$h/home/.config/mirror-helper/qemu-mh.conf"
done
mig_define_start "$dom"
mig_wait_passes 1 "$dom" 1
touch "$MIG_W/t0"

# The source's own view, through its owner monitor: libvirt's requests to
# the source wait on the migration job while the destination hangs.
owner1=$MIG_W/owner-$dom-1.sock
watch_source() {
    /usr/bin/python3 "$MH_SOURCE_DIR/tests/e2e/qmp-migrate-watch.py" "$owner1" "$@"
}

processed() {
    mh_virsh 1 domjobinfo --rawstats "$dom" | sed -n 's/^memory_processed: *//p'
}

# stall_case WHAT BANDWIDTH STATUSES [WATCH_OPTS...]: migrate, stop the
# target's qemu-mh once the source's migration status is one of STATUSES.
stall_case() {
    local what=$1 bw=$2 statuses=$3 mpid tpid t0 took st
    shift 3
    mig_migrate "$dom" 1 2 p2p --bandwidth "$bw" &
    mpid=$!
    watch_source --until "$statuses" --timeout 180 "$@" >"$MIG_W/watch.out" ||
        mh_fail "$what: the source's migration never reached $statuses: $(cat "$MIG_W/watch.out")"
    if [ "$what" = "RAM phase" ]; then
        # At 1 MiB/s a batch of pages takes many seconds; libvirt's
        # figures must move within it (they stood still for a whole batch).
        local p1 p2
        p1=$(processed); sleep 4; p2=$(processed)
        [ -n "$p1" ] && [ -n "$p2" ] && [ "$p2" -gt "$p1" ] ||
            mh_fail "$what: memory_processed did not grow in 4 s at 1 MiB/s: '$p1' -> '$p2'"
        mh_log "$what: memory_processed $p1 -> $p2 bytes in 4 s"
    fi
    tpid=$(mig_qemu_pid 2 "$dom")
    [ -n "$tpid" ] || mh_fail "$what: cannot find the target's qemu-mh pid"
    kill -STOP "$tpid"
    t0=$SECONDS
    mh_on_exit "kill -CONT $tpid 2>/dev/null"
    mh_log "$what: target qemu-mh $tpid stopped at source status $(cat "$MIG_W/watch.out")"

    watch_source --until failed,cancelled,completed --timeout $((STALL + 60)) >"$MIG_W/watch.out" ||
        mh_fail "$what: the source did not give up within $((STALL + 60)) s: $(cat "$MIG_W/watch.out")"
    took=$((SECONDS - t0))
    grep -q '^failed ' "$MIG_W/watch.out" ||
        mh_fail "$what: the source's migration ended as $(cat "$MIG_W/watch.out"), not failed"
    [ "$took" -ge "$STALL" ] ||
        mh_fail "$what: the source gave up after $took s, before the $STALL s limit"
    mh_log "$what: the source's migration failed $took s after the target stopped (limit $STALL s)"

    # The guest runs on at the source while the target is still stopped.
    st=$(bash "$MIG_STATUS_SH" --wait-passes 2 --timeout 120 --qmp "$owner1") ||
        mh_fail "$what: the source guest did not verify 2 passes with the target stopped: $st"
    [ "$(mig_field state "$st")" = running ] || mh_fail "$what: source guest not running: $st"
    mh_wait_for "$dom running on host 1 with the target stopped" 30 mh_domstate_is 1 "$dom" running
    if kill -0 "$mpid" 2>/dev/null; then
        mh_log "$what: virsh migrate still waits for the destination's Finish (libvirt 9.0)"
    fi

    kill -CONT "$tpid"
    local deadline=$((SECONDS + 120))
    while kill -0 "$mpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.5
    done
    kill -0 "$mpid" 2>/dev/null && mh_fail "$what: virsh migrate did not return within 120 s of SIGCONT"
    if wait "$mpid"; then
        mh_fail "$what: the migration to a stopped target reported success"
    fi
    grep -q "no progress for $STALL seconds" "$MIG_W/migrate.out" ||
        mh_fail "$what: libvirt's error does not name the stall: $(cat "$MIG_W/migrate.out")"
    mig_after_failure "$dom" "$what"
}

stall_case "RAM phase" 1 active
# The real QEMU's own migration (the device state, about 4.5 MB) starts
# after the source stopped the guest for the final pass; at 2 MiB/s it
# takes two seconds.
stall_case "device phase" 2 setup,active --after-stop

mig_migrate "$dom" 1 2 p2p || mh_fail "migration after the stalls failed: $(cat "$MIG_W/migrate.out")"
mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
mig_wait_passes 2 "$dom" 2
echo "PASS: a target qemu-mh stopped in the RAM phase and in the device phase: the source gave up within the $STALL s stall limit and its guest ran on and verified its memory while the target stayed stopped; once continued, libvirt failed the migration, the domain stayed on host 1 only; a later migration succeeded"
