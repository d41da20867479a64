#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# SEV launch through qemu-mh under an unmodified libvirt: capabilities, a
# guest owner's session, start --paused, the launch measurement, secret
# injection with virsh and with libvirt's virt-qemu-sev-validate (the
# table is then read back from guest memory through QEMU), a tampered
# packet refused, resume, and the state rules around them.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 2
mh_require_qemu_mh
[ -f "$MH_OVMF_CODE" ] || mh_skip "firmware not installed: $MH_OVMF_CODE (package ovmf)"
VALIDATE=/usr/bin/virt-qemu-sev-validate
[ -x "$VALIDATE" ] || mh_skip "virt-qemu-sev-validate not installed (package libvirt-clients-qemu)"
# Debian's script runs "python3" from PATH; it needs Debian's lxml and
# cryptography, so run it with the system interpreter.
/usr/bin/python3 -c 'import lxml, cryptography' 2>/dev/null ||
    mh_skip "virt-qemu-sev-validate needs python3-lxml and python3-cryptography"

W=$MH_LAB_DIR/sev
mkdir -p "$W"
chmod 777 "$W"      # QEMU (the lab user) writes pmemsave files here
SECRET_GPA=0x80c000

qmp() {  # qmp DOM JSON -> reply
    mh_virsh 1 qemu-monitor-command "$1" "$2"
}

# guest_table DOM FILE: save 4 KiB of guest memory at the secret GPA
guest_table() {
    rm -f "$2"
    qmp "$1" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$((SECRET_GPA)),\"size\":4096,\"filename\":\"$2\"}}" >/dev/null
    [ -s "$2" ] || mh_fail "pmemsave wrote nothing to $2"
}

# check_table FILE GUID PAYLOAD_FILE: the EFI secret table with that entry
check_table() {
    /usr/bin/python3 - "$@" <<'EOF' || mh_fail "secret table check failed for $1"
import sys, uuid
mem = open(sys.argv[1], 'rb').read()
want_guid = uuid.UUID(sys.argv[2]).bytes_le
payload = open(sys.argv[3], 'rb').read()
head = uuid.UUID('1e74f542-71dd-4d66-963e-ef4287ff173b').bytes_le
if mem[:16] != head:
    sys.exit('no secret table header at the secret GPA: %s' % mem[:16].hex())
total = int.from_bytes(mem[16:20], 'little')
off = 20
while off + 20 <= total:
    guid, n = mem[off:off + 16], int.from_bytes(mem[off + 16:off + 20], 'little')
    if guid == want_guid:
        data = mem[off + 20:off + n]
        if data != payload:
            sys.exit('entry data %r != %r' % (data, payload))
        print('secret table: %d bytes, entry %s with %d bytes found' % (total, sys.argv[2], len(data)))
        sys.exit(0)
    off += n
sys.exit('entry %s not in the table' % sys.argv[2])
EOF
}

# --- capabilities
caps=$(mh_virsh 1 domcapabilities --emulatorbin "$MH_QEMU_MH" --virttype qemu)
grep -q "<sev supported='yes'>" <<<"$caps" || mh_fail "domcapabilities: no <sev supported='yes'>"
grep -q "<cbitpos>47</cbitpos>" <<<"$caps" || mh_fail "domcapabilities: cbitpos is not 47"
grep -q "<reducedPhysBits>1</reducedPhysBits>" <<<"$caps" || mh_fail "domcapabilities: reducedPhysBits is not 1"
mh_log "domcapabilities: sev supported='yes', cbitpos 47, reducedPhysBits 1"

# --- a guest without a session: random TEK/TIK, as a PSP picks
HELPER="mirror-helper,id=mh0,mode=auto,vcpus=1,lifetime=on-demand,cipher=aes-256-gcm,secret=$SECRET_GPA"
EXTRA="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-object'/><qemu:arg value='$HELPER'/></qemu:commandline>"
mh_domain_xml "$W/r.xml" sevr 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 --extra "$EXTRA"
mh_virsh 1 create "$W/r.xml" --paused >/dev/null
[ "$(mh_domstate 1 sevr)" = paused ] || mh_fail "sevr is not paused"
info=$(mh_virsh 1 domlaunchsecinfo sevr)
meas=$(awk -F': *' '/sev-measurement/ {print $2}' <<<"$info")
[ "$(printf %s "$meas" | base64 -d | wc -c)" = 48 ] || mh_fail "measurement is not 48 bytes: $meas"
grep -q "sev-policy *: 51" <<<"$info" || mh_fail "domlaunchsecinfo policy: $info"
qmp sevr '{"execute":"query-sev"}' | grep -q '"state":"launch-secret"' || mh_fail "sevr not in launch-secret"
qmp sevr '{"execute":"query-sev-capabilities"}' >"$W/caps.json"
/usr/bin/python3 - "$W/caps.json" "$W" <<'EOF'
import json, sys, base64
r = json.load(open(sys.argv[1]))['return']
open(sys.argv[2] + '/pdh.b64', 'w').write(r['pdh'])
open(sys.argv[2] + '/chain.b64', 'w').write(r['cert-chain'])
assert len(base64.b64decode(r['pdh'])) == 0x824, 'PDH is not one SEV certificate'
assert len(base64.b64decode(r['cert-chain'])) == 3 * 0x824, 'chain is not PEK, OCA, CEK'
EOF
grep -q "SEV: LAUNCH_START policy 0x33 with a random TEK/TIK" \
    "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevr.log" || mh_fail "no LAUNCH_START log line"
mh_virsh 1 destroy sevr >/dev/null
mh_log "random TEK/TIK launch: measurement ${meas:0:16}..., state launch-secret, PDH and chain exported"

# --- the guest owner's session for this host's PDH
"$VIRT_MH" owner session --pdh "$W/pdh.b64" --cert-chain "$W/chain.b64" --policy 0x33 \
    --out "$W/sess" >/dev/null || mh_fail "virt-mh owner session failed"
mh_domain_xml "$W/s.xml" sevs 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 --extra "$EXTRA"
mh_xml_add_session "$W/s.xml" "$W/sess"
mh_virsh 1 create "$W/s.xml" --paused >/dev/null
grep -q "with the guest owner's session" "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevs.log" ||
    mh_fail "LAUNCH_START did not use the session"
meas=$(mh_virsh 1 domlaunchsecinfo sevs | awk -F': *' '/sev-measurement/ {print $2}')

# --- a tampered packet is refused, and nothing reaches guest memory
printf 'first-secret' >"$W/s1"
"$VIRT_MH" owner secret --tk "$W/sess/tk.bin" --measurement "$meas" --entry "luks-key:$W/s1" \
    --out "$W/p1" >/dev/null || mh_fail "virt-mh owner secret failed"
/usr/bin/python3 - "$W/p1/secret.b64" "$W/tampered.b64" <<'EOF'
import sys, base64
d = bytearray(base64.b64decode(open(sys.argv[1]).read()))
d[5] ^= 0x01
open(sys.argv[2], 'w').write(base64.b64encode(d).decode())
EOF
if out=$(mh_virsh 1 domsetlaunchsecstate sevs --secrethdr "$W/p1/header.b64" \
         --secret "$W/tampered.b64" 2>&1); then
    mh_fail "a tampered LAUNCH_SECRET packet was accepted"
fi
grep -q "failed to inject secret ret=-1 fw_error=11 'Bad measurement'" <<<"$out" ||
    mh_fail "unexpected refusal: $out"
guest_table sevs "$W/after-tamper.bin"
[ -z "$(tr -d '\0' <"$W/after-tamper.bin")" ] || mh_fail "guest memory changed by a refused packet"
mh_log "tampered packet refused: ${out##*: }"

# --- a good packet through virsh domsetlaunchsecstate
mh_virsh 1 domsetlaunchsecstate sevs --secrethdr "$W/p1/header.b64" --secret "$W/p1/secret.b64" \
    >/dev/null || mh_fail "domsetlaunchsecstate failed"
guest_table sevs "$W/t1.bin"
check_table "$W/t1.bin" 736869e5-84f0-4973-92ec-06879ce3da0b "$W/s1"
[ "$(mh_domstate 1 sevs)" = paused ] || mh_fail "sevs resumed by domsetlaunchsecstate"
grep -q "injected at GPA 0x80c000 (from the mirror-helper object's secret= GPA)" \
    "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevs.log" || mh_fail "no injection log line"
# the gpa argument (virsh --set-address) wins over every default
mh_virsh 1 domsetlaunchsecstate sevs --secrethdr "$W/p1/header.b64" --secret "$W/p1/secret.b64" \
    --set-address $((0x80d000)) >/dev/null || mh_fail "domsetlaunchsecstate --set-address failed"
grep -q "injected at GPA 0x80d000 (from the command's gpa argument)" \
    "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevs.log" || mh_fail "--set-address not honoured"
SECRET_GPA=0x80d000 guest_table sevs "$W/t1b.bin"
SECRET_GPA=0x80d000 check_table "$W/t1b.bin" 736869e5-84f0-4973-92ec-06879ce3da0b "$W/s1"
mh_log "domsetlaunchsecstate: table at the helper's GPA, and at --set-address 0x80d000"

# --- libvirt's own validator: checks the measurement, injects, resumes
printf 'luks-passphrase-from-virt-qemu-sev-validate' >"$W/s2"
PATH=/usr/bin:$PATH "$VALIDATE" --insecure -c "$MH_URI1" -o sevs --tk "$W/sess/tk.bin" \
    --inject-secret "luks-key:$W/s2" >"$W/validate.out" 2>&1 ||
    { cat "$W/validate.out"; mh_fail "virt-qemu-sev-validate failed"; }
grep -q "Injected 1 secrets" "$W/validate.out" || mh_fail "validator did not inject: $(cat "$W/validate.out")"
guest_table sevs "$W/t2.bin"
check_table "$W/t2.bin" 736869e5-84f0-4973-92ec-06879ce3da0b "$W/s2"
mh_log "virt-qemu-sev-validate: $(tr '\n' ' ' <"$W/validate.out")"

# --- running now: LAUNCH_FINISH happened, injection refused
mh_wait_for "sevs running" 20 mh_domstate_is 1 sevs running
qmp sevs '{"execute":"query-sev"}' | grep -q '"state":"running"' || mh_fail "query-sev state is not running"
if out=$(mh_virsh 1 domsetlaunchsecstate sevs --secrethdr "$W/p1/header.b64" \
         --secret "$W/p1/secret.b64" 2>&1); then
    mh_fail "secret injected into a running guest"
fi
mh_log "after resume: state running; libvirt refuses: ${out##*error: }"
# QEMU's own rule, below libvirt's: LAUNCH_SECRET only in launch-secret
hdr=$(cat "$W/p1/header.b64")
sec=$(cat "$W/p1/secret.b64")
out=$(qmp sevs "{\"execute\":\"sev-inject-launch-secret\",\"arguments\":{\"packet-header\":\"$hdr\",\"secret\":\"$sec\",\"gpa\":$((SECRET_GPA))}}" 2>&1) || true
grep -q "SEV: Not in correct state. (LSECRET) 3" <<<"$out" || mh_fail "unexpected refusal: $out"
mh_log "after resume: sev-inject-launch-secret refused: ${out##*error: }"

# --- a wrong TK: the validator rejects the measurement
head -c 32 /dev/urandom >"$W/wrong-tk.bin"
mh_virsh 1 destroy sevs >/dev/null
mh_virsh 1 create "$W/s.xml" --paused >/dev/null
if PATH=/usr/bin:$PATH "$VALIDATE" --insecure -c "$MH_URI1" -o sevs --tk "$W/wrong-tk.bin" \
       >"$W/wrong.out" 2>&1; then
    mh_fail "virt-qemu-sev-validate accepted a measurement with the wrong TIK"
fi
mh_log "wrong TK: $(tail -n 1 "$W/wrong.out")"
mh_virsh 1 destroy sevs >/dev/null

# --- platform identity is per host: host 1's session does not start on host 2
if out=$(mh_virsh 2 create "$W/s.xml" --paused 2>&1); then
    mh_fail "a session made for host 1's PDH started a guest on host 2"
fi
grep -q "LAUNCH_START ret=1 fw_error=11" <<<"$out" || mh_fail "unexpected refusal on host 2: $out"
mh_log "host 2 refuses host 1's session: $(grep -o 'sev_launch_start: LAUNCH_START[^(]*' <<<"$out" | head -n 1)"

# --- where a secret goes without a gpa. A firmware with a secret area
# (Debian's OVMF has base 0, size 0: patch a copy the way the AmdSev build
# has it) wins over the mirror-helper object's GPA.
mh_ovmf_set_area "$MH_OVMF_CODE" "$W/OVMF_SECRET.fd" secret \
    4c2eb361-7d9b-4cc3-8081-127c90d3d294 0x80e000 0x1000
sed "s|$MH_OVMF_CODE|$W/OVMF_SECRET.fd|; s|<name>sevs</name>|<name>sevf</name>|" "$W/s.xml" >"$W/f.xml"
chmod a+r "$W/f.xml"
mh_virsh 1 create "$W/f.xml" --paused >/dev/null
meas=$(mh_virsh 1 domlaunchsecinfo sevf | awk -F': *' '/sev-measurement/ {print $2}')
"$VIRT_MH" owner secret --tk "$W/sess/tk.bin" --measurement "$meas" --entry "luks-key:$W/s1" \
    --out "$W/p3" >/dev/null || mh_fail "virt-mh owner secret failed"
mh_virsh 1 domsetlaunchsecstate sevf --secrethdr "$W/p3/header.b64" --secret "$W/p3/secret.b64" \
    >/dev/null || mh_fail "sevf: domsetlaunchsecstate failed"
grep -q "injected at GPA 0x80e000 (from the firmware's SEV secret area)" \
    "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/sevf.log" || mh_fail "sevf: secret not put in the firmware's area"
SECRET_GPA=0x80e000 guest_table sevf "$W/t3.bin"
SECRET_GPA=0x80e000 check_table "$W/t3.bin" 736869e5-84f0-4973-92ec-06879ce3da0b "$W/s1"
mh_virsh 1 destroy sevf >/dev/null

# Neither a firmware area nor a mirror-helper object: refused, as QEMU does.
mh_domain_xml "$W/n.xml" sevn 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
mh_virsh 1 create "$W/n.xml" --paused >/dev/null
out=$(qmp sevn "{\"execute\":\"sev-inject-launch-secret\",\"arguments\":{\"packet-header\":\"$hdr\",\"secret\":\"$sec\"}}" 2>&1) || true
grep -q "SEV: no secret area found in OVMF, gpa must be specified." <<<"$out" ||
    mh_fail "sevn: unexpected answer: $out"
mh_virsh 1 destroy sevn >/dev/null
mh_log "no gpa: the firmware's secret area when it has one; without it and without the helper: refused"
echo "PASS"
