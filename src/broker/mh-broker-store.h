/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key broker's state: an SQLite database in the state directory, and
 * a master key (0600 file) that seals every secret the database holds
 * (migration keys, launch TEK||TIK) with AES-256-GCM bound to the row it
 * belongs to, so a copied or swapped row does not open. Every change runs
 * in one transaction together with its audit entry: what was
 * acknowledged survives a crash or kill -9, what was not leaves nothing. */
#pragma once

#include "util/mh-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _MhBrokerStore MhBrokerStore;

typedef struct {
    char *uuid;
    uint32_t policy;
    char *firmware_digest;      /* hex SHA-256 of the launch digest input */
    uint32_t key_id;
    bool revoked;
    char *owner_domain;         /* OCA fingerprint of its first launch, or NULL */
    char *enrolled;             /* ISO 8601 */
} MhBrokerGuest;

typedef struct {
    char *id;                   /* CEK fingerprint */
    char *oca;                  /* OCA fingerprint */
    char *trusted;              /* ISO 8601 */
} MhBrokerPlatform;

typedef struct {
    char *id;
    char *uuid;
    char *platform;
    char *state;                /* "issued", "used" */
} MhBrokerLaunch;

typedef struct {
    int64_t seq;
    char *time;
    char *peer;
    char *action;
    char *uuid;                 /* may be NULL */
    char *platform;             /* may be NULL */
    bool granted;
    char *reason;
} MhBrokerAudit;

void mhBrokerGuestFree(MhBrokerGuest *guest);
void mhBrokerPlatformFree(MhBrokerPlatform *platform);
void mhBrokerLaunchFree(MhBrokerLaunch *launch);
void mhBrokerAuditFree(MhBrokerAudit *audit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerGuest, mhBrokerGuestFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerPlatform, mhBrokerPlatformFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerLaunch, mhBrokerLaunchFree)

/* Open or create DIR/broker.db and DIR/master.key (DIR created 0700). */
MhBrokerStore *mhBrokerStoreOpen(const char *dir, GError **error);
void mhBrokerStoreFree(MhBrokerStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerStore, mhBrokerStoreFree)

/* Transactions: every write below must run between Begin and Commit;
 * Rollback undoes all of it (also the audit entry). */
bool mhBrokerStoreBegin(MhBrokerStore *store, GError **error);
bool mhBrokerStoreCommit(MhBrokerStore *store, GError **error);
void mhBrokerStoreRollback(MhBrokerStore *store);

bool mhBrokerStoreAudit(MhBrokerStore *store, const char *peer, const char *action,
                        const char *uuid, const char *platform, bool granted,
                        const char *reason, GError **error);

/* Guests. A missing guest is NULL with MH_ERROR_INVALID. */
bool mhBrokerStoreAddGuest(MhBrokerStore *store, const MhBrokerGuest *guest,
                           const MhSecret *key, GError **error);
MhBrokerGuest *mhBrokerStoreGetGuest(MhBrokerStore *store, const char *uuid, GError **error);
MhSecret *mhBrokerStoreGetGuestKey(MhBrokerStore *store, const char *uuid, GError **error);
bool mhBrokerStoreRevokeGuest(MhBrokerStore *store, const char *uuid, GError **error);
bool mhBrokerStoreSetOwnerDomain(MhBrokerStore *store, const char *uuid, const char *oca,
                                 GError **error);
GPtrArray *mhBrokerStoreListGuests(MhBrokerStore *store, GError **error);

/* Platforms the owner trusts, by CEK fingerprint. */
bool mhBrokerStoreAddPlatform(MhBrokerStore *store, const char *cek_fp, const char *oca_fp,
                              GError **error);
MhBrokerPlatform *mhBrokerStoreGetPlatform(MhBrokerStore *store, const char *cek_fp,
                                           GError **error);
GPtrArray *mhBrokerStoreListPlatforms(MhBrokerStore *store, GError **error);

/* Launches: issued with their TEK||TIK, used at most once; found also by
 * the digest of the session issued with them (mhBrokerSessionDigest). */
bool mhBrokerStoreAddLaunch(MhBrokerStore *store, const char *id, const char *uuid,
                            const char *platform, const MhSecret *tk,
                            const char *session_digest, GError **error);
MhBrokerLaunch *mhBrokerStoreGetLaunch(MhBrokerStore *store, const char *id, GError **error);
/* NULL without an error when no launch was issued with that session. */
MhBrokerLaunch *mhBrokerStoreFindLaunchBySession(MhBrokerStore *store,
                                                 const char *session_digest, GError **error);
MhSecret *mhBrokerStoreGetLaunchTk(MhBrokerStore *store, const char *id, GError **error);
bool mhBrokerStoreUseLaunch(MhBrokerStore *store, const char *id, GError **error);

/* The audit log from entry 'after' on (0: all), oldest first. */
GPtrArray *mhBrokerStoreListAudit(MhBrokerStore *store, int64_t after, GError **error);
