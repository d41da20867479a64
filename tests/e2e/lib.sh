# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the end-to-end tests (bash; safe under set -euo pipefail).
#
#   source "$MH_SOURCE_DIR/tests/e2e/lib.sh"
#
# meson sets MH_SOURCE_DIR and MH_BUILD_DIR; run by hand, they default to the
# source tree and its build/ directory.  See docs/lab.md.
#
# Variables:
#   VIRT_MH        $MH_BUILD_DIR/tools/virt-mh/virt-mh
#   QEMU_MH        $MH_BUILD_DIR/sim/qemu-mh/qemu-mh (may not exist)
#   MH_QEMU_SYSTEM /usr/bin/qemu-system-x86_64 (override: MH_QEMU_SYSTEM)
#   after mh_lab_up N:
#   MH_LAB_DIR     the lab directory; MH_URI1..MH_URIN one URI per host
#   MH_QEMU_MH     $MH_LAB_DIR/bin/qemu-mh, or "" when qemu-mh is not built
#   MH_LAB_HOSTS   N
#
# Functions:
#   mh_log MSG...                 progress line with a time stamp
#   mh_fail MSG...                "FAIL: MSG", exit 1 (lab logs are shown)
#   mh_skip REASON...             "SKIP: REASON", exit 77
#   mh_lab_up N                   start N lab hosts; torn down on exit
#   mh_lab_down                   tear the lab down now (also done on exit)
#   mh_on_exit CMD...             run CMD (eval'd) on exit, before the lab goes
#   mh_tmpdir VAR PREFIX          make /tmp/PREFIX.XXXXXX, set VAR to it,
#                                 remove it on exit
#   mh_register_path PATH         tell tests/run-isolated.py that PATH (and
#                                 every process living in it) is the test's
#   mh_require_qemu_mh            SKIP unless the lab has qemu-mh
#   mh_virsh N ARGS...            virsh -c $MH_URIN ARGS...
#   mh_domstate N DOM             the domain's state on host N ("" if absent)
#   mh_domstate_is N DOM STATE    true when DOM is in STATE on host N
#   mh_wait_for DESC SECS CMD...  retry CMD until it succeeds, else mh_fail
#                                 (CMD is re-run each time: pass a command,
#                                 e.g. mh_domstate_is, not a "$(...)" result)
#   mh_free_port                  print a free TCP port on 127.0.0.1
#   mh_lab_copy FILE              copy FILE into the lab (readable by the lab
#                                 user) and print the copy's path
#   mh_lab_processes              print "PID CMD" of live lab processes
#   mh_guest_ram_write N DOM GPA FILE
#                                 write FILE into the guest RAM of DOM on lab
#                                 host N at GPA, from outside the guest, as a
#                                 hostile host can (through the mem-path fd
#                                 qemu-mh gave QEMU)
#   mh_domain_xml FILE NAME MEM_MIB EMULATOR [LOADER [SEV_POLICY [EXTRA_XML]]]
#                 [--loader L] [--sev POLICY] [--extra XML] [--devices XML]
#                 [--kernel F] [--cmdline S] [--initrd F] [--serial-log F]
#                 [--machine M] [--vcpus N]
#       writes a small TCG domain: no disk, no network, no balloon.
#       LOADER: "" (SeaBIOS), "ovmf" (Debian's OVMF_CODE_4M.fd with a VARS
#       template) or a firmware path; SEV_POLICY e.g. 0x0033 adds
#       <launchSecurity type='sev'> (cbitpos/reducedPhysBits from
#       MH_SEV_CBITPOS/MH_SEV_REDUCED_PHYS_BITS, default 47/1); EXTRA_XML goes
#       before </domain> (declare its namespaces on its own elements),
#       --devices XML goes inside <devices>.

MH_SOURCE_DIR=${MH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MH_BUILD_DIR=${MH_BUILD_DIR:-$MH_SOURCE_DIR/build}
VIRT_MH=$MH_BUILD_DIR/tools/virt-mh/virt-mh
QEMU_MH=$MH_BUILD_DIR/sim/qemu-mh/qemu-mh
MH_QEMU_SYSTEM=${MH_QEMU_SYSTEM:-/usr/bin/qemu-system-x86_64}
MH_OVMF_CODE=${MH_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
MH_OVMF_VARS=${MH_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
MH_LAB_DIR=${MH_LAB_DIR:-}
MH_LAB_HOSTS=0
MH_QEMU_MH=
_MH_LAB_RUNNING=0
_MH_EXIT_CMDS=()
_MH_TRAP_SET=0

mh_log() {
    printf '[%s] %s\n' "$(date +%T)" "$*"
}

_mh_show_logs() {
    local d f
    [ -n "$MH_LAB_DIR" ] && [ -d "$MH_LAB_DIR" ] || return 0
    for d in "$MH_LAB_DIR"/host*; do
        [ -d "$d" ] || continue
        if [ -s "$d/libvirtd.log" ]; then
            echo "--- $d/libvirtd.log (last 15 lines)"
            tail -n 15 "$d/libvirtd.log" || true
        fi
        for f in "$d"/cache/libvirt/qemu/log/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f (last 15 lines)"
            tail -n 15 "$f" || true
        done
    done
}

mh_fail() {
    echo "FAIL: $*"
    _mh_show_logs
    exit 1
}

mh_skip() {
    echo "SKIP: $*"
    exit 77
}

mh_on_exit() {
    _mh_install_trap
    _MH_EXIT_CMDS+=("$*")
}

_mh_exit() {
    local rc=$? i
    trap - EXIT
    set +e
    for ((i = ${#_MH_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
        eval "${_MH_EXIT_CMDS[$i]}"
    done
    mh_lab_down
    if [ -n "$MH_LAB_DIR" ] && [ -d "$MH_LAB_DIR" ] && [ "${_MH_LAB_OWNED:-0}" = 1 ]; then
        if [ "${MH_KEEP_LAB:-0}" = 1 ]; then
            echo "lab directory kept: $MH_LAB_DIR"
        else
            rm -rf "$MH_LAB_DIR"
        fi
    fi
    exit "$rc"
}

_mh_install_trap() {
    [ "$_MH_TRAP_SET" = 1 ] && return 0
    _MH_TRAP_SET=1
    trap _mh_exit EXIT
    # A test killed by meson's timeout (SIGTERM) or ^C still cleans up.
    trap 'exit 143' TERM
    trap 'exit 130' INT
}

mh_register_path() {
    [ -n "${MH_TEST_RUN:-}" ] && [ -d "$MH_TEST_RUN" ] || return 0
    printf '%s\n' "${1:?mh_register_path: path}" >>"$MH_TEST_RUN/dirs"
}

mh_tmpdir() {
    local var=${1:?mh_tmpdir: variable} prefix=${2:?mh_tmpdir: prefix} dir
    dir=$(mktemp -d "/tmp/$prefix.XXXXXX")
    mh_register_path "$dir"
    mh_on_exit "rm -rf '$dir'"
    printf -v "$var" '%s' "$dir"
}

mh_lab_down() {
    [ "$_MH_LAB_RUNNING" = 1 ] || return 0
    _MH_LAB_RUNNING=0
    "$VIRT_MH" lab down --dir "$MH_LAB_DIR" || echo "warning: virt-mh lab down failed" >&2
}

_mh_have_program() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

mh_lab_up() {
    local n=${1:?mh_lab_up: number of hosts}
    local out err i=0 uri
    _mh_have_program libvirtd || mh_skip "libvirtd not installed (package libvirt-daemon)"
    _mh_have_program virsh || mh_skip "virsh not installed (package libvirt-clients)"
    [ -x "$MH_QEMU_SYSTEM" ] || mh_skip "QEMU not installed ($MH_QEMU_SYSTEM, package qemu-system-x86)"
    [ -x "$VIRT_MH" ] || mh_fail "virt-mh not built: $VIRT_MH"
    [ "$_MH_LAB_RUNNING" = 0 ] || mh_fail "mh_lab_up called twice"

    _mh_install_trap
    # Short and under /tmp: libvirt's socket paths below it must fit in
    # sun_path, and as root the lab user must be able to reach it.
    MH_LAB_DIR=$(mktemp -d /tmp/mhlab.XXXXXX)
    mh_register_path "$MH_LAB_DIR"
    _MH_LAB_OWNED=1
    err=$MH_LAB_DIR/lab-up.err
    local args=(lab up --hosts "$n" --dir "$MH_LAB_DIR")
    [ -x "$QEMU_MH" ] && args+=(--qemu-mh "$QEMU_MH")
    _MH_LAB_RUNNING=1
    if ! out=$("$VIRT_MH" "${args[@]}" 2>"$err"); then
        cat "$err"
        _MH_LAB_RUNNING=0
        mh_fail "virt-mh lab up --hosts $n failed"
    fi
    grep -v '^warning: qemu-mh not found' "$err" >&2 || true
    while read -r uri; do
        [ -n "$uri" ] || continue
        i=$((i + 1))
        printf -v "MH_URI$i" '%s' "$uri"
        export "MH_URI$i"
    done <<<"$out"
    [ "$i" = "$n" ] || mh_fail "virt-mh lab up printed $i URIs for $n hosts"
    MH_LAB_HOSTS=$n
    export MH_LAB_DIR MH_LAB_HOSTS
    MH_QEMU_MH=
    [ -x "$MH_LAB_DIR/bin/qemu-mh" ] && MH_QEMU_MH=$MH_LAB_DIR/bin/qemu-mh
    mh_log "lab up: $n host(s) in $MH_LAB_DIR${MH_QEMU_MH:+ (qemu-mh: $MH_QEMU_MH)}"
}

mh_require_qemu_mh() {
    [ -n "$MH_QEMU_MH" ] || mh_skip "qemu-mh not built ($QEMU_MH)"
}

mh_virsh() {
    local n=${1:?mh_virsh: host number}
    shift
    local var="MH_URI$n"
    [ -n "${!var:-}" ] || mh_fail "mh_virsh: no lab host $n"
    virsh -q -c "${!var}" "$@"
}

mh_domstate() {
    mh_virsh "$1" domstate "$2" 2>/dev/null | head -n 1 || true
}

mh_domstate_is() {
    [ "$(mh_domstate "$1" "$2")" = "$3" ]
}

mh_wait_for() {
    local desc=${1:?mh_wait_for: description} secs=${2:?mh_wait_for: timeout}
    shift 2
    local deadline=$((SECONDS + secs))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || mh_fail "timed out after ${secs}s waiting for $desc"
        sleep 0.2
    done
}

mh_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mh_lab_copy() {
    local src=${1:?mh_lab_copy: file}
    [ -n "$MH_LAB_DIR" ] || mh_fail "mh_lab_copy: no lab (call mh_lab_up first)"
    mkdir -p "$MH_LAB_DIR/files"
    chmod 755 "$MH_LAB_DIR/files"
    local dst
    dst=$MH_LAB_DIR/files/$(basename "$src")
    cp "$src" "$dst"
    chmod a+r "$dst"
    echo "$dst"
}

mh_lab_processes() {
    local p pid state env args
    [ -n "$MH_LAB_DIR" ] || return 0
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
        state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$p/status" 2>/dev/null) || continue
        [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || continue
        env=$(tr '\0' '\n' 2>/dev/null <"$p/environ") || env=
        args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || args=
        if [[ $'\n'"$env"$'\n' == *$'\n'"HOME=$MH_LAB_DIR/host"* ]] ||
           [[ $'\n'"$env"$'\n' == *$'\n'"MH_LAB_SERVICE=$MH_LAB_DIR"$'\n'* ]] ||
           [[ "$args" == *"$MH_LAB_DIR/host"* ]]; then
            echo "$pid ${args:0:120}"
        fi
    done
}

_mh_xml_escape() {
    local s=$1
    # Quoted replacements: bash 5.2 would read a bare & as the match.
    s=${s//&/"&amp;"}
    s=${s//</"&lt;"}
    s=${s//>/"&gt;"}
    s=${s//\'/"&apos;"}
    printf '%s' "$s"
}

mh_domain_xml() {
    local file=${1:?mh_domain_xml: file} name=${2:?mh_domain_xml: name}
    local mem=${3:?mh_domain_xml: memory MiB} emulator=${4:?mh_domain_xml: emulator}
    shift 4
    local loader="" sev="" extra="" devices="" kernel="" cmdline="" initrd=""
    local serial_log="" machine=q35 vcpus=1 pos=0
    while [ $# -gt 0 ]; do
        case $1 in
            --loader) loader=$2; shift 2 ;;
            --sev) sev=$2; shift 2 ;;
            --extra) extra=$2; shift 2 ;;
            --devices) devices=$2; shift 2 ;;
            --kernel) kernel=$2; shift 2 ;;
            --cmdline) cmdline=$2; shift 2 ;;
            --initrd) initrd=$2; shift 2 ;;
            --serial-log) serial_log=$2; shift 2 ;;
            --machine) machine=$2; shift 2 ;;
            --vcpus) vcpus=$2; shift 2 ;;
            --*) mh_fail "mh_domain_xml: unknown option $1" ;;
            *)
                pos=$((pos + 1))
                case $pos in
                    1) loader=$1 ;;
                    2) sev=$1 ;;
                    3) extra=$1 ;;
                    *) mh_fail "mh_domain_xml: too many arguments" ;;
                esac
                shift ;;
        esac
    done

    local os_extra="" nvram=""
    if [ "$loader" = ovmf ]; then
        loader=$MH_OVMF_CODE
        nvram=$MH_OVMF_VARS
    elif [ -n "$loader" ]; then
        case $loader in
            *OVMF_CODE_4M*.fd) nvram=$MH_OVMF_VARS ;;
            *OVMF_CODE.fd) nvram=${loader%OVMF_CODE.fd}OVMF_VARS.fd ;;
        esac
    fi
    if [ -n "$loader" ]; then
        [ -f "$loader" ] || mh_skip "firmware not installed: $loader (package ovmf)"
        os_extra+="    <loader readonly='yes' type='pflash'>$(_mh_xml_escape "$loader")</loader>"$'\n'
        [ -n "$nvram" ] && os_extra+="    <nvram template='$(_mh_xml_escape "$nvram")'/>"$'\n'
    fi
    [ -n "$kernel" ] && os_extra+="    <kernel>$(_mh_xml_escape "$kernel")</kernel>"$'\n'
    [ -n "$initrd" ] && os_extra+="    <initrd>$(_mh_xml_escape "$initrd")</initrd>"$'\n'
    [ -n "$cmdline" ] && os_extra+="    <cmdline>$(_mh_xml_escape "$cmdline")</cmdline>"$'\n'

    local serial="    <serial type='pty'/>"
    [ -n "$serial_log" ] &&
        serial="    <serial type='file'><source path='$(_mh_xml_escape "$serial_log")'/></serial>"

    local launch=""
    if [ -n "$sev" ]; then
        launch="  <launchSecurity type='sev'>
    <cbitpos>${MH_SEV_CBITPOS:-47}</cbitpos>
    <reducedPhysBits>${MH_SEV_REDUCED_PHYS_BITS:-1}</reducedPhysBits>
    <policy>$sev</policy>
  </launchSecurity>
"
    fi

    cat >"$file" <<EOF
<domain type='qemu'>
  <name>$(_mh_xml_escape "$name")</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>$vcpus</vcpu>
  <os>
    <type arch='x86_64' machine='$machine'>hvm</type>
${os_extra}  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(_mh_xml_escape "$emulator")</emulator>
$serial
    <memballoon model='none'/>
${devices:+    $devices
}  </devices>
${launch}${extra:+  $extra
}</domain>
EOF
    chmod a+r "$file"
}

# mh_xml_add_session FILE SESSION_DIR: put a guest owner's session
# (godh.b64 and session.b64, as "virt-mh owner session" writes them) into
# the <launchSecurity> of the domain XML FILE.
mh_xml_add_session() {
    local file=${1:?mh_xml_add_session: file} dir=${2:?mh_xml_add_session: session dir}
    /usr/bin/python3 - "$file" "$dir" <<'EOF'
import sys
x = open(sys.argv[1]).read()
godh = open(sys.argv[2] + '/godh.b64').read().strip()
sess = open(sys.argv[2] + '/session.b64').read().strip()
x = x.replace('</policy>', '</policy>\n    <dhCert>%s</dhCert>\n    <session>%s</session>' % (godh, sess))
open(sys.argv[1], 'w').write(x)
EOF
}

# mh_ovmf_set_area SRC DST WHAT GUID BASE SIZE: copy the firmware SRC to
# DST with the base and size of one area of its GUIDed footer table set
# (Debian's OVMF has base 0, size 0 for the SEV secret and hashes-table
# areas; the AmdSev build sets them). WHAT names the entry in the error.
mh_ovmf_set_area() {
    local src=${1:?mh_ovmf_set_area: firmware} dst=${2:?mh_ovmf_set_area: output}
    local what=${3:?mh_ovmf_set_area: what} guid=${4:?mh_ovmf_set_area: guid}
    local base=${5:?mh_ovmf_set_area: base} size=${6:?mh_ovmf_set_area: size}
    /usr/bin/python3 - "$src" "$dst" "$what" "$guid" "$base" "$size" <<'EOF'
import sys, uuid
img = bytearray(open(sys.argv[1], 'rb').read())
footer = uuid.UUID('96b582de-1fb2-45f7-baea-a366c55a082d').bytes_le
entry = uuid.UUID(sys.argv[4]).bytes_le
base, size = int(sys.argv[5], 0), int(sys.argv[6], 0)
end = len(img) - 0x20
assert img[end - 16:end] == footer, 'no GUIDed table'
total = int.from_bytes(img[end - 18:end - 16], 'little') - 18
p = end - 18
start = p - total
while p > start:
    guid, n = bytes(img[p - 16:p]), int.from_bytes(img[p - 18:p - 16], 'little')
    if guid == entry:
        img[p - n:p - n + 8] = base.to_bytes(4, 'little') + size.to_bytes(4, 'little')
        open(sys.argv[2], 'wb').write(img)
        sys.exit(0)
    p -= n
sys.exit('no %s entry in the firmware table' % sys.argv[3])
EOF
    chmod a+r "$dst"
}

# For tests that run with either emulator ("TEST [qemu|qemu-mh]"):
# mh_variant_check VARIANT, before the lab is up, fails on an unknown
# variant and skips when qemu-mh is asked for but not built;
# mh_variant_emulator VARIANT, after mh_lab_up, sets MH_EMULATOR to the
# emulator the lab's domains use for it.
mh_variant_check() {
    case ${1:?mh_variant_check: variant} in
        qemu|qemu-mh) ;;
        *) mh_fail "unknown variant '$1' (expected qemu or qemu-mh)" ;;
    esac
    if [ "$1" = qemu-mh ] && [ ! -x "$QEMU_MH" ]; then
        mh_skip "qemu-mh not built ($QEMU_MH): the qemu-mh variant cannot run"
    fi
}

mh_variant_emulator() {
    MH_EMULATOR=$MH_QEMU_SYSTEM
    if [ "${1:?mh_variant_emulator: variant}" = qemu-mh ]; then
        mh_require_qemu_mh
        MH_EMULATOR=$MH_QEMU_MH
    fi
}

mh_guest_ram_write() {
    local n=${1:?mh_guest_ram_write: host} dom=${2:?mh_guest_ram_write: domain}
    local gpa=${3:?mh_guest_ram_write: gpa} file=${4:?mh_guest_ram_write: file}
    /usr/bin/python3 - "$MH_LAB_DIR/host$n" "$dom" "$gpa" "$file" <<'EOF'
import os, re, sys
home, dom, gpa, data = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), open(sys.argv[4], 'rb').read()
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\0')
        cmd = b' '.join(open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\0'))
        m = re.search(rb'/proc/self/fd/([0-9]+)', cmd)
        if not m or f'guest={dom},'.encode() not in cmd or \
                not any(e.startswith(f'HOME={home}/'.encode()) for e in env):
            continue
        f = os.open(f'/proc/{pid}/fd/{m.group(1).decode()}', os.O_RDWR)
        os.pwrite(f, data, gpa)    # guest RAM from GPA 0 at offset 0
        assert os.pread(f, len(data), gpa) == data
        os.close(f)
    except (OSError, FileNotFoundError):
        continue
    print(f'{len(data)} bytes written at GPA {gpa:#x} into the guest RAM of {dom}')
    sys.exit(0)
sys.exit(f'no QEMU of {dom} with mem-path=/proc/self/fd/N on host {home}')
EOF
}
