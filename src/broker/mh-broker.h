/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key broker's decisions, apart from HTTP: enrolment and platform
 * trust (the owner's admin side), then the two host requests shaped like
 * simple-kbs: a launch bundle for a platform, and a secret for a measured
 * launch. Each decision is one store transaction with its audit entry;
 * a refusal changes nothing but the audit log (and, for a secret, uses up
 * the launch id, so a host cannot probe measurements against one TEK). */
#pragma once

#include "broker/mh-broker-store.h"
#include "owner/mh-sev-crypto.h"

/* SEV guest policy bits the broker enforces (AMD SEV API, 3.1). */
#define MH_BROKER_POLICY_NOSEND 0x0008
#define MH_BROKER_POLICY_DOMAIN 0x0010
#define MH_BROKER_POLICY_SEV    0x0020

/* What a refusal was about: the request field to name in the error, and
 * the kind of refusal (HTTP status). */
typedef enum {
    MH_BROKER_REFUSE_BAD_REQUEST,   /* 400: malformed or invalid field */
    MH_BROKER_REFUSE_FORBIDDEN,     /* 403: policy says no */
    MH_BROKER_REFUSE_NOT_FOUND,     /* 404: unknown guest or launch */
    MH_BROKER_REFUSE_CONFLICT,      /* 409: already enrolled, launch used */
    MH_BROKER_REFUSE_INTERNAL,      /* 500: the broker's own failure */
} MhBrokerRefusal;

typedef struct {
    MhBrokerRefusal kind;
    const char *field;              /* static; NULL when not about a field */
} MhBrokerOutcome;

typedef struct {
    const char *uuid;
    uint32_t policy;
    const char *firmware_digest;    /* hex, MH_SEV_DIGEST_SIZE bytes */
    const MhSecret *key;            /* NULL: the broker makes one */
} MhBrokerEnrolment;

bool mhBrokerEnroll(MhBrokerStore *store, const char *peer, const MhBrokerEnrolment *req,
                    uint32_t *key_id, MhBrokerOutcome *outcome, GError **error);
bool mhBrokerRevoke(MhBrokerStore *store, const char *peer, const char *uuid,
                    MhBrokerOutcome *outcome, GError **error);
/* Trust the platform of this PDH and chain; *id: its CEK fingerprint. */
bool mhBrokerTrustPlatform(MhBrokerStore *store, const char *peer, const char *pdh_b64,
                           const char *chain_b64, char **id, char **oca,
                           MhBrokerOutcome *outcome, GError **error);

typedef struct {
    bool current;               /* the host's session stands; nothing below is set */
    char *launch_id;
    char *godh_b64;
    char *session_b64;
    uint32_t policy;
} MhBrokerBundle;

void mhBrokerBundleClear(MhBrokerBundle *bundle);

/* What names a session wherever it is kept: SHA-256 (hex) of its bytes, so
 * that base64 written differently is still the same session. NULL when
 * 'session_b64' is not base64. */
char *mhBrokerSessionDigest(const char *session_b64);

/* A launch bundle for the guest on the platform of this PDH and chain.
 * 'current_digest' (may be NULL): mhBrokerSessionDigest() of the session
 * the host's definition already carries; when that is one issued for this
 * guest and platform and not yet used, out->current is set instead, and
 * no new launch is made. */
bool mhBrokerIssueBundle(MhBrokerStore *store, const char *peer, const char *uuid,
                         const char *pdh_b64, const char *chain_b64,
                         const char *current_digest, MhBrokerBundle *out,
                         MhBrokerOutcome *outcome, GError **error);

typedef struct {
    const char *launch_id;
    const char *measurement_b64;    /* MAC || MNONCE, 48 bytes */
    MhSevBuild build;
    uint32_t policy;
} MhBrokerSecretRequest;

bool mhBrokerReleaseSecret(MhBrokerStore *store, const char *peer,
                           const MhBrokerSecretRequest *req, char **header_b64,
                           char **secret_b64, MhBrokerOutcome *outcome, GError **error);
