#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mh lab: two hosts come up with their own daemons, sockets and host
# UUIDs, run as the lab user (as root: mh-lab) away from the machine's own
# libvirt; status lists hosts and domains; a second 'up' in the same
# directory is refused; 'down' destroys the domains and leaves no process.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

# A directory too long for libvirt's socket paths is refused up front,
# before anything is started or created.
long=/tmp/mh-lab-$(printf 'x%.0s' {1..60})
mh_register_path "$long"
if "$VIRT_MH" lab up --hosts 1 --dir "$long" 2>/dev/null; then
    "$VIRT_MH" lab down --dir "$long" || true
    rm -rf "$long"
    mh_fail "lab up accepted a ${#long}-character directory"
fi
[ ! -e "$long/host1" ] || { rm -rf "$long"; mh_fail "refused lab up still created $long/host1"; }
rm -rf "$long"
mh_log "ok: too long a directory is refused"

# A daemon that dies during start-up: lab up says so, exits 1 and leaves no
# daemon of that lab behind (host 1's libvirtd dies, host 2's is stopped).
broken=$(mktemp -d /tmp/mhlab.XXXXXX)
mh_register_path "$broken"
printf '#!/bin/sh\ncase "$HOME" in */host1/home) echo "broken on purpose" >&2; exit 3;; esac\nexec /usr/sbin/libvirtd "$@"\n' \
    >"$broken/libvirtd"
chmod 755 "$broken" "$broken/libvirtd"
rc=0
MH_LIBVIRTD=$broken/libvirtd "$VIRT_MH" lab up --hosts 2 --dir "$broken/lab" >"$broken/out" 2>"$broken/err" || rc=$?
if [ "$rc" != 1 ] || [ -s "$broken/out" ] || ! grep -q "exited during start-up" "$broken/err" ||
   ! grep -q "broken on purpose" "$broken/err"; then
    cat "$broken/err"
    "$VIRT_MH" lab down --dir "$broken/lab" || true
    rm -rf "$broken"
    mh_fail "lab up with a dying daemon: exit $rc, stdout '$(cat "$broken/out" 2>/dev/null)'"
fi
sleep 0.5
if left=$(MH_LAB_DIR=$broken/lab mh_lab_processes) && [ -n "$left" ]; then
    "$VIRT_MH" lab down --dir "$broken/lab" || true
    rm -rf "$broken"
    mh_fail "a failed lab up left processes: $left"
fi
rm -rf "$broken"
mh_log "ok: a daemon dying during start-up fails 'lab up' cleanly"

mh_lab_up 2

# One URI per host, each naming its own socket below its own host directory.
for i in 1 2; do
    var=MH_URI$i
    [ "${!var}" = "qemu+unix:///session?socket=$MH_LAB_DIR/host$i/run/libvirt/libvirt-sock" ] ||
        mh_fail "unexpected URI for host $i: ${!var}"
    [ -S "$MH_LAB_DIR/host$i/run/libvirt/libvirt-sock" ] || mh_fail "host $i has no socket"
done

status=$("$VIRT_MH" lab status --dir "$MH_LAB_DIR") || mh_fail "lab status failed"
echo "$status"
pids=()
for i in 1 2; do
    line=$(grep "^host$i " <<<"$status") || mh_fail "lab status does not list host $i"
    [[ "$line" == *" alive "* ]] || mh_fail "host $i not alive: $line"
    pid=$(sed -n 's/.* pid \([0-9]*\) .*/\1/p' <<<"$line")
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || mh_fail "host $i: no live pid in '$line'"
    pids+=("$pid")
done
[ "${pids[0]}" != "${pids[1]}" ] || mh_fail "both hosts report the same daemon pid"

# The daemons: libvirtd, unprivileged (as root: the mh-lab user), with their
# XDG directories inside the lab, and no file open under /run/libvirt or
# /etc/libvirt (the machine's own libvirt).
expect_user=$(id -un)
[ "$(id -u)" = 0 ] && expect_user=mh-lab
for i in 1 2; do
    pid=${pids[$((i - 1))]}
    [ "$(ps -o comm= -p "$pid")" = libvirtd ] || mh_fail "pid $pid is not libvirtd"
    user=$(ps -o user= -p "$pid" | tr -d ' ')
    [ "$user" = "$expect_user" ] || mh_fail "host $i libvirtd runs as '$user', expected '$expect_user'"
    tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "XDG_RUNTIME_DIR=$MH_LAB_DIR/host$i/run" ||
        mh_fail "host $i libvirtd has no XDG_RUNTIME_DIR inside the lab"
    if ls -l "/proc/$pid/fd" 2>/dev/null | grep -E -- '-> (/run/libvirt|/var/run/libvirt|/etc/libvirt)'; then
        mh_fail "host $i libvirtd holds files of the machine's own libvirt"
    fi
done
mh_log "ok: two daemons (pids ${pids[*]}) running as $expect_user inside $MH_LAB_DIR"

# Distinct host UUIDs, as libvirt sees them, matching what the lab recorded.
u1=$(mh_virsh 1 capabilities | sed -n '/<host>/,/<\/host>/s/.*<uuid>\(.*\)<\/uuid>.*/\1/p' | head -n 1)
u2=$(mh_virsh 2 capabilities | sed -n '/<host>/,/<\/host>/s/.*<uuid>\(.*\)<\/uuid>.*/\1/p' | head -n 1)
[ -n "$u1" ] && [ -n "$u2" ] || mh_fail "no host UUID in virsh capabilities"
[ "$u1" != "$u2" ] || mh_fail "both hosts have host UUID $u1"
grep -q "uuid=$u1" "$MH_LAB_DIR/lab.ini" && grep -q "uuid=$u2" "$MH_LAB_DIR/lab.ini" ||
    mh_fail "host UUIDs $u1/$u2 are not the ones the lab configured"
if s1=$(mh_virsh 1 sysinfo 2>/dev/null) && s2=$(mh_virsh 2 sysinfo 2>/dev/null); then
    mh_log "virsh sysinfo answers on both hosts (same machine, so same SMBIOS data: expected)"
fi
mh_log "ok: host UUIDs $u1 and $u2"

# Migration port blocks must not overlap.
p1=$(sed -n 's/^migration_port_max = //p' "$MH_LAB_DIR/host1/config/libvirt/qemu.conf")
p2=$(sed -n 's/^migration_port_min = //p' "$MH_LAB_DIR/host2/config/libvirt/qemu.conf")
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" -lt "$p2" ] ||
    mh_fail "migration port ranges overlap (host1 max '$p1', host2 min '$p2')"
[ -d "$MH_LAB_DIR/host1/mh-platform" ] && [ -d "$MH_LAB_DIR/host2/mh-platform" ] ||
    mh_fail "no per-host mh-platform directories"

# A second lab in the same directory is refused while this one runs.
if "$VIRT_MH" lab up --hosts 1 --dir "$MH_LAB_DIR" 2>"$MH_LAB_DIR/second.err"; then
    mh_fail "a second 'lab up' in a running lab directory succeeded"
fi
grep -q "already running" "$MH_LAB_DIR/second.err" ||
    mh_fail "unexpected error for a second lab up: $(cat "$MH_LAB_DIR/second.err")"
kill -0 "${pids[0]}" "${pids[1]}" || mh_fail "the refused 'lab up' stopped the running hosts"
mh_log "ok: a second 'lab up' in the same directory is refused"

# A domain on each host, visible in lab status.
for i in 1 2; do
    mh_domain_xml "$MH_LAB_DIR/basic$i.xml" "basic$i" 64 "$MH_QEMU_SYSTEM" --machine pc
    mh_virsh "$i" create "$MH_LAB_DIR/basic$i.xml" >/dev/null || mh_fail "cannot start a domain on host $i"
done
status=$("$VIRT_MH" lab status --dir "$MH_LAB_DIR") || mh_fail "lab status failed"
grep -q "^  domain basic1 id [0-9]* running" <<<"$status" || mh_fail "status misses basic1: $status"
grep -q "^  domain basic2 id [0-9]* running" <<<"$status" || mh_fail "status misses basic2: $status"
before=$(mh_lab_processes)
echo "$before"
[ "$(grep -c qemu-system <<<"$before")" = 2 ] || mh_fail "expected 2 QEMU processes in the lab"
mh_log "ok: lab status lists the domains; $(wc -l <<<"$before") lab processes"

# Down: nothing of the lab survives.
mh_lab_down
left=$(mh_lab_processes)
[ -z "$left" ] || mh_fail "processes left after lab down: $left"
for pid in "${pids[@]}"; do
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [ -z "$state" ] || [ "$state" = Z ] || mh_fail "libvirtd $pid still running after lab down"
done
status=$("$VIRT_MH" lab status --dir "$MH_LAB_DIR") || mh_fail "lab status after down failed"
[ "$(grep -c ' dead ' <<<"$status")" = 2 ] || mh_fail "hosts not reported dead after down: $status"
mh_log "ok: lab down left no processes"

# A lab whose directory was deleted while it ran (another cleanup got to
# it first): lab down finds its processes by their HOME and stops them.
orphan=$(mktemp -d /tmp/mhlab.XXXXXX)
mh_register_path "$orphan"
"$VIRT_MH" lab up --hosts 1 --dir "$orphan" >/dev/null 2>"$MH_LAB_DIR/orphan-up.err" ||
    mh_fail "lab up in $orphan failed: $(cat "$MH_LAB_DIR/orphan-up.err")"
mh_on_exit "'$VIRT_MH' lab down --dir '$orphan' >/dev/null 2>&1; rm -rf '$orphan'"
orphan_procs() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "HOME=$orphan/host1/home" && echo "${p#/proc/}"
    done
    true
}
[ -n "$(orphan_procs)" ] || mh_fail "no process of the lab in $orphan"
rm -rf "$orphan"
out=$("$VIRT_MH" lab down --dir "$orphan" 2>&1) || mh_fail "lab down of a deleted lab failed: $out"
grep -q "killed [1-9][0-9]* process(es) whose HOME was under '$orphan'" <<<"$out" ||
    mh_fail "unexpected lab down output: $out"
orphans_gone() { [ -z "$(orphan_procs)" ]; }
mh_wait_for "the deleted lab's processes gone" 10 orphans_gone
if out=$("$VIRT_MH" lab down --dir "$orphan" 2>&1); then
    mh_fail "lab down of a deleted lab with nothing left succeeded: $out"
fi
mh_log "ok: a deleted lab's processes were found by HOME and stopped ($out)"
echo "PASS: lab up/status/down with 2 hosts"
