#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What crosses the wire, and what is refused:
#  - an SEV domain with the mirror helper migrates through a TCP relay that
#    records every byte of the migration connection (both directions); the
#    capture contains neither the marker string the test guest keeps in its
#    memory nor the migration key;
#  - the same test guest as a plain (non-SEV) twin migrated through the same
#    relay: the capture does contain the marker, so the check can see it;
#  - an SEV domain without the helper, and one with mode='on-request' that
#    was not armed, are refused as QEMU 7.2 refuses SEV guests
#    ("SEV: Migration is not implemented").
# The destination listens on 127.0.0.2 (virsh migrate --listen-address);
# the source connects to the relay on 127.0.0.1, same port.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

mig_setup 2

RELAY_PY=$MIG_W/relay.py
cat >"$RELAY_PY" <<'EOF'
import socket, sys, threading
lport, dhost, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(4)
print("ready", flush=True)
lock = threading.Lock()
cap = open(out, "wb")
def pump(a, b):
    while True:
        try:
            d = a.recv(65536)
        except OSError:
            d = b""
        if not d:
            try: b.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        with lock:
            cap.write(d); cap.flush()
        try: b.sendall(d)
        except OSError: return
while True:
    c, _ = ls.accept()
    d = socket.create_connection((dhost, lport))
    threading.Thread(target=pump, args=(c, d), daemon=True).start()
    threading.Thread(target=pump, args=(d, c), daemon=True).start()
EOF

# relayed_migrate DOM CAPTURE: migrate host 1 -> 2 through the relay.
relayed_migrate() {
    local dom=$1 cap=$2 port rpid
    port=$(mh_free_port)
    python3 "$RELAY_PY" "$port" 127.0.0.2 "$cap" >"$MIG_W/relay.out" 2>&1 &
    rpid=$!
    mh_on_exit "kill $rpid 2>/dev/null"
    mh_wait_for "the relay" 10 grep -q ready "$MIG_W/relay.out"
    MIG_PORT=$port mig_migrate "$dom" 1 2 p2p --listen-address 127.0.0.2 ||
        mh_fail "relayed migration of $dom failed: $(cat "$MIG_W/migrate.out")"
    mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
    kill "$rpid" 2>/dev/null || true
    [ -s "$cap" ] || mh_fail "the relay captured nothing for $dom"
}

# contains FILE NEEDLE_FILE: the capture holds the needle's bytes
contains() {
    python3 - "$1" "$2" <<'EOF'
import sys
hay = open(sys.argv[1], 'rb').read()
needle = open(sys.argv[2], 'rb').read()
sys.exit(0 if needle in hay else 1)
EOF
}

printf '%s' "$MIG_MARKER" >"$MIG_W/marker.bin"

# --- the SEV guest through the MH
dom=sevconf
mig_define_start "$dom"
mig_wait_passes 1 "$dom" 1
relayed_migrate "$dom" "$MIG_W/sev.cap"
mig_wait_passes 2 "$dom" 1
size=$(stat -c %s "$MIG_W/sev.cap")
if contains "$MIG_W/sev.cap" "$MIG_W/marker.bin"; then
    mh_fail "the marker '$MIG_MARKER' is in the MH migration's bytes"
fi
if contains "$MIG_W/sev.cap" "$MIG_W/mk.bin"; then
    mh_fail "the migration key is in the MH migration's bytes"
fi
head -c 4 "$MIG_W/sev.cap" | grep -q MHMS || mh_fail "the capture does not start with the MH stream header"
mh_log "MH migration: $size bytes captured; neither the marker nor the key among them"
mh_virsh 2 destroy "$dom" >/dev/null

# --- the plain twin: the same guest without SEV under qemu-mh, whose
# migration passes through to QEMU unchanged
twin=plainconf
mh_domain_xml "$MIG_W/$twin.xml" "$twin" "$MIG_MEM" "$MH_QEMU_MH" --loader ovmf \
    --kernel "$MIG_GUEST_EFI" \
    --cmdline "mem=$MIG_GUEST_MEM rate=$MIG_RATE interval=1000 marker=$MIG_MARKER" \
    --serial-log "$MIG_W/$twin-serial.log"
mh_virsh 1 create "$MIG_W/$twin.xml" >/dev/null || mh_fail "cannot start the plain twin"
mh_on_exit "mh_virsh 1 destroy $twin >/dev/null 2>&1; mh_virsh 2 destroy $twin >/dev/null 2>&1"
mh_wait_for "'mh-guest: ready' from the twin" 240 mig_serial_has "$twin" '^mh-guest: ready '
port=$(mh_free_port)
python3 "$RELAY_PY" "$port" 127.0.0.2 "$MIG_W/plain.cap" >"$MIG_W/relay.out" 2>&1 &
rpid=$!
mh_on_exit "kill $rpid 2>/dev/null"
mh_wait_for "the relay" 10 grep -q ready "$MIG_W/relay.out"
mh_virsh 1 migrate --live --p2p --listen-address 127.0.0.2 "$twin" "$(mig_uri 2)" \
    "tcp://127.0.0.1:$port" >"$MIG_W/migrate.out" 2>&1 ||
    mh_fail "plain twin migration failed: $(cat "$MIG_W/migrate.out")"
kill "$rpid" 2>/dev/null || true
contains "$MIG_W/plain.cap" "$MIG_W/marker.bin" ||
    mh_fail "the marker is not in the plain migration's bytes: the check cannot see it"
mh_log "plain QEMU migration of the non-SEV twin: $(stat -c %s "$MIG_W/plain.cap") bytes captured, marker found"

# --- refusals
refused() {  # refused DOM WHAT
    local out
    if out=$(mh_virsh 1 migrate --live --p2p "$1" "$(mig_uri 2)" "tcp://127.0.0.1:$(mh_free_port)" 2>&1); then
        mh_fail "$2 migrated"
    fi
    grep -q "SEV: Migration is not implemented" <<<"$out" || mh_fail "$2: unexpected error: $out"
    mh_domstate_is 1 "$1" running || mh_fail "$2 is not running on host 1 after the refusal"
    mh_log "$2 refused: $out"
}
mh_domain_xml "$MIG_W/nohelper.xml" nohelper 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
mh_virsh 1 create "$MIG_W/nohelper.xml" >/dev/null || mh_fail "cannot start the SEV domain without the helper"
mh_on_exit "mh_virsh 1 destroy nohelper >/dev/null 2>&1"
refused nohelper "an SEV domain without the helper"
grep -q "cannot migrate domain" <<<"$(mh_virsh 1 migrate --live --p2p nohelper "$(mig_uri 2)" 2>&1 || true)" ||
    mh_fail "libvirt does not say 'cannot migrate domain'"

helper="mirror-helper,id=mh0,mode=on-request,vcpus=1,lifetime=on-demand,cipher=aes-256-gcm,secret=$MIG_SECRET_GPA"
extra="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-object'/><qemu:arg value='$helper'/></qemu:commandline>"
mh_domain_xml "$MIG_W/onreq.xml" onreq 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 --extra "$extra"
mh_virsh 1 create "$MIG_W/onreq.xml" >/dev/null || mh_fail "cannot start the on-request SEV domain"
mh_on_exit "mh_virsh 1 destroy onreq >/dev/null 2>&1"
refused onreq "an SEV domain with mode='on-request', not armed"

echo "PASS: MH migration bytes hold neither the guest's marker nor the key (the plain twin's do hold the marker); SEV without the helper and unarmed on-request are refused with QEMU 7.2's blocker"
