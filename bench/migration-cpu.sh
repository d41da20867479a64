#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# CPU time spent on one migration, for the migration benchmark
# (bench/migration-bench.sh).
#
#   bench/migration-cpu.sh PATTERN LAB_DIR OUT_FILE
#
# Every 100 ms, finds the processes whose command line contains PATTERN
# (e.g. "guest=DOM,": libvirt names the domain that way on QEMU's command
# line, and qemu-mh gets the same arguments) and records their CPU time
# (utime + stime of the whole process, exited threads included) and that of
# their guest vCPU threads (QEMU names them "CPU N/TCG" or "CPU N/KVM").
# Prints "ready" once the first sample is taken.  On SIGTERM it takes a last
# sample and writes OUT_FILE:
#   pid PID host=N exe=NAME cpu=S vcpu=S
#   total host=N cpu=S            (cpu minus vcpu: the migration's share)
# cpu/vcpu are the growth since the sampler started (a process that appears
# later counts from 0).  A process that exits between two samples loses at
# most its last 100 ms, which is why the sampler runs that often.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PATTERN LAB_DIR OUT_FILE" >&2; exit 1; }
exec /usr/bin/python3 - "$@" <<'EOF'
import os, re, signal, sys, time

pattern, lab, out = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3]
hz = os.sysconf("SC_CLK_TCK")
vcpu_re = re.compile(rb"^CPU \d+/")
host_re = re.compile(re.escape(lab) + rb"/host(\d+)/")
seen = {}       # pid -> dict(host, exe, cpu0, vcpu0, cpu, vcpu)
started = False


def ticks(stat):
    # fields after "(comm) ": state ppid ... utime(12) stime(13)
    rest = stat[stat.rindex(b")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def sample():
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            if pid not in seen:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                if pattern not in cmd:
                    continue
                m = host_re.search(cmd)
                if not m:
                    continue
                exe = os.path.basename(cmd.split(b"\0")[0]).decode(errors="replace")
                rec = {"host": int(m.group(1)), "exe": exe, "cpu": 0, "vcpu": 0, "cpu0": 0}
                seen[pid] = rec
                new = True
            else:
                rec = seen[pid]
                new = False
            with open("/proc/%d/stat" % pid, "rb") as f:
                cpu = ticks(f.read())
            if new:
                # present at the start: count from now; appeared later: from 0
                rec["cpu0"] = cpu if not started else 0
                rec["threads"] = {}
            # vCPU threads one by one: a thread that has exited keeps its
            # last value (a QEMU that is shutting down loses them first)
            for t in os.listdir("/proc/%d/task" % pid):
                try:
                    with open("/proc/%d/task/%s/comm" % (pid, t), "rb") as f:
                        if not vcpu_re.match(f.read()):
                            continue
                    with open("/proc/%d/task/%s/stat" % (pid, t), "rb") as f:
                        v = ticks(f.read())
                except OSError:
                    continue
                base = rec["threads"].get(t, (v if new and not started else 0, 0))[0]
                rec["threads"][t] = (base, v)
            rec["cpu"] = cpu
            rec["vcpu"] = sum(last - base for base, last in rec["threads"].values())
        except (OSError, ValueError, IndexError):
            pass        # the process exited: keep its last sample


def finish(*_):
    sample()
    lines, tot = [], {}
    for pid, r in sorted(seen.items()):
        cpu = (r["cpu"] - r["cpu0"]) / hz
        vcpu = r["vcpu"] / hz
        lines.append("pid %d host=%d exe=%s cpu=%.2f vcpu=%.2f" % (pid, r["host"], r["exe"], cpu, vcpu))
        tot[r["host"]] = tot.get(r["host"], 0) + cpu - vcpu
    for h in sorted(tot):
        lines.append("total host=%d cpu=%.2f" % (h, tot[h]))
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)
    os._exit(0)


signal.signal(signal.SIGTERM, finish)
sample()
started = True
print("ready", flush=True)
while True:
    time.sleep(0.1)
    sample()
EOF
