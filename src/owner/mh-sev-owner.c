/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest owner's side of SEV launch attestation. */
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

void
mhSevOwnerSessionFree(MhSevOwnerSession *session)
{
    if (!session)
        return;
    mhSevCertFree(session->godh);
    mhSecretFree(session->tk);
    g_free(session);
}

MhSevOwnerSession *
mhSevOwnerSessionNewFull(const MhSevCert *pdh, uint32_t policy, EVP_PKEY *godh_key,
                         const MhSecret *tk, const uint8_t nonce[MH_SEV_NONCE_SIZE],
                         const uint8_t wrap_iv[MH_SEV_IV_SIZE], GError **error)
{
    g_autoptr(MhSevOwnerSession) session = g_new0(MhSevOwnerSession, 1);
    g_autoptr(MhSecret) z = NULL;

    if (mhSevCertGetUsage(pdh) != MH_SEV_USAGE_PDH) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the platform certificate has usage %s, expected PDH"),
                    mhSevUsageTypeToString(mhSevCertGetUsage(pdh)));
        return NULL;
    }
    if (mhSevCertGetAlgo(pdh) != MH_SEV_ALGO_ECDH_SHA256 &&
        mhSevCertGetAlgo(pdh) != MH_SEV_ALGO_ECDH_SHA384) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the PDH certificate's key is not an ECDH key (algorithm 0x%x)"),
                    mhSevCertGetAlgo(pdh));
        return NULL;
    }
    if (tk->len != MH_SEV_TK_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("TEK||TIK must be %d bytes, got %zu"), MH_SEV_TK_SIZE, tk->len);
        return NULL;
    }
    /* The GODH carries the PDH's API version, as sev-tool and virtee do. */
    if (!(session->godh = mhSevCertNew(MH_SEV_USAGE_PDH, godh_key,
                                       mhSevCertGetApiMajor(pdh),
                                       mhSevCertGetApiMinor(pdh), error)))
        return NULL;
    if (!(z = mhSevEcdh(godh_key, mhSevCertGetKey(pdh), error)))
        return NULL;
    session->tk = mhSecretNewFrom(tk->data, tk->len);
    if (!mhSevSessionWrap(z, nonce, wrap_iv, tk, policy, &session->session, error))
        return NULL;
    return g_steal_pointer(&session);
}

MhSevOwnerSession *
mhSevOwnerSessionNew(const MhSevCert *pdh, uint32_t policy, GError **error)
{
    g_autoptr(EVP_PKEY) key = NULL;
    g_autoptr(MhSecret) tk = mhSecretNew(MH_SEV_TK_SIZE);
    uint8_t nonce[MH_SEV_NONCE_SIZE];
    uint8_t iv[MH_SEV_IV_SIZE];

    /* The GODH private key lives only here: once the session is wrapped,
     * TEK and TIK are all the owner needs. */
    if (!(key = mhSevKeyGenerate(error)) ||
        !mhUtilRandom(tk->data, tk->len, error) ||
        !mhUtilRandom(nonce, sizeof(nonce), error) ||
        !mhUtilRandom(iv, sizeof(iv), error))
        return NULL;
    return mhSevOwnerSessionNewFull(pdh, policy, key, tk, nonce, iv, error);
}

MhSecret *
mhSevOwnerLoadTk(const char *path, GError **error)
{
    g_autoptr(MhSecret) tk = mhSecretLoad(path, error);

    if (!tk)
        return NULL;
    if (tk->len != MH_SEV_TK_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("TK file '%s' must hold exactly %d bytes (TEK then TIK), it has %zu"),
                    path, MH_SEV_TK_SIZE, tk->len);
        return NULL;
    }
    return g_steal_pointer(&tk);
}

bool
mhSevOwnerLaunchDigest(GBytes *firmware, GBytes *kernel_table,
                       uint8_t digest[MH_SEV_DIGEST_SIZE], GError **error)
{
    g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
    gsize len;
    const void *p;

    if (!md || !EVP_DigestInit_ex2(md, EVP_sha256(), NULL))
        goto fail;
    p = g_bytes_get_data(firmware, &len);
    if (!EVP_DigestUpdate(md, p, len))
        goto fail;
    if (kernel_table) {
        p = g_bytes_get_data(kernel_table, &len);
        if (!EVP_DigestUpdate(md, p, len))
            goto fail;
    }
    if (!EVP_DigestFinal_ex(md, digest, NULL))
        goto fail;
    return true;

 fail:
    mhSevSetOpensslError(error, "SHA-256");
    return false;
}

bool
mhSevOwnerMeasure(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                  const uint8_t digest[MH_SEV_DIGEST_SIZE],
                  const uint8_t mnonce[MH_SEV_NONCE_SIZE],
                  uint8_t out[MH_SEV_MEASUREMENT_SIZE], GError **error)
{
    if (!mhSevMeasurementMac(tk->data + MH_SEV_KEY_SIZE, build, policy, digest, mnonce,
                             out, error))
        return false;
    memcpy(out + MH_SEV_MAC_SIZE, mnonce, MH_SEV_NONCE_SIZE);
    return true;
}

static bool
mhSevOwnerCheckMeasurementLen(size_t len, GError **error)
{
    if (len == MH_SEV_MEASUREMENT_SIZE)
        return true;
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("a SEV measurement is %d bytes (MAC and MNONCE), got %zu"),
                MH_SEV_MEASUREMENT_SIZE, len);
    return false;
}

bool
mhSevOwnerVerify(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                 const uint8_t digest[MH_SEV_DIGEST_SIZE],
                 const uint8_t *measurement, size_t measurement_len, GError **error)
{
    uint8_t expect[MH_SEV_MEASUREMENT_SIZE];

    if (!mhSevOwnerCheckMeasurementLen(measurement_len, error) ||
        !mhSevOwnerMeasure(tk, build, policy, digest, measurement + MH_SEV_MAC_SIZE,
                           expect, error))
        return false;
    if (!mhSevMacEqual(expect, measurement, MH_SEV_MAC_SIZE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("the launch measurement does not match: the guest is not "
                      "the expected firmware/kernel with this TIK, policy and "
                      "platform version"));
        return false;
    }
    return true;
}

bool
mhSevOwnerSeal(const MhSecret *tk, const uint8_t *measurement, size_t measurement_len,
               const void *plaintext, size_t len, const uint8_t *iv,
               uint8_t header[MH_SEV_PACKET_HEADER_SIZE], GBytes **ciphertext,
               GError **error)
{
    MhSevPacketHeader hdr = { 0 };
    g_autofree uint8_t *out = NULL;

    if (!mhSevOwnerCheckMeasurementLen(measurement_len, error))
        return false;
    if (len == 0 || len > G_MAXUINT32) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("secret length %zu is invalid"), len);
        return false;
    }
    if (iv)
        memcpy(hdr.iv, iv, MH_SEV_IV_SIZE);
    else if (!mhUtilRandom(hdr.iv, MH_SEV_IV_SIZE, error))
        return false;
    out = g_malloc(len);
    if (!mhSevAesCtr(tk->data, hdr.iv, plaintext, len, out, error) ||
        !mhSevPacketMac(tk->data + MH_SEV_KEY_SIZE, hdr.flags, hdr.iv, len, out, len,
                        measurement, hdr.mac, error))
        return false;
    mhSevPacketHeaderFormat(&hdr, header);
    *ciphertext = g_bytes_new_take(g_steal_pointer(&out), len);
    return true;
}
