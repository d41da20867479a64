#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layers of docs/HACKING.md, held: every #include "dir/..." of a C
file must name a layer its own layer may use.

    check-layers.py SOURCE_ROOT

Product:    util <- conf <- owner <- virt <- tools
            owner <- broker <- tools (the broker and the hook never
            link libvirt: a hook must not call back into it)
Simulation: sim/psp, sim/mh, sim/qemu, sim/qemu-mh may use util, conf,
            owner and the simulation; the product never uses it.
Lab/demo:   lab/ may use the product and the broker (not the simulation); only the
            virt-mh tool links it.
"""
import os
import re
import sys

PRODUCT = ["util", "conf", "owner", "virt"]
SIM = ["sim/psp", "sim/mh", "sim/qemu"]

# directory of the including file -> include prefixes it may use
ALLOWED = {
    "src/util": ["util"],
    "src/conf": ["util", "conf"],
    "src/owner": ["util", "conf", "owner"],
    "src/virt": PRODUCT,
    "src/broker": ["util", "conf", "owner", "broker"],
    "tools/virt-mh": PRODUCT + ["broker", "lab"],
    "tools/mh-hook": ["util", "conf", "owner", "broker"],
    "tools/common": PRODUCT + ["broker"],
    "tools/virt-mhd": PRODUCT + ["broker"],
    "lab": PRODUCT + ["broker", "lab"],
    "sim/psp": ["util", "conf", "owner", "sim/psp"],
    "sim/mh": ["util", "conf", "owner", "sim/mh"],
    "sim/qemu": ["util", "conf", "owner"] + SIM,
    "sim/qemu-mh": ["util", "conf", "owner"] + SIM,
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    """The include prefix a header path names: 'sim/qemu/mh-qemu.h' ->
    'sim/qemu', 'conf/mh-conf.h' -> 'conf', 'mh-cmd.h' -> None (local)."""
    parts = path.split("/")
    if len(parts) == 1:
        return None
    if parts[0] == "sim" and len(parts) > 2:
        return "sim/" + parts[1]
    return parts[0]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = []
    checked = 0
    for top in ("src", "sim", "lab", "tools"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.join(rel_dir, name)
                allowed = ALLOWED.get(rel_dir)
                if allowed is None:
                    problems.append(f"{rel}: directory '{rel_dir}' is in no layer "
                                    "(add it to tests/check-layers.py and docs/HACKING.md)")
                    continue
                checked += 1
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    layer = layer_of(inc)
                    if layer is not None and layer not in allowed:
                        problems.append(f"{rel}: includes \"{inc}\" ({layer}), but {rel_dir} "
                                        f"may only use {', '.join(allowed)}")
    for p in problems:
        print(f"layer violation: {p}")
    print(f"{checked} files checked, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
