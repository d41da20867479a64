#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fail when a source file that marks strings with _() or N_() is missing
from po/POTFILES, or when POTFILES names a file that does not exist."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
listed = set()
for line in (root / "po" / "POTFILES").read_text().splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        listed.add(line)

marker = re.compile(r"\b_\(|\bN_\(")
using = set()
for area in ("src", "sim", "lab", "tools"):
    for path in (root / area).rglob("*.c"):
        if marker.search(path.read_text(errors="replace")):
            using.add(str(path.relative_to(root)))

missing = sorted(using - listed)
stale = sorted(p for p in listed if not (root / p).exists())
for p in missing:
    print(f"po/POTFILES is missing {p}, which has translatable strings")
for p in stale:
    print(f"po/POTFILES names {p}, which does not exist")
print(f"{len(using)} files with translatable strings, {len(listed)} listed")
sys.exit(1 if missing or stale else 0)
