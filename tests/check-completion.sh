#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion of virt-mh, driven as bash drives it: commands,
# subcommands, a command's options, an option's values, and domain names
# from a libvirt connection (libvirt's test:///default driver, whose
# domain is "test").
set -uo pipefail
src=${MH_SOURCE_DIR:?}
build=${MH_BUILD_DIR:?}
bc=/usr/share/bash-completion/bash_completion
[ -f "$bc" ] || { echo "SKIP: bash-completion is not installed (package bash-completion)"; exit 77; }
command -v virsh >/dev/null || { echo "SKIP: virsh is not installed"; exit 77; }
export PATH=$build/tools/virt-mh:$PATH
# shellcheck disable=SC1090
source "$bc"
# shellcheck disable=SC1091
source "$src/data/virt-mh.bash-completion"
fail=0
complete_line() {  # complete_line WORDS...: COMPREPLY for the last word
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _virt_mh virt-mh "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}"
}
expect() {  # expect WANT WORDS...: WANT among the completions
    local want=$1 got
    shift
    got=$(complete_line "$@")
    if grep -qx -- "$want" <<<"$got"; then
        echo "ok: '$*' offers '$want'"
    else
        echo "FAIL: '$*' does not offer '$want' (got: $(tr '\n' ' ' <<<"$got"))"
        fail=1
    fi
}
expect migrate virt-mh mi
expect start virt-mh ""
expect trust-platform virt-mh broker tr
expect restart virt-mh lab re
expect --key-broker= virt-mh enable --key
expect --sev-helper virt-mh migrate --sev
expect on-request virt-mh enable --mode on
expect chacha20-poly1305 virt-mh enable --cipher cha
expect test virt-mh -c test:///default enable te
expect test virt-mh --connect=test:///default start ""
[ "$fail" = 0 ] && echo "PASS: virt-mh's bash completion" || exit 1
