#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fail when a man page misses what the program offers.

Usage: check-man.py SOURCE_ROOT VIRT_MH VIRT_MHD

virt-mh: the commands come from its top-level usage text, a family's
subcommands from the family's usage text, and the options from each
command's and subcommand's --help. docs/man/virt-mh.rst must have a section
titled with each command ("enable") and subcommand ("owner session"), and
each option must be described in its command's section: named in a
definition-list term there (a line at the margin followed by an indented
description), or in the family's own text for a subcommand ("broker" for
"broker enroll"), or in the OPTIONS section for the options every command
takes (-c/--connect, -h/--help). A mere mention in running text does not
count. virt-mhd: every option of virt-mhd --help, the same way, in the
OPTIONS section of docs/man/virt-mhd.rst."""
import os
import pathlib
import re
import subprocess
import sys

OPTION_LINE = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)")
LIST_LINE = re.compile(r"^  (\S+)\s")
UNDERLINE = re.compile(r"^([=\-~^\"'`#*+.:_])\1+\s*$")

env = dict(os.environ, LC_ALL="C", LANGUAGE="")


def run(*argv):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"check-man: '{' '.join(argv)}' failed ({proc.returncode}): "
                 f"{proc.stderr.strip()}")
    return proc.stdout


def listed(text, header):
    """Names listed under 'header' ("Commands:") in a usage text."""
    names, inside = [], False
    for line in text.splitlines():
        if line.strip() == header:
            inside = True
        elif inside and not line.strip():
            break
        elif inside and (m := LIST_LINE.match(line)):
            names.append(m.group(1))
    return names


def options(text):
    """Options of a GLib --help text: ['--mode', '-n', '--hosts', ...]."""
    found = []
    for line in text.splitlines():
        if m := OPTION_LINE.match(line):
            if m.group(1):
                found.append("-" + m.group(1))
            found.append("--" + m.group(2))
    return found


def sections(rst):
    """Section title -> the definition-list terms of its own text (up to
    the next title of any level) and of its whole text (up to the next
    title of its level or above)."""
    lines = rst.splitlines()
    styles, heads = [], []
    for i in range(1, len(lines)):
        title, under = lines[i - 1].strip(), lines[i]
        m = UNDERLINE.match(under)
        if not title or not m or len(under.rstrip()) < len(title) or UNDERLINE.match(title):
            continue
        over = i >= 2 and lines[i - 2].rstrip() == under.rstrip()
        style = (m.group(1), over)
        if style not in styles:
            styles.append(style)
        heads.append((i - 1, styles.index(style), title))
    def terms(first, last):
        return "\n".join(lines[i] for i in range(first, last - 1)
                         if lines[i].strip() and not lines[i][0].isspace()
                         and lines[i + 1][:1].isspace() and lines[i + 1].strip())

    result = {}
    for n, (start, level, title) in enumerate(heads):
        end = own_end = len(lines)
        if n + 1 < len(heads):
            own_end = heads[n + 1][0]
        for later_start, later_level, _ in heads[n + 1:]:
            if later_level <= level:
                end = later_start
                break
        result[title] = {"own": terms(start + 2, own_end), "all": terms(start + 2, end)}
    return result


def mentions(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def check(page, section, text, wanted, what, problems):
    for option in wanted:
        if not mentions(text, option):
            problems.append(f"{page}: {what} {option} is not described in section '{section}'")


def main():
    root = pathlib.Path(sys.argv[1])
    virt_mh, virt_mhd = sys.argv[2], sys.argv[3]
    problems = []
    counts = {"commands": 0, "subcommands": 0, "options": 0}

    page = "docs/man/virt-mh.rst"
    secs = sections((root / page).read_text())
    global_opts = {"-c", "--connect", "-h", "--help"}
    top = run(virt_mh, "--help")
    commands = listed(top, "Commands:")
    if not commands:
        sys.exit("check-man: no commands in 'virt-mh --help'")
    targets = []            # (title, argv)
    for cmd in commands:
        counts["commands"] += 1
        text = run(virt_mh, cmd, "--help")
        subs = listed(text, "Subcommands:")
        targets.append((cmd, None if subs else [cmd]))
        for sub in subs:
            counts["subcommands"] += 1
            targets.append((f"{cmd} {sub}", [cmd, sub]))
    seen_global = set()
    for title, argv in targets:
        opts = options(run(virt_mh, *argv, "--help")) if argv else []
        own = [o for o in opts if o not in global_opts]
        seen_global.update(o for o in opts if o in global_opts)
        counts["options"] += len(own)
        print(f"virt-mh {title}: {' '.join(own) if own else '(no options of its own)'}")
        if title not in secs:
            problems.append(f"{page}: no section for command '{title}'")
            continue
        family = title.split()[0] if " " in title else None
        text = secs[title]["all"] + "\n" + (secs[family]["own"] if family in secs else "")
        check(page, title, text, own, "option", problems)
    # Global options, and -V/--version, which no usage text lists.
    for flag in ("-V", "--version"):
        if subprocess.run([virt_mh, flag], capture_output=True, env=env).returncode == 0:
            seen_global.add(flag)
    print(f"virt-mh global: {' '.join(sorted(seen_global))}")
    check(page, "OPTIONS", secs.get("OPTIONS", {}).get("all", ""), sorted(seen_global),
          "global option", problems)
    counts["options"] += len(seen_global)

    page = "docs/man/virt-mhd.rst"
    secs = sections((root / page).read_text())
    opts = options(run(virt_mhd, "--help"))
    print(f"virt-mhd: {' '.join(opts)}")
    counts["options"] += len(opts)
    check(page, "OPTIONS", secs.get("OPTIONS", {}).get("all", ""), opts, "option", problems)

    for p in problems:
        print(p)
    print(f"checked {counts['commands']} commands, {counts['subcommands']} subcommands and "
          f"{counts['options']} options: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
