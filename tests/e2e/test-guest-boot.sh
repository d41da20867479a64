#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test guest (docs/test-guest.md) boots under OVMF + QEMU TCG, reports
# 'ready' and verify passes with no error, its status block reads back
# through QMP, and a page corrupted from outside the guest (through the
# file that backs guest RAM) is reported as an INTEGRITY FAILURE naming that
# page, while untouched pages are not: the integrity check works.
set -euo pipefail

src=${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MH_BUILD_DIR:-$src/build}
source "$src/tests/e2e/lib.sh"
efi=$build/tests/guest/mh-guest.efi
status_sh=$src/tests/guest/guest-status.sh
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
ram_mib=128
guest_mib=64
rate=500
marker="MH-MARKER-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "${log:-}" ] && { echo "--- serial log"; tr -d '\r' <"$log" | tail -40; }; exit 1; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -f "$ovmf_code" ] && [ -f "$ovmf_vars" ] || skip "OVMF 4M images not installed ($ovmf_code)"
[ -f "$efi" ] || skip "test guest not built ($efi): install gnu-efi and rebuild"

dir=$(mktemp -d /tmp/mh-test-guest-boot.XXXXXX)
mh_register_path "$dir"
log=$dir/serial.log
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

cp "$ovmf_vars" "$dir/vars.fd"
: >"$log"

# Guest RAM in a shared file: below 4 GiB, q35 maps GPA N to file offset N,
# so the test can reach guest pages from outside, as a broken migration would.
start=$(date +%s%N)
qemu-system-x86_64 \
    -machine q35,memory-backend=ram -accel tcg -m ${ram_mib}M \
    -object memory-backend-file,id=ram,mem-path="$dir/ram",share=on,size=${ram_mib}M \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
    -drive if=pflash,format=raw,unit=1,file="$dir/vars.fd" \
    -kernel "$efi" -append "mem=$guest_mib rate=$rate interval=1000 seed=7 marker=$marker" \
    -nographic -serial file:"$log" -monitor none \
    -qmp unix:"$dir/qmp.sock",server=on,wait=off \
    -net none -no-reboot </dev/null >"$dir/qemu.out" 2>&1 &
qemu_pid=$!

# wait_for REGEX SECONDS: the serial log (CRs stripped) matches REGEX
wait_for() {
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        tr -d '\r' <"$log" | grep -Eq "$1" && return 0
        kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited: $(cat "$dir/qemu.out")"
        sleep 0.2
    done
    return 1
}

wait_for '^mh-guest: ready ' 240 || fail "no 'ready' line within 240 s"
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ready=$(tr -d '\r' <"$log" | grep -E '^mh-guest: ready ')
echo "ready after ${ready_ms} ms (QEMU start to 'ready', TCG, ${ram_mib} MiB RAM, mem=$guest_mib): $ready"
pages=$((guest_mib * 256))
[[ "$ready" == *"pages=$pages "* ]] || fail "ready line does not say pages=$pages"
[[ "$ready" == *"marker=$marker"* ]] || fail "ready line does not carry the marker"

wait_for '^mh-guest: pass 2 ' 120 || fail "no second verify pass within 120 s"
for k in 1 2; do
    line=$(tr -d '\r' <"$log" | grep -E "^mh-guest: pass $k ")
    [[ "$line" == *"verified=$pages "* ]] || fail "pass $k did not verify $pages pages: $line"
    [[ "$line" == *" errors=0 "* ]] || fail "pass $k reported errors: $line"
    echo "ok: $line"
done
tr -d '\r' <"$log" | grep -q 'INTEGRITY FAILURE' && fail "integrity failure without any corruption"

# The status block, through QMP only.
st1=$(bash "$status_sh" --qmp "$dir/qmp.sock") || fail "guest-status.sh failed: $st1"
field() { sed -n "s/^$1=//p" <<<"$2"; }
[ "$(field state "$st1")" = running ] || fail "status state is not running: $st1"
[ "$(field pages "$st1")" = "$pages" ] || fail "status pages != $pages: $st1"
[ "$(field errors "$st1")" = 0 ] || fail "status errors != 0: $st1"
[ "$(field passes "$st1")" -ge 2 ] || fail "status passes < 2: $st1"
sleep 2
st2=$(bash "$status_sh" --qmp "$dir/qmp.sock") || fail "guest-status.sh failed: $st2"
d1=$(field dirtied "$st1"); d2=$(field dirtied "$st2")
[ "$d2" -gt "$d1" ] || fail "dirty counter did not move ($d1 -> $d2)"
echo "ok: status block via QMP: $(tr '\n' ' ' <<<"$st2")"
echo "ok: dirtied $((d2 - d1)) pages in ~2 s (rate=$rate)"
st=$(bash "$status_sh" --wait-passes 1 --timeout 60 --qmp "$dir/qmp.sock") ||
    fail "guest-status.sh --wait-passes 1 failed on a clean guest: $st"
echo "ok: guest-status.sh --wait-passes 1: passes $(field passes "$st2") -> $(field passes "$st")"

# The marker is in guest memory many times over (one copy per data page),
# for the confidentiality checks of later tests.
copies=$(python3 - "$dir/ram" "$marker" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
print(data.count(sys.argv[2].encode()))
EOF
)
[ "$copies" -ge "$pages" ] || fail "marker found $copies times in guest RAM, expected >= $pages"
echo "ok: marker found $copies times in guest RAM"

# Corrupt 8 data pages (found by their trailer: marker at page offset 4032)
# by flipping one word each in their pseudo-random part.  A page the guest
# happens to rewrite before its next verify hides its corruption, hence
# several pages; every reported page must be one of them.
corrupted=$(python3 - "$dir/ram" "$marker" <<'EOF'
import os, sys
path, marker = sys.argv[1], sys.argv[2].encode()
data = open(path, "rb").read()
found, pos = [], data.find(marker)
while pos >= 0:
    if pos % 4096 == 4032:
        found.append(pos - 4032)
    pos = data.find(marker, pos + 1)
step = max(1, len(found) // 8)
victims = found[::step][:8]
with open(path, "r+b") as f:
    for gpa in victims:
        f.seek(gpa + 0x100)
        word = f.read(8)
        f.seek(gpa + 0x100)
        f.write(bytes(b ^ 0xff for b in word))
        f.flush()
        os.fsync(f.fileno())
print(" ".join("0x%x" % g for g in victims))
EOF
)
echo "corrupted pages at gpa: $corrupted"
[ -n "$corrupted" ] || fail "found no data page to corrupt"

wait_for 'INTEGRITY FAILURE' 60 || fail "the guest did not report the corrupted pages within 60 s"
st3=$(bash "$status_sh" --qmp "$dir/qmp.sock") || fail "guest-status.sh failed: $st3"
[ "$(field errors "$st3")" -ge 1 ] || fail "status block does not count the failure: $st3"
rc=0
bash "$status_sh" --wait-passes 1 --timeout 60 --qmp "$dir/qmp.sock" >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "guest-status.sh --wait-passes must exit 3 once errors > 0, exited $rc"

# Reported pages are repaired: two passes later everything is clean again.
p3=$(field passes "$st3")
wait_for "^mh-guest: pass $((p3 + 2)) " 60 || fail "no verify pass after the failure"
line=$(tr -d '\r' <"$log" | grep -E "^mh-guest: pass $((p3 + 2)) ")
[[ "$line" == *"pass-errors=0 "* ]] || fail "errors persist after repair: $line"
echo "ok: $line"

failures=$(tr -d '\r' <"$log" | grep -E '^mh-guest: INTEGRITY FAILURE ')
echo "$failures"
nfail=0
while read -r l; do
    g=$(sed -n 's/.* gpa=\(0x[0-9a-fA-F]*\) .*/\1/p' <<<"$l")
    [[ " $corrupted " == *" $(printf '0x%x' $((g))) "* ]] ||
        fail "failure reported for a page that was not corrupted: $l"
    [[ "$l" == *"offset=0x100"* ]] || fail "failure not at the corrupted offset: $l"
    nfail=$((nfail + 1))
done <<<"$failures"

st4=$(bash "$status_sh" --qmp "$dir/qmp.sock") || fail "guest-status.sh failed: $st4"
e4=$(field errors "$st4")
[ "$e4" -eq "$nfail" ] || fail "status block counts $e4 errors, serial log shows $nfail"
g4=$(field fail_gpa "$st4")
[[ " $corrupted " == *" $g4 "* ]] || fail "status fail_gpa $g4 is not a corrupted page"
echo "ok: $nfail of 8 corrupted pages reported (the others were rewritten by the workload first); status block: errors=$e4 fail_gpa=$g4"
echo "PASS: guest boots in ${ready_ms} ms, verifies, and detects outside corruption"
