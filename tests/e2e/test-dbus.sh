#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mhd on a private bus per lab host (dbus-daemon), real libvirtd:
#   the introspection matches data/*.xml; the manager lists and looks up;
#   Enable (with the key broker) and the properties; Start (the broker-backed
#   first launch) over D-Bus; a migration driven only over D-Bus whose
#   Progress signals carry growing memory_processed and whose Finished
#   matches "virsh domjobinfo --completed"; a second Migrate refused while
#   one runs; Abort mid-migration (source running, target empty); bad input
#   (unknown domain, unknown or mistyped a{sv} keys, an empty destination)
#   answered with named errors and the domain unchanged.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

command -v dbus-daemon >/dev/null || mh_skip "dbus-daemon not installed (package dbus-daemon)"
command -v gdbus >/dev/null || mh_skip "gdbus not installed (package libglib2.0-bin)"
/usr/bin/python3 -c 'from gi.repository import Gio' 2>/dev/null || mh_skip "python3-gi not installed"
MHD=$MH_BUILD_DIR/tools/virt-mhd/virt-mhd
CLIENT=$MH_SOURCE_DIR/tests/e2e/mhd-client.py
BUS=org.mirrorhelper.MirrorHelper1
ROOT=/org/mirrorhelper/MirrorHelper1
dom=dbusmig
mig_setup 2
mig_broker_up

# The lab runs a private bus and a virt-mhd per host; "lab status" says where.
for h in 1 2; do
    addr=$(sed -n "/^\[host$h\]/,/^\[/s/^bus=//p" "$MH_LAB_DIR/lab.ini")
    [ -n "$addr" ] || mh_fail "lab up started no bus for host $h: $(cat "$MH_LAB_DIR/lab.ini")"
    printf -v "ADDR$h" '%s' "$addr"
done
"$VIRT_MH" lab status --dir "$MH_LAB_DIR" | grep -q "D-Bus: $ADDR1" || mh_fail "lab status does not show host 1's bus"
call() {  # call HOST OBJECT IFACE.METHOD ARGS...
    local a=ADDR$1
    gdbus call --address "${!a}" --dest "$BUS" --object-path "$2" --method "$BUS.$3" "${@:4}"
}
prop() {  # prop HOST OBJECT IFACE PROPERTY
    local a=ADDR$1
    gdbus call --address "${!a}" --dest "$BUS" --object-path "$2" \
        --method org.freedesktop.DBus.Properties.Get "$BUS.$3" "$4"
}
mh_wait_for "virt-mhd on host 1" 20 call 1 "$ROOT" Manager.ListDomains

# The introspection is the XML of data/.
introspect() {
    local a=ADDR$1
    gdbus introspect --address "${!a}" --dest "$BUS" --object-path "$2" --xml
}
check_iface() {  # check_iface XML_FROM_BUS IFACE
    /usr/bin/python3 - "$1" "$MH_SOURCE_DIR/data/$2.xml" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
def shape(root, name):
    i = [x for x in root.iter('interface') if x.get('name') == name][0]
    return sorted((c.tag, c.get('name'), tuple((a.get('name'), a.get('type'), a.get('direction'))
                   for a in c.findall('arg')), c.get('type'), c.get('access')) for c in i)
bus = ET.fromstring(open(sys.argv[1]).read())
data = ET.parse(sys.argv[2]).getroot()
a, b = shape(bus, sys.argv[3]), shape(data, sys.argv[3])
assert a == b, f'{sys.argv[3]}: bus {a} != data {b}'
PY
}
introspect 1 "$ROOT" >"$MIG_W/manager.xml"
check_iface "$MIG_W/manager.xml" "$BUS.Manager" || mh_fail "the manager's introspection differs from data/"
version=$("$MHD" --version | sed -n 's/^virt-mhd (mirror-helper) //p')
[ "$(prop 1 "$ROOT" Manager Version)" = "(<'$version'>,)" ] ||
    mh_fail "Manager Version: $(prop 1 "$ROOT" Manager Version), virt-mhd --version: $version"
[ "$(prop 2 "$ROOT" Manager LibvirtURI)" = "(<'$MH_URI2'>,)" ] ||
    mh_fail "Manager LibvirtURI of host 2: $(prop 2 "$ROOT" Manager LibvirtURI), not $MH_URI2"

# check_live HOST OBJECT DOM: the handler properties say what the
# domain's qemu-mh itself reports (query-migration-handler).
check_live() {
    local h=$1 o=$2 d=$3 direct running keyid vcpus
    direct=$(mh_virsh "$h" qemu-monitor-command "$d" '{"execute":"query-migration-handler"}') ||
        mh_fail "query-migration-handler on host $h failed: $direct"
    read -r running keyid vcpus < <(/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])["return"]
print("true" if r.get("state") == "running" else "false", r.get("key-id", 0), r.get("vcpus", 0))' "$direct")
    [ "$(prop "$h" "$o" Domain HandlerRunning)" = "(<$running>,)" ] ||
        mh_fail "HandlerRunning $(prop "$h" "$o" Domain HandlerRunning) but qemu-mh says $direct"
    [ "$(prop "$h" "$o" Domain KeyId)" = "(<uint32 $keyid>,)" ] ||
        mh_fail "KeyId $(prop "$h" "$o" Domain KeyId) but qemu-mh says $direct"
    [ "$(prop "$h" "$o" Domain HandlerVcpus)" = "(<uint32 $vcpus>,)" ] ||
        mh_fail "HandlerVcpus $(prop "$h" "$o" Domain HandlerVcpus) but qemu-mh says $direct"
    mh_log "host $h: HandlerRunning=$running KeyId=$keyid HandlerVcpus=$vcpus, as qemu-mh reports"
}

# A domain, enabled over D-Bus.
mh_domain_xml "$MIG_W/$dom.xml" "$dom" "$MIG_MEM" "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" \
    --sev 0x0033 --kernel "$MIG_GUEST_EFI" \
    --cmdline "mem=$MIG_GUEST_MEM rate=$MIG_RATE interval=1000 marker=$MIG_MARKER" \
    --serial-log "$MIG_W/$dom-serial.log"
mh_virsh 1 define "$MIG_W/$dom.xml" >/dev/null || mh_fail "cannot define $dom"
mh_on_exit "for h in 1 2; do mh_virsh \$h destroy $dom >/dev/null 2>&1; mh_virsh \$h undefine $dom >/dev/null 2>&1; done"
obj=$(call 1 "$ROOT" Manager.LookupByName "$dom" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
[ -n "$obj" ] || mh_fail "LookupByName returned no object"
introspect 1 "$obj" >"$MIG_W/domain.xml"
check_iface "$MIG_W/domain.xml" "$BUS.Domain" || mh_fail "the domain's introspection differs from data/"
[ "$(prop 1 "$obj" Domain Enabled)" = "(<false>,)" ] || mh_fail "Enabled before Enable: $(prop 1 "$obj" Domain Enabled)"
[ "$(call 1 "$ROOT" Manager.ListDomains)" = "(@ao [],)" ] || mh_fail "ListDomains before Enable: $(call 1 "$ROOT" Manager.ListDomains)"

expect_error() {  # expect_error NAME CMD...: fails with the named D-Bus error
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then mh_fail "expected $name from: $*"; fi
    grep -q "$BUS.Error.$name" <<<"$out" || mh_fail "expected $name, got: $out"
    mh_log "refused as $name: $(grep -o "$BUS.Error.$name: .*" <<<"$out" | cut -c1-160)"
}
before=$(mh_virsh 1 dumpxml --inactive "$dom" | md5sum)
expect_error NotFound call 1 "$ROOT" Manager.LookupByName nosuchdomain
expect_error InvalidArgs call 1 "$obj" Domain.Enable "{'bogus': <1>}"
expect_error InvalidArgs call 1 "$obj" Domain.Enable "{'vcpus': <'two'>}"
expect_error InvalidArgs call 1 "$obj" Domain.Enable "{'mode': <'sometimes'>}"
expect_error InvalidArgs call 1 "$obj" Domain.Migrate "''" "{}" 0
[ "$(mh_virsh 1 dumpxml --inactive "$dom" | md5sum)" = "$before" ] || mh_fail "refused calls changed the domain"

gdbus monitor --address "$ADDR1" --dest "$BUS" >"$MIG_W/monitor.out" 2>&1 &
mon=$!
sleep 0.5
call 1 "$obj" Domain.Enable "{'vcpus': <uint32 2>, 'key_broker': <'$MIG_HOST_URL'>}" >/dev/null ||
    mh_fail "Enable failed"
sleep 0.5
kill "$mon" 2>/dev/null || true
grep -q "HelperChanged (objectpath '$obj', true)" "$MIG_W/monitor.out" ||
    mh_fail "no HelperChanged signal for Enable: $(cat "$MIG_W/monitor.out")"
grep -q "PropertiesChanged ('$BUS.Domain', {'Enabled': <true>" "$MIG_W/monitor.out" ||
    mh_fail "no PropertiesChanged for Enable: $(cat "$MIG_W/monitor.out")"
[ "$(prop 1 "$obj" Domain Vcpus)" = "(<uint32 2>,)" ] || mh_fail "Vcpus after Enable: $(prop 1 "$obj" Domain Vcpus)"
[ "$(prop 1 "$obj" Domain KeyBroker)" = "(<'$MIG_HOST_URL'>,)" ] || mh_fail "KeyBroker: $(prop 1 "$obj" Domain KeyBroker)"
call 1 "$ROOT" Manager.ListDomains | grep -q "$obj" || mh_fail "ListDomains lacks the enabled domain"

# The broker-backed first launch, over D-Bus.
uuid=$(mh_virsh 1 domuuid "$dom" | head -1)
"$VIRT_MH" owner new-key --out "$MIG_B/mk.bin" >/dev/null
mig_broker enroll --uuid "$uuid" --policy 0x33 --firmware "$MH_OVMF_CODE" --migration-key "$MIG_B/mk.bin" >/dev/null ||
    mh_fail "enroll failed"
call 1 "$obj" Domain.Start "{}" >/dev/null || mh_fail "Start over D-Bus failed"
mh_wait_for "'mh-guest: ready' on the serial log" 240 mig_serial_has "$dom" '^mh-guest: ready '
mig_wait_passes 1 "$dom" 1

check_live 1 "$obj" "$dom"

# A migration driven only over D-Bus: 1 -> 2, peer-to-peer.
FLAGS=$((1 | 2 | 8 | 16))   # LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE
gdbus monitor --address "$ADDR2" --dest "$BUS" >"$MIG_W/monitor-in.out" 2>&1 &
mon=$!
sleep 0.5
/usr/bin/python3 "$CLIENT" "$ADDR1" migrate "$dom" "$MH_URI2" "tcp://127.0.0.1:$(mh_free_port)" "$FLAGS" \
    --bandwidth 40 --second >"$MIG_W/client.out" 2>&1 || mh_fail "D-Bus migration 1 -> 2 failed: $(cat "$MIG_W/client.out")"
mh_wait_for "$dom running on host 2" 30 mh_domstate_is 2 "$dom" running
info=$(mh_virsh 2 domjobinfo "$dom" --completed)
/usr/bin/python3 - "$MIG_W/client.out" "$info" <<'PY' || mh_fail "Progress/Finished wrong: $(cat "$MIG_W/client.out")"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
prog = [l['memory_processed'] for l in lines if l['kind'] == 'progress' and l.get('memory_processed')]
assert len(prog) >= 2 and prog == sorted(prog) and prog[-1] > prog[0], f'progress {prog}'
second = [l for l in lines if l['kind'] == 'second'][0]
assert not second['ok'] and 'already migrating' in second['error'], second
assert second['name'] == 'org.mirrorhelper.MirrorHelper1.Error.Refused', second
fin = [l for l in lines if l['kind'] == 'finished'][0]
assert fin['ok'], fin
m = re.search(r'Memory processed:\s+([0-9.]+) (\w+)', sys.argv[2])
units = {'B': 1, 'KiB': 1024, 'MiB': 1024 ** 2, 'GiB': 1024 ** 3}
virsh = float(m.group(1)) * units[m.group(2)]
got = fin['stats']['memory_processed']
assert abs(got - virsh) <= max(0.01 * virsh, 1024 ** 2 * 0.01 + 1024), (got, virsh)
print(f"{len(prog)} Progress signals, memory_processed {prog[0]} -> {prog[-1]}; Finished {got} bytes = domjobinfo {m.group(0)}")
PY
mh_log "$(tail -n 1 "$MIG_W/client.out" | cut -c1-200)"
job=$(sed -n 's/.*"kind": "job", "path": "\([^"]*\)".*/\1/p' "$MIG_W/client.out")
# The target announces the arrival: its last migration's figures, which
# are libvirt's completed-job statistics.
mh_wait_for "PropertiesChanged with LastMigration on host 2" 60 \
    grep -q "'LastMigration': <{.*'memory_processed'" "$MIG_W/monitor-in.out"
kill "$mon" 2>/dev/null || true
last=$(prop 2 "$obj" Domain LastMigration)
got=$(sed -n "s/.*'memory_processed': <uint64 \([0-9]*\)>.*/\1/p" <<<"$last")
want=$(sed -n 's/.*"memory_processed": \([0-9]*\).*/\1/p' <<<"$(grep '"kind": "finished"' "$MIG_W/client.out")")
[ -n "$got" ] && [ "$got" = "$want" ] ||
    mh_fail "LastMigration on host 2 ($got) is not the Finished figure ($want): ${last:0:300}"
mh_log "host 2: LastMigration memory_processed=$got bytes, as Finished said"
check_live 2 "$obj" "$dom"
introspect 1 "$job" >"$MIG_W/job.xml"
check_iface "$MIG_W/job.xml" "$BUS.Job" || mh_fail "the job's introspection differs from data/"
[ "$(prop 1 "$job" Job State)" = "(<'completed'>,)" ] || mh_fail "job State: $(prop 1 "$job" Job State)"
mig_wait_passes 2 "$dom" 1

# A destination that does not answer: the job fails with libvirt's error,
# the domain stays where it is.
/usr/bin/python3 "$CLIENT" "$ADDR2" migrate "$dom" "qemu+unix:///session?socket=$MIG_W/nowhere.sock" \
    "tcp://127.0.0.1:$(mh_free_port)" "$FLAGS" >"$MIG_W/nowhere.out" 2>&1 &&
    mh_fail "a migration to an unreachable URI succeeded: $(cat "$MIG_W/nowhere.out")"
grep -q '"finished".*"ok": false' "$MIG_W/nowhere.out" || mh_fail "no failed Finished: $(cat "$MIG_W/nowhere.out")"
mh_log "unreachable destination: $(grep -o '"error": "[^"]*"' "$MIG_W/nowhere.out" | cut -c1-160)"
mh_domstate_is 2 "$dom" running || mh_fail "$dom is not running on host 2 after the failed migration"

# libvirtd of host 2 restarts under virt-mhd: the objects come back.
"$VIRT_MH" lab restart --dir "$MH_LAB_DIR" --host 2 || mh_fail "lab restart of host 2 failed"
[ "$(prop 2 "$obj" Domain Enabled)" = "(<true>,)" ] || mh_fail "after libvirtd's restart: $(prop 2 "$obj" Domain Enabled 2>&1)"
[ "$(call 2 "$ROOT" Manager.LookupByUUID "$uuid")" = "(objectpath '$obj',)" ] || mh_fail "LookupByUUID after libvirtd's restart"
mh_log "host 2's libvirtd restarted; virt-mhd reconnected and serves $obj"

# The rest of the interface on the running domain.
plat=$(call 2 "$ROOT" Manager.GetPlatform) || mh_fail "GetPlatform failed"
grep -q "'qemu-mh')$" <<<"$plat" || mh_fail "GetPlatform does not name qemu-mh: ${plat:0:80}...${plat: -40}"
meas=$(call 2 "$obj" Domain.GetLaunchMeasurement) || mh_fail "GetLaunchMeasurement failed: $meas"
grep -Eq "^\('[A-Za-z0-9+/]{64}', uint32 51, byte 0x00, byte 0x18, byte 0x0f\)$" <<<"$meas" ||
    mh_fail "GetLaunchMeasurement: $meas"
expect_error Failed call 2 "$obj" Domain.InjectLaunchSecret "'AAAA'" "'AAAA'" "{}"
call 2 "$obj" Domain.Arm >/dev/null || mh_fail "Arm failed on a helper in mode auto"
call 2 "$obj" Domain.Disable >/dev/null || mh_fail "Disable failed"
[ "$(prop 2 "$obj" Domain Enabled)" = "(<false>,)" ] || mh_fail "Enabled after Disable"
call 2 "$obj" Domain.Enable "{'vcpus': <uint32 2>, 'key_broker': <'$MIG_HOST_URL'>}" >/dev/null ||
    mh_fail "Enable again failed"

# Abort over D-Bus mid-migration: 2 -> 1 at 1 MiB/s, aborted after 4 Progress signals.
obj2=$(call 2 "$ROOT" Manager.LookupByName "$dom" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
[ "$obj2" = "$obj" ] || mh_fail "the domain's object path differs between hosts: $obj2 vs $obj"
if /usr/bin/python3 "$CLIENT" "$ADDR2" migrate "$dom" "$MH_URI1" "tcp://127.0.0.1:$(mh_free_port)" "$FLAGS" \
    --bandwidth 1 --abort-after 4 --tune >"$MIG_W/abort.out" 2>&1; then
    mh_fail "the aborted migration succeeded: $(cat "$MIG_W/abort.out")"
fi
grep -q '"kind": "abort"' "$MIG_W/abort.out" || mh_fail "no abort issued: $(cat "$MIG_W/abort.out")"
[ "$(grep -c '"kind": "tune", "method": "[A-Za-z]*", "ok": true' "$MIG_W/abort.out")" = 2 ] ||
    mh_fail "SetMaxSpeed/SetMaxDowntime on the job failed: $(grep tune "$MIG_W/abort.out")"
grep -Eq '"finished".*"ok": false.*(cancel|abort)' "$MIG_W/abort.out" || mh_fail "Finished did not report the abort: $(cat "$MIG_W/abort.out")"
mh_domstate_is 2 "$dom" running || mh_fail "the source is not running after the abort"
mh_wait_for "nothing on host 1" 30 bash -c "[ -z \"\$(virsh -c '$MH_URI1' list --all --name | grep -x '$dom')\" ]"
mig_wait_passes 2 "$dom" 1
# Changes made by others (virt-mh, not virt-mhd) are announced too, from
# libvirt's events.
gdbus monitor --address "$ADDR2" --dest "$BUS" >"$MIG_W/monitor2.out" 2>&1 &
mon=$!
sleep 0.5
"$VIRT_MH" -c "$MH_URI2" disable "$dom" >/dev/null || mh_fail "virt-mh disable failed"
mh_wait_for "HelperChanged false from virt-mh disable" 10 grep -q "HelperChanged (objectpath '$obj', false)" "$MIG_W/monitor2.out"
"$VIRT_MH" -c "$MH_URI2" enable "$dom" --vcpus 2 --key-broker "$MIG_HOST_URL" >/dev/null || mh_fail "virt-mh enable failed"
mh_wait_for "HelperChanged true from virt-mh enable" 10 grep -q "HelperChanged (objectpath '$obj', true)" "$MIG_W/monitor2.out"
kill "$mon" 2>/dev/null || true
mh_log "virt-mh disable/enable announced on the bus: $(grep -c HelperChanged "$MIG_W/monitor2.out") HelperChanged signal(s)"

# A client that leaves mid-migration: the migration goes on to its end,
# its job object stays until then and reports it.
/usr/bin/python3 "$CLIENT" "$ADDR2" migrate "$dom" "$MH_URI1" "tcp://127.0.0.1:$(mh_free_port)" "$FLAGS" \
    --bandwidth 40 --exit-after 2 >"$MIG_W/leave.out" 2>&1 && mh_fail "the leaving client did not leave"
job=$(sed -n 's/.*"kind": "exit", "n": 2, "job": "\([^"]*\)".*/\1/p' "$MIG_W/leave.out")
[ -n "$job" ] || mh_fail "no job from the leaving client: $(cat "$MIG_W/leave.out")"
mh_wait_for "the job of the left client to complete" 120 bash -c "gdbus call --address '$ADDR2' --dest $BUS --object-path '$job' --method org.freedesktop.DBus.Properties.Get $BUS.Job State | grep -q completed"
mh_wait_for "$dom running on host 1" 30 mh_domstate_is 1 "$dom" running
mig_wait_passes 1 "$dom" 1
# The guest owner's own flow over D-Bus, for a second guest: launched
# paused with a session for host 1, its measurement read and checked, the
# migration key sealed for it and injected with InjectLaunchSecret; then
# a client-managed Migrate (no PEER2PEER) to host 2 with destination and
# persistent XML, its helper in mode on-request armed by sev_helper, whose
# launch the owner attests through the target's owner monitor (libvirt
# holds its own API back during an incoming migration).
mh_virsh 1 destroy "$dom" >/dev/null || mh_fail "destroy $dom failed"
dom2=dbusinj
extra="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
extra+="<qemu:arg value='-chardev'/><qemu:arg value='socket,id=mhowner,path=$MIG_W/owner-$dom2-1.sock,server=on,wait=off'/>"
extra+="<qemu:arg value='-mon'/><qemu:arg value='chardev=mhowner,mode=control'/></qemu:commandline>"
mh_domain_xml "$MIG_W/$dom2.xml" "$dom2" "$MIG_MEM" "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" \
    --sev 0x0033 --extra "$extra" --kernel "$MIG_GUEST_EFI" \
    --cmdline "mem=$MIG_GUEST_MEM rate=$MIG_RATE interval=1000 marker=$MIG_MARKER" \
    --serial-log "$MIG_W/$dom2-serial.log"
mh_xml_add_session "$MIG_W/$dom2.xml" "$MIG_W/sess1"
mh_virsh 1 define "$MIG_W/$dom2.xml" >/dev/null || mh_fail "cannot define $dom2"
mh_on_exit "for h in 1 2; do mh_virsh \$h destroy $dom2 >/dev/null 2>&1; mh_virsh \$h undefine --nvram $dom2 >/dev/null 2>&1; done"
obj3=$(call 1 "$ROOT" Manager.LookupByName "$dom2" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
call 1 "$obj3" Domain.Enable "{'vcpus': <uint32 2>, 'mode': <'on-request'>}" >/dev/null ||
    mh_fail "Enable of $dom2 failed"
mh_virsh 1 start --paused "$dom2" >/dev/null || mh_fail "cannot start $dom2 paused"
meas=$(call 1 "$obj3" Domain.GetLaunchMeasurement) || mh_fail "GetLaunchMeasurement of $dom2: $meas"
read -r m pol amaj amin bid < <(sed -E "s/^\('([^']*)', uint32 ([0-9]+), byte (0x[0-9a-f]+), byte (0x[0-9a-f]+), byte (0x[0-9a-f]+)\)$/\1 \2 \3 \4 \5/" <<<"$meas")
"$VIRT_MH" owner verify --firmware "$MH_OVMF_CODE" --tk "$MIG_W/sess1/tk.bin" --measurement "$m" \
    --policy "$(printf '0x%x' "$pol")" --api-major $((amaj)) --api-minor $((amin)) --build-id $((bid)) \
    >"$MIG_W/verify.out" 2>&1 || mh_fail "the owner refused $dom2's measurement: $(cat "$MIG_W/verify.out")"
mkdir -p "$MIG_W/pkt"
"$VIRT_MH" owner secret --tk "$MIG_W/sess1/tk.bin" --measurement "$m" --migration-key "$MIG_W/mk.bin" \
    --out "$MIG_W/pkt" >/dev/null || mh_fail "owner secret failed"
call 1 "$obj3" Domain.InjectLaunchSecret "'$(cat "$MIG_W/pkt/header.b64")'" \
    "'$(cat "$MIG_W/pkt/secret.b64")'" "{'gpa': <uint64 $MIG_SECRET_GPA>}" >/dev/null ||
    mh_fail "InjectLaunchSecret of a verified launch failed"
mh_virsh 1 resume "$dom2" >/dev/null || mh_fail "resume $dom2 failed"
mh_wait_for "'mh-guest: ready' from $dom2" 240 mig_serial_has "$dom2" '^mh-guest: ready '
mig_wait_passes 1 "$dom2" 1
check_live 1 "$obj3" "$dom2"

mig_target_xml "$dom2" 1 2 || mh_fail "cannot read $dom2's migratable XML"
# Unarmed, mode on-request is refused as QEMU 7.2 refuses SEV migration.
rc=0
/usr/bin/python3 "$CLIENT" "$ADDR1" migrate "$dom2" "$MH_URI2" "tcp://127.0.0.1:$(mh_free_port)" \
    $((1 | 8 | 16)) --dest-xml "$MIG_W/$dom2-2.xml" >"$MIG_W/unarmed.out" 2>&1 || rc=$?
[ $rc != 0 ] || mh_fail "an unarmed on-request helper migrated: $(cat "$MIG_W/unarmed.out")"
grep -q '"finished".*SEV: Migration is not implemented' "$MIG_W/unarmed.out" ||
    mh_fail "unarmed migration: unexpected result: $(cat "$MIG_W/unarmed.out")"
mh_domstate_is 1 "$dom2" running || mh_fail "$dom2 not running on host 1 after the refusal"
rm -f "$MIG_W/owner-$dom2-2.sock"
mig_owner_target "$dom2" 2 >"$MIG_W/owner.out" 2>&1 &
opid=$!
FLAGS_CM=$((1 | 8 | 16))   # LIVE | PERSIST_DEST | UNDEFINE_SOURCE: client-managed
/usr/bin/python3 "$CLIENT" "$ADDR1" migrate "$dom2" "$MH_URI2" "tcp://127.0.0.1:$(mh_free_port)" \
    "$FLAGS_CM" --dest-xml "$MIG_W/$dom2-2.xml" --persist-xml "$MIG_W/$dom2-2.xml" --sev-helper \
    >"$MIG_W/cm.out" 2>&1 ||
    mh_fail "client-managed D-Bus migration failed: $(cat "$MIG_W/cm.out"; cat "$MIG_W/owner.out")"
wait "$opid" || mh_fail "the owner's injection on host 2 failed: $(cat "$MIG_W/owner.out")"
mh_wait_for "$dom2 running on host 2" 30 mh_domstate_is 2 "$dom2" running
mh_wait_for "no $dom2 on host 1" 30 test -z "$(mh_domstate 1 "$dom2")"
mig_wait_passes 2 "$dom2" 2
mh_log "client-managed: $(grep '"kind": "finished"' "$MIG_W/cm.out" | cut -c1-160)"
echo "PASS: virt-mhd on private buses: introspection = data/, lookups, Enable, Start through the broker, a D-Bus-driven migration with Progress and Finished (= domjobinfo), a second Migrate refused, Abort mid-migration, named errors for bad input, an unreachable destination, libvirtd restarting under it, a client leaving mid-migration; handler and last-migration properties agree with qemu-mh and libvirt; the owner's measurement check and InjectLaunchSecret over D-Bus, and a client-managed D-Bus migration"
