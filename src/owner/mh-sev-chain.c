/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "owner/mh-sev-chain.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <openssl/evp.h>

void
mhSevChainFree(MhSevChain *chain)
{
    if (!chain)
        return;
    mhSevCertFree(chain->pdh);
    mhSevCertFree(chain->pek);
    mhSevCertFree(chain->oca);
    mhSevCertFree(chain->cek);
    g_free(chain);
}

static MhSevCert *
mhSevChainTake(const uint8_t *data, MhSevUsage usage, GError **error)
{
    g_autoptr(MhSevCert) cert = mhSevCertParse(data, MH_SEV_CERT_SIZE, error);

    if (!cert)
        return NULL;
    if (mhSevCertGetUsage(cert) != usage) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("expected a %s certificate, found usage 0x%04x"),
                    mhSevUsageTypeToString(usage), mhSevCertGetUsage(cert));
        return NULL;
    }
    return g_steal_pointer(&cert);
}

MhSevChain *
mhSevChainFromBytes(GBytes *pdh, GBytes *chain, GError **error)
{
    g_autoptr(MhSevChain) out = g_new0(MhSevChain, 1);
    gsize pdh_len = 0, chain_len = 0;
    const uint8_t *p = g_bytes_get_data(chain, &chain_len);
    const uint8_t *d = g_bytes_get_data(pdh, &pdh_len);

    if (pdh_len != MH_SEV_CERT_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("PDH: expected %d bytes, got %zu"), MH_SEV_CERT_SIZE, (size_t)pdh_len);
        return NULL;
    }
    if (chain_len != 3 * MH_SEV_CERT_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("certificate chain: expected PEK, OCA and CEK (%d bytes), got %zu"),
                    3 * MH_SEV_CERT_SIZE, (size_t)chain_len);
        return NULL;
    }
    if (!(out->pdh = mhSevChainTake(d, MH_SEV_USAGE_PDH, error))) {
        mhErrorPrefix(error, _("PDH: "));
        return NULL;
    }
    if (!(out->pek = mhSevChainTake(p, MH_SEV_USAGE_PEK, error)) ||
        !(out->oca = mhSevChainTake(p + MH_SEV_CERT_SIZE, MH_SEV_USAGE_OCA, error)) ||
        !(out->cek = mhSevChainTake(p + 2 * MH_SEV_CERT_SIZE, MH_SEV_USAGE_CEK, error)) ||
        !mhSevCertVerify(out->pdh, out->pek, error) ||
        !mhSevCertVerify(out->pek, out->oca, error) ||
        !mhSevCertVerify(out->pek, out->cek, error)) {
        mhErrorPrefix(error, _("certificate chain: "));
        return NULL;
    }
    return g_steal_pointer(&out);
}

MhSevChain *
mhSevChainParse(const char *pdh_b64, const char *chain_b64, GError **error)
{
    g_autoptr(GBytes) pdh = NULL;
    g_autoptr(GBytes) chain = NULL;

    if (!mhUtilDecodeBase64("PDH", pdh_b64, &pdh, error) ||
        !mhUtilDecodeBase64(_("certificate chain"), chain_b64, &chain, error))
        return NULL;
    return mhSevChainFromBytes(pdh, chain, error);
}

MhSevChain *
mhSevChainLoadDir(const char *dir, GError **error)
{
    static const char *const names[] = { "pek.cert", "oca.cert", "cek.cert" };
    g_autofree char *pdh_path = g_build_filename(dir, "pdh.cert", NULL);
    g_autofree char *pdh_data = NULL;
    g_autoptr(GByteArray) chain = g_byte_array_new();
    g_autoptr(GBytes) pdh = NULL;
    g_autoptr(GBytes) chain_bytes = NULL;
    MhSevChain *out;
    size_t len = 0;

    if (!mhUtilReadFile(pdh_path, &pdh_data, &len, error))
        return NULL;
    pdh = g_bytes_new(pdh_data, len);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(dir, names[i], NULL);
        g_autofree char *data = NULL;

        if (!mhUtilReadFile(path, &data, &len, error))
            return NULL;
        if (len != MH_SEV_CERT_SIZE) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("'%s': expected %d bytes, got %zu"), path, MH_SEV_CERT_SIZE, len);
            return NULL;
        }
        g_byte_array_append(chain, (const guint8 *)data, len);
    }
    chain_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&chain));
    if (!(out = mhSevChainFromBytes(pdh, chain_bytes, error)))
        mhErrorPrefix(error, "%s: ", dir);
    return out;
}

char *
mhSevChainFormatBase64(const MhSevChain *chain)
{
    g_autofree guint8 *buf = g_malloc(3 * MH_SEV_CERT_SIZE);

    memcpy(buf, mhSevCertGetData(chain->pek), MH_SEV_CERT_SIZE);
    memcpy(buf + MH_SEV_CERT_SIZE, mhSevCertGetData(chain->oca), MH_SEV_CERT_SIZE);
    memcpy(buf + 2 * MH_SEV_CERT_SIZE, mhSevCertGetData(chain->cek), MH_SEV_CERT_SIZE);
    return g_base64_encode(buf, 3 * MH_SEV_CERT_SIZE);
}

char *
mhSevCertFingerprint(const MhSevCert *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_Digest(mhSevCertGetData(cert), MH_SEV_CERT_SIZE, md, &len, EVP_sha256(), NULL);
    return mhUtilFormatHex(md, len);
}
