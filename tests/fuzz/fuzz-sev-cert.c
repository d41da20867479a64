/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV certificates as the guest owner reads them from the host (PDH and
 * the PEK/OCA/CEK chain of nodesevinfo or a file): any bytes or base64
 * text parse or fail with an error, never crash; a parsed certificate
 * serializes to the very bytes it came from and parses again to the same
 * key; verifying never crashes. The oracle the owner relies on: a
 * signature verifies only over a body its issuer signed, so an input that
 * edits the body of a real PDH or PEK (made at start) never verifies
 * against the real PEK, OCA or CEK, whatever it does to the signatures. */
#include "owner/mh-sev-cert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OCA, PEK, CEK, PDH, NCERTS };

static MhSevCert *real[NCERTS];

static MhSevCert *
makeCert(MhSevUsage usage, EVP_PKEY **key)
{
    MhSevCert *cert;

    *key = mhSevKeyGenerate(NULL);
    g_assert(*key);
    cert = mhSevCertNew(usage, *key, 0, 24, NULL);
    g_assert(cert);
    return cert;
}

/* A platform's certificates, as mhSevPlatformLoadOrCreate makes them. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *key[NCERTS];

    (void)argc;
    (void)argv;
    real[OCA] = makeCert(MH_SEV_USAGE_OCA, &key[OCA]);
    real[PEK] = makeCert(MH_SEV_USAGE_PEK, &key[PEK]);
    real[CEK] = makeCert(MH_SEV_USAGE_CEK, &key[CEK]);
    real[PDH] = makeCert(MH_SEV_USAGE_PDH, &key[PDH]);
    g_assert(mhSevCertSign(real[OCA], 0, MH_SEV_USAGE_OCA, key[OCA], NULL));
    g_assert(mhSevCertSign(real[CEK], 0, MH_SEV_USAGE_CEK, key[CEK], NULL));
    g_assert(mhSevCertSign(real[PEK], 0, MH_SEV_USAGE_OCA, key[OCA], NULL));
    g_assert(mhSevCertSign(real[PEK], 1, MH_SEV_USAGE_CEK, key[CEK], NULL));
    g_assert(mhSevCertSign(real[PDH], 0, MH_SEV_USAGE_PEK, key[PEK], NULL));
    g_assert(mhSevCertVerify(real[PDH], real[PEK], NULL));
    for (int i = 0; i < NCERTS; i++)
        EVP_PKEY_free(key[i]);
    return 0;
}

static void
fail(const char *what)
{
    /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
    fprintf(stderr, "%s\n", what);
    abort();
}

/* Did 'issuer' (one of ours) sign this body? */
static bool
signedBy(const MhSevCert *cert, int issuer)
{
    const uint8_t *body = mhSevCertGetData(cert);

    for (int i = 0; i < NCERTS; i++) {
        bool signs = (issuer == i && (i == OCA || i == CEK)) ||
            (i == PEK && (issuer == OCA || issuer == CEK)) || (i == PDH && issuer == PEK);

        if (signs && memcmp(body, mhSevCertGetData(real[i]), MH_SEV_CERT_BODY_SIZE) == 0)
            return true;
    }
    return false;
}

/* Verify against each of our issuers: no crash, an error when refused,
 * and success only over a body that issuer signed. */
static void
verifyAgainstReal(const MhSevCert *cert)
{
    const int issuers[] = { OCA, PEK, CEK };

    for (size_t i = 0; i < G_N_ELEMENTS(issuers); i++) {
        g_autoptr(GError) err = NULL;

        if (mhSevCertVerify(cert, real[issuers[i]], &err)) {
            if (!signedBy(cert, issuers[i]))
                fail("a certificate body the issuer never signed verified");
        } else if (!err || !err->message) {
            fail("verify refused without an error");
        }
    }
}

/* A parsed certificate: same bytes out, same key when parsed again, from
 * bytes and from base64. */
static void
checkParsed(const MhSevCert *cert, const uint8_t *raw)
{
    g_autoptr(GBytes) bytes = mhSevCertToBytes(cert);
    g_autofree char *b64 = mhSevCertToBase64(cert);
    g_autoptr(MhSevCert) again = NULL;
    g_autoptr(MhSevCert) again64 = NULL;
    size_t len;
    const uint8_t *p = g_bytes_get_data(bytes, &len);

    if (len != MH_SEV_CERT_SIZE || memcmp(p, mhSevCertGetData(cert), len) != 0 ||
        (raw && memcmp(p, raw, len) != 0))
        fail("a parsed certificate serializes to other bytes");
    again = mhSevCertParse(p, len, NULL);
    again64 = mhSevCertParseBase64("certificate", b64, NULL);
    if (!again || !again64)
        fail("a serialized certificate does not parse again");
    if (memcmp(mhSevCertGetData(again64), p, len) != 0 ||
        mhSevCertGetUsage(again) != mhSevCertGetUsage(cert) ||
        mhSevCertGetAlgo(again) != mhSevCertGetAlgo(cert) ||
        mhSevCertGetApiMajor(again) != mhSevCertGetApiMajor(cert) ||
        mhSevCertGetApiMinor(again) != mhSevCertGetApiMinor(cert) ||
        EVP_PKEY_eq(mhSevCertGetKey(again), mhSevCertGetKey(cert)) != 1)
        fail("a certificate parsed again differs");
    g_assert(mhSevUsageTypeToString(mhSevCertGetUsage(cert)));
    verifyAgainstReal(cert);
}

static MhSevCert *
parse(const uint8_t *data, size_t len)
{
    g_autoptr(GError) err = NULL;
    MhSevCert *cert = mhSevCertParse(data, len, &err);

    if (cert)
        checkParsed(cert, data);
    else if (!err || !err->message)
        fail("parse refused without an error");
    return cert;
}

/* The owner's chain check (virt-mh owner session): PDH by PEK, PEK by
 * OCA and by CEK, over certificates the host supplied (here in the order
 * OCA, PEK, CEK, PDH). */
static void
chain(const uint8_t *data, size_t size)
{
    MhSevCert *c[NCERTS] = { NULL };
    size_t n = MIN(size / MH_SEV_CERT_SIZE, NCERTS);

    for (size_t i = 0; i < n; i++)
        c[i] = parse(data + i * MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE);
    if (c[PDH] && c[PEK]) {
        g_autoptr(GError) err = NULL;
        if (!mhSevCertVerify(c[PDH], c[PEK], &err))
            g_assert(err);
    }
    for (int i = 0; c[PEK] && i < 2; i++) {
        MhSevCert *issuer = c[i ? CEK : OCA];
        g_autoptr(GError) err = NULL;

        if (issuer && !mhSevCertVerify(c[PEK], issuer, &err))
            g_assert(err);
    }
    for (int i = 0; i < NCERTS; i++)
        mhSevCertFree(c[i]);
}

/* A real PDH or PEK with edits (offset, xor) anywhere: body or
 * signatures. */
static void
edit(const uint8_t *data, size_t size)
{
    uint8_t buf[MH_SEV_CERT_SIZE];

    if (size < 1)
        return;
    memcpy(buf, mhSevCertGetData(real[data[0] % 2 ? PEK : PDH]), sizeof(buf));
    for (size_t i = 1; i + 2 < size; i += 3)
        buf[(data[i] << 8 | data[i + 1]) % sizeof(buf)] ^= data[i + 2];
    mhSevCertFree(parse(buf, sizeof(buf)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        mhSevCertFree(parse(data + 1, size - 1));
        break;
    case 1: {
        g_autofree char *text = g_strndup((const char *)data + 1, size - 1);
        g_autoptr(GError) err = NULL;
        g_autoptr(MhSevCert) cert = mhSevCertParseBase64("PDH", text, &err);

        if (cert)
            checkParsed(cert, NULL);
        else if (!err || !err->message)
            fail("base64 parse refused without an error");
        break;
    }
    case 2:
        chain(data + 1, size - 1);
        break;
    default:
        edit(data + 1, size - 1);
    }
    return 0;
}
