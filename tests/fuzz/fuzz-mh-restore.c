/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The target MH's restore against a hostile host. The input is a script:
 * the source guest writes pages, a real source MH seals them (batches,
 * single pages, pages sealed again) under the real migration key, and the
 * host delivers records to a target MH in order, or replayed, reordered,
 * dropped, cut, bit-flipped, as raw bytes, one page at a time between
 * batches. The oracle is what the migration promises the owner: if
 * RestoreFinish succeeds, the target's RAM is the LAST sealed copy of
 * every page (no rollback, no forged or stale page, no page left out);
 * else it fails with an error. And when the source sealed every page, a
 * host that only delivers the sealed records in order (whole, chunked, or
 * single pages) always succeeds.
 * The MHs (and their vCPU threads) are made once; each input runs a
 * fresh session handshake, so nothing of one input reaches the next. */
#include "owner/mh-sev-secret.h"
#include "sim/mh/mh-handler.h"
#include "sim/mh/mh-transport.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE MH_PAGE_SIZE
#define LOW_PAGES 20
#define HIGH_PAGES 4
#define NPAGES (LOW_PAGES + HIGH_PAGES)
#define HIGH_GPA 0x100000000ULL
#define NTARGETS 3
#define MAX_OPS 48

static const uint8_t uuid[MH_TRANSPORT_UUID_SIZE] = { 0xf1, 0x22, 3, 4, 5, 6, 7, 8,
                                                      9, 10, 11, 12, 13, 14, 15, 16 };

static struct {
    uint8_t *src_ram, *dst_ram;
    MhMh *src;
    MhMh *dst[NTARGETS];        /* 1, 2 and 4 vCPUs: windows of 1 to 4 records */
} fx;

/* One input's run. */
typedef struct {
    const uint8_t *data;
    size_t size, pos;
    MhMh *dst;
    GPtrArray *records;         /* GBytes, in the order the source sealed them */
    size_t cursor;              /* next record an honest host delivers */
    uint8_t expect[NPAGES][PAGE];       /* each page's last sealed copy */
    bool sent[NPAGES];
    uint32_t iteration;         /* the source's pass: never goes back */
    bool src_final;
    bool honest;                /* only in-order delivery so far */
} Run;

static uint8_t
next(Run *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

static uint64_t
pageGpa(size_t i)
{
    return i < LOW_PAGES ? i * PAGE : HIGH_GPA + (i - LOW_PAGES) * PAGE;
}

static size_t
pageIndex(uint64_t gpa)
{
    if (gpa >= HIGH_GPA) {
        g_assert(gpa - HIGH_GPA < HIGH_PAGES * PAGE);
        return LOW_PAGES + (gpa - HIGH_GPA) / PAGE;
    }
    g_assert(gpa < LOW_PAGES * PAGE);
    return gpa / PAGE;
}

static void
ramMap(MhGuestRam *ram, uint8_t *host)
{
    g_autoptr(GError) err = NULL;

    mhGuestRamInit(ram);
    g_assert(mhGuestRamAddRegion(ram, 0, LOW_PAGES * PAGE, host, &err));
    g_assert(mhGuestRamAddRegion(ram, HIGH_GPA, HIGH_PAGES * PAGE, host + LOW_PAGES * PAGE,
                                 &err));
}

static MhMh *
startMh(const MhGuestRam *ram, unsigned int vcpus, const MhMhLaunchKey *lk)
{
    g_autoptr(GError) err = NULL;
    MhMh *mh = mhMhNew(ram, vcpus, MH_CONF_CIPHER_AES_256_GCM, uuid, &err);

    g_assert(mh && mhMhStartWithKey(mh, lk, &err));
    return mh;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(MhSecret) key = mhSecretNew(MH_SEV_MIGRATION_KEY_SIZE);
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) blob = NULL;
    g_autoptr(MhMhLaunchKey) lk = NULL;
    MhGuestRam src_ram, dst_ram;
    const unsigned int vcpus[NTARGETS] = { 1, 2, 4 };

    (void)argc;
    (void)argv;
    for (size_t i = 0; i < key->len; i++)
        key->data[i] = (uint8_t)(i * 7 + 1);
    g_assert(mhSevSecretTableAddMigrationKey(table, key, NULL));
    blob = mhSevSecretTableBuild(table, NULL);
    lk = mhMhLaunchKeyFromSecret(blob->data, blob->len, NULL);
    g_assert(lk);
    fx.src_ram = g_malloc(NPAGES * PAGE);
    fx.dst_ram = g_malloc(NPAGES * PAGE);
    ramMap(&src_ram, fx.src_ram);
    ramMap(&dst_ram, fx.dst_ram);
    /* One vCPU: records hold the same pages on every run (with more, the
     * vCPU that seals first takes the next sequence number). */
    fx.src = startMh(&src_ram, 1, lk);
    for (int i = 0; i < NTARGETS; i++)
        fx.dst[i] = startMh(&dst_ram, vcpus[i], lk);
    return 0;
}

static void
handshake(MhMh *src, MhMh *dst)
{
    g_autoptr(GBytes) hs = NULL, hd = NULL, cs = NULL, cd = NULL;
    g_autoptr(GError) err = NULL;

    if (!(mhMhSessionBegin(src, MH_TRANSPORT_ROLE_SOURCE, &hs, &err) &&
          mhMhSessionBegin(dst, MH_TRANSPORT_ROLE_TARGET, &hd, &err) &&
          mhMhSessionPeerHello(src, hd, &cs, &err) &&
          mhMhSessionPeerHello(dst, hs, &cd, &err) &&
          mhMhSessionPeerConfirm(src, cd, &err) &&
          mhMhSessionPeerConfirm(dst, cs, &err))) {
        fprintf(stderr, "handshake failed: %s\n", err ? err->message : "?");
        abort();
    }
}

/* A record the source sealed: its pages' copies are now the last ones. */
static bool
collect(const uint8_t *record, size_t len, gpointer data, GError **error)
{
    Run *r = data;
    size_t npages = 0;
    MhTransportRecordType type = 0;

    (void)error;
    g_assert(mhTransportRecordPeek(record, len, &type, NULL, &npages));
    for (size_t i = 0; type == MH_TRANSPORT_RECORD_PAGES && i < npages; i++) {
        uint64_t gpa = mhUtilGetLE64(record + MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * i);
        size_t idx = pageIndex(gpa & ~MH_TRANSPORT_GPA_ZERO);

        memcpy(r->expect[idx], fx.src_ram + idx * PAGE, PAGE);
        r->sent[idx] = true;
    }
    g_ptr_array_add(r->records, g_bytes_new(record, len));
    return true;
}

static void
mustSucceed(bool ok, GError *err, const char *what)
{
    if (!ok) {
        fprintf(stderr, "the source MH failed to %s: %s\n", what, err ? err->message : "?");
        abort();
    }
}

/* The source guest writes a page. */
static void
opWrite(Run *r)
{
    uint8_t *page = fx.src_ram + (next(r) % NPAGES) * PAGE;
    uint8_t kind = next(r), v = next(r);

    switch (kind % 4) {
    case 0: memset(page, 0, PAGE); break;
    case 1: memset(page, v, PAGE); break;
    case 2: page[(v * 16 + kind / 4) % PAGE] ^= 1 + v; break;
    default:
        for (size_t i = 0; i < 16; i++)
            page[(size_t)v * 16 + i] = next(r);
    }
}

/* The source MH seals pages: a run with a stride (pages may repeat), or
 * a single page, or the final record. */
static void
opSeal(Run *r, uint8_t how)
{
    g_autoptr(GError) err = NULL;
    uint64_t gpas[NPAGES];
    size_t start = next(r) % NPAGES, n = 1 + next(r) % NPAGES, step = 1 + next(r) % 3;
    uint8_t it = next(r);
    uint32_t iteration = r->iteration += it % 2;

    if (r->src_final)
        return;
    if (how == 0) {
        /* In 1 to 4 records (a 1-vCPU source seals one per call). */
        size_t parts = 1 + it / 2 % 4, chunk = (n + parts - 1) / parts;

        for (size_t i = 0; i < n; i++)
            gpas[i] = pageGpa((start + i * step) % NPAGES);
        for (size_t i = 0; i < n; i += chunk)
            mustSucceed(mhMhSavePagesFunc(fx.src, gpas + i, MIN(chunk, n - i), iteration,
                                          collect, r, &err), err, "seal pages");
    } else {
        g_autoptr(GByteArray) out = g_byte_array_new();

        if (how == 1)
            mustSucceed(mhMhSavePage(fx.src, pageGpa(start), iteration, out, &err), err,
                        "seal a page");
        else
            mustSucceed(mhMhSaveFinish(fx.src, out, &err), err, "seal the final record");
        r->src_final = how == 2;
        collect(out->data, out->len, r, NULL);
    }
}

static GBytes *
record(Run *r, size_t i)
{
    return g_ptr_array_index(r->records, i);
}

/* Records [from, to) as one buffer. */
static GByteArray *
concat(Run *r, size_t from, size_t to)
{
    GByteArray *buf = g_byte_array_new();

    for (size_t i = from; i < to && i < r->records->len; i++) {
        size_t len;
        const uint8_t *d = g_bytes_get_data(record(r, i), &len);
        g_byte_array_append(buf, d, len);
    }
    return buf;
}

/* Feed 'buf' whole, or in two pieces as a socket might cut it: the first
 * call leaves a partial record, the second starts where it stopped. */
static void
feed(Run *r, const uint8_t *buf, size_t len, uint8_t cut)
{
    g_autoptr(GError) err = NULL;
    size_t used = 0, at = cut && len ? (len * cut / 256) : 0;

    if (!at) {
        mhMhRestoreRecords(r->dst, buf, len, NULL, &err);
        return;
    }
    if (!mhMhRestoreRecords(r->dst, buf, at, &used, &err))
        return;
    g_assert(used <= at);
    mhMhRestoreRecords(r->dst, buf + used, len - used, NULL, &err);
}

/* An honest host: the next records in order, batched, chunked, or one
 * page through RestorePage. */
static void
opDeliver(Run *r)
{
    size_t n = 1 + next(r) % 4;
    uint8_t cut = next(r);

    if (r->cursor >= r->records->len)
        return;
    if (cut % 5 == 0) {
        size_t len, npages = 0;
        const uint8_t *d = g_bytes_get_data(record(r, r->cursor), &len);
        g_autoptr(GError) err = NULL;

        g_assert(mhTransportRecordPeek(d, len, NULL, NULL, &npages));
        if (npages == 1) {
            uint64_t gpa = mhUtilGetLE64(d + MH_TRANSPORT_RECORD_HEADER_SIZE);

            mhMhRestorePage(r->dst, gpa & ~MH_TRANSPORT_GPA_ZERO, d, len, &err);
            r->cursor++;
            return;
        }
    }
    {
        g_autoptr(GByteArray) buf = concat(r, r->cursor, r->cursor + n);

        feed(r, buf->data, buf->len, cut % 5 == 1 ? next(r) : 0);
        r->cursor = MIN(r->cursor + n, r->records->len);
    }
}

/* A hostile host: any sealed record, replayed or out of order, as a batch
 * or through RestorePage at a chosen page, dropped, bit-flipped, cut. */
static void
opTamper(Run *r)
{
    uint8_t how = next(r), a = next(r), b = next(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) buf = NULL;
    size_t i;

    r->honest = false;
    if (r->records->len == 0)
        return;
    i = a % r->records->len;
    buf = concat(r, i, i + 1);
    switch (how % 6) {
    case 0:                             /* replay or reorder */
        feed(r, buf->data, buf->len, 0);
        break;
    case 1:                             /* skip ahead: the records between are dropped */
        feed(r, buf->data, buf->len, 0);
        r->cursor = i + 1;
        break;
    case 2:                             /* one page, restored where the host says */
        mhMhRestorePage(r->dst, pageGpa(b % NPAGES), buf->data, buf->len, &err);
        break;
    case 3:
        buf->data[((size_t)b << 8 | next(r)) % buf->len] ^= 1u << (how / 6 % 8);
        feed(r, buf->data, buf->len, 0);
        break;
    case 4:                             /* cut: the rest never comes */
        feed(r, buf->data, ((size_t)b << 8 | next(r)) % buf->len, 0);
        break;
    default:
        r->cursor++;
    }
}

/* Bytes of the input as a stream, or the target's session reset. */
static void
opRaw(Run *r)
{
    size_t n = next(r);
    uint8_t cut = next(r);
    g_autoptr(GError) err = NULL;

    r->honest = false;
    if (n == 0) {
        mhMhSessionReset(r->dst, &err);
        return;
    }
    n = MIN(n, r->size - r->pos);
    feed(r, r->data + r->pos, n, cut);
    r->pos += n;
}

static bool
allSent(const Run *r)
{
    for (size_t i = 0; i < NPAGES; i++) {
        if (!r->sent[i])
            return false;
    }
    return true;
}

/* The end of the stream: optionally the source seals every page and the
 * final record and the host delivers what it holds back in order; then
 * the target's verdict, checked against the source's last copies. */
static void
finish(Run *r, bool complete)
{
    g_autoptr(GError) err = NULL;
    bool ok;

    if (complete && !r->src_final) {
        uint64_t gpas[NPAGES];
        size_t n = 0;

        /* Only what is missing: a new copy of every page would hide a
         * stale one the target still holds back. */
        for (size_t i = 0; i < NPAGES; i++) {
            if (!r->sent[i])
                gpas[n++] = pageGpa(i);
        }
        if (n)
            mustSucceed(mhMhSavePagesFunc(fx.src, gpas, n, r->iteration, collect, r, &err),
                        err, "seal the pages not sent");
        opSeal(r, 2);
    }
    if (complete && r->cursor < r->records->len) {
        g_autoptr(GByteArray) buf = concat(r, r->cursor, r->records->len);
        feed(r, buf->data, buf->len, 0);
    }
    ok = mhMhRestoreFinish(r->dst, &err);
    if (!ok) {
        g_assert(err && err->message);
        if (complete && r->honest && allSent(r)) {
            fprintf(stderr, "an honest stream was refused: %s\n", err->message);
            abort();
        }
        return;
    }
    for (size_t i = 0; i < NPAGES; i++) {
        if (!r->sent[i] || memcmp(fx.dst_ram + i * PAGE, r->expect[i], PAGE) != 0) {
            fprintf(stderr, "restore accepted, but page %zu (GPA 0x%" G_GINT64_MODIFIER
                    "x) %s\n", i, pageGpa(i),
                    r->sent[i] ? "is not its last sealed copy" : "was never sent");
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Run *r = g_new0(Run, 1);
    uint8_t cfg, seed;

    r->data = data;
    r->size = size;
    r->honest = true;
    r->records = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    cfg = next(r);
    seed = next(r);
    r->dst = fx.dst[cfg % NTARGETS];
    for (size_t i = 0; i < NPAGES; i++)
        memset(fx.src_ram + i * PAGE, (uint8_t)(seed ^ i), PAGE);
    memset(fx.dst_ram, 0xee, NPAGES * PAGE);           /* garbage: every page must come */
    handshake(fx.src, r->dst);
    for (int ops = 0; ops < MAX_OPS && r->pos < r->size; ops++) {
        uint8_t op = next(r);

        switch (op % 8) {
        case 0: opWrite(r); break;
        case 1: case 2: case 3: opSeal(r, op % 8 - 1); break;
        case 4: case 5: opDeliver(r); break;
        case 6: opTamper(r); break;
        default: opRaw(r);
        }
    }
    finish(r, cfg & 4);
    g_ptr_array_unref(r->records);
    g_free(r);
    return 0;
}
