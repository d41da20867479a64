/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV launch as the software PSP and the guest owner see it, fed by a
 * host that controls every byte between them: LAUNCH_START's GODH
 * certificate and session blob, LAUNCH_SECRET's header and packet, the
 * measurement and report the owner reads. Any bytes give an error or
 * success, never a crash, leak or UB. The oracles are what the owner's
 * secret relies on: the platform accepts a (edited) LAUNCH_START only
 * if it then holds the owner's TEK/TIK and policy (the owner verifies
 * its measurement); it accepts a LAUNCH_SECRET packet only as the owner
 * sealed it, and decrypts it to the owner's table; the owner injects only
 * after the very report the platform made, which the platform accepts. */
#include "owner/mh-owner-launch.h"
#include "owner/mh-sev-owner.h"
#include "sim/psp/mh-sev-platform.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POLICY 0x0001u
#define START_SIZE (MH_SEV_CERT_SIZE + MH_SEV_SESSION_SIZE)

static struct {
    MhSevPlatform *platform;
    MhSevOwnerSession *owner;
    uint8_t start[START_SIZE];          /* GODH certificate || session blob */
    uint8_t digest[MH_SEV_DIGEST_SIZE]; /* of an empty launch */
} fx;

/* The platform keeps its identity in the current directory (run.sh runs
 * in the target's build directory); the owner's session is for its PDH. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GBytes) pdh_bytes = NULL;
    g_autoptr(MhSevCert) pdh = NULL;
    g_autoptr(GBytes) godh = NULL;
    g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
    g_autoptr(GError) err = NULL;
    size_t len;

    (void)argc;
    (void)argv;
    fx.platform = mhSevPlatformLoadOrCreate("psp-state", &err);
    g_assert_no_error(err);
    pdh_bytes = mhSevPlatformGetPdh(fx.platform);
    pdh = mhSevCertParse(g_bytes_get_data(pdh_bytes, &len), g_bytes_get_size(pdh_bytes), &err);
    g_assert_no_error(err);
    fx.owner = mhSevOwnerSessionNew(pdh, POLICY, &err);
    g_assert_no_error(err);
    godh = mhSevCertToBytes(fx.owner->godh);
    memcpy(fx.start, g_bytes_get_data(godh, &len), MH_SEV_CERT_SIZE);
    memcpy(fx.start + MH_SEV_CERT_SIZE, &fx.owner->session, MH_SEV_SESSION_SIZE);
    g_assert(mhSevOwnerLaunchDigest(empty, NULL, fx.digest, NULL));
    return 0;
}

static void
fail(const char *what)
{
    /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
    fprintf(stderr, "%s\n", what);
    abort();
}

static void
needError(bool ok, const GError *err)
{
    if (!ok && (!err || !err->message))
        fail("refused without an error");
}

/* Edits (offset BE16, xor) from the input; true if any byte changed. */
static bool
applyEdits(uint8_t *buf, size_t len, const uint8_t *data, size_t size)
{
    bool changed = false;

    for (size_t i = 0; i + 2 < size; i += 3) {
        buf[(data[i] << 8 | data[i + 1]) % len] ^= data[i + 2];
        changed |= data[i + 2] != 0;
    }
    return changed;
}

static MhSevLaunch *
start(const uint8_t *buf, uint32_t policy, GError **error)
{
    g_autoptr(GBytes) godh = g_bytes_new(buf, MH_SEV_CERT_SIZE);
    g_autoptr(GBytes) session = g_bytes_new(buf + MH_SEV_CERT_SIZE, MH_SEV_SESSION_SIZE);

    return mhSevLaunchStart(fx.platform, policy, godh, session, error);
}

/* LAUNCH_START with the owner's GODH and session, edited, under a policy
 * the host may change: accepted only with the owner's keys and policy. */
static void
fuzzStart(const uint8_t *data, size_t size)
{
    uint8_t buf[START_SIZE];
    uint8_t m[MH_SEV_MEASUREMENT_SIZE];
    uint32_t policy = POLICY ^ (size >= 4 ? mhUtilGetLE32(data) : 0);
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(GError) err = NULL;
    MhSevBuild build;

    memcpy(buf, fx.start, sizeof(buf));
    if (size >= 4)
        applyEdits(buf, sizeof(buf), data + 4, size - 4);
    if (!(launch = start(buf, policy, &err))) {
        needError(false, err);
        return;
    }
    build = mhSevLaunchGetBuild(launch);
    g_assert(mhSevLaunchMeasure(launch, m, NULL));
    if (!mhSevOwnerVerify(fx.owner->tk, &build, POLICY, fx.digest, m, sizeof(m), &err)) {
        fprintf(stderr, "LAUNCH_START accepted an edited session, policy 0x%x: %s\n",
                policy, err->message);
        abort();
    }
}

/* Raw bytes: GODH, session (either may be missing), a packet header,
 * a measurement as text. */
static void
fuzzRaw(const uint8_t *data, size_t size)
{
    size_t n = MIN(size, (size_t)MH_SEV_CERT_SIZE);
    g_autoptr(GBytes) godh = g_bytes_new(data, n);
    g_autoptr(GBytes) session = g_bytes_new(data + n, size - n);
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *text = g_strndup((const char *)data, size);
    uint8_t m[MH_SEV_MEASUREMENT_SIZE];
    MhSevPacketHeader hdr;
    bool ok;

    launch = mhSevLaunchStart(fx.platform, POLICY, size % 3 ? godh : NULL,
                              size % 3 == 1 ? NULL : session, &err);
    needError(launch != NULL, err);
    g_clear_error(&err);
    if ((ok = mhSevPacketHeaderParse(data, size, &hdr, &err))) {
        uint8_t out[MH_SEV_PACKET_HEADER_SIZE];

        mhSevPacketHeaderFormat(&hdr, out);
        if (size != sizeof(out) || memcmp(out, data, size) != 0)
            fail("a packet header formats to other bytes");
    }
    needError(ok, err);
    g_clear_error(&err);
    if ((ok = mhOwnerParseMeasurement(text, m, &err))) {
        g_autofree char *again = g_base64_encode(m, sizeof(m));
        uint8_t m2[MH_SEV_MEASUREMENT_SIZE];

        if (!mhOwnerParseMeasurement(again, m2, NULL) || memcmp(m, m2, sizeof(m)) != 0)
            fail("a measurement does not parse again to the same bytes");
    }
    needError(ok, err);
}

/* A launch with the owner's session, measured: what LAUNCH_SECRET needs. */
static MhSevLaunch *
measuredLaunch(uint8_t m[MH_SEV_MEASUREMENT_SIZE])
{
    g_autoptr(GError) err = NULL;
    MhSevLaunch *launch = start(fx.start, POLICY, &err);

    g_assert_no_error(err);
    g_assert(mhSevLaunchMeasure(launch, m, &err));
    return launch;
}

/* LAUNCH_SECRET: the owner seals a table; the host edits header and
 * packet, may cut the header. Accepted only as sealed, and then it
 * decrypts to the owner's table. */
static void
fuzzSecret(const uint8_t *data, size_t size)
{
    uint8_t m[MH_SEV_MEASUREMENT_SIZE], header[MH_SEV_PACKET_HEADER_SIZE];
    g_autoptr(MhSevLaunch) launch = measuredLaunch(m);
    size_t plen = size ? 1 + data[0] % 64 : 1, hlen;
    g_autofree uint8_t *plain = g_malloc0(plen);
    g_autoptr(GBytes) ct = NULL, hb = NULL, cb = NULL, out = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *buf = NULL;
    bool changed;

    memcpy(plain, data + (size ? 1 : 0), MIN(plen, size ? size - 1 : 0));
    g_assert(mhSevOwnerSeal(fx.owner->tk, m, sizeof(m), plain, plen, NULL, header, &ct, NULL));
    buf = g_malloc(sizeof(header) + plen);
    memcpy(buf, header, sizeof(header));
    memcpy(buf + sizeof(header), g_bytes_get_data(ct, NULL), plen);
    changed = size > plen + 1 && applyEdits(buf, sizeof(header) + plen, data + 1 + plen,
                                            size - 1 - plen);
    hlen = size > 1 && data[1] == 0x5a ? data[size - 1] % sizeof(header) : sizeof(header);
    hb = g_bytes_new(buf, hlen);
    cb = g_bytes_new(buf + sizeof(header), plen);
    if (!mhSevLaunchSecret(launch, hb, cb, &out, &err)) {
        needError(false, err);
        if (!changed && hlen == sizeof(header))
            fail("LAUNCH_SECRET refused the packet the owner sealed");
        return;
    }
    if (hlen != sizeof(header) ||
        memcmp(buf, header, sizeof(header)) != 0 ||
        memcmp(buf + sizeof(header), g_bytes_get_data(ct, NULL), plen) != 0)
        fail("LAUNCH_SECRET accepted a packet the owner did not seal");
    if (g_bytes_get_size(out) != plen || memcmp(g_bytes_get_data(out, NULL), plain, plen) != 0)
        fail("LAUNCH_SECRET decrypted to another table");
}

/* The owner's flow against a back end that reports the platform's
 * launch with the host's edits and injects into the platform. */
typedef struct {
    MhSevLaunch *launch;
    MhOwnerLaunchReport real, told;
    bool injected;
    GBytes *table;
} Attest;

static bool
attestReport(gpointer data, MhOwnerLaunchReport *report, GError **error)
{
    Attest *a = data;

    (void)error;
    *report = a->told;
    return true;
}

static bool
attestInject(gpointer data, const char *header_b64, const char *secret_b64,
             const uint64_t *gpa, GError **error)
{
    Attest *a = data;
    g_autoptr(GBytes) header = NULL;
    g_autoptr(GBytes) secret = NULL;

    (void)gpa;
    a->injected = true;
    if (!mhUtilDecodeBase64("header", header_b64, &header, error) ||
        !mhUtilDecodeBase64("secret", secret_b64, &secret, error))
        fail("the owner injected a packet that is not base64");
    if (!mhSevLaunchSecret(a->launch, header, secret, &a->table, error))
        fail("the platform refused the packet of an attested launch");
    return true;
}

static bool
reportEqual(const MhOwnerLaunchReport *a, const MhOwnerLaunchReport *b)
{
    return a->build.api_major == b->build.api_major && a->build.api_minor == b->build.api_minor &&
        a->build.build_id == b->build.build_id && a->policy == b->policy &&
        memcmp(a->measurement, b->measurement, sizeof(a->measurement)) == 0;
}

static void
fuzzAttest(const uint8_t *data, size_t size)
{
    static const MhOwnerLaunchOps ops = { attestReport, attestInject };
    Attest a = { 0 };
    MhOwnerLaunch launch = { &ops, &a };
    g_autoptr(MhSevLaunch) platform_launch = NULL;
    g_autoptr(MhSecret) table = mhSecretNewFrom("owner's secret table", 20);
    g_autoptr(GError) err = NULL;
    uint32_t want = POLICY;
    bool ok;

    platform_launch = measuredLaunch(a.real.measurement);
    a.launch = platform_launch;
    a.real.build = mhSevLaunchGetBuild(platform_launch);
    a.real.policy = mhSevLaunchGetPolicy(platform_launch);
    a.told = a.real;
    applyEdits((uint8_t *)&a.told, sizeof(a.told), data + (size ? 1 : 0), size ? size - 1 : 0);
    ok = mhOwnerAttestInject(&launch, fx.owner->tk, fx.digest,
                             size && data[0] & 1 ? &want : NULL, table, NULL, NULL, NULL, &err);
    needError(ok, err);
    if (a.injected && !reportEqual(&a.told, &a.real))
        fail("the owner injected after a report the platform did not make");
    if (ok && (!a.table || g_bytes_get_size(a.table) != table->len ||
               memcmp(g_bytes_get_data(a.table, NULL), table->data, table->len) != 0))
        fail("the platform decrypted the owner's table to something else");
    if (!ok && reportEqual(&a.told, &a.real))
        fail("the owner refused the platform's own report");
    g_clear_pointer(&a.table, g_bytes_unref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzzStart(data + 1, size - 1); break;
    case 1: fuzzRaw(data + 1, size - 1); break;
    case 2: fuzzSecret(data + 1, size - 1); break;
    default: fuzzAttest(data + 1, size - 1);
    }
    return 0;
}
