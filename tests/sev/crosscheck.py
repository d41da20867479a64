#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cross-check of src/sev and `virt-mh owner` against libvirt's own guest-owner
# implementation, /usr/bin/virt-qemu-sev-validate (Debian libvirt-clients-qemu),
# whose classes are driven directly here:
#   1. same firmware, TK and inputs -> the same measurement (with and without
#      kernel hashes), in both directions (libvirt checks ours, ours checks
#      libvirt's computation through `virt-mh owner verify`);
#   2. with a fixed IV, libvirt's LAUNCH_SECRET packet and ours are byte for
#      byte the same (luks-key alias, GUID entries, migration-key entry);
#   3. end to end: our session -> our simulated PSP launches and measures ->
#      libvirt's code attests that measurement and seals a packet -> our PSP
#      opens it and yields exactly libvirt's secret table; a tampered packet
#      is refused.
# Exit 77 (SKIP) with a reason when libvirt's script or its modules are absent.
import base64
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile

VALIDATE = "/usr/bin/virt-qemu-sev-validate"
FIRMWARE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
SYSTEM_PYTHON = "/usr/bin/python3"


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(77)


try:
    import lxml  # noqa: F401
    import cryptography  # noqa: F401
    import libvirt  # noqa: F401
except ImportError as e:
    # The PATH's python3 may be a private one without Debian's modules.
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.path.exists(SYSTEM_PYTHON) and not os.environ.get("MH_CROSSCHECK_REEXEC"):
        os.environ["MH_CROSSCHECK_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    skip("libvirt's virt-qemu-sev-validate needs python3 modules: %s" % e)

if not os.path.exists(VALIDATE):
    skip("%s not installed (Debian package libvirt-clients-qemu)" % VALIDATE)
if not os.path.exists(FIRMWARE):
    skip("%s not installed (Debian package ovmf)" % FIRMWARE)

import importlib.machinery  # noqa: E402
import importlib.util  # noqa: E402

loader = importlib.machinery.SourceFileLoader("sevvalidate", VALIDATE)
spec = importlib.util.spec_from_loader("sevvalidate", loader)
lv = importlib.util.module_from_spec(spec)
loader.exec_module(lv)

BUILD = os.environ.get("MH_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
VIRT_MH = os.path.join(BUILD, "tools", "virt-mh", "virt-mh")
PSP_SIM = os.path.join(BUILD, "tests", "sev", "sev-psp-sim")
for exe in (VIRT_MH, PSP_SIM):
    if not os.access(exe, os.X_OK):
        print("FAIL: %s not built (set MH_BUILD_DIR)" % exe)
        sys.exit(1)

MIGRATION_KEY_GUID = "71f61f7e-c7bf-4ec9-a8cf-41f59a2ee72d"
API = (0, 24, 15)
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print("%s - %s%s" % ("ok" if cond else "not ok", name, (": " + detail) if detail and not cond else ""))


def virt_mh(*args, ok=True):
    p = subprocess.run([VIRT_MH, "owner"] + list(args), capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise RuntimeError("virt-mh owner %s failed: %s" % (args[0], p.stderr))
    return p


def libvirt_vm(measurement, policy):
    return lv.OfflineConfidentialVM(measurement=measurement, api_major=API[0],
                                    api_minor=API[1], build_id=API[2], policy=policy)


class FixedIV:
    """libvirt's build_secrets() draws its IV from os.urandom(16); fix it."""
    def __init__(self, iv):
        self.iv = iv

    def __enter__(self):
        self.saved = lv.os.urandom
        lv.os.urandom = lambda n: self.iv if n == 16 else self.saved(n)

    def __exit__(self, *a):
        lv.os.urandom = self.saved


def measure_args(tk, policy, extra):
    return ["--firmware", FIRMWARE] + extra + [
        "--api-major", str(API[0]), "--api-minor", str(API[1]), "--build-id", str(API[2]),
        "--policy", "%x" % policy, "--tk", tk]


def main():
    tmp = tempfile.mkdtemp(prefix="mh-sev-crosscheck-")
    tk = os.path.join(tmp, "tk.bin")
    with open(tk, "wb") as f:
        f.write(secrets.token_bytes(32))
    kernel = os.path.join(tmp, "vmlinuz")
    initrd = os.path.join(tmp, "initrd")
    with open(kernel, "wb") as f:
        f.write(secrets.token_bytes(5000))
    with open(initrd, "wb") as f:
        f.write(secrets.token_bytes(3000))

    # 1. measurements
    cases = [("plain", 0x1, [], None),
             ("policy 0x33", 0x33, [], None),
             ("kernel hashes", 0x33, ["--kernel", kernel, "--initrd", initrd,
                                      "--cmdline", "console=ttyS0 root=/dev/vda"],
              (kernel, initrd, "console=ttyS0 root=/dev/vda")),
             ("kernel hashes, kernel only", 0x1, ["--kernel", kernel], (kernel, None, None))]
    for name, policy, extra, kern in cases:
        mnonce = secrets.token_bytes(16)
        m = virt_mh("measure", "--mnonce", mnonce.hex(), *measure_args(tk, policy, extra)).stdout.strip()
        vm = libvirt_vm(m, policy)
        vm.load_tk(tk)
        vm.load_firmware(FIRMWARE)
        if kern:
            vm.kernel_table.load_kernel(kern[0])
            if kern[1]:
                vm.kernel_table.load_initrd(kern[1])
            if kern[2]:
                vm.kernel_table.load_cmdline(kern[2])
        reported, computed = vm.get_measurements()
        check("measurement (%s) equals libvirt's" % name, reported == computed,
              "%s != %s" % (reported.hex(), computed.hex()))
        # the other way: libvirt's MAC with its own nonce, checked by us
        lvm = base64.b64encode(computed + base64.b64decode(m)[32:]).decode()
        p = virt_mh("verify", "--measurement", lvm, *measure_args(tk, policy, extra), ok=False)
        check("virt-mh owner verify accepts libvirt's measurement (%s)" % name, p.returncode == 0, p.stderr)
        bad = bytearray(base64.b64decode(m))
        bad[0] ^= 1
        p = virt_mh("verify", "--measurement", base64.b64encode(bad).decode(),
                    *measure_args(tk, policy, extra), ok=False)
        check("virt-mh owner verify rejects a changed measurement (%s)" % name,
              p.returncode == 1 and "does not match" in p.stderr and p.stdout == "", p.stderr)
        vm.measurement = base64.b64encode(bad).decode()
        try:
            vm.attest()
            check("libvirt rejects a changed measurement (%s)" % name, False)
        except lv.AttestationFailedException:
            check("libvirt rejects a changed measurement (%s)" % name, True)

    # 2. identical packets with a fixed IV
    m = virt_mh("measure", "--mnonce", secrets.token_hex(16), *measure_args(tk, 0x33, [])).stdout.strip()
    luks = os.path.join(tmp, "luks")
    other = os.path.join(tmp, "other")
    mkey = os.path.join(tmp, "mk.bin")
    with open(luks, "wb") as f:
        f.write(b"correct horse battery staple")
    with open(other, "wb") as f:
        f.write(secrets.token_bytes(45))
    virt_mh("new-key", "--out", mkey)
    with open(mkey, "rb") as f:
        key = f.read()
    kid = hashlib.sha256(b"mirror-helper key id" + key).digest()[:4]
    entry = os.path.join(tmp, "mk-entry")
    with open(entry, "wb") as f:
        f.write(bytes([1]) + kid + key)   # docs/migration-key.md, computed independently
    guid = "0a9ee2a0-7d3b-4e2f-9a44-6a8f2b0c1d55"
    packets = [("luks-key alias", [("luks-key", luks)], ["--entry", "luks-key:" + luks]),
               ("GUID entry + alias", [(guid, other), ("luks-key", luks)],
                ["--entry", guid + ":" + other, "--entry", "luks-key:" + luks]),
               ("migration-key entry", [(MIGRATION_KEY_GUID, entry)], ["--migration-key", mkey]),
               ("migration-key alias", [(MIGRATION_KEY_GUID, entry)], ["--entry", "migration-key:" + mkey])]
    for name, lv_entries, our_args in packets:
        iv = secrets.token_bytes(16)
        vm = libvirt_vm(m, 0x33)
        vm.load_tk(tk)
        vm.load_firmware(FIRMWARE)
        for g, path in lv_entries:
            vm.secrets_table.load_secret(g, path)
        with FixedIV(iv):
            h64, s64 = vm.build_secrets()
        out = os.path.join(tmp, "pkt-" + name.replace(" ", "_"))
        virt_mh("secret", "--tk", tk, "--measurement", m, "--iv", iv.hex(), "--out", out, *our_args)
        with open(os.path.join(out, "header.b64")) as f:
            ours_h = f.read().strip()
        with open(os.path.join(out, "secret.b64")) as f:
            ours_s = f.read().strip()
        check("packet header (%s) identical to libvirt's" % name, ours_h == h64, "%s != %s" % (ours_h, h64))
        check("packet ciphertext (%s) identical to libvirt's" % name, ours_s == s64)

    # 3. our session and PSP, libvirt's attestation and sealing
    state = os.path.join(tmp, "psp")
    pdh = subprocess.run([PSP_SIM, "pdh", state], capture_output=True, text=True, check=True).stdout
    with open(os.path.join(tmp, "pdh.b64"), "w") as f:
        f.write(pdh)
    sess = os.path.join(tmp, "session")
    virt_mh("session", "--pdh", os.path.join(tmp, "pdh.b64"), "--policy", "0x33", "--out", sess)
    for tamper in (False, True):
        p = subprocess.Popen([PSP_SIM, "launch", state, "0x33", os.path.join(sess, "godh.b64"),
                              os.path.join(sess, "session.b64"), FIRMWARE],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        meas, major, minor, build = p.stdout.readline().split()
        vm = lv.OfflineConfidentialVM(measurement=meas, api_major=int(major), api_minor=int(minor),
                                      build_id=int(build), policy=0x33)
        vm.load_tk(os.path.join(sess, "tk.bin"))
        vm.load_firmware(FIRMWARE)
        try:
            vm.attest()
            attested = True
        except lv.AttestationFailedException:
            attested = False
        vm.secrets_table.load_secret("luks-key", luks)
        vm.secrets_table.load_secret(MIGRATION_KEY_GUID, entry)
        h64, s64 = vm.build_secrets()
        if tamper:
            h = bytearray(base64.b64decode(h64))
            h[10] ^= 0x04   # an IV byte
            h64 = base64.b64encode(h).decode()
        out, err = p.communicate(h64 + "\n" + s64 + "\n", timeout=60)
        if not tamper:
            check("libvirt attests our simulated PSP's measurement", attested)
            check("our PSP opens libvirt's packet", p.returncode == 0, err)
            check("our PSP yields libvirt's secret table",
                  out.strip() == vm.secrets_table.build().hex())
        else:
            check("our PSP refuses libvirt's packet with a changed IV byte",
                  p.returncode == 1 and "MAC does not match" in err and out == "", err)

    subprocess.run(["rm", "-rf", tmp])
    failed = results.count(False)
    print("%d checks, %d failed" % (len(results), failed))
    return 1 if failed else 0


sys.exit(main())
