/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page transport: round trip, handshake, and that every kind of tampering
 * is refused with its own error code. */
#include "sim/mh/mh-transport.h"
#include "util/mh-error.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define PAGE MH_PAGE_SIZE

static const uint8_t testUuid[16] = {
    0x6b, 0x1f, 0x0e, 0x7a, 0x33, 0x41, 0x4c, 0x0b, 0x9a, 0x2e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
};

typedef struct {
    MhTransportSession *src;
    MhTransportSession *dst;
    MhSecret *key;
    uint8_t dst_nonce[MH_TRANSPORT_NONCE_SIZE];
    uint8_t src_hello[MH_TRANSPORT_HELLO_SIZE];
    uint8_t src_confirm[MH_TRANSPORT_CONFIRM_SIZE];
    MhConfCipher cipher;
} Pair;

static MhSecret *
randomKey(void)
{
    MhSecret *key = mhSecretNew(32);
    g_assert_cmpint(RAND_bytes(key->data, key->len), ==, 1);
    return key;
}

/* A target whose nonce is fixed, so that tests can make fresh targets that
 * agree with the one source session. */
static MhTransportSession *
pairNewTarget(Pair *p)
{
    g_autoptr(GError) err = NULL;
    uint8_t hello[MH_TRANSPORT_HELLO_SIZE], confirm[MH_TRANSPORT_CONFIRM_SIZE];
    MhTransportSession *dst = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_TARGET,
                                                             p->cipher, p->key, 7,
                                                             testUuid, p->dst_nonce, &err);
    g_assert_no_error(err);
    mhTransportSessionHello(dst, hello);
    g_assert_true(mhTransportSessionPeerHello(dst, p->src_hello, sizeof(p->src_hello),
                                              confirm, &err));
    g_assert_no_error(err);
    g_assert_true(mhTransportSessionPeerConfirm(dst, p->src_confirm,
                                                sizeof(p->src_confirm), &err));
    g_assert_no_error(err);
    return dst;
}

static void
pairInit(Pair *p, MhConfCipher cipher)
{
    g_autoptr(GError) err = NULL;
    uint8_t dst_hello[MH_TRANSPORT_HELLO_SIZE], dst_confirm[MH_TRANSPORT_CONFIRM_SIZE];
    g_autoptr(MhTransportSession) probe = NULL;

    memset(p, 0, sizeof(*p));
    p->cipher = cipher;
    p->key = randomKey();
    g_assert_cmpint(RAND_bytes(p->dst_nonce, sizeof(p->dst_nonce)), ==, 1);
    p->src = mhTransportSessionNew(MH_TRANSPORT_ROLE_SOURCE, cipher, p->key, 7, testUuid, &err);
    g_assert_no_error(err);
    mhTransportSessionHello(p->src, p->src_hello);

    probe = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_TARGET, cipher, p->key, 7,
                                           testUuid, p->dst_nonce, &err);
    g_assert_no_error(err);
    mhTransportSessionHello(probe, dst_hello);
    g_assert_true(mhTransportSessionPeerHello(p->src, dst_hello, sizeof(dst_hello),
                                              p->src_confirm, &err));
    g_assert_no_error(err);
    g_assert_true(mhTransportSessionPeerHello(probe, p->src_hello, sizeof(p->src_hello),
                                              dst_confirm, &err));
    g_assert_false(mhTransportSessionReady(p->src));
    g_assert_true(mhTransportSessionPeerConfirm(p->src, dst_confirm, sizeof(dst_confirm), &err));
    g_assert_no_error(err);
    g_assert_true(mhTransportSessionReady(p->src));
    p->dst = pairNewTarget(p);
}

static void
pairClear(Pair *p)
{
    mhTransportSessionFree(p->src);
    mhTransportSessionFree(p->dst);
    mhSecretFree(p->key);
}

/* Seal pages of 'mem' (n pages at GPAs base + i*PAGE). */
static GBytes *
seal(MhTransportSession *s, uint8_t *mem, uint64_t base, size_t n, uint32_t iteration)
{
    g_autoptr(GError) err = NULL;
    uint64_t gpas[MH_TRANSPORT_MAX_BATCH];
    const void *pages[MH_TRANSPORT_MAX_BATCH];
    uint8_t *out = g_malloc(MH_TRANSPORT_RECORD_MAX_SIZE);
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        gpas[i] = base + i * PAGE;
        pages[i] = mem + i * PAGE;
    }
    g_assert_true(mhTransportSealPages(s, gpas, pages, n, iteration, out,
                                       MH_TRANSPORT_RECORD_MAX_SIZE, &len, &err));
    g_assert_no_error(err);
    return g_bytes_new_take(out, len);
}

static GBytes *
sealFinal(MhTransportSession *s)
{
    g_autoptr(GError) err = NULL;
    uint8_t *out = g_malloc(256);
    size_t len = 0;

    g_assert_true(mhTransportSealFinal(s, out, 256, &len, &err));
    g_assert_no_error(err);
    return g_bytes_new_take(out, len);
}

/* Open one record; returns the error code, or -1 on success. */
static int
openRec(MhTransportSession *s, GBytes *rec, const uint64_t *expect, size_t nexp,
        uint8_t *plain, MhTransportOpened *op)
{
    g_autoptr(GError) err = NULL;
    size_t len;
    const void *data = g_bytes_get_data(rec, &len);

    if (mhTransportOpen(s, data, len, expect, nexp, plain, op, &err))
        return -1;
    g_assert_true(g_error_matches(err, MH_TRANSPORT_ERROR, err->code));
    g_assert_nonnull(err->message);
    g_test_message("refused as expected: %s", err->message);
    return err->code;
}

static uint8_t *
randomPages(size_t n)
{
    uint8_t *mem = g_malloc(n * PAGE);
    g_assert_cmpint(RAND_bytes(mem, n * PAGE), ==, 1);
    return mem;
}

static void
roundTrip(MhConfCipher cipher)
{
    Pair p;
    g_autofree uint8_t *mem = randomPages(8);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    g_autoptr(GBytes) r0 = NULL, r1 = NULL, fin = NULL;
    MhTransportOpened op;
    g_autoptr(GError) err = NULL;
    uint64_t records, pages, zero;

    pairInit(&p, cipher);
    memset(mem + 2 * PAGE, 0, PAGE);            /* a zero page in record 0 */
    r0 = seal(p.src, mem, 0x100000, 5, 0);
    r1 = seal(p.src, mem + 5 * PAGE, 0x200000, 3, 1);
    fin = sealFinal(p.src);
    /* Zero pages cost 8 bytes of header and no ciphertext. */
    g_assert_cmpuint(g_bytes_get_size(r0), ==, mhTransportRecordSize(5, 4));

    g_assert_cmpint(openRec(p.dst, r0, NULL, 0, plain, &op), ==, -1);
    g_assert_cmpuint(op.npages, ==, 5);
    g_assert_true(op.zero[2]);
    g_assert_cmpuint(op.gpas[2], ==, 0x102000);
    g_assert_cmpmem(plain, 2 * PAGE, mem, 2 * PAGE);
    g_assert_cmpmem(plain + 2 * PAGE, 2 * PAGE, mem + 3 * PAGE, 2 * PAGE);
    g_assert_cmpint(openRec(p.dst, r1, NULL, 0, plain, &op), ==, -1);
    g_assert_cmpuint(op.iteration, ==, 1);
    g_assert_cmpmem(plain, 3 * PAGE, mem + 5 * PAGE, 3 * PAGE);
    g_assert_false(mhTransportOpenEnd(p.dst, NULL));
    g_assert_cmpint(openRec(p.dst, fin, NULL, 0, plain, &op), ==, -1);
    g_assert_true(mhTransportOpenEnd(p.dst, &err));
    g_assert_no_error(err);
    mhTransportSessionCounts(p.dst, &records, &pages, &zero);
    g_assert_cmpuint(records, ==, 2);
    g_assert_cmpuint(pages, ==, 8);
    g_assert_cmpuint(zero, ==, 1);
    /* Nothing after the final record. */
    g_assert_cmpint(openRec(p.dst, r1, NULL, 0, plain, &op), ==, MH_TRANSPORT_ERROR_STATE);
    pairClear(&p);
}

static void
testRoundTripGcm(void)
{
    roundTrip(MH_CONF_CIPHER_AES_256_GCM);
}

static void
testRoundTripChacha(void)
{
    roundTrip(MH_CONF_CIPHER_CHACHA20_POLY1305);
}

static void
testRoundTripOcb(void)
{
    roundTrip(MH_CONF_CIPHER_AES_256_OCB);
}

static void
testZeroRecord(void)
{
    Pair p;
    g_autofree uint8_t *mem = g_malloc0(4 * PAGE);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    g_autoptr(GBytes) r0 = NULL;
    MhTransportOpened op;

    pairInit(&p, MH_CONF_CIPHER_AES_256_GCM);
    r0 = seal(p.src, mem, 0, 4, 0);
    g_assert_cmpuint(g_bytes_get_size(r0), ==, MH_TRANSPORT_RECORD_HEADER_SIZE + 4 * 8 + 16);
    g_assert_cmpint(openRec(p.dst, r0, NULL, 0, plain, &op), ==, -1);
    for (size_t i = 0; i < 4; i++)
        g_assert_true(op.zero[i]);
    g_assert_cmpuint(op.plain_len, ==, 0);
    pairClear(&p);
}

/* Flip one bit in every byte of a record: every copy is refused. Only the
 * two length fields (npages, ciphertext length) are read before the tag and
 * give a framing error; anything else is an authentication failure. Run
 * for every cipher: each sets and checks its tag through the same code. */
static void
testBitFlipEverywhere(gconstpointer data)
{
    MhConfCipher cipher = GPOINTER_TO_INT(data);
    Pair p;
    g_autofree uint8_t *mem = randomPages(2);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    g_autoptr(GBytes) rec = NULL;
    g_autofree uint8_t *copy = NULL;
    size_t len;
    MhTransportOpened op;
    size_t ntag = 0, nformat = 0;

    pairInit(&p, cipher);
    memset(mem + PAGE, 0, PAGE);
    rec = seal(p.src, mem, 0x7000, 2, 3);
    g_bytes_get_data(rec, &len);
    copy = g_memdup2(g_bytes_get_data(rec, NULL), len);

    for (size_t off = 0; off < len; off++) {
        g_autoptr(MhTransportSession) dst = pairNewTarget(&p);
        g_autoptr(GError) err = NULL;
        bool length_field = (off >= 6 && off < 8) || (off >= 12 && off < 16);

        copy[off] ^= 1u << (off % 8);
        g_assert_false(mhTransportOpen(dst, copy, len, NULL, 0, plain, &op, &err));
        g_assert_error(err, MH_TRANSPORT_ERROR,
                       length_field ? MH_TRANSPORT_ERROR_FORMAT : MH_TRANSPORT_ERROR_TAG);
        /* A refused record ends the session. */
        g_assert_true(mhTransportSessionFailed(dst));
        copy[off] ^= 1u << (off % 8);
        if (length_field)
            nformat++;
        else
            ntag++;
    }
    g_test_message("%zu byte positions: %zu tag failures, %zu framing errors", len, ntag, nformat);
    g_assert_cmpuint(nformat, ==, 6);
    /* And the untouched record still opens. */
    {
        g_autoptr(MhTransportSession) dst = pairNewTarget(&p);
        g_assert_true(mhTransportOpen(dst, copy, len, NULL, 0, plain, &op, NULL));
        g_assert_cmpmem(plain, PAGE, mem, PAGE);
    }
    pairClear(&p);
}

typedef struct {
    Pair p;
    uint8_t *mem;
    uint8_t *plain;
    GBytes *r[3];
    GBytes *fin;
} Stream;

static void
streamInit(Stream *st)
{
    st->mem = randomPages(3);
    st->plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    pairInit(&st->p, MH_CONF_CIPHER_AES_256_GCM);
    for (int i = 0; i < 3; i++)
        st->r[i] = seal(st->p.src, st->mem + i * PAGE, 0x10000 + i * PAGE, 1, 0);
    st->fin = sealFinal(st->p.src);
}

static void
streamClear(Stream *st)
{
    for (int i = 0; i < 3; i++)
        g_bytes_unref(st->r[i]);
    g_bytes_unref(st->fin);
    g_free(st->mem);
    g_free(st->plain);
    pairClear(&st->p);
}

static void
testReplay(void)
{
    Stream st;
    MhTransportOpened op;

    streamInit(&st);
    g_assert_cmpint(openRec(st.p.dst, st.r[0], NULL, 0, st.plain, &op), ==, -1);
    g_assert_cmpint(openRec(st.p.dst, st.r[0], NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_SEQUENCE);
    streamClear(&st);
}

static void
testReorder(void)
{
    Stream st;
    MhTransportOpened op;

    streamInit(&st);
    g_assert_cmpint(openRec(st.p.dst, st.r[1], NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_SEQUENCE);
    streamClear(&st);
}

static void
testDrop(void)
{
    Stream st;
    MhTransportOpened op;

    streamInit(&st);
    g_assert_cmpint(openRec(st.p.dst, st.r[0], NULL, 0, st.plain, &op), ==, -1);
    g_assert_cmpint(openRec(st.p.dst, st.r[2], NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_SEQUENCE);
    streamClear(&st);

    /* Dropping the last page record shows at the final record. */
    streamInit(&st);
    for (int i = 0; i < 2; i++)
        g_assert_cmpint(openRec(st.p.dst, st.r[i], NULL, 0, st.plain, &op), ==, -1);
    g_assert_cmpint(openRec(st.p.dst, st.fin, NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_SEQUENCE);
    streamClear(&st);
}

static void
testTruncated(void)
{
    Stream st;
    MhTransportOpened op;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) part = NULL;

    streamInit(&st);
    for (int i = 0; i < 3; i++)
        g_assert_cmpint(openRec(st.p.dst, st.r[i], NULL, 0, st.plain, &op), ==, -1);
    g_assert_false(mhTransportOpenEnd(st.p.dst, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_TRUNCATED);
    g_test_message("%s", err->message);
    streamClear(&st);

    /* A record cut short is not a record. */
    streamInit(&st);
    part = g_bytes_new_from_bytes(st.r[0], 0, g_bytes_get_size(st.r[0]) - 1);
    g_assert_cmpint(openRec(st.p.dst, part, NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_FORMAT);
    streamClear(&st);
}

static void
testMovedGpa(void)
{
    Stream st;
    MhTransportOpened op;
    uint64_t other = 0x20000;
    uint64_t own = 0x10000;
    g_autofree uint8_t *copy = NULL;
    g_autoptr(GBytes) moved = NULL;
    size_t len;

    /* The host asks the MH to restore record 0 at another address. */
    streamInit(&st);
    g_assert_cmpint(openRec(st.p.dst, st.r[0], &other, 1, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_GPA);
    streamClear(&st);

    /* The host rewrites the GPA in the header: the tag no longer verifies. */
    streamInit(&st);
    len = g_bytes_get_size(st.r[0]);
    copy = g_memdup2(g_bytes_get_data(st.r[0], NULL), len);
    copy[MH_TRANSPORT_RECORD_HEADER_SIZE + 2] ^= 0x02;     /* 0x10000 -> 0x30000 */
    moved = g_bytes_new(copy, len);
    g_assert_cmpint(openRec(st.p.dst, moved, NULL, 0, st.plain, &op), ==,
                    MH_TRANSPORT_ERROR_TAG);
    streamClear(&st);

    /* The right address is accepted. */
    streamInit(&st);
    g_assert_cmpint(openRec(st.p.dst, st.r[0], &own, 1, st.plain, &op), ==, -1);
    streamClear(&st);
}

static void
testWrongKey(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSecret) k1 = randomKey();
    g_autoptr(MhSecret) k2 = randomKey();
    g_autoptr(MhTransportSession) src = NULL, dst = NULL;
    uint8_t hs[MH_TRANSPORT_HELLO_SIZE], hd[MH_TRANSPORT_HELLO_SIZE];
    uint8_t cs[MH_TRANSPORT_CONFIRM_SIZE], cd[MH_TRANSPORT_CONFIRM_SIZE];
    uint8_t page[PAGE] = { 1 };
    const void *pages[1] = { page };
    uint64_t gpa = 0;
    uint8_t out[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + PAGE + 16];
    size_t len;

    /* Same key id claimed, different key: only the confirmation tells. */
    src = mhTransportSessionNew(MH_TRANSPORT_ROLE_SOURCE, MH_CONF_CIPHER_AES_256_GCM,
                                k1, 42, testUuid, &err);
    dst = mhTransportSessionNew(MH_TRANSPORT_ROLE_TARGET, MH_CONF_CIPHER_AES_256_GCM,
                                k2, 42, testUuid, &err);
    g_assert_no_error(err);
    mhTransportSessionHello(src, hs);
    mhTransportSessionHello(dst, hd);
    g_assert_true(mhTransportSessionPeerHello(src, hd, sizeof(hd), cs, &err));
    g_assert_true(mhTransportSessionPeerHello(dst, hs, sizeof(hs), cd, &err));
    g_assert_no_error(err);
    g_assert_false(mhTransportSessionPeerConfirm(src, cd, sizeof(cd), &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY);
    g_test_message("source: %s", err->message);
    g_clear_error(&err);
    g_assert_false(mhTransportSessionPeerConfirm(dst, cs, sizeof(cs), &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY);
    g_clear_error(&err);
    /* No page moves. */
    g_assert_false(mhTransportSealPages(src, &gpa, pages, 1, 0, out, sizeof(out), &len, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_clear_error(&err);

    /* Different key ids: refused at the hello already. */
    g_clear_pointer(&src, mhTransportSessionFree);
    g_clear_pointer(&dst, mhTransportSessionFree);
    src = mhTransportSessionNew(MH_TRANSPORT_ROLE_SOURCE, MH_CONF_CIPHER_AES_256_GCM,
                                k1, 1, testUuid, &err);
    dst = mhTransportSessionNew(MH_TRANSPORT_ROLE_TARGET, MH_CONF_CIPHER_AES_256_GCM,
                                k2, 2, testUuid, &err);
    mhTransportSessionHello(dst, hd);
    g_assert_false(mhTransportSessionPeerHello(src, hd, sizeof(hd), cs, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY);
}

static void
testPeerMismatch(void)
{
    g_autoptr(MhSecret) k = randomKey();
    uint8_t other_uuid[16] = { 9 };
    struct {
        MhTransportRole role;
        MhConfCipher cipher;
        const uint8_t *uuid;
    } peers[] = {
        { MH_TRANSPORT_ROLE_SOURCE, MH_CONF_CIPHER_AES_256_GCM, testUuid },
        { MH_TRANSPORT_ROLE_TARGET, MH_CONF_CIPHER_CHACHA20_POLY1305, testUuid },
        { MH_TRANSPORT_ROLE_TARGET, MH_CONF_CIPHER_AES_256_GCM, other_uuid },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(peers); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(MhTransportSession) src = NULL, dst = NULL;
        uint8_t hd[MH_TRANSPORT_HELLO_SIZE], c[MH_TRANSPORT_CONFIRM_SIZE];

        src = mhTransportSessionNew(MH_TRANSPORT_ROLE_SOURCE, MH_CONF_CIPHER_AES_256_GCM,
                                    k, 1, testUuid, &err);
        dst = mhTransportSessionNew(peers[i].role, peers[i].cipher, k, 1, peers[i].uuid, &err);
        g_assert_no_error(err);
        mhTransportSessionHello(dst, hd);
        g_assert_false(mhTransportSessionPeerHello(src, hd, sizeof(hd), c, &err));
        g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_PEER);
        g_test_message("%s", err->message);
    }
}

/* A final record that does not describe the records committed. Only a
 * sender reusing a session nonce could produce one (which the API does not
 * allow outside tests); the check backs up the sequence numbers. */
static void
testFinalMismatch(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    MhTransportSession *twin = NULL;
    uint8_t twin_nonce[MH_TRANSPORT_NONCE_SIZE];
    uint8_t hd[MH_TRANSPORT_HELLO_SIZE], c[MH_TRANSPORT_CONFIRM_SIZE];
    uint8_t cd[MH_TRANSPORT_CONFIRM_SIZE];
    g_autofree uint8_t *mem = randomPages(3);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    MhTransportOpened op;
    int code_for[2] = { MH_TRANSPORT_ERROR_COUNT, MH_TRANSPORT_ERROR_DIGEST };

    for (int variant = 0; variant < 2; variant++) {
        g_autoptr(GBytes) a0 = NULL, a1 = NULL, b0 = NULL, b1 = NULL, bfin = NULL;
        g_autoptr(MhTransportSession) dst = NULL;

        pairInit(&p, MH_CONF_CIPHER_AES_256_GCM);
        /* The twin reuses the source's nonce and meets a target with the
         * same nonce: it derives the very same keys. */
        memcpy(twin_nonce, p.src_hello + 28, sizeof(twin_nonce));
        twin = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_SOURCE, p.cipher, p.key, 7,
                                              testUuid, twin_nonce, &err);
        g_assert_no_error(err);
        dst = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_TARGET, p.cipher, p.key, 7,
                                             testUuid, p.dst_nonce, &err);
        g_assert_no_error(err);
        mhTransportSessionHello(dst, hd);
        g_assert_true(mhTransportSessionPeerHello(twin, hd, sizeof(hd), c, &err));
        g_assert_true(mhTransportSessionPeerHello(dst, p.src_hello, sizeof(p.src_hello),
                                                  cd, &err));
        g_assert_true(mhTransportSessionPeerConfirm(twin, cd, sizeof(cd), &err));
        g_assert_no_error(err);

        a0 = seal(p.src, mem, 0x1000, 1, 0);
        a1 = seal(p.src, mem + PAGE, 0x2000, 1, 0);
        b0 = seal(twin, mem, 0x1000, 1, 0);
        /* variant 0: the twin's second record has two pages (counts differ);
         * variant 1: same size, other address (only the digest differs). */
        if (variant == 0)
            b1 = seal(twin, mem + PAGE, 0x2000, 2, 0);
        else
            b1 = seal(twin, mem + PAGE, 0x5000, 1, 0);
        bfin = sealFinal(twin);

        g_assert_cmpint(openRec(p.dst, a0, NULL, 0, plain, &op), ==, -1);
        g_assert_cmpint(openRec(p.dst, a1, NULL, 0, plain, &op), ==, -1);
        g_assert_cmpint(openRec(p.dst, bfin, NULL, 0, plain, &op), ==, code_for[variant]);
        g_clear_pointer(&twin, mhTransportSessionFree);
        pairClear(&p);
    }
}

typedef struct {
    MhTransportSession *src;
    uint8_t *mem;
    GPtrArray *records;
    GMutex *lock;
    int index;
} SealJob;

static gpointer
sealThread(gpointer data)
{
    SealJob *job = data;

    for (int i = 0; i < 50; i++) {
        GBytes *rec = seal(job->src, job->mem + (job->index * 50 + i) % 16 * PAGE,
                           (uint64_t)(job->index * 50 + i) * PAGE, 1, 0);
        g_mutex_lock(job->lock);
        g_ptr_array_add(job->records, rec);
        g_mutex_unlock(job->lock);
    }
    return NULL;
}

static gint
bySeq(gconstpointer a, gconstpointer b)
{
    uint64_t sa, sb;
    size_t la, lb;
    const void *da = g_bytes_get_data(*(GBytes **)a, &la);
    const void *db = g_bytes_get_data(*(GBytes **)b, &lb);

    mhTransportRecordPeek(da, la, NULL, &sa, NULL);
    mhTransportRecordPeek(db, lb, NULL, &sb, NULL);
    return sa < sb ? -1 : sa > sb;
}

/* Workers seal concurrently; in sequence order the stream opens and the
 * final digest (kept in sequence order by the sealer) matches. */
static void
testParallelSeal(void)
{
    Pair p;
    g_autofree uint8_t *mem = randomPages(16);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GBytes) fin = NULL;
    GMutex lock;
    SealJob jobs[4];
    GThread *threads[4];
    MhTransportOpened op;

    g_mutex_init(&lock);
    pairInit(&p, MH_CONF_CIPHER_AES_256_GCM);
    for (int i = 0; i < 4; i++) {
        jobs[i] = (SealJob){ p.src, mem, records, &lock, i };
        threads[i] = g_thread_new("seal", sealThread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        g_thread_join(threads[i]);
    fin = sealFinal(p.src);
    g_ptr_array_sort(records, bySeq);
    for (guint i = 0; i < records->len; i++)
        g_assert_cmpint(openRec(p.dst, records->pdata[i], NULL, 0, plain, &op), ==, -1);
    g_assert_cmpint(openRec(p.dst, fin, NULL, 0, plain, &op), ==, -1);
    g_assert_true(mhTransportOpenEnd(p.dst, NULL));
    g_mutex_clear(&lock);
    pairClear(&p);
}

/* RFC 5869 with plain HMAC-SHA256, written from the RFC and not through
 * the transport's code: the derivation documented in
 * docs/migration-handler.md must be the one the transport implements. */
static void
hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
     const char *label, const uint8_t *uuid, uint8_t cipher, uint8_t *out, size_t out_len)
{
    uint8_t prk[32], t[32], buf[32 + 64 + 2];
    unsigned int len = 32;
    size_t done = 0, tlen = 0, llen = strlen(label);

    HMAC(EVP_sha256(), salt, salt_len, ikm, ikm_len, prk, &len);
    for (uint8_t i = 1; done < out_len; i++) {
        size_t n = 0;
        memcpy(buf, t, tlen);
        n += tlen;
        memcpy(buf + n, label, llen);
        n += llen;
        memcpy(buf + n, uuid, 16);
        n += 16;
        buf[n++] = cipher;
        buf[n++] = i;
        HMAC(EVP_sha256(), prk, 32, buf, n, t, &len);
        tlen = 32;
        memcpy(out + done, t, MIN(32, out_len - done));
        done += MIN(32, out_len - done);
    }
}

static void
sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, a, alen);
    if (b)
        EVP_DigestUpdate(md, b, blen);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

/* Open a record with keys derived independently; returns plaintext length. */
static int
specOpen(const uint8_t *key, const uint8_t *iv_base, const uint8_t *rec, size_t len,
         uint8_t *plain)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    size_t npages = rec[6] | rec[7] << 8;
    size_t aad = 24 + 8 * npages, ct = len - aad - 16;
    uint64_t seq = 0;
    uint8_t iv[12];
    int outl = 0, fin = 0, ok;

    for (int i = 0; i < 8; i++)
        seq |= (uint64_t)rec[16 + i] << (8 * i);
    memcpy(iv, iv_base, 12);
    for (int i = 0; i < 8; i++)
        iv[11 - i] ^= seq >> (8 * i);
    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv);
    EVP_DecryptUpdate(ctx, NULL, &outl, rec, aad);
    EVP_DecryptUpdate(ctx, plain, &outl, rec + aad, ct);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(rec + len - 16));
    ok = EVP_DecryptFinal_ex(ctx, plain + outl, &fin);
    EVP_CIPHER_CTX_free(ctx);
    return ok == 1 ? outl + fin : -1;
}

static void
testSpecConformance(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhTransportSession) src = NULL, dst = NULL;
    uint8_t ns[32], nd[32], hs[MH_TRANSPORT_HELLO_SIZE], hd[MH_TRANSPORT_HELLO_SIZE];
    uint8_t cs[32], cd[32], salt[64], both[2 * MH_TRANSPORT_HELLO_SIZE], transcript[32];
    uint8_t page_key[32], confirm_key[32], iv_base[12], mac[32], msg[64];
    g_autofree uint8_t *mem = randomPages(3);
    g_autofree uint8_t *plain = g_malloc(PAGE * MH_TRANSPORT_MAX_BATCH);
    g_autoptr(GBytes) r0 = NULL, r1 = NULL, fin = NULL;
    uint8_t chain[32], d[32];
    const uint8_t *rec;
    size_t len;
    unsigned int maclen = 32;

    for (int i = 0; i < 32; i++) {
        key->data[i] = i;
        ns[i] = 0x40 + i;
        nd[i] = 0x80 + i;
    }
    src = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_SOURCE, MH_CONF_CIPHER_AES_256_GCM,
                                         key, 0x9c3765fb, testUuid, ns, &err);
    dst = mhTransportSessionNewWithNonce(MH_TRANSPORT_ROLE_TARGET, MH_CONF_CIPHER_AES_256_GCM,
                                         key, 0x9c3765fb, testUuid, nd, &err);
    g_assert_no_error(err);
    mhTransportSessionHello(src, hs);
    mhTransportSessionHello(dst, hd);
    /* Hello layout. */
    g_assert_cmpmem(hs, 4, "MHH1", 4);
    g_assert_cmpuint(hs[4], ==, 1);
    g_assert_cmpuint(hs[5], ==, 0);
    g_assert_cmpuint(hd[5], ==, 1);
    g_assert_cmpuint(hs[6], ==, 0);
    g_assert_cmpmem(hs + 8, 16, testUuid, 16);
    g_assert_cmpuint(hs[24] | hs[25] << 8 | hs[26] << 16 | (uint32_t)hs[27] << 24, ==, 0x9c3765fb);
    g_assert_cmpmem(hs + 28, 32, ns, 32);
    g_assert_true(mhTransportSessionPeerHello(src, hd, sizeof(hd), cs, &err));
    g_assert_true(mhTransportSessionPeerHello(dst, hs, sizeof(hs), cd, &err));
    g_assert_true(mhTransportSessionPeerConfirm(src, cd, sizeof(cd), &err));
    g_assert_true(mhTransportSessionPeerConfirm(dst, cs, sizeof(cs), &err));
    g_assert_no_error(err);

    /* Keys and confirmations, as documented. */
    memcpy(salt, ns, 32);
    memcpy(salt + 32, nd, 32);
    hkdf(key->data, 32, salt, 64, "mirror-helper page key v1", testUuid,
         MH_CONF_CIPHER_AES_256_GCM, page_key, 32);
    hkdf(key->data, 32, salt, 64, "mirror-helper confirm key v1", testUuid,
         MH_CONF_CIPHER_AES_256_GCM, confirm_key, 32);
    hkdf(key->data, 32, salt, 64, "mirror-helper page iv v1", testUuid,
         MH_CONF_CIPHER_AES_256_GCM, iv_base, 12);
    memcpy(both, hs, sizeof(hs));
    memcpy(both + sizeof(hs), hd, sizeof(hd));
    sha256(both, sizeof(both), NULL, 0, transcript);
    memcpy(msg, "mirror-helper confirm v1", 24);
    msg[24] = 0;
    memcpy(msg + 25, transcript, 32);
    HMAC(EVP_sha256(), confirm_key, 32, msg, 57, mac, &maclen);
    g_assert_cmpmem(cs, 32, mac, 32);
    msg[24] = 1;
    HMAC(EVP_sha256(), confirm_key, 32, msg, 57, mac, &maclen);
    g_assert_cmpmem(cd, 32, mac, 32);

    /* Records: header, GPA list with the zero flag, nonce, AAD. */
    memset(mem + PAGE, 0, PAGE);
    r0 = seal(src, mem, 0x3000, 2, 5);
    r1 = seal(src, mem + 2 * PAGE, 0x9000, 1, 6);
    fin = sealFinal(src);
    rec = g_bytes_get_data(r0, &len);
    g_assert_cmpuint(len, ==, 24 + 16 + PAGE + 16);
    g_assert_cmpmem(rec, 4, "MHR1", 4);
    g_assert_cmpuint(rec[4], ==, 1);
    g_assert_cmpuint(rec[6], ==, 2);
    g_assert_cmpuint(rec[8], ==, 5);
    g_assert_cmpuint(rec[12] | rec[13] << 8, ==, PAGE);
    g_assert_cmpuint(rec[16], ==, 0);
    g_assert_cmpuint(rec[24] | rec[25] << 8, ==, 0x3000);
    g_assert_cmpuint(rec[32] | rec[33] << 8, ==, 0x4001);     /* zero page flag */
    g_assert_cmpint(specOpen(page_key, iv_base, rec, len, plain), ==, PAGE);
    g_assert_cmpmem(plain, PAGE, mem, PAGE);
    sha256(rec, 24 + 16, rec + len - 16, 16, d);
    sha256(transcript, 32, d, 32, chain);

    rec = g_bytes_get_data(r1, &len);
    g_assert_cmpuint(rec[16], ==, 1);
    g_assert_cmpint(specOpen(page_key, iv_base, rec, len, plain), ==, PAGE);
    g_assert_cmpmem(plain, PAGE, mem + 2 * PAGE, PAGE);
    sha256(rec, 24 + 8, rec + len - 16, 16, d);
    sha256(chain, 32, d, 32, chain);

    /* Final: records, pages, running digest. */
    rec = g_bytes_get_data(fin, &len);
    g_assert_cmpuint(rec[4], ==, 2);
    g_assert_cmpint(specOpen(page_key, iv_base, rec, len, plain), ==, 48);
    g_assert_cmpuint(plain[0], ==, 2);
    g_assert_cmpuint(plain[8], ==, 3);
    g_assert_cmpmem(plain + 16, 32, chain, 32);

    /* And the target agrees with all of it. */
    {
        MhTransportOpened op;
        g_assert_cmpint(openRec(dst, r0, NULL, 0, plain, &op), ==, -1);
        g_assert_cmpint(openRec(dst, r1, NULL, 0, plain, &op), ==, -1);
        g_assert_cmpint(openRec(dst, fin, NULL, 0, plain, &op), ==, -1);
        g_assert_true(mhTransportOpenEnd(dst, NULL));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mh/transport/round-trip/aes-256-gcm", testRoundTripGcm);
    g_test_add_func("/mh/transport/round-trip/chacha20-poly1305", testRoundTripChacha);
    g_test_add_func("/mh/transport/round-trip/aes-256-ocb", testRoundTripOcb);
    g_test_add_func("/mh/transport/zero-record", testZeroRecord);
    for (int c = 0; c < MH_CONF_CIPHER_LAST; c++) {
        g_autofree char *name = g_strdup_printf("/mh/transport/tamper/bit-flip-everywhere/%s",
                                                mhConfCipherTypeToString(c));
        g_test_add_data_func(name, GINT_TO_POINTER(c), testBitFlipEverywhere);
    }
    g_test_add_func("/mh/transport/tamper/replay", testReplay);
    g_test_add_func("/mh/transport/tamper/reorder", testReorder);
    g_test_add_func("/mh/transport/tamper/drop", testDrop);
    g_test_add_func("/mh/transport/tamper/truncated", testTruncated);
    g_test_add_func("/mh/transport/tamper/moved-gpa", testMovedGpa);
    g_test_add_func("/mh/transport/tamper/final-mismatch", testFinalMismatch);
    g_test_add_func("/mh/transport/wrong-key", testWrongKey);
    g_test_add_func("/mh/transport/peer-mismatch", testPeerMismatch);
    g_test_add_func("/mh/transport/parallel-seal", testParallelSeal);
    g_test_add_func("/mh/transport/spec-conformance", testSpecConformance);
    return g_test_run();
}
