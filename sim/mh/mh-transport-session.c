/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The page transport's session: hellos, key derivation, key confirmation;
 * see mh-transport.h and docs/migration-handler.md. */
#include "sim/mh/mh-transport-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

/* OpenSSL's names of the page-record AEADs, by MhConfCipher. */
static const char *const cipherEvpNames[] = {
    [MH_CONF_CIPHER_AES_256_GCM] = "AES-256-GCM",
    [MH_CONF_CIPHER_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
    [MH_CONF_CIPHER_AES_256_OCB] = "AES-256-OCB",
};
G_STATIC_ASSERT(G_N_ELEMENTS(cipherEvpNames) == MH_CONF_CIPHER_LAST);

MH_ENUM_IMPL(mhTransportRole, MH_TRANSPORT_ROLE_LAST, "source", "target");

GQuark
mhTransportErrorQuark(void)
{
    return g_quark_from_static_string("mirror-helper-transport-error-quark");
}

void
mhTransportSetCryptoError(GError **error, const char *what)
{
    g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_CRYPTO,
                _("OpenSSL failed: %s"), what);
}

const char *
mhTransportCipherEvpName(MhConfCipher cipher)
{
    return cipher < MH_CONF_CIPHER_LAST ? cipherEvpNames[cipher] : "?";
}

MhTransportSession *
mhTransportSessionNewWithNonce(MhTransportRole role,
                               MhConfCipher cipher,
                               const MhSecret *key,
                               uint32_t key_id,
                               const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                               const uint8_t nonce[MH_TRANSPORT_NONCE_SIZE],
                               GError **error)
{
    g_autoptr(MhTransportSession) s = NULL;

    if (role >= MH_TRANSPORT_ROLE_LAST || cipher >= MH_CONF_CIPHER_LAST) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("invalid transport role %d or cipher %d"), role, cipher);
        return NULL;
    }
    if (!key || key->len != MH_TRANSPORT_KEY_SIZE) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY,
                    _("migration key must be %d bytes, got %zu"),
                    MH_TRANSPORT_KEY_SIZE, key ? key->len : 0);
        return NULL;
    }

    s = g_new0(MhTransportSession, 1);
    g_mutex_init(&s->lock);
    s->role = role;
    s->cipher = cipher;
    s->key_id = key_id;
    memcpy(s->uuid, uuid, MH_TRANSPORT_UUID_SIZE);
    memcpy(s->nonce, nonce, MH_TRANSPORT_NONCE_SIZE);
    s->migration_key = mhSecretNewFrom(key->data, key->len);
    s->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    s->state = SESSION_NEW;

    if (!(s->evp = EVP_CIPHER_fetch(NULL, mhTransportCipherEvpName(cipher), NULL))) {
        mhTransportSetCryptoError(error, mhTransportCipherEvpName(cipher));
        return NULL;
    }

    memcpy(s->hello, MH_TRANSPORT_HELLO_MAGIC, 4);
    s->hello[4] = MH_TRANSPORT_VERSION;
    s->hello[5] = role;
    s->hello[6] = cipher;
    s->hello[7] = 0;
    memcpy(s->hello + 8, uuid, MH_TRANSPORT_UUID_SIZE);
    mhUtilPutLE32(s->hello + 24, key_id);
    memcpy(s->hello + 28, nonce, MH_TRANSPORT_NONCE_SIZE);
    return g_steal_pointer(&s);
}

MhTransportSession *
mhTransportSessionNew(MhTransportRole role,
                      MhConfCipher cipher,
                      const MhSecret *key,
                      uint32_t key_id,
                      const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                      GError **error)
{
    uint8_t nonce[MH_TRANSPORT_NONCE_SIZE];

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        mhTransportSetCryptoError(error, "RAND_bytes");
        return NULL;
    }
    return mhTransportSessionNewWithNonce(role, cipher, key, key_id, uuid, nonce, error);
}

void
mhTransportSessionFree(MhTransportSession *session)
{
    if (!session)
        return;
    mhSecretFree(session->migration_key);
    mhSecretFree(session->page_key);
    mhSecretFree(session->confirm_key);
    mhUtilWipe(session->iv_base, sizeof(session->iv_base));
    EVP_CIPHER_free(session->evp);
    if (session->pending)
        g_hash_table_unref(session->pending);
    g_mutex_clear(&session->lock);
    g_free(session);
}

MhTransportRole
mhTransportSessionRole(const MhTransportSession *session)
{
    return session->role;
}

void
mhTransportSessionHello(MhTransportSession *session,
                        uint8_t out[MH_TRANSPORT_HELLO_SIZE])
{
    memcpy(out, session->hello, MH_TRANSPORT_HELLO_SIZE);
}

/* HKDF-SHA256(migration key, salt = nonce_src || nonce_dst,
 *             info = label || domain UUID || cipher (u8)): keys made for
 * one AEAD are never the keys of another. */
static bool
sessionDerive(MhTransportSession *session, const uint8_t *salt, const char *label,
              uint8_t *out, size_t out_len, GError **error)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    uint8_t info[64];
    size_t label_len = strlen(label);
    OSSL_PARAM params[5];
    bool ok = false;

    g_assert(label_len + MH_TRANSPORT_UUID_SIZE + 1 <= sizeof(info));
    memcpy(info, label, label_len);
    memcpy(info + label_len, session->uuid, MH_TRANSPORT_UUID_SIZE);
    info[label_len + MH_TRANSPORT_UUID_SIZE] = (uint8_t)session->cipher;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  session->migration_key->data,
                                                  session->migration_key->len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
                                                  2 * MH_TRANSPORT_NONCE_SIZE);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
                                                  label_len + MH_TRANSPORT_UUID_SIZE + 1);
    params[4] = OSSL_PARAM_construct_end();

    if (kctx && EVP_KDF_derive(kctx, out, out_len, params) == 1)
        ok = true;
    else
        mhTransportSetCryptoError(error, "HKDF-SHA256");
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

static void
sessionConfirmMac(MhTransportSession *session, MhTransportRole role, uint8_t out[32])
{
    uint8_t msg[sizeof(CONFIRM_LABEL) + 32];
    unsigned int len = 32;

    memcpy(msg, CONFIRM_LABEL, sizeof(CONFIRM_LABEL) - 1);
    msg[sizeof(CONFIRM_LABEL) - 1] = role;
    memcpy(msg + sizeof(CONFIRM_LABEL), session->transcript, 32);
    HMAC(EVP_sha256(), session->confirm_key->data, session->confirm_key->len,
         msg, sizeof(msg), out, &len);
}

bool
mhTransportSessionPeerHello(MhTransportSession *session,
                            const void *hello, size_t len,
                            uint8_t confirm[MH_TRANSPORT_CONFIRM_SIZE],
                            GError **error)
{
    const uint8_t *h = hello;
    const uint8_t *src_hello, *dst_hello;
    uint8_t salt[2 * MH_TRANSPORT_NONCE_SIZE];
    uint8_t both[2 * MH_TRANSPORT_HELLO_SIZE];
    uint32_t peer_key_id;
    unsigned int dlen = 32;

    if (session->state != SESSION_NEW) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("the session already received a peer hello"));
        return false;
    }
    if (len != MH_TRANSPORT_HELLO_SIZE || memcmp(h, MH_TRANSPORT_HELLO_MAGIC, 4) != 0) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("peer hello is not an MH hello (%zu bytes)"), len);
        return false;
    }
    if (h[4] != MH_TRANSPORT_VERSION) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_PEER,
                    _("peer speaks MH transport version %u, this end version %u"),
                    h[4], MH_TRANSPORT_VERSION);
        return false;
    }
    if (h[5] >= MH_TRANSPORT_ROLE_LAST || h[5] == session->role) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_PEER,
                    _("peer hello has role %u, expected the %s"), h[5],
                    mhTransportRoleTypeToString(session->role == MH_TRANSPORT_ROLE_SOURCE ?
                                                MH_TRANSPORT_ROLE_TARGET :
                                                MH_TRANSPORT_ROLE_SOURCE));
        return false;
    }
    if (h[6] != session->cipher) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_PEER,
                    _("peer uses cipher '%s', this end '%s'"),
                    h[6] < MH_CONF_CIPHER_LAST ? mhConfCipherTypeToString(h[6]) : "?",
                    mhConfCipherTypeToString(session->cipher));
        return false;
    }
    if (memcmp(h + 8, session->uuid, MH_TRANSPORT_UUID_SIZE) != 0) {
        g_autofree char *a = mhUtilFormatHex(h + 8, MH_TRANSPORT_UUID_SIZE);
        g_autofree char *b = mhUtilFormatHex(session->uuid, MH_TRANSPORT_UUID_SIZE);
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_PEER,
                    _("peer migrates domain %s, this end domain %s"), a, b);
        return false;
    }
    peer_key_id = mhUtilGetLE32(h + 24);
    if (peer_key_id != session->key_id) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY,
                    _("wrong migration key: peer holds key id 0x%08x, this end 0x%08x"),
                    peer_key_id, session->key_id);
        return false;
    }

    if (session->role == MH_TRANSPORT_ROLE_SOURCE) {
        src_hello = session->hello;
        dst_hello = h;
    } else {
        src_hello = h;
        dst_hello = session->hello;
    }
    memcpy(salt, src_hello + 28, MH_TRANSPORT_NONCE_SIZE);
    memcpy(salt + MH_TRANSPORT_NONCE_SIZE, dst_hello + 28, MH_TRANSPORT_NONCE_SIZE);
    memcpy(both, src_hello, MH_TRANSPORT_HELLO_SIZE);
    memcpy(both + MH_TRANSPORT_HELLO_SIZE, dst_hello, MH_TRANSPORT_HELLO_SIZE);
    if (!EVP_Digest(both, sizeof(both), session->transcript, &dlen, EVP_sha256(), NULL)) {
        mhTransportSetCryptoError(error, "SHA-256");
        return false;
    }

    session->page_key = mhSecretNew(MH_TRANSPORT_KEY_SIZE);
    session->confirm_key = mhSecretNew(32);
    if (!sessionDerive(session, salt, INFO_PAGE_KEY, session->page_key->data,
                       session->page_key->len, error) ||
        !sessionDerive(session, salt, INFO_CONFIRM_KEY, session->confirm_key->data,
                       session->confirm_key->len, error) ||
        !sessionDerive(session, salt, INFO_PAGE_IV, session->iv_base,
                       sizeof(session->iv_base), error))
        return false;

    /* The running digest starts from the transcript, so a final record
     * cannot be carried over from another session. */
    memcpy(session->chain, session->transcript, 32);
    sessionConfirmMac(session, session->role, confirm);
    session->state = SESSION_KEYED;
    return true;
}

bool
mhTransportSessionPeerConfirm(MhTransportSession *session,
                              const void *confirm, size_t len,
                              GError **error)
{
    uint8_t want[32];
    MhTransportRole peer = session->role == MH_TRANSPORT_ROLE_SOURCE ?
        MH_TRANSPORT_ROLE_TARGET : MH_TRANSPORT_ROLE_SOURCE;
    bool ok;

    if (session->state != SESSION_KEYED) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("key confirmation before the peer hello, or twice"));
        return false;
    }
    sessionConfirmMac(session, peer, want);
    ok = len == sizeof(want) && CRYPTO_memcmp(want, confirm, sizeof(want)) == 0;
    mhUtilWipe(want, sizeof(want));
    if (!ok) {
        mhTransportSessionAbort(session);
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY,
                    _("key confirmation from the %s failed: it does not hold this "
                      "domain's migration key (key id 0x%08x)"),
                    mhTransportRoleTypeToString(peer), session->key_id);
        return false;
    }
    /* The migration key is no longer needed once the session keys exist. */
    g_clear_pointer(&session->migration_key, mhSecretFree);
    g_mutex_lock(&session->lock);
    session->state = SESSION_READY;
    g_mutex_unlock(&session->lock);
    return true;
}

bool
mhTransportSessionReady(const MhTransportSession *session)
{
    return session->state == SESSION_READY;
}

bool
mhTransportSessionFailed(const MhTransportSession *session)
{
    return session->state == SESSION_FAILED;
}

void
mhTransportSessionAbort(MhTransportSession *session)
{
    g_mutex_lock(&session->lock);
    session->state = SESSION_FAILED;
    g_mutex_unlock(&session->lock);
}

void
mhTransportSessionCounts(MhTransportSession *session,
                         uint64_t *records, uint64_t *pages, uint64_t *zero_pages)
{
    g_mutex_lock(&session->lock);
    if (records)
        *records = session->records;
    if (pages)
        *pages = session->pages;
    if (zero_pages)
        *zero_pages = session->zero_pages;
    g_mutex_unlock(&session->lock);
}
