#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Under load (issue 13): four SEV guests with the mirror helper migrate at
# once between two lab hosts, in both directions (two host 1 -> 2, two
# host 2 -> 1, all started together), each target attested by the key
# broker through the hook, nobody acting; then all four back at once.
# Each guest verifies its own memory after each round.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

MIG_MEM=${MIG_MEM:-96}
MIG_GUEST_MEM=${MIG_GUEST_MEM:-32}
MIG_RATE=${MIG_RATE:-1000}
doms=(conc1 conc2 conc3 conc4)
mig_setup 2
mig_broker_up
for d in "${doms[@]}"; do
    mig_broker_domain "$d"
done
# Two of them go to host 2 first (one at a time), so that the round
# below runs in both directions.
where=([0]=1 [1]=1 [2]=1 [3]=1)
for i in 2 3; do
    mh_virsh 1 migrate --live --p2p --persistent --undefinesource "${doms[$i]}" "$MH_URI2" \
        "tcp://127.0.0.1:$(mh_free_port)" >"$MIG_W/pre-$i.out" 2>&1 ||
        mh_fail "moving ${doms[$i]} to host 2 failed: $(cat "$MIG_W/pre-$i.out")"
    where[$i]=2
done
for i in 0 1 2 3; do mig_wait_passes "${where[$i]}" "${doms[$i]}" 1; done

round() {  # all four at once, each to the other host
    local r=$1 i pids=() from to t0=$SECONDS
    for i in 0 1 2 3; do
        from=${where[$i]}; to=$((3 - from))
        # Ports are taken before any migration starts: two at once may
        # otherwise pick the same free port.
        mh_virsh "$from" migrate --live --p2p --persistent --undefinesource "${doms[$i]}" \
            "$(mig_uri "$to")" "tcp://127.0.0.1:$((MIG_PORT0 + 4 * r + i))" \
            >"$MIG_W/round$r-$i.out" 2>&1 &
        pids[$i]=$!
    done
    for i in 0 1 2 3; do
        from=${where[$i]}; to=$((3 - from))
        wait "${pids[$i]}" || mh_fail "round $r: ${doms[$i]} host $from -> $to failed: $(cat "$MIG_W/round$r-$i.out")"
        where[$i]=$to
    done
    mh_log "round $r: 4 migrations at once (2 each way) done in $((SECONDS - t0)) s"
    for i in 0 1 2 3; do
        mh_wait_for "${doms[$i]} running on host ${where[$i]}" 30 mh_domstate_is "${where[$i]}" "${doms[$i]}" running
        [ -z "$(mh_domstate $((3 - where[$i])) "${doms[$i]}")" ] || mh_fail "round $r: ${doms[$i]} left on host $((3 - where[$i]))"
        mig_wait_passes "${where[$i]}" "${doms[$i]}" 1
    done
}
MIG_PORT0=$(( (RANDOM % 2000) + 40000 ))
round 1
round 2
n=$(sqlite3 "$MIG_B/state/broker.db" "SELECT count(*) FROM audit WHERE action = 'secret' AND granted = 1")
[ "$n" = 14 ] || mh_fail "expected 14 granted secrets (4 starts, 2 moves, 8 in the rounds), got $n"
for d in "${doms[@]}"; do
    if mig_serial "$d" | grep -q 'INTEGRITY FAILURE'; then
        mh_fail "$d: integrity failure on its serial log"
    fi
done
echo "PASS: 4 SEV guests migrated at once, 2 each way, twice; every target attested by the broker; every guest verified its memory after each round"
