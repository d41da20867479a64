#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Print the test guest's status block (docs/test-guest.md), read through QEMU's
# monitor without the serial log.
#
#   guest-status.sh [OPTIONS] URI DOMAIN     through libvirt (virsh qemu-monitor-command)
#   guest-status.sh [OPTIONS] --qmp SOCKET   through a QEMU QMP unix socket
#
# Output: one "name=value" line per field (magic, version, state, pages,
# passes, errors, verified, dirtied, rate, uptime_ms, fail_page,
# fail_expected_gen, fail_gpa).
# Options:
#   --wait-passes N   read the block until 'passes' has grown by N since the
#                     first read (so every page was verified after that
#                     moment), then print it; stop early on errors > 0.
#   --timeout S       give up waiting after S seconds (default 120).
# Exit status: 0 block found (and, when waiting, N more passes with
# errors=0); 1 the monitor could not be asked; 2 no block at the address
# (guest not started yet, or not the test guest); 3 errors > 0 while
# waiting; 4 timed out waiting.  MH_GUEST_STATUS_GPA overrides the address
# (default 0x2000000, matching tests/guest/mh-guest.h).
set -euo pipefail

gpa=${MH_GUEST_STATUS_GPA:-0x2000000}
hmp="xp /16wx $gpa"

usage() {
    echo "usage: $0 [--wait-passes N] [--timeout S] URI DOMAIN | --qmp SOCKET" >&2
    exit 1
}

# QMP by hand: greeting, qmp_capabilities, one human-monitor-command.
qmp_hmp() {
    python3 - "$1" "$2" <<'EOF'
import json, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(sys.argv[1])
f = sock.makefile("rw")
def reply():
    while True:
        msg = json.loads(f.readline())
        if "return" in msg or "error" in msg:
            return msg
f.readline()  # greeting
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush()
reply()
f.write(json.dumps({"execute": "human-monitor-command",
                    "arguments": {"command-line": sys.argv[2]}}) + "\n"); f.flush()
msg = reply()
if "error" in msg:
    sys.stderr.write("error: QMP: %s\n" % msg["error"].get("desc"))
    sys.exit(1)
sys.stdout.write(msg["return"])
EOF
}

wait_passes=0
timeout=120
while [ $# -gt 2 ]; do
    case $1 in
        --wait-passes) wait_passes=${2:?}; shift 2 ;;
        --timeout) timeout=${2:?}; shift 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || usage
[[ "$wait_passes" =~ ^[0-9]+$ && "$timeout" =~ ^[0-9]+$ ]] || usage

# read_block: fill words[] with the 16 words of the block, or exit.
read_block() {
    local out _addr rest w
    if [ "$1" = "--qmp" ]; then
        out=$(qmp_hmp "$2" "$hmp") ||
            { echo "error: cannot read guest memory through QMP socket $2" >&2; exit 1; }
    else
        out=$(virsh -q -c "$1" qemu-monitor-command "$2" --hmp "$hmp") ||
            { echo "error: cannot read guest memory of domain $2 at $1" >&2; exit 1; }
    fi
    # "0000000002000000: 0x5347484d 0x00000001 0x00000002 0x00004000" x 4
    words=()
    while read -r _addr rest; do
        for w in $rest; do
            case "$w" in
                0x*) words+=($((w))) ;;
            esac
        done
    done <<<"${out//$'\r'/}"
    if [ ${#words[@]} -lt 16 ]; then
        echo "error: unexpected monitor output for '$hmp': $out" >&2
        exit 1
    fi
    if [ "${words[0]}" -ne $((0x5347484d)) ]; then
        printf 'magic=0x%08x\n' "${words[0]}"
        echo "error: no test guest status block at $gpa" >&2
        exit 2
    fi
}

print_block() {
    local state
    case "${words[2]}" in
        0) state=boot ;;
        1) state=filling ;;
        2) state=running ;;
        14) state=setup-error ;;
        *) state="unknown-${words[2]}" ;;
    esac
    printf 'magic=0x%08x\n' "${words[0]}"
    echo "version=${words[1]}"
    echo "state=$state"
    echo "pages=${words[3]}"
    echo "passes=${words[4]}"
    echo "errors=${words[5]}"
    echo "verified=$(( words[7] << 32 | words[6] ))"
    echo "dirtied=$(( words[9] << 32 | words[8] ))"
    echo "rate=${words[10]}"
    echo "uptime_ms=${words[11]}"
    echo "fail_page=${words[12]}"
    echo "fail_expected_gen=${words[13]}"
    printf 'fail_gpa=0x%x\n' $(( words[15] << 32 | words[14] ))
}

read_block "$@"
if [ "$wait_passes" -gt 0 ]; then
    first=${words[4]}
    deadline=$((SECONDS + timeout))
    while :; do
        if [ "${words[5]}" -ne 0 ]; then
            print_block
            echo "error: the test guest reports ${words[5]} integrity error(s)" >&2
            exit 3
        fi
        [ "${words[4]}" -ge $((first + wait_passes)) ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            print_block
            echo "error: passes went from $first to ${words[4]} in ${timeout}s, waited for $wait_passes more" >&2
            exit 4
        fi
        sleep 0.5
        read_block "$@"
    done
fi
print_block
