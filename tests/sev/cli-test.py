#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# `virt-mh owner` command-line tests: results of the good paths and, for
# every kind of bad input (bad base64, wrong lengths, unknown alias,
# unreadable file, wrong curve, bad certificate signature, ...), a clear
# "error: ..." on stderr, exit code 1, nothing on stdout and no output files.
# inject is exercised against real components: libvirt's test driver (a
# paused domain with <launchSecurity type='sev'>) and a real QEMU's QMP
# socket (no SEV on this host: query-sev fails and inject must say so).
import base64
import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MH_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("MH_BUILD_DIR") or os.path.join(SRC, "build")
VIRT_MH = os.path.join(BUILD, "tools", "virt-mh", "virt-mh")
PSP_SIM = os.path.join(BUILD, "tests", "sev", "sev-psp-sim")
FIRMWARE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print("%s - %s%s" % ("ok" if cond else "not ok", name,
                         (": " + detail) if detail and not cond else ""))


def run(*args):
    return subprocess.run([VIRT_MH] + list(args), capture_output=True, text=True)


def snapshot(path):
    """Names, modes and contents under path, to prove nothing changed."""
    if not os.path.exists(path):
        return None
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return ("file", os.stat(path).st_mode, f.read())
    out = {}
    for name in sorted(os.listdir(path)):
        out[name] = snapshot(os.path.join(path, name))
    return out


def expect_fail(name, args, fragment, watch):
    before = [snapshot(w) for w in watch]
    p = run(*args)
    after = [snapshot(w) for w in watch]
    ok = (p.returncode == 1 and p.stdout == "" and p.stderr.startswith("error: ") and
          fragment in p.stderr and before == after)
    check(name, ok, "rc=%d stdout=%r stderr=%r changed=%s" %
          (p.returncode, p.stdout, p.stderr.strip(), before != after))


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
    return path


def main():
    tmp = tempfile.mkdtemp(prefix="mh-sev-cli-")
    # A simulated platform's identity: PDH <- PEK <- OCA/CEK, as on a real host.
    psp = os.path.join(tmp, "psp")
    pdh_raw = base64.b64decode(subprocess.run([PSP_SIM, "pdh", psp], check=True,
                                              capture_output=True, text=True).stdout)
    chain_raw = base64.b64decode(subprocess.run([PSP_SIM, "chain", psp], check=True,
                                                capture_output=True, text=True).stdout)
    pdh = write(os.path.join(tmp, "pdh.b64"), base64.b64encode(pdh_raw) + b"\n")
    chain = write(os.path.join(tmp, "chain.b64"), base64.b64encode(chain_raw))
    out = os.path.join(tmp, "out")

    # ---- session
    p = run("owner", "session", "--pdh", pdh, "--cert-chain", chain, "--policy", "0x33", "--out", out)
    check("session writes godh.b64, session.b64, tk.bin", p.returncode == 0 and
          sorted(os.listdir(out)) == ["godh.b64", "session.b64", "tk.bin"], p.stderr)
    if p.returncode == 0:
        check("tk.bin is 32 bytes, mode 0600",
              os.path.getsize(os.path.join(out, "tk.bin")) == 32 and
              stat.S_IMODE(os.stat(os.path.join(out, "tk.bin")).st_mode) == 0o600)
        godh = base64.b64decode(open(os.path.join(out, "godh.b64")).read())
        sess = base64.b64decode(open(os.path.join(out, "session.b64")).read())
        check("GODH is a 0x824-byte PDH-usage P-384 certificate",
              len(godh) == 0x824 and godh[8:12] == b"\x03\x10\x00\x00" and godh[16] == 2)
        check("session blob is 128 bytes", len(sess) == 128)
    shutil.rmtree(out, ignore_errors=True)

    bad_b64 = write(os.path.join(tmp, "bad.b64"), b"AAAA$$$$\n")
    short = write(os.path.join(tmp, "short.b64"), base64.b64encode(pdh_raw[:100]))
    p256 = bytearray(pdh_raw)
    p256[0x10] = 1
    wrong_curve = write(os.path.join(tmp, "p256.b64"), base64.b64encode(bytes(p256)))
    forged = bytearray(pdh_raw)
    forged[0x05] ^= 1          # API minor: the PEK's signature no longer covers it
    forged_b64 = write(os.path.join(tmp, "forged.b64"), base64.b64encode(bytes(forged)))
    pek_as_pdh = write(os.path.join(tmp, "pek.b64"), base64.b64encode(chain_raw[:0x824]))
    s = ["owner", "session", "--policy", "0x33", "--out", out]
    expect_fail("session: bad base64", s + ["--pdh", bad_b64], "not valid base64", [out])
    expect_fail("session: wrong PDH length", s + ["--pdh", short], "2084 bytes", [out])
    expect_fail("session: wrong curve", s + ["--pdh", wrong_curve], "curve 1", [out])
    expect_fail("session: bad certificate signature", s + ["--pdh", forged_b64, "--cert-chain", chain],
                "signature does not verify", [out])
    expect_fail("session: certificate that is not a PDH", s + ["--pdh", pek_as_pdh], "expected PDH", [out])
    expect_fail("session: unreadable file", s + ["--pdh", os.path.join(tmp, "missing")],
                "cannot read file", [out])
    expect_fail("session: bad chain length", s + ["--pdh", pdh, "--cert-chain", short],
                "expected PEK, OCA and CEK", [out])
    expect_fail("session: bad policy", ["owner", "session", "--pdh", pdh, "--policy", "zz",
                                        "--out", out], "--policy", [out])
    expect_fail("session: no PDH source", ["owner", "session", "--policy", "1", "--out", out],
                "--pdh FILE or -c URI", [out])
    expect_fail("session: missing --out", ["owner", "session", "--pdh", pdh, "--policy", "1"],
                "--out is required", [])
    notdir = write(os.path.join(tmp, "notdir"), b"x")
    expect_fail("session: --out is a file", ["owner", "session", "--pdh", pdh, "--policy", "1",
                                             "--out", notdir], "not a directory", [notdir])
    # a failed run leaves an existing output directory as it was
    os.mkdir(out)
    write(os.path.join(out, "tk.bin"), b"previous")
    expect_fail("session: failure keeps existing outputs", s + ["--pdh", forged_b64, "--cert-chain", chain],
                "signature", [out])
    shutil.rmtree(out)

    # ---- measure / verify
    tk = write(os.path.join(tmp, "tk.bin"), secrets.token_bytes(32))
    mnonce = secrets.token_hex(16)
    common = ["--api-major", "0", "--api-minor", "24", "--build-id", "15", "--policy", "1", "--tk", tk]
    p = run("owner", "measure", "--firmware", FIRMWARE, "--mnonce", mnonce, *common)
    m = p.stdout.strip()
    check("measure prints 48 bytes of base64",
          p.returncode == 0 and len(base64.b64decode(m)) == 48 and base64.b64decode(m)[32:].hex() == mnonce,
          p.stderr)
    digest = hashlib.sha256(open(FIRMWARE, "rb").read()).hexdigest()
    p = run("owner", "measure", "--digest", digest, "--mnonce", mnonce, *common)
    check("measure --digest equals --firmware", p.returncode == 0 and p.stdout.strip() == m, p.stderr)
    p = run("owner", "verify", "--measurement", m, "--firmware", FIRMWARE, *common)
    check("verify accepts, exit 0", p.returncode == 0 and "verified" in p.stdout, p.stderr)
    other_tk = write(os.path.join(tmp, "other-tk.bin"), secrets.token_bytes(32))
    expect_fail("verify: wrong TIK", ["owner", "verify", "--measurement", m, "--firmware", FIRMWARE,
                                      *common[:-1], other_tk], "does not match", [])
    expect_fail("verify: wrong policy", ["owner", "verify", "--measurement", m, "--firmware", FIRMWARE,
                                         *[x if x != "1" else "3" for x in common]], "does not match", [])
    expect_fail("verify: bad base64", ["owner", "verify", "--measurement", "@@@@", "--firmware", FIRMWARE,
                                       *common], "not valid base64", [])
    expect_fail("verify: wrong measurement length",
                ["owner", "verify", "--measurement", base64.b64encode(b"x" * 40).decode(),
                 "--firmware", FIRMWARE, *common], "expected 48 bytes", [])
    short_tk = write(os.path.join(tmp, "short-tk"), b"x" * 31)
    expect_fail("measure: wrong TK length", ["owner", "measure", "--firmware", FIRMWARE, "--mnonce", mnonce,
                                             *common[:-1], short_tk], "exactly 32 bytes", [])
    expect_fail("measure: wrong mnonce length", ["owner", "measure", "--firmware", FIRMWARE,
                                                 "--mnonce", "abcd", *common], "expected 16 bytes", [])
    expect_fail("measure: bad digest", ["owner", "measure", "--digest", "xyz", "--mnonce", mnonce, *common],
                "--digest", [])
    expect_fail("measure: --initrd without --kernel", ["owner", "measure", "--firmware", FIRMWARE,
                                                       "--initrd", tk, "--mnonce", mnonce, *common],
                "--kernel", [])
    expect_fail("measure: API version out of range",
                ["owner", "measure", "--firmware", FIRMWARE, "--mnonce", mnonce,
                 "--api-major", "256", *common[2:]], "--api-major", [])
    expect_fail("measure: unreadable firmware", ["owner", "measure", "--firmware", os.path.join(tmp, "nofw"),
                                                 "--mnonce", mnonce, *common], "cannot read file", [])

    # ---- secret
    luks = write(os.path.join(tmp, "luks"), b"passphrase")
    mk = os.path.join(tmp, "mk.bin")
    p = run("owner", "new-key", "--out", mk)
    check("new-key writes 32 bytes, mode 0600", p.returncode == 0 and os.path.getsize(mk) == 32 and
          stat.S_IMODE(os.stat(mk).st_mode) == 0o600, p.stderr)
    expect_fail("new-key: refuses to overwrite", ["owner", "new-key", "--out", mk], "already exists", [mk])
    sec = ["owner", "secret", "--tk", tk, "--measurement", m, "--out", out]
    p = run(*sec, "--entry", "luks-key:" + luks, "--migration-key", mk)
    check("secret writes header.b64 and secret.b64", p.returncode == 0 and
          sorted(os.listdir(out)) == ["header.b64", "secret.b64"] and
          len(base64.b64decode(open(os.path.join(out, "header.b64")).read())) == 52, p.stderr)
    shutil.rmtree(out, ignore_errors=True)
    expect_fail("secret: unknown alias", sec + ["--entry", "disk-key:" + luks], "unknown secret alias", [out])
    expect_fail("secret: entry without file", sec + ["--entry", "luks-key"], "GUID:FILE", [out])
    expect_fail("secret: unreadable entry file", sec + ["--entry", "luks-key:" + os.path.join(tmp, "none")],
                "cannot read file", [out])
    expect_fail("secret: duplicate GUID", sec + ["--entry", "luks-key:" + luks, "--entry",
                                                 "736869e5-84f0-4973-92ec-06879ce3da0b:" + luks],
                "more than once", [out])
    expect_fail("secret: wrong migration key length", sec + ["--migration-key", luks], "exactly 32 bytes", [out])
    expect_fail("secret: nothing to seal", sec, "nothing to seal", [out])
    expect_fail("secret: wrong IV length", sec + ["--entry", "luks-key:" + luks, "--iv", "00"],
                "expected 16 bytes", [out])
    expect_fail("secret: bad measurement", ["owner", "secret", "--tk", tk, "--measurement", "!!",
                                            "--entry", "luks-key:" + luks, "--out", out], "base64", [out])
    expect_fail("secret: wrong TK length", ["owner", "secret", "--tk", short_tk, "--measurement", m,
                                            "--entry", "luks-key:" + luks, "--out", out], "32 bytes", [out])
    expect_fail("owner: unknown subcommand", ["owner", "bogus"], "unknown owner subcommand", [])

    # ---- inject through libvirt (test driver: real libvirt API code)
    node = write(os.path.join(tmp, "node.xml"), """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>sevguest</name>
    <memory>65536</memory>
    <os><type>hvm</type><loader readonly='yes' type='pflash'>%s</loader></os>
    <launchSecurity type='sev'>
      <cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits><policy>0x0033</policy>
      <dhCert>AAAA</dhCert><session>AAAA</session>
    </launchSecurity>
    <test:runstate>3</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>plain</name><memory>65536</memory><os><type>hvm</type></os>
    <test:runstate>3</test:runstate>
  </domain>
</node>
""" % FIRMWARE, "w")
    uri = "test://" + node
    inj = ["-c", uri, "owner", "inject", "--tk", tk, "--migration-key", mk]
    expect_fail("inject: local connection refused without --insecure", inj + ["sevguest"],
                "not secure", [])
    expect_fail("inject: unknown domain", inj + ["--insecure", "nosuch"], "not found", [])
    expect_fail("inject: domain without SEV", inj + ["--insecure", "plain"], "not configured with SEV", [])
    expect_fail("inject: libvirt's launch security info is read (the test driver has none)",
                inj + ["--insecure", "sevguest"], "launch security info", [])
    expect_fail("inject: no DOMAIN", inj + ["--insecure"], "expected one DOMAIN", [])
    expect_fail("inject: bad --gpa", inj + ["--insecure", "--gpa", "0xzz", "sevguest"], "--gpa", [])
    expect_fail("inject: bad secrets fail before libvirt is touched",
                inj + ["--insecure", "--entry", "nope:" + luks, "sevguest"], "unknown secret alias", [])

    # ---- inject through QMP (a real QEMU; no SEV here)
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        sock = os.path.join(tmp, "qmp.sock")
        q = subprocess.Popen([qemu, "-machine", "none", "-nodefaults", "-display", "none", "-S",
                              "-qmp", "unix:%s,server=on,wait=off" % sock],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        qi = ["owner", "inject", "--qmp", sock, "--tk", tk, "--migration-key", mk, "--firmware", FIRMWARE]
        expect_fail("inject --qmp: refused without --insecure", qi, "--insecure", [])
        expect_fail("inject --qmp: QEMU without SEV reports why", qi + ["--insecure"],
                    "does not run with SEV", [])
        expect_fail("inject --qmp: needs --firmware", ["owner", "inject", "--qmp", sock, "--tk", tk,
                                                      "--migration-key", mk, "--insecure"], "--firmware", [])
        q.terminate()
        q.wait()
        expect_fail("inject --qmp: no socket", qi + ["--insecure"], "cannot connect", [])
    else:
        print("# qemu-system-x86_64 not found: QMP checks skipped")

    shutil.rmtree(tmp, ignore_errors=True)
    failed = results.count(False)
    print("%d checks, %d failed" % (len(results), failed))
    return 1 if failed else 0


sys.exit(main())
