/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV certificates (AMD SEV API, appendix C): the fixed 0x824-byte format
 * that carries the platform's OCA, PEK, PDH and CEK public keys and the
 * guest owner's GODH key, with P-384 integers stored little-endian. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "util/mh-util.h"

#define MH_SEV_CERT_SIZE 0x824
/* The signatures cover VERSION through PUBKEY. */
#define MH_SEV_CERT_BODY_SIZE 0x414
/* P-384 coordinates and ECDSA r/s are zero-extended to 72 bytes. */
#define MH_SEV_ECC_PARAM_SIZE 72
#define MH_SEV_P384_SIZE 48

typedef enum {
    MH_SEV_USAGE_ARK = 0x0000,
    MH_SEV_USAGE_ASK = 0x0013,
    MH_SEV_USAGE_INVALID = 0x1000,
    MH_SEV_USAGE_OCA = 0x1001,
    MH_SEV_USAGE_PEK = 0x1002,
    MH_SEV_USAGE_PDH = 0x1003,
    MH_SEV_USAGE_CEK = 0x1004,
} MhSevUsage;

typedef enum {
    MH_SEV_ALGO_INVALID = 0x0000,
    MH_SEV_ALGO_RSA_SHA256 = 0x0001,
    MH_SEV_ALGO_ECDSA_SHA256 = 0x0002,
    MH_SEV_ALGO_ECDH_SHA256 = 0x0003,
    MH_SEV_ALGO_RSA_SHA384 = 0x0101,
    MH_SEV_ALGO_ECDSA_SHA384 = 0x0102,
    MH_SEV_ALGO_ECDH_SHA384 = 0x0103,
} MhSevAlgo;

/* SEV curve ids in the public key structure. */
#define MH_SEV_CURVE_P256 1
#define MH_SEV_CURVE_P384 2

const char *mhSevUsageTypeToString(uint32_t usage);   /* "PDH", ..., NULL if unknown */

typedef struct _MhSevCert MhSevCert;

/* Parse exactly MH_SEV_CERT_SIZE bytes. Checks the version (1), a known
 * usage, an ECDSA/ECDH P-384 key that lies on the curve. */
MhSevCert *mhSevCertParse(const void *data, size_t len, GError **error);
/* Same, from base64 text (as virsh nodesevinfo / <dhCert> carry it). */
MhSevCert *mhSevCertParseBase64(const char *what, const char *b64, GError **error);

/* A new certificate for the public half of 'key' (P-384), with both
 * signature slots empty (usage INVALID). ECDH algo for PDH, ECDSA otherwise. */
MhSevCert *mhSevCertNew(MhSevUsage usage, EVP_PKEY *key,
                        uint8_t api_major, uint8_t api_minor, GError **error);
void mhSevCertFree(MhSevCert *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevCert, mhSevCertFree)

/* Sign the certificate body into signature slot 0 or 1 with an ECDSA
 * P-384 private key (ECDSA-SHA256, r/s little-endian). */
bool mhSevCertSign(MhSevCert *cert, unsigned slot, MhSevUsage signer_usage,
                   EVP_PKEY *signer, GError **error);
/* Verify that 'issuer' signed 'cert': some slot carries issuer's usage
 * and a valid signature made with issuer's key. MH_ERROR_AUTH otherwise. */
bool mhSevCertVerify(const MhSevCert *cert, const MhSevCert *issuer, GError **error);

uint32_t mhSevCertGetUsage(const MhSevCert *cert);
uint32_t mhSevCertGetAlgo(const MhSevCert *cert);
uint8_t mhSevCertGetApiMajor(const MhSevCert *cert);
uint8_t mhSevCertGetApiMinor(const MhSevCert *cert);
/* Borrowed public key (valid while the cert lives). */
EVP_PKEY *mhSevCertGetKey(const MhSevCert *cert);
/* The MH_SEV_CERT_SIZE bytes. */
const uint8_t *mhSevCertGetData(const MhSevCert *cert);
GBytes *mhSevCertToBytes(const MhSevCert *cert);
char *mhSevCertToBase64(const MhSevCert *cert);

/* Fresh P-384 key pair. */
EVP_PKEY *mhSevKeyGenerate(GError **error);
/* ECDH on P-384: Z of LAUNCH_START, the shared x coordinate (48 bytes) as
 * OpenSSL returns it (big-endian), which is what virtee/sev and AMD's
 * sev-tool feed into the KDF. */
MhSecret *mhSevEcdh(EVP_PKEY *priv, EVP_PKEY *peer, GError **error);
/* Private keys in PEM (PKCS#8), for the platform's state directory. */
bool mhSevKeySavePem(EVP_PKEY *key, const char *path, GError **error);
EVP_PKEY *mhSevKeyLoadPem(const char *path, GError **error);
