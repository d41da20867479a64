#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end through qemu-mh's simulated SEV platform (a real QEMU behind
# it): `virt-mh owner session` -> qemu-mh LAUNCH_START/UPDATE/MEASURE ->
# `virt-mh owner inject --qmp` verifies the measurement and injects the
# migration key -> the guest's memory at the secret GPA holds the EFI secret
# table with our migration-key entry (read back with QMP pmemsave).
# A guest launched with other firmware than the owner expects is refused
# and nothing is injected.
# SKIP (77) when qemu-mh, QEMU or OVMF are not available.
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MH_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("MH_BUILD_DIR") or os.path.join(SRC, "build")
VIRT_MH = os.path.join(BUILD, "tools", "virt-mh", "virt-mh")
QEMU_MH = os.path.join(BUILD, "sim", "qemu-mh", "qemu-mh")
PSP_SIM = os.path.join(BUILD, "tests", "sev", "sev-psp-sim")
CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
GPA = 0x800000
TABLE_GUID = bytes.fromhex("42f5741edd71664d963eef4287ff173b")
MK_GUID = bytes.fromhex("7e1ff671bfc7c94ea8cf41f59a2ee72d")
results = []


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(77)


def check(name, cond, detail=""):
    results.append(cond)
    print("%s - %s%s" % ("ok" if cond else "not ok", name, (": " + detail) if detail and not cond else ""))


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())
        self.run("qmp_capabilities")

    def run(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" not in r:
                return r

    def close(self):
        self.s.close()


def start_guest(tmp, name, sess, firmware):
    sock = os.path.join(tmp, name + ".sock")
    vars_copy = os.path.join(tmp, name + "-vars.fd")
    shutil.copy(VARS, vars_copy)
    sev = {"qom-type": "sev-guest", "id": "lsec0", "cbitpos": 47, "reduced-phys-bits": 1,
           "policy": 1, "dh-cert-file": os.path.join(sess, "godh.b64"),
           "session-file": os.path.join(sess, "session.b64")}
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([QEMU_MH, "-machine", "q35,confidential-guest-support=lsec0",
                          "-object", json.dumps(sev), "-m", "128",
                          "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + firmware,
                          "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy,
                          "-qmp", "unix:%s,server=on,wait=off" % sock,
                          "-S", "-display", "none", "-nodefaults"],
                         stdout=log, stderr=subprocess.STDOUT,
                         env=dict(os.environ, MH_QEMU_CONF=os.path.join(tmp, "qemu-mh.conf")))
    for _ in range(300):
        if os.path.exists(sock) or p.poll() is not None:
            break
        time.sleep(0.1)
    return p, sock


def main():
    for path in (QEMU_MH, VIRT_MH, PSP_SIM):
        if not os.access(path, os.X_OK):
            skip("%s is not built" % path)
    for path in (CODE, VARS):
        if not os.path.exists(path):
            skip("%s missing (Debian package ovmf)" % path)
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 not installed")

    tmp = tempfile.mkdtemp(prefix="mh-sev-qemu-")
    # qemu-mh's platform identity where the PSP helper below reads it
    with open(os.path.join(tmp, "qemu-mh.conf"), "w") as conf:
        conf.write('platform_dir = "%s"\n' % os.path.join(tmp, "psp"))
    procs = []
    try:
        pdh = subprocess.run([PSP_SIM, "pdh", os.path.join(tmp, "psp")], capture_output=True,
                             text=True, check=True).stdout
        with open(os.path.join(tmp, "pdh.b64"), "w") as f:
            f.write(pdh)
        sess = os.path.join(tmp, "s")
        mk = os.path.join(tmp, "mk.bin")
        subprocess.run([VIRT_MH, "owner", "session", "--pdh", os.path.join(tmp, "pdh.b64"),
                        "--policy", "1", "--out", sess], check=True)
        subprocess.run([VIRT_MH, "owner", "new-key", "--out", mk], check=True)
        key = open(mk, "rb").read()

        # a guest launched with the expected firmware
        p, sock = start_guest(tmp, "good", sess, CODE)
        procs.append(p)
        check("qemu-mh starts a paused SEV guest", p.poll() is None and os.path.exists(sock),
              open(os.path.join(tmp, "good.log")).read()[-500:])
        if p.poll() is not None:
            return 1
        r = subprocess.run([VIRT_MH, "owner", "inject", "--qmp", sock, "--insecure", "--tk",
                            os.path.join(sess, "tk.bin"), "--firmware", CODE, "--migration-key", mk,
                            "--gpa", hex(GPA)], capture_output=True, text=True)
        check("inject --qmp verifies and injects", r.returncode == 0, r.stderr)
        q = Qmp(sock)
        st = q.run("query-sev")
        check("guest stays paused in launch-secret (no cont)",
              st.get("return", {}).get("state") == "launch-secret" and
              q.run("query-status")["return"]["status"] == "prelaunch", json.dumps(st))
        dump = os.path.join(tmp, "secret.bin")
        r2 = q.run("pmemsave", val=GPA, size=4096, filename=dump)
        q.close()
        if "error" in r2 or not os.path.exists(dump):
            check("guest memory readable with pmemsave", False, json.dumps(r2))
        else:
            mem = open(dump, "rb").read()
            total = int.from_bytes(mem[16:20], "little")
            ok = mem[:16] == TABLE_GUID and 20 < total <= 4096
            off, found = 20, None
            while ok and off + 20 <= total:
                elen = int.from_bytes(mem[off + 16:off + 20], "little")
                if elen < 20:
                    break
                if mem[off:off + 16] == MK_GUID:
                    found = mem[off + 20:off + elen]
                off += elen
            kid = hashlib.sha256(b"mirror-helper key id" + key).digest()[:4]
            check("the guest's secret area holds the migration-key entry",
                  found == bytes([1]) + kid + key, mem[:64].hex())
        p.terminate()
        p.wait(timeout=30)

        # a guest launched with other firmware: refused, nothing injected
        p, sock = start_guest(tmp, "bad", sess, CODE.replace("CODE_4M", "CODE_4M.secboot"))
        procs.append(p)
        if p.poll() is None:
            r = subprocess.run([VIRT_MH, "owner", "inject", "--qmp", sock, "--insecure", "--tk",
                                os.path.join(sess, "tk.bin"), "--firmware", CODE, "--migration-key",
                                mk, "--gpa", hex(GPA)], capture_output=True, text=True)
            check("inject refuses an unexpected firmware", r.returncode == 1 and
                  "does not match" in r.stderr, r.stderr)
            log = open(os.path.join(tmp, "bad.log")).read()
            check("nothing was injected", "LAUNCH_SECRET" not in log, log[-300:])
        else:
            print("# secboot OVMF variant not startable: second guest skipped")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    failed = results.count(False)
    print("%d checks, %d failed" % (len(results), failed))
    return 1 if failed else 0


sys.exit(main())
