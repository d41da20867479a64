/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The migration handler: its key from the secret table LAUNCH_SECRET
 * decrypted (never from a guest address), the session
 * handshake through the mailbox, parallel save on a source MH and restore
 * into a second guest's RAM on a target MH, and refusals. */
#include "mh-test-guest.h"
#include "sim/mh/mh-handler.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"

#include <string.h>
#include <openssl/rand.h>

/* A hand-made table with one entry, for the malformed cases. */
static void
guestWriteTable(Guest *g, const char *guid_text, const uint8_t *data, size_t len,
                int total_adjust)
{
    uint8_t header[16], guid[16];
    uint8_t *p = g->low + SECRET_GPA;
    uint32_t elen = 20 + len, total = 20 + elen + total_adjust;

    g_assert_true(mhUtilGuidParse(MH_SEV_SECRET_TABLE_GUID, header, NULL));
    g_assert_true(mhUtilGuidParse(guid_text, guid, NULL));
    memset(p, 0, SECRET_SIZE);
    memcpy(p, header, 16);
    memcpy(p + 16, &total, 4);          /* little-endian host */
    memcpy(p + 20, guid, 16);
    memcpy(p + 36, &elen, 4);
    memcpy(p + 40, data, len);
}

/* The table at 'gpa' is what LAUNCH_SECRET decrypted: it yields no
 * launch key, and an MH without one does nothing. */
static void
expectInitFailure(Guest *g, uint64_t gpa, const char *needle)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhMh) mh = mhMhNew(&g->ram, 2, MH_CONF_CIPHER_AES_256_GCM, testUuid, &err);
    g_autoptr(MhMhLaunchKey) lk = NULL;
    g_autoptr(GBytes) hello = NULL;
    MhMhInfo info;

    g_assert_no_error(err);
    lk = mhMhLaunchKeyFromSecret(g->low + gpa, SECRET_SIZE, &err);
    g_assert_null(lk);
    g_assert_nonnull(err);
    g_test_message("no launch key: %s", err->message);
    g_assert_nonnull(strstr(err->message, needle));
    mhMhQuery(mh, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_STOPPED);
    g_assert_false(info.have_key);
    mhMhInfoClear(&info);
    /* Stopped means stopped: no session without a key. */
    g_clear_error(&err);
    g_assert_false(mhMhSessionBegin(mh, MH_TRANSPORT_ROLE_SOURCE, &hello, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_STATE);
}

static void
testInitRefusals(void)
{
    Guest g;
    g_autoptr(MhSecret) key = randomKey();
    uint8_t entry[MH_SEV_MIGRATION_KEY_ENTRY_SIZE] = { 0 };
    uint32_t key_id = 0;

    guestInit(&g, false);
    expectInitFailure(&g, SECRET_GPA, "no SEV secret table");

    /* A table with only a LUKS key: no migration key. */
    guestWriteTable(&g, MH_SEV_SECRET_LUKS_KEY_GUID, (const uint8_t *)"passphrase", 10, 0);
    expectInitFailure(&g, SECRET_GPA, "no migration-key entry");

    /* Malformed: the table claims more than the secret area holds. */
    g_assert_true(mhSevMigrationKeyId(key, &key_id, NULL));
    entry[0] = 1;
    memcpy(entry + 1, &key_id, 4);
    memcpy(entry + 5, key->data, 32);
    guestWriteTable(&g, MH_SEV_SECRET_MIGRATION_KEY_GUID, entry, sizeof(entry), SECRET_SIZE);
    expectInitFailure(&g, SECRET_GPA, "malformed");

    /* Unknown version. */
    entry[0] = 2;
    guestWriteTable(&g, MH_SEV_SECRET_MIGRATION_KEY_GUID, entry, sizeof(entry), 0);
    expectInitFailure(&g, SECRET_GPA, "unknown version 2");

    /* And the well-formed entry is accepted. */
    entry[0] = 1;
    guestWriteTable(&g, MH_SEV_SECRET_MIGRATION_KEY_GUID, entry, sizeof(entry), 0);
    {
        g_autoptr(GError) err = NULL;
        g_autoptr(MhMh) mh = mhMhNew(&g.ram, 1, MH_CONF_CIPHER_AES_256_GCM, testUuid, &err);
        MhMhInfo info;

        g_assert_true(guestStartMh(mh, &g, &err));
        g_assert_no_error(err);
        mhMhQuery(mh, &info);
        g_assert_cmpint(info.state, ==, MH_MH_STATE_RUNNING);
        g_assert_cmpuint(info.key_id, ==, key_id);
        mhMhInfoClear(&info);
        mhMhStop(mh);
        mhMhQuery(mh, &info);
        g_assert_cmpint(info.state, ==, MH_MH_STATE_STOPPED);
        g_assert_false(info.have_key);
        mhMhInfoClear(&info);
    }
    guestClear(&g);
}

static void
migrate(unsigned int src_vcpus, unsigned int dst_vcpus, MhConfCipher cipher)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    uint64_t dirty[3] = { 5 * PAGE, 77 * PAGE, HIGH_GPA + 3 * PAGE };
    size_t n, off = 0, consumed = 0;
    MhMhInfo info;

    pairInit(&p, src_vcpus, dst_vcpus, cipher, false);
    /* Zero pages in both regions. */
    memset(p.src_guest.low + 100 * PAGE, 0, 10 * PAGE);
    memset(p.src_guest.high, 0, PAGE);
    g_assert_true(pairHandshake(&p, &err));
    g_assert_no_error(err);

    gpas = allGpas(&n);
    g_assert_true(mhMhSavePages(p.src, gpas, n, 0, stream, &err));
    g_assert_no_error(err);
    /* The guest writes on; iteration 1 resends what it wrote. */
    memset(p.src_guest.low + 5 * PAGE, 0x5a, PAGE);
    memset(p.src_guest.low + 77 * PAGE, 0, PAGE);
    p.src_guest.high[3 * PAGE + 17] ^= 0xff;
    g_assert_true(mhMhSavePages(p.src, dirty, 3, 1, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_no_error(err);

    /* Feed the target in odd-sized chunks, as a socket would. */
    while (off < stream->len) {
        size_t chunk = MIN(stream->len - off, 300000 + off % 7777);
        g_autoptr(GByteArray) buf = g_byte_array_new();

        g_byte_array_append(buf, stream->data + consumed, off + chunk - consumed);
        {
            size_t used = 0;
            g_assert_true(mhMhRestoreRecords(p.dst, buf->data, buf->len, &used, &err));
            g_assert_no_error(err);
            consumed += used;
        }
        off += chunk;
    }
    g_assert_cmpuint(consumed, ==, stream->len);
    g_assert_true(mhMhRestoreFinish(p.dst, &err));
    g_assert_no_error(err);

    g_assert_true(memcmp(p.src_guest.low, p.dst_guest.low, LOW_SIZE) == 0);
    g_assert_true(memcmp(p.src_guest.high, p.dst_guest.high, HIGH_SIZE) == 0);

    mhMhQuery(p.dst, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_RUNNING);
    g_assert_cmpuint(info.pages_restored, ==, n + 3);
    g_assert_cmpuint(info.zero_pages, >=, 11);
    g_assert_cmpuint(info.records_rejected, ==, 0);
    g_assert_cmpuint(info.vcpus, ==, dst_vcpus);
    mhMhInfoClear(&info);
    mhMhQuery(p.src, &info);
    g_assert_cmpuint(info.pages_saved, ==, n + 3);
    g_test_message("%zu pages, %u bytes on the wire (%.1f%% of RAM) with %u/%u vCPUs",
                   n + 3, stream->len, 100.0 * stream->len / (LOW_SIZE + HIGH_SIZE),
                   src_vcpus, dst_vcpus);
    mhMhInfoClear(&info);
    pairClear(&p);
}

static void
testMigrate1(void)
{
    migrate(1, 1, MH_CONF_CIPHER_AES_256_GCM);
}

static void
testMigrateParallel(void)
{
    migrate(4, 3, MH_CONF_CIPHER_AES_256_GCM);
}

static void
testMigrateChacha(void)
{
    migrate(2, 2, MH_CONF_CIPHER_CHACHA20_POLY1305);
}

static void
testMigrateOcb(void)
{
    migrate(2, 2, MH_CONF_CIPHER_AES_256_OCB);
}

/* The key of a launch: captured from the injected table, it survives the
 * secret area being overwritten (a migration target's area holds the
 * source's copy), starts the MH with the same key id, and the MH pointed
 * at other memory with the same GPAs seals that. */
static void
testLaunchKey(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSecret) key = randomKey();
    g_autoptr(MhMhLaunchKey) lk = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    Guest a, b, other;
    Pair p = { 0 };
    MhMhInfo info;
    size_t n;

    guestInit(&a, true);
    guestInit(&b, true);
    guestInit(&other, true);
    guestInjectKey(&a, key);
    guestInjectKey(&b, key);
    lk = mhMhLaunchKeyFromSecret(a.low + SECRET_GPA, SECRET_SIZE, &err);
    g_assert_no_error(err);
    g_assert_nonnull(lk);

    /* The area is overwritten after the capture. */
    memset(a.low + SECRET_GPA, 0, SECRET_SIZE);
    g_assert_null(mhMhLaunchKeyFromSecret(a.low + SECRET_GPA, SECRET_SIZE, &err));
    g_assert_nonnull(err);
    g_test_message("capture from the wiped area: %s", err->message);
    g_clear_error(&err);

    p.src = mhMhNew(&a.ram, 2, MH_CONF_CIPHER_AES_256_GCM, testUuid, &err);
    p.dst = mhMhNew(&b.ram, 2, MH_CONF_CIPHER_AES_256_GCM, testUuid, &err);
    g_assert_no_error(err);
    g_assert_false(guestStartMh(p.src, &a, &err));
    g_clear_error(&err);
    g_assert_true(mhMhStartWithKey(p.src, lk, &err));
    g_assert_true(guestStartMh(p.dst, &b, &err));
    g_assert_no_error(err);
    mhMhQuery(p.src, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_RUNNING);
    g_assert_true(info.have_key);
    g_assert_cmpuint(info.key_id, ==, mhMhLaunchKeyGetId(lk));
    mhMhInfoClear(&info);

    /* Stopped (keys wiped) and started again from the same capture. */
    mhMhStop(p.src);
    g_assert_true(mhMhStartWithKey(p.src, lk, &err));
    g_assert_no_error(err);

    /* The source MH reads the memory it was pointed at, not the RAM it was made for. */
    g_assert_true(mhMhSetGuestRam(p.src, &other.ram, &err));
    g_assert_true(pairHandshake(&p, &err));
    g_assert_no_error(err);
    gpas = allGpas(&n);
    g_assert_true(mhMhSavePages(p.src, gpas, n, 0, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_true(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_true(mhMhRestoreFinish(p.dst, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(other.low, b.low, LOW_SIZE) == 0);
    g_assert_true(memcmp(other.high, b.high, HIGH_SIZE) == 0);

    mhMhFree(p.src);
    mhMhFree(p.dst);
    guestClear(&a);
    guestClear(&b);
    guestClear(&other);
}

static void
testWrongKey(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    uint64_t gpa = 0;
    MhMhInfo info;

    pairInit(&p, 2, 2, MH_CONF_CIPHER_AES_256_GCM, true);
    g_assert_false(pairHandshake(&p, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_KEY);
    g_test_message("%s", err->message);
    g_clear_error(&err);
    mhMhQuery(p.src, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_FAILED);
    g_assert_nonnull(strstr(info.last_error, "wrong migration key"));
    mhMhInfoClear(&info);
    /* Not a single page leaves. */
    g_assert_false(mhMhSavePages(p.src, &gpa, 1, 0, stream, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_assert_cmpuint(stream->len, ==, 0);
    pairClear(&p);
}

typedef enum {
    TAMPER_FLIP,
    TAMPER_REPLAY,
    TAMPER_REORDER,
    TAMPER_DROP,
    TAMPER_CUT,
    TAMPER_NO_FINAL,
} Tamper;

/* Save 40 pages as 5 records of 8 plus the final; tamper; restore. */
static void
tamper(Tamper how, int want_code)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) bad = g_byte_array_new();
    size_t starts[8], lens[8], nrec = 0, off = 0;
    uint64_t gpas[40];
    MhMhInfo info;
    bool ok;

    pairInit(&p, 5, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(&p, &err));
    for (int i = 0; i < 40; i++)
        gpas[i] = (uint64_t)i * PAGE;
    g_assert_true(mhMhSavePages(p.src, gpas, 40, 0, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_no_error(err);
    while (off < stream->len) {
        size_t need;
        g_assert_true(mhTransportRecordFrame(stream->data + off, stream->len - off,
                                             &lens[nrec], &need, NULL));
        starts[nrec++] = off;
        off += lens[nrec - 1];
    }
    g_assert_cmpuint(nrec, ==, 6);

#define APPEND(i) g_byte_array_append(bad, stream->data + starts[i], lens[i])
    switch (how) {
    case TAMPER_FLIP:
        g_byte_array_append(bad, stream->data, stream->len);
        bad->data[starts[2] + lens[2] / 2] ^= 0x10;
        break;
    case TAMPER_REPLAY:
        APPEND(0); APPEND(1); APPEND(1); APPEND(2); APPEND(3); APPEND(4); APPEND(5);
        break;
    case TAMPER_REORDER:
        APPEND(0); APPEND(2); APPEND(1); APPEND(3); APPEND(4); APPEND(5);
        break;
    case TAMPER_DROP:
        APPEND(0); APPEND(1); APPEND(3); APPEND(4); APPEND(5);
        break;
    case TAMPER_CUT:
        g_byte_array_append(bad, stream->data, starts[3] + 100);
        break;
    case TAMPER_NO_FINAL:
        g_byte_array_append(bad, stream->data, starts[5]);
        break;
    }
#undef APPEND

    ok = mhMhRestoreRecords(p.dst, bad->data, bad->len, NULL, &err);
    if (ok)
        ok = mhMhRestoreFinish(p.dst, &err);
    g_assert_false(ok);
    g_assert_error(err, MH_TRANSPORT_ERROR, want_code);
    g_test_message("refused: %s", err->message);
    mhMhQuery(p.dst, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_FAILED);
    g_assert_cmpstr(info.last_error, ==, err->message);
    if (how != TAMPER_CUT && how != TAMPER_NO_FINAL)
        g_assert_cmpuint(info.records_rejected, ==, 1);
    /* A failed restore stays failed: the rest of the stream, complete and
     * authentic, does not make it succeed (only a new session would). */
    if (how == TAMPER_CUT) {
        g_clear_error(&err);
        g_assert_false(mhMhRestoreRecords(p.dst, stream->data + starts[3],
                                          stream->len - starts[3], NULL, &err));
        g_assert_error(err, MH_ERROR, MH_ERROR_STATE);
        g_clear_error(&err);
        g_assert_false(mhMhRestoreFinish(p.dst, &err));
        g_assert_error(err, MH_ERROR, MH_ERROR_STATE);
    }
    mhMhInfoClear(&info);
    pairClear(&p);
}

static void
testTamperFlip(void)
{
    tamper(TAMPER_FLIP, MH_TRANSPORT_ERROR_TAG);
}

static void
testTamperReplay(void)
{
    tamper(TAMPER_REPLAY, MH_TRANSPORT_ERROR_SEQUENCE);
}

static void
testTamperReorder(void)
{
    tamper(TAMPER_REORDER, MH_TRANSPORT_ERROR_SEQUENCE);
}

static void
testTamperDrop(void)
{
    tamper(TAMPER_DROP, MH_TRANSPORT_ERROR_SEQUENCE);
}

static void
testTamperCut(void)
{
    tamper(TAMPER_CUT, MH_TRANSPORT_ERROR_TRUNCATED);
}

static void
testTamperNoFinal(void)
{
    tamper(TAMPER_NO_FINAL, MH_TRANSPORT_ERROR_TRUNCATED);
}

/* A source host that leaves pages out: every record is authentic, but the
 * target refuses the final record since its RAM is not fully restored. */
static void
testIncomplete(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    size_t n;

    pairInit(&p, 2, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(&p, &err));
    gpas = allGpas(&n);
    /* Everything but one page of the high region. */
    g_assert_true(mhMhSavePages(p.src, gpas, n - 2, 0, stream, &err));
    g_assert_true(mhMhSavePages(p.src, gpas + n - 1, 1, 0, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_no_error(err);
    g_assert_false(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_COUNT);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "0x1003fe000"));
    g_clear_error(&err);
    g_assert_false(mhMhRestoreFinish(p.dst, &err));
    g_assert_nonnull(err);
    pairClear(&p);
}

typedef struct {
    GByteArray *stream;
    uint64_t next_seq;
    unsigned int calls;
    unsigned int fail_at;
} EmitData;

static bool
emitRecord(const uint8_t *record, size_t len, gpointer data, GError **error)
{
    EmitData *ed = data;
    uint64_t seq = 0;

    g_assert_true(mhTransportRecordPeek(record, len, NULL, &seq, NULL));
    g_assert_cmpuint(seq, ==, ed->next_seq);
    ed->next_seq++;
    if (++ed->calls == ed->fail_at) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, "socket closed");
        return false;
    }
    g_byte_array_append(ed->stream, record, len);
    return true;
}

/* Records handed out one by one, in sequence order; a consumer that fails
 * ends the session. */
static void
testSaveFunc(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    EmitData ed = { stream, 0, 0, 0 };
    size_t n;
    MhMhInfo info;

    pairInit(&p, 3, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(&p, &err));
    gpas = allGpas(&n);
    g_assert_true(mhMhSavePagesFunc(p.src, gpas, n, 0, emitRecord, &ed, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(ed.calls, ==, n / MH_TRANSPORT_MAX_BATCH);
    g_assert_cmpuint(ed.calls, >, 5);   /* for the consumer that gives up below */
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_true(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_true(mhMhRestoreFinish(p.dst, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(p.src_guest.low, p.dst_guest.low, LOW_SIZE) == 0);

    /* The consumer gives up at the 5th record. */
    g_assert_true(pairHandshake(&p, &err));
    ed = (EmitData){ stream, 0, 0, 5 };
    g_assert_false(mhMhSavePagesFunc(p.src, gpas, n, 0, emitRecord, &ed, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_IO);
    g_clear_error(&err);
    mhMhQuery(p.src, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_FAILED);
    g_assert_cmpstr(info.last_error, ==, "socket closed");
    mhMhInfoClear(&info);
    g_assert_false(mhMhSavePages(p.src, gpas, 1, 0, stream, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    pairClear(&p);
}

/* Misuse by the host side: start twice, save outside RAM, records after
 * the final one. */
static void
testMisuse(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) extra = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    uint64_t outside = 0x40000000, first = 0;
    size_t n;

    pairInit(&p, 2, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_false(guestStartMh(p.src, &p.src_guest, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_STATE);
    g_clear_error(&err);
    g_assert_false(mhMhSavePages(p.src, &first, 1, 0, stream, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);    /* no session yet */
    g_clear_error(&err);

    g_assert_true(pairHandshake(&p, &err));
    g_assert_false(mhMhSavePages(p.src, &outside, 1, 0, stream, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA);
    g_test_message("%s", err->message);
    g_clear_error(&err);
    g_assert_cmpuint(stream->len, ==, 0);

    g_assert_true(pairHandshake(&p, &err));
    gpas = allGpas(&n);
    g_assert_true(mhMhSavePages(p.src, gpas, n, 0, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    /* The source's session is over. */
    g_assert_false(mhMhSavePages(p.src, gpas, 1, 0, extra, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_clear_error(&err);
    /* A copy of the first record after the final one. */
    {
        size_t rlen, need;
        g_assert_true(mhTransportRecordFrame(stream->data, stream->len, &rlen, &need, NULL));
        g_byte_array_append(stream, stream->data, rlen);
    }
    g_assert_false(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_test_message("%s", err->message);
    pairClear(&p);
}

/* The RFC's one-page commands, and the host asking the MH to restore a
 * page at another address than the one it was sealed for. */
static void
testSinglePage(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) r0 = g_byte_array_new();
    g_autoptr(GByteArray) r1 = g_byte_array_new();
    g_autofree uint8_t *before = g_malloc(PAGE);
    MhMhInfo info;

    pairInit(&p, 1, 1, MH_CONF_CIPHER_AES_256_GCM, false);
    memset(p.src_guest.low + 9 * PAGE, 0, PAGE);
    g_assert_true(pairHandshake(&p, &err));
    g_assert_true(mhMhSavePage(p.src, 8 * PAGE, 0, r0, &err));
    g_assert_true(mhMhSavePage(p.src, 9 * PAGE, 0, r1, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(r1->len, ==, 24 + 8 + 16);         /* zero page: no ciphertext */
    g_assert_true(mhMhRestorePage(p.dst, 8 * PAGE, r0->data, r0->len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(p.dst_guest.low + 8 * PAGE, PAGE, p.src_guest.low + 8 * PAGE, PAGE);
    memcpy(before, p.dst_guest.low + 10 * PAGE, PAGE);
    g_assert_false(mhMhRestorePage(p.dst, 10 * PAGE, r1->data, r1->len, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA);
    g_test_message("%s", err->message);
    /* The page at the requested address is untouched. */
    g_assert_cmpmem(p.dst_guest.low + 10 * PAGE, PAGE, before, PAGE);
    mhMhQuery(p.dst, &info);
    g_assert_cmpint(info.state, ==, MH_MH_STATE_FAILED);
    g_assert_cmpuint(info.records_rejected, ==, 1);
    mhMhInfoClear(&info);
    pairClear(&p);
}

/* A host that mixes a single-page restore into a batched stream cannot
 * roll the page back: the older copy that a window left for a vCPU to
 * store later lands before the newer page, not over it at the end. */
static void
testNoRollback(void)
{
    Pair p;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) one = g_byte_array_new();
    g_autoptr(GByteArray) fin = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    const uint64_t last = HIGH_GPA + HIGH_SIZE - PAGE;   /* in the last window */
    size_t n;

    pairInit(&p, 2, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(&p, &err));
    gpas = allGpas(&n);
    g_assert_true(mhMhSavePages(p.src, gpas, n, 0, stream, &err));
    g_assert_true(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_no_error(err);
    /* The guest writes the page again; its new copy goes alone. */
    memset(p.src_guest.high + HIGH_SIZE - PAGE, 0x77, PAGE);
    g_assert_true(mhMhSavePage(p.src, last, 1, one, &err));
    g_assert_true(mhMhRestorePage(p.dst, last, one->data, one->len, &err));
    g_assert_no_error(err);
    g_assert_true(mhMhSaveFinish(p.src, fin, &err));
    g_assert_true(mhMhRestoreRecords(p.dst, fin->data, fin->len, NULL, &err));
    g_assert_true(mhMhRestoreFinish(p.dst, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(p.dst_guest.high + HIGH_SIZE - PAGE, PAGE,
                    p.src_guest.high + HIGH_SIZE - PAGE, PAGE);
    g_assert_true(memcmp(p.src_guest.low, p.dst_guest.low, LOW_SIZE) == 0);
    g_assert_true(memcmp(p.src_guest.high, p.dst_guest.high, HIGH_SIZE) == 0);
    pairClear(&p);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mh/handler/init-refusals", testInitRefusals);
    g_test_add_func("/mh/handler/migrate/1-vcpu", testMigrate1);
    g_test_add_func("/mh/handler/migrate/parallel", testMigrateParallel);
    g_test_add_func("/mh/handler/migrate/chacha20-poly1305", testMigrateChacha);
    g_test_add_func("/mh/handler/migrate/aes-256-ocb", testMigrateOcb);
    g_test_add_func("/mh/handler/wrong-key", testWrongKey);
    g_test_add_func("/mh/handler/launch-key", testLaunchKey);
    g_test_add_func("/mh/handler/no-rollback", testNoRollback);
    g_test_add_func("/mh/handler/tamper/bit-flip", testTamperFlip);
    g_test_add_func("/mh/handler/tamper/replay", testTamperReplay);
    g_test_add_func("/mh/handler/tamper/reorder", testTamperReorder);
    g_test_add_func("/mh/handler/tamper/drop", testTamperDrop);
    g_test_add_func("/mh/handler/tamper/cut", testTamperCut);
    g_test_add_func("/mh/handler/tamper/no-final", testTamperNoFinal);
    g_test_add_func("/mh/handler/single-page", testSinglePage);
    g_test_add_func("/mh/handler/incomplete", testIncomplete);
    g_test_add_func("/mh/handler/save-func", testSaveFunc);
    g_test_add_func("/mh/handler/misuse", testMisuse);
    return g_test_run();
}
