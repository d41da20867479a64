/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of the MH: what qemu-mh calls. It fills mailboxes, rings
 * the doorbell and waits, like the RFC's host protocol (write params,
 * ret = -1, done = 0, barrier, go = 1, wait for done); it sees GPAs,
 * hellos, confirmations and sealed records, never keys or plaintext. */
#include "sim/mh/mh-handler-priv.h"
#include "util/mh-enum.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <string.h>

MH_ENUM_IMPL(mhMhState, MH_MH_STATE_LAST, "stopped", "running", "failed");

/* ret -> GError, so callers and tests see the same codes the MH raised. */
static const struct {
    int ret;
    bool transport;
    int code;
} retErrors[] = {
    { MH_MAILBOX_RET_INVALID_FUNCTION, false, MH_ERROR_UNSUPPORTED },
    { MH_MAILBOX_RET_AUTH, true, MH_TRANSPORT_ERROR_TAG },
    { MH_MAILBOX_RET_KEY, true, MH_TRANSPORT_ERROR_KEY },
    { MH_MAILBOX_RET_SEQUENCE, true, MH_TRANSPORT_ERROR_SEQUENCE },
    { MH_MAILBOX_RET_GPA, true, MH_TRANSPORT_ERROR_GPA },
    { MH_MAILBOX_RET_TRUNCATED, true, MH_TRANSPORT_ERROR_TRUNCATED },
    { MH_MAILBOX_RET_COUNT, true, MH_TRANSPORT_ERROR_COUNT },
    { MH_MAILBOX_RET_DIGEST, true, MH_TRANSPORT_ERROR_DIGEST },
    { MH_MAILBOX_RET_FORMAT, true, MH_TRANSPORT_ERROR_FORMAT },
    { MH_MAILBOX_RET_STATE, true, MH_TRANSPORT_ERROR_STATE },
    { MH_MAILBOX_RET_NO_KEY, false, MH_ERROR_INVALID },
    { MH_MAILBOX_RET_PEER, true, MH_TRANSPORT_ERROR_PEER },
    { MH_MAILBOX_RET_INTERNAL, false, MH_ERROR_FAILED },
};

MhMh *
mhMhNew(const MhGuestRam *ram, unsigned int vcpus, MhConfCipher cipher,
        const uint8_t uuid[MH_TRANSPORT_UUID_SIZE], GError **error)
{
    MhMh *mh;

    if (vcpus < 1 || vcpus > MH_MH_MAX_VCPUS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH vCPUs must be 1..%d, not %u"), MH_MH_MAX_VCPUS, vcpus);
        return NULL;
    }
    if (cipher >= MH_CONF_CIPHER_LAST) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("unknown MH cipher %d"), cipher);
        return NULL;
    }
    if (!ram || ram->nregions == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the MH needs the guest RAM map, which is empty"));
        return NULL;
    }

    mh = g_new0(MhMh, 1);
    mh->vcpus = vcpus;
    mh->ram = *ram;
    mh->cipher = cipher;
    mh->state = MH_MH_STATE_STOPPED;
    g_mutex_init(&mh->host_lock);
    g_mutex_init(&mh->status_lock);
    g_mutex_init(&mh->done_lock);
    g_cond_init(&mh->done_cond);
    mh->priv = mhMhPrivateNew(ram, vcpus, cipher, uuid);
    mh->vcpu = g_new0(MhMhVcpu, vcpus);
    for (unsigned int i = 0; i < vcpus; i++) {
        MhMhVcpu *v = &mh->vcpu[i];
        v->mh = mh;
        v->index = i;
        v->mailbox = g_aligned_alloc0(1, MH_MAILBOX_SIZE, 4096);
        g_mutex_init(&v->lock);
        g_cond_init(&v->cond);
    }
    return mh;
}

static void
hostStopVcpus(MhMh *mh)
{
    for (unsigned int i = 0; i < mh->vcpus; i++) {
        MhMhVcpu *v = &mh->vcpu[i];
        if (!v->thread)
            continue;
        g_mutex_lock(&v->lock);
        v->quit = true;
        g_cond_broadcast(&v->cond);
        g_mutex_unlock(&v->lock);
        g_thread_join(v->thread);
        v->thread = NULL;
        v->quit = false;
    }
    mhMhPrivateWipe(mh->priv);
    mh->started = false;
}

void
mhMhHostSetState(MhMh *mh, MhMhState state, const GError *err, bool rejected)
{
    g_mutex_lock(&mh->status_lock);
    mh->state = state;
    if (err) {
        g_free(mh->last_error);
        mh->last_error = g_strdup(err->message);
    }
    if (rejected)
        mh->records_rejected++;
    g_mutex_unlock(&mh->status_lock);
}

void
mhMhStop(MhMh *mh)
{
    g_mutex_lock(&mh->host_lock);
    hostStopVcpus(mh);
    g_mutex_lock(&mh->status_lock);
    mh->state = MH_MH_STATE_STOPPED;
    mh->have_key = false;
    g_mutex_unlock(&mh->status_lock);
    g_mutex_unlock(&mh->host_lock);
}

void
mhMhFree(MhMh *mh)
{
    if (!mh)
        return;
    mhMhStop(mh);
    for (unsigned int i = 0; i < mh->vcpus; i++) {
        g_aligned_free(mh->vcpu[i].mailbox);
        g_mutex_clear(&mh->vcpu[i].lock);
        g_cond_clear(&mh->vcpu[i].cond);
    }
    g_free(mh->vcpu);
    mhMhPrivateFree(mh->priv);
    g_free(mh->last_error);
    g_mutex_clear(&mh->host_lock);
    g_mutex_clear(&mh->status_lock);
    g_mutex_clear(&mh->done_lock);
    g_cond_clear(&mh->done_cond);
    g_free(mh);
}

/* The RFC doorbell: params, ret = -1, done = 0, barrier, go = 1. */
void
mhMhHostKick(MhMhVcpu *v, MhMailboxCommand cmd, uint64_t gpa)
{
    MhMailboxParams *p = mhMhVcpuParams(v);

    p->cmd = cmd;
    p->gpa = gpa;
    p->prefetch = 0;
    p->ret = -1;
    g_atomic_int_set(&p->done, 0);
    /* The doorbell mutex is the RFC's write barrier: everything written
     * above is visible to the vCPU once it sees go = 1. */
    g_mutex_lock(&v->lock);
    g_atomic_int_set(&p->go, 1);
    g_cond_broadcast(&v->cond);
    g_mutex_unlock(&v->lock);
}

int
mhMhHostWait(MhMhVcpu *v)
{
    MhMailboxParams *p = mhMhVcpuParams(v);

    g_mutex_lock(&v->lock);
    while (!g_atomic_int_get(&p->done))
        g_cond_wait(&v->cond, &v->lock);
    g_mutex_unlock(&v->lock);
    return p->ret;
}

/* Turn a failed command's ret and message into a GError. */
void
mhMhHostError(MhMhVcpu *v, int ret, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    g_autofree char *raw = g_strndup((const char *)env->data,
                                     MIN(env->len, MH_MAILBOX_ENVELOPE_MAX));
    g_autofree char *msg = g_utf8_make_valid(raw, -1);

    for (size_t i = 0; i < G_N_ELEMENTS(retErrors); i++) {
        if (retErrors[i].ret == ret) {
            g_set_error_literal(error, retErrors[i].transport ? MH_TRANSPORT_ERROR : MH_ERROR,
                                retErrors[i].code, msg);
            return;
        }
    }
    g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                _("MH vCPU %u returned unknown code %d: %s"), v->index, ret, msg);
}

/* Does this error end the session (state failed)? Only misuse by the
 * host's own caller (STATE) does not. */
static bool
errorFailsSession(const GError *err)
{
    return err->domain == MH_TRANSPORT_ERROR && err->code != MH_TRANSPORT_ERROR_STATE;
}

static bool
errorRejectsRecord(const GError *err)
{
    return err->domain == MH_TRANSPORT_ERROR &&
        (err->code == MH_TRANSPORT_ERROR_TAG || err->code == MH_TRANSPORT_ERROR_SEQUENCE ||
         err->code == MH_TRANSPORT_ERROR_GPA || err->code == MH_TRANSPORT_ERROR_COUNT ||
         err->code == MH_TRANSPORT_ERROR_DIGEST || err->code == MH_TRANSPORT_ERROR_FORMAT);
}

bool
mhMhHostFail(MhMh *mh, GError *err, GError **error)
{
    if (errorFailsSession(err))
        mhMhHostSetState(mh, MH_MH_STATE_FAILED, err, errorRejectsRecord(err));
    else
        mhMhHostSetState(mh, mh->state, err, false);
    g_propagate_error(error, err);
    return false;
}

bool
mhMhHostCall(MhMh *mh, unsigned int slot, MhMailboxCommand cmd, uint64_t gpa, GError **error)
{
    GError *err = NULL;
    int ret;

    mhMhHostKick(&mh->vcpu[slot], cmd, gpa);
    if ((ret = mhMhHostWait(&mh->vcpu[slot])) == MH_MAILBOX_RET_SUCCESS)
        return true;
    mhMhHostError(&mh->vcpu[slot], ret, &err);
    return mhMhHostFail(mh, err, error);
}

bool
mhMhHostCheckStarted(MhMh *mh, GError **error)
{
    if (!mh->started) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("the migration handler is not running"));
        return false;
    }
    return true;
}

/* Restore and save calls after the session failed: refused until a new
 * session (mhMhSessionBegin) or a reset, whatever the rest of the stream
 * holds, so that a failure the host side saw (a stream cut inside a
 * record) cannot be followed by a restore that looks complete. */
static bool
mhMhHostCheckSession(MhMh *mh, GError **error)
{
    g_autofree char *why = NULL;

    if (!mhMhHostCheckStarted(mh, error))
        return false;
    g_mutex_lock(&mh->status_lock);
    if (mh->state == MH_MH_STATE_FAILED)
        why = g_strdup(mh->last_error ? mh->last_error : "?");
    g_mutex_unlock(&mh->status_lock);
    if (why) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the migration handler's session failed earlier (%s); start a new one"),
                    why);
        return false;
    }
    return true;
}

/* Returns with host_lock held on success, so the caller's key setup
 * runs before anyone else talks to the MH. */
static bool
hostLockAndStart(MhMh *mh, GError **error)
{
    g_mutex_lock(&mh->host_lock);
    if (mh->started) {
        g_mutex_unlock(&mh->host_lock);
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("the migration handler is already running"));
        return false;
    }
    for (unsigned int i = 0; i < mh->vcpus; i++) {
        g_autofree char *name = g_strdup_printf("mh-vcpu%u", i);
        mh->vcpu[i].thread = g_thread_new(name, mhMhVcpuRun, &mh->vcpu[i]);
    }
    mh->started = true;
    return true;
}

/* Records the session key and releases host_lock taken by hostLockAndStart. */
static void
hostFinishStart(MhMh *mh, uint32_t key_id)
{
    g_mutex_lock(&mh->status_lock);
    mh->key_id = key_id;
    mh->have_key = true;
    mh->state = MH_MH_STATE_RUNNING;
    g_clear_pointer(&mh->last_error, g_free);
    g_mutex_unlock(&mh->status_lock);
    g_mutex_unlock(&mh->host_lock);
}

bool
mhMhStartWithKey(MhMh *mh, const MhMhLaunchKey *key, GError **error)
{
    if (!hostLockAndStart(mh, error))
        return false;
    hostFinishStart(mh, mhMhPrivateInitFromKey(mh->priv, key));
    return true;
}

bool
mhMhSetGuestRam(MhMh *mh, const MhGuestRam *ram, GError **error)
{
    if (!ram || ram->nregions == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the MH needs the guest RAM map, which is empty"));
        return false;
    }
    g_mutex_lock(&mh->host_lock);
    mh->ram = *ram;
    mhMhPrivateSetRam(mh->priv, ram);
    g_mutex_unlock(&mh->host_lock);
    return true;
}

bool
mhMhSessionBegin(MhMh *mh, MhTransportRole role, GBytes **hello, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(&mh->vcpu[0]);
    bool ok = false;

    g_mutex_lock(&mh->host_lock);
    if (mhMhHostCheckStarted(mh, error) &&
        mhMhHostCall(mh, 0, MH_MAILBOX_CMD_SESSION_HELLO, role, error)) {
        *hello = g_bytes_new(env->data, MIN(env->len, MH_MAILBOX_ENVELOPE_MAX));
        mh->role = role;
        mh->next_seq = 0;
        mhMhHostSetState(mh, MH_MH_STATE_RUNNING, NULL, false);
        ok = true;
    }
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

static bool
hostEnvelopeCall(MhMh *mh, MhMailboxCommand cmd, GBytes *in, GBytes **out, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(&mh->vcpu[0]);
    size_t len;
    const void *data = g_bytes_get_data(in, &len);
    bool ok = false;

    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckStarted(mh, error))
        goto out;
    if (len > MH_MAILBOX_ENVELOPE_MAX) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("handshake message of %zu bytes is larger than the envelope"), len);
        goto out;
    }
    if (len)
        memcpy(env->data, data, len);
    env->len = len;
    if (!mhMhHostCall(mh, 0, cmd, 0, error))
        goto out;
    if (out)
        *out = g_bytes_new(env->data, MIN(env->len, MH_MAILBOX_ENVELOPE_MAX));
    ok = true;
 out:
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

bool
mhMhSessionPeerHello(MhMh *mh, GBytes *peer_hello, GBytes **confirm, GError **error)
{
    return hostEnvelopeCall(mh, MH_MAILBOX_CMD_SESSION_PEER, peer_hello, confirm, error);
}

bool
mhMhSessionPeerConfirm(MhMh *mh, GBytes *peer_confirm, GError **error)
{
    return hostEnvelopeCall(mh, MH_MAILBOX_CMD_SESSION_CONFIRM, peer_confirm, NULL, error);
}

bool
mhMhSessionReset(MhMh *mh, GError **error)
{
    bool ok;

    g_mutex_lock(&mh->host_lock);
    ok = mhMhHostCheckStarted(mh, error) && mhMhHostCall(mh, 0, MH_MAILBOX_CMD_RESET, 0, error);
    if (ok)
        mhMhHostSetState(mh, MH_MH_STATE_RUNNING, NULL, false);
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

/* Wait for slots [0, k); keep the most telling error: a vCPU that only
 * saw the session fail because another one refused a record reports
 * STATE, the one that refused it says why. */
static bool
hostWaitAll(MhMh *mh, unsigned int k, GError **error)
{
    GError *best = NULL;

    for (unsigned int i = 0; i < k; i++) {
        int ret = mhMhHostWait(&mh->vcpu[i]);
        GError *err = NULL;

        if (ret == MH_MAILBOX_RET_SUCCESS)
            continue;
        mhMhHostError(&mh->vcpu[i], ret, &err);
        if (!best || (g_error_matches(best, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE) &&
                      !g_error_matches(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE))) {
            g_clear_error(&best);
            best = err;
        } else {
            g_error_free(err);
        }
    }
    if (best)
        return mhMhHostFail(mh, best, error);
    return true;
}

/* Frame up to one record per vCPU starting at 'off' and copy them into
 * batch area 'area' of vCPUs 0..k-1; stops after a final record, at a
 * partial record, or at a malformed header (*err; the k records before it
 * stand). Returns k; *end is the offset after the last record taken. */
static unsigned int
hostRestoreFill(MhMh *mh, const uint8_t *p, size_t len, size_t off, unsigned int area,
                size_t *end, GError **err)
{
    unsigned int k = 0;

    while (k < mh->vcpus && off < len) {
        MhMailboxBatch *b = mhMhVcpuBatchArea(&mh->vcpu[k], area);
        size_t rlen = 0, need = 0;
        MhTransportRecordType type = 0;

        if (!mhTransportRecordFrame(p + off, len - off, &rlen, &need, err) ||
            rlen > len - off)
            break;
        memcpy(b->data, p + off, rlen);
        b->len = rlen;
        mhTransportRecordPeek(p + off, rlen, &type, NULL, NULL);
        off += rlen;
        k++;
        if (type == MH_TRANSPORT_RECORD_FINAL)
            break;
    }
    *end = off;
    return k;
}

bool
mhMhRestoreRecords(MhMh *mh, const void *data, size_t len, size_t *consumed,
                   GError **error)
{
    const uint8_t *p = data;
    size_t off = 0, win = 0;
    unsigned int k, area = 0;
    GError *ferr = NULL;
    bool ok = false;

    if (consumed)
        *consumed = 0;
    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckSession(mh, error))
        goto out;
    k = hostRestoreFill(mh, p, len, 0, area, &win, &ferr);
    while (k > 0) {
        MhMailboxEnvelope *env = mhMhVcpuEnvelope(&mh->vcpu[0]);
        unsigned int nk = 0;
        size_t nwin = win;

        /* A window: one record per vCPU, verified in parallel... */
        for (unsigned int i = 0; i < k; i++)
            mhMhHostKick(&mh->vcpu[i], MH_MAILBOX_CMD_RESTORE_BATCH, area);
        /* (the next window is copied into the other batch areas meanwhile) */
        if (!ferr)
            nk = hostRestoreFill(mh, p, len, win, area ^ 1, &nwin, &ferr);
        if (!hostWaitAll(mh, k, error))
            goto out;
        /* ...and applied in stream order by one vCPU. */
        mhUtilPutLE32(env->data, k);
        for (unsigned int i = 0; i < k; i++)
            mhUtilPutLE32(env->data + 4 + 4 * i, i);
        env->len = 4 + 4 * k;
        if (!mhMhHostCall(mh, 0, MH_MAILBOX_CMD_COMMIT, 0, error))
            goto out;
        off = win;
        if (consumed)
            *consumed = off;
        if (ferr)
            break;
        k = nk;
        win = nwin;
        area ^= 1;
    }
    if (ferr) {
        mhMhHostFail(mh, g_steal_pointer(&ferr), error);
        goto out;
    }
    if (off < len && !consumed) {
        GError *err = g_error_new(MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_TRUNCATED,
                                  _("MH stream truncated: it ends inside a record at "
                                    "offset %zu (%zu bytes left)"), off, len - off);
        mhMhHostFail(mh, err, error);
        goto out;
    }
    ok = true;
 out:
    g_clear_error(&ferr);
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

bool
mhMhRestoreFinish(MhMh *mh, GError **error)
{
    bool ok;

    g_mutex_lock(&mh->host_lock);
    ok = mhMhHostCheckSession(mh, error) &&
        mhMhHostCall(mh, 0, MH_MAILBOX_CMD_RESTORE_END, 0, error);
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

bool
mhMhRestorePage(MhMh *mh, uint64_t gpa, const void *record, size_t len, GError **error)
{
    MhMhVcpu *v = &mh->vcpu[0];
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    const uint8_t *r = record;
    const size_t meta = MH_TRANSPORT_RECORD_HEADER_SIZE + 8;
    bool ok = false;

    g_mutex_lock(&mh->host_lock);
    if (!mhMhHostCheckSession(mh, error))
        goto out;
    if (len != meta + MH_TRANSPORT_TAG_SIZE &&
        len != meta + MH_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE) {
        GError *err = g_error_new(MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                                  _("a one-page MH record has %zu or %zu bytes, not %zu"),
                                  meta + MH_TRANSPORT_TAG_SIZE,
                                  meta + MH_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE, len);
        mhMhHostFail(mh, err, error);
        goto out;
    }
    memcpy(env->data, r, meta);
    memcpy(env->data + meta, r + len - MH_TRANSPORT_TAG_SIZE, MH_TRANSPORT_TAG_SIZE);
    env->len = meta + MH_TRANSPORT_TAG_SIZE;
    if (len > meta + MH_TRANSPORT_TAG_SIZE)
        memcpy(mhMhVcpuPage(v), r + meta, MH_PAGE_SIZE);
    ok = mhMhHostCall(mh, 0, MH_MAILBOX_CMD_RESTORE_PAGE, gpa, error);
 out:
    g_mutex_unlock(&mh->host_lock);
    return ok;
}

void
mhMhQuery(MhMh *mh, MhMhInfo *info)
{
    memset(info, 0, sizeof(*info));
    g_mutex_lock(&mh->status_lock);
    info->state = mh->state;
    info->vcpus = mh->vcpus;
    info->have_key = mh->have_key;
    info->key_id = mh->key_id;
    info->cipher = mh->cipher;
    info->records_rejected = mh->records_rejected;
    info->last_error = g_strdup(mh->last_error);
    g_mutex_unlock(&mh->status_lock);
    info->pages_saved = __atomic_load_n(&mh->pages_saved, __ATOMIC_RELAXED);
    info->pages_restored = __atomic_load_n(&mh->pages_restored, __ATOMIC_RELAXED);
    info->zero_pages = __atomic_load_n(&mh->zero_pages, __ATOMIC_RELAXED);
}

uint64_t
mhMhCpuTimeNs(MhMh *mh)
{
    uint64_t total = 0;

    for (unsigned int i = 0; i < mh->vcpus; i++) {
        struct timespec ts;

        if (g_atomic_int_get(&mh->vcpu[i].cpu_clock_set) &&
            clock_gettime(mh->vcpu[i].cpu_clock, &ts) == 0)
            total += (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
    }
    return total;
}

void
mhMhInfoClear(MhMhInfo *info)
{
    g_clear_pointer(&info->last_error, g_free);
}
