#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# MH sealing throughput next to `openssl speed` in the same run.
#   bench/run-mh-seal.sh [BUILD_DIR] [mh-seal-bench options...]
# BUILD_DIR defaults to ./build. Prints a table and the ratio
# MH MiB/s : openssl MiB/s, comparing N MH vCPUs with `openssl speed
# -multi N` (N = 1 is a single OpenSSL thread) over 8192-byte blocks.
set -euo pipefail

build=${1:-build}
[ $# -gt 0 ] && shift
bench="$build/bench/mh-seal-bench"
if [ ! -x "$bench" ]; then
    echo "error: $bench not found; build first (meson compile -C $build)" >&2
    exit 1
fi
if ! command -v openssl >/dev/null; then
    echo "error: openssl not found" >&2
    exit 1
fi

cpus=$(nproc)
seconds=${OPENSSL_SECONDS:-3}

# openssl speed -mr prints "+F:<n>:<alg>:<bytes per second>" for -bytes N.
openssl_mib() {
    local multi=$1 line
    if [ "$multi" -gt 1 ]; then
        line=$(openssl speed -multi "$multi" -evp aes-256-gcm -bytes 8192 -seconds "$seconds" -mr 2>/dev/null | grep '^+F:' | tail -1)
    else
        line=$(openssl speed -evp aes-256-gcm -bytes 8192 -seconds "$seconds" -mr 2>/dev/null | grep '^+F:' | tail -1)
    fi
    [ -n "$line" ] || { echo "error: could not parse openssl speed output" >&2; exit 1; }
    awk -F: '{ printf "%.1f", $4 / 1048576 }' <<<"$line"
}

echo "# date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $cpus CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "# openssl: $(openssl version)"
echo "# load:    $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; figures are best of repeats)"
echo

declare -A ossl
for ((n = 1; n <= cpus; n++)); do
    ossl[$n]=$(openssl_mib "$n")
    echo "openssl speed -evp aes-256-gcm -bytes 8192 (-multi $n): ${ossl[$n]} MiB/s"
done
echo

out=$("$bench" "$@")
grep -v '^RESULT' <<<"$out"
echo
printf '%-6s %14s %14s %14s %8s\n' vcpus "MH seal pg/s" "MH seal MiB/s" "openssl MiB/s" ratio
while read -r _ v p m o; do
    v=${v#vcpus=}; p=${p#seal_pages_per_s=}; m=${m#seal_mib_per_s=}
    ref=${ossl[$v]:-${ossl[$cpus]}}
    printf '%-6s %14s %14s %14s %8s\n' "$v" "$p" "$m" "$ref" "$(awk -v a="$m" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')"
done < <(grep '^RESULT' <<<"$out")
