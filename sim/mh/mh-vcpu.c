/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MH vCPUs: the code that, on real hardware, runs inside the mirror VM
 * (OVMF's migration handler). It alone holds the migration key, the
 * session keys and plaintext; it talks to the host only through its
 * mailbox. */
#include "sim/mh/mh-vcpu-priv.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <string.h>

static void
sessionUnref(MhMhSession *sess)
{
    if (sess && g_atomic_ref_count_dec(&sess->ref)) {
        mhTransportSessionFree(sess->s);
        g_free(sess->coverage);
        mhPageDigestTableFree(sess->digests);
        g_free(sess);
    }
}

typedef bool (*MhMhVcpuCommandFunc)(MhMhVcpu *v, MhMhPrivate *priv, GError **error);

MhMhPrivate *
mhMhPrivateNew(const MhGuestRam *ram, unsigned int vcpus, MhConfCipher cipher,
               const uint8_t uuid[MH_TRANSPORT_UUID_SIZE])
{
    MhMhPrivate *priv = g_new0(MhMhPrivate, 1);

    priv->ram = *ram;
    priv->cipher = cipher;
    memcpy(priv->uuid, uuid, MH_TRANSPORT_UUID_SIZE);
    priv->vcpus = vcpus;
    g_mutex_init(&priv->lock);
    priv->staging = g_new0(MhMhStaging, vcpus);
    for (unsigned int i = 0; i < vcpus; i++) {
        g_mutex_init(&priv->staging[i].lock);
        priv->staging[i].plain = g_malloc(MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
    }
    return priv;
}

/* Bit index of a page over all RAM regions; the caller checked the GPA
 * is mapped. */
uint64_t
mhMhPageIndex(const MhGuestRam *ram, uint64_t gpa)
{
    uint64_t base = 0;

    for (size_t i = 0; i < ram->nregions; i++) {
        const MhGuestRamRegion *r = &ram->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return base + (gpa - r->gpa) / MH_PAGE_SIZE;
        base += r->size / MH_PAGE_SIZE;
    }
    g_assert_not_reached();
}

uint64_t
mhMhPageGpa(const MhGuestRam *ram, uint64_t index)
{
    for (size_t i = 0; i < ram->nregions; i++) {
        uint64_t n = ram->regions[i].size / MH_PAGE_SIZE;
        if (index < n)
            return ram->regions[i].gpa + index * MH_PAGE_SIZE;
        index -= n;
    }
    return 0;
}

static void
privateDropSession(MhMhPrivate *priv)
{
    g_clear_pointer(&priv->session, sessionUnref);
    for (unsigned int i = 0; i < priv->vcpus; i++) {
        MhMhStaging *st = &priv->staging[i];
        g_mutex_lock(&st->lock);
        /* Plaintext of pages opened on a target or sealed on a source. */
        mhUtilWipe(st->plain, MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
        st->staged = false;
        st->pending_store = false;
        memset(&st->opened, 0, sizeof(st->opened));
        g_mutex_unlock(&st->lock);
    }
}

void
mhMhPrivateWipe(MhMhPrivate *priv)
{
    g_mutex_lock(&priv->lock);
    privateDropSession(priv);
    g_clear_pointer(&priv->key, mhSecretFree);
    priv->key_id = 0;
    g_mutex_unlock(&priv->lock);
}

void
mhMhPrivateFree(MhMhPrivate *priv)
{
    if (!priv)
        return;
    mhMhPrivateWipe(priv);
    for (unsigned int i = 0; i < priv->vcpus; i++) {
        mhUtilWipe(priv->staging[i].plain, MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
        g_free(priv->staging[i].plain);
        g_mutex_clear(&priv->staging[i].lock);
    }
    g_free(priv->staging);
    g_mutex_clear(&priv->lock);
    g_free(priv);
}

/* Take a reference to the session for this command (released by the
 * dispatcher); 'role' -1 accepts either role. */
MhMhSession *
mhMhVcpuSession(MhMhVcpu *v, MhMhPrivate *priv, int role, GError **error)
{
    MhMhSession *sess = v->held;

    if (!sess) {
        g_mutex_lock(&priv->lock);
        if ((sess = priv->session))
            g_atomic_ref_count_inc(&sess->ref);
        g_mutex_unlock(&priv->lock);
        v->held = sess;
    }
    if (!sess) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("no MH session: run the session handshake first"));
        return NULL;
    }
    if (role >= 0 && mhTransportSessionRole(sess->s) != (MhTransportRole)role) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("this MH session is the migration %s; the command needs the %s"),
                    mhTransportRoleTypeToString(mhTransportSessionRole(sess->s)),
                    mhTransportRoleTypeToString(role));
        return NULL;
    }
    return sess;
}

/* Find the migration key in the secret table at 'gpa' ('area' bytes at
 * most, the size of the secret area) of 'ram'. */
static void
privateSetKey(MhMhPrivate *priv, MhSecret *key, uint32_t key_id)
{
    g_mutex_lock(&priv->lock);
    privateDropSession(priv);
    mhSecretFree(priv->key);
    priv->key = key;
    priv->key_id = key_id;
    g_mutex_unlock(&priv->lock);
}

/* ---- the launch key (mh-handler.h) ---- */

struct _MhMhLaunchKey {
    MhSecret *key;
    uint32_t key_id;
};

MhMhLaunchKey *
mhMhLaunchKeyFromSecret(const void *table, size_t len, GError **error)
{
    MhMhLaunchKey *lk = g_new0(MhMhLaunchKey, 1);

    if (!mhSevMigrationKeyFind(table, len, &lk->key, &lk->key_id, error)) {
        g_free(lk);
        return NULL;
    }
    return lk;
}

uint32_t
mhMhLaunchKeyGetId(const MhMhLaunchKey *lk)
{
    return lk->key_id;
}

void
mhMhLaunchKeyFree(MhMhLaunchKey *lk)
{
    if (!lk)
        return;
    mhSecretFree(lk->key);
    g_free(lk);
}

/* INIT from a captured launch key instead of guest RAM: the key moves
 * from one piece of MH-private memory to another. */
uint32_t
mhMhPrivateInitFromKey(MhMhPrivate *priv, const MhMhLaunchKey *lk)
{
    privateSetKey(priv, mhSecretNewFrom(lk->key->data, lk->key->len), lk->key_id);
    return lk->key_id;
}

/* The host switches what guest memory the MH maps (between sessions). */
void
mhMhPrivateSetRam(MhMhPrivate *priv, const MhGuestRam *ram)
{
    g_mutex_lock(&priv->lock);
    privateDropSession(priv);
    priv->ram = *ram;
    g_mutex_unlock(&priv->lock);
}

static bool
vcpuReset(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    g_mutex_lock(&priv->lock);
    privateDropSession(priv);
    g_mutex_unlock(&priv->lock);
    return true;
}

static bool
vcpuSessionHello(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhTransportSession *s;
    bool ok = false;

    if (p->gpa >= MH_TRANSPORT_ROLE_LAST) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("unknown migration role %" PRIu64), (guint64)p->gpa);
        return false;
    }
    g_mutex_lock(&priv->lock);
    privateDropSession(priv);
    if (!priv->key) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("the MH has no migration key (INIT did not succeed)"));
    } else if ((s = mhTransportSessionNew(p->gpa, priv->cipher, priv->key, priv->key_id,
                                          priv->uuid, error))) {
        MhMhSession *sess = g_new0(MhMhSession, 1);

        g_atomic_ref_count_init(&sess->ref);
        sess->s = s;
        if (p->gpa == MH_TRANSPORT_ROLE_TARGET) {
            sess->coverage_pages = mhGuestRamSize(&priv->ram) / MH_PAGE_SIZE;
            sess->coverage = g_malloc0((sess->coverage_pages + 7) / 8);
        } else if (!(sess->digests = mhPageDigestTableNew(mhGuestRamSize(&priv->ram) /
                                                          MH_PAGE_SIZE))) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_CRYPTO,
                        _("no random seed for the page digests"));
            sessionUnref(sess);
            g_mutex_unlock(&priv->lock);
            return false;
        }
        priv->session = sess;
        mhTransportSessionHello(s, env->data);
        env->len = MH_TRANSPORT_HELLO_SIZE;
        ok = true;
    }
    g_mutex_unlock(&priv->lock);
    return ok;
}

static bool
vcpuSessionPeer(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    uint8_t confirm[MH_TRANSPORT_CONFIRM_SIZE];
    MhMhSession *sess = mhMhVcpuSession(v, priv, -1, error);

    if (!sess)
        return false;
    if (!mhTransportSessionPeerHello(sess->s, env->data, MIN(env->len, MH_MAILBOX_ENVELOPE_MAX),
                                     confirm, error))
        return false;
    memcpy(env->data, confirm, sizeof(confirm));
    env->len = sizeof(confirm);
    return true;
}

static bool
vcpuSessionConfirm(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhMhSession *sess = mhMhVcpuSession(v, priv, -1, error);

    return sess && mhTransportSessionPeerConfirm(sess->s, env->data, MIN(env->len, MH_MAILBOX_ENVELOPE_MAX),
                                         error);
}

MhMailboxBatch *
mhMhVcpuBatchArg(MhMhVcpu *v, const char *command, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);

    if (p->gpa >= MH_MAILBOX_BATCH_AREAS) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("%s names batch area %" PRIu64 ", there are %d"),
                    command, (guint64)p->gpa, MH_MAILBOX_BATCH_AREAS);
        return NULL;
    }
    return mhMhVcpuBatchArea(v, p->gpa);
}

/* hole[i] for gpas[i], asking once per run of consecutive GPAs. */
static void
vcpuFindHoles(const MhGuestRam *ram, const uint64_t *gpas, size_t n, bool *hole)
{
    for (size_t i = 0, run; i < n; i = run) {
        for (run = i + 1; run < n && gpas[run] == gpas[run - 1] + MH_PAGE_SIZE; run++)
            ;
        mhGuestRamHoles(ram, gpas[i], run - i, hole + i);
    }
}

/* What a hole of guest RAM reads as, without allocating it. */
static const uint8_t vcpuZeroPage[MH_PAGE_SIZE] __attribute__((aligned(64)));

/* Seal 'n' pages into 'out'; the GPAs are copied first since 'out' may be
 * the very batch area they came in. Each page is copied into this vCPU's
 * private staging first, and the digest and the record are made from that
 * copy: the guest may write the live page meanwhile, but what SCAN_DIRTY
 * compares against is exactly what the target gets (a write that even
 * restores an earlier value, A -> B -> A, is never lost). */
static bool
vcpuSeal(MhMhVcpu *v, MhMhPrivate *priv, const uint8_t *gpa_le, size_t n, uint32_t iteration,
         uint8_t *out, size_t out_size, size_t *out_len, GError **error)
{
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
    MhMhStaging *st = &priv->staging[v->index];
    uint64_t gpas[MH_TRANSPORT_MAX_BATCH];
    const void *pages[MH_TRANSPORT_MAX_BATCH];
    bool hole[MH_TRANSPORT_MAX_BATCH];
    guint64 nzero = 0;
    bool ok;

    if (!sess)
        return false;
    if (n == 0 || n > MH_TRANSPORT_MAX_BATCH) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("a batch holds 1 to %d pages, not %zu"), MH_TRANSPORT_MAX_BATCH, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        gpas[i] = mhUtilGetLE64(gpa_le + 8 * i);
        if (!(pages[i] = mhGuestRamTranslate(&priv->ram, gpas[i], MH_PAGE_SIZE))) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("cannot save GPA 0x%" PRIx64 ": not in guest RAM"),
                        gpas[i]);
            return false;
        }
    }
    /* A page that is a hole now is sealed as zeros: a write after this
     * look makes it differ from its digest, so the next scan finds it. */
    vcpuFindHoles(&priv->ram, gpas, n, hole);
    /* pages[] point at live RAM until each is replaced by its copy. */
    g_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++) {
        uint8_t *copy = st->plain + i * MH_PAGE_SIZE;

        memcpy(copy, hole[i] ? vcpuZeroPage : pages[i], MH_PAGE_SIZE);
        mhPageDigestTableRecord(sess->digests, mhMhPageIndex(&priv->ram, gpas[i]), copy);
        pages[i] = copy;
    }
    ok = mhTransportSealPages(sess->s, gpas, pages, n, iteration, out, out_size, out_len, error);
    g_mutex_unlock(&st->lock);
    if (!ok)
        return false;
    for (size_t i = 0; i < n; i++)
        nzero += out[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * i] & MH_TRANSPORT_GPA_ZERO;
    __atomic_fetch_add(&v->mh->pages_saved, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->mh->zero_pages, nzero, __ATOMIC_RELAXED);
    return true;
}

static bool
vcpuSaveBatch(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxBatch *b;
    uint8_t gpa_le[8 * MH_TRANSPORT_MAX_BATCH];
    uint32_t n;
    size_t len = 0;

    if (!(b = mhMhVcpuBatchArg(v, "SAVE_BATCH", error)))
        return false;
    n = mhUtilGetLE32(b->data + 4);

    if (n > MH_TRANSPORT_MAX_BATCH || b->len != 8 + 8 * n) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed SAVE_BATCH request (%u pages in %u bytes)"), n, b->len);
        return false;
    }
    memcpy(gpa_le, b->data + 8, 8 * n);
    if (!vcpuSeal(v, priv, gpa_le, n, mhUtilGetLE32(b->data), b->data, sizeof(b->data), &len, error))
        return false;
    b->len = len;
    return true;
}

static bool
vcpuSavePage(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    uint8_t rec[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE];
    uint8_t gpa_le[8];
    size_t len = 0, ct;
    uint32_t iteration = env->len >= 4 ? mhUtilGetLE32(env->data) : 0;

    for (int i = 0; i < 8; i++)
        gpa_le[i] = p->gpa >> (8 * i);
    if (!vcpuSeal(v, priv, gpa_le, 1, iteration, rec, sizeof(rec), &len, error))
        return false;
    /* RFC split: ciphertext in the page buffer, the rest in the envelope. */
    ct = len - (MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_TRANSPORT_TAG_SIZE);
    memcpy(mhMhVcpuPage(v), rec + MH_TRANSPORT_RECORD_HEADER_SIZE + 8, ct);
    memcpy(env->data, rec, MH_TRANSPORT_RECORD_HEADER_SIZE + 8);
    memcpy(env->data + MH_TRANSPORT_RECORD_HEADER_SIZE + 8, rec + len - MH_TRANSPORT_TAG_SIZE,
           MH_TRANSPORT_TAG_SIZE);
    env->len = MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_TRANSPORT_TAG_SIZE;
    return true;
}

static bool
vcpuSaveFinal(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxBatch *b = mhMhVcpuBatch(v);
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
    size_t len = 0;

    if (!sess || !mhTransportSealFinal(sess->s, b->data, sizeof(b->data), &len, error))
        return false;
    b->len = len;
    return true;
}

/* Verify a record into this vCPU's staging; nothing reaches guest RAM. */
/* SCAN_DIRTY: which pages of a range changed since they were sealed in
 * this session (or were never sealed)? In: gpa, page count (one RAM
 * region); out: a bitmap, bit i for page i. Only the answer leaves the MH:
 * the host learns which pages were written, as KVM's dirty log would tell
 * it anyway, and nothing of their contents. */
static bool
vcpuScanDirty(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMhSession *sess = mhMhVcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
    MhMailboxBatch *b;
    const uint8_t *live;
    bool hole[MH_TRANSPORT_MAX_BATCH];
    uint64_t gpa, first;
    uint32_t n;

    if (!sess)
        return false;
    if (!(b = mhMhVcpuBatchArg(v, "SCAN_DIRTY", error)))
        return false;
    gpa = mhUtilGetLE64(b->data);
    n = mhUtilGetLE32(b->data + 8);
    if (b->len != 12 || n == 0 || n > MH_MAILBOX_SCAN_MAX_PAGES) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed SCAN_DIRTY request (%u pages in %u bytes)"), n, b->len);
        return false;
    }
    if (gpa % MH_PAGE_SIZE ||
        !(live = mhGuestRamTranslate(&priv->ram, gpa, (uint64_t)n * MH_PAGE_SIZE))) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                    _("cannot scan %u pages at GPA 0x%" PRIx64 ": not in one region of guest RAM"),
                    n, gpa);
        return false;
    }
    first = mhMhPageIndex(&priv->ram, gpa);
    memset(b->data, 0, (n + 7) / 8);
    for (uint32_t i = 0; i < n; i++) {
        if (i % G_N_ELEMENTS(hole) == 0)
            mhGuestRamHoles(&priv->ram, gpa + (uint64_t)i * MH_PAGE_SIZE,
                            MIN(n - i, G_N_ELEMENTS(hole)), hole);
        if (mhPageDigestTableIsDirty(sess->digests, first + i,
                                     hole[i % G_N_ELEMENTS(hole)] ? vcpuZeroPage :
                                     live + (uint64_t)i * MH_PAGE_SIZE))
            b->data[i / 8] |= 1 << (i % 8);
    }
    b->len = (n + 7) / 8;
    return true;
}

static const struct {
    MhMailboxCommand cmd;
    MhMhVcpuCommandFunc func;
} vcpuCommands[] = {
    { MH_MAILBOX_CMD_SAVE_PAGE, vcpuSavePage },
    { MH_MAILBOX_CMD_RESTORE_PAGE, mhMhVcpuRestorePage },
    { MH_MAILBOX_CMD_RESET, vcpuReset },
    { MH_MAILBOX_CMD_SESSION_HELLO, vcpuSessionHello },
    { MH_MAILBOX_CMD_SESSION_PEER, vcpuSessionPeer },
    { MH_MAILBOX_CMD_SESSION_CONFIRM, vcpuSessionConfirm },
    { MH_MAILBOX_CMD_SAVE_BATCH, vcpuSaveBatch },
    { MH_MAILBOX_CMD_RESTORE_BATCH, mhMhVcpuRestoreBatch },
    { MH_MAILBOX_CMD_COMMIT, mhMhVcpuCommit },
    { MH_MAILBOX_CMD_SAVE_FINAL, vcpuSaveFinal },
    { MH_MAILBOX_CMD_RESTORE_END, mhMhVcpuRestoreEnd },
    { MH_MAILBOX_CMD_SCAN_DIRTY, vcpuScanDirty },
};

static const int transportRet[MH_TRANSPORT_ERROR_LAST] = {
    [MH_TRANSPORT_ERROR_FORMAT] = MH_MAILBOX_RET_FORMAT,
    [MH_TRANSPORT_ERROR_TAG] = MH_MAILBOX_RET_AUTH,
    [MH_TRANSPORT_ERROR_SEQUENCE] = MH_MAILBOX_RET_SEQUENCE,
    [MH_TRANSPORT_ERROR_GPA] = MH_MAILBOX_RET_GPA,
    [MH_TRANSPORT_ERROR_TRUNCATED] = MH_MAILBOX_RET_TRUNCATED,
    [MH_TRANSPORT_ERROR_COUNT] = MH_MAILBOX_RET_COUNT,
    [MH_TRANSPORT_ERROR_DIGEST] = MH_MAILBOX_RET_DIGEST,
    [MH_TRANSPORT_ERROR_KEY] = MH_MAILBOX_RET_KEY,
    [MH_TRANSPORT_ERROR_PEER] = MH_MAILBOX_RET_PEER,
    [MH_TRANSPORT_ERROR_STATE] = MH_MAILBOX_RET_STATE,
    [MH_TRANSPORT_ERROR_CRYPTO] = MH_MAILBOX_RET_INTERNAL,
};

static int
vcpuDispatch(MhMhVcpu *v)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    g_autoptr(GError) err = NULL;
    MhMhVcpuCommandFunc func = NULL;
    bool ok;
    int ret;

    for (size_t i = 0; i < G_N_ELEMENTS(vcpuCommands); i++) {
        if (vcpuCommands[i].cmd == p->cmd)
            func = vcpuCommands[i].func;
    }
    ok = func && func(v, v->mh->priv, &err);
    g_clear_pointer(&v->held, sessionUnref);
    if (!func) {
        g_set_error(&err, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("unknown MH command %" PRIu64), (guint64)p->cmd);
        ret = MH_MAILBOX_RET_INVALID_FUNCTION;
    } else if (ok) {
        return MH_MAILBOX_RET_SUCCESS;
    } else if (err->domain == MH_TRANSPORT_ERROR && err->code >= 0 &&
               err->code < MH_TRANSPORT_ERROR_LAST) {
        ret = transportRet[err->code];
    } else {
        ret = MH_MAILBOX_RET_INTERNAL;
    }
    /* The reason goes back in the envelope: public text, no secrets. */
    env->len = MIN(strlen(err->message), (size_t)MH_MAILBOX_ENVELOPE_MAX);
    memcpy(env->data, err->message, env->len);
    return ret;
}

gpointer
mhMhVcpuRun(gpointer data)
{
    MhMhVcpu *v = data;
    MhMailboxParams *p = mhMhVcpuParams(v);

    /* What a host knows of any of its vCPU threads: their CPU time. */
    if (pthread_getcpuclockid(pthread_self(), &v->cpu_clock) == 0)
        g_atomic_int_set(&v->cpu_clock_set, 1);
    for (;;) {
        g_mutex_lock(&v->lock);
        while (!g_atomic_int_get(&p->go) && !v->quit)
            g_cond_wait(&v->cond, &v->lock);
        if (v->quit) {
            g_mutex_unlock(&v->lock);
            break;
        }
        g_mutex_unlock(&v->lock);

        p->ret = vcpuDispatch(v);

        g_mutex_lock(&v->lock);
        g_atomic_int_set(&p->go, 0);
        g_atomic_int_set(&p->done, 1);
        g_cond_broadcast(&v->cond);
        g_mutex_unlock(&v->lock);
        g_mutex_lock(&v->mh->done_lock);
        g_cond_broadcast(&v->mh->done_cond);
        g_mutex_unlock(&v->mh->done_lock);
    }
    return NULL;
}
