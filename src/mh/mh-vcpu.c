/* The MH vCPUs: the code that, on real hardware, runs inside the mirror VM
 * (OVMF's migration handler). It alone holds the migration key, the
 * session keys and plaintext; it talks to the host only through its
 * mailbox. */
#include "mh/mh-handler-priv.h"
#include "mh/mh-page-digest.h"
#include "sev/mh-sev-secret.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <string.h>

typedef struct {
    GMutex lock;                /* held while verifying into / committing from */
    bool staged;
    uint8_t *plain;             /* MH_TRANSPORT_MAX_BATCH pages */
    MhTransportOpened opened;
} MhMhStaging;

/* A session and what lives and dies with it. Counted: a vCPU holds a
 * reference for the length of one command, so that a RESET or a new
 * session issued on another vCPU (a host may do that) never frees what a
 * busy vCPU is using. */
typedef struct {
    gatomicrefcount ref;
    MhTransportSession *s;
    /* Target: one bit per page of guest RAM restored in this session, so
     * that a host which leaves pages out is caught at the final record. */
    uint8_t *coverage;
    uint64_t coverage_pages;
    uint64_t covered;
    /* Source: the digest of every page as sealed, for SCAN_DIRTY. */
    MhPageDigestTable *digests;
} MhMhSession;

struct _MhMhPrivate {
    MhGuestRam ram;
    MhTransportCipher cipher;
    uint8_t uuid[MH_TRANSPORT_UUID_SIZE];
    unsigned int vcpus;

    GMutex lock;                /* key and session pointer */
    MhSecret *key;
    uint32_t key_id;
    MhMhSession *session;
    MhMhStaging *staging;       /* one per vCPU */
};

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
mhMhPrivateNew(const MhGuestRam *ram, unsigned int vcpus, MhTransportCipher cipher,
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
        priv->staging[i].plain = g_malloc(MH_TRANSPORT_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
    }
    return priv;
}

/* Bit index of a page over all RAM regions; the caller checked the GPA
 * is mapped. */
static uint64_t
pageIndex(const MhGuestRam *ram, uint64_t gpa)
{
    uint64_t base = 0;

    for (size_t i = 0; i < ram->nregions; i++) {
        const MhGuestRamRegion *r = &ram->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return base + (gpa - r->gpa) / MH_TRANSPORT_PAGE_SIZE;
        base += r->size / MH_TRANSPORT_PAGE_SIZE;
    }
    g_assert_not_reached();
}

static uint64_t
pageGpa(const MhGuestRam *ram, uint64_t index)
{
    for (size_t i = 0; i < ram->nregions; i++) {
        uint64_t n = ram->regions[i].size / MH_TRANSPORT_PAGE_SIZE;
        if (index < n)
            return ram->regions[i].gpa + index * MH_TRANSPORT_PAGE_SIZE;
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
        mhUtilWipe(st->plain, MH_TRANSPORT_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
        st->staged = false;
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
        mhUtilWipe(priv->staging[i].plain, MH_TRANSPORT_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH);
        g_free(priv->staging[i].plain);
        g_mutex_clear(&priv->staging[i].lock);
    }
    g_free(priv->staging);
    g_mutex_clear(&priv->lock);
    g_free(priv);
}

static void
putLE32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = v >> (8 * i);
}

static uint32_t
getLE32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
getLE64(const uint8_t *p)
{
    return getLE32(p) | (uint64_t)getLE32(p + 4) << 32;
}

/* Take a reference to the session for this command (released by the
 * dispatcher); 'role' -1 accepts either role. */
static MhMhSession *
vcpuSession(MhMhVcpu *v, MhMhPrivate *priv, int role, GError **error)
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
static bool
privateReadTable(const MhGuestRam *ram, uint64_t gpa, uint64_t area, MhSecret **key,
                 uint32_t *key_id, GError **error)
{
    const uint8_t *hdr;
    uint64_t want;

    if (area < MH_SEV_SECRET_HEADER_SIZE ||
        !(hdr = mhGuestRamTranslate(ram, gpa, MH_SEV_SECRET_HEADER_SIZE))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("no secret area: GPA 0x%" PRIx64 " (size %"
                      PRIu64 ") is not in guest RAM"), (guint64)gpa, area);
        return false;
    }
    /* Hand the parser the whole secret area (as far as it is mapped): the
     * table's own length fields are the parser's to check against it. */
    want = area;
    while (want > MH_SEV_SECRET_HEADER_SIZE && !mhGuestRamTranslate(ram, gpa, want))
        want -= MIN(want - MH_SEV_SECRET_HEADER_SIZE, (uint64_t)4096);
    return mhSevMigrationKeyFind(hdr, want, key, key_id, error);
}

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

static bool
vcpuInit(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    uint64_t area = env->len >= 8 ? getLE64(env->data) : 0;
    MhSecret *key = NULL;
    uint32_t key_id = 0;

    if (!privateReadTable(&priv->ram, p->gpa, area, &key, &key_id, error))
        return false;
    privateSetKey(priv, key, key_id);
    env->len = 4;
    putLE32(env->data, key_id);
    return true;
}

/* ---- the launch key (mh-handler.h) ---- */

struct _MhMhLaunchKey {
    MhSecret *key;
    uint32_t key_id;
};

MhMhLaunchKey *
mhMhLaunchKeyCapture(const MhGuestRam *ram, uint64_t gpa, uint64_t size, GError **error)
{
    MhMhLaunchKey *lk = g_new0(MhMhLaunchKey, 1);

    if (!privateReadTable(ram, gpa, size, &lk->key, &lk->key_id, error)) {
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

/* The host switches what guest memory the MH maps (between sessions):
 * the source's shadow copy, or live RAM on a target. */
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
            sess->coverage_pages = mhGuestRamSize(&priv->ram) / MH_TRANSPORT_PAGE_SIZE;
            sess->coverage = g_malloc0((sess->coverage_pages + 7) / 8);
        } else if (!(sess->digests = mhPageDigestTableNew(mhGuestRamSize(&priv->ram) /
                                                          MH_TRANSPORT_PAGE_SIZE))) {
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
    MhMhSession *sess = vcpuSession(v, priv, -1, error);

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
    MhMhSession *sess = vcpuSession(v, priv, -1, error);

    return sess && mhTransportSessionPeerConfirm(sess->s, env->data, MIN(env->len, MH_MAILBOX_ENVELOPE_MAX),
                                         error);
}

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
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
    MhMhStaging *st = &priv->staging[v->index];
    uint64_t gpas[MH_TRANSPORT_MAX_BATCH];
    const void *pages[MH_TRANSPORT_MAX_BATCH];
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
        gpas[i] = getLE64(gpa_le + 8 * i);
        if (!mhGuestRamTranslate(&priv->ram, gpas[i], MH_TRANSPORT_PAGE_SIZE)) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                        _("cannot save GPA 0x%" PRIx64 ": not in guest RAM"),
                        gpas[i]);
            return false;
        }
    }
    g_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++) {
        uint8_t *copy = st->plain + i * MH_TRANSPORT_PAGE_SIZE;

        memcpy(copy, mhGuestRamTranslate(&priv->ram, gpas[i], MH_TRANSPORT_PAGE_SIZE),
               MH_TRANSPORT_PAGE_SIZE);
        mhPageDigestTableRecord(sess->digests, pageIndex(&priv->ram, gpas[i]), copy);
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
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxBatch *b;
    uint8_t gpa_le[8 * MH_TRANSPORT_MAX_BATCH];
    uint32_t n;
    size_t len = 0;

    if (p->gpa >= MH_MAILBOX_BATCH_AREAS) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("SAVE_BATCH names batch area %" PRIu64 ", there are %d"),
                    (guint64)p->gpa, MH_MAILBOX_BATCH_AREAS);
        return false;
    }
    b = mhMhVcpuBatchArea(v, p->gpa);
    n = getLE32(b->data + 4);

    if (n > MH_TRANSPORT_MAX_BATCH || b->len != 8 + 8 * n) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed SAVE_BATCH request (%u pages in %u bytes)"), n, b->len);
        return false;
    }
    memcpy(gpa_le, b->data + 8, 8 * n);
    if (!vcpuSeal(v, priv, gpa_le, n, getLE32(b->data), b->data, sizeof(b->data), &len, error))
        return false;
    b->len = len;
    return true;
}

static bool
vcpuSavePage(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    uint8_t rec[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_TRANSPORT_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE];
    uint8_t gpa_le[8];
    size_t len = 0, ct;
    uint32_t iteration = env->len >= 4 ? getLE32(env->data) : 0;

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
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
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
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_SOURCE, error);
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxBatch *b;
    const uint8_t *live;
    uint64_t gpa, first;
    uint32_t n;

    if (!sess)
        return false;
    if (p->gpa >= MH_MAILBOX_BATCH_AREAS) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("SCAN_DIRTY names batch area %" PRIu64 ", there are %d"),
                    (guint64)p->gpa, MH_MAILBOX_BATCH_AREAS);
        return false;
    }
    b = mhMhVcpuBatchArea(v, p->gpa);
    gpa = getLE64(b->data);
    n = getLE32(b->data + 8);
    if (b->len != 12 || n == 0 || n > MH_MAILBOX_SCAN_MAX_PAGES) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed SCAN_DIRTY request (%u pages in %u bytes)"), n, b->len);
        return false;
    }
    if (gpa % MH_TRANSPORT_PAGE_SIZE ||
        !(live = mhGuestRamTranslate(&priv->ram, gpa, (uint64_t)n * MH_TRANSPORT_PAGE_SIZE))) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_GPA,
                    _("cannot scan %u pages at GPA 0x%" PRIx64 ": not in one region of guest RAM"),
                    n, gpa);
        return false;
    }
    first = pageIndex(&priv->ram, gpa);
    memset(b->data, 0, (n + 7) / 8);
    for (uint32_t i = 0; i < n; i++) {
        if (mhPageDigestTableIsDirty(sess->digests, first + i,
                                     live + (uint64_t)i * MH_TRANSPORT_PAGE_SIZE))
            b->data[i / 8] |= 1 << (i % 8);
    }
    b->len = (n + 7) / 8;
    return true;
}

static bool
vcpuStage(MhMhVcpu *v, MhMhPrivate *priv, const uint8_t *rec, size_t len,
          const uint64_t *expect, size_t nexpect, GError **error)
{
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);
    MhMhStaging *st = &priv->staging[v->index];
    bool ok = false;

    if (!sess)
        return false;
    g_mutex_lock(&st->lock);
    st->staged = false;
    if (!mhTransportOpenVerify(sess->s, rec, len, expect, nexpect, st->plain, &st->opened, error))
        goto out;
    for (size_t i = 0; i < st->opened.npages; i++) {
        if (!mhGuestRamTranslate(&priv->ram, st->opened.gpas[i], MH_TRANSPORT_PAGE_SIZE)) {
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

/* Apply one staged record: sequence and digest checks first, then the
 * only writes the MH ever makes to guest RAM. */
static bool
vcpuCommitOne(MhMhVcpu *v, MhMhPrivate *priv, MhMhSession *sess, unsigned int slot,
              bool *final, GError **error)
{
    MhMhStaging *st = &priv->staging[slot];
    const MhTransportOpened *op = &st->opened;
    const uint8_t *src;
    guint64 nzero = 0;
    bool ok = false;

    g_mutex_lock(&st->lock);
    if (!st->staged) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                    _("COMMIT names MH vCPU %u, which holds no verified record"), slot);
        mhTransportSessionAbort(sess->s);
        goto out;
    }
    st->staged = false;
    if (!mhTransportOpenCommit(sess->s, op, error))
        goto out;
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
                    pageGpa(&priv->ram, first));
        mhTransportSessionAbort(sess->s);
        goto out;
    }
    src = op->plain;
    /* Runs of consecutive pages of one kind go to guest RAM in one store
     * (a record of pass 1 is mostly one run). */
    for (size_t i = 0, run = 0; i < op->npages; i = run) {
        bool zero = op->zero[i];
        uint64_t len = MH_TRANSPORT_PAGE_SIZE;

        for (run = i; run < op->npages; run++) {
            uint64_t idx = pageIndex(&priv->ram, op->gpas[run]);

            if (run > i &&
                (op->zero[run] != zero || op->gpas[run] != op->gpas[i] + len ||
                 !mhGuestRamTranslate(&priv->ram, op->gpas[i], len + MH_TRANSPORT_PAGE_SIZE)))
                break;
            if (run > i)
                len += MH_TRANSPORT_PAGE_SIZE;
            if (!(sess->coverage[idx / 8] & (1u << (idx % 8)))) {
                sess->coverage[idx / 8] |= 1u << (idx % 8);
                sess->covered++;
            }
        }
        if (!mhGuestRamStore(&priv->ram, op->gpas[i], zero ? NULL : src, len, error)) {
            mhTransportSessionAbort(sess->s);
            goto out;
        }
        if (zero)
            nzero += run - i;
        else
            src += len;
    }
    __atomic_fetch_add(&v->mh->pages_restored, op->npages, __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->mh->zero_pages, nzero, __ATOMIC_RELAXED);
    ok = true;
 out:
    g_mutex_unlock(&st->lock);
    return ok;
}

static bool
vcpuRestoreBatch(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxBatch *b;

    if (p->gpa >= MH_MAILBOX_BATCH_AREAS) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("RESTORE_BATCH names batch area %" PRIu64 ", there are %d"),
                    (guint64)p->gpa, MH_MAILBOX_BATCH_AREAS);
        return false;
    }
    b = mhMhVcpuBatchArea(v, p->gpa);
    return vcpuStage(v, priv, b->data, MIN(b->len, sizeof(b->data)), NULL, 0, error);
}

static bool
vcpuCommit(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);
    uint32_t n = env->len >= 4 ? getLE32(env->data) : 0;
    uint32_t slots[MH_MH_MAX_VCPUS];
    bool final = false;

    if (!sess)
        return false;
    /* The batch areas may already hold the next records: the slot list
     * comes in the envelope. */
    if (n > priv->vcpus || env->len != 4 + 4 * n) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("malformed COMMIT request (%u slots in %u bytes)"), n, env->len);
        return false;
    }
    for (uint32_t i = 0; i < n; i++)
        slots[i] = getLE32(env->data + 4 + 4 * i);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = slots[i];
        if (slot >= priv->vcpus) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                        _("COMMIT names MH vCPU %u of %u"), slot, priv->vcpus);
            return false;
        }
        if (final) {
            g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE,
                        _("record after the final record"));
            mhTransportSessionAbort(sess->s);
            return false;
        }
        if (!vcpuCommitOne(v, priv, sess, slot, &final, error))
            return false;
    }
    env->len = 4;
    putLE32(env->data, final);
    return true;
}

static bool
vcpuRestorePage(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMailboxParams *p = mhMhVcpuParams(v);
    MhMailboxEnvelope *env = mhMhVcpuEnvelope(v);
    MhMhSession *sess;
    const size_t meta = MH_TRANSPORT_RECORD_HEADER_SIZE + 8;
    uint8_t rec[MH_TRANSPORT_RECORD_HEADER_SIZE + 8 + MH_TRANSPORT_PAGE_SIZE + MH_TRANSPORT_TAG_SIZE];
    uint64_t expect = p->gpa;
    size_t ct;
    bool final = false;

    if (env->len != meta + MH_TRANSPORT_TAG_SIZE) {
        g_set_error(error, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_FORMAT,
                    _("RESTORE_PAGE envelope holds %u bytes, a one-page record header "
                      "and tag are %zu"), env->len, meta + MH_TRANSPORT_TAG_SIZE);
        return false;
    }
    /* The ciphertext length is unauthenticated until the tag checks; it
     * is either a page or nothing (zero page). */
    ct = getLE32(env->data + 12) ? MH_TRANSPORT_PAGE_SIZE : 0;
    memcpy(rec, env->data, meta);
    memcpy(rec + meta, mhMhVcpuPage(v), ct);
    memcpy(rec + meta + ct, env->data + meta, MH_TRANSPORT_TAG_SIZE);
    if (!vcpuStage(v, priv, rec, meta + ct + MH_TRANSPORT_TAG_SIZE, &expect, 1, error))
        return false;
    sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);
    return sess && vcpuCommitOne(v, priv, sess, v->index, &final, error);
}

static bool
vcpuRestoreEnd(MhMhVcpu *v, MhMhPrivate *priv, GError **error)
{
    MhMhSession *sess = vcpuSession(v, priv, MH_TRANSPORT_ROLE_TARGET, error);

    return sess && mhTransportOpenEnd(sess->s, error);
}

static const struct {
    MhMailboxCommand cmd;
    MhMhVcpuCommandFunc func;
} vcpuCommands[] = {
    { MH_MAILBOX_CMD_INIT, vcpuInit },
    { MH_MAILBOX_CMD_SAVE_PAGE, vcpuSavePage },
    { MH_MAILBOX_CMD_RESTORE_PAGE, vcpuRestorePage },
    { MH_MAILBOX_CMD_RESET, vcpuReset },
    { MH_MAILBOX_CMD_SESSION_HELLO, vcpuSessionHello },
    { MH_MAILBOX_CMD_SESSION_PEER, vcpuSessionPeer },
    { MH_MAILBOX_CMD_SESSION_CONFIRM, vcpuSessionConfirm },
    { MH_MAILBOX_CMD_SAVE_BATCH, vcpuSaveBatch },
    { MH_MAILBOX_CMD_RESTORE_BATCH, vcpuRestoreBatch },
    { MH_MAILBOX_CMD_COMMIT, vcpuCommit },
    { MH_MAILBOX_CMD_SAVE_FINAL, vcpuSaveFinal },
    { MH_MAILBOX_CMD_RESTORE_END, vcpuRestoreEnd },
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
    } else if (p->cmd == MH_MAILBOX_CMD_INIT) {
        ret = MH_MAILBOX_RET_NO_KEY;
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
