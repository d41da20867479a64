#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `virt-mh owner` against an unmodified libvirt running qemu-mh's SEV model:
# session from the host's PDH (-c: virNodeGetSEVInfo, or QMP when the lab's
# default emulator is not qemu-mh), then `owner inject -c URI DOMAIN`:
# refused on a local connection without --insecure, refused for firmware
# other than the one launched (nothing injected, still paused), then
# verified and injected (--keep-paused, --gpa) with the migration key read
# back from guest memory, and finally with the firmware taken from the
# domain's <loader> and the domain resumed.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 1
mh_require_qemu_mh
[ -f "$MH_OVMF_CODE" ] || mh_skip "firmware not installed: $MH_OVMF_CODE (package ovmf)"
OTHER_FW=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
GPA=0x80c000
W=$MH_LAB_DIR/owner
mkdir -p "$W"
chmod 777 "$W"      # QEMU (the lab user) writes pmemsave files here

qmp() {
    mh_virsh 1 qemu-monitor-command "$1" "$2"
}

guest_mem() {  # DOM FILE: 4 KiB at the secret GPA
    rm -f "$2"
    qmp "$1" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$((GPA)),\"size\":4096,\"filename\":\"$2\"}}" >/dev/null
    [ -s "$2" ] || mh_fail "pmemsave wrote nothing to $2"
}

# --- the platform's PDH: through libvirt when it reports SEV, else from a
# throw-away domain's query-sev-capabilities
if "$VIRT_MH" -c "$MH_URI1" owner session --policy 0x33 --out "$W/sess" 2>"$W/session.err"; then
    mh_log "owner session -c: PDH and chain from virNodeGetSEVInfo"
else
    mh_log "owner session -c unavailable here ($(cat "$W/session.err")); PDH from QMP"
    mh_domain_xml "$W/p.xml" sevp 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
    mh_virsh 1 create "$W/p.xml" --paused >/dev/null
    qmp sevp '{"execute":"query-sev-capabilities"}' >"$W/caps.json"
    mh_virsh 1 destroy sevp >/dev/null
    /usr/bin/python3 - "$W" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + '/caps.json'))['return']
open(sys.argv[1] + '/pdh.b64', 'w').write(r['pdh'])
open(sys.argv[1] + '/chain.b64', 'w').write(r['cert-chain'])
PY
    "$VIRT_MH" owner session --pdh "$W/pdh.b64" --cert-chain "$W/chain.b64" --policy 0x33 \
        --out "$W/sess" || mh_fail "owner session failed"
fi
"$VIRT_MH" owner new-key --out "$W/mk.bin" || mh_fail "owner new-key failed"

new_guest() {
    mh_domain_xml "$W/s.xml" sevo 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
    mh_xml_add_session "$W/s.xml" "$W/sess"
    mh_virsh 1 create "$W/s.xml" --paused >/dev/null
    [ "$(mh_domstate 1 sevo)" = paused ] || mh_fail "sevo is not paused"
}

INJ=("$VIRT_MH" -c "$MH_URI1" owner inject sevo --tk "$W/sess/tk.bin" --migration-key "$W/mk.bin")
new_guest

# --- local connection without --insecure
if out=$("${INJ[@]}" --firmware "$MH_OVMF_CODE" --gpa $GPA 2>&1); then
    mh_fail "inject accepted a local connection without --insecure"
fi
grep -q "not secure" <<<"$out" || mh_fail "unexpected refusal: $out"
mh_log "local connection refused: ${out#error: }"

# --- other firmware than launched: refused, nothing changed
if [ -f "$OTHER_FW" ]; then
    if out=$("${INJ[@]}" --insecure --firmware "$OTHER_FW" --gpa $GPA 2>&1); then
        mh_fail "inject accepted a measurement of other firmware"
    fi
    grep -q "does not match" <<<"$out" || mh_fail "unexpected refusal: $out"
    [ "$(mh_domstate 1 sevo)" = paused ] || mh_fail "sevo not paused after a refused inject"
    qmp sevo '{"execute":"query-sev"}' | grep -q '"state":"launch-secret"' ||
        mh_fail "SEV state changed by a refused inject"
    guest_mem sevo "$W/refused.bin"
    [ -z "$(tr -d '\0' <"$W/refused.bin")" ] || mh_fail "guest memory changed by a refused inject"
    mh_log "other firmware refused: ${out#error: }"
fi

# --- verified and injected, kept paused
"${INJ[@]}" --insecure --firmware "$MH_OVMF_CODE" --gpa $GPA --keep-paused ||
    mh_fail "inject failed"
[ "$(mh_domstate 1 sevo)" = paused ] || mh_fail "sevo resumed despite --keep-paused"
guest_mem sevo "$W/t.bin"
/usr/bin/python3 - "$W/t.bin" "$W/mk.bin" <<'PY' || mh_fail "migration key not in guest memory"
import hashlib, sys, uuid
mem = open(sys.argv[1], 'rb').read()
key = open(sys.argv[2], 'rb').read()
assert mem[:16] == uuid.UUID('1e74f542-71dd-4d66-963e-ef4287ff173b').bytes_le, mem[:16].hex()
total, off = int.from_bytes(mem[16:20], 'little'), 20
want = uuid.UUID('71f61f7e-c7bf-4ec9-a8cf-41f59a2ee72d').bytes_le
while off + 20 <= total:
    n = int.from_bytes(mem[off + 16:off + 20], 'little')
    if mem[off:off + 16] == want:
        data = mem[off + 20:off + n]
        assert data == bytes([1]) + hashlib.sha256(b'mirror-helper key id' + key).digest()[:4] + key
        print('migration-key entry found in guest memory (%d-byte table)' % total)
        sys.exit(0)
    off += n
sys.exit('no migration-key entry')
PY
mh_virsh 1 destroy sevo >/dev/null

# --- firmware from <loader>, then resumed
new_guest
"${INJ[@]}" --insecure --gpa $GPA || mh_fail "inject with the <loader> firmware failed"
mh_wait_for "sevo running" 20 mh_domstate_is 1 sevo running
qmp sevo '{"execute":"query-sev"}' | grep -q '"state":"running"' || mh_fail "SEV state is not running"
mh_log "inject with <loader> firmware: verified, injected, resumed"
mh_virsh 1 destroy sevo >/dev/null
echo "PASS"
