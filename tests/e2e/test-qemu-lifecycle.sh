#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# qemu-mh as a process, seen from libvirt: probing exactly like QEMU
# (daemonized, pid file before the parent exits, stdio closed), a non-SEV
# domain running normally through it, and every way of dying (destroy,
# kill -9 of QEMU, kill -9 of qemu-mh, SIGTERM) reported as a dead QEMU
# would be, with no process left behind.
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"

mh_lab_up 1
mh_require_qemu_mh
W=$MH_LAB_DIR/life
mkdir -p "$W"

# no_procs NAME: neither qemu-mh nor QEMU of guest NAME is alive
no_procs() {
    ! pgrep -f -- "^[^ ]*(qemu-mh|qemu-system-x86_64) -name guest=$1," >/dev/null
}

# --- probing, run the way libvirt runs it
# probe EMULATOR DIR: libvirt's probe command line; prints what the
# daemonizing parent printed before it exited
probe() {
    timeout 30 "$1" -S -no-user-config -nodefaults -nographic \
        -machine none,accel=kvm:tcg -qmp "unix:$2/qmp.monitor,server=on,wait=off" \
        -pidfile "$2/qmp.pid" -daemonize 2>&1
}
# What the real QEMU prints for the same probe is the reference: nothing
# where /dev/kvm can be opened, its "Could not access KVM kernel module"
# (before it falls back to TCG) where it cannot.
mkdir -p "$W/ref"
ref_out=$(probe "$MH_QEMU_SYSTEM" "$W/ref") || mh_fail "probe: $MH_QEMU_SYSTEM -daemonize failed: $ref_out"
kill -TERM "$(cat "$W/ref/qmp.pid")"
mh_wait_for "reference QEMU gone" 15 bash -c "[ ! -e '$W/ref/qmp.pid' ]"
if [ -e /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    [ -z "$ref_out" ] || mh_fail "probe: QEMU printed '$ref_out' although /dev/kvm is usable"
else
    grep -q "Could not access KVM kernel module" <<<"$ref_out" ||
        mh_fail "probe: QEMU without a usable /dev/kvm printed '$ref_out'"
fi

mkdir -p "$W/probe/mh-platform" "$W/probe/q"
sock=$W/probe/q/qmp.monitor
pidf=$W/probe/q/qmp.pid
printf 'platform_dir = "%s"  # the probe'"'"'s own\n' "$W/probe/mh-platform" >"$W/probe/qemu-mh.conf"
start=$SECONDS
out=$(MH_QEMU_CONF=$W/probe/qemu-mh.conf probe "$MH_QEMU_MH" "$W/probe/q") ||
    mh_fail "probe: qemu-mh -daemonize failed: $out"
[ "$out" = "$ref_out" ] || mh_fail "probe: qemu-mh printed '$out' where QEMU prints '$ref_out'"
[ -s "$pidf" ] || mh_fail "probe: no pid file when the parent exited"
ppid=$(cat "$pidf")
kill -0 "$ppid" || mh_fail "probe: pid $ppid from the pid file is not alive"
[ "$(readlink "/proc/$ppid/exe")" = "$(readlink -f "$MH_QEMU_MH")" ] ||
    mh_fail "probe: pid file names $(readlink "/proc/$ppid/exe"), not qemu-mh"
for fd in 0 1 2; do
    [ "$(readlink "/proc/$ppid/fd/$fd")" = /dev/null ] || mh_fail "probe: fd $fd of the daemon is not /dev/null"
done
/usr/bin/python3 - "$sock" <<'EOF' || mh_fail "probe: QMP conversation failed"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile('rwb')
greeting = json.loads(f.readline())
assert 'QMP' in greeting, greeting
def cmd(c):
    f.write((json.dumps(c) + '\r\n').encode()); f.flush()
    return json.loads(f.readline())
assert cmd({'execute': 'qmp_capabilities'}) == {'return': {}}
r = cmd({'execute': 'query-sev-capabilities', 'id': 'caps'})
assert r['id'] == 'caps' and r['return']['cbitpos'] == 47 and r['return']['pdh'], r
r = cmd({'execute': 'query-version', 'id': 7})
assert r['id'] == 7 and r['return']['qemu']['major'] == 7, r
print('probe QMP: greeting, capabilities, query-sev-capabilities, query-version ok')
EOF
qchild=$(pgrep -P "$ppid") || mh_fail "probe: qemu-mh has no QEMU child"
[ "$(readlink "/proc/$qchild/exe")" = "$(readlink -f "$MH_QEMU_SYSTEM")" ] ||
    mh_fail "probe: the child is not $MH_QEMU_SYSTEM"
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
kill -TERM "$ppid"
mh_wait_for "probe qemu-mh gone" 15 bash -c "! kill -0 $ppid 2>/dev/null"
mh_wait_for "probe QEMU gone" 15 eval "! alive $qchild"
[ ! -e "$pidf" ] || mh_fail "probe: pid file left behind"
[ -n "$(ls "$W/probe/mh-platform")" ] || mh_fail "probe: platform identity not created in qemu-mh.conf's platform_dir"
mh_log "probe: daemonized in $((SECONDS - start))s, pid file, stdio closed, QMP proxied, clean exit"

# --- a plain (non-SEV) domain runs normally through qemu-mh
mh_domain_xml "$W/plain.xml" plain1 64 "$MH_QEMU_MH"
mh_virsh 1 define "$W/plain.xml" >/dev/null
mh_virsh 1 start plain1 >/dev/null
mh_wait_for "plain1 running" 30 mh_domstate_is 1 plain1 running
mh_virsh 1 qemu-monitor-command plain1 '{"execute":"query-status"}' | grep -q '"status":"running"' ||
    mh_fail "plain1: QEMU does not report running"
qpid=$(pgrep -f -- "^/usr/bin/qemu-system-x86_64 -name guest=plain1,") || mh_fail "plain1: no real QEMU"
qcmd=$(tr '\0' ' ' <"/proc/$qpid/cmdline")
grep -q "memory-backend-ram" <<<"$qcmd" || mh_fail "plain1: RAM backend was rewritten: $qcmd"
grep -q "sev-guest" <<<"$qcmd" && mh_fail "plain1: unexpected sev-guest"
mh_virsh 1 suspend plain1 >/dev/null
mh_virsh 1 resume plain1 >/dev/null
mh_virsh 1 destroy plain1 >/dev/null
mh_wait_for "plain1 processes gone" 15 no_procs plain1
mh_log "plain domain: running, suspend/resume, destroy leaves no process"

# --- a second QMP monitor from <qemu:commandline> is proxied too
chmod 777 "$W"
osock=$W/owner.sock
EXTRA="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-chardev'/><qemu:arg value='socket,id=owner,path=$osock,server=on,wait=off'/><qemu:arg value='-mon'/><qemu:arg value='chardev=owner,mode=control'/></qemu:commandline>"
mh_domain_xml "$W/mon2.xml" mon2 64 "$MH_QEMU_MH" --extra "$EXTRA"
mh_virsh 1 create "$W/mon2.xml" >/dev/null
mh_wait_for "mon2 running" 30 mh_domstate_is 1 mon2 running
/usr/bin/python3 - "$osock" <<'EOF' || mh_fail "second monitor: QMP conversation failed"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile('rwb')
assert 'QMP' in json.loads(f.readline())
def cmd(c):
    f.write((json.dumps(c) + '\r\n').encode()); f.flush()
    while True:
        r = json.loads(f.readline())
        if 'event' not in r:
            return r
assert cmd({'execute': 'qmp_capabilities'}) == {'return': {}}
assert cmd({'execute': 'query-status'})['return']['status'] == 'running'
assert cmd({'execute': 'query-sev-capabilities'})['return']['cbitpos'] == 47
EOF
mh_virsh 1 qemu-monitor-command mon2 '{"execute":"query-status"}' | grep -q running ||
    mh_fail "libvirt's monitor stopped working next to the second one"
mh_virsh 1 destroy mon2 >/dev/null
mh_wait_for "mon2 processes gone" 15 no_procs mon2
[ ! -e "$osock" ] || mh_fail "second monitor socket left behind"
mh_log "second QMP monitor (<qemu:commandline>): proxied next to libvirt's, removed at exit"

# --- save/restore: libvirt hands QEMU the file as an fd over the monitor
# (getfd with SCM_RIGHTS), both ways
chmod 777 "$W"
mh_virsh 1 start plain1 >/dev/null
mh_wait_for "plain1 running" 30 mh_domstate_is 1 plain1 running
mh_virsh 1 save plain1 "$W/plain1.save" >/dev/null || mh_fail "virsh save through qemu-mh failed"
[ -s "$W/plain1.save" ] || mh_fail "virsh save wrote nothing"
mh_virsh 1 restore "$W/plain1.save" >/dev/null || mh_fail "virsh restore through qemu-mh failed"
mh_wait_for "plain1 running after restore" 30 mh_domstate_is 1 plain1 running
mh_virsh 1 destroy plain1 >/dev/null
mh_wait_for "plain1 processes gone" 15 no_procs plain1
mh_log "save/restore through fds passed over the monitor: $(stat -c %s "$W/plain1.save") bytes"

# --- kill -9 of the real QEMU
mh_virsh 1 start plain1 >/dev/null
mh_wait_for "plain1 running" 30 mh_domstate_is 1 plain1 running
qpid=$(pgrep -f -- "^/usr/bin/qemu-system-x86_64 -name guest=plain1,")
kill -9 "$qpid"
mh_wait_for "plain1 shut off after kill -9 of QEMU" 20 mh_domstate_is 1 plain1 "shut off"
mh_virsh 1 domstate plain1 --reason | grep -q crashed || mh_fail "plain1: reason is not crashed"
mh_wait_for "plain1 processes gone" 15 no_procs plain1
mh_log "kill -9 QEMU: $(mh_virsh 1 domstate plain1 --reason), no process left"

# --- kill -9 of qemu-mh (an SEV guest with OVMF)
if [ -f "$MH_OVMF_CODE" ]; then
    mh_domain_xml "$W/sev.xml" sevk 128 "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033
    mh_virsh 1 define "$W/sev.xml" >/dev/null
    mh_virsh 1 start sevk >/dev/null
    mh_wait_for "sevk running" 30 mh_domstate_is 1 sevk running
    mpid=$(pgrep -f -- "qemu-mh -name guest=sevk,")
    kill -9 "$mpid"
    mh_wait_for "sevk shut off after kill -9 of qemu-mh" 20 mh_domstate_is 1 sevk "shut off"
    mh_wait_for "sevk QEMU gone with qemu-mh" 15 no_procs sevk
    mh_log "kill -9 qemu-mh: $(mh_virsh 1 domstate sevk --reason), QEMU went with it"
fi

# --- SIGTERM to qemu-mh from outside libvirt: QEMU shuts down cleanly
mh_virsh 1 start plain1 >/dev/null
mh_wait_for "plain1 running" 30 mh_domstate_is 1 plain1 running
kill -TERM "$(pgrep -f -- "qemu-mh -name guest=plain1,")"
mh_wait_for "plain1 shut off after SIGTERM" 20 mh_domstate_is 1 plain1 "shut off"
mh_wait_for "plain1 processes gone" 15 no_procs plain1
grep -q "terminating on signal 15" "$MH_LAB_DIR/host1/cache/libvirt/qemu/log/plain1.log" ||
    mh_fail "plain1: QEMU did not log the SIGTERM shutdown"
mh_log "SIGTERM to qemu-mh: $(mh_virsh 1 domstate plain1 --reason), no process left"
echo "PASS"
