/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV launch primitives (AMD SEV API pub. 55766 sections 2.2, 6.2, 6.5,
 * 6.6). Everything that both the guest owner and the platform compute lives
 * here once, so that the two sides can only disagree on purpose. */
#include "owner/mh-sev-crypto.h"
#include "owner/mh-sev-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define MH_SEV_KERNEL_TABLE_GUID "9438d606-4f22-4cc9-b479-a793d411fd21"
#define MH_SEV_KERNEL_CMDLINE_GUID "97d02dd8-bd20-4c94-aa78-e7714d36ab2a"
#define MH_SEV_KERNEL_INITRD_GUID "44baf731-3a2f-4bd7-9af1-41e29169781d"
#define MH_SEV_KERNEL_KERNEL_GUID "4de79437-abd2-427f-b835-d5b172d2045b"

static EVP_MAC_CTX *
mhSevHmacNew(const void *key, size_t key_len, GError **error)
{
    g_autoptr(EVP_MAC) mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };

    if (!mac || !(ctx = EVP_MAC_CTX_new(mac)) ||
        !EVP_MAC_init(ctx, key, key_len, params)) {
        EVP_MAC_CTX_free(ctx);
        mhSevSetOpensslError(error, _("HMAC-SHA256 setup"));
        return NULL;
    }
    return ctx;
}

static bool
mhSevHmacFinal(EVP_MAC_CTX *ctx, uint8_t mac[MH_SEV_MAC_SIZE], GError **error)
{
    size_t len = 0;

    if (!EVP_MAC_final(ctx, mac, &len, MH_SEV_MAC_SIZE) || len != MH_SEV_MAC_SIZE) {
        mhSevSetOpensslError(error, _("HMAC-SHA256"));
        return false;
    }
    return true;
}

bool
mhSevHmac(const void *key, size_t key_len, const void *data, size_t len,
          uint8_t mac[MH_SEV_MAC_SIZE], GError **error)
{
    g_autoptr(EVP_MAC_CTX) ctx = mhSevHmacNew(key, key_len, error);

    if (!ctx)
        return false;
    if (!EVP_MAC_update(ctx, data, len)) {
        mhSevSetOpensslError(error, _("HMAC-SHA256"));
        return false;
    }
    return mhSevHmacFinal(ctx, mac, error);
}

MhSecret *
mhSevKdf(const void *key, size_t key_len, const char *label,
         const void *context, size_t context_len, size_t out_len, GError **error)
{
    g_autoptr(MhSecret) out = NULL;
    uint8_t block[MH_SEV_MAC_SIZE];
    uint8_t le[4];
    uint8_t zero = 0;
    uint32_t blocks = (out_len + MH_SEV_MAC_SIZE - 1) / MH_SEV_MAC_SIZE;

    /* OpenSSL's KBKDF encodes the counter and L big-endian; the SEV
     * firmware (and virtee/sev) use little-endian, so the loop is ours. */
    out = mhSecretNew(out_len);
    for (uint32_t i = 1; i <= blocks; i++) {
        g_autoptr(EVP_MAC_CTX) ctx = mhSevHmacNew(key, key_len, error);
        size_t take = MIN(out_len - (i - 1) * MH_SEV_MAC_SIZE, (size_t)MH_SEV_MAC_SIZE);
        bool ok;

        if (!ctx)
            return NULL;
        mhUtilPutLE32(le, i);
        ok = EVP_MAC_update(ctx, le, 4) &&
             EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label)) &&
             EVP_MAC_update(ctx, &zero, 1) &&
             (context_len == 0 || EVP_MAC_update(ctx, context, context_len));
        mhUtilPutLE32(le, out_len * 8);
        ok = ok && EVP_MAC_update(ctx, le, 4);
        if (!ok) {
            mhSevSetOpensslError(error, _("SEV key derivation"));
            return NULL;
        }
        ok = mhSevHmacFinal(ctx, block, error);
        if (ok)
            memcpy(out->data + (i - 1) * MH_SEV_MAC_SIZE, block, take);
        mhUtilWipe(block, sizeof(block));
        if (!ok)
            return NULL;
    }
    return g_steal_pointer(&out);
}

bool
mhSevAesCtr(const uint8_t key[MH_SEV_KEY_SIZE], const uint8_t iv[MH_SEV_IV_SIZE],
            const void *in, size_t len, void *out, GError **error)
{
    g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;

    if (len > INT_MAX) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("data too large for AES-CTR"));
        return false;
    }
    if (!ctx || !EVP_EncryptInit_ex2(ctx, EVP_aes_128_ctr(), key, iv, NULL) ||
        !EVP_EncryptUpdate(ctx, out, &n1, in, (int)len) ||
        !EVP_EncryptFinal_ex(ctx, (unsigned char *)out + n1, &n2) ||
        (size_t)(n1 + n2) != len) {
        mhSevSetOpensslError(error, _("AES-128-CTR"));
        return false;
    }
    return true;
}

bool
mhSevMacEqual(const uint8_t *a, const uint8_t *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

GBytes *
mhSevSecretToBytes(MhSecret *secret)
{
    return g_bytes_new_with_free_func(secret->data, secret->len,
                                      (GDestroyNotify)mhSecretFree, secret);
}

/* master secret, KEK and KIK of LAUNCH_START (spec section 6.2). */
static bool
mhSevSessionKeys(const MhSecret *z, const uint8_t nonce[MH_SEV_NONCE_SIZE],
                 MhSecret **kek, MhSecret **kik, GError **error)
{
    g_autoptr(MhSecret) master = NULL;

    if (!(master = mhSevKdf(z->data, z->len, "sev-master-secret",
                            nonce, MH_SEV_NONCE_SIZE, MH_SEV_KEY_SIZE, error)))
        return false;
    if (!(*kek = mhSevKdf(master->data, master->len, "sev-kek", NULL, 0,
                          MH_SEV_KEY_SIZE, error)))
        return false;
    if (!(*kik = mhSevKdf(master->data, master->len, "sev-kik", NULL, 0,
                          MH_SEV_KEY_SIZE, error))) {
        g_clear_pointer(kek, mhSecretFree);
        return false;
    }
    return true;
}

static bool
mhSevPolicyMac(const uint8_t tik[MH_SEV_KEY_SIZE], uint32_t policy,
               uint8_t mac[MH_SEV_MAC_SIZE], GError **error)
{
    uint8_t le[4];

    mhUtilPutLE32(le, policy);
    return mhSevHmac(tik, MH_SEV_KEY_SIZE, le, sizeof(le), mac, error);
}

bool
mhSevSessionWrap(const MhSecret *z, const uint8_t nonce[MH_SEV_NONCE_SIZE],
                 const uint8_t wrap_iv[MH_SEV_IV_SIZE], const MhSecret *tk,
                 uint32_t policy, MhSevSession *session, GError **error)
{
    g_autoptr(MhSecret) kek = NULL;
    g_autoptr(MhSecret) kik = NULL;

    if (tk->len != MH_SEV_TK_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("TEK||TIK must be %d bytes, got %zu"), MH_SEV_TK_SIZE, tk->len);
        return false;
    }
    if (!mhSevSessionKeys(z, nonce, &kek, &kik, error))
        return false;
    memcpy(session->nonce, nonce, MH_SEV_NONCE_SIZE);
    memcpy(session->wrap_iv, wrap_iv, MH_SEV_IV_SIZE);
    return mhSevAesCtr(kek->data, wrap_iv, tk->data, MH_SEV_TK_SIZE, session->wrap_tk, error) &&
           mhSevHmac(kik->data, kik->len, session->wrap_tk, MH_SEV_TK_SIZE,
                     session->wrap_mac, error) &&
           mhSevPolicyMac(tk->data + MH_SEV_KEY_SIZE, policy, session->policy_mac, error);
}

MhSecret *
mhSevSessionUnwrap(const MhSecret *z, const MhSevSession *session,
                   uint32_t policy, GError **error)
{
    g_autoptr(MhSecret) kek = NULL;
    g_autoptr(MhSecret) kik = NULL;
    g_autoptr(MhSecret) tk = NULL;
    uint8_t mac[MH_SEV_MAC_SIZE];

    if (!mhSevSessionKeys(z, session->nonce, &kek, &kik, error))
        return NULL;
    if (!mhSevHmac(kik->data, kik->len, session->wrap_tk, MH_SEV_TK_SIZE, mac, error))
        return NULL;
    /* Check before unwrapping: a wrong MAC means a wrong GODH/PDH pairing
     * or a tampered blob, and nothing of it may be used. */
    if (!mhSevMacEqual(mac, session->wrap_mac, MH_SEV_MAC_SIZE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("LAUNCH_START session: wrap MAC does not match (wrong PDH, "
                      "GODH or tampered session blob)"));
        return NULL;
    }
    tk = mhSecretNew(MH_SEV_TK_SIZE);
    if (!mhSevAesCtr(kek->data, session->wrap_iv, session->wrap_tk, MH_SEV_TK_SIZE,
                     tk->data, error))
        return NULL;
    if (!mhSevPolicyMac(tk->data + MH_SEV_KEY_SIZE, policy, mac, error))
        return NULL;
    if (!mhSevMacEqual(mac, session->policy_mac, MH_SEV_MAC_SIZE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("LAUNCH_START session: policy MAC does not match policy 0x%x"),
                    policy);
        return NULL;
    }
    return g_steal_pointer(&tk);
}

bool
mhSevSessionParse(const void *data, size_t len, MhSevSession *session, GError **error)
{
    if (len != MH_SEV_SESSION_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("SEV session blob must be %d bytes, got %zu"),
                    MH_SEV_SESSION_SIZE, len);
        return false;
    }
    memcpy(session, data, MH_SEV_SESSION_SIZE);
    return true;
}

bool
mhSevMeasurementMac(const uint8_t tik[MH_SEV_KEY_SIZE], const MhSevBuild *build,
                    uint32_t policy, const uint8_t digest[MH_SEV_DIGEST_SIZE],
                    const uint8_t mnonce[MH_SEV_NONCE_SIZE],
                    uint8_t mac[MH_SEV_MAC_SIZE], GError **error)
{
    uint8_t msg[1 + 3 + 4 + MH_SEV_DIGEST_SIZE + MH_SEV_NONCE_SIZE];

    msg[0] = 0x04;
    msg[1] = build->api_major;
    msg[2] = build->api_minor;
    msg[3] = build->build_id;
    mhUtilPutLE32(msg + 4, policy);
    memcpy(msg + 8, digest, MH_SEV_DIGEST_SIZE);
    memcpy(msg + 8 + MH_SEV_DIGEST_SIZE, mnonce, MH_SEV_NONCE_SIZE);
    return mhSevHmac(tik, MH_SEV_KEY_SIZE, msg, sizeof(msg), mac, error);
}

bool
mhSevPacketMac(const uint8_t tik[MH_SEV_KEY_SIZE], uint32_t flags,
               const uint8_t iv[MH_SEV_IV_SIZE], uint32_t guest_len,
               const void *ciphertext, size_t trans_len,
               const uint8_t measure_mac[MH_SEV_MAC_SIZE],
               uint8_t mac[MH_SEV_MAC_SIZE], GError **error)
{
    g_autoptr(EVP_MAC_CTX) ctx = mhSevHmacNew(tik, MH_SEV_KEY_SIZE, error);
    uint8_t head[1 + 4 + MH_SEV_IV_SIZE + 4 + 4];

    if (!ctx)
        return false;
    if (trans_len > G_MAXUINT32) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("secret too large"));
        return false;
    }
    head[0] = 0x01;
    mhUtilPutLE32(head + 1, flags);
    memcpy(head + 5, iv, MH_SEV_IV_SIZE);
    mhUtilPutLE32(head + 5 + MH_SEV_IV_SIZE, guest_len);
    mhUtilPutLE32(head + 9 + MH_SEV_IV_SIZE, (uint32_t)trans_len);
    if (!EVP_MAC_update(ctx, head, sizeof(head)) ||
        !EVP_MAC_update(ctx, ciphertext, trans_len) ||
        !EVP_MAC_update(ctx, measure_mac, MH_SEV_MAC_SIZE)) {
        mhSevSetOpensslError(error, _("HMAC-SHA256"));
        return false;
    }
    return mhSevHmacFinal(ctx, mac, error);
}

bool
mhSevPacketHeaderParse(const void *data, size_t len, MhSevPacketHeader *hdr,
                       GError **error)
{
    const uint8_t *p = data;

    if (len != MH_SEV_PACKET_HEADER_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("LAUNCH_SECRET packet header must be %d bytes, got %zu"),
                    MH_SEV_PACKET_HEADER_SIZE, len);
        return false;
    }
    hdr->flags = mhUtilGetLE32(p);
    memcpy(hdr->iv, p + 4, MH_SEV_IV_SIZE);
    memcpy(hdr->mac, p + 4 + MH_SEV_IV_SIZE, MH_SEV_MAC_SIZE);
    return true;
}

void
mhSevPacketHeaderFormat(const MhSevPacketHeader *hdr,
                        uint8_t out[MH_SEV_PACKET_HEADER_SIZE])
{
    mhUtilPutLE32(out, hdr->flags);
    memcpy(out + 4, hdr->iv, MH_SEV_IV_SIZE);
    memcpy(out + 4 + MH_SEV_IV_SIZE, hdr->mac, MH_SEV_MAC_SIZE);
}

static bool
mhSevSha256(const void *data, size_t len, uint8_t out[MH_SEV_DIGEST_SIZE], GError **error)
{
    if (!EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL)) {
        mhSevSetOpensslError(error, _("SHA-256"));
        return false;
    }
    return true;
}

/* QEMU's SevHashTable (target/i386/sev.c): header GUID, u16 length, then
 * cmdline, initrd and kernel entries of GUID, u16 length, SHA-256, padded
 * to 16 bytes; GUIDs in EFI byte order. */
GBytes *
mhSevKernelHashesTable(const void *kernel, size_t kernel_len,
                       const void *initrd, size_t initrd_len,
                       const char *cmdline, GError **error)
{
    const char *guids[3] = { MH_SEV_KERNEL_CMDLINE_GUID, MH_SEV_KERNEL_INITRD_GUID,
                             MH_SEV_KERNEL_KERNEL_GUID };
    enum { ENTRY = MH_UTIL_GUID_SIZE + 2 + MH_SEV_DIGEST_SIZE,
           TABLE = MH_UTIL_GUID_SIZE + 2 + 3 * ENTRY,
           PADDED = (TABLE + 15) / 16 * 16 };
    uint8_t table[PADDED] = { 0 };
    uint8_t *p = table;

    if (!mhUtilGuidParse(MH_SEV_KERNEL_TABLE_GUID, p, error))
        return NULL;
    p[16] = TABLE & 0xff;
    p[17] = TABLE >> 8;
    p += MH_UTIL_GUID_SIZE + 2;
    for (size_t i = 0; i < 3; i++, p += ENTRY) {
        bool ok;

        if (!mhUtilGuidParse(guids[i], p, error))
            return NULL;
        p[16] = ENTRY;
        p[17] = 0;
        switch (i) {
        case 0:   /* QEMU hashes the command line with its NUL */
            cmdline = cmdline ? cmdline : "";
            ok = mhSevSha256(cmdline, strlen(cmdline) + 1, p + 18, error);
            break;
        case 1:
            ok = mhSevSha256(initrd ? initrd : "", initrd ? initrd_len : 0, p + 18, error);
            break;
        default:
            ok = mhSevSha256(kernel, kernel_len, p + 18, error);
            break;
        }
        if (!ok)
            return NULL;
    }
    return g_bytes_new(table, sizeof(table));
}

GBytes *
mhSevKernelHashesTableFromFiles(const char *kernel, const char *initrd,
                                const char *cmdline, GError **error)
{
    g_autofree char *kdata = NULL;
    g_autofree char *idata = NULL;
    size_t klen = 0, ilen = 0;

    if (!kernel) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("kernel hashes need a kernel image"));
        return NULL;
    }
    if (!mhUtilReadFile(kernel, &kdata, &klen, error))
        return NULL;
    if (initrd && !mhUtilReadFile(initrd, &idata, &ilen, error))
        return NULL;
    return mhSevKernelHashesTable(kdata, klen, idata, ilen, cmdline, error);
}
