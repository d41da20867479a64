/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV certificate format, AMD SEV API (pub. 55766) appendix C.1:
 *
 *   0x000 VERSION (u32 = 1)    0x004 API_MAJOR  0x005 API_MINOR
 *   0x008 PUBKEY_USAGE (u32)   0x00C PUBKEY_ALGO (u32)
 *   0x010 PUBKEY (0x404): CURVE (u32), QX (72, LE), QY (72, LE), reserved
 *   0x414 SIG1_USAGE, SIG1_ALGO, SIG1 (0x200): R (72, LE), S (72, LE), reserved
 *   0x61C SIG2_USAGE, SIG2_ALGO, SIG2 (0x200)
 *
 * Signatures cover bytes 0x000..0x413. An empty slot has usage 0x1000. */
#include "owner/mh-sev-cert.h"
#include "owner/mh-sev-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define CERT_OFF_VERSION 0x000
#define CERT_OFF_API_MAJOR 0x004
#define CERT_OFF_API_MINOR 0x005
#define CERT_OFF_USAGE 0x008
#define CERT_OFF_ALGO 0x00C
#define CERT_OFF_CURVE 0x010
#define CERT_OFF_QX 0x014
#define CERT_OFF_QY (CERT_OFF_QX + MH_SEV_ECC_PARAM_SIZE)
#define CERT_OFF_SIG(slot) (0x414 + (slot) * 0x208)
#define SIG_OFF_USAGE 0x0
#define SIG_OFF_ALGO 0x4
#define SIG_OFF_R 0x8
#define SIG_OFF_S (SIG_OFF_R + MH_SEV_ECC_PARAM_SIZE)

struct _MhSevCert {
    uint8_t data[MH_SEV_CERT_SIZE];
    EVP_PKEY *key;
};

typedef struct {
    uint32_t value;
    const char *name;
} MhSevNamedValue;

static const MhSevNamedValue mhSevUsageNames[] = {
    { MH_SEV_USAGE_ARK, "ARK" },
    { MH_SEV_USAGE_ASK, "ASK" },
    { MH_SEV_USAGE_INVALID, "none" },
    { MH_SEV_USAGE_OCA, "OCA" },
    { MH_SEV_USAGE_PEK, "PEK" },
    { MH_SEV_USAGE_PDH, "PDH" },
    { MH_SEV_USAGE_CEK, "CEK" },
};

static const char *
mhSevLookupName(const MhSevNamedValue *table, size_t n, uint32_t value)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].value == value)
            return table[i].name;
    }
    return NULL;
}

const char *
mhSevUsageTypeToString(uint32_t usage)
{
    return mhSevLookupName(mhSevUsageNames, G_N_ELEMENTS(mhSevUsageNames), usage);
}

static const char *
mhSevUsageLabel(uint32_t usage)
{
    const char *name = mhSevUsageTypeToString(usage);
    return name ? name : _("unknown usage");
}

void
mhSevSetOpensslError(GError **error, const char *what)
{
    unsigned long code = ERR_get_error();
    char buf[256] = "";

    if (code)
        ERR_error_string_n(code, buf, sizeof(buf));
    ERR_clear_error();
    g_set_error(error, MH_ERROR, MH_ERROR_CRYPTO, _("%s failed: %s"), what,
                code ? buf : _("unknown OpenSSL error"));
}

/* The SEV structures hold integers little-endian, zero-extended. */
static bool
mhSevBnToLE(const BIGNUM *bn, uint8_t *out, size_t len)
{
    return BN_bn2lebinpad(bn, out, len) == (int)len;
}

static bool
mhSevIsP384(EVP_PKEY *key)
{
    char name[64] = "";

    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return false;
    if (!EVP_PKEY_get_group_name(key, name, sizeof(name), NULL))
        return false;
    return g_str_equal(name, "secp384r1") || g_str_equal(name, "P-384");
}

/* An EVP_PKEY from affine coordinates (big-endian, 48 bytes each). */
static EVP_PKEY *
mhSevKeyFromPoint(const uint8_t *x_le, const uint8_t *y_le, GError **error)
{
    uint8_t point[1 + 2 * MH_SEV_P384_SIZE];
    char group[] = "P-384";
    OSSL_PARAM params[3];
    g_autoptr(EVP_PKEY_CTX) ctx = NULL;
    g_autoptr(EVP_PKEY_CTX) check = NULL;
    EVP_PKEY *key = NULL;

    point[0] = 0x04;   /* uncompressed */
    for (size_t i = 0; i < MH_SEV_P384_SIZE; i++) {
        point[1 + i] = x_le[MH_SEV_P384_SIZE - 1 - i];
        point[1 + MH_SEV_P384_SIZE + i] = y_le[MH_SEV_P384_SIZE - 1 - i];
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        ERR_clear_error();
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("public key is not a point on curve P-384"));
        return NULL;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!check || EVP_PKEY_public_check(check) <= 0) {
        ERR_clear_error();
        EVP_PKEY_free(key);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("public key is not a valid P-384 point"));
        return NULL;
    }
    return key;
}

static bool
mhSevAllZero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

MhSevCert *
mhSevCertParse(const void *data, size_t len, GError **error)
{
    g_autoptr(MhSevCert) cert = NULL;
    uint32_t version, usage, algo, curve;

    if (len != MH_SEV_CERT_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV certificate must be %d bytes, got %zu"), MH_SEV_CERT_SIZE, len);
        return NULL;
    }
    cert = g_new0(MhSevCert, 1);
    memcpy(cert->data, data, MH_SEV_CERT_SIZE);

    version = mhUtilGetLE32(cert->data + CERT_OFF_VERSION);
    usage = mhUtilGetLE32(cert->data + CERT_OFF_USAGE);
    algo = mhUtilGetLE32(cert->data + CERT_OFF_ALGO);
    curve = mhUtilGetLE32(cert->data + CERT_OFF_CURVE);
    if (version != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV certificate version %u is not supported (expected 1)"), version);
        return NULL;
    }
    if (usage != MH_SEV_USAGE_OCA && usage != MH_SEV_USAGE_PEK &&
        usage != MH_SEV_USAGE_PDH && usage != MH_SEV_USAGE_CEK) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV certificate key usage 0x%x is not OCA, PEK, PDH or CEK"), usage);
        return NULL;
    }
    if (algo != MH_SEV_ALGO_ECDSA_SHA256 && algo != MH_SEV_ALGO_ECDH_SHA256 &&
        algo != MH_SEV_ALGO_ECDSA_SHA384 && algo != MH_SEV_ALGO_ECDH_SHA384) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV %s certificate key algorithm 0x%x is not ECDSA or ECDH"),
                    mhSevUsageLabel(usage), algo);
        return NULL;
    }
    if (curve != MH_SEV_CURVE_P384) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV %s certificate uses curve %u, only P-384 (%d) is supported"),
                    mhSevUsageLabel(usage), curve, MH_SEV_CURVE_P384);
        return NULL;
    }
    if (!mhSevAllZero(cert->data + CERT_OFF_QX + MH_SEV_P384_SIZE,
                      MH_SEV_ECC_PARAM_SIZE - MH_SEV_P384_SIZE) ||
        !mhSevAllZero(cert->data + CERT_OFF_QY + MH_SEV_P384_SIZE,
                      MH_SEV_ECC_PARAM_SIZE - MH_SEV_P384_SIZE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV %s certificate public key coordinates exceed 384 bits"),
                    mhSevUsageLabel(usage));
        return NULL;
    }
    if (!(cert->key = mhSevKeyFromPoint(cert->data + CERT_OFF_QX,
                                        cert->data + CERT_OFF_QY, error))) {
        mhErrorPrefix(error, _("SEV %s certificate: "), mhSevUsageLabel(usage));
        return NULL;
    }
    return g_steal_pointer(&cert);
}

MhSevCert *
mhSevCertParseBase64(const char *what, const char *b64, GError **error)
{
    g_autoptr(GBytes) raw = NULL;
    MhSevCert *cert;
    gsize len;
    const void *p;

    if (!mhUtilDecodeBase64(what, b64, &raw, error))
        return NULL;
    p = g_bytes_get_data(raw, &len);
    if (!(cert = mhSevCertParse(p, len, error)))
        mhErrorPrefix(error, "%s: ", what);
    return cert;
}

MhSevCert *
mhSevCertNew(MhSevUsage usage, EVP_PKEY *key, uint8_t api_major, uint8_t api_minor,
             GError **error)
{
    g_autoptr(MhSevCert) cert = NULL;
    g_autoptr(BIGNUM) x = NULL;
    g_autoptr(BIGNUM) y = NULL;
    uint32_t algo = usage == MH_SEV_USAGE_PDH ? MH_SEV_ALGO_ECDH_SHA256
                                              : MH_SEV_ALGO_ECDSA_SHA256;

    if (!mhSevIsP384(key)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV %s key must be an EC P-384 key"), mhSevUsageLabel(usage));
        return NULL;
    }
    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
        mhSevSetOpensslError(error, _("reading the EC public key"));
        return NULL;
    }
    cert = g_new0(MhSevCert, 1);
    mhUtilPutLE32(cert->data + CERT_OFF_VERSION, 1);
    cert->data[CERT_OFF_API_MAJOR] = api_major;
    cert->data[CERT_OFF_API_MINOR] = api_minor;
    mhUtilPutLE32(cert->data + CERT_OFF_USAGE, usage);
    mhUtilPutLE32(cert->data + CERT_OFF_ALGO, algo);
    mhUtilPutLE32(cert->data + CERT_OFF_CURVE, MH_SEV_CURVE_P384);
    if (!mhSevBnToLE(x, cert->data + CERT_OFF_QX, MH_SEV_ECC_PARAM_SIZE) ||
        !mhSevBnToLE(y, cert->data + CERT_OFF_QY, MH_SEV_ECC_PARAM_SIZE)) {
        mhSevSetOpensslError(error, _("encoding the EC public key"));
        return NULL;
    }
    for (unsigned slot = 0; slot < 2; slot++)
        mhUtilPutLE32(cert->data + CERT_OFF_SIG(slot) + SIG_OFF_USAGE, MH_SEV_USAGE_INVALID);
    /* Keep only the public half: a certificate never carries a secret. */
    if (!(cert->key = mhSevKeyFromPoint(cert->data + CERT_OFF_QX,
                                        cert->data + CERT_OFF_QY, error)))
        return NULL;
    return g_steal_pointer(&cert);
}

void
mhSevCertFree(MhSevCert *cert)
{
    if (!cert)
        return;
    EVP_PKEY_free(cert->key);
    g_free(cert);
}

static const EVP_MD *
mhSevSigDigest(uint32_t algo)
{
    switch (algo) {
    case MH_SEV_ALGO_ECDSA_SHA256:
        return EVP_sha256();
    case MH_SEV_ALGO_ECDSA_SHA384:
        return EVP_sha384();
    default:
        return NULL;
    }
}

bool
mhSevCertSign(MhSevCert *cert, unsigned slot, MhSevUsage signer_usage,
              EVP_PKEY *signer, GError **error)
{
    g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
    g_autofree unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    g_autoptr(ECDSA_SIG) sig = NULL;
    const BIGNUM *r, *s;
    uint8_t *base;

    g_return_val_if_fail(slot < 2, false);
    if (!mhSevIsP384(signer)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV %s signing key must be an EC P-384 key"),
                    mhSevUsageLabel(signer_usage));
        return false;
    }
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signer) <= 0 ||
        EVP_DigestSign(md, NULL, &der_len, cert->data, MH_SEV_CERT_BODY_SIZE) <= 0) {
        mhSevSetOpensslError(error, _("signing a SEV certificate"));
        return false;
    }
    der = g_malloc(der_len);
    if (EVP_DigestSign(md, der, &der_len, cert->data, MH_SEV_CERT_BODY_SIZE) <= 0) {
        mhSevSetOpensslError(error, _("signing a SEV certificate"));
        return false;
    }
    p = der;
    if (!(sig = d2i_ECDSA_SIG(NULL, &p, der_len))) {
        mhSevSetOpensslError(error, _("decoding an ECDSA signature"));
        return false;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    base = cert->data + CERT_OFF_SIG(slot);
    memset(base, 0, 0x208);
    mhUtilPutLE32(base + SIG_OFF_USAGE, signer_usage);
    mhUtilPutLE32(base + SIG_OFF_ALGO, MH_SEV_ALGO_ECDSA_SHA256);
    if (!mhSevBnToLE(r, base + SIG_OFF_R, MH_SEV_ECC_PARAM_SIZE) ||
        !mhSevBnToLE(s, base + SIG_OFF_S, MH_SEV_ECC_PARAM_SIZE)) {
        mhSevSetOpensslError(error, _("encoding an ECDSA signature"));
        return false;
    }
    return true;
}

/* One slot: true if it verifies under 'key'. */
static bool
mhSevCertVerifySlot(const MhSevCert *cert, unsigned slot, EVP_PKEY *key)
{
    const uint8_t *base = cert->data + CERT_OFF_SIG(slot);
    const EVP_MD *digest = mhSevSigDigest(mhUtilGetLE32(base + SIG_OFF_ALGO));
    g_autoptr(EVP_MD_CTX) md = NULL;
    g_autoptr(ECDSA_SIG) sig = NULL;
    BIGNUM *r, *s;
    unsigned char *der = NULL;
    int der_len, rc;

    if (!digest)
        return false;
    r = BN_lebin2bn(base + SIG_OFF_R, MH_SEV_ECC_PARAM_SIZE, NULL);
    s = BN_lebin2bn(base + SIG_OFF_S, MH_SEV_ECC_PARAM_SIZE, NULL);
    sig = ECDSA_SIG_new();
    if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ERR_clear_error();
        return false;
    }
    if ((der_len = i2d_ECDSA_SIG(sig, &der)) <= 0) {
        ERR_clear_error();
        return false;
    }
    md = EVP_MD_CTX_new();
    rc = md && EVP_DigestVerifyInit(md, NULL, digest, NULL, key) > 0 &&
         EVP_DigestVerify(md, der, der_len, cert->data, MH_SEV_CERT_BODY_SIZE) == 1;
    OPENSSL_free(der);
    ERR_clear_error();
    return rc;
}

bool
mhSevCertVerify(const MhSevCert *cert, const MhSevCert *issuer, GError **error)
{
    uint32_t issuer_usage = mhSevCertGetUsage(issuer);
    bool had_slot = false;

    for (unsigned slot = 0; slot < 2; slot++) {
        if (mhUtilGetLE32(cert->data + CERT_OFF_SIG(slot) + SIG_OFF_USAGE) != issuer_usage)
            continue;
        had_slot = true;
        if (mhSevCertVerifySlot(cert, slot, issuer->key))
            return true;
    }
    if (!had_slot) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("SEV %s certificate carries no signature by a %s key"),
                    mhSevUsageLabel(mhSevCertGetUsage(cert)), mhSevUsageLabel(issuer_usage));
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("SEV %s certificate signature does not verify with the %s key"),
                    mhSevUsageLabel(mhSevCertGetUsage(cert)), mhSevUsageLabel(issuer_usage));
    }
    return false;
}

uint32_t
mhSevCertGetUsage(const MhSevCert *cert)
{
    return mhUtilGetLE32(cert->data + CERT_OFF_USAGE);
}

uint32_t
mhSevCertGetAlgo(const MhSevCert *cert)
{
    return mhUtilGetLE32(cert->data + CERT_OFF_ALGO);
}

uint8_t
mhSevCertGetApiMajor(const MhSevCert *cert)
{
    return cert->data[CERT_OFF_API_MAJOR];
}

uint8_t
mhSevCertGetApiMinor(const MhSevCert *cert)
{
    return cert->data[CERT_OFF_API_MINOR];
}

EVP_PKEY *
mhSevCertGetKey(const MhSevCert *cert)
{
    return cert->key;
}

const uint8_t *
mhSevCertGetData(const MhSevCert *cert)
{
    return cert->data;
}

GBytes *
mhSevCertToBytes(const MhSevCert *cert)
{
    return g_bytes_new(cert->data, MH_SEV_CERT_SIZE);
}

char *
mhSevCertToBase64(const MhSevCert *cert)
{
    return g_base64_encode(cert->data, MH_SEV_CERT_SIZE);
}

EVP_PKEY *
mhSevKeyGenerate(GError **error)
{
    EVP_PKEY *key = EVP_EC_gen("P-384");

    if (!key)
        mhSevSetOpensslError(error, _("generating a P-384 key"));
    return key;
}

MhSecret *
mhSevEcdh(EVP_PKEY *priv, EVP_PKEY *peer, GError **error)
{
    g_autoptr(EVP_PKEY_CTX) ctx = NULL;
    g_autoptr(MhSecret) z = NULL;
    size_t len = 0;

    if (!mhSevIsP384(priv) || !mhSevIsP384(peer)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("ECDH needs two P-384 keys"));
        return NULL;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 ||
        EVP_PKEY_derive_set_peer(ctx, peer) <= 0 ||
        EVP_PKEY_derive(ctx, NULL, &len) <= 0 || len != MH_SEV_P384_SIZE) {
        mhSevSetOpensslError(error, _("ECDH key agreement"));
        return NULL;
    }
    z = mhSecretNew(len);
    if (EVP_PKEY_derive(ctx, z->data, &len) <= 0 || len != MH_SEV_P384_SIZE) {
        mhSevSetOpensslError(error, _("ECDH key agreement"));
        return NULL;
    }
    return g_steal_pointer(&z);
}

bool
mhSevKeySavePem(EVP_PKEY *key, const char *path, GError **error)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *mem = NULL;
    long len;
    bool ok;

    if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        mhSevSetOpensslError(error, _("encoding a private key"));
        return false;
    }
    len = BIO_get_mem_data(bio, &mem);
    ok = mhUtilWriteFile(path, mem, len, 0600, error);
    BIO_free(bio);   /* secure memory BIO: cleansed on free */
    return ok;
}

EVP_PKEY *
mhSevKeyLoadPem(const char *path, GError **error)
{
    g_autoptr(MhSecret) pem = mhSecretLoad(path, error);
    BIO *bio;
    EVP_PKEY *key;

    if (!pem)
        return NULL;
    bio = BIO_new_mem_buf(pem->data, pem->len);
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        ERR_clear_error();
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("file '%s' does not hold a PEM private key"), path);
        return NULL;
    }
    if (!mhSevIsP384(key)) {
        EVP_PKEY_free(key);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("key in '%s' is not an EC P-384 key"), path);
        return NULL;
    }
    return key;
}
