/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV certificates: parse, build, sign, verify.
 * The chain under test is a simulated platform's (sim/psp/mh-sev-platform),
 * laid out as QEMU's query-sev-capabilities exports it: PDH, then the chain
 * PEK || OCA || CEK. PDH <- PEK, PEK <- OCA, PEK <- CEK, OCA <- OCA. Byte-level
 * known answers for the primitives are in test-sev-crypto.c. */
#include "owner/mh-sev-cert.h"
#include "sim/psp/mh-sev-platform.h"
#include "util/mh-error.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

static char *platformDir;

static GBytes *
loadCert(const char *name)
{
    static const char *const order[] = { "pek", "oca", "cek" };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevPlatform) platform = mhSevPlatformLoadOrCreate(platformDir, &error);
    g_autoptr(GBytes) chain = NULL;

    g_assert_no_error(error);
    if (g_str_equal(name, "pdh"))
        return mhSevPlatformGetPdh(platform);
    chain = mhSevPlatformGetCertChain(platform);
    g_assert_cmpuint(g_bytes_get_size(chain), ==, 3 * MH_SEV_CERT_SIZE);
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        if (g_str_equal(name, order[i]))
            return g_bytes_new_from_bytes(chain, i * MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE);
    }
    g_assert_not_reached();
}

static MhSevCert *
parse(GBytes *b)
{
    g_autoptr(GError) error = NULL;
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    MhSevCert *c = mhSevCertParse(p, len, &error);

    g_assert_no_error(error);
    return c;
}

static void
testPlatformChain(void)
{
    g_autoptr(GBytes) bpdh = loadCert("pdh");
    g_autoptr(GBytes) bpek = loadCert("pek");
    g_autoptr(GBytes) boca = loadCert("oca");
    g_autoptr(GBytes) bcek = loadCert("cek");
    g_autoptr(MhSevCert) pdh = parse(bpdh);
    g_autoptr(MhSevCert) pek = parse(bpek);
    g_autoptr(MhSevCert) oca = parse(boca);
    g_autoptr(MhSevCert) cek = parse(bcek);
    g_autoptr(GBytes) again = mhSevCertToBytes(pdh);
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint(mhSevCertGetUsage(pdh), ==, MH_SEV_USAGE_PDH);
    g_assert_cmpuint(mhSevCertGetAlgo(pdh), ==, MH_SEV_ALGO_ECDH_SHA256);
    g_assert_cmpuint(mhSevCertGetUsage(pek), ==, MH_SEV_USAGE_PEK);
    g_assert_true(g_bytes_equal(again, bpdh));

    g_assert_true(mhSevCertVerify(pdh, pek, &error));
    g_assert_true(mhSevCertVerify(pek, oca, &error));
    g_assert_true(mhSevCertVerify(pek, cek, &error));
    g_assert_true(mhSevCertVerify(oca, oca, &error));
    g_assert_no_error(error);

    g_assert_false(mhSevCertVerify(pek, pdh, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&error);
    g_assert_false(mhSevCertVerify(pdh, oca, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&error);
}

static void
testTamper(void)
{
    g_autoptr(GBytes) bpdh = loadCert("pdh");
    g_autoptr(GBytes) bpek = loadCert("pek");
    g_autoptr(MhSevCert) pek = parse(bpek);
    gsize len;
    const uint8_t *orig = g_bytes_get_data(bpdh, &len);
    /* API version, key coordinates, signature r and s */
    const size_t offsets[] = { 0x005, 0x020, 0x070, 0x41c + 3, 0x41c + 72 + 5 };

    for (size_t i = 0; i < G_N_ELEMENTS(offsets); i++) {
        g_autofree uint8_t *bad = g_memdup2(orig, len);
        g_autoptr(MhSevCert) c = NULL;
        g_autoptr(GError) error = NULL;

        bad[offsets[i]] ^= 0x01;
        c = mhSevCertParse(bad, len, &error);
        if (!c) {
            /* A changed coordinate is no longer on the curve. */
            g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
            g_assert_nonnull(strstr(error->message, "P-384"));
            continue;
        }
        g_assert_false(mhSevCertVerify(c, pek, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    }
}

static void
testParseErrors(void)
{
    g_autoptr(GBytes) bpdh = loadCert("pdh");
    gsize len;
    const uint8_t *orig = g_bytes_get_data(bpdh, &len);
    g_autofree uint8_t *bad = g_memdup2(orig, len);
    g_autoptr(GError) error = NULL;

    g_assert_null(mhSevCertParse(orig, len - 1, &error));
    g_assert_nonnull(strstr(error->message, "2084"));
    g_clear_error(&error);
    bad[0x10] = 1;   /* curve P-256 */
    g_assert_null(mhSevCertParse(bad, len, &error));
    g_assert_nonnull(strstr(error->message, "curve 1"));
    g_clear_error(&error);
    bad[0x10] = 2;
    bad[0] = 2;      /* version */
    g_assert_null(mhSevCertParse(bad, len, &error));
    g_assert_nonnull(strstr(error->message, "version 2"));
    g_clear_error(&error);
    bad[0] = 1;
    bad[0x08] = 0x13; bad[0x09] = 0;   /* ASK usage */
    g_assert_null(mhSevCertParse(bad, len, &error));
    g_assert_nonnull(strstr(error->message, "usage"));
    g_clear_error(&error);
    g_assert_null(mhSevCertParseBase64("PDH", "not base64!", &error));
    g_assert_nonnull(strstr(error->message, "base64"));
}

static void
testGenerate(void)
{
    g_autoptr(GError) error = NULL;
    EVP_PKEY *oca_key = mhSevKeyGenerate(&error);
    EVP_PKEY *pdh_key = mhSevKeyGenerate(&error);
    EVP_PKEY *other = mhSevKeyGenerate(&error);
    g_autoptr(MhSevCert) oca = mhSevCertNew(MH_SEV_USAGE_OCA, oca_key, 0, 24, &error);
    g_autoptr(MhSevCert) pdh = mhSevCertNew(MH_SEV_USAGE_PDH, pdh_key, 0, 24, &error);
    g_autoptr(MhSevCert) copy = NULL;
    g_autoptr(MhSecret) z1 = NULL;
    g_autoptr(MhSecret) z2 = NULL;

    g_assert_no_error(error);
    g_assert_true(mhSevCertSign(oca, 0, MH_SEV_USAGE_OCA, oca_key, &error));
    g_assert_true(mhSevCertSign(pdh, 0, MH_SEV_USAGE_OCA, oca_key, &error));
    g_assert_no_error(error);
    g_assert_true(mhSevCertVerify(oca, oca, &error));
    g_assert_true(mhSevCertVerify(pdh, oca, &error));
    g_assert_no_error(error);
    copy = mhSevCertParse(mhSevCertGetData(pdh), MH_SEV_CERT_SIZE, &error);
    g_assert_no_error(error);
    g_assert_true(mhSevCertVerify(copy, oca, &error));
    /* Signed by a key other than the issuer's: rejected. */
    g_assert_true(mhSevCertSign(pdh, 0, MH_SEV_USAGE_OCA, other, &error));
    g_assert_false(mhSevCertVerify(pdh, oca, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&error);

    z1 = mhSevEcdh(oca_key, mhSevCertGetKey(pdh), &error);
    z2 = mhSevEcdh(pdh_key, mhSevCertGetKey(oca), &error);
    g_assert_no_error(error);
    g_assert_cmpmem(z1->data, z1->len, z2->data, z2->len);
    g_assert_cmpuint(z1->len, ==, 48);
    EVP_PKEY_free(oca_key);
    EVP_PKEY_free(pdh_key);
    EVP_PKEY_free(other);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    platformDir = g_dir_make_tmp("mh-sev-cert-XXXXXX", &error);
    g_assert_no_error(error);
    g_test_add_func("/sev/cert/platform-chain", testPlatformChain);
    g_test_add_func("/sev/cert/tamper", testTamper);
    g_test_add_func("/sev/cert/parse-errors", testParseErrors);
    g_test_add_func("/sev/cert/generate", testGenerate);
    ret = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", platformDir);
    if (system(cmd) != 0)
        g_printerr("could not remove %s\n", platformDir);
    return ret;
}
