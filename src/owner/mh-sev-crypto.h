/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SEV launch primitives shared by the guest owner and the platform
 * (AMD SEV API 55766, sections 2.2 and 6): the KDF, the session wrap, the
 * launch measurement and the LAUNCH_SECRET header MAC. Both sides call the
 * same code, so an interoperability bug would show only against a third
 * implementation: the tests cross-check with virtee/sev and libvirt. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/mh-util.h"

#define MH_SEV_KEY_SIZE 16          /* TEK, TIK, KEK, KIK, master secret */
#define MH_SEV_TK_SIZE 32           /* TEK || TIK, libvirt's --tk layout */
#define MH_SEV_NONCE_SIZE 16
#define MH_SEV_IV_SIZE 16
#define MH_SEV_MAC_SIZE 32          /* HMAC-SHA256 */
#define MH_SEV_DIGEST_SIZE 32       /* SHA-256 launch digest */
#define MH_SEV_MEASUREMENT_SIZE 48  /* MAC || MNONCE */
#define MH_SEV_SESSION_SIZE 128     /* nonce, wrap_tk, wrap_iv, wrap_mac, policy_mac */
#define MH_SEV_PACKET_HEADER_SIZE 52 /* flags(4) || IV(16) || MAC(32) */

/* LAUNCH_START session blob, in its wire order. */
typedef struct {
    uint8_t nonce[MH_SEV_NONCE_SIZE];
    uint8_t wrap_tk[MH_SEV_TK_SIZE];
    uint8_t wrap_iv[MH_SEV_IV_SIZE];
    uint8_t wrap_mac[MH_SEV_MAC_SIZE];
    uint8_t policy_mac[MH_SEV_MAC_SIZE];
} MhSevSession;
G_STATIC_ASSERT(sizeof(MhSevSession) == MH_SEV_SESSION_SIZE);

/* LAUNCH_SECRET packet header, in its wire order (flags little-endian). */
typedef struct {
    uint32_t flags;
    uint8_t iv[MH_SEV_IV_SIZE];
    uint8_t mac[MH_SEV_MAC_SIZE];
} MhSevPacketHeader;

/* Platform version triple reported with a measurement. */
typedef struct {
    uint8_t api_major;
    uint8_t api_minor;
    uint8_t build_id;
} MhSevBuild;

/* NIST SP 800-108 counter mode with HMAC-SHA256, as SEV uses it: 32-bit
 * little-endian counter from 1 and bit length, label, 0x00 separator. */
MhSecret *mhSevKdf(const void *key, size_t key_len, const char *label,
                   const void *context, size_t context_len, size_t out_len,
                   GError **error);

bool mhSevHmac(const void *key, size_t key_len, const void *data, size_t len,
               uint8_t mac[MH_SEV_MAC_SIZE], GError **error);
/* AES-128-CTR; encryption and decryption are the same operation. */
bool mhSevAesCtr(const uint8_t key[MH_SEV_KEY_SIZE], const uint8_t iv[MH_SEV_IV_SIZE],
                 const void *in, size_t len, void *out, GError **error);
/* Constant-time compare of MACs. */
bool mhSevMacEqual(const uint8_t *a, const uint8_t *b, size_t len);
/* A GBytes that owns 'secret' and wipes it when the last ref goes. */
GBytes *mhSevSecretToBytes(MhSecret *secret);

/* Build the session blob for TEK||TIK (tk, 32 bytes) from the ECDH
 * secret Z, nonce and wrap IV. */
bool mhSevSessionWrap(const MhSecret *z, const uint8_t nonce[MH_SEV_NONCE_SIZE],
                      const uint8_t wrap_iv[MH_SEV_IV_SIZE], const MhSecret *tk,
                      uint32_t policy, MhSevSession *session, GError **error);
/* The platform side: derive KEK/KIK from Z and session->nonce, check the
 * wrap MAC, unwrap TEK||TIK, check the policy MAC. MH_ERROR_AUTH on any
 * mismatch (nothing returned). */
MhSecret *mhSevSessionUnwrap(const MhSecret *z, const MhSevSession *session,
                             uint32_t policy, GError **error);
bool mhSevSessionParse(const void *data, size_t len, MhSevSession *session, GError **error);

/* Measurement MAC = HMAC(TIK, 0x04 || major || minor || build ||
 * policy(LE32) || digest || mnonce). */
bool mhSevMeasurementMac(const uint8_t tik[MH_SEV_KEY_SIZE], const MhSevBuild *build,
                         uint32_t policy, const uint8_t digest[MH_SEV_DIGEST_SIZE],
                         const uint8_t mnonce[MH_SEV_NONCE_SIZE],
                         uint8_t mac[MH_SEV_MAC_SIZE], GError **error);

/* Header MAC = HMAC(TIK, 0x01 || flags || iv || guest_len || trans_len ||
 * ciphertext || measure_mac). */
bool mhSevPacketMac(const uint8_t tik[MH_SEV_KEY_SIZE], uint32_t flags,
                    const uint8_t iv[MH_SEV_IV_SIZE], uint32_t guest_len,
                    const void *ciphertext, size_t trans_len,
                    const uint8_t measure_mac[MH_SEV_MAC_SIZE],
                    uint8_t mac[MH_SEV_MAC_SIZE], GError **error);
/* Header (52 bytes) <-> struct. */
bool mhSevPacketHeaderParse(const void *data, size_t len, MhSevPacketHeader *hdr,
                            GError **error);
void mhSevPacketHeaderFormat(const MhSevPacketHeader *hdr,
                             uint8_t out[MH_SEV_PACKET_HEADER_SIZE]);

/* The table QEMU measures after the firmware when kernel-hashes is on:
 * GUID-keyed SHA-256 of cmdline (with its NUL; "" when NULL), initrd
 * (empty when NULL) and kernel file, padded to 16 bytes. */
GBytes *mhSevKernelHashesTable(const void *kernel, size_t kernel_len,
                               const void *initrd, size_t initrd_len,
                               const char *cmdline, GError **error);
/* Files variant, errors name the file. */
GBytes *mhSevKernelHashesTableFromFiles(const char *kernel, const char *initrd,
                                        const char *cmdline, GError **error);
