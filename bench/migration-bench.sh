#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Live-migration benchmark (issue 6): the same test guest migrated between
# the same two lab hosts
#   (a) "plain": a non-SEV domain, emulator /usr/bin/qemu-system-x86_64,
#       real QEMU migration (the baseline);
#   (b) "mh":    an SEV domain with the mirror helper, emulator qemu-mh,
#       every page sealed by the MH (keys injected by the guest owner on
#       both sides, as tests/e2e/test-migrate-sev.sh does);
# with `virsh migrate --live --p2p --persistent --undefinesource` over
# tcp://127.0.0.1:PORT.  See bench/README.md ("Live migration") for what is
# measured and how.
#
#   bench/migration-bench.sh [--memory MiB] [--rate PAGES_PER_S] [--runs N]
#                            [--guest-mem MiB|all] [--mh-vcpus N]
#                            [--build DIR] [--only plain|mh]
#                            [--plain-emulator qemu|qemu-mh]
#                            [--busy-guest] [--interval MS]
#                            [--cipher aes-256-gcm|aes-256-ocb|chacha20-poly1305]
#
# The guest dirties --rate pages/s and verifies all its pages every
# --interval ms (default 1000); between those it halts like an idle
# guest. --busy-guest makes it spin instead, so that its TCG vCPU takes a
# whole host CPU for the whole run (bench/RESULTS.md has both).
# --cipher is the MH's page AEAD (<mh:transport cipher>, default aes-256-gcm).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$BENCH_DIR/.." && pwd)

memory=1024
rate=5000
runs=1
guest_mem=
mh_vcpus=2
cipher=aes-256-gcm
build=${MH_BUILD_DIR:-$SRC_DIR/build}
only=
plain_emu=qemu
halt=1
interval=1000

usage() {
    sed -n '2,24s/^# \{0,1\}//p' "$0" >&2
    exit 1
}
die() {
    echo "error: $*" >&2
    exit 1
}
while [ $# -gt 0 ]; do
    case $1 in
        --memory) memory=${2:-}; shift 2 ;;
        --rate) rate=${2:-}; shift 2 ;;
        --runs) runs=${2:-}; shift 2 ;;
        --guest-mem) guest_mem=${2:-}; shift 2 ;;
        --mh-vcpus) mh_vcpus=${2:-}; shift 2 ;;
        --build) build=${2:-}; shift 2 ;;
        --only) only=${2:-}; shift 2 ;;
        --plain-emulator) plain_emu=${2:-}; shift 2 ;;
        --busy-guest) halt=0; shift ;;
        --interval) interval=${2:-}; shift 2 ;;
        --cipher) cipher=${2:-}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ "$memory" =~ ^[0-9]+$ ]] && [ "$memory" -ge 128 ] || die "--memory '$memory': a size in MiB, at least 128"
[[ "$rate" =~ ^[0-9]+$ ]] || die "--rate '$rate': pages per second, a number"
[[ "$interval" =~ ^[0-9]+$ ]] && [ "$interval" -ge 100 ] || die "--interval '$interval': milliseconds, at least 100"
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || die "--runs '$runs': at least 1"
[[ "$mh_vcpus" =~ ^[0-9]+$ ]] && [ "$mh_vcpus" -ge 1 ] || die "--mh-vcpus '$mh_vcpus': at least 1"
case $cipher in aes-256-gcm|aes-256-ocb|chacha20-poly1305) ;; *) die "--cipher '$cipher': aes-256-gcm, aes-256-ocb or chacha20-poly1305" ;; esac
case $only in ''|plain|mh) ;; *) die "--only '$only': plain or mh" ;; esac
case $plain_emu in qemu|qemu-mh) ;; *) die "--plain-emulator '$plain_emu': qemu or qemu-mh" ;; esac
# The firmware keeps about 54 MiB of a guest for itself (docs/test-guest.md:
# a 1 GiB guest fits mem=900, mem=all gives 970): 1024 -> 900.
[ -n "$guest_mem" ] || guest_mem=$((memory - 124))
[[ "$guest_mem" =~ ^([0-9]+|all)$ ]] || die "--guest-mem '$guest_mem': MiB or 'all'"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory '$build' not found"
[ -x "$build/tools/virt-mh/virt-mh" ] || die "virt-mh not built in $build (meson compile -C $build)"

# test-migrate-common.sh (and lib.sh through it) reads these.
export MH_SOURCE_DIR=$SRC_DIR MH_BUILD_DIR=$build
export MIG_MEM=$memory MIG_GUEST_MEM=$guest_mem MIG_RATE=$rate MIG_MH_VCPUS=$mh_vcpus MIG_MH_CIPHER=$cipher
# shellcheck source=../tests/e2e/test-migrate-common.sh
source "$SRC_DIR/tests/e2e/test-migrate-common.sh"

RELAY=$BENCH_DIR/migration-relay.sh
CPUSAMPLER=$BENCH_DIR/migration-cpu.sh
GUEST_STATUS=$SRC_DIR/tests/guest/guest-status.sh
LISTEN=127.0.0.2        # destination QEMU; the relay listens on 127.0.0.1

now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# to_mib "107.498 MiB": libvirt's sizes in MiB
to_mib() {
    awk '{ v = $1; u = $2
           if (u == "B") v /= 1048576; else if (u == "KiB") v /= 1024;
           else if (u == "GiB") v *= 1024; else if (u == "TiB") v *= 1048576;
           printf "%.1f", v }' <<<"$1"
}

# jobfield INFO NAME: the value of "NAME: value" in virsh domjobinfo output
jobfield() { sed -n "s/^$2: *//p" <<<"$1" | sed 's/ *$//'; }

echo "# migration benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -r)"
echo "# software: $(virsh --version 2>/dev/null | sed 's/^/libvirt /'), $(/usr/bin/qemu-system-x86_64 --version | head -1)"
echo "# guest: $memory MiB, 1 vCPU (TCG), OVMF, test guest mem=$guest_mem rate=$rate pages/s interval=$interval ms halt=$halt; runs: $runs"
echo "# MH: $mh_vcpus vCPUs, cipher $cipher"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs, shared)"

# --- lab, owner material (the MH part needs qemu-mh)
mh_reason=
if [ "$only" = plain ]; then
    mh_reason="--only plain"
elif [ ! -x "$QEMU_MH" ]; then
    mh_reason="qemu-mh not built ($QEMU_MH)"
fi
if [ -z "$mh_reason" ]; then
    mig_setup 2             # lab up, qemu-mh check, owner key and sessions
else
    MIG_EFI=$MH_BUILD_DIR/tests/guest/mh-guest.efi
    [ -f "$MIG_EFI" ] || die "test guest not built ($MIG_EFI): install gnu-efi and rebuild"
    [ -f "$MH_OVMF_CODE" ] || die "OVMF not installed ($MH_OVMF_CODE)"
    mh_lab_up 2
    MIG_W=$MH_LAB_DIR/mig
    mkdir -p "$MIG_W"
    chmod 777 "$MIG_W"
    MIG_GUEST_EFI=$(mh_lab_copy "$MIG_EFI")
    MIG_MARKER="MH-MARKER-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
fi
RELAY_PIDS=()
# The baseline's emulator: the real QEMU, or qemu-mh passing a non-SEV
# domain's migration through unchanged (shows what the proxy alone costs).
PLAIN_EMU=$MH_QEMU_SYSTEM
if [ "$plain_emu" = qemu-mh ]; then
    [ -n "$MH_QEMU_MH" ] || die "--plain-emulator qemu-mh: qemu-mh not built ($QEMU_MH)"
    PLAIN_EMU=$MH_QEMU_MH
fi
# A host probes an emulator's capabilities the first time it meets it
# (about 2 s under TCG): probe the plain emulator on both hosts now, so the
# first plain migration's Prepare does not pay for it (mig_setup probed
# qemu-mh on both hosts already).
for h in 1 2; do
    mh_virsh "$h" domcapabilities --emulatorbin "$PLAIN_EMU" --virttype qemu >/dev/null ||
        mh_fail "domcapabilities for $PLAIN_EMU on host $h failed"
    [ -z "$mh_reason" ] && { mh_virsh "$h" domcapabilities --emulatorbin "$MH_QEMU_MH" --virttype qemu >/dev/null ||
        mh_fail "domcapabilities for $MH_QEMU_MH on host $h failed"; }
done
mh_on_exit 'for p in "${RELAY_PIDS[@]}"; do kill "$p" 2>/dev/null; done'

PLAIN=bench-plain
MH=bench-mh
declare -A HOST                 # domain -> host it runs on

# --- the two guests
start_plain() {
    mh_domain_xml "$MIG_W/$PLAIN.xml" "$PLAIN" "$memory" "$PLAIN_EMU" --loader ovmf \
        --kernel "$MIG_GUEST_EFI" \
        --cmdline "mem=$guest_mem rate=$rate interval=$interval halt=$halt marker=$MIG_MARKER" \
        --serial-log "$MIG_W/$PLAIN-serial.log"
    sed -i "s|<source path='$MIG_W/$PLAIN-serial.log'/>|<source path='$MIG_W/$PLAIN-serial.log' append='on'/>|" \
        "$MIG_W/$PLAIN.xml"
    mh_virsh 1 define "$MIG_W/$PLAIN.xml" >/dev/null || mh_fail "cannot define $PLAIN on host 1"
    mh_on_exit "for h in 1 2; do mh_virsh \$h destroy $PLAIN >/dev/null 2>&1; mh_virsh \$h undefine --nvram $PLAIN >/dev/null 2>&1; done"
    mh_virsh 1 start "$PLAIN" >/dev/null || mh_fail "cannot start $PLAIN on host 1"
    mh_wait_for "'mh-guest: ready' from $PLAIN" 300 mig_serial_has "$PLAIN" '^mh-guest: ready '
    HOST[$PLAIN]=1
}

start_mh() {
    # define, start paused, owner checks the measurement and injects the
    # migration key, resume, wait for 'ready' (test-migrate-common.sh)
    mig_define_start "$MH"
    HOST[$MH]=1
}

# wait_pass DOM: the guest completed one more verify pass (steady state)
wait_pass() {
    local st
    st=$(bash "$GUEST_STATUS" --wait-passes 1 --timeout 120 "$(mig_uri "${HOST[$1]}")" "$1") ||
        mh_fail "$1 on host ${HOST[$1]} did not complete a clean verify pass: $st"
}

# mh_target_xml DOM TO: the migratable XML of DOM with host TO's launch
# session and owner socket (what mig_migrate in test-migrate-common.sh
# passes with --xml), written to $MIG_W/DOM-TO.xml
mh_target_xml() {
    mig_target_xml "$1" "${HOST[$1]}" "$2" ||
        mh_fail "dumpxml --migratable $1 on host ${HOST[$1]} failed"
}

# Results, one entry per (kind, run): R[kind.run.field]
declare -A R

# migrate KIND DOM RUN: one live migration of DOM to the other host through
# the counting relay; fills R[KIND.RUN.*]; returns 1 (with R[KIND.RUN.error])
# when the migration or the integrity check failed.
migrate() {
    local kind=$1 dom=$2 run=$3 from to port counts rpid opid=
    local xmlopt=() t0 t1 rc=0 info st total ms srclog loglines dstlog dstlines fwd rev first last cpid cpuf
    from=${HOST[$dom]}
    to=$((3 - from))
    local k="$kind.$run"
    R[$k.dir]="$from->$to"
    port=$(mh_free_port)
    counts=$MIG_W/relay-$kind-$run.counts
    bash "$RELAY" 127.0.0.1 "$port" "$LISTEN" "$counts" >"$MIG_W/relay-$kind-$run.out" 2>&1 &
    rpid=$!
    RELAY_PIDS+=("$rpid")
    mh_wait_for "the relay" 10 grep -q ready "$MIG_W/relay-$kind-$run.out"

    if [ "$kind" = mh ]; then
        mh_target_xml "$dom" "$to"
        xmlopt=(--xml "$MIG_W/$dom-$to.xml")
        rm -f "$MIG_W/owner-$dom-$to.sock"
        # the guest owner: target measurement check + key, during Prepare
        mig_owner_target "$dom" "$to" >"$MIG_W/owner-$run.out" 2>&1 &
        opid=$!
    fi
    # CPU of the domain's processes on both hosts (QEMU, qemu-mh and the
    # MH), without the guest's own vCPU thread
    cpuf=$MIG_W/cpu-$kind-$run.txt
    bash "$CPUSAMPLER" "guest=$dom," "$MH_LAB_DIR" "$cpuf" >"$MIG_W/cpu-$kind-$run.out" 2>&1 &
    cpid=$!
    RELAY_PIDS+=("$cpid")
    mh_wait_for "the CPU sampler" 10 grep -q ready "$MIG_W/cpu-$kind-$run.out"
    R[$k.load]=$(load)
    R[$k.t0]=$(date -u +%T.%N | cut -c1-12)
    srclog=$MH_LAB_DIR/host$from/cache/libvirt/qemu/log/$dom.log
    loglines=$(wc -l <"$srclog" 2>/dev/null || echo 0)
    dstlog=$MH_LAB_DIR/host$to/cache/libvirt/qemu/log/$dom.log
    dstlines=$(wc -l <"$dstlog" 2>/dev/null || echo 0)
    t0=$(now)
    mh_virsh "$from" migrate --live --p2p --persistent --undefinesource --verbose \
        --listen-address "$LISTEN" "${xmlopt[@]}" "$dom" "$(mig_uri "$to")" \
        "tcp://127.0.0.1:$port" >"$MIG_W/migrate-$kind-$run.out" 2>&1 || rc=$?
    t1=$(now)
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    R[$k.cpu_src]=$(sed -n "s/^total host=$from cpu=//p" "$cpuf" 2>/dev/null)
    R[$k.cpu_dst]=$(sed -n "s/^total host=$to cpu=//p" "$cpuf" 2>/dev/null)
    R[$k.cpu_src]=${R[$k.cpu_src]:-0}
    R[$k.cpu_dst]=${R[$k.cpu_dst]:-0}
    R[$k.cpu]=$(awk -v a="${R[$k.cpu_src]}" -v b="${R[$k.cpu_dst]}" 'BEGIN { printf "%.2f", a + b }')
    [ -n "$opid" ] && { wait "$opid" || true; }
    # CPU the relay used (utime + stime, clock ticks), to show its cost
    R[$k.relay_cpu]=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
        "/proc/$rpid/stat" 2>/dev/null || echo -)
    kill "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
    if [ "$rc" != 0 ]; then
        R[$k.error]="virsh migrate failed: $(tr -d '\r' <"$MIG_W/migrate-$kind-$run.out" | grep -v '^$' | tail -n 3 | tr '\n' ' ')"
        [ "$kind" = mh ] && R[$k.error]+=" (owner: $(tail -n 2 "$MIG_W/owner-$run.out" | tr '\n' ' '))"
        return 1
    fi
    HOST[$dom]=$to
    R[$k.wall]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

    info=$(mh_virsh "$to" domjobinfo "$dom" --completed) || {
        R[$k.error]="domjobinfo --completed on host $to failed"
        return 1
    }
    printf '%s\n' "$info" >"$MIG_W/jobinfo-$kind-$run.txt"
    R[$k.elapsed]=$(jobfield "$info" "Time elapsed" | awk '{ print $1 }')
    R[$k.downtime]=$(jobfield "$info" "Total downtime" | awk '{ print $1 }')
    R[$k.iter]=$(jobfield "$info" "Iteration")
    R[$k.memtotal]=$(to_mib "$(jobfield "$info" "Memory total")")
    R[$k.memproc]=$(to_mib "$(jobfield "$info" "Memory processed")")

    # The relay's own count (client -> target and back) and the time from
    # its first to its last byte.
    read -r _ fwd rev _ first last < <(grep '^total ' "$counts") ||
        { R[$k.error]="no relay counts in $counts"; return 1; }
    R[$k.fwd]=${fwd#fwd=}
    R[$k.rev]=${rev#rev=}
    first=${first#first=}; last=${last#last=}
    R[$k.wire]=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b - a }')
    # qemu-mh's own account (both domain logs: the target's key, the
    # session, the passes), for reading the figures, not for computing them
    if [ "$kind" = mh ]; then
        R[$k.mhlog]=$( { tail -n +"$((loglines + 1))" "$srclog" 2>/dev/null | sed 's/qemu-mh: /qemu-mh: source: /'
                         tail -n +"$((dstlines + 1))" "$dstlog" 2>/dev/null | sed 's/qemu-mh: /qemu-mh: target: /'; } |
            grep -E 'qemu-mh: (source|target): (MH (session|pre-copy|final pass|restored)|migration (completed|handler: migration key))' |
            sort | sed 's/^[0-9-]*T\([0-9:.]*\)Z qemu-mh: /    \1 /' || true)
    fi

    # Integrity, by the guest's own vCPU on the target: two more verify
    # passes (every page checked after the switch-over), no failures.
    st=$(bash "$GUEST_STATUS" --wait-passes 2 --timeout 180 "$(mig_uri "$to")" "$dom" 2>&1) || {
        R[$k.error]="integrity check on host $to failed: $(tr '\n' ' ' <<<"$st")"
        R[$k.integrity]="FAILED"
        return 1
    }
    if [ "$(mig_field errors "$st")" != 0 ] || [ "$(mig_field state "$st")" != running ] ||
       mig_serial "$dom" | grep -q 'INTEGRITY FAILURE'; then
        R[$k.integrity]="FAILED"
        R[$k.error]="integrity: $(tr '\n' ' ' <<<"$st")"
        return 1
    fi
    R[$k.integrity]="ok (errors=0, passes=$(mig_field passes "$st"), dirtied=$(mig_field dirtied "$st"))"

    # Derived figures: guest RAM per second of the whole migration (libvirt's
    # "Time elapsed") and of the transfer (relay: first to last byte).
    total=${R[$k.elapsed]}
    R[$k.tput]=$(awk -v m="$memory" -v t="$total" 'BEGIN { printf "%.1f", m / (t / 1000) }')
    R[$k.tput_wire]=$(awk -v m="$memory" -v t="${R[$k.wire]}" 'BEGIN { printf "%.1f", (t > 0) ? m / t : 0 }')
    R[$k.wire_mib]=$(awk -v b="${R[$k.fwd]}" 'BEGIN { printf "%.1f", b / 1048576 }')
    ms=$(awk -v t="${R[$k.wall]}" 'BEGIN { printf "%d", t * 1000 }')
    mh_log "$kind run $run (host ${R[$k.dir]}): elapsed ${total} ms (virsh ${ms} ms), transfer ${R[$k.wire]} s, downtime ${R[$k.downtime]} ms, wire ${R[$k.wire_mib]} MiB, iterations ${R[$k.iter]}, load ${R[$k.load]}, CPU ${R[$k.cpu_src]} s source + ${R[$k.cpu_dst]} s target, relay CPU ${R[$k.relay_cpu]} s; integrity ${R[$k.integrity]}"
    [ -z "${R[$k.mhlog]:-}" ] || printf '    %s (UTC) virsh migrate started\n%s\n' "${R[$k.t0]}" "${R[$k.mhlog]}"
}

# pause DOM / unpause DOM: suspend a running guest, resume a paused one
pause() {
    mh_domstate_is "${HOST[$1]}" "$1" running || return 0
    mh_virsh "${HOST[$1]}" suspend "$1" >/dev/null || mh_fail "cannot pause $1 on host ${HOST[$1]}"
}
unpause() {
    mh_domstate_is "${HOST[$1]}" "$1" paused || return 0
    mh_virsh "${HOST[$1]}" resume "$1" >/dev/null || mh_fail "cannot resume $1 on host ${HOST[$1]}"
}

# --- boot both guests once; the one not being measured is paused so that
# it takes no CPU from the other (the machine has 2 cores)
want_plain=1
want_mh=1
[ "$only" = mh ] && want_plain=0
[ -n "$mh_reason" ] && want_mh=0
if [ "$want_plain" = 1 ]; then
    mh_log "starting $PLAIN ($memory MiB, emulator $PLAIN_EMU)"
    start_plain
    wait_pass "$PLAIN"
    [ "$want_mh" = 1 ] && pause "$PLAIN"
fi
mh_fail_reason=
if [ "$want_mh" = 1 ]; then
    mh_log "starting $MH ($memory MiB, SEV with the mirror helper, emulator $MH_QEMU_MH)"
    start_mh
    wait_pass "$MH"
fi

plain_ok=0
mh_ok=0
for ((run = 1; run <= runs; run++)); do
    if [ "$want_plain" = 1 ]; then
        [ "$want_mh" = 1 ] && pause "$MH"
        unpause "$PLAIN"
        wait_pass "$PLAIN"
        if migrate plain "$PLAIN" "$run"; then
            plain_ok=$((plain_ok + 1))
        else
            mh_fail "plain run $run: ${R[plain.$run.error]}"
        fi
    fi
    if [ "$want_mh" = 1 ]; then
        [ "$want_plain" = 1 ] && pause "$PLAIN"
        unpause "$MH"
        wait_pass "$MH"
        if migrate mh "$MH" "$run"; then
            mh_ok=$((mh_ok + 1))
        else
            mh_log "MH run $run failed: ${R[mh.$run.error]}"
            mh_fail_reason=${R[mh.$run.error]}
            want_mh=0
            # out of the way of the remaining plain runs
            mh_virsh "${HOST[$MH]}" destroy "$MH" >/dev/null 2>&1 || true
        fi
    fi
done

# --- report
# median KIND FIELD: the median of FIELD over the successful runs
median() {
    local kind=$1 f=$2 r vals=()
    for ((r = 1; r <= runs; r++)); do
        [ -n "${R[$kind.$r.$f]:-}" ] && [ -z "${R[$kind.$r.error]:-}" ] && vals+=("${R[$kind.$r.$f]}")
    done
    [ ${#vals[@]} -gt 0 ] || { echo "-"; return; }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              if (m == int(m)) print m; else printf "%.2f\n", m }'
}

echo
echo "## per run"
printf '%-6s %-4s %-5s %9s %9s %9s %9s %9s %10s %9s %5s %5s  %s\n' kind run dir "elapsed" "virsh" "transfer" "MiB/s" "downtime" "wire MiB" "ret KiB" iter load integrity
for kind in plain mh; do
    for ((run = 1; run <= runs; run++)); do
        k=$kind.$run
        [ -n "${R[$k.dir]:-}" ] || continue
        if [ -n "${R[$k.error]:-}" ]; then
            printf '%-6s %-4s %-5s  FAILED: %s\n' "$kind" "$run" "${R[$k.dir]}" "${R[$k.error]}"
            continue
        fi
        printf '%-6s %-4s %-5s %7s ms %7s s %7s s %9s %6s ms %10s %9s %5s %5s  %s\n' "$kind" "$run" "${R[$k.dir]}" \
            "${R[$k.elapsed]}" "${R[$k.wall]}" "${R[$k.wire]}" "${R[$k.tput]}" "${R[$k.downtime]}" \
            "${R[$k.wire_mib]}" "$(awk -v b="${R[$k.rev]}" 'BEGIN { printf "%.1f", b / 1024 }')" \
            "${R[$k.iter]}" "${R[$k.load]}" "${R[$k.integrity]}"
    done
done

echo
echo "## summary (median of successful runs; plain = $(basename "$PLAIN_EMU"), non-SEV; mh = qemu-mh + MH, SEV)"
row() {  # row LABEL FIELD FORMAT
    local p m
    p=$(median plain "$2"); m=$(median mh "$2")
    printf '%-34s %12s %12s %10s\n' "$1" "$p" "$m" "$( [ "$p" != - ] && [ "$m" != - ] && ratio "$m" "$p" || echo -)"
}
printf '%-34s %12s %12s %10s\n' "" plain mh "mh/plain"
row "total time, libvirt (ms)" elapsed
row "virsh migrate wall time (s)" wall
row "transfer time, relay (s)" wire
row "throughput (guest MiB/s, total)" tput
row "throughput (guest MiB/s, transfer)" tput_wire
row "downtime (ms)" downtime
row "bytes on the wire src->dst (MiB)" wire_mib
row "return path dst->src (bytes)" rev
row "memory processed, libvirt (MiB)" memproc
row "iterations" iter
row "CPU, source side (s)" cpu_src
row "CPU, target side (s)" cpu_dst
row "CPU, both sides (s)" cpu
row "relay CPU time (s)" relay_cpu
echo "successful runs: plain $plain_ok/$((want_plain ? runs : 0)), mh $mh_ok/$runs"

echo
echo "## targets"
if [ "$mh_ok" -gt 0 ] && [ "$plain_ok" -gt 0 ]; then
    pt=$(median plain tput); mt=$(median mh tput)
    pd=$(median plain downtime); md=$(median mh downtime)
    lim=$(awk -v p="$pd" 'BEGIN { l = 1.5 * p; if (l < 300) l = 300; printf "%.0f", l }')
    met=$(awk -v m="$mt" -v p="$pt" 'BEGIN { print (m >= 0.9 * p) ? "MET" : "NOT MET" }')
    echo "throughput: mh $mt MiB/s vs plain $pt MiB/s = $(ratio "$mt" "$pt") x (target >= 0.90 x): $met"
    pt=$(median plain tput_wire); mt=$(median mh tput_wire)
    met=$(awk -v m="$mt" -v p="$pt" 'BEGIN { print (m >= 0.9 * p) ? "MET" : "NOT MET" }')
    echo "  (transfer phase only: mh $mt MiB/s vs plain $pt MiB/s = $(ratio "$mt" "$pt") x: $met)"
    met=$(awk -v m="$md" -v l="$lim" 'BEGIN { print (m <= l) ? "MET" : "NOT MET" }')
    echo "downtime: mh $md ms (target <= max(300 ms, 1.5 x plain $pd ms) = $lim ms): $met"
elif [ -n "$mh_reason" ]; then
    echo "MH part not run: $mh_reason"
elif [ "$only" = mh ]; then
    echo "no plain baseline (--only mh): targets not evaluated"
else
    echo "MH part failed: ${mh_fail_reason:-no successful run}"
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$want_plain" = 0 ] || [ "$plain_ok" = "$runs" ] || exit 1
[ -n "$mh_reason" ] || [ "$mh_ok" = "$runs" ] || exit 1
exit 0
