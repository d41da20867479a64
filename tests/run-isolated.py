#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run one test so that nothing of it outlives it, whether it passes, fails
or is killed by meson's timeout.

    run-isolated.py COMMAND [ARGS...]

The test runs with MH_TEST_RUN set to a fresh run directory (also its
TMPDIR).  Every process that inherits that variable belongs to the test;
so does every process whose HOME, working directory or command line lies in
a directory the test registered by appending its path to
$MH_TEST_RUN/dirs (tests/e2e/lib.sh does this for lab and scratch
directories: libvirtd and the QEMUs it starts get a clean environment, and
`qemu-mh -daemonize` leaves the test's process group).

When the test ends, those processes get SIGTERM, then SIGKILL, and the
registered directories and the run directory are removed.  A test that
passed but left a process or a registered directory behind is turned into
a failure: leaving nothing behind is part of what every test asserts.

meson's timeout sends SIGTERM to the whole process group and SIGKILL half a
second later, too soon for a cleanup; on SIGTERM this wrapper hands the
cleanup to a janitor in a session of its own and exits at once.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

TERM_GRACE_S = 8.0
KILL_GRACE_S = 5.0
JANITOR_WAIT_S = 30.0


def read_proc(pid, name):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return None


def ancestors(pid):
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        stat = read_proc(pid, "stat")
        if not stat:
            break
        # the command name may hold spaces and parentheses: split after the last ')'
        pid = int(stat[stat.rindex(b")") + 2:].split()[1])
    return chain


def is_zombie(pid):
    stat = read_proc(pid, "stat")
    return stat is None or stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] in (b"Z", b"X")


def under(path, dirs):
    return any(path == d or path.startswith(d + "/") for d in dirs)


def belongs(pid, tag, dirs):
    env = read_proc(pid, "environ")
    if env is not None:
        entries = env.split(b"\0")
        if tag in entries:
            return True
        for e in entries:
            if e.startswith(b"HOME=") and under(os.fsdecode(e[5:]), dirs):
                return True
    cmdline = read_proc(pid, "cmdline")
    if cmdline:
        text = os.fsdecode(cmdline.replace(b"\0", b" "))
        if any(d + "/" in text or text.endswith(d) or d + " " in text for d in dirs):
            return True
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = None
    return bool(cwd) and under(cwd, dirs)


def find_processes(tag, dirs):
    spare = ancestors(os.getpid())
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in spare or is_zombie(pid) or not belongs(pid, tag, dirs):
            continue
        cmd = (read_proc(pid, "cmdline") or b"").replace(b"\0", b" ").strip()
        found[pid] = os.fsdecode(cmd)[:160]
    return found


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def wait_gone(tag, dirs, seconds):
    deadline = time.monotonic() + seconds
    while True:
        left = find_processes(tag, dirs)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def registered_dirs(run_dir):
    dirs = [run_dir]
    try:
        with open(os.path.join(run_dir, "dirs")) as f:
            dirs += [line.strip().rstrip("/") for line in f if line.strip().startswith("/")]
    except OSError:
        pass
    return dirs


def remove_tree(path):
    # a lab holds files of the lab user and read-only ones; as the test's user
    # the tree is ours, so make each directory writable before removing it
    for root, subdirs, _ in os.walk(path):
        for d in subdirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass
    subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)


def clean_up(run_dir, tag, out):
    """Stop what is left of the test and remove its directories; return a
    description of each leftover (empty when the test left nothing)."""
    dirs = registered_dirs(run_dir)
    leftovers = []
    left = find_processes(tag, dirs)
    if left:
        leftovers += [f"process {pid}: {cmd}" for pid, cmd in sorted(left.items())]
        signal_all(left, signal.SIGTERM)
        left = wait_gone(tag, dirs, TERM_GRACE_S)
        if left:
            signal_all(left, signal.SIGKILL)
            left = wait_gone(tag, dirs, KILL_GRACE_S)
        for pid, cmd in sorted(left.items()):
            print(f"run-isolated: process {pid} survived SIGKILL: {cmd}", file=out)
    for d in dirs[1:]:
        if os.path.lexists(d):
            leftovers.append(f"directory {d}")
            remove_tree(d)
    remove_tree(run_dir)
    return leftovers


def janitor(run_dir, tag, test_pid):
    """Detached cleanup after meson's SIGTERM: let the test's own traps run
    first, then take what is left."""
    deadline = time.monotonic() + JANITOR_WAIT_S
    while time.monotonic() < deadline and os.path.exists(f"/proc/{test_pid}") and not is_zombie(test_pid):
        time.sleep(0.2)
    with open(os.devnull, "w") as null:
        clean_up(run_dir, tag, null)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "--janitor":
        janitor(sys.argv[2], sys.argv[3].encode(), int(sys.argv[4]))
        return 0
    if len(sys.argv) < 2:
        print("usage: run-isolated.py COMMAND [ARGS...]", file=sys.stderr)
        return 2

    run_dir = tempfile.mkdtemp(prefix="mht.", dir="/tmp")
    os.chmod(run_dir, 0o755)
    tmp = os.path.join(run_dir, "tmp")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    open(os.path.join(run_dir, "dirs"), "w").close()
    tag = f"MH_TEST_RUN={run_dir}"
    env = dict(os.environ, MH_TEST_RUN=run_dir, TMPDIR=tmp)

    test = subprocess.Popen(sys.argv[1:], env=env)

    def on_term(signum, frame):
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "--janitor", run_dir, tag,
                          str(test.pid)], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    rc = test.wait()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    leftovers = clean_up(run_dir, tag.encode(), sys.stderr)
    if leftovers:
        verdict = "FAIL: the test left behind" if rc in (0, 77) else "cleanup after the failed test:"
        print(f"run-isolated: {verdict}", file=sys.stdout)
        for what in leftovers:
            print(f"    {what}", file=sys.stdout)
        if rc in (0, 77):
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
