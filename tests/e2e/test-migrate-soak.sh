#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A soak (issue 13): one SEV guest with the mirror helper migrated back and
# forth MH_SOAK_HOPS times (default 50) by plain virsh, each target attested
# by the key broker through the hook. After every hop: the guest runs on
# the target with no integrity error, and the open files and resident
# memory of the target's qemu-mh and of both lab libvirtds are recorded.
# Bounds (docs/reliability.md): each new qemu-mh within 4 open files and
# 16 MiB of the first; each libvirtd's open files within 8 and its memory
# within 16 MiB of what it had after the first 5 hops (its warm-up).
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/test-migrate-common.sh"

hops=${MH_SOAK_HOPS:-50}
dom=soak
mig_setup 2
mig_broker_up
mig_broker_domain "$dom"
mig_wait_passes 1 "$dom" 1

libvirtd_pid() { sed -n "/^\[host$1\]/,/^\[/s/^pid=//p" "$MH_LAB_DIR/lab.ini" | head -1; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
emu_pid() { cat "$MH_LAB_DIR/host$1/run/libvirt/qemu/run/$dom.pid" 2>/dev/null || true; }

L1=$(libvirtd_pid 1); L2=$(libvirtd_pid 2)
[ -n "$L1" ] && [ -n "$L2" ] || mh_fail "cannot find the lab's libvirtd pids in lab.ini"
log=$MIG_W/soak.tsv
printf 'hop\tto\tms\tqemu_mh_fds\tqemu_mh_rss_kib\tlibvirtd1_fds\tlibvirtd1_rss_kib\tlibvirtd2_fds\tlibvirtd2_rss_kib\n' >"$log"
from=1
for ((hop = 1; hop <= hops; hop++)); do
    to=$((3 - from)); t0=$(date +%s%N)
    mh_virsh "$from" migrate --live --p2p --persistent --undefinesource "$dom" "$(mig_uri "$to")" \
        "tcp://127.0.0.1:$(mh_free_port)" >"$MIG_W/migrate.out" 2>&1 ||
        mh_fail "hop $hop (host $from -> $to) failed: $(cat "$MIG_W/migrate.out")"
    mh_wait_for "$dom running on host $to" 30 mh_domstate_is "$to" "$dom" running
    st=$(mig_status "$to" "$dom") || mh_fail "hop $hop: no status block on host $to"
    [ "$(mig_field errors "$st")" = 0 ] || mh_fail "hop $hop: integrity errors on host $to: $st"
    e=$(emu_pid "$to")
    [ -n "$e" ] || mh_fail "hop $hop: no pid file of $dom on host $to"
    printf '%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$hop" "$to" $(( ($(date +%s%N) - t0) / 1000000 )) \
        "$(fds "$e")" "$(rss "$e")" "$(fds "$L1")" "$(rss "$L1")" "$(fds "$L2")" "$(rss "$L2")" >>"$log"
    from=$to
done
mig_wait_passes "$from" "$dom" 2
sed -n '1,3p;$p' "$log" | while read -r l; do mh_log "$l"; done

/usr/bin/python3 - "$log" <<'PY' || mh_fail "a bound was exceeded: $(cat "$log")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
def col(name, rs=rows):
    return [int(r[name]) for r in rs]
problems = []
for name, limit in (('qemu_mh_fds', 4), ('qemu_mh_rss_kib', 16384)):
    v = col(name)
    if max(v) - v[0] > limit:
        problems.append(f'{name}: first {v[0]}, max {max(v)} (bound +{limit})')
warm = rows[4] if len(rows) > 5 else rows[0]
for name, limit in (('libvirtd1_fds', 8), ('libvirtd2_fds', 8),
                    ('libvirtd1_rss_kib', 16384), ('libvirtd2_rss_kib', 16384)):
    v = col(name)
    if max(v[5:] or v) - int(warm[name]) > limit:
        problems.append(f'{name}: after warm-up {warm[name]}, max {max(v)} (bound +{limit})')
secs = [int(r['ms']) / 1000 for r in rows]
print(f'{len(rows)} hops, {min(secs):.1f}-{max(secs):.1f} s each; '
      + '; '.join(f'{n} {min(col(n))}-{max(col(n))}' for n in rows[0] if n.endswith(('fds', 'kib'))))
if problems:
    print('\n'.join(problems), file=sys.stderr)
    sys.exit(1)
PY
echo "PASS: $hops hops of an SEV guest with the mirror helper, every target attested by the broker, the guest's memory intact; qemu-mh and libvirtd open files and memory within bounds"
