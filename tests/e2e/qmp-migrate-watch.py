#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Watch a QEMU's migration status through a QMP socket of its own.

    qmp-migrate-watch.py SOCKET --until STATUS[,STATUS...] [--timeout S]
                         [--interval S] [--after-stop]

Polls query-migrate until its status is one of STATUS, then prints
"STATUS SECONDS" (the time it took) and exits 0; exits 1 on timeout (after
printing the statuses seen) or when the monitor cannot be reached.
--after-stop watches the MIGRATION events instead, those after a STOP
event: on an MH migration's source, the real QEMU's own migration (the
device-state phase) starts after the guest was stopped for the final pass,
and this monitor sees the real QEMU's events unfiltered. The e2e tests use it on
the owner monitor, a second QMP monitor that still answers while
libvirt's own requests wait on a job.
"""
import argparse
import json
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("--until", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--after-stop", action="store_true")
    args = parser.parse_args()
    wanted = set(args.until.split(","))

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(args.socket)
    except OSError as e:
        print(f"cannot connect to {args.socket}: {e}", file=sys.stderr)
        return 1
    stream = sock.makefile("rw")

    state = {"stopped": False, "hit": None}
    seen = []

    def note(status):
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in wanted and state["hit"] is None:
            state["hit"] = status

    def handle_event(msg):
        if msg.get("event") == "STOP":
            state["stopped"] = True
        elif msg.get("event") == "MIGRATION" and args.after_stop and state["stopped"]:
            note(msg.get("data", {}).get("status", "none"))

    def command(name):
        stream.write(json.dumps({"execute": name}) + "\n")
        stream.flush()
        while True:
            line = stream.readline()
            if not line:
                raise OSError("the monitor closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg
            handle_event(msg)

    stream.readline()  # greeting
    command("qmp_capabilities")
    start = time.monotonic()
    while time.monotonic() - start < args.timeout:
        if not args.after_stop:
            reply = command("query-migrate")
            note(reply.get("return", {}).get("status", "none"))
        else:
            command("query-status")  # drains the events that came meanwhile
        if state["hit"]:
            print(f"{state['hit']} {time.monotonic() - start:.1f}")
            return 0
        time.sleep(args.interval)
    print(f"timed out after {args.timeout:.0f} s; statuses seen: {' '.join(seen)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
