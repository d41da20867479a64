#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The German catalog: complete and well-formed (msgfmt -c), and used:
# "virt-mh validate BAD.xml" in a generated de_DE.UTF-8 locale prints the
# translated error, and the C locale the English one.
set -uo pipefail
src=${MH_SOURCE_DIR:?}
build=${MH_BUILD_DIR:?}
command -v msgfmt >/dev/null || { echo "SKIP: msgfmt not installed (package gettext)"; exit 77; }
command -v localedef >/dev/null && [ -d /usr/share/i18n/locales ] ||
    { echo "SKIP: localedef or the locale sources are missing (package locales)"; exit 77; }
stats=$(msgfmt -c --statistics -o /dev/null "$src/po/de.po" 2>&1) || { echo "FAIL: msgfmt -c: $stats"; exit 1; }
echo "de.po: $stats"
case $stats in
    *fuzzy*|*untranslated*) echo "FAIL: de.po is not complete"; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
localedef -i de_DE -f UTF-8 "$tmp/de_DE.UTF-8" 2>/dev/null || { echo "FAIL: localedef de_DE.UTF-8"; exit 1; }
mkdir -p "$tmp/locale/de/LC_MESSAGES"
msgfmt -o "$tmp/locale/de/LC_MESSAGES/mirror-helper.mo" "$src/po/de.po"
bad=$src/tests/data/bad-mode-invalid.xml
en=$(LC_ALL=C.UTF-8 "$build/tools/virt-mh/virt-mh" validate "$bad" 2>&1)
de=$(LOCPATH=$tmp LC_ALL=de_DE.UTF-8 MH_LOCALEDIR=$tmp/locale "$build/tools/virt-mh/virt-mh" validate "$bad" 2>&1)
rc=$?
echo "C:     $en"
echo "de_DE: $de"
[ "$rc" != 0 ] || { echo "FAIL: validate of a bad file succeeded"; exit 1; }
[ "$de" != "$en" ] || { echo "FAIL: the German locale printed the English text"; exit 1; }
grep -q 'mode' <<<"$de" || { echo "FAIL: the German error lost the element's value"; exit 1; }
echo "PASS: German catalog complete and used"
