/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker-store.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#define MASTER_KEY_SIZE 32
#define SEAL_NONCE_SIZE 12
#define SEAL_TAG_SIZE 16

struct _MhBrokerStore {
    sqlite3 *db;
    char *path;
    MhSecret *master;
};

static const char mhBrokerSchema[] =
    "CREATE TABLE IF NOT EXISTS guests ("
    " uuid TEXT PRIMARY KEY, policy INTEGER NOT NULL, firmware TEXT NOT NULL,"
    " key_id INTEGER NOT NULL, key BLOB NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " owner_domain TEXT, enrolled TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS platforms ("
    " id TEXT PRIMARY KEY, oca TEXT NOT NULL, trusted TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS launches ("
    " id TEXT PRIMARY KEY, uuid TEXT NOT NULL, platform TEXT NOT NULL,"
    " tk BLOB NOT NULL, state TEXT NOT NULL, created TEXT NOT NULL);"
    /* A table of its own, so that a database made before it needs no
     * migration: its launches just have no session to be found by. */
    "CREATE TABLE IF NOT EXISTS launch_sessions ("
    " launch TEXT PRIMARY KEY, digest TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS launch_sessions_digest ON launch_sessions (digest);"
    "CREATE TABLE IF NOT EXISTS audit ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, peer TEXT NOT NULL,"
    " action TEXT NOT NULL, uuid TEXT, platform TEXT, granted INTEGER NOT NULL,"
    " reason TEXT NOT NULL);";

static bool
mhBrokerStoreFail(MhBrokerStore *store, GError **error)
{
    g_set_error(error, MH_ERROR, MH_ERROR_IO, _("broker database '%s': %s"),
                store->path, sqlite3_errmsg(store->db));
    return false;
}

static char *
mhBrokerNow(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();

    return g_date_time_format_iso8601(now);
}

/* ---- sealing under the master key ---- */

static GBytes *
mhBrokerSeal(MhBrokerStore *store, const char *context, const MhSecret *plain, GError **error)
{
    g_autofree guint8 *out = g_malloc(SEAL_NONCE_SIZE + plain->len + SEAL_TAG_SIZE);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok;

    ok = ctx && mhUtilRandom(out, SEAL_NONCE_SIZE, error) &&
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, store->master->data, out) == 1 &&
        EVP_EncryptUpdate(ctx, NULL, &len, (const guint8 *)context, strlen(context)) == 1 &&
        EVP_EncryptUpdate(ctx, out + SEAL_NONCE_SIZE, &len, plain->data, plain->len) == 1 &&
        EVP_EncryptFinal_ex(ctx, out + SEAL_NONCE_SIZE + len, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_SIZE,
                            out + SEAL_NONCE_SIZE + plain->len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        if (error && !*error)
            g_set_error(error, MH_ERROR, MH_ERROR_CRYPTO, _("cannot seal a broker secret"));
        return NULL;
    }
    return g_bytes_new_take(g_steal_pointer(&out), SEAL_NONCE_SIZE + plain->len + SEAL_TAG_SIZE);
}

static MhSecret *
mhBrokerOpen(MhBrokerStore *store, const char *context, const void *blob, size_t blob_len,
             GError **error)
{
    g_autoptr(MhSecret) plain = NULL;
    const guint8 *in = blob;
    EVP_CIPHER_CTX *ctx;
    int len = 0, fin = 0;
    bool ok;

    if (blob_len < SEAL_NONCE_SIZE + SEAL_TAG_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH, _("a sealed broker secret is truncated"));
        return NULL;
    }
    plain = mhSecretNew(blob_len - SEAL_NONCE_SIZE - SEAL_TAG_SIZE);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx &&
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, store->master->data, in) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &len, (const guint8 *)context, strlen(context)) == 1 &&
        EVP_DecryptUpdate(ctx, plain->data, &len, in + SEAL_NONCE_SIZE, plain->len) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_SIZE,
                            (void *)(in + SEAL_NONCE_SIZE + plain->len)) == 1 &&
        EVP_DecryptFinal_ex(ctx, plain->data + len, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("a sealed broker secret does not open under the master key (%s)"), context);
        return NULL;
    }
    return g_steal_pointer(&plain);
}

static MhSecret *
mhBrokerLoadMasterKey(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "master.key", NULL);
    g_autoptr(MhSecret) key = NULL;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_autoptr(MhSecret) fresh = mhSecretNew(MASTER_KEY_SIZE);

        if (!mhUtilRandom(fresh->data, fresh->len, error) ||
            !mhUtilCreateFile(path, fresh->data, fresh->len, 0600, error))
            return NULL;
    }
    if (!(key = mhSecretLoad(path, error)))
        return NULL;
    if (key->len != MASTER_KEY_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' must hold %d bytes"), path, MASTER_KEY_SIZE);
        return NULL;
    }
    return g_steal_pointer(&key);
}

/* ---- opening ---- */

void
mhBrokerStoreFree(MhBrokerStore *store)
{
    if (!store)
        return;
    sqlite3_close(store->db);
    mhSecretFree(store->master);
    g_free(store->path);
    g_free(store);
}

MhBrokerStore *
mhBrokerStoreOpen(const char *dir, GError **error)
{
    g_autoptr(MhBrokerStore) store = g_new0(MhBrokerStore, 1);
    char *msg = NULL;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    dir, g_strerror(errno));
        return NULL;
    }
    if (!(store->master = mhBrokerLoadMasterKey(dir, error)))
        return NULL;
    store->path = g_build_filename(dir, "broker.db", NULL);
    if (sqlite3_open_v2(store->path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        mhBrokerStoreFail(store, error);
        return NULL;
    }
    chmod(store->path, 0600);
    sqlite3_busy_timeout(store->db, 5000);
    /* WAL with FULL sync: a commit is on disk before the reply leaves. */
    if (sqlite3_exec(store->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=ON;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(store->db, mhBrokerSchema, NULL, NULL, &msg) != SQLITE_OK) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("broker database '%s': %s"),
                    store->path, msg ? msg : "?");
        sqlite3_free(msg);
        return NULL;
    }
    return g_steal_pointer(&store);
}

/* ---- statements ---- */

static sqlite3_stmt *
mhBrokerPrepare(MhBrokerStore *store, const char *sql, GError **error)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        mhBrokerStoreFail(store, error);
        return NULL;
    }
    return stmt;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

static void
mhBrokerBindText(sqlite3_stmt *stmt, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, i);
}

static bool
mhBrokerExec(MhBrokerStore *store, const char *sql, GError **error)
{
    char *msg = NULL;

    if (sqlite3_exec(store->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("broker database '%s': %s"),
                    store->path, msg ? msg : "?");
        sqlite3_free(msg);
        return false;
    }
    return true;
}

static bool
mhBrokerStepDone(MhBrokerStore *store, sqlite3_stmt *stmt, GError **error)
{
    if (sqlite3_step(stmt) != SQLITE_DONE)
        return mhBrokerStoreFail(store, error);
    return true;
}

static char *
mhBrokerColumnText(sqlite3_stmt *stmt, int i)
{
    const unsigned char *t = sqlite3_column_text(stmt, i);

    return t ? g_strdup((const char *)t) : NULL;
}

bool
mhBrokerStoreBegin(MhBrokerStore *store, GError **error)
{
    return mhBrokerExec(store, "BEGIN IMMEDIATE", error);
}

bool
mhBrokerStoreCommit(MhBrokerStore *store, GError **error)
{
    if (!mhBrokerExec(store, "COMMIT", error)) {
        mhBrokerStoreRollback(store);
        return false;
    }
    return true;
}

void
mhBrokerStoreRollback(MhBrokerStore *store)
{
    if (!sqlite3_get_autocommit(store->db))
        sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

bool
mhBrokerStoreAudit(MhBrokerStore *store, const char *peer, const char *action,
                   const char *uuid, const char *platform, bool granted,
                   const char *reason, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autofree char *now = mhBrokerNow();

    if (!(stmt = mhBrokerPrepare(store, "INSERT INTO audit (time, peer, action, uuid, "
                                 "platform, granted, reason) VALUES (?,?,?,?,?,?,?)", error)))
        return false;
    mhBrokerBindText(stmt, 1, now);
    mhBrokerBindText(stmt, 2, peer ? peer : "?");
    mhBrokerBindText(stmt, 3, action);
    mhBrokerBindText(stmt, 4, uuid);
    mhBrokerBindText(stmt, 5, platform);
    sqlite3_bind_int(stmt, 6, granted);
    mhBrokerBindText(stmt, 7, reason ? reason : "");
    return mhBrokerStepDone(store, stmt, error);
}

/* ---- guests ---- */

static char *
mhBrokerGuestContext(const char *uuid)
{
    return g_strdup_printf("migration-key:%s", uuid);
}

void
mhBrokerGuestFree(MhBrokerGuest *guest)
{
    if (!guest)
        return;
    g_free(guest->uuid);
    g_free(guest->firmware_digest);
    g_free(guest->owner_domain);
    g_free(guest->enrolled);
    g_free(guest);
}

bool
mhBrokerStoreAddGuest(MhBrokerStore *store, const MhBrokerGuest *guest,
                      const MhSecret *key, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autofree char *ctx = mhBrokerGuestContext(guest->uuid);
    g_autofree char *now = mhBrokerNow();
    g_autoptr(GBytes) sealed = NULL;
    int rc;

    if (!(sealed = mhBrokerSeal(store, ctx, key, error)) ||
        !(stmt = mhBrokerPrepare(store, "INSERT INTO guests (uuid, policy, firmware, key_id, "
                                 "key, enrolled) VALUES (?,?,?,?,?,?)", error)))
        return false;
    mhBrokerBindText(stmt, 1, guest->uuid);
    sqlite3_bind_int64(stmt, 2, guest->policy);
    mhBrokerBindText(stmt, 3, guest->firmware_digest);
    sqlite3_bind_int64(stmt, 4, guest->key_id);
    sqlite3_bind_blob(stmt, 5, g_bytes_get_data(sealed, NULL), g_bytes_get_size(sealed),
                      SQLITE_TRANSIENT);
    mhBrokerBindText(stmt, 6, now);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("guest %s is already enrolled"), guest->uuid);
        return false;
    }
    if (rc != SQLITE_DONE)
        return mhBrokerStoreFail(store, error);
    return true;
}

#define GUEST_COLUMNS "uuid, policy, firmware, key_id, revoked, owner_domain, enrolled"

static MhBrokerGuest *
mhBrokerGuestFromRow(sqlite3_stmt *stmt)
{
    MhBrokerGuest *guest = g_new0(MhBrokerGuest, 1);

    guest->uuid = mhBrokerColumnText(stmt, 0);
    guest->policy = sqlite3_column_int64(stmt, 1);
    guest->firmware_digest = mhBrokerColumnText(stmt, 2);
    guest->key_id = sqlite3_column_int64(stmt, 3);
    guest->revoked = sqlite3_column_int(stmt, 4);
    guest->owner_domain = mhBrokerColumnText(stmt, 5);
    guest->enrolled = mhBrokerColumnText(stmt, 6);
    return guest;
}

MhBrokerGuest *
mhBrokerStoreGetGuest(MhBrokerStore *store, const char *uuid, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT " GUEST_COLUMNS " FROM guests WHERE uuid = ?",
                                 error)))
        return NULL;
    mhBrokerBindText(stmt, 1, uuid);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        return mhBrokerGuestFromRow(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("guest %s is not enrolled"), uuid);
    else
        mhBrokerStoreFail(store, error);
    return NULL;
}

MhSecret *
mhBrokerStoreGetGuestKey(MhBrokerStore *store, const char *uuid, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autofree char *ctx = mhBrokerGuestContext(uuid);

    if (!(stmt = mhBrokerPrepare(store, "SELECT key FROM guests WHERE uuid = ?", error)))
        return NULL;
    mhBrokerBindText(stmt, 1, uuid);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("guest %s is not enrolled"), uuid);
        return NULL;
    }
    return mhBrokerOpen(store, ctx, sqlite3_column_blob(stmt, 0),
                        sqlite3_column_bytes(stmt, 0), error);
}

static bool
mhBrokerUpdateOne(MhBrokerStore *store, const char *sql, const char *a, const char *b,
                  GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;

    if (!(stmt = mhBrokerPrepare(store, sql, error)))
        return false;
    mhBrokerBindText(stmt, 1, a);
    if (b)
        mhBrokerBindText(stmt, 2, b);
    if (!mhBrokerStepDone(store, stmt, error))
        return false;
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("no such entry: %s"), b ? b : a);
        return false;
    }
    return true;
}

bool
mhBrokerStoreRevokeGuest(MhBrokerStore *store, const char *uuid, GError **error)
{
    return mhBrokerUpdateOne(store, "UPDATE guests SET revoked = 1 WHERE uuid = ?",
                             uuid, NULL, error);
}

bool
mhBrokerStoreSetOwnerDomain(MhBrokerStore *store, const char *uuid, const char *oca,
                            GError **error)
{
    return mhBrokerUpdateOne(store, "UPDATE guests SET owner_domain = ?1 WHERE uuid = ?2",
                             oca, uuid, error);
}

GPtrArray *
mhBrokerStoreListGuests(MhBrokerStore *store, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)mhBrokerGuestFree);
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT " GUEST_COLUMNS " FROM guests ORDER BY enrolled",
                                 error)))
        return NULL;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(out, mhBrokerGuestFromRow(stmt));
    if (rc != SQLITE_DONE) {
        mhBrokerStoreFail(store, error);
        return NULL;
    }
    return g_steal_pointer(&out);
}

/* ---- platforms ---- */

void
mhBrokerPlatformFree(MhBrokerPlatform *platform)
{
    if (!platform)
        return;
    g_free(platform->id);
    g_free(platform->oca);
    g_free(platform->trusted);
    g_free(platform);
}

bool
mhBrokerStoreAddPlatform(MhBrokerStore *store, const char *cek_fp, const char *oca_fp,
                         GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autofree char *now = mhBrokerNow();

    /* Trusting a platform again refreshes its owner (a re-provisioned OCA). */
    if (!(stmt = mhBrokerPrepare(store, "INSERT INTO platforms (id, oca, trusted) "
                                 "VALUES (?,?,?) ON CONFLICT(id) DO UPDATE SET "
                                 "oca = excluded.oca", error)))
        return false;
    mhBrokerBindText(stmt, 1, cek_fp);
    mhBrokerBindText(stmt, 2, oca_fp);
    mhBrokerBindText(stmt, 3, now);
    return mhBrokerStepDone(store, stmt, error);
}

static MhBrokerPlatform *
mhBrokerPlatformFromRow(sqlite3_stmt *stmt)
{
    MhBrokerPlatform *platform = g_new0(MhBrokerPlatform, 1);

    platform->id = mhBrokerColumnText(stmt, 0);
    platform->oca = mhBrokerColumnText(stmt, 1);
    platform->trusted = mhBrokerColumnText(stmt, 2);
    return platform;
}

MhBrokerPlatform *
mhBrokerStoreGetPlatform(MhBrokerStore *store, const char *cek_fp, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT id, oca, trusted FROM platforms WHERE id = ?",
                                 error)))
        return NULL;
    mhBrokerBindText(stmt, 1, cek_fp);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        return mhBrokerPlatformFromRow(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("platform %.16s is not trusted by the guest owner"), cek_fp);
    else
        mhBrokerStoreFail(store, error);
    return NULL;
}

GPtrArray *
mhBrokerStoreListPlatforms(MhBrokerStore *store, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func((GDestroyNotify)mhBrokerPlatformFree);
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT id, oca, trusted FROM platforms ORDER BY trusted",
                                 error)))
        return NULL;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(out, mhBrokerPlatformFromRow(stmt));
    if (rc != SQLITE_DONE) {
        mhBrokerStoreFail(store, error);
        return NULL;
    }
    return g_steal_pointer(&out);
}

/* ---- launches ---- */

static char *
mhBrokerLaunchContext(const char *id)
{
    return g_strdup_printf("launch-tk:%s", id);
}

void
mhBrokerLaunchFree(MhBrokerLaunch *launch)
{
    if (!launch)
        return;
    g_free(launch->id);
    g_free(launch->uuid);
    g_free(launch->platform);
    g_free(launch->state);
    g_free(launch);
}

bool
mhBrokerStoreAddLaunch(MhBrokerStore *store, const char *id, const char *uuid,
                       const char *platform, const MhSecret *tk, const char *session_digest,
                       GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autoptr(sqlite3_stmt) sess = NULL;
    g_autofree char *ctx = mhBrokerLaunchContext(id);
    g_autofree char *now = mhBrokerNow();
    g_autoptr(GBytes) sealed = NULL;

    if (!(sealed = mhBrokerSeal(store, ctx, tk, error)) ||
        !(stmt = mhBrokerPrepare(store, "INSERT INTO launches (id, uuid, platform, tk, state, "
                                 "created) VALUES (?,?,?,?,'issued',?)", error)) ||
        !(sess = mhBrokerPrepare(store, "INSERT INTO launch_sessions (launch, digest) "
                                 "VALUES (?,?)", error)))
        return false;
    mhBrokerBindText(stmt, 1, id);
    mhBrokerBindText(stmt, 2, uuid);
    mhBrokerBindText(stmt, 3, platform);
    sqlite3_bind_blob(stmt, 4, g_bytes_get_data(sealed, NULL), g_bytes_get_size(sealed),
                      SQLITE_TRANSIENT);
    mhBrokerBindText(stmt, 5, now);
    mhBrokerBindText(sess, 1, id);
    mhBrokerBindText(sess, 2, session_digest);
    return mhBrokerStepDone(store, stmt, error) && mhBrokerStepDone(store, sess, error);
}

static MhBrokerLaunch *
mhBrokerLaunchFromRow(sqlite3_stmt *stmt)
{
    MhBrokerLaunch *launch = g_new0(MhBrokerLaunch, 1);

    launch->id = mhBrokerColumnText(stmt, 0);
    launch->uuid = mhBrokerColumnText(stmt, 1);
    launch->platform = mhBrokerColumnText(stmt, 2);
    launch->state = mhBrokerColumnText(stmt, 3);
    return launch;
}

MhBrokerLaunch *
mhBrokerStoreGetLaunch(MhBrokerStore *store, const char *id, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;

    if (!(stmt = mhBrokerPrepare(store, "SELECT id, uuid, platform, state FROM launches "
                                 "WHERE id = ?", error)))
        return NULL;
    mhBrokerBindText(stmt, 1, id);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("unknown launch id"));
        return NULL;
    }
    return mhBrokerLaunchFromRow(stmt);
}

MhBrokerLaunch *
mhBrokerStoreFindLaunchBySession(MhBrokerStore *store, const char *session_digest,
                                 GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT l.id, l.uuid, l.platform, l.state FROM "
                                 "launches l JOIN launch_sessions s ON s.launch = l.id "
                                 "WHERE s.digest = ?", error)))
        return NULL;
    mhBrokerBindText(stmt, 1, session_digest);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        return mhBrokerLaunchFromRow(stmt);
    if (rc != SQLITE_DONE)
        mhBrokerStoreFail(store, error);
    return NULL;
}

MhSecret *
mhBrokerStoreGetLaunchTk(MhBrokerStore *store, const char *id, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autofree char *ctx = mhBrokerLaunchContext(id);

    if (!(stmt = mhBrokerPrepare(store, "SELECT tk FROM launches WHERE id = ?", error)))
        return NULL;
    mhBrokerBindText(stmt, 1, id);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("unknown launch id"));
        return NULL;
    }
    return mhBrokerOpen(store, ctx, sqlite3_column_blob(stmt, 0),
                        sqlite3_column_bytes(stmt, 0), error);
}

bool
mhBrokerStoreUseLaunch(MhBrokerStore *store, const char *id, GError **error)
{
    /* The TEK||TIK is dropped with the use: a used launch can never be
     * sealed for again, even by someone who later reads the database. */
    if (!mhBrokerUpdateOne(store, "UPDATE launches SET state = 'used', tk = x'' "
                           "WHERE id = ? AND state = 'issued'", id, NULL, error)) {
        g_clear_error(error);
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("launch id already used"));
        return false;
    }
    return true;
}

/* ---- audit ---- */

void
mhBrokerAuditFree(MhBrokerAudit *audit)
{
    if (!audit)
        return;
    g_free(audit->time);
    g_free(audit->peer);
    g_free(audit->action);
    g_free(audit->uuid);
    g_free(audit->platform);
    g_free(audit->reason);
    g_free(audit);
}

GPtrArray *
mhBrokerStoreListAudit(MhBrokerStore *store, int64_t after, GError **error)
{
    g_autoptr(sqlite3_stmt) stmt = NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)mhBrokerAuditFree);
    int rc;

    if (!(stmt = mhBrokerPrepare(store, "SELECT seq, time, peer, action, uuid, platform, "
                                 "granted, reason FROM audit WHERE seq > ? ORDER BY seq", error)))
        return NULL;
    sqlite3_bind_int64(stmt, 1, after);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        MhBrokerAudit *a = g_new0(MhBrokerAudit, 1);

        a->seq = sqlite3_column_int64(stmt, 0);
        a->time = mhBrokerColumnText(stmt, 1);
        a->peer = mhBrokerColumnText(stmt, 2);
        a->action = mhBrokerColumnText(stmt, 3);
        a->uuid = mhBrokerColumnText(stmt, 4);
        a->platform = mhBrokerColumnText(stmt, 5);
        a->granted = sqlite3_column_int(stmt, 6);
        a->reason = mhBrokerColumnText(stmt, 7);
        g_ptr_array_add(out, a);
    }
    if (rc != SQLITE_DONE) {
        mhBrokerStoreFail(store, error);
        return NULL;
    }
    return g_steal_pointer(&out);
}
