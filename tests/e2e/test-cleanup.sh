#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A test that fails leaves nothing behind. A child test, run the way meson
# runs every e2e test (through tests/run-isolated.py), brings up a lab host
# with a running domain, starts a daemonized qemu-mh probe (it leaves the
# process group, as libvirt's probe does), a detached process in a session
# of its own and a scratch directory, and then fails on purpose; in a second
# run it is killed the way meson's timeout kills a test (SIGTERM to the
# process group, SIGKILL half a second later). After each: no process of
# the child is alive, and neither its lab directory, its scratch directory
# nor its run directory exists.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

RUN_ISOLATED=$MH_SOURCE_DIR/tests/run-isolated.py
mh_tmpdir W mh-cleanup
chmod 755 "$W"

# The child: $1 = fail | hang, $2 = the file it reports what it made to.
cat >"$W/child.sh" <<'EOF'
set -euo pipefail
source "$MH_SOURCE_DIR/tests/e2e/lib.sh"
mode=$1 state=$2
mh_lab_up 1
mh_domain_xml "$MH_LAB_DIR/dom.xml" leftover 64 "$MH_QEMU_SYSTEM"
mh_virsh 1 create "$MH_LAB_DIR/dom.xml" >/dev/null
mh_wait_for "leftover running" 30 mh_domstate_is 1 leftover running
qemu=$(pgrep -f -- "^$MH_QEMU_SYSTEM -name guest=leftover,")
libvirtd=$(mh_lab_processes | awk '$2 ~ /libvirtd$/ { print $1; exit }')
[ -n "$libvirtd" ] || mh_fail "no libvirtd among the lab's processes: $(mh_lab_processes)"
probe=
if [ -n "$MH_QEMU_MH" ]; then
    mkdir -p "$MH_LAB_DIR/probe"
    "$MH_QEMU_MH" -S -no-user-config -nodefaults -nographic -machine none,accel=kvm:tcg \
        -qmp "unix:$MH_LAB_DIR/probe/qmp.monitor,server=on,wait=off" \
        -pidfile "$MH_LAB_DIR/probe/qmp.pid" -daemonize >/dev/null 2>&1
    probe=$(cat "$MH_LAB_DIR/probe/qmp.pid")
fi
setsid sleep 3600 </dev/null >/dev/null 2>&1 &
detached=$!
mh_tmpdir scratch mh-cleanup-s
printf 'run=%s\nlab=%s\nscratch=%s\npids=%s\n' "$MH_TEST_RUN" "$MH_LAB_DIR" "$scratch" \
    "$qemu $libvirtd $probe $detached" >"$state.tmp"
mv "$state.tmp" "$state"
[ "$mode" = hang ] && sleep 3600
mh_fail "on purpose"
EOF

# field NAME FILE: a line NAME=VALUE of the child's report
field() { sed -n "s/^$1=//p" "$2"; }

# check_nothing_left WHAT STATE: the child's processes and directories are gone
check_nothing_left() {
    local what=$1 state=$2 run lab scratch pid p
    run=$(field run "$state") lab=$(field lab "$state") scratch=$(field scratch "$state")
    for pid in $(field pids "$state"); do
        if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
            mh_fail "$what: process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")) is still alive"
        fi
    done
    p=$(pgrep -af -- "$lab" || true)
    [ -z "$p" ] || mh_fail "$what: processes that name the lab directory are alive: $p"
    for p in "$run" "$lab" "$scratch"; do
        [ ! -e "$p" ] || mh_fail "$what: $p is left behind"
    done
    mh_log "$what: $(wc -w <<<"$(field pids "$state")") processes, lab, scratch and run directories gone"
}

# adopt STATE: the child's paths are ours too, should its cleanup fail
adopt() {
    local p
    for p in "$(field run "$1")" "$(field lab "$1")" "$(field scratch "$1")"; do
        mh_register_path "$p"
    done
}

# --- a test that fails
rc=0
out=$(python3 "$RUN_ISOLATED" bash "$W/child.sh" fail "$W/fail.state" 2>&1) || rc=$?
[ -s "$W/fail.state" ] || mh_fail "the child did not get as far as failing: $out"
adopt "$W/fail.state"
[ "$rc" = 1 ] || mh_fail "the failing child exited $rc: $out"
grep -q "^FAIL: on purpose" <<<"$out" || mh_fail "the child's FAIL line is missing: $out"
check_nothing_left "failed test" "$W/fail.state"

# --- a test killed by meson's timeout
setsid python3 "$RUN_ISOLATED" bash "$W/child.sh" hang "$W/hang.state" >"$W/hang.out" 2>&1 &
leader=$!
mh_wait_for "the hanging child's report" 120 test -s "$W/hang.state"
adopt "$W/hang.state"
kill -TERM -- "-$leader" 2>/dev/null || true
sleep 0.5
kill -KILL -- "-$leader" 2>/dev/null || true
wait "$leader" 2>/dev/null || true
gone() {
    local run
    run=$(field run "$W/hang.state")
    [ ! -e "$run" ]
}
mh_wait_for "the janitor to finish" 60 gone
check_nothing_left "timed-out test" "$W/hang.state"
echo "PASS"
