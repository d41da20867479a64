#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Migration with nobody acting: the guest owner's key broker and the
# libvirt hook. The owner enrols the guest and trusts both lab hosts'
# platforms; "virt-mh start" launches it through the broker; then plain
# "virsh migrate" (no --xml, no owner step) moves it host 1 -> 2 (p2p)
# -> 1 (client-managed) -> 2, each target's hook getting a bundle for its
# own platform and the secret for its measured launch. Between the hops,
# plain "virsh start --paused" (Nova's spawn) on a host whose definition
# holds a spent session: the hook gets a fresh one and attests the
# launch. The guest verifies its own memory after each step. Then the
# refusals: an untrusted platform, another firmware, a launch id replayed
# by a lying target, a revoked guest, the broker down: the migration
# fails with the broker's reason, the source runs on, the target holds
# nothing. The broker's audit log shows every decision, and its database
# never holds the key in clear.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

dom=brokmig
mig_setup 3
mig_broker_up
B=$MIG_B
bpid=$MIG_BROKER_PID

uuid=
broker() { mig_broker "$@"; }
mig_broker_domain "$dom"
uuid=$MIG_UUID
mig_wait_passes 1 "$dom" 1

plain_migrate() {  # plain_migrate FROM TO MODE: virsh alone; output in $MIG_W/migrate.out
    local from=$1 to=$2 p2p=()
    [ "$3" = p2p ] && p2p=(--p2p)
    mh_virsh "$from" migrate --live "${p2p[@]}" --persistent --undefinesource \
        "$dom" "$(mig_uri "$to")" "tcp://127.0.0.1:$(mh_free_port)" >"$MIG_W/migrate.out" 2>&1
}

hop() {
    local from=$1 to=$2 mode=$3
    plain_migrate "$from" "$to" "$mode" || mh_fail "plain virsh migrate ($mode) host $from -> $to failed: $(cat "$MIG_W/migrate.out")
hook/qemu log: $(tail -5 "$MH_LAB_DIR/host$to/cache/libvirt/qemu/log/$dom.log" 2>/dev/null)"
    mh_wait_for "$dom running on host $to" 30 mh_domstate_is "$to" "$dom" running
    [ -z "$(mh_domstate "$from" "$dom")" ] || mh_fail "$dom still on host $from"
    # Figures for bench/broker-bench.sh: the migration's own time, and
    # (at the end) what the hook took inside Prepare.
    mh_log "hop $from -> $to: $(mh_virsh "$to" domjobinfo "$dom" --completed | grep -E '^Time elapsed:' | tr -s ' ')"
    mig_wait_passes "$to" "$dom" 2
}

# "virt-mh start" gave the launch a session of its own; host 1's hook let
# it stand (the broker said it was unused) and did not attest.
mig_hook_log 1 | grep -q "start-begin session kept .* ok" ||
    mh_fail "host 1's hook did not keep virt-mh start's session: $(mig_hook_log 1)"
hop 1 2 p2p
# A migration's own start leaves its session to "migrate begin".
! mig_hook_log 2 | grep -q "start-begin" || mh_fail "host 2's hook touched the migration's session: $(mig_hook_log 2)"

# Starts that no migration prepared, as Nova's spawn does it: start
# paused, resume once the network is up. The definition host 2 keeps
# carries a session the broker already spent; the hook's "start" gets a
# fresh one, its "started" attests the launch.
paused_start() {  # paused_start HOST
    local h=$1 before
    before=$(mig_ready_count "$dom")
    mh_virsh "$h" start --paused "$dom" >"$MIG_W/start.out" 2>&1 ||
        mh_fail "virsh start --paused of $dom on host $h failed: $(cat "$MIG_W/start.out")"
    mh_domstate_is "$h" "$dom" paused || mh_fail "$dom is not paused on host $h: $(mh_domstate "$h" "$dom")"
    mig_hook_log "$h" | tail -2 | grep -q "start-begin session fresh .* ok" &&
        mig_hook_log "$h" | tail -1 | grep -q "started-begin attest .* ok" ||
        mh_fail "host $h's hook did not give the start a fresh, attested session: $(mig_hook_log "$h" | tail -3)"
    mh_virsh "$h" resume "$dom" >/dev/null || mh_fail "cannot resume $dom on host $h"
    mh_wait_for "$dom booted again on host $h" 240 eval '[ "$(mig_ready_count "$dom")" -gt "$before" ]'
    mig_wait_passes "$h" "$dom" 2
    mh_log "virsh start --paused on host $h: $(mig_hook_log "$h" | tail -2 | cut -d' ' -f3- | tr '\n' ';')"
}
mh_virsh 2 destroy "$dom" >/dev/null || mh_fail "cannot stop $dom on host 2"
paused_start 2
# Without --paused, libvirt runs the vCPUs before "started": the launch is
# over before a secret could go in, so the hook fails the start.
mh_virsh 2 destroy "$dom" >/dev/null || mh_fail "cannot stop $dom on host 2"
if mh_virsh 2 start "$dom" >"$MIG_W/start.out" 2>&1; then
    mh_fail "a plain virsh start of a broker domain succeeded"
fi
grep -q "virsh start --paused" "$MIG_W/start.out" ||
    mh_fail "the refused start does not say how to start: $(cat "$MIG_W/start.out")"
[ "$(mh_domstate 2 "$dom")" = "shut off" ] || mh_fail "$dom is not shut off after the refused start: $(mh_domstate 2 "$dom")"
mh_log "plain virsh start refused: $(grep -o 'mirror-helper hook: .*' "$MIG_W/start.out" | cut -c1-200)"
paused_start 2
hop 2 1 direct
hop 1 2 p2p

for h in 1 2 3; do
    [ -f "$MH_LAB_DIR/host$h/run/mh/hook.log" ] || continue
    while read -r line; do mh_log "hook host $h: $line"; done <"$MH_LAB_DIR/host$h/run/mh/hook.log"
done

# Refusals: the source runs on, the target holds nothing, libvirt's
# error carries the broker's reason.
refused() {  # refused WHY WANT [TO [VIRSH_OPTS...]]
    local why=$1 want=$2 to=${3:-1}
    shift 3 || shift $#
    if mh_virsh 2 migrate --live --p2p --persistent --undefinesource "$@" "$dom" \
        "$(mig_uri "$to")" "tcp://127.0.0.1:$(mh_free_port)" >"$MIG_W/migrate.out" 2>&1; then
        mh_fail "migration with $why succeeded"
    fi
    grep -q "$want" "$MIG_W/migrate.out" || mh_fail "$why: libvirt's error lacks '$want': $(cat "$MIG_W/migrate.out")"
    mh_domstate_is 2 "$dom" running || mh_fail "$why: the source is not running: $(mh_domstate 2 "$dom")"
    [ -z "$(mh_domstate "$to" "$dom")" ] || mh_fail "$why: host $to holds $dom: $(mh_domstate "$to" "$dom")"
    mh_log "$why: refused: $(grep -o 'error: .*' "$MIG_W/migrate.out" | head -1 | sed 's/Child process ([^)]*)//' | cut -c1-240)"
}
# Host 3's platform was never trusted by the owner.
refused "an untrusted platform" "is not trusted" 3
# A target that would run another firmware: the XML names a copy of OVMF
# with one byte changed, so the launch measures differently.
cp "$MH_OVMF_CODE" "$MIG_W/ovmf-other.fd"
printf '\x5a' | dd of="$MIG_W/ovmf-other.fd" bs=1 seek=4096 conv=notrunc status=none
chmod a+r "$MIG_W/ovmf-other.fd"
mh_virsh 2 dumpxml --migratable "$dom" | sed "s|$MH_OVMF_CODE|$MIG_W/ovmf-other.fd|" >"$MIG_W/other-fw.xml"
refused "a firmware the owner did not allow" "measurement does not match" 1 --xml "$MIG_W/other-fw.xml"
# A lying target host replays a launch id the broker has already spent:
# between its hook's "migrate" and "started" calls the saved launch is
# swapped for a used one (the session's digest kept, so the hook takes it).
used=$(sqlite3 "$B/state/broker.db" "SELECT id FROM launches WHERE state = 'used' LIMIT 1")
[ -n "$used" ] || mh_fail "no used launch id in the broker's database"
launch_file=$MH_LAB_DIR/host1/run/mh/$uuid.launch
rm -f "$launch_file"
(
    for _ in $(seq 3000); do
        if [ -s "$launch_file" ]; then
            read -r _ digest <"$launch_file"
            echo "$used $digest" >"$launch_file.new" && mv "$launch_file.new" "$launch_file"
            exit 0
        fi
        sleep 0.01
    done
    exit 1
) &
swapper=$!
refused "a replayed launch id" "replayed launch id" 1
wait "$swapper" || mh_fail "the target's saved launch never appeared"
broker revoke --uuid "$uuid" >/dev/null || mh_fail "broker revoke failed"
refused "a revoked guest" "is revoked" 1
kill "$bpid"; wait "$bpid" 2>/dev/null || true
refused "the broker down" "unreachable" 1
mig_wait_passes 2 "$dom" 1

# The audit log (read from the database, the broker being down) and the
# key: in clear in neither the database nor the broker's output.
log=$(sqlite3 "$B/state/broker.db" "SELECT action, granted, reason FROM audit ORDER BY seq")
mh_log "audit: $(tr '\n' ';' <<<"$log" | cut -c1-600)"
[ "$(grep -c '^secret|1|' <<<"$log")" = 6 ] ||
    mh_fail "expected 6 granted secrets (virt-mh start, 3 hops, 2 paused starts): $log"
grep -q "^bundle|1|.*unused session stands" <<<"$log" || mh_fail "no bundle kept virt-mh start's session: $log"
for why in 'bundle|0|.*revoked' 'bundle|0|.*not trusted' 'secret|0|.*measurement does not match' \
    'secret|0|replayed launch id'; do
    grep -q "^$why" <<<"$log" || mh_fail "refusal '$why' is not in the audit log: $log"
done
# What crossed the wire between the hosts and the broker: bundles and
# sealed packets, never the key (raw, hex or base64).
[ -s "$B/wire.bin" ] || mh_fail "the relay recorded no broker traffic"
/usr/bin/python3 - "$B/wire.bin" "$B/mk.bin" <<'PY' || mh_fail "the migration key crossed the wire"
import base64, sys
wire = open(sys.argv[1], 'rb').read()
key = open(sys.argv[2], 'rb').read()
assert b'/v1/secret' in wire and b'/v1/bundle' in wire, 'no bundle/secret request recorded'
for form in (key, key.hex().encode(), base64.b64encode(key), base64.b64encode(key).rstrip(b'=')):
    if form in wire:
        sys.exit('key found on the wire')
PY
mh_log "broker traffic recorded: $(stat -c %s "$B/wire.bin") bytes, no migration key in it"
echo "PASS: $dom launched through the broker and migrated 1 -> 2 -> 1 -> 2 by plain virsh, the hooks attesting each target with the broker; virsh start --paused attested with a fresh session, a plain start refused; untrusted-platform, other-firmware, replayed-launch, revoked and broker-down migrations refused with the reason, source running, target empty"
