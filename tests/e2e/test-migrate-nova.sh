#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OpenStack Nova's live migration, with Nova's own code (Debian's
# python3-nova, tests/e2e/nova-migrate.py: Guest.migrate, the driver's
# monitor built from nova.virt.libvirt.migration: get_job_info polling,
# downtime_steps/update_downtime, find_job_type, and abort_job on the
# completion timeout) on an SEV domain with the mirror helper whose owner
# runs a key broker: nobody acts for the owner, the hosts' hook attests
# each target. Nova passes the source's XML as the destination XML, as it
# does; the hook fits it to the target's platform.
#   host 1 -> host 2 at 30 MiB/s completes (persistent on 2, undefined on 1, job
#   statistics real while it runs, downtime steps taken);
#   host 2 -> host 1 with a low bandwidth is aborted by Nova's completion
#   timeout: the error is libvirt's, the guest runs on host 2 unharmed, host
#   1 holds nothing;
#   host 2 -> host 1 again completes.
# Integrity: the guest's own verify passes after each step.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

/usr/bin/python3 -c 'import libvirt' 2>/dev/null ||
    mh_skip "python3-libvirt is not installed (Nova's bindings); apt install python3-libvirt"
NOVA_PATH=${MH_NOVA_PYTHONPATH:-$MH_BUILD_DIR/nova/usr/lib/python3/dist-packages}
PYTHONPATH=$NOVA_PATH /usr/bin/python3 -c 'import nova.virt.libvirt.guest, nova.virt.libvirt.migration' 2>/dev/null ||
    mh_skip "OpenStack Nova's code is not importable from $NOVA_PATH (./build-aux/quickstart test unpacks python3-nova there)"
NOVA=$MH_SOURCE_DIR/tests/e2e/nova-migrate.py
dom=sevnova
mig_setup 2
mig_broker_up
mig_broker_domain "$dom"
mig_wait_passes 1 "$dom" 1

# nova_migrate FROM TO [nova-migrate.py options]: output in $MIG_W/nova.out
nova_migrate() {
    local from=$1 to=$2 rc=0
    shift 2
    PYTHONPATH=$NOVA_PATH /usr/bin/python3 "$NOVA" --source "$(mig_uri "$from")" --dest "$(mig_uri "$to")" \
        --domain "$dom" --migrate-uri "tcp://127.0.0.1:$(mh_free_port)" "$@" \
        >"$MIG_W/nova.out" 2>"$MIG_W/nova.err" || rc=$?
    return $rc
}

# --- host 1 -> host 2, to completion
nova_migrate 1 2 --bandwidth 30 --data-gb 0.125 || mh_fail "Nova's migration 1 -> 2 failed (rc $?): $(cat "$MIG_W/nova.out" "$MIG_W/nova.err")"
mh_log "1 -> 2: $(grep '"result"' "$MIG_W/nova.out")"
/usr/bin/python3 - "$MIG_W/nova.out" <<'EOF' || mh_fail "job statistics or downtime steps wrong: $(cat "$MIG_W/nova.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
stats = [l for l in lines if l['kind'] == 'stats']
steps = [l for l in lines if l['kind'] == 'downtime']
# The first sample may come while libvirt is still in Begin/Prepare (all
# zero); once RAM moves, the figures are real and only grow.
real = [s for s in stats if s['memory_total']]
assert real, f'no job statistics with figures while the migration ran: {stats}'
processed = [s['memory_processed'] or 0 for s in real]
assert max(processed) > 0, real
assert processed == sorted(processed), f'memory processed went backwards: {processed}'
taken = [s for s in steps if 'error' not in s]
assert taken and all(s['read_back'] == s['ms'] for s in taken), steps
# A step that comes as the job ends finds the domain gone from the source.
assert all(('not found' in s['error'] or 'not running' in s['error'])
           for s in steps if 'error' in s), steps
print(f"{len(stats)} samples ({len(real)} with figures), processed up to {max(processed or [0])} bytes, "
      f"downtime steps taken {[s['ms'] for s in taken]}")
EOF
mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
[ -z "$(mh_domstate 1 "$dom")" ] || mh_fail "$dom still defined on host 1 (UNDEFINE_SOURCE): $(mh_domstate 1 "$dom")"
info=$(mh_virsh 2 dominfo "$dom") || mh_fail "dominfo on host 2 failed: $info"
grep -Eq "^Persistent: +yes" <<<"$info" || mh_fail "$dom is not persistent on host 2 (PERSIST_DEST): $info"
mig_wait_passes 2 "$dom" 2

# --- host 2 -> host 1 at 1 MiB/s, aborted by Nova's completion timeout
# (live_migration_completion_timeout 3 s per GiB, data_gb 1: 3 s)
if nova_migrate 2 1 --bandwidth 1 --data-gb 1 --completion-timeout 3; then
    mh_fail "the throttled migration was not aborted: $(cat "$MIG_W/nova.out")"
fi
mh_log "2 -> 1 aborted: $(grep '"result"' "$MIG_W/nova.out")"
grep -q '"kind": "abort"' "$MIG_W/nova.out" || mh_fail "no abort was issued: $(cat "$MIG_W/nova.out")"
grep -Eq '"result".*"error": "[^"]*(cancel|abort)' "$MIG_W/nova.out" ||
    mh_fail "the aborted migration did not fail with libvirt's cancellation: $(cat "$MIG_W/nova.out")"
mh_domstate_is 2 "$dom" running || mh_fail "$dom is not running on host 2 after the abort: $(mh_domstate 2 "$dom")"
mh_wait_for "nothing left on host 1" 30 bash -c "[ -z \"\$(virsh -c '$(mig_uri 1)' list --all --name | grep -x '$dom')\" ]"
mig_wait_passes 2 "$dom" 1

# --- host 2 -> host 1, to completion (A -> B -> A)
nova_migrate 2 1 --data-gb 0.125 || mh_fail "Nova's migration 2 -> 1 failed: $(cat "$MIG_W/nova.out" "$MIG_W/nova.err")"
mh_log "2 -> 1: $(grep '"result"' "$MIG_W/nova.out")"
mh_wait_for "$dom running on host 1" 30 mh_domstate_is 1 "$dom" running
[ -z "$(mh_domstate 2 "$dom")" ] || mh_fail "$dom still defined on host 2: $(mh_domstate 2 "$dom")"
mig_wait_passes 1 "$dom" 2

# --- Nova's start of a defined guest (spawn, hard reboot): Guest.launch
# with pause=True, Guest.resume once the network is plugged. Host 1's
# definition is the one the migration left, its session spent: the hook
# gets a fresh one at "start" and attests the launch at "started".
mh_virsh 1 destroy "$dom" >/dev/null || mh_fail "cannot stop $dom on host 1"
before=$(mig_ready_count "$dom")
PYTHONPATH=$NOVA_PATH /usr/bin/python3 - "$(mig_uri 1)" "$dom" >"$MIG_W/spawn.out" 2>&1 <<'PY' ||
import sys
import libvirt
from nova.virt.libvirt import guest as libvirt_guest

guest = libvirt_guest.Guest(libvirt.open(sys.argv[1]).lookupByName(sys.argv[2]))
guest.launch(pause=True)
state = guest._domain.state()[0]
print('state after launch(pause=True):', state)
if state != libvirt.VIR_DOMAIN_PAUSED:
    sys.exit('not paused')
guest.resume()
PY
    mh_fail "Nova's launch(pause=True) + resume of $dom failed: $(cat "$MIG_W/spawn.out")"
mig_hook_log 1 | tail -n 2 | head -1 | grep -q "start-begin session fresh .* ok" &&
    mig_hook_log 1 | tail -n 1 | grep -q "started-begin attest .* ok" ||
    mh_fail "host 1's hook did not attest Nova's start with a fresh session: $(mig_hook_log 1 | tail -n 3)"
mh_wait_for "$dom booted again on host 1" 240 eval '[ "$(mig_ready_count "$dom")" -gt "$before" ]'
mig_wait_passes 1 "$dom" 2
mh_log "Nova's spawn path on host 1: $(mig_hook_log 1 | tail -n 2 | cut -d' ' -f3- | tr '\n' ';')"
echo "PASS: OpenStack Nova's own live-migration code on an SEV domain with the mirror helper and a key broker, nobody acting: host 1 -> 2, 2 -> 1 aborted by Nova's completion timeout, then 2 -> 1; Nova's paused launch attested by the hook; guest integrity verified after each"
