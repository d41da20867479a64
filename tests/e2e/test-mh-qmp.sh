#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The migration handler through QMP under libvirt: an SEV domain with the
# helper, the migration key injected with `virt-mh owner inject
# --migration-key`, start-/query-/stop-migration-handler through
# `virsh qemu-monitor-command`; without an injected key the MH refuses to
# start and says why.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 1
mh_require_qemu_mh
[ -f "$MH_OVMF_CODE" ] || mh_skip "firmware not installed: $MH_OVMF_CODE (package ovmf)"

W=$MH_LAB_DIR/mhq
mkdir -p "$W"
chmod 777 "$W"
qmp() { mh_virsh 1 qemu-monitor-command "$1" "$2"; }

HELPER="mirror-helper,id=mh0,mode=auto,vcpus=2,lifetime=on-demand,cipher=aes-256-gcm,secret=0x80c000"
EXTRA="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-object'/><qemu:arg value='$HELPER'/></qemu:commandline>"

# --- the owner's session for this host
mh_domain_xml "$W/p.xml" probe 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 --extra "$EXTRA"
mh_virsh 1 create "$W/p.xml" --paused >/dev/null
qmp probe '{"execute":"query-sev-capabilities"}' >"$W/caps.json"
/usr/bin/python3 - "$W/caps.json" "$W" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))['return']
open(sys.argv[2] + '/pdh.b64', 'w').write(r['pdh'])
open(sys.argv[2] + '/chain.b64', 'w').write(r['cert-chain'])
PY

# --- without a key: the MH refuses to start and says why
out=$(qmp probe '{"execute":"start-migration-handler"}' 2>&1) || true
grep -q '"error".*no migration key was injected into this launch' <<<"$out" ||
    mh_fail "MH started without a key, or unexpected refusal: $out"
mh_log "no key: $out"
q=$(qmp probe '{"execute":"query-migration-handler"}')
grep -q '"state":"stopped"' <<<"$q" || mh_fail "query after refusal: $q"
grep -q '"key-id"' <<<"$q" && mh_fail "a key id without a key: $q"
mh_log "query: $q"
mh_virsh 1 destroy probe >/dev/null

"$VIRT_MH" owner session --pdh "$W/pdh.b64" --cert-chain "$W/chain.b64" --policy 0x33 \
    --out "$W/sess" >/dev/null || mh_fail "virt-mh owner session failed"
"$VIRT_MH" owner new-key --out "$W/mk.bin" >/dev/null
mh_domain_xml "$W/s.xml" sevmh 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 --extra "$EXTRA"
mh_xml_add_session "$W/s.xml" "$W/sess"
mh_virsh 1 create "$W/s.xml" --paused >/dev/null
"$VIRT_MH" -c "$MH_URI1" owner inject sevmh --insecure --tk "$W/sess/tk.bin" \
    --firmware "$MH_OVMF_CODE" --migration-key "$W/mk.bin" --keep-paused >"$W/inject.out" 2>&1 ||
    { cat "$W/inject.out"; mh_fail "owner inject failed"; }
mh_log "inject: $(tr '\n' ' ' <"$W/inject.out")"

want_id=$(/usr/bin/python3 -c '
import hashlib, sys
k = open(sys.argv[1], "rb").read()
print(int.from_bytes(hashlib.sha256(b"mirror-helper key id" + k).digest()[:4], "little"))' "$W/mk.bin")

out=$(qmp sevmh '{"execute":"start-migration-handler"}')
grep -q '"return":{}' <<<"$out" || mh_fail "start-migration-handler failed: $out"
q=$(qmp sevmh '{"execute":"query-migration-handler"}')
mh_log "query: $q"
grep -q '"state":"running"' <<<"$q" || mh_fail "MH not running: $q"
grep -q '"vcpus":2' <<<"$q" || mh_fail "MH vcpus: $q"
grep -q "\"key-id\":$want_id" <<<"$q" || mh_fail "MH key id is not $want_id: $q"
grep -q "migration handler: running, 2 vCPUs" "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevmh.log" ||
    mh_fail "no MH log line"

# --- a hostile host plants a secret table with a key of its own in guest
# RAM (at the secret GPA, and at an address of its choosing) and asks the
# MH to take its key from there: the MH keeps the owner's key, and after
# stop-migration-handler (which wipes it) it has none at all.
forged_id=$(/usr/bin/python3 - "$W/forged.bin" <<'PY'
import hashlib, struct, sys, uuid
key = bytes(range(32))
kid = int.from_bytes(hashlib.sha256(b"mirror-helper key id" + key).digest()[:4], "little")
entry_data = bytes([1]) + struct.pack("<I", kid) + key
entry = uuid.UUID("71f61f7e-c7bf-4ec9-a8cf-41f59a2ee72d").bytes_le + struct.pack("<I", 20 + len(entry_data)) + entry_data
table = uuid.UUID("1e74f542-71dd-4d66-963e-ef4287ff173b").bytes_le + struct.pack("<I", 20 + len(entry)) + entry
open(sys.argv[1], "wb").write(table + bytes(4096 - len(table)))
print(kid)
PY
)
mh_guest_ram_write 1 sevmh 0x80c000 "$W/forged.bin" || mh_fail "cannot plant the forged table"
mh_guest_ram_write 1 sevmh 0x900000 "$W/forged.bin" || mh_fail "cannot plant the forged table"
out=$(qmp sevmh '{"execute":"start-migration-handler","arguments":{"secret-gpa":9437184}}' 2>&1) || true
grep -q "'secret-gpa' is not accepted" <<<"$out" || mh_fail "secret-gpa was not refused: $out"
out=$(qmp sevmh '{"execute":"start-migration-handler"}')
grep -q '"return":{}' <<<"$out" || mh_fail "start-migration-handler (running) failed: $out"
q=$(qmp sevmh '{"execute":"query-migration-handler"}')
grep -q "\"key-id\":$want_id" <<<"$q" || mh_fail "MH key id changed after the forged table (forged $forged_id): $q"
mh_log "forged table (key id $forged_id) ignored, secret-gpa refused: $q"

qmp sevmh '{"execute":"stop-migration-handler"}' >/dev/null || mh_fail "stop failed"
q=$(qmp sevmh '{"execute":"query-migration-handler"}')
grep -q '"state":"stopped"' <<<"$q" || mh_fail "MH not stopped: $q"
grep -q '"key-id"' <<<"$q" && mh_fail "key id still reported after stop: $q"
mh_log "after stop: $q"
out=$(qmp sevmh '{"execute":"start-migration-handler"}' 2>&1) || true
grep -q "no migration key was injected into this launch" <<<"$out" ||
    mh_fail "the MH restarted after stop although its key was wiped: $out"
q=$(qmp sevmh '{"execute":"query-migration-handler"}')
grep -q '"key-id"' <<<"$q" && mh_fail "the MH took a key from guest RAM after stop: $q"
mh_log "restart after stop refused: $out"
# --- a second migrate-incoming while one is active: refused as QEMU does,
# and the monitor stays responsive (it used to join the first job's thread
# on the main loop, which that thread needs: qemu-mh hung)
port=$(mh_free_port)
out=$(qmp sevmh "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}" 2>&1) ||
    mh_fail "first migrate-incoming failed: $out"
# (virsh qemu-monitor-command prints QMP's error and exits 0)
out=$(timeout 20 virsh -q -c "$MH_URI1" qemu-monitor-command sevmh \
      "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$(mh_free_port)\"}}" 2>&1) ||
    mh_fail "second migrate-incoming: no answer (qemu-mh hung?): $out"
grep -q '"error".*The incoming migration has already been started' <<<"$out" ||
    mh_fail "a second migrate-incoming was not refused: $out"
q=$(timeout 20 virsh -q -c "$MH_URI1" qemu-monitor-command sevmh '{"execute":"query-status"}') ||
    mh_fail "the monitor did not answer after a second migrate-incoming"
qmp sevmh '{"execute":"migrate_cancel"}' >/dev/null || mh_fail "migrate_cancel failed"
mh_log "second migrate-incoming refused, monitor answers: $q"

# The guest still works under libvirt.
mh_virsh 1 resume sevmh >/dev/null
mh_wait_for "sevmh running" 20 mh_domstate_is 1 sevmh running
mh_virsh 1 destroy sevmh >/dev/null
echo PASS
