#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The key broker's cost (issue 14):
#   (1) bench/mh-broker-bench against "virt-mh broker serve" over TLS on
#       loopback: complete attestations (bundle, LAUNCH_START, measure,
#       secret, LAUNCH_SECRET opened) --serial in a row, then --parallel at
#       once, next to the same attestation done in-process (the baseline,
#       same run); the broker's RSS and open files before and after;
#   (2) what the target's attestation adds inside libvirt's Prepare: the
#       broker-migrate end-to-end test (3 plain virsh migrations between
#       lab hosts) with the hook's own timings (RUN_DIR/hook.log) next to
#       each migration's total time (virsh domjobinfo --completed).
#
#   bench/broker-bench.sh [--build DIR] [--serial N] [--parallel N]
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$BENCH_DIR/.." && pwd)
build=${MH_BUILD_DIR:-$SRC_DIR/build}
serial=200
parallel=20
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --serial) serial=$2; shift 2 ;;
        --parallel) parallel=$2; shift 2 ;;
        *) sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 1 ;;
    esac
done
build=$(cd "$build" && pwd)
W=$(mktemp -d /tmp/mhbb.XXXXXX)
trap 'kill "${bpid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT

echo "# (1) the broker under load: $serial attestations in a row, $parallel at once"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$W/k.pem" -out "$W/c.pem" 2>/dev/null
"$build/tools/virt-mh/virt-mh" broker serve --listen 127.0.0.1:0 --state "$W/st" \
    --tls-cert "$W/c.pem" --tls-key "$W/k.pem" >"$W/serve.out" 2>"$W/serve.err" &
bpid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$W/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$W/serve.out")
"$build/bench/mh-broker-bench" --url "$url" --token "$W/st/admin.token" --cacert "$W/c.pem" \
    --pid "$bpid" --serial "$serial" --parallel "$parallel"
kill "$bpid"; wait "$bpid" 2>/dev/null || true

echo
echo "# (2) attestation inside Prepare: 3 plain virsh migrations (tests/e2e/test-broker-migrate.sh)"
MH_SOURCE_DIR=$SRC_DIR MH_BUILD_DIR=$build /usr/bin/python3 "$SRC_DIR/tests/run-isolated.py" \
    /usr/bin/bash "$SRC_DIR/tests/e2e/test-broker-migrate.sh" >"$W/e2e.out" 2>&1 ||
    { tail -20 "$W/e2e.out"; echo "error: the broker-migrate run failed" >&2; exit 1; }
grep -E 'hop [0-9] -> [0-9]: Time elapsed' "$W/e2e.out" | sed 's/^\[[^]]*\] /  /'
grep -E 'hook host [0-9]: .* (migrate-begin|started-begin)' "$W/e2e.out" |
    sed -E 's/^\[[^]]*\] hook host ([0-9]): [^ ]+ [^ ]+ [^ ]+ /  host \1: /'
/usr/bin/python3 - "$W/e2e.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
hops = [int(m) for m in re.findall(r'hop \d -> \d: Time elapsed: (\d+) ms', text)]
# hook.log lines carry their time: in time order, a migration's bundle
# and the next attestation on that host are that hop's; a paused start's
# fresh session and the next attestation are that start's, shown apart.
events = sorted(re.findall(
    r'hook host (\d): (\S+) \S+ \S+ (migrate-begin bundle|started-begin attest|start-begin session fresh) '
    r'([0-9.]+) ms ok', text), key=lambda e: e[1])
per_hop, per_start, bundle, fresh = [], [], {}, {}
for host, _, what, ms in events:
    if what == 'migrate-begin bundle':
        bundle[host] = float(ms)
    elif what == 'start-begin session fresh':
        bundle.pop(host, None)
        fresh[host] = float(ms)
    elif host in bundle:
        per_hop.append(bundle.pop(host) + float(ms))
    elif host in fresh:
        per_start.append((fresh.pop(host), float(ms)))
per_hop = per_hop[:len(hops)]
for s, a in per_start:
    print("  virsh start --paused: fresh session %.1f ms + attestation %.1f ms = %.1f ms" %
          (s, a, s + a))
for i, (t, a) in enumerate(zip(hops, per_hop), 1):
    print("  hop %d: migration %d ms, of which the hook's attestation %.1f ms (%.1f %%)" % (i, t, a, 100 * a / t))
if per_hop:
    print("  attestation added per migration: mean %.1f ms, max %.1f ms (target < 150 ms)" %
          (sum(per_hop) / len(per_hop), max(per_hop)))
PY
