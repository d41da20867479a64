/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The source side of the host's MH calls: sealing pages in parallel on
 * all vCPUs, the final record, the RFC's single-page SAVE, and the dirty
 * scan of guest RAM against what was sealed. */
#include "sim/mh/mh-handler-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

static uint64_t
recordSeq(const uint8_t *rec, size_t len)
{
    uint64_t seq = 0;

    mhTransportRecordPeek(rec, len, NULL, &seq, NULL);
    return seq;
}

/* Give vCPU 'slot' the next chunk of pages, if any. */
static bool
hostSaveKick(MhMh *mh, unsigned int slot, unsigned int area, const uint64_t *gpas,
             size_t n, size_t chunk, uint32_t iteration, size_t *idx)
{
    MhMailboxBatch *b = mhMhVcpuBatchArea(&mh->vcpu[slot], area);
    size_t m;

    if (*idx >= n)
        return false;
    m = MIN(chunk, n - *idx);
    mhUtilPutLE32(b->data, iteration);
    mhUtilPutLE32(b->data + 4, m);
    for (size_t i = 0; i < m; i++)
        mhUtilPutLE64(b->data + 8 + 8 * i, gpas[*idx + i]);
    b->len = 8 + 8 * m;
    mhMhHostKick(&mh->vcpu[slot], MH_MAILBOX_CMD_SAVE_BATCH, area);
    *idx += m;
    return true;
}

bool
mhMhSavePagesFunc(MhMh *mh, const uint64_t *gpas, size_t n, uint32_t iteration,
                  MhMhRecordFunc emit, gpointer data, GError **error)
{
    size_t chunk, idx = 0;
    bool busy[MH_MH_MAX_VCPUS] = { false };
    unsigned int area[MH_MH_MAX_VCPUS] = { 0 };
    unsigned int nbusy = 0;
    bool ok = false;

    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckStarted(mh, error))
        goto out;
    /* Spread small requests over all vCPUs; large ones in full records. */
    chunk = CLAMP((n + mh->vcpus - 1) / mh->vcpus, 1, MH_TRANSPORT_MAX_BATCH);
    for (unsigned int i = 0; i < mh->vcpus; i++) {
        if ((busy[i] = hostSaveKick(mh, i, 0, gpas, n, chunk, iteration, &idx)))
            nbusy++;
    }
    /* Emit records in sequence order as they come: the vCPU holding the
     * next one is drained and refilled at once while the others seal. */
    while (nbusy > 0) {
        int ready = -1;
        bool failed = false;

        g_mutex_lock(&mh->done_lock);
        for (;;) {
            unsigned int ndone = 0;
            int lowest = -1;

            for (unsigned int i = 0; i < mh->vcpus && ready < 0; i++) {
                MhMailboxParams *p = mhMhVcpuParams(&mh->vcpu[i]);
                MhMailboxBatch *b = mhMhVcpuBatchArea(&mh->vcpu[i], area[i]);

                if (!busy[i] || !g_atomic_int_get(&p->done))
                    continue;
                ndone++;
                if (p->ret != MH_MAILBOX_RET_SUCCESS) {
                    failed = true;
                } else if (recordSeq(b->data, b->len) == mh->next_seq) {
                    ready = i;
                } else if (lowest < 0 ||
                           recordSeq(b->data, b->len) <
                           recordSeq(mhMhVcpuBatchArea(&mh->vcpu[lowest], area[lowest])->data,
                                     mhMhVcpuBatchArea(&mh->vcpu[lowest], area[lowest])->len)) {
                    lowest = i;
                }
            }
            /* Everyone is done and nobody holds the expected number: our
             * count went out of step with the MH's; the MH's wins. */
            if (ready < 0 && !failed && ndone == nbusy && lowest >= 0) {
                MhMailboxBatch *b = mhMhVcpuBatchArea(&mh->vcpu[lowest], area[lowest]);
                mh->next_seq = recordSeq(b->data, b->len);
                ready = lowest;
            }
            if (ready >= 0 || failed)
                break;
            g_cond_wait(&mh->done_cond, &mh->done_lock);
        }
        g_mutex_unlock(&mh->done_lock);

        if (failed) {
            /* Collect everyone and report the most telling error. */
            unsigned int k = 0;
            GError *best = NULL;
            for (unsigned int i = 0; i < mh->vcpus; i++) {
                GError *err = NULL;
                int ret;
                if (!busy[i])
                    continue;
                k++;
                if ((ret = mhMhHostWait(&mh->vcpu[i])) == MH_MAILBOX_RET_SUCCESS)
                    continue;
                mhMhHostError(&mh->vcpu[i], ret, &err);
                if (!best)
                    best = err;
                else
                    g_error_free(err);
            }
            mhMhHostFail(mh, best, error);
            goto out;
        }
        {
            MhMailboxBatch *b = mhMhVcpuBatchArea(&mh->vcpu[ready], area[ready]);

            mh->next_seq++;
            /* Refill this vCPU (other batch area) before draining it: the
             * consumer runs while every vCPU seals. */
            area[ready] ^= 1;
            if (!(busy[ready] = hostSaveKick(mh, ready, area[ready], gpas, n, chunk,
                                             iteration, &idx)))
                nbusy--;
            if (!emit(b->data, b->len, data, error)) {
                for (unsigned int i = 0; i < mh->vcpus; i++) {
                    if (busy[i])
                        mhMhHostWait(&mh->vcpu[i]);
                }
                /* Sealed records the caller never took: the stream has a
                 * gap now, so the session cannot go on. */
                mhMhHostCall(mh, 0, MH_MAILBOX_CMD_RESET, 0, NULL);
                mhMhHostSetState(mh, MH_MH_STATE_FAILED, error ? *error : NULL, false);
                goto out;
            }
        }
    }
    ok = true;
 out:
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

static bool
appendRecord(const uint8_t *record, size_t len, gpointer data, GError **error)
{
    g_byte_array_append(data, record, len);
    return true;
}

bool
mhMhSavePages(MhMh *mh, const uint64_t *gpas, size_t n, uint32_t iteration,
              GByteArray *out, GError **error)
{
    return mhMhSavePagesFunc(mh, gpas, n, iteration, appendRecord, out, error);
}

bool
mhMhSaveFinish(MhMh *mh, GByteArray *out, GError **error)
{
    MhMailboxBatch *b = mhMhVcpuBatch(&mh->vcpu[0]);
    bool ok;

    g_mutex_lock(&mh->host_lock);
    ok = mhMhHostCheckStarted(mh, error) && mhMhHostCall(mh, 0, MH_MAILBOX_CMD_SAVE_FINAL, 0, error);
    if (ok) {
        g_byte_array_append(out, b->data, b->len);
        mh->next_seq++;
    }
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

bool
mhMhSavePage(MhMh *mh, uint64_t gpa, uint32_t iteration, GByteArray *out, GError **error)
{
    MhMhVcpu *v = &mh->vcpu[0];
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    const size_t meta = MH_TRANSPORT_RECORD_HEADER_SIZE + 8;
    bool ok = false;

    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckStarted(mh, error))
        goto out;
    env->len = 4;
    mhUtilPutLE32(env->data, iteration);
    if (!mhMhHostCall(mh, 0, MH_MAILBOX_CMD_SAVE_PAGE, gpa, error))
        goto out;
    /* Reassemble the record: header + GPA, ciphertext, tag. */
    g_byte_array_append(out, env->data, meta);
    if (mhUtilGetLE32(env->data + 12))
        g_byte_array_append(out, mhMhVcpuPage(v), MH_PAGE_SIZE);
    g_byte_array_append(out, env->data + meta, MH_TRANSPORT_TAG_SIZE);
    mh->next_seq++;
    ok = true;
 out:
    g_mutex_unlock(&mh->host_lock);
    return ok;
}


/* Pages per SCAN_DIRTY request: 64 MiB, so that a few GiB of RAM make
 * enough requests to keep every vCPU busy until the end. */
#define SCAN_CHUNK_PAGES 16384

typedef struct {
    uint64_t gpa;
    uint32_t npages;
    uint8_t *bitmap;            /* the vCPU's answer */
} ScanChunk;

static void
scanKick(MhMh *mh, unsigned int slot, const ScanChunk *c)
{
    MhMailboxBatch *b = mhMhVcpuBatch(&mh->vcpu[slot]);

    mhUtilPutLE64(b->data, c->gpa);
    mhUtilPutLE32(b->data + 8, c->npages);
    b->len = 12;
    mhMhHostKick(&mh->vcpu[slot], MH_MAILBOX_CMD_SCAN_DIRTY, 0);
}

bool
mhMhScanDirty(MhMh *mh, GArray *gpas, GError **error)
{
    g_autoptr(GArray) chunks = g_array_new(FALSE, TRUE, sizeof(ScanChunk));
    int running[MH_MH_MAX_VCPUS];
    unsigned int nrunning = 0;
    size_t next = 0;
    GError *err = NULL;
    bool ok = false;

    for (size_t r = 0; r < mh->ram.nregions; r++) {
        const MhGuestRamRegion *reg = &mh->ram.regions[r];
        uint64_t npages = reg->size / MH_PAGE_SIZE;

        for (uint64_t p = 0; p < npages; p += SCAN_CHUNK_PAGES) {
            ScanChunk c = {
                .gpa = reg->gpa + p * MH_PAGE_SIZE,
                .npages = MIN(SCAN_CHUNK_PAGES, npages - p),
            };
            g_array_append_val(chunks, c);
        }
    }

    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckStarted(mh, error))
        goto out;
    for (unsigned int i = 0; i < mh->vcpus; i++) {
        running[i] = -1;
        if (next < chunks->len) {
            scanKick(mh, i, &g_array_index(chunks, ScanChunk, next));
            running[i] = next++;
            nrunning++;
        }
    }
    /* Hand the next chunk to whichever vCPU finishes first. */
    while (nrunning > 0) {
        g_mutex_lock(&mh->done_lock);
        for (;;) {
            bool any = false;

            for (unsigned int i = 0; i < mh->vcpus; i++)
                any |= running[i] >= 0 && g_atomic_int_get(&mhMhVcpuParams(&mh->vcpu[i])->done);
            if (any)
                break;
            g_cond_wait(&mh->done_cond, &mh->done_lock);
        }
        g_mutex_unlock(&mh->done_lock);
        for (unsigned int i = 0; i < mh->vcpus; i++) {
            MhMhVcpu *v = &mh->vcpu[i];
            MhMailboxBatch *b = mhMhVcpuBatch(v);
            ScanChunk *c;
            int ret;

            if (running[i] < 0 || !g_atomic_int_get(&mhMhVcpuParams(v)->done))
                continue;
            c = &g_array_index(chunks, ScanChunk, running[i]);
            running[i] = -1;
            nrunning--;
            if ((ret = mhMhHostWait(v)) != MH_MAILBOX_RET_SUCCESS) {
                if (!err)
                    mhMhHostError(v, ret, &err);
            } else if (b->len != (c->npages + 7) / 8) {
                if (!err)
                    err = g_error_new(MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                                      _("MH vCPU %u answered a scan of %u pages with %u bytes"),
                                      i, c->npages, b->len);
            } else {
                c->bitmap = g_memdup2(b->data, b->len);
            }
            if (!err && next < chunks->len) {
                scanKick(mh, i, &g_array_index(chunks, ScanChunk, next));
                running[i] = next++;
                nrunning++;
            }
        }
    }
    if (err) {
        mhMhHostFail(mh, err, error);
        goto out;
    }
    for (guint k = 0; k < chunks->len; k++) {
        const ScanChunk *c = &g_array_index(chunks, ScanChunk, k);

        for (uint32_t i = 0; i < c->npages; i++) {
            if (c->bitmap[i / 8] & (1 << (i % 8))) {
                guint64 gpa = c->gpa + (uint64_t)i * MH_PAGE_SIZE;

                g_array_append_val(gpas, gpa);
            }
        }
    }
    ok = true;
 out:
    g_mutex_unlock(&mh->host_lock);
    for (guint k = 0; k < chunks->len; k++)
        g_free(g_array_index(chunks, ScanChunk, k).bitmap);
    return ok;
}
