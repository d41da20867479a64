/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The page transport's records: sealing, opening, the final record;
 * see mh-transport.h and docs/migration-handler.md. */
#include "sim/mh/mh-transport-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <string.h>
#include <openssl/crypto.h>

size_t
mhTransportRecordSize(size_t npages, size_t nonzero)
{
    return MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * npages +
        MH_PAGE_SIZE * nonzero + MH_TRANSPORT_TAG_SIZE;
}

static void
sessionIv(const MhTransportSession *session, uint64_t seq, uint8_t iv[MH_TRANSPORT_IV_SIZE])
{
    memcpy(iv, session->iv_base, MH_TRANSPORT_IV_SIZE);
    for (int i = 0; i < 8; i++)
        iv[MH_TRANSPORT_IV_SIZE - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

static bool
pageIsZero(const void *page)
{
    const uint64_t *w = page;
    uint64_t acc = 0;

    /* Cheap early exit: random or live data differs in the first words. */
    if (w[0] | w[1] | w[2] | w[3])
        return false;
    for (size_t i = 0; i < MH_PAGE_SIZE / 8; i++)
        acc |= w[i];
    return acc == 0;
}

static void
recordDigest(const uint8_t *aad, size_t aad_len, const uint8_t *tag, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 32;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, aad, aad_len);
    EVP_DigestUpdate(md, tag, MH_TRANSPORT_TAG_SIZE);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

/* chain = SHA-256(chain || record digest); caller holds the lock. */
static void
chainAdd(MhTransportSession *session, const uint8_t digest[32])
{
    uint8_t buf[64];
    unsigned int len = 32;

    memcpy(buf, session->chain, 32);
    memcpy(buf + 32, digest, 32);
    EVP_Digest(buf, sizeof(buf), session->chain, &len, EVP_sha256(), NULL);
}

/* Seal side: enter a record's digest in sequence order. */
static void
sealChain(MhTransportSession *session, uint64_t seq, const uint8_t digest[32])
{
    uint8_t *d;

    g_mutex_lock(&session->lock);
    if (seq != session->chain_next) {
        uint64_t *key = g_new(uint64_t, 1);
        *key = seq;
        g_hash_table_insert(session->pending, key, g_memdup2(digest, 32));
    } else {
        chainAdd(session, digest);
        session->chain_next++;
        while ((d = g_hash_table_lookup(session->pending, &session->chain_next))) {
            chainAdd(session, d);
            g_hash_table_remove(session->pending, &session->chain_next);
            session->chain_next++;
        }
    }
    g_mutex_unlock(&session->lock);
}

static void
recordHeader(uint8_t *h, MhTransportRecordType type, size_t npages,
             uint32_t iteration, uint32_t ct_len, uint64_t seq)
{
    mhUtilPutLE32(h, MH_TRANSPORT_RECORD_MAGIC);
    h[4] = type;
    h[5] = 0;
    mhUtilPutLE16(h + 6, npages);
    mhUtilPutLE32(h + 8, iteration);
    mhUtilPutLE32(h + 12, ct_len);
    mhUtilPutLE64(h + 16, seq);
}

/* One AEAD operation; 'in' is a list of 'nin' segments of 'seg_len' bytes
 * (pages are encrypted straight from guest memory, no gathering copy). */
static bool
sessionAead(MhTransportSession *session, bool enc, uint64_t seq,
            const uint8_t *aad, size_t aad_len,
            const void *const *in, size_t nin, size_t seg_len,
            uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t iv[MH_TRANSPORT_IV_SIZE];
    int outl = 0;
    bool ok = false;

    sessionIv(session, seq, iv);
    if (!ctx ||
        EVP_CipherInit_ex2(ctx, session->evp, session->page_key->data, iv, enc, NULL) != 1)
        goto cleanup;
    if (aad_len && EVP_CipherUpdate(ctx, NULL, &outl, aad, aad_len) != 1)
        goto cleanup;
    for (size_t i = 0; i < nin && seg_len > 0; i++) {
        if (EVP_CipherUpdate(ctx, out + i * seg_len, &outl, in[i], seg_len) != 1)
            goto cleanup;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
                                    MH_TRANSPORT_TAG_SIZE, tag) != 1)
        goto cleanup;
    if (EVP_CipherFinal_ex(ctx, out + nin * seg_len, &outl) != 1)
        goto cleanup;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
                                   MH_TRANSPORT_TAG_SIZE, tag) != 1)
        goto cleanup;
    ok = true;
 cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Hand out the next sequence number for sealing. */
static bool
sealReserve(MhTransportSession *session, size_t npages, size_t nzero,
            bool final, uint64_t *seq, GError **error)
{
    bool ok = false;

    g_mutex_lock(&session->lock);
    if (session->state != SESSION_READY) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    session->state == SESSION_FAILED ?
                    _("the MH session failed; no more records are sealed under its key") :
                    session->state == SESSION_FINISHED ?
                    _("the MH session already sealed its final record") :
                    _("pages cannot move before both ends confirmed the key"));
    } else if (final && session->chain_next != session->seq_next) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("cannot seal the final record: %" PRIu64
                      " records are still being sealed"),
                    session->seq_next - session->chain_next);
    } else {
        *seq = session->seq_next++;
        if (final) {
            session->state = SESSION_FINISHED;
        } else {
            session->records++;
            session->pages += npages;
            session->zero_pages += nzero;
        }
        ok = true;
    }
    g_mutex_unlock(&session->lock);
    return ok;
}

bool
mhTransportSealPages(MhTransportSession *session,
                     const uint64_t *gpas, const void *const *pages, size_t n,
                     uint32_t iteration,
                     uint8_t *out, size_t out_size, size_t *out_len,
                     GError **error)
{
    const void *nonzero[MH_TRANSPORT_MAX_BATCH];
    bool zero[MH_TRANSPORT_MAX_BATCH];
    size_t nnz = 0;
    size_t aad_len = MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * n;
    size_t rec_len;
    uint8_t digest[32];
    uint64_t seq;

    if (n == 0 || n > MH_TRANSPORT_MAX_BATCH) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("a record carries 1 to %d pages, not %zu"), MH_TRANSPORT_MAX_BATCH, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (gpas[i] & (MH_PAGE_SIZE - 1)) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("GPA 0x%" PRIx64 " is not page aligned"), gpas[i]);
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        zero[i] = pageIsZero(pages[i]);
        if (!zero[i])
            nonzero[nnz++] = pages[i];
    }
    rec_len = mhTransportRecordSize(n, nnz);
    if (out_size < rec_len) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("record buffer of %zu bytes too small for %zu"), out_size, rec_len);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        mhUtilPutLE64(out + MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * i,
                           gpas[i] | (zero[i] ? MH_TRANSPORT_GPA_ZERO : 0));

    if (!sealReserve(session, n, n - nnz, false, &seq, error))
        return false;
    recordHeader(out, MH_TRANSPORT_RECORD_PAGES, n, iteration,
                 nnz * MH_PAGE_SIZE, seq);
    if (!sessionAead(session, true, seq, out, aad_len, nonzero, nnz,
                     MH_PAGE_SIZE, out + aad_len, out + rec_len - MH_TRANSPORT_TAG_SIZE)) {
        /* The sequence number is spent and the digest would stall: stop. */
        mhTransportSessionAbort(session);
        mhTransportSetCryptoError(error, mhTransportCipherEvpName(session->cipher));
        return false;
    }
    recordDigest(out, aad_len, out + rec_len - MH_TRANSPORT_TAG_SIZE, digest);
    sealChain(session, seq, digest);
    *out_len = rec_len;
    return true;
}

bool
mhTransportSealFinal(MhTransportSession *session,
                     uint8_t *out, size_t out_size, size_t *out_len,
                     GError **error)
{
    uint8_t payload[MH_TRANSPORT_FINAL_PAYLOAD_SIZE];
    const void *in[1] = { payload };
    size_t rec_len = mhTransportRecordSize(0, 0) + sizeof(payload);
    uint64_t seq;

    if (out_size < rec_len) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("record buffer of %zu bytes too small for %zu"), out_size, rec_len);
        return false;
    }
    if (!sealReserve(session, 0, 0, true, &seq, error))
        return false;
    g_mutex_lock(&session->lock);
    mhUtilPutLE64(payload, session->records);
    mhUtilPutLE64(payload + 8, session->pages);
    memcpy(payload + 16, session->chain, 32);
    g_mutex_unlock(&session->lock);

    recordHeader(out, MH_TRANSPORT_RECORD_FINAL, 0, 0, sizeof(payload), seq);
    if (!sessionAead(session, true, seq, out, MH_TRANSPORT_RECORD_HEADER_SIZE, in, 1,
                     sizeof(payload), out + MH_TRANSPORT_RECORD_HEADER_SIZE,
                     out + rec_len - MH_TRANSPORT_TAG_SIZE)) {
        mhTransportSessionAbort(session);
        mhTransportSetCryptoError(error, mhTransportCipherEvpName(session->cipher));
        return false;
    }
    *out_len = rec_len;
    return true;
}

bool
mhTransportRecordFrame(const void *buf, size_t avail,
                       size_t *record_len, size_t *need, GError **error)
{
    const uint8_t *h = buf;
    size_t npages;

    *need = 0;
    if (avail < MH_TRANSPORT_RECORD_HEADER_SIZE) {
        *need = MH_TRANSPORT_RECORD_HEADER_SIZE - avail;
        return false;
    }
    npages = mhUtilGetLE16(h + 6);
    if (mhUtilGetLE32(h) != MH_TRANSPORT_RECORD_MAGIC || npages > MH_TRANSPORT_MAX_BATCH ||
        mhUtilGetLE32(h + 12) > MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed MH record header (magic 0x%08x, %zu pages, %u bytes)"),
                    mhUtilGetLE32(h), npages, mhUtilGetLE32(h + 12));
        return false;
    }
    *record_len = MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * npages + mhUtilGetLE32(h + 12) +
        MH_TRANSPORT_TAG_SIZE;
    return true;
}

bool
mhTransportRecordPeek(const void *record, size_t len,
                      MhTransportRecordType *type, uint64_t *seq, size_t *npages)
{
    const uint8_t *h = record;

    if (len < MH_TRANSPORT_RECORD_HEADER_SIZE)
        return false;
    if (type)
        *type = h[4];
    if (seq)
        *seq = mhUtilGetLE64(h + 16);
    if (npages)
        *npages = mhUtilGetLE16(h + 6);
    return true;
}

bool
mhTransportOpenVerify(MhTransportSession *session,
                      const void *record, size_t len,
                      const uint64_t *expect_gpas, size_t n_expect,
                      uint8_t *plain, MhTransportOpened *opened,
                      GError **error)
{
    const uint8_t *h = record;
    size_t npages, ct_len, aad_len, nzero = 0;
    const void *in[1];
    MhTransportSessionState state;

    g_mutex_lock(&session->lock);
    state = session->state;
    g_mutex_unlock(&session->lock);
    if (state != SESSION_READY) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    state == SESSION_FAILED ?
                    _("the MH session failed; no more records are accepted") :
                    state == SESSION_FINISHED ?
                    _("record after the final record") :
                    _("pages cannot move before both ends confirmed the key"));
        return false;
    }

    /* Framing first: only the two length fields are read before the tag,
     * and only to find the tag. */
    if (len < MH_TRANSPORT_RECORD_HEADER_SIZE + MH_TRANSPORT_TAG_SIZE) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("MH record of %zu bytes is shorter than a header and tag"), len);
        goto fail;
    }
    npages = mhUtilGetLE16(h + 6);
    ct_len = mhUtilGetLE32(h + 12);
    aad_len = MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * npages;
    if (npages > MH_TRANSPORT_MAX_BATCH ||
        ct_len > MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH ||
        aad_len + ct_len + MH_TRANSPORT_TAG_SIZE != len) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("MH record length %zu does not match its header (%zu pages, "
                      "%zu bytes of ciphertext)"), len, npages, ct_len);
        goto fail;
    }

    in[0] = h + aad_len;
    if (!sessionAead(session, false, mhUtilGetLE64(h + 16), h, aad_len, in, 1, ct_len,
                     plain, (uint8_t *)h + len - MH_TRANSPORT_TAG_SIZE)) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_TAG,
                    _("MH record authentication failed (claimed sequence %" PRIu64
                      ", %zu pages): the tag does not verify"), mhUtilGetLE64(h + 16), npages);
        goto fail;
    }

    /* Authentic from here on; what is left are checks against a sender
     * that seals nonsense and against the host's restore request. */
    memset(opened, 0, sizeof(*opened));
    opened->type = h[4];
    opened->iteration = mhUtilGetLE32(h + 8);
    opened->seq = mhUtilGetLE64(h + 16);
    opened->npages = npages;
    opened->plain = plain;
    opened->plain_len = ct_len;
    if (mhUtilGetLE32(h) != MH_TRANSPORT_RECORD_MAGIC || h[5] != 0 ||
        (opened->type != MH_TRANSPORT_RECORD_PAGES && opened->type != MH_TRANSPORT_RECORD_FINAL) ||
        (opened->type == MH_TRANSPORT_RECORD_PAGES && npages == 0) ||
        (opened->type == MH_TRANSPORT_RECORD_FINAL &&
         (npages != 0 || ct_len != MH_TRANSPORT_FINAL_PAYLOAD_SIZE))) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("authentic MH record %" PRIu64 " has an invalid header "
                      "(type %u, flags 0x%x, %zu pages)"), opened->seq, h[4], h[5], npages);
        goto fail;
    }
    for (size_t i = 0; i < npages; i++) {
        uint64_t g = mhUtilGetLE64(h + MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * i);
        opened->zero[i] = g & MH_TRANSPORT_GPA_ZERO;
        opened->gpas[i] = g & ~MH_TRANSPORT_GPA_ZERO;
        nzero += opened->zero[i];
        if (opened->gpas[i] & (MH_PAGE_SIZE - 1)) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("record %" PRIu64 " names unaligned GPA 0x%"
                          PRIx64 ""), opened->seq, opened->gpas[i]);
            goto fail;
        }
    }
    if (opened->type == MH_TRANSPORT_RECORD_PAGES &&
        ct_len != (npages - nzero) * MH_PAGE_SIZE) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("record %" PRIu64 ": %zu bytes of ciphertext for %zu "
                      "non-zero pages"), opened->seq, ct_len, npages - nzero);
        goto fail;
    }
    if (expect_gpas) {
        if (n_expect != npages) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("record %" PRIu64 " carries %zu pages, the restore "
                          "request names %zu"), opened->seq, npages, n_expect);
            goto fail;
        }
        for (size_t i = 0; i < npages; i++) {
            if (expect_gpas[i] != opened->gpas[i]) {
                g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                            _("record %" PRIu64 " is bound to GPA 0x%"
                              PRIx64 ", refusing to restore it at GPA 0x%"
                              PRIx64 ""),
                            opened->seq, opened->gpas[i], expect_gpas[i]);
                goto fail;
            }
        }
    }
    recordDigest(h, aad_len, h + len - MH_TRANSPORT_TAG_SIZE, opened->digest);
    return true;

 fail:
    mhTransportSessionAbort(session);
    return false;
}

static bool
openFinal(MhTransportSession *session, const MhTransportOpened *opened, GError **error)
{
    uint64_t records = mhUtilGetLE64(opened->plain);
    uint64_t pages = mhUtilGetLE64(opened->plain + 8);

    if (records != session->records || pages != session->pages) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_COUNT,
                    _("final record counts %" PRIu64 " records / %"
                      PRIu64 " pages, this end committed %" PRIu64
                      " / %" PRIu64),
                    records, pages, session->records, session->pages);
        return false;
    }
    if (CRYPTO_memcmp(opened->plain + 16, session->chain, 32) != 0) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_DIGEST,
                    _("final record digest does not match the %" PRIu64
                      " records committed"), session->records);
        return false;
    }
    return true;
}

bool
mhTransportOpenCommit(MhTransportSession *session,
                      const MhTransportOpened *opened,
                      GError **error)
{
    bool ok = false;
    size_t nzero = 0;

    g_mutex_lock(&session->lock);
    if (session->state != SESSION_READY) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    session->state == SESSION_FINISHED ?
                    _("record after the final record") :
                    _("the MH session failed; no more records are accepted"));
        goto out;
    }
    if (opened->seq < session->seq_next) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_SEQUENCE,
                    _("replayed MH record: sequence %" PRIu64 " was already "
                      "accepted (expected %" PRIu64 ")"),
                    opened->seq, session->seq_next);
        goto out;
    }
    if (opened->seq > session->seq_next) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_SEQUENCE,
                    _("MH record out of order: got sequence %" PRIu64
                      ", expected %" PRIu64 " (records dropped or reordered)"),
                    opened->seq, session->seq_next);
        goto out;
    }
    if (opened->type == MH_TRANSPORT_RECORD_FINAL) {
        if (!openFinal(session, opened, error))
            goto out;
        session->seq_next++;
        session->state = SESSION_FINISHED;
        ok = true;
        goto out;
    }
    if (opened->iteration < session->iteration) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_SEQUENCE,
                    _("MH record %" PRIu64 " belongs to iteration %u after "
                      "iteration %u"), opened->seq, opened->iteration, session->iteration);
        goto out;
    }
    for (size_t i = 0; i < opened->npages; i++)
        nzero += opened->zero[i];
    session->iteration = opened->iteration;
    session->seq_next++;
    session->records++;
    session->pages += opened->npages;
    session->zero_pages += nzero;
    chainAdd(session, opened->digest);
    ok = true;

 out:
    if (!ok)
        session->state = SESSION_FAILED;
    g_mutex_unlock(&session->lock);
    return ok;
}

bool
mhTransportOpen(MhTransportSession *session,
                const void *record, size_t len,
                const uint64_t *expect_gpas, size_t n_expect,
                uint8_t *plain, MhTransportOpened *opened,
                GError **error)
{
    return mhTransportOpenVerify(session, record, len, expect_gpas, n_expect,
                                 plain, opened, error) &&
        mhTransportOpenCommit(session, opened, error);
}

bool
mhTransportOpenEnd(MhTransportSession *session, GError **error)
{
    bool ok;

    g_mutex_lock(&session->lock);
    ok = session->state == SESSION_FINISHED;
    if (session->state == SESSION_FAILED)
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("the MH session failed earlier: the stream was not accepted"));
    else if (!ok)
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_TRUNCATED,
                    _("MH stream truncated: it ended after %" PRIu64
                      " records (%" PRIu64 " pages) without the final record"),
                    session->records, session->pages);
    g_mutex_unlock(&session->lock);
    return ok;
}
