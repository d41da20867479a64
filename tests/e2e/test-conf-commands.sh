#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-mh validate/enable/show/disable against a real libvirt daemon (a lab
# host): enable writes <mh:helper> into the persistent configuration and the
# matching "-object mirror-helper,..." into <qemu:commandline> (once, next to
# the user's own arguments); disable removes both; every refusal (bad value,
# NOSEND policy, no <launchSecurity>) exits 1 with its own message and leaves
# "virsh dumpxml --inactive" byte-identical.
#
# SEV domains can only be defined with an emulator that reports SEV (the
# lab's qemu-mh); without one the SEV part SKIPs after the plain part ran.
set -euo pipefail
source "${MH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

NS=http://mirror-helper.org/schemas/domain/1.0
USER_ARGS="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-msg'/><qemu:arg value='timestamp=on'/></qemu:commandline>"

# ---- virt-mh validate on the golden files (no daemon needed) ---------------
# Each -invalid file: exit 1 and exactly the recorded messages as "error:"
# lines (plus libvirt's grammar messages where "# libvirt: invalid" says so);
# every other file: "valid".
n=0
while read -r f; do
    base=$(basename "$f")
    RC=0
    (cd "$MH_SOURCE_DIR/tests/data" && "$VIRT_MH" validate "$base") >"/tmp/mh-conf-out.$$" 2>"/tmp/mh-conf-err.$$" || RC=$?
    if [[ "$base" == *-invalid.xml ]]; then
        err=${f%.xml}.err
        [ "$RC" = 1 ] || mh_fail "validate $base exited $RC, expected 1"
        want=$(grep -v '^#' "$err" | sed 's/^/error: /')
        if grep -q '^# libvirt: invalid' "$err"; then
            got=$(grep -vF "does not match libvirt's domain schema" "/tmp/mh-conf-err.$$" || true)
        else
            got=$(cat "/tmp/mh-conf-err.$$")
        fi
        [ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got") || true; mh_fail "validate $base: messages differ"; }
    else
        [ "$RC" = 0 ] && [ "$(cat "/tmp/mh-conf-out.$$")" = valid ] ||
            { cat "/tmp/mh-conf-err.$$"; mh_fail "validate $base: not valid"; }
    fi
    n=$((n + 1))
done < <(ls "$MH_SOURCE_DIR"/tests/data/*.xml | grep -v '\.out\.xml$')
rm -f "/tmp/mh-conf-out.$$" "/tmp/mh-conf-err.$$"
[ "$n" -gt 30 ] || mh_fail "only $n golden files found"
mh_log "ok: virt-mh validate agrees with the $n golden files"

mh_lab_up 1
URI=$MH_URI1
WORK=$MH_LAB_DIR/conf-test
mkdir -p "$WORK"

vmh() {
    "$VIRT_MH" -c "$URI" "$@"
}

dump() {
    mh_virsh 1 dumpxml --inactive "$1"
}

# run_cmd OUTFILE ERRFILE CMD...: sets RC, never fails the script
run_cmd() {
    local out=$1 err=$2
    shift 2
    RC=0
    "$@" >"$out" 2>"$err" || RC=$?
}

# expect_refused DOMAIN MESSAGE ARGS...: virt-mh ARGS exits 1, prints
# "error: ...MESSAGE..." and the domain's inactive XML does not change.
expect_refused() {
    local dom=$1 msg=$2
    shift 2
    dump "$dom" >"$WORK/before.xml"
    run_cmd "$WORK/out" "$WORK/err" vmh "$@"
    [ "$RC" = 1 ] || { cat "$WORK/out" "$WORK/err"; mh_fail "'virt-mh $*' exited $RC, expected 1"; }
    grep -qF -- "error: " "$WORK/err" || mh_fail "'virt-mh $*': no 'error:' line on stderr"
    grep -qF -- "$msg" "$WORK/err" || { cat "$WORK/err"; mh_fail "'virt-mh $*': message lacks '$msg'"; }
    dump "$dom" >"$WORK/after.xml"
    cmp -s "$WORK/before.xml" "$WORK/after.xml" ||
        { diff -u "$WORK/before.xml" "$WORK/after.xml" || true; mh_fail "'virt-mh $*' changed $dom"; }
    mh_log "ok: refused and unchanged: virt-mh $* ($(head -n 1 "$WORK/err" | cut -c1-100))"
}

count_objects() {
    grep -c "value='mirror-helper," "$1" || true
}

expect_valid_dump() {
    dump "$1" >"$WORK/$1.xml"
    run_cmd "$WORK/out" "$WORK/err" "$VIRT_MH" validate "$WORK/$1.xml"
    [ "$RC" = 0 ] && grep -qx valid "$WORK/out" ||
        { cat "$WORK/out" "$WORK/err"; mh_fail "virt-mh validate: $1's definition is not valid"; }
}

# ---- validate on files ----------------------------------------------------
run_cmd "$WORK/out" "$WORK/err" "$VIRT_MH" validate "$MH_SOURCE_DIR/docs/examples/sev-helper-domain.xml"
[ "$RC" = 0 ] && grep -qx valid "$WORK/out" || { cat "$WORK/err"; mh_fail "docs example not valid"; }
printf '<domain type="qemu">\n  <name>x</name>\n  <metadata>\n</domain>\n' >"$WORK/malformed.xml"
run_cmd "$WORK/out" "$WORK/err" "$VIRT_MH" validate "$WORK/malformed.xml"
[ "$RC" = 1 ] && grep -q "malformed.xml:4: malformed XML: " "$WORK/err" ||
    { cat "$WORK/err"; mh_fail "malformed XML not reported with its line"; }
mh_log "ok: validate accepts the docs example and reports malformed XML with its line"

# ---- a plain domain: the real QEMU will do --------------------------------
mh_domain_xml "$WORK/plain-def.xml" mh-conf-plain 64 "$MH_QEMU_SYSTEM" --extra "$USER_ARGS"
mh_virsh 1 define "$WORK/plain-def.xml" >/dev/null
expect_refused mh-conf-plain "requires <launchSecurity type='sev'>, but the domain has no <launchSecurity>" \
    enable mh-conf-plain
expect_refused mh-conf-plain "requires <launchSecurity type='sev'>" enable mh-conf-plain --vcpus 2
run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-plain
[ "$RC" = 0 ] && grep -q '^enabled: *no$' "$WORK/out" || { cat "$WORK/out" "$WORK/err"; mh_fail "show on a plain domain"; }
dump mh-conf-plain >"$WORK/before.xml"
run_cmd "$WORK/out" "$WORK/err" vmh disable mh-conf-plain
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "disable of a domain without helper failed"; }
dump mh-conf-plain | cmp -s - "$WORK/before.xml" || mh_fail "disable of a domain without helper changed it"
expect_valid_dump mh-conf-plain
run_cmd "$WORK/out" "$WORK/err" vmh show no-such-domain
[ "$RC" = 1 ] && grep -q "error: .*no-such-domain" "$WORK/err" || mh_fail "show of a missing domain"
mh_log "ok: plain domain: enable refused, show/disable/validate fine"

# ---- an SEV domain -----------------------------------------------------------
EMU=${MH_QEMU_MH:-$MH_QEMU_SYSTEM}
mh_domain_xml "$WORK/sev-def.xml" mh-conf-sev 64 "$EMU" --sev 0x0033 --extra "$USER_ARGS"
if ! mh_virsh 1 define "$WORK/sev-def.xml" >"$WORK/out" 2>"$WORK/err"; then
    cat "$WORK/err"
    mh_skip "the lab cannot define an SEV domain with $EMU (qemu-mh ${MH_QEMU_MH:-not built}); plain-domain checks passed"
fi
mh_log "SEV domain defined with $EMU"

run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-sev
[ "$RC" = 0 ] && grep -q '^enabled: *no$' "$WORK/out" || mh_fail "show before enable"

run_cmd "$WORK/out" "$WORK/err" vmh enable mh-conf-sev --mode on-request --vcpus 2 \
    --lifetime persistent --key-broker http://127.0.0.1:8720/
[ "$RC" = 0 ] || { cat "$WORK/out" "$WORK/err"; mh_fail "enable failed"; }
dump mh-conf-sev >"$WORK/e1.xml"
want="mirror-helper,id=mh0,mode=on-request,vcpus=2,lifetime=persistent,cipher=aes-256-gcm,key-broker=http://127.0.0.1:8720/"
grep -qF "value='$want'" "$WORK/e1.xml" || { cat "$WORK/e1.xml"; mh_fail "no '-object $want' in the definition"; }
[ "$(count_objects "$WORK/e1.xml")" = 1 ] || mh_fail "expected one mirror-helper object after enable"
grep -qF "value='timestamp=on'" "$WORK/e1.xml" || mh_fail "enable dropped the user's own QEMU arguments"
grep -qF "<mh:helper xmlns:mh=\"$NS\" mode=\"on-request\">" "$WORK/e1.xml" || mh_fail "no <mh:helper> in the definition"
mh_virsh 1 metadata mh-conf-sev --config --uri "$NS" >"$WORK/meta" || mh_fail "virsh metadata found nothing"
grep -q '<vcpus>2</vcpus>' "$WORK/meta" || { cat "$WORK/meta"; mh_fail "metadata lacks <vcpus>2</vcpus>"; }
expect_valid_dump mh-conf-sev
mh_log "ok: enable wrote the metadata and one '-object $want'"

run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-sev
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "show failed"; }
for line in '^enabled: *yes$' '^mode: *on-request$' '^vcpus: *2$' '^lifetime: *persistent$' \
            '^cipher: *aes-256-gcm$' '^mailbox: *0x820000 (default)$' '^entry: *0x823000 (default)$' \
            '^secret: *0x80c000 (default)$' '^key-broker: *http://127.0.0.1:8720/$' '^sev-policy: *0x0033$'; do
    grep -q "$line" "$WORK/out" || { cat "$WORK/out"; mh_fail "show: no line matching $line"; }
done
mh_log "ok: show prints the effective settings, defaults included"

# A second enable changes only what it is given and never duplicates.
run_cmd "$WORK/out" "$WORK/err" vmh enable mh-conf-sev --vcpus 3
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "second enable failed"; }
dump mh-conf-sev >"$WORK/e2.xml"
[ "$(count_objects "$WORK/e2.xml")" = 1 ] || mh_fail "second enable duplicated the object"
grep -qF "value='mirror-helper,id=mh0,mode=on-request,vcpus=3,lifetime=persistent," "$WORK/e2.xml" ||
    mh_fail "second enable did not regenerate the object from the merged settings"
mh_log "ok: enable again: one object, vcpus=3, other settings kept"

expect_refused mh-conf-sev "<vcpus> value '9' is out of range 1..8" enable mh-conf-sev --vcpus 9
expect_refused mh-conf-sev "<vcpus> value '0' is out of range 1..8" enable mh-conf-sev --vcpus 0
expect_refused mh-conf-sev "--vcpus 'abc' is not a number" enable mh-conf-sev --vcpus abc
expect_refused mh-conf-sev "invalid value 'always' for --mode" enable mh-conf-sev --mode always
expect_refused mh-conf-sev "invalid value 'forever' for --lifetime" enable mh-conf-sev --lifetime forever
expect_refused mh-conf-sev "is not an http:// or https:// URL" enable mh-conf-sev --key-broker ftp://kb/

# Arguments edited behind virt-mh's back: validate and show say so; enable
# regenerates them from the metadata.
sed "s/mode=on-request,vcpus=3,/mode=on-request,vcpus=5,/" "$WORK/e2.xml" >"$WORK/edited.xml"
mh_virsh 1 define "$WORK/edited.xml" >/dev/null
dump mh-conf-sev >"$WORK/e3.xml"
run_cmd "$WORK/out" "$WORK/err" "$VIRT_MH" validate "$WORK/e3.xml"
[ "$RC" = 1 ] && grep -q "disagrees with <mh:helper> in <metadata>" "$WORK/err" ||
    { cat "$WORK/out" "$WORK/err"; mh_fail "validate missed arguments that disagree with the metadata"; }
run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-sev
[ "$RC" = 1 ] && grep -q "disagrees" "$WORK/err" || mh_fail "show missed the disagreement"
run_cmd "$WORK/out" "$WORK/err" vmh enable mh-conf-sev
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "enable did not repair the arguments"; }
dump mh-conf-sev >"$WORK/e4.xml"
grep -qF "mode=on-request,vcpus=3," "$WORK/e4.xml" && [ "$(count_objects "$WORK/e4.xml")" = 1 ] ||
    mh_fail "enable did not regenerate the arguments from the metadata"
expect_valid_dump mh-conf-sev
mh_log "ok: disagreeing arguments reported by validate/show and regenerated by enable"

run_cmd "$WORK/out" "$WORK/err" vmh disable mh-conf-sev
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "disable failed"; }
dump mh-conf-sev >"$WORK/d1.xml"
! grep -q "mirror-helper" "$WORK/d1.xml" || { cat "$WORK/d1.xml"; mh_fail "disable left mirror-helper traces"; }
grep -qF "value='timestamp=on'" "$WORK/d1.xml" || mh_fail "disable dropped the user's own QEMU arguments"
! mh_virsh 1 metadata mh-conf-sev --config --uri "$NS" >/dev/null 2>&1 || mh_fail "metadata still there"
run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-sev
grep -q '^enabled: *no$' "$WORK/out" || mh_fail "show after disable"
dump mh-conf-sev | cmp -s - "$WORK/d1.xml" || mh_fail "show changed the domain"
run_cmd "$WORK/out" "$WORK/err" vmh disable mh-conf-sev
[ "$RC" = 0 ] && grep -q "nothing to do" "$WORK/out" || mh_fail "second disable"
dump mh-conf-sev | cmp -s - "$WORK/d1.xml" || mh_fail "second disable changed the domain"
mh_log "ok: disable removed metadata and arguments, kept the user's arguments"

# Stale arguments without metadata (an old definition): reported, and
# removed by disable.
grep -v -e '<mh:' -e '</mh:' "$WORK/e4.xml" >"$WORK/stale.xml"
mh_virsh 1 define "$WORK/stale.xml" >/dev/null
dump mh-conf-sev >"$WORK/s1.xml"
[ "$(count_objects "$WORK/s1.xml")" = 1 ] || mh_fail "could not set up stale arguments"
run_cmd "$WORK/out" "$WORK/err" "$VIRT_MH" validate "$WORK/s1.xml"
[ "$RC" = 1 ] && grep -q "stale argument" "$WORK/err" || { cat "$WORK/err"; mh_fail "stale arguments not reported"; }
run_cmd "$WORK/out" "$WORK/err" vmh disable mh-conf-sev
[ "$RC" = 0 ] || { cat "$WORK/err"; mh_fail "disable of stale arguments failed"; }
[ "$(count_objects <(dump mh-conf-sev))" = 0 ] || mh_fail "disable left stale arguments"
expect_valid_dump mh-conf-sev
mh_log "ok: stale arguments reported and removed"

# An element written behind virt-mh's back with a bad value (here with
# virsh): show refuses to guess, enable replaces it with a valid one.
mh_virsh 1 metadata mh-conf-sev --config --uri "$NS" --key mh \
    --set '<helper mode="auto"><vcpus>12</vcpus></helper>' >/dev/null
run_cmd "$WORK/out" "$WORK/err" vmh show mh-conf-sev
[ "$RC" = 1 ] && grep -q "<vcpus> value '12' is out of range 1..8" "$WORK/err" ||
    { cat "$WORK/out" "$WORK/err"; mh_fail "show accepted an out-of-range element"; }
run_cmd "$WORK/out" "$WORK/err" vmh enable mh-conf-sev --vcpus 2
[ "$RC" = 0 ] && grep -q "warning: replacing the unusable <mh:helper>" "$WORK/err" ||
    { cat "$WORK/out" "$WORK/err"; mh_fail "enable did not replace the unusable element"; }
expect_valid_dump mh-conf-sev
grep -qF "value='mirror-helper,id=mh0,mode=auto,vcpus=2,lifetime=on-demand,cipher=aes-256-gcm'" \
    "$WORK/mh-conf-sev.xml" || mh_fail "enable after an unusable element: wrong object"
mh_log "ok: an unusable element is reported by show and replaced by enable"

# NOSEND: the guest owner forbade sending the guest anywhere.
mh_domain_xml "$WORK/nosend-def.xml" mh-conf-nosend 64 "$EMU" --sev 0x0008
mh_virsh 1 define "$WORK/nosend-def.xml" >/dev/null
expect_refused mh-conf-nosend "<policy> 0x0008 has the NOSEND bit (0x0008) set" enable mh-conf-nosend
expect_refused mh-conf-nosend "NOSEND" enable mh-conf-nosend --mode on-request --vcpus 1

echo "PASS: conf commands"
