/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key broker's decisions against the simulated PSP: a bundle for a
 * trusted platform starts a real launch, a secret for its verified
 * measurement opens inside that launch to the enrolled migration key; and
 * every refusal (untrusted platform, wrong firmware, replayed launch id,
 * revoked guest, DOMAIN policy across owners, NOSEND) changes nothing but
 * the audit log. The store survives reopening and its sealed rows do not
 * open under another master key or in another row. */
#include "broker/mh-broker.h"
#include "owner/mh-sev-chain.h"
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-secret.h"
#include "sim/psp/mh-sev-platform.h"
#include "util/mh-error.h"

#include <string.h>
#include <sqlite3.h>

#define UUID "6a0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3"
#define FIRMWARE "simulated firmware image"

typedef struct {
    char *dir;
    MhBrokerStore *store;
    MhSevPlatform *platform;     /* trusted */
    MhSevPlatform *stranger;     /* never trusted */
    MhSevPlatform *sibling;      /* trusted, same OCA as 'platform' */
    MhSevPlatform *other_owner;  /* trusted, another OCA */
    char *digest_hex;
} Fixture;

static void
rmTree(const char *path)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

    g_assert_cmpint(system(cmd), ==, 0);
}

static MhSevPlatform *
newPlatform(Fixture *f, const char *name, const char *oca_from)
{
    g_autofree char *dir = g_build_filename(f->dir, name, NULL);
    g_autoptr(GError) err = NULL;
    MhSevPlatform *p;

    if (oca_from) {
        g_autofree char *cmd = g_strdup_printf("mkdir -p '%s' && cp '%s/%s/oca.pem' "
                                               "'%s/%s/oca.cert' '%s/'", dir, f->dir,
                                               oca_from, f->dir, oca_from, dir);
        g_assert_cmpint(system(cmd), ==, 0);
    }
    p = mhSevPlatformLoadOrCreate(dir, &err);
    g_assert_no_error(err);
    return p;
}

static void
platformB64(MhSevPlatform *p, char **pdh, char **chain)
{
    *pdh = mhSevPlatformGetPdhBase64(p);
    *chain = mhSevPlatformGetCertChainBase64(p);
}

static void
trust(Fixture *f, MhSevPlatform *p)
{
    g_autofree char *pdh = NULL, *chain = NULL, *id = NULL, *oca = NULL;
    g_autoptr(GError) err = NULL;
    MhBrokerOutcome outcome;

    platformB64(p, &pdh, &chain);
    g_assert_true(mhBrokerTrustPlatform(f->store, "test", pdh, chain, &id, &oca, &outcome,
                                        &err));
    g_assert_no_error(err);
}

static void
setUp(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) fw = g_bytes_new_static(FIRMWARE, strlen(FIRMWARE));
    uint8_t digest[MH_SEV_DIGEST_SIZE];

    f->dir = g_dir_make_tmp("test-broker-XXXXXX", &err);
    g_assert_no_error(err);
    f->store = mhBrokerStoreOpen(f->dir, &err);
    g_assert_no_error(err);
    f->platform = newPlatform(f, "p1", NULL);
    f->stranger = newPlatform(f, "p2", NULL);
    f->sibling = newPlatform(f, "p3", "p1");
    f->other_owner = newPlatform(f, "p4", NULL);
    trust(f, f->platform);
    trust(f, f->sibling);
    trust(f, f->other_owner);
    g_assert_true(mhSevOwnerLaunchDigest(fw, NULL, digest, &err));
    f->digest_hex = mhUtilFormatHex(digest, sizeof(digest));
}

static void
tearDown(Fixture *f, gconstpointer data)
{
    mhBrokerStoreFree(f->store);
    mhSevPlatformFree(f->platform);
    mhSevPlatformFree(f->stranger);
    mhSevPlatformFree(f->sibling);
    mhSevPlatformFree(f->other_owner);
    rmTree(f->dir);
    g_free(f->dir);
    g_free(f->digest_hex);
}

static uint32_t
enroll(Fixture *f, uint32_t policy, const MhSecret *key)
{
    MhBrokerEnrolment req = { UUID, policy, f->digest_hex, key };
    g_autoptr(GError) err = NULL;
    MhBrokerOutcome outcome;
    uint32_t key_id = 0;

    g_assert_true(mhBrokerEnroll(f->store, "test", &req, &key_id, &outcome, &err));
    g_assert_no_error(err);
    return key_id;
}

/* Start a launch on 'p' from the bundle, measure 'firmware'. */
static MhSevLaunch *
launchFromBundle(MhSevPlatform *p, const MhBrokerBundle *b, const char *firmware)
{
    g_autoptr(GBytes) godh = NULL, session = NULL;
    g_autoptr(GError) err = NULL;
    MhSevLaunch *launch;

    g_assert_true(mhUtilDecodeBase64("godh", b->godh_b64, &godh, &err));
    g_assert_true(mhUtilDecodeBase64("session", b->session_b64, &session, &err));
    launch = mhSevLaunchStart(p, b->policy, godh, session, &err);
    g_assert_no_error(err);
    g_assert_true(mhSevLaunchUpdateData(launch, firmware, strlen(firmware), &err));
    return launch;
}

/* A bundle for platform 'p'; 'current': the session the host already has. */
static bool
bundleFor(Fixture *f, MhSevPlatform *p, const char *current, MhBrokerBundle *b, GError **err)
{
    g_autofree char *pdh = NULL, *chain = NULL;
    g_autofree char *digest = current ? mhBrokerSessionDigest(current) : NULL;
    MhBrokerOutcome outcome;

    platformB64(p, &pdh, &chain);
    return mhBrokerIssueBundle(f->store, "host", UUID, pdh, chain, digest, b, &outcome, err);
}

static bool
bundle(Fixture *f, MhSevPlatform *p, MhBrokerBundle *b, GError **err)
{
    return bundleFor(f, p, NULL, b, err);
}

/* Ask for the secret of 'launch'; on success, return the key the
 * platform decrypts from it. */
static MhSecret *
secret(Fixture *f, const MhBrokerBundle *b, MhSevLaunch *launch, GError **err)
{
    uint8_t meas[MH_SEV_MEASUREMENT_SIZE];
    g_autofree char *meas_b64 = NULL, *header = NULL, *ct = NULL;
    g_autoptr(GBytes) hb = NULL, cb = NULL, plain = NULL;
    MhBrokerSecretRequest req;
    MhBrokerOutcome outcome;
    MhSecret *key = NULL;
    uint32_t key_id;

    if (!mhSevLaunchGetMeasurement(launch, meas))
        g_assert_true(mhSevLaunchMeasure(launch, meas, NULL));
    meas_b64 = g_base64_encode(meas, sizeof(meas));
    req = (MhBrokerSecretRequest){ b->launch_id, meas_b64, mhSevLaunchGetBuild(launch),
                                   mhSevLaunchGetPolicy(launch) };
    if (!mhBrokerReleaseSecret(f->store, "host", &req, &header, &ct, &outcome, err))
        return NULL;
    g_assert_true(mhUtilDecodeBase64("h", header, &hb, NULL));
    g_assert_true(mhUtilDecodeBase64("c", ct, &cb, NULL));
    g_assert_true(mhSevLaunchSecret(launch, hb, cb, &plain, NULL));
    g_assert_true(mhSevMigrationKeyFind(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain),
                                        &key, &key_id, NULL));
    return key;
}

static int
countRows(Fixture *f, const char *table)
{
    g_autofree char *path = g_build_filename(f->dir, "broker.db", NULL);
    g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", table);
    sqlite3 *db;
    sqlite3_stmt *st;
    int n;

    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void
testGrant(Fixture *f, gconstpointer data)
{
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhSecret) got = NULL;
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(GError) err = NULL;
    MhBrokerBundle b;
    uint32_t id, want_id;

    memset(key->data, 0x5a, key->len);
    id = enroll(f, 0x0033, key);
    g_assert_true(mhSevMigrationKeyId(key, &want_id, NULL));
    g_assert_cmpuint(id, ==, want_id);
    g_assert_true(bundle(f, f->platform, &b, &err));
    g_assert_no_error(err);
    launch = launchFromBundle(f->platform, &b, FIRMWARE);
    got = secret(f, &b, launch, &err);
    g_assert_no_error(err);
    g_assert_cmpmem(got->data, got->len, key->data, key->len);
    mhBrokerBundleClear(&b);
}

/* A host that starts a domain asks whether the session in its definition
 * still stands: only an unused one issued for this guest on this platform. */
static void
testCurrentSession(Fixture *f, gconstpointer data)
{
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhSecret) got = NULL;
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(GError) err = NULL;
    MhBrokerBundle first, again;
    int launches;

    memset(key->data, 0x5a, key->len);
    enroll(f, 0x0033, key);
    g_assert_true(bundleFor(f, f->platform, NULL, &first, &err));
    launches = countRows(f, "launches");
    /* Unused, this platform: it stands, nothing new is issued. */
    g_assert_true(bundleFor(f, f->platform, first.session_b64, &again, &err));
    g_assert_no_error(err);
    g_assert_true(again.current);
    g_assert_null(again.launch_id);
    g_assert_cmpint(countRows(f, "launches"), ==, launches);
    /* Another platform of the same owner: a session of its own. */
    g_assert_true(bundleFor(f, f->sibling, first.session_b64, &again, &err));
    g_assert_false(again.current);
    g_assert_nonnull(again.session_b64);
    g_assert_cmpstr(again.session_b64, !=, first.session_b64);
    mhBrokerBundleClear(&again);
    /* Spent: once its secret was released, the host gets a fresh one. */
    launch = launchFromBundle(f->platform, &first, FIRMWARE);
    got = secret(f, &first, launch, &err);
    g_assert_no_error(err);
    g_assert_true(bundleFor(f, f->platform, first.session_b64, &again, &err));
    g_assert_false(again.current);
    g_assert_cmpstr(again.session_b64, !=, first.session_b64);
    g_assert_nonnull(again.launch_id);
    mhBrokerBundleClear(&again);
    /* A session it never issued is no reason to refuse: a fresh one. */
    g_assert_true(bundleFor(f, f->platform, "AAAA", &again, &err));
    g_assert_false(again.current);
    mhBrokerBundleClear(&again);
    /* A revoked guest gets nothing, not even "it stands". */
    g_assert_true(bundleFor(f, f->platform, NULL, &again, &err));
    g_assert_true(mhBrokerRevoke(f->store, "test", UUID, &(MhBrokerOutcome){ 0 }, &err));
    mhBrokerBundleClear(&first);
    g_assert_false(bundleFor(f, f->platform, again.session_b64, &first, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_STATE);
    mhBrokerBundleClear(&again);
}

static void
testRefusals(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSevLaunch) bad = NULL;
    g_autoptr(MhSevLaunch) good = NULL;
    g_autoptr(MhSecret) got = NULL;
    MhBrokerBundle b1, b2;
    int launches, guests, audit;

    enroll(f, 0x0033, NULL);
    /* An untrusted platform gets no bundle. */
    g_assert_false(bundle(f, f->stranger, &b1, &err));
    g_assert_nonnull(strstr(err->message, "not trusted"));
    g_clear_error(&err);
    g_assert_cmpint(countRows(f, "launches"), ==, 0);

    /* Another firmware: refused, and the launch id is spent. */
    g_assert_true(bundle(f, f->platform, &b1, &err));
    bad = launchFromBundle(f->platform, &b1, "another firmware");
    g_assert_null(secret(f, &b1, bad, &err));
    g_assert_nonnull(strstr(err->message, "measurement does not match"));
    g_clear_error(&err);
    g_assert_null(secret(f, &b1, bad, &err));
    g_assert_nonnull(strstr(err->message, "replayed launch id"));
    g_clear_error(&err);

    /* A replayed id after a grant: refused too. */
    g_assert_true(bundle(f, f->platform, &b2, &err));
    good = launchFromBundle(f->platform, &b2, FIRMWARE);
    got = secret(f, &b2, good, &err);
    g_assert_no_error(err);
    g_clear_pointer(&got, mhSecretFree);
    g_assert_null(secret(f, &b2, good, &err));
    g_assert_nonnull(strstr(err->message, "replayed launch id"));
    g_clear_error(&err);

    /* Refusals leave the state as it was; only the audit log grows. */
    launches = countRows(f, "launches");
    guests = countRows(f, "guests");
    audit = countRows(f, "audit");
    {
        MhBrokerSecretRequest req = { "00112233445566778899aabbccddeeff", "AAAA", { 0, 24, 15 },
                                      0x33 };
        g_autofree char *h = NULL, *c = NULL;
        MhBrokerOutcome outcome;

        g_assert_false(mhBrokerReleaseSecret(f->store, "host", &req, &h, &c, &outcome, &err));
        g_assert_cmpint(outcome.kind, ==, MH_BROKER_REFUSE_NOT_FOUND);
        g_assert_cmpstr(outcome.field, ==, "launch_id");
        g_clear_error(&err);
    }
    g_assert_cmpint(countRows(f, "launches"), ==, launches);
    g_assert_cmpint(countRows(f, "guests"), ==, guests);
    g_assert_cmpint(countRows(f, "audit"), ==, audit + 1);

    /* Revoked: no bundle, and an issued launch gets no secret. */
    {
        MhBrokerBundle b3;
        g_autoptr(MhSevLaunch) l3 = NULL;
        MhBrokerOutcome outcome;

        g_assert_true(bundle(f, f->platform, &b3, &err));
        l3 = launchFromBundle(f->platform, &b3, FIRMWARE);
        g_assert_true(mhBrokerRevoke(f->store, "owner", UUID, &outcome, &err));
        g_assert_null(secret(f, &b3, l3, &err));
        g_assert_nonnull(strstr(err->message, "revoked"));
        g_clear_error(&err);
        mhBrokerBundleClear(&b3);
        g_assert_false(bundle(f, f->platform, &b3, &err));
        g_assert_nonnull(strstr(err->message, "revoked"));
        mhBrokerBundleClear(&b3);
    }
    mhBrokerBundleClear(&b1);
    mhBrokerBundleClear(&b2);
}

static void
testDomainPolicy(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSevLaunch) l1 = NULL, l2 = NULL;
    g_autoptr(MhSecret) k1 = NULL, k2 = NULL;
    MhBrokerBundle b1, b2, b3;
    MhBrokerOutcome outcome;
    MhBrokerEnrolment nosend = { "0a0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3", 0x0039,
                                 f->digest_hex, NULL };
    uint32_t id;

    enroll(f, 0x0033, NULL);
    /* The first grant fixes the owner domain (OCA of p1)... */
    g_assert_true(bundle(f, f->platform, &b1, &err));
    l1 = launchFromBundle(f->platform, &b1, FIRMWARE);
    k1 = secret(f, &b1, l1, &err);
    g_assert_no_error(err);
    /* ...a platform of the same owner may take the guest... */
    g_assert_true(bundle(f, f->sibling, &b2, &err));
    l2 = launchFromBundle(f->sibling, &b2, FIRMWARE);
    k2 = secret(f, &b2, l2, &err);
    g_assert_no_error(err);
    g_assert_cmpmem(k1->data, k1->len, k2->data, k2->len);
    /* ...a trusted platform of another owner may not. */
    g_assert_false(bundle(f, f->other_owner, &b3, &err));
    g_assert_nonnull(strstr(err->message, "DOMAIN"));
    g_clear_error(&err);
    /* NOSEND can never migrate: refused at enrolment. */
    g_assert_false(mhBrokerEnroll(f->store, "owner", &nosend, &id, &outcome, &err));
    g_assert_cmpstr(outcome.field, ==, "policy");
    g_assert_cmpint(countRows(f, "guests"), ==, 1);
    mhBrokerBundleClear(&b1);
    mhBrokerBundleClear(&b2);
}

static void
testStoreSealing(Fixture *f, gconstpointer data)
{
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhSecret) got = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *master = g_build_filename(f->dir, "master.key", NULL);
    g_autofree char *db = g_build_filename(f->dir, "broker.db", NULL);
    g_autofree char *sql = NULL;

    memset(key->data, 0x11, key->len);
    enroll(f, 0x0001, key);
    /* Reopened: the key is still there and opens. */
    mhBrokerStoreFree(f->store);
    f->store = mhBrokerStoreOpen(f->dir, &err);
    g_assert_no_error(err);
    got = mhBrokerStoreGetGuestKey(f->store, UUID, &err);
    g_assert_no_error(err);
    g_assert_cmpmem(got->data, got->len, key->data, key->len);
    g_clear_pointer(&got, mhSecretFree);
    /* The key never lies in the database in clear. */
    {
        g_autofree char *raw = NULL;
        size_t len = 0;

        g_assert_true(mhUtilReadFile(db, &raw, &len, NULL));
        g_assert_null(memmem(raw, len, key->data, key->len));
    }
    /* A sealed key moved to another row does not open there. */
    mhBrokerStoreFree(f->store);
    f->store = NULL;
    sql = g_strdup_printf("sqlite3 '%s' \"INSERT INTO guests SELECT "
                          "'7a0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3', policy, firmware, key_id, key, "
                          "revoked, owner_domain, enrolled FROM guests\"", db);
    g_assert_cmpint(system(sql), ==, 0);
    f->store = mhBrokerStoreOpen(f->dir, &err);
    g_assert_no_error(err);
    g_assert_null(mhBrokerStoreGetGuestKey(f->store, "7a0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3",
                                           &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&err);
    /* Another master key opens nothing. */
    mhBrokerStoreFree(f->store);
    g_assert_cmpint(unlink(master), ==, 0);
    f->store = mhBrokerStoreOpen(f->dir, &err);
    g_assert_no_error(err);
    g_assert_null(mhBrokerStoreGetGuestKey(f->store, UUID, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_AUTH);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/broker/grant", Fixture, NULL, setUp, testGrant, tearDown);
    g_test_add("/broker/refusals", Fixture, NULL, setUp, testRefusals, tearDown);
    g_test_add("/broker/current-session", Fixture, NULL, setUp, testCurrentSession,
               tearDown);
    g_test_add("/broker/domain-policy", Fixture, NULL, setUp, testDomainPolicy, tearDown);
    g_test_add("/broker/store-sealing", Fixture, NULL, setUp, testStoreSealing, tearDown);
    return g_test_run();
}
