#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build one libFuzzer target with clang (ASan + UBSan) and run it from its
# committed seed corpus for SECONDS:
#   tests/fuzz/run.sh TARGET SECONDS
# For hours: tests/fuzz/run.sh fuzz-qmp-split 3600 (docs/HACKING.md). A
# crash leaves the input in $MH_BUILD_DIR/tests/fuzz/TARGET/ and fails.
# Without clang or its fuzzer runtime (Debian: clang, libclang-rt-14-dev)
# the test prints SKIP.
set -euo pipefail
src=${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MH_BUILD_DIR:-$src/build}
target=${1:?usage: run.sh TARGET SECONDS}
secs=${2:?usage: run.sh TARGET SECONDS}

# What each target links: its file plus the project sources it reaches.
util="src/util/mh-util.c src/util/mh-error.c"
conf="src/conf/mh-conf.c src/conf/mh-conf-parse.c src/conf/mh-conf-edit.c src/conf/mh-conf-qemu.c src/conf/mh-qemu-opts.c"
owner="src/owner/mh-sev-secret.c src/owner/mh-sev-crypto.c src/owner/mh-sev-cert.c"
mh="sim/mh/mh-guest-ram.c sim/mh/mh-handler.c sim/mh/mh-handler-save.c sim/mh/mh-page-digest.c sim/mh/mh-transport.c sim/mh/mh-transport-session.c sim/mh/mh-vcpu.c sim/mh/mh-vcpu-restore.c"
# The MH mailbox is a packed struct: clang calls libatomic for its fields.
extra=""
case $target in
    fuzz-qmp-split) sources="sim/qemu/mh-qmp-split.c" ;;
    fuzz-secret-table) sources="$util $owner" ;;
    fuzz-domain-xml) sources="$util $conf" ;;
    fuzz-qemu-args) sources="$util $conf sim/qemu/mh-qemu-args.c" ;;
    fuzz-sev-cert) sources="$util src/owner/mh-sev-cert.c" ;;
    fuzz-launch) sources="$util $conf $owner src/owner/mh-sev-owner.c src/owner/mh-owner-launch.c sim/psp/mh-sev-platform.c" ;;
    fuzz-base64-ovmf) sources="$util sim/qemu/mh-qemu-fw.c" ;;
    fuzz-qmp-proxy) sources="$util sim/qemu/mh-qmp.c sim/qemu/mh-qmp-channel.c sim/qemu/mh-qmp-split.c" ;;
    fuzz-migrate-stream) sources="$util sim/qemu/mh-qemu-stream.c" ;;
    fuzz-mh-restore) sources="$util $conf $owner $mh" extra="-Wno-atomic-alignment -Wno-address-of-packed-member -latomic" ;;
    *) echo "FAIL: unknown fuzz target '$target'"; exit 1 ;;
esac

command -v clang >/dev/null || { echo "SKIP: clang not installed (package clang)"; exit 77; }
[ -f "$build/config.h" ] || { echo "FAIL: $build/config.h missing: configure the build first"; exit 1; }
out=$build/tests/fuzz/$target
mkdir -p "$out/corpus"
probe=$out/probe.c
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$probe"
clang -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null ||
    { echo "SKIP: clang cannot link libFuzzer (package libclang-rt-14-dev)"; exit 77; }

cd "$src"
# shellcheck disable=SC2046,SC2086
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -D_GNU_SOURCE -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DOPENSSL_API_COMPAT=30000 \
    -I"$build" -I"$src" -Isrc \
    $(pkg-config --cflags glib-2.0 gio-2.0 libxml-2.0 json-glib-1.0 libcrypto) \
    "tests/fuzz/$target.c" $sources \
    $(pkg-config --libs glib-2.0 gio-2.0 libxml-2.0 json-glib-1.0 libcrypto) $extra \
    -o "$out/$target"
# The committed seeds, plus what earlier runs here found.
cp -n "tests/fuzz/corpus/$target"/* "$out/corpus/" 2>/dev/null || true
cd "$out"
export MH_SCHEMADIR=$src/schemas
export ASAN_OPTIONS=detect_leaks=1
log=$out/run.log
if ! "./$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        corpus >"$log" 2>&1; then
    tail -40 "$log"
    echo "FAIL: $target found a problem (input saved in $out)"
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "PASS: $target: ${runs:-?} inputs in ${secs}s, no crash, leak or sanitizer finding"
