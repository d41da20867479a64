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
grep -q '"error".*INIT failed.*no SEV secret table' <<<"$out" || mh_fail "MH started without a key, or unexpected refusal: $out"
mh_log "no key: $out"
q=$(qmp probe '{"execute":"query-migration-handler"}')
grep -q '"state":"stopped"' <<<"$q" || mh_fail "query after refusal: $q"
grep -q '"last-error":"migration handler INIT failed' <<<"$q" || mh_fail "no last-error: $q"
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

qmp sevmh '{"execute":"stop-migration-handler"}' >/dev/null || mh_fail "stop failed"
q=$(qmp sevmh '{"execute":"query-migration-handler"}')
grep -q '"state":"stopped"' <<<"$q" || mh_fail "MH not stopped: $q"
grep -q '"key-id"' <<<"$q" && mh_fail "key id still reported after stop: $q"
mh_log "after stop: $q"
# The guest still works under libvirt.
mh_virsh 1 resume sevmh >/dev/null
mh_wait_for "sevmh running" 20 mh_domstate_is 1 sevmh running
mh_virsh 1 destroy sevmh >/dev/null
echo PASS
