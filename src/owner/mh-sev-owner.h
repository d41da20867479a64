/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest owner's side of SEV launch: builds the LAUNCH_START session
 * for a platform's PDH, checks LAUNCH_MEASURE, seals LAUNCH_SECRET packets.
 * Holds TEK||TIK (the "tk", 32 bytes, libvirt's --tk layout). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "owner/mh-sev-cert.h"
#include "owner/mh-sev-crypto.h"

typedef struct {
    MhSevCert *godh;             /* the guest owner's ECDH certificate */
    MhSevSession session;        /* LAUNCH_START session blob */
    MhSecret *tk;                /* TEK || TIK */
} MhSevOwnerSession;

void mhSevOwnerSessionFree(MhSevOwnerSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevOwnerSession, mhSevOwnerSessionFree)

/* New session for the platform's PDH: fresh GODH key, TEK, TIK, nonce and
 * wrap IV. The PDH must be an ECDH P-384 certificate with usage PDH. */
MhSevOwnerSession *mhSevOwnerSessionNew(const MhSevCert *pdh, uint32_t policy,
                                        GError **error);
/* Deterministic variant for tests: given GODH private key, TK, nonce, IV. */
MhSevOwnerSession *mhSevOwnerSessionNewFull(const MhSevCert *pdh, uint32_t policy,
                                            EVP_PKEY *godh_key, const MhSecret *tk,
                                            const uint8_t nonce[MH_SEV_NONCE_SIZE],
                                            const uint8_t wrap_iv[MH_SEV_IV_SIZE],
                                            GError **error);

/* Load/check a tk file: exactly 32 bytes. */
MhSecret *mhSevOwnerLoadTk(const char *path, GError **error);

/* SHA-256 of firmware || kernel-hashes table (table may be NULL). */
bool mhSevOwnerLaunchDigest(GBytes *firmware, GBytes *kernel_table,
                            uint8_t digest[MH_SEV_DIGEST_SIZE], GError **error);

/* The measurement the platform would report (MAC || MNONCE). */
bool mhSevOwnerMeasure(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                       const uint8_t digest[MH_SEV_DIGEST_SIZE],
                       const uint8_t mnonce[MH_SEV_NONCE_SIZE],
                       uint8_t out[MH_SEV_MEASUREMENT_SIZE], GError **error);
/* Check a reported measurement (48 bytes); MH_ERROR_AUTH on mismatch. */
bool mhSevOwnerVerify(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                      const uint8_t digest[MH_SEV_DIGEST_SIZE],
                      const uint8_t *measurement, size_t measurement_len,
                      GError **error);

/* Seal a secret table for LAUNCH_SECRET: AES-128-CTR(TEK, iv) and the
 * header MAC over the measurement's MAC part. iv NULL = random. */
bool mhSevOwnerSeal(const MhSecret *tk, const uint8_t *measurement, size_t measurement_len,
                    const void *plaintext, size_t len, const uint8_t *iv,
                    uint8_t header[MH_SEV_PACKET_HEADER_SIZE], GBytes **ciphertext,
                    GError **error);
