/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The target side of the MH vCPUs: verify and decrypt records into
 * private staging (in parallel), account for them in stream order
 * (COMMIT), and store their pages into guest RAM: in parallel, each vCPU
 * its own record, when the records of a window name no page twice. */
#include "sim/mh/mh-vcpu-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The pages of a committed record into guest RAM: runs of consecutive
 * pages of one kind in one store (a record of pass 1 is mostly one run).
 * Called with st->lock held. */
static bool
stagingStore(MhMhVcpu *v, MhMhPrivate *priv, MhMhSession *sess, MhMhStaging *st,
             GError **error)
{
    const MhTransportOpened *op = &st->opened;
    const uint8_t *src = op->plain;
    guint64 nzero = 0;

    st->pending_store = false;
    for (size_t i = 0, run = 0; i < op->npages; i = run) {
        bool zero = op->zero[i];
        uint64_t len = MH_PAGE_SIZE;

        for (run = i + 1; run < op->npages; run++) {
            if (op->zero[run] != zero || op->gpas[run] != op->gpas[i] + len ||
                !mhGuestRamTranslate(&priv->ram, op->gpas[i], len + MH_PAGE_SIZE))
                break;
            len += MH_PAGE_SIZE;
        }
        if (!mhGuestRamStore(&priv->ram, op->gpas[i], zero ? NULL : src, len, error)) {
            mhTransportSessionAbort(sess->s);
            return false;
        }
        if (zero)
            nzero += run - i;
        else
            src += len;
    }
    __atomic_fetch_add(&v->mh->pages_restored, op->npages, __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->mh->zero_pages, nzero, __ATOMIC_RELAXED);
    return true;
}

static bool
vcpuStage(MhMhVcpu *v, MhMhPrivate *priv, const uint8_t *rec, size_t len,
          const uint64_t *expect, size_t nexpect, GError **error)
{
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);
    MhMhStaging *st = &priv->staging[v->index];
    bool ok = false;

    if (!sess)
        return false;
    g_mutex_lock(&st->lock);
    /* This vCPU's share of the last window goes to guest RAM first. */
    if (st->pending_store && !stagingStore(v, priv, sess, st, error))
        goto out;
    st->staged = false;
    if (!mhTransportOpenVerify(sess->s, rec, len, expect, nexpect, st->plain, &st->opened, error))
        goto out;
    for (size_t i = 0; i < st->opened.npages; i++) {
        if (!mhGuestRamTranslate(&priv->ram, st->opened.gpas[i], MH_PAGE_SIZE)) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("record %" PRIu64 " names GPA 0x%" PRIx64
                          ", outside this guest's RAM"), st->opened.seq, st->opened.gpas[i]);
            mhTransportSessionAbort(sess->s);
            goto out;
        }
    }
    st->staged = true;
    ok = true;
 out:
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Account for one staged record: sequence and digest checks, then its
 * pages count as restored. Its pages go to guest RAM now, or (deferred)
 * later on the vCPU that staged it; never before this succeeded. Called
 * with the slot's staging lock held. */
static bool
vcpuCommitOneLocked(MhMhVcpu *v, MhMhPrivate *priv, MhMhSession *sess, unsigned int slot,
                    bool defer, bool *final, GError **error)
{
    MhMhStaging *st = &priv->staging[slot];
    const MhTransportOpened *op = &st->opened;

    if (!st->staged) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("COMMIT names MH vCPU %u, which holds no verified record"), slot);
        mhTransportSessionAbort(sess->s);
        return false;
    }
    st->staged = false;
    if (!mhTransportOpenCommit(sess->s, op, error))
        return false;
    *final = op->type == MH_TRANSPORT_RECORD_FINAL;
    if (*final && sess->covered != sess->coverage_pages) {
        uint64_t first = 0;
        while (sess->coverage[first / 8] & (1u << (first % 8)))
            first++;
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_COUNT,
                    _("incomplete migration: %" PRIu64 " of %" PRIu64
                      " pages of guest RAM were never restored (the first at GPA 0x%"
                      PRIx64 ")"),
                    sess->coverage_pages - sess->covered, sess->coverage_pages,
                    mhMhPageGpa(&priv->ram, first));
        mhTransportSessionAbort(sess->s);
        return false;
    }
    for (size_t i = 0; i < op->npages; i++) {
        uint64_t idx = mhMhPageIndex(&priv->ram, op->gpas[i]);

        if (!(sess->coverage[idx / 8] & (1u << (idx % 8)))) {
            sess->coverage[idx / 8] |= 1u << (idx % 8);
            sess->covered++;
        }
    }
    st->pending_store = op->npages > 0;
    return defer || !st->pending_store || stagingStore(v, priv, sess, st, error);
}

/* Store what the last window left to its vCPUs (all of them: the host
 * may leave a vCPU out of the next window). */
static bool
vcpuFlushStores(MhMhVcpu *v, MhMhPrivate *priv, MhMhSession *sess, GError **error)
{
    for (unsigned int i = 0; i < priv->vcpus; i++) {
        MhMhStaging *st = &priv->staging[i];
        bool ok;

        g_mutex_lock(&st->lock);
        ok = !st->pending_store || stagingStore(v, priv, sess, st, error);
        g_mutex_unlock(&st->lock);
        if (!ok)
            return false;
    }
    return true;
}

static int
compareGpa(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Do two staged records of the window name the same page? Then their
 * stores must keep stream order (pass 1's copy, then pass 2's). Called
 * with the window's staging locks held, so that the records checked are
 * the records committed. */
static bool
windowOverlapsLocked(MhMhPrivate *priv, const uint32_t *slots, uint32_t n)
{
    g_autofree uint64_t *all = g_new(uint64_t, (size_t)n * MH_TRANSPORT_MAX_BATCH);
    size_t k = 0;

    for (uint32_t i = 0; i < n; i++) {
        MhMhStaging *st = &priv->staging[slots[i]];

        if (st->staged) {
            memcpy(all + k, st->opened.gpas, st->opened.npages * sizeof(uint64_t));
            k += st->opened.npages;
        }
    }
    qsort(all, k, sizeof(uint64_t), compareGpa);
    for (size_t i = 1; i < k; i++) {
        if (all[i] == all[i - 1])
            return true;
    }
    return false;
}

/* Take (or release) the staging locks of the slots a window names, each
 * once, in slot order (no two vCPUs can then wait on each other). */
static void
vcpuLockSlots(MhMhPrivate *priv, const uint32_t *slots, uint32_t n, bool lock)
{
    bool named[MH_MH_MAX_VCPUS] = { false };

    for (uint32_t i = 0; i < n; i++)
        named[slots[i]] = true;
    for (unsigned int i = 0; i < priv->vcpus; i++) {
        if (!named[i])
            continue;
        if (lock)
            g_mutex_lock(&priv->staging[i].lock);
        else
            g_mutex_unlock(&priv->staging[i].lock);
    }
}

bool
mhMhVcpuRestoreBatch(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxBatch *b;

    if (!(b = mhMhVcpuBatchArg(v, "RESTORE_BATCH", error)))
        return false;
    return vcpuStage(v, priv, b->data, MIN(b->len, sizeof(b->data)), NULL, 0, error);
}

bool
mhMhVcpuCommit(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);
    uint32_t n = env->len >= 4 ? mhUtilGetLE32(env->data) : 0;
    uint32_t slots[MH_MH_MAX_VCPUS];
    bool final = false;
    bool ok = true;
    bool defer;

    if (!sess)
        return false;
    /* The batch areas may already hold the next records: the slot list
     * comes in the envelope. */
    if (n > priv->vcpus || env->len != 4 + 4 * n) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed COMMIT request (%u slots in %u bytes)"), n, env->len);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        slots[i] = mhUtilGetLE32(env->data + 4 + 4 * i);
        if (slots[i] >= priv->vcpus) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                        _("COMMIT names MH vCPU %u of %u"), slots[i], priv->vcpus);
            return false;
        }
    }
    /* The previous window's stores all land before this one's: the
     * accounting below is in stream order, and so are the stores across
     * windows. Within a window that names no page twice the vCPUs store
     * in parallel (each its own record, before it verifies the next). */
    if (!vcpuFlushStores(v, priv, sess, error))
        return false;
    /* A RESTORE_BATCH racing on another vCPU must not swap a record
     * between the overlap check and its commit. */
    vcpuLockSlots(priv, slots, n, true);
    defer = n > 1 && !windowOverlapsLocked(priv, slots, n);
    for (uint32_t i = 0; i < n && ok; i++) {
        if (final) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                        _("record after the final record"));
            mhTransportSessionAbort(sess->s);
            ok = false;
            break;
        }
        ok = vcpuCommitOneLocked(v, priv, sess, slots[i], defer, &final, error);
    }
    vcpuLockSlots(priv, slots, n, false);
    if (!ok)
        return false;
    env->len = 4;
    mhUtilPutLE32(env->data, final);
    return true;
}

bool
mhMhVcpuRestorePage(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhMhSession *sess;
    const size_t meta = MH_TRANSPORT_RECORD_HEADER_SIZE + 8;
    uint8_t rec[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE];
    uint64_t expect = p->gpa;
    size_t ct;
    bool final = false;
    bool ok;

    if (env->len != meta + MH_TRANSPORT_TAG_SIZE) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("RESTORE_PAGE envelope holds %u bytes, a one-page record header "
                      "and tag are %zu"), env->len, meta + MH_TRANSPORT_TAG_SIZE);
        return false;
    }
    /* The ciphertext length is unauthenticated until the tag checks; it
     * is either a page or nothing (zero page). */
    ct = mhUtilGetLE32(env->data + 12) ? MH_PAGE_SIZE : 0;
    memcpy(rec, env->data, meta);
    memcpy(rec + meta, mhMhVcpuPage(v), ct);
    memcpy(rec + meta + ct, env->data + meta, MH_TRANSPORT_TAG_SIZE);
    if (!vcpuStage(v, priv, rec, meta + ct + MH_TRANSPORT_TAG_SIZE, &expect, 1, error))
        return false;
    /* The older copies a window left to other vCPUs land first: else the
     * end of the stream would write them over this newer one. */
    if (!(sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error)) ||
        !vcpuFlushStores(v, priv, sess, error))
        return false;
    g_mutex_lock(&priv->staging[v->index].lock);
    ok = vcpuCommitOneLocked(v, priv, sess, v->index, false, &final, error);
    g_mutex_unlock(&priv->staging[v->index].lock);
    return ok;
}

bool
mhMhVcpuRestoreEnd(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);

    return sess && vcpuFlushStores(v, priv, sess, error) && mhTransportOpenEnd(sess->s, error);
}

