#!/usr/bin/env bash
# Print the test guest's status block (docs/test-guest.md), read through QEMU's
# monitor without the serial log.
#
#   guest-status.sh URI DOMAIN        through libvirt (virsh qemu-monitor-command)
#   guest-status.sh --qmp SOCKET      through a QEMU QMP unix socket
#
# Output: one "name=value" line per field (magic, version, state, pages,
# passes, errors, verified, dirtied, rate, uptime_ms, fail_page,
# fail_expected_gen, fail_gpa).  Exit status: 0 block found, 2 no block at
# the address (guest not started yet, or not the test guest), 1 the monitor
# could not be asked.  MH_GUEST_STATUS_GPA overrides the address (default
# 0x2000000, matching tests/guest/mh-guest.h).
set -euo pipefail

gpa=${MH_GUEST_STATUS_GPA:-0x2000000}
hmp="xp /16wx $gpa"

usage() {
    echo "usage: $0 URI DOMAIN | $0 --qmp SOCKET" >&2
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

if [ $# -ne 2 ]; then
    usage
fi
if [ "$1" = "--qmp" ]; then
    out=$(qmp_hmp "$2" "$hmp") || { echo "error: cannot read guest memory through QMP socket $2" >&2; exit 1; }
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
