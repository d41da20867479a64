#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test guest catches a migration that misses dirtied pages.
#
# Guest RAM is moved the way qemu-mh moves it: outside QEMU's migration
# stream.  Both QEMUs have their RAM in a shared file and the
# 'x-ignore-shared' capability, so QEMU's own migration carries device state
# only; the test copies RAM between the files itself:
#   1. a pre-copy snapshot while the source guest runs (and keeps dirtying),
#   2. after 'stop', every page that changed since the snapshot.
# Migration A -> B copies all changed pages: the guest must go on with no
# integrity error.  Migration B -> C deliberately leaves 16 changed data pages
# stale, as a dirty-tracking bug would: the guest must report INTEGRITY
# FAILURE for those pages (and only those), with found-gen < expected-gen.
set -euo pipefail

src=${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MH_BUILD_DIR:-$src/build}
source "$src/tests/e2e/lib.sh"
efi=$build/tests/guest/mh-guest.efi
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
ram_mib=128
skip_pages=16

skip() { echo "SKIP: $*"; exit 77; }
fail() {
    echo "FAIL: $*"
    for l in "$dir"/*.log; do
        [ -f "$l" ] && { echo "--- $l"; tr -d '\r' <"$l" | tail -15; }
    done
    exit 1
}
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -f "$ovmf_code" ] && [ -f "$ovmf_vars" ] || skip "OVMF 4M images not installed ($ovmf_code)"
[ -f "$efi" ] || skip "test guest not built ($efi): install gnu-efi and rebuild"

dir=$(mktemp -d /tmp/mh-test-guest-missed.XXXXXX)
mh_register_path "$dir"
declare -A pids=()
cleanup() {
    local n
    for n in "${!pids[@]}"; do
        kill "${pids[$n]}" 2>/dev/null || true
        wait "${pids[$n]}" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT

marker="MH-MARKER-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
append="mem=64 rate=2000 interval=500 seed=11 marker=$marker"

# start_qemu NAME [incoming]: QEMU NAME with RAM in $dir/NAME.ram.
start_qemu() {
    local name=$1 extra=()
    [ "${2:-}" = incoming ] && extra=(-incoming defer)
    cp "$ovmf_vars" "$dir/$name.vars"
    : >"$dir/$name.log"
    qemu-system-x86_64 \
        -machine q35,memory-backend=ram -accel tcg -m ${ram_mib}M \
        -object memory-backend-file,id=ram,mem-path="$dir/$name.ram",share=on,size=${ram_mib}M \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
        -drive if=pflash,format=raw,unit=1,file="$dir/$name.vars" \
        -kernel "$efi" -append "$append" \
        -nographic -vga none -serial file:"$dir/$name.log" -monitor none \
        -qmp unix:"$dir/$name.qmp",server=on,wait=off \
        -net none -no-reboot "${extra[@]}" </dev/null >"$dir/$name.out" 2>&1 &
    pids[$name]=$!
    local _
    for _ in $(seq 1 100); do
        [ -S "$dir/$name.qmp" ] && return 0
        sleep 0.1
    done
    fail "QEMU $name did not open its QMP socket: $(cat "$dir/$name.out")"
}

stop_qemu() {
    kill "${pids[$1]}" 2>/dev/null || true
    wait "${pids[$1]}" 2>/dev/null || true
    unset "pids[$1]"
}

# qmp NAME COMMAND [ARGUMENTS-JSON]: print the "return" value as JSON.
qmp() {
    python3 - "$dir/$1.qmp" "$2" "${3:-{\}}" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
def call(cmd, args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "error" in m:
            sys.exit("QMP %s: %s" % (cmd, m["error"]["desc"]))
        if "return" in m:
            return m["return"]
f.readline()
call("qmp_capabilities", {})
print(json.dumps(call(sys.argv[2], json.loads(sys.argv[3]))))
EOF
}

# serial_wait NAME REGEX SECONDS
serial_wait() {
    local deadline=$((SECONDS + $3))
    while [ $SECONDS -lt $deadline ]; do
        tr -d '\r' <"$dir/$1.log" | grep -Eq "$2" && return 0
        sleep 0.2
    done
    fail "QEMU $1: no '$2' on the serial console within $3 s"
}

last_pass() { tr -d '\r' <"$dir/$1.log" | sed -n 's/^mh-guest: pass \([0-9]*\) .*/\1/p' | tail -n 1; }

# copy_ram FROM TO MODE: MODE "all" copies the whole file (the pre-copy
# snapshot), "changed" copies the pages that differ, "changed-but-N" leaves
# N changed data pages (marker at page offset 4032) stale and prints their
# addresses.
copy_ram() {
    python3 - "$dir/$1.ram" "$dir/$2.ram" "$3" "$marker" <<'EOF'
import sys
src_path, dst_path, mode, marker = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
src = open(src_path, "rb").read()
if mode == "all":
    with open(dst_path, "r+b") as f:
        f.write(src)
    sys.exit(0)
leave = int(mode.split("-")[-1]) if mode.startswith("changed-but-") else 0
dst = open(dst_path, "rb").read()
stale, copied = [], 0
with open(dst_path, "r+b") as f:
    for off in range(0, len(src), 4096):
        page = src[off:off + 4096]
        if page == dst[off:off + 4096]:
            continue
        if len(stale) < leave and page[4032:4032 + len(marker)] == marker:
            stale.append(off)
            continue
        f.seek(off)
        f.write(page)
        copied += 1
sys.stderr.write("copied %d changed pages, left %d stale\n" % (copied, len(stale)))
print(" ".join("0x%x" % g for g in stale))
EOF
}

# migrate FROM TO MODE: move the running guest from QEMU FROM to a new QEMU
# TO, RAM through copy_ram, device state through QEMU migration.
migrate() {
    local from=$1 to=$2 mode=$3 port out st
    start_qemu "$to" incoming
    qmp "$from" migrate-set-capabilities '{"capabilities":[{"capability":"x-ignore-shared","state":true}]}' >/dev/null ||
        fail "x-ignore-shared on $from"
    qmp "$to" migrate-set-capabilities '{"capabilities":[{"capability":"x-ignore-shared","state":true}]}' >/dev/null ||
        fail "x-ignore-shared on $to"
    copy_ram "$from" "$to" all || fail "pre-copy snapshot $from -> $to"
    sleep 1.5     # the guest dirties ~3000 pages meanwhile
    qmp "$from" stop >/dev/null || fail "stop $from"
    stale=$(copy_ram "$from" "$to" "$mode") || fail "copying changed pages $from -> $to"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    qmp "$to" migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null || fail "migrate-incoming on $to"
    qmp "$from" migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null || fail "migrate on $from"
    for _ in $(seq 1 150); do
        out=$(qmp "$from" query-migrate) || fail "query-migrate on $from"
        st=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("status",""))' "$out")
        [ "$st" = completed ] && break
        [ "$st" = failed ] && fail "migration $from -> $to failed: $out"
        sleep 0.2
    done
    [ "$st" = completed ] || fail "migration $from -> $to did not complete: $out"
    log "migrated $from -> $to: QEMU's stream carried $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ram"]["transferred"])' "$out") bytes (guest RAM skipped: x-ignore-shared)"
    # The source was stopped before the migration, so the target waits too.
    qmp "$to" cont >/dev/null || fail "cont on $to"
    stop_qemu "$from"
}

start_qemu a
serial_wait a '^mh-guest: pass 2 ' 240
log "guest ready on a: $(tr -d '\r' <"$dir/a.log" | grep '^mh-guest: ready ')"

# A -> B, every changed page copied: no integrity error on B.
migrate a b changed
[ -z "$stale" ] || fail "copy_ram left pages stale in mode 'changed'"
serial_wait b '^mh-guest: pass [0-9]+ ' 60
p=$(last_pass b)
serial_wait b "^mh-guest: pass $((p + 2)) " 60
tr -d '\r' <"$dir/b.log" | grep -q 'INTEGRITY FAILURE' &&
    fail "integrity failure after a complete RAM copy: $(tr -d '\r' <"$dir/b.log" | grep INTEGRITY | head -3)"
log "ok: b: $(tr -d '\r' <"$dir/b.log" | grep "^mh-guest: pass $((p + 2)) ")"

# B -> C, 16 changed data pages left stale.
migrate b c "changed-but-$skip_pages"
n_stale=$(wc -w <<<"$stale")
[ "$n_stale" = "$skip_pages" ] || fail "expected $skip_pages changed data pages to leave stale, found $n_stale"
log "left stale on c: $stale"
# The pass that found the stale pages, then one more, so every report is in.
serial_wait c '^mh-guest: pass [0-9]+ .* pass-errors=[1-9]' 60
p=$(last_pass c)
serial_wait c "^mh-guest: pass $((p + 1)) " 60
failures=$(tr -d '\r' <"$dir/c.log" | grep '^mh-guest: INTEGRITY FAILURE ')
echo "$failures"
nfail=0
while read -r l; do
    g=$(sed -n 's/.* gpa=\(0x[0-9a-fA-F]*\) .*/\1/p' <<<"$l")
    [[ " $stale " == *" $(printf '0x%x' $((g))) "* ]] || fail "failure for a page that was copied: $l"
    exp=$(sed -n 's/.* expected-gen=\([0-9]*\) .*/\1/p' <<<"$l")
    found=$(sed -n 's/.* found-gen=\([0-9]*\) .*/\1/p' <<<"$l")
    [ "$found" -lt "$exp" ] || fail "a stale page must hold an older generation: $l"
    nfail=$((nfail + 1))
done <<<"$failures"
# A stale page that the guest rewrites before verifying it heals silently;
# with 16 pages out of 16384 at 2000 rewrites/s nearly all are caught.
[ "$nfail" -ge $((skip_pages / 2)) ] || fail "only $nfail of $skip_pages stale pages reported"
log "ok: c reported $nfail of $skip_pages stale pages, each with found-gen < expected-gen, no others"
echo "PASS: complete RAM copy: no error; $skip_pages missed dirty pages: $nfail reported"
