# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the MH migration end-to-end tests (sourced, not a test):
# an SEV domain with the mirror helper running the test guest on lab host
# 1, the guest owner's sessions, key and injections, and migrations whose
# target gets its key through the second QMP monitor during Prepare.
#
#   source "$MH_SOURCE_DIR/tests/e2e/test-migrate-common.sh"
#   mig_setup N            lab with N hosts, owner sessions for each host
#   mig_define_start DOM   define + start --paused on host 1, inject, resume
#   mig_migrate DOM FROM TO MODE [VIRSH_OPTS...]
#                          live migration (MODE p2p|direct); the owner injects
#                          the key into the target during Prepare
#   mig_wait_passes N DOM MORE   the guest verified MORE more passes on host N
#   mig_qemu_pid N DOM     the pid of DOM's qemu-mh on host N ("" if none)
#   mig_after_failure DOM WHAT   after a failed migration from host 1 to 2:
#                          DOM runs on host 1 only, its guest verifies its
#                          memory, qemu-mh left nothing in /tmp
#   mig_broker_up          the guest owner's key broker on loopback, behind
#                          a recording relay; hosts 1 and 2 trusted
#   mig_broker_domain DOM  define DOM on host 1 with the helper naming the
#                          broker, enrol it, start it through the broker
source "${MH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/e2e/lib.sh"

MIG_SECRET_GPA=0x80c000
MIG_MEM=${MIG_MEM:-128}
MIG_GUEST_MEM=${MIG_GUEST_MEM:-64}
MIG_RATE=${MIG_RATE:-2000}

mig_uri() { local v="MH_URI$1"; echo "${!v}"; }

mig_setup() {
    local n=${1:-2} i caps
    MIG_EFI=$MH_BUILD_DIR/tests/guest/mh-guest.efi
    MIG_STATUS_SH=$MH_SOURCE_DIR/tests/guest/guest-status.sh
    [ -f "$MIG_EFI" ] || mh_skip "test guest not built ($MIG_EFI): install gnu-efi and rebuild"
    [ -f "$MH_OVMF_CODE" ] || mh_skip "OVMF not installed ($MH_OVMF_CODE)"
    mh_lab_up "$n"
    mh_require_qemu_mh
    MIG_W=$MH_LAB_DIR/mig
    mkdir -p "$MIG_W"
    chmod 777 "$MIG_W"
    MIG_GUEST_EFI=$(mh_lab_copy "$MIG_EFI")
    MIG_MARKER="MH-MARKER-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    "$VIRT_MH" owner new-key --out "$MIG_W/mk.bin" >/dev/null || mh_fail "owner new-key failed"
    for ((i = 1; i <= n; i++)); do
        # The platform identity of host i, as query-sev-capabilities
        # exports it (libvirt's nodesevinfo asks the default emulator).
        caps=$(mh_virsh "$i" domcapabilities --emulatorbin "$MH_QEMU_MH" --virttype qemu) ||
            mh_fail "domcapabilities on host $i failed"
        grep -q "<sev supported='yes'>" <<<"$caps" || mh_fail "host $i: qemu-mh reports no SEV"
        local p=$MH_LAB_DIR/host$i/mh-platform
        base64 -w0 <"$p/pdh.cert" >"$MIG_W/pdh$i.b64"
        cat "$p/pek.cert" "$p/oca.cert" "$p/cek.cert" | base64 -w0 >"$MIG_W/chain$i.b64"
        "$VIRT_MH" owner session --pdh "$MIG_W/pdh$i.b64" --cert-chain "$MIG_W/chain$i.b64" \
            --policy 0x33 --out "$MIG_W/sess$i" >/dev/null ||
            mh_fail "virt-mh owner session for host $i failed"
    done
}

# mig_xml FILE DOM HOST: the domain as host HOST must run it: that host's
# launch session, and an owner monitor socket of that host.
mig_xml() {
    local file=$1 dom=$2 host=$3 helper extra
    helper="mirror-helper,id=mh0,mode=auto,vcpus=${MIG_MH_VCPUS:-2},lifetime=${MIG_MH_LIFETIME:-on-demand},cipher=${MIG_MH_CIPHER:-aes-256-gcm},secret=$MIG_SECRET_GPA"
    extra="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
    extra+="<qemu:arg value='-object'/><qemu:arg value='$helper'/>"
    extra+="<qemu:arg value='-chardev'/><qemu:arg value='socket,id=mhowner,path=$MIG_W/owner-$dom-$host.sock,server=on,wait=off'/>"
    extra+="<qemu:arg value='-mon'/><qemu:arg value='chardev=mhowner,mode=control'/>"
    extra+="</qemu:commandline>"
    mh_domain_xml "$file" "$dom" "$MIG_MEM" "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" --sev 0x0033 \
        --extra "$extra" --kernel "$MIG_GUEST_EFI" \
        --cmdline "mem=$MIG_GUEST_MEM rate=$MIG_RATE interval=1000 marker=$MIG_MARKER" \
        --serial-log "$MIG_W/$dom-serial.log"
    sed -i "s|<source path='$MIG_W/$dom-serial.log'/>|<source path='$MIG_W/$dom-serial.log' append='on'/>|" "$file"
    mh_xml_add_session "$file" "$MIG_W/sess$host"
}

mig_serial() { tr -d '\r\0' <"$MIG_W/$1-serial.log" 2>/dev/null || true; }
mig_serial_has() { mig_serial "$1" | grep -Eq "$2"; }
# Boots of DOM so far (its serial log is appended to across starts).
mig_ready_count() { mig_serial "$1" | grep -c '^mh-guest: ready ' || true; }
# What host N's libvirt hook logged (RUN_DIR/hook.log).
mig_hook_log() { cat "$MH_LAB_DIR/host$1/run/mh/hook.log" 2>/dev/null || true; }
mig_status() { bash "$MIG_STATUS_SH" "$(mig_uri "$1")" "$2"; }
mig_field() { sed -n "s/^$1=//p" <<<"$2"; }

mig_define_start() {
    local dom=$1
    mig_xml "$MIG_W/$dom-1.xml" "$dom" 1
    mh_virsh 1 define "$MIG_W/$dom-1.xml" >/dev/null || mh_fail "cannot define $dom on host 1"
    mh_on_exit "for h in \$(seq 1 \$MH_LAB_HOSTS); do mh_virsh \$h destroy $dom >/dev/null 2>&1; mh_virsh \$h undefine --nvram $dom >/dev/null 2>&1; done"
    mh_virsh 1 start --paused "$dom" >/dev/null || mh_fail "cannot start $dom on host 1"
    "$VIRT_MH" -c "$(mig_uri 1)" owner inject "$dom" --insecure --tk "$MIG_W/sess1/tk.bin" \
        --firmware "$MH_OVMF_CODE" --migration-key "$MIG_W/mk.bin" --gpa "$MIG_SECRET_GPA" \
        >"$MIG_W/inject-1.log" 2>&1 || mh_fail "owner inject on host 1 failed: $(cat "$MIG_W/inject-1.log")"
    mh_wait_for "$dom running on host 1" 30 mh_domstate_is 1 "$dom" running
    mh_wait_for "'mh-guest: ready' on the serial log" 240 mig_serial_has "$dom" '^mh-guest: ready '
    mig_serial "$dom" | grep -q "marker=$MIG_MARKER" || mh_fail "the guest did not take the marker"
}

# The guest owner, for the target of a migration: wait for the target's
# owner monitor, check its launch measurement, inject the migration key.
mig_owner_target() {
    local dom=$1 to=$2 key=${3:-$MIG_W/mk.bin} sock=$MIG_W/owner-$1-$2.sock i
    for ((i = 0; i < 600; i++)); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    [ -S "$sock" ] || { echo "no owner monitor $sock on the target" >&2; return 1; }
    # The socket file appears as qemu-mh binds it; its QEMU may take a
    # moment more to answer.
    for ((i = 0; i < 20; i++)); do
        "$VIRT_MH" owner inject --qmp "$sock" --insecure --tk "$MIG_W/sess$to/tk.bin" \
            --firmware "$MH_OVMF_CODE" --migration-key "$key" --gpa "$MIG_SECRET_GPA" && return 0
        [ -f "$key" ] || return 1
        sleep 0.5
    done
    return 1
}

# mig_target_xml DOM FROM TO: the source's migratable XML (ABI as libvirt
# checks it) with host TO's launch session and owner socket, written to
# $MIG_W/DOM-TO.xml for "virsh migrate --xml". Returns non-zero when the
# source's XML cannot be read.
mig_target_xml() {
    local dom=$1 from=$2 to=$3
    mh_virsh "$from" dumpxml --migratable "$dom" >"$MIG_W/$dom-src.xml" || return
    mig_xml "$MIG_W/$dom-$to.xml" "$dom" "$to"
    /usr/bin/python3 - "$MIG_W/$dom-src.xml" "$MIG_W/$dom-$to.xml" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
dst = open(sys.argv[2]).read()
for pat in (r'<dhCert>.*?</dhCert>', r'<session>.*?</session>', r"path=[^,']*owner-[^,']*\.sock"):
    m = re.search(pat, dst, re.S)
    src = re.sub(pat, lambda _: m.group(0), src, flags=re.S)
open(sys.argv[2], 'w').write(src)
EOF
}

# mig_migrate DOM FROM TO MODE [VIRSH_OPTS...]: returns virsh's status;
# its output is in $MIG_W/migrate.out, the owner's in $MIG_W/owner.out.
mig_migrate() {
    local dom=$1 from=$2 to=$3 mode=$4 port p2p=() rc=0 opid
    shift 4
    port=${MIG_PORT:-$(mh_free_port)}
    [ "$mode" = p2p ] && p2p=(--p2p)
    mig_target_xml "$dom" "$from" "$to"
    # A target killed earlier leaves its socket file behind.
    rm -f "$MIG_W/owner-$dom-$to.sock"
    mig_owner_target "$dom" "$to" "${MIG_TARGET_KEY:-$MIG_W/mk.bin}" >"$MIG_W/owner.out" 2>&1 &
    opid=$!
    mh_virsh "$from" migrate --live "${p2p[@]}" --persistent --undefinesource --verbose \
        --xml "$MIG_W/$dom-$to.xml" "$@" "$dom" "$(mig_uri "$to")" "tcp://${MIG_HOST:-127.0.0.1}:$port" \
        >"$MIG_W/migrate.out" 2>&1 || rc=$?
    wait "$opid" || true
    return $rc
}

mig_wait_passes() {
    local n=$1 dom=$2 more=$3 st p0 d0 deadline=$((SECONDS + 180))
    st=$(mig_status "$n" "$dom") || mh_fail "no status block on host $n: $st"
    p0=$(mig_field passes "$st"); d0=$(mig_field dirtied "$st")
    while :; do
        st=$(mig_status "$n" "$dom") || mh_fail "status block unreadable on host $n: $st"
        [ "$(mig_field errors "$st")" = 0 ] || mh_fail "integrity errors on host $n: $st
$(mig_serial "$dom" | grep 'INTEGRITY' | head)"
        [ "$(mig_field state "$st")" = running ] || mh_fail "guest not running on host $n: $st"
        [ "$(mig_field passes "$st")" -ge $((p0 + more)) ] && break
        [ "$SECONDS" -lt "$deadline" ] || mh_fail "no $more new verify passes on host $n within 180 s: $st"
        sleep 0.5
    done
    [ "$(mig_field dirtied "$st")" -gt "$d0" ] || mh_fail "the workload did not dirty pages on host $n: $st"
    mh_log "guest on host $n: $(tr '\n' ' ' <<<"$st")"
}

mig_qemu_pid() {
    find "$MH_LAB_DIR/host$1" -name "$2.pid" -exec cat {} \; 2>/dev/null | head -1
}

mig_after_failure() {
    local dom=$1 what=$2 left
    mh_log "$what: virsh said: $(tr '\n' ' ' <"$MIG_W/migrate.out")"
    mh_wait_for "$dom running on host 1 after $what" 30 mh_domstate_is 1 "$dom" running
    mh_wait_for "no $dom on host 2 after $what" 30 test -z "$(mh_domstate 2 "$dom")"
    mig_wait_passes 1 "$dom" 1
    # qemu-mh's socket to its QEMU lives in the domain's directory, which
    # libvirt removes even after a kill -9; nothing goes to /tmp
    [ -e "$MIG_W/t0" ] || touch -d '@0' "$MIG_W/t0"
    left=$(find /tmp -maxdepth 1 -name 'qemu-mh-migrate-*' -newer "$MIG_W/t0")
    [ -z "$left" ] || mh_fail "$what: qemu-mh left $left behind"
}

# ---- the guest owner's key broker (docs/key-broker.md) ----

mig_broker_up() {
    local h bport
    [ -x /etc/libvirt/hooks/qemu.d/mirror-helper-hook ] ||
        mh_skip "the libvirt hook is not installed in /etc/libvirt/hooks/qemu.d (lab up installs it as root)"
    cmp -s /etc/libvirt/hooks/qemu.d/mirror-helper-hook "$MH_BUILD_DIR/tools/mh-hook/mirror-helper-hook" ||
        mh_skip "the installed libvirt hook is not this build's (as root, lab up replaces it)"
    MIG_B=$MIG_W/broker
    mkdir -p "$MIG_B"
    "$VIRT_MH" broker serve --listen 127.0.0.1:0 --state "$MIG_B/state" --plain-http \
        >"$MIG_B/serve.out" 2>"$MIG_B/serve.err" &
    MIG_BROKER_PID=$!
    mh_on_exit "kill $MIG_BROKER_PID 2>/dev/null; wait $MIG_BROKER_PID 2>/dev/null"
    mh_wait_for "the broker listening" 20 grep -q '^listening on ' "$MIG_B/serve.out"
    MIG_BROKER_URL=$(sed -n 's/^listening on //p' "$MIG_B/serve.out")
    # The hosts reach the broker through a relay that records what a host
    # on the path sees; the owner's admin calls go direct.
    bport=${MIG_BROKER_URL##*:}; bport=${bport%/}
    /usr/bin/python3 "$MH_SOURCE_DIR/tests/e2e/tcp-relay.py" 127.0.0.1 "$bport" "$MIG_B/wire.bin" \
        >"$MIG_B/relay.out" 2>&1 &
    MIG_RELAY_PID=$!
    mh_on_exit "kill $MIG_RELAY_PID 2>/dev/null"
    mh_wait_for "the relay listening" 20 grep -q '^relay on ' "$MIG_B/relay.out"
    MIG_HOST_URL="http://127.0.0.1:$(sed -n 's/^relay on //p' "$MIG_B/relay.out")/"
    for h in 1 2; do
        mig_broker trust-platform --export-dir "$MH_LAB_DIR/host$h/platform-certs" >/dev/null ||
            mh_fail "trust-platform host $h failed"
    done
}

mig_broker() { "$VIRT_MH" broker "$1" --broker "$MIG_BROKER_URL" --token "$MIG_B/state/admin.token" "${@:2}"; }

mig_broker_domain() {
    local dom=$1 out
    mh_domain_xml "$MIG_W/$dom.xml" "$dom" "$MIG_MEM" "$MH_QEMU_MH" --loader "$MH_OVMF_CODE" \
        --sev 0x0033 --kernel "$MIG_GUEST_EFI" \
        --cmdline "mem=$MIG_GUEST_MEM rate=$MIG_RATE interval=1000 marker=$MIG_MARKER" \
        --serial-log "$MIG_W/$dom-serial.log"
    sed -i "s|<source path='$MIG_W/$dom-serial.log'/>|<source path='$MIG_W/$dom-serial.log' append='on'/>|" "$MIG_W/$dom.xml"
    mh_virsh 1 define "$MIG_W/$dom.xml" >/dev/null || mh_fail "cannot define $dom"
    mh_on_exit "for h in \$(seq 1 \$MH_LAB_HOSTS); do mh_virsh \$h destroy $dom >/dev/null 2>&1; mh_virsh \$h undefine $dom >/dev/null 2>&1; done"
    "$VIRT_MH" -c "$MH_URI1" enable "$dom" --vcpus 2 --key-broker "$MIG_HOST_URL" >/dev/null ||
        mh_fail "virt-mh enable --key-broker failed"
    MIG_UUID=$(mh_virsh 1 domuuid "$dom" | head -1)
    [ -f "$MIG_B/mk.bin" ] || "$VIRT_MH" owner new-key --out "$MIG_B/mk.bin" >/dev/null ||
        mh_fail "owner new-key failed"
    mig_broker enroll --uuid "$MIG_UUID" --policy 0x33 --firmware "$MH_OVMF_CODE" \
        --migration-key "$MIG_B/mk.bin" >"$MIG_B/enroll.out" || mh_fail "broker enroll failed"
    mh_log "$(cat "$MIG_B/enroll.out")"
    # As on the host itself: its host.conf names the run_dir where the
    # owner monitor virt-mh start adds to the definition lives.
    out=$(MH_HOST_CONF=$MH_LAB_DIR/host1/home/.config/mirror-helper/host.conf \
        "$VIRT_MH" -c "$MH_URI1" start "$dom" 2>&1) || mh_fail "virt-mh start failed: $out"
    mh_log "$out"
    mh_wait_for "'mh-guest: ready' on the serial log" 240 mig_serial_has "$dom" '^mh-guest: ready '
}
