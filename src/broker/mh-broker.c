/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker.h"

#include "owner/mh-owner-launch.h"
#include "owner/mh-sev-chain.h"
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

#define LAUNCH_ID_SIZE 16

static bool
mhBrokerRefuse(MhBrokerOutcome *outcome, MhBrokerRefusal kind, const char *field)
{
    outcome->kind = kind;
    outcome->field = field;
    return false;
}

/* Write the audit entry of a refusal in its own transaction, after the
 * request's changes were rolled back; a failure to log is reported on
 * stderr and does not hide the refusal. */
static void
mhBrokerAuditRefusal(MhBrokerStore *store, const char *peer, const char *action,
                     const char *uuid, const char *platform, const GError *why)
{
    g_autoptr(GError) err = NULL;

    mhBrokerStoreRollback(store);
    if (!mhBrokerStoreBegin(store, &err) ||
        !mhBrokerStoreAudit(store, peer, action, uuid, platform, false,
                            why ? why->message : "", &err) ||
        !mhBrokerStoreCommit(store, &err)) {
        mhBrokerStoreRollback(store);
        g_printerr("virt-mh broker: %s\n", err->message);
    }
}

static bool
mhBrokerCheckUuid(const char *uuid, MhBrokerOutcome *outcome, GError **error)
{
    uint8_t raw[MH_UTIL_GUID_SIZE];

    if (!uuid || !mhUtilGuidParse(uuid, raw, NULL)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'uuid' is not a UUID: '%s'"),
                    uuid ? uuid : "");
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "uuid");
    }
    return true;
}

static bool
mhBrokerEnrollDo(MhBrokerStore *store, const char *peer, const MhBrokerEnrolment *req,
                 uint32_t *key_id, MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhSecret) fresh = NULL;
    g_autoptr(GBytes) digest = NULL;
    const MhSecret *key = req->key;
    MhBrokerGuest guest = { 0 };
    g_autofree char *reason = NULL;

    if (!mhBrokerCheckUuid(req->uuid, outcome, error))
        return false;
    if (req->policy & MH_BROKER_POLICY_NOSEND) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'policy' 0x%04x has NOSEND (0x0008): such a guest can never migrate"),
                    req->policy);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "policy");
    }
    if (!req->firmware_digest ||
        !mhUtilParseHex("firmware_digest", req->firmware_digest, MH_SEV_DIGEST_SIZE,
                        &digest, error)) {
        if (error && !*error)
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'firmware_digest' is missing"));
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "firmware_digest");
    }
    if (!key) {
        fresh = mhSecretNew(32);
        if (!mhUtilRandom(fresh->data, fresh->len, error))
            return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
        key = fresh;
    }
    if (!mhSevMigrationKeyId(key, &guest.key_id, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "migration_key");
    guest.uuid = (char *)req->uuid;
    guest.policy = req->policy;
    guest.firmware_digest = g_ascii_strdown(req->firmware_digest, -1);
    reason = g_strdup_printf("policy 0x%04x, firmware %.16s, key 0x%08x",
                             req->policy, guest.firmware_digest, guest.key_id);
    if (!mhBrokerStoreBegin(store, error) ||
        !mhBrokerStoreAddGuest(store, &guest, key, error) ||
        !mhBrokerStoreAudit(store, peer, "enroll", req->uuid, NULL, true, reason, error) ||
        !mhBrokerStoreCommit(store, error)) {
        g_free(guest.firmware_digest);
        mhBrokerStoreRollback(store);
        return mhBrokerRefuse(outcome, g_error_matches(*error, MH_ERROR, MH_ERROR_STATE) ?
                              MH_BROKER_REFUSE_CONFLICT : MH_BROKER_REFUSE_INTERNAL, "uuid");
    }
    g_free(guest.firmware_digest);
    *key_id = guest.key_id;
    return true;
}

bool
mhBrokerEnroll(MhBrokerStore *store, const char *peer, const MhBrokerEnrolment *req,
               uint32_t *key_id, MhBrokerOutcome *outcome, GError **error)
{
    if (mhBrokerEnrollDo(store, peer, req, key_id, outcome, error))
        return true;
    mhBrokerAuditRefusal(store, peer, "enroll", req->uuid, NULL, *error);
    return false;
}

static bool
mhBrokerRevokeDo(MhBrokerStore *store, const char *peer, const char *uuid,
                 MhBrokerOutcome *outcome, GError **error)
{
    if (!mhBrokerCheckUuid(uuid, outcome, error))
        return false;
    if (!mhBrokerStoreBegin(store, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!mhBrokerStoreRevokeGuest(store, uuid, error)) {
        mhBrokerStoreRollback(store);
        g_clear_error(error);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("guest %s is not enrolled"), uuid);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_NOT_FOUND, "uuid");
    }
    if (!mhBrokerStoreAudit(store, peer, "revoke", uuid, NULL, true, "revoked", error) ||
        !mhBrokerStoreCommit(store, error)) {
        mhBrokerStoreRollback(store);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    }
    return true;
}

bool
mhBrokerRevoke(MhBrokerStore *store, const char *peer, const char *uuid,
               MhBrokerOutcome *outcome, GError **error)
{
    if (mhBrokerRevokeDo(store, peer, uuid, outcome, error))
        return true;
    mhBrokerAuditRefusal(store, peer, "revoke", uuid, NULL, *error);
    return false;
}

bool
mhBrokerTrustPlatform(MhBrokerStore *store, const char *peer, const char *pdh_b64,
                      const char *chain_b64, char **id, char **oca,
                      MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhSevChain) chain = NULL;
    g_autofree char *cek_fp = NULL;
    g_autofree char *oca_fp = NULL;

    if (!pdh_b64 || !chain_b64) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' is missing"),
                    !pdh_b64 ? "pdh" : "cert_chain");
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST,
                              !pdh_b64 ? "pdh" : "cert_chain");
    }
    if (!(chain = mhSevChainParse(pdh_b64, chain_b64, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "cert_chain");
    cek_fp = mhSevCertFingerprint(chain->cek);
    oca_fp = mhSevCertFingerprint(chain->oca);
    if (!mhBrokerStoreBegin(store, error) ||
        !mhBrokerStoreAddPlatform(store, cek_fp, oca_fp, error) ||
        !mhBrokerStoreAudit(store, peer, "trust-platform", NULL, cek_fp, true,
                            "certificate chain verified", error) ||
        !mhBrokerStoreCommit(store, error)) {
        mhBrokerStoreRollback(store);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    }
    *id = g_steal_pointer(&cek_fp);
    *oca = g_steal_pointer(&oca_fp);
    return true;
}

void
mhBrokerBundleClear(MhBrokerBundle *bundle)
{
    bundle->current = false;
    g_clear_pointer(&bundle->launch_id, g_free);
    g_clear_pointer(&bundle->godh_b64, g_free);
    g_clear_pointer(&bundle->session_b64, g_free);
}

/* May this guest launch on this platform? Where the guest may go is
 * decided here, where the target is known: DOMAIN keeps it within the
 * platform owner (OCA) of its first granted launch, SEV on SEV platforms
 * (every chain the broker accepts is an SEV chain; an SEV-ES or SNP
 * report would be refused before it got here). */
static bool
mhBrokerCheckPlacement(const MhBrokerGuest *guest, const MhBrokerPlatform *platform,
                       const char *oca_fp, MhBrokerOutcome *outcome, GError **error)
{
    if (guest->revoked) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("guest %s is revoked"), guest->uuid);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "uuid");
    }
    if (strcmp(platform->oca, oca_fp) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("platform %.16s presents owner certificate %.16s, trusted with %.16s"),
                    platform->id, oca_fp, platform->oca);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "cert_chain");
    }
    if ((guest->policy & MH_BROKER_POLICY_DOMAIN) && guest->owner_domain &&
        strcmp(guest->owner_domain, oca_fp) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("policy 0x%04x has DOMAIN: platform owner %.16s is not the guest's "
                      "owner domain %.16s"), guest->policy, oca_fp, guest->owner_domain);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "pdh");
    }
    return true;
}

char *
mhBrokerSessionDigest(const char *session_b64)
{
    g_autoptr(GBytes) bytes = NULL;

    if (!mhUtilDecodeBase64("session", session_b64, &bytes, NULL) ||
        g_bytes_get_size(bytes) == 0)
        return NULL;
    return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);
}

/* Does the host's session still stand? Only when the broker issued it for
 * this guest on this platform and no secret was released for it: a used
 * session is spent, and one for another platform cannot launch here. */
static bool
mhBrokerSessionCurrent(MhBrokerStore *store, const char *uuid, const char *cek_fp,
                       const char *current_digest, GError **error)
{
    g_autoptr(MhBrokerLaunch) launch = NULL;

    if (!current_digest ||
        !(launch = mhBrokerStoreFindLaunchBySession(store, current_digest, error)))
        return false;
    return strcmp(launch->uuid, uuid) == 0 && strcmp(launch->platform, cek_fp) == 0 &&
        strcmp(launch->state, "issued") == 0;
}

static bool
mhBrokerBundleDecide(MhBrokerStore *store, const char *peer, const char *uuid,
                     const MhSevChain *chain, const char *cek_fp, const char *current_digest,
                     MhBrokerBundle *out, MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhBrokerGuest) guest = NULL;
    g_autoptr(MhBrokerPlatform) platform = NULL;
    g_autoptr(MhSevOwnerSession) session = NULL;
    g_autofree char *oca_fp = mhSevCertFingerprint(chain->oca);
    g_autofree char *digest = NULL;
    uint8_t id[LAUNCH_ID_SIZE];

    if (!(platform = mhBrokerStoreGetPlatform(store, cek_fp, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "cert_chain");
    if (!(guest = mhBrokerStoreGetGuest(store, uuid, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_NOT_FOUND, "uuid");
    if (!mhBrokerCheckPlacement(guest, platform, oca_fp, outcome, error))
        return false;
    if (mhBrokerSessionCurrent(store, uuid, cek_fp, current_digest, error)) {
        out->current = true;
        if (!mhBrokerStoreAudit(store, peer, "bundle", uuid, cek_fp, true,
                                "trusted platform, the host's unused session stands", error))
            return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
        return true;
    }
    if (error && *error)
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!(session = mhSevOwnerSessionNew(chain->pdh, guest->policy, error)) ||
        !mhUtilRandom(id, sizeof(id), error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    out->launch_id = mhUtilFormatHex(id, sizeof(id));
    out->godh_b64 = mhSevCertToBase64(session->godh);
    out->session_b64 = g_base64_encode((const guchar *)&session->session,
                                       sizeof(session->session));
    out->policy = guest->policy;
    digest = mhBrokerSessionDigest(out->session_b64);
    if (!mhBrokerStoreAddLaunch(store, out->launch_id, uuid, cek_fp, session->tk, digest,
                                error) ||
        !mhBrokerStoreAudit(store, peer, "bundle", uuid, cek_fp, true,
                            "trusted platform, session issued", error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    return true;
}

bool
mhBrokerIssueBundle(MhBrokerStore *store, const char *peer, const char *uuid,
                    const char *pdh_b64, const char *chain_b64, const char *current_digest,
                    MhBrokerBundle *out, MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhSevChain) chain = NULL;
    g_autofree char *cek_fp = NULL;

    memset(out, 0, sizeof(*out));
    if (!mhBrokerCheckUuid(uuid, outcome, error))
        return false;
    if (!pdh_b64 || !chain_b64 || !(chain = mhSevChainParse(pdh_b64, chain_b64, error))) {
        if (error && !*error)
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' is missing"),
                        !pdh_b64 ? "pdh" : "cert_chain");
        mhBrokerAuditRefusal(store, peer, "bundle", uuid, NULL, *error);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST,
                              !pdh_b64 ? "pdh" : "cert_chain");
    }
    cek_fp = mhSevCertFingerprint(chain->cek);
    if (!mhBrokerStoreBegin(store, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!mhBrokerBundleDecide(store, peer, uuid, chain, cek_fp, current_digest, out, outcome,
                              error) ||
        (!mhBrokerStoreCommit(store, error) &&
         !mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL))) {
        mhBrokerAuditRefusal(store, peer, "bundle", uuid, cek_fp, *error);
        mhBrokerBundleClear(out);
        return false;
    }
    return true;
}

/* The secret table for a verified launch: the migration-key entry, sealed
 * for this launch's TEK and bound to its measurement. */
static bool
mhBrokerSealKey(MhBrokerStore *store, const MhBrokerLaunch *launch, const MhSecret *tk,
                const uint8_t *measurement, char **header_b64, char **secret_b64,
                GError **error)
{
    g_autoptr(MhSecret) key = NULL;
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) plain = NULL;
    g_autoptr(GBytes) sealed = NULL;
    uint8_t header[MH_SEV_PACKET_HEADER_SIZE];

    if (!(key = mhBrokerStoreGetGuestKey(store, launch->uuid, error)) ||
        !mhSevSecretTableAddMigrationKey(table, key, error) ||
        !(plain = mhSevSecretTableBuild(table, error)) ||
        !mhSevOwnerSeal(tk, measurement, MH_SEV_MEASUREMENT_SIZE, plain->data, plain->len,
                        NULL, header, &sealed, error))
        return false;
    *header_b64 = g_base64_encode(header, sizeof(header));
    *secret_b64 = g_base64_encode(g_bytes_get_data(sealed, NULL), g_bytes_get_size(sealed));
    return true;
}

static bool
mhBrokerSecretDecide(MhBrokerStore *store, const char *peer, const MhBrokerSecretRequest *req,
                     const MhBrokerLaunch *launch, char **header_b64, char **secret_b64,
                     MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhBrokerGuest) guest = NULL;
    g_autoptr(MhBrokerPlatform) platform = NULL;
    g_autoptr(MhSecret) tk = NULL;
    g_autoptr(GBytes) digest = NULL;
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];
    g_autofree char *reason = NULL;

    if (strcmp(launch->state, "issued") != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("replayed launch id: already used"));
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_CONFLICT, "launch_id");
    }
    /* Read the TEK||TIK before the use wipes it. */
    if (!(tk = mhBrokerStoreGetLaunchTk(store, launch->id, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!mhBrokerStoreUseLaunch(store, launch->id, error)) {
        g_prefix_error(error, _("replayed launch id: "));
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_CONFLICT, "launch_id");
    }
    if (!(guest = mhBrokerStoreGetGuest(store, launch->uuid, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_NOT_FOUND, "launch_id");
    if (!(platform = mhBrokerStoreGetPlatform(store, launch->platform, error)))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "launch_id");
    if (!mhBrokerCheckPlacement(guest, platform, platform->oca, outcome, error))
        return false;
    if (req->policy != guest->policy) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("the launch reports policy 0x%04x, the guest is enrolled with 0x%04x"),
                    req->policy, guest->policy);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "policy");
    }
    if (!req->measurement_b64 ||
        !mhOwnerParseMeasurement(req->measurement_b64, measurement, error)) {
        if (error && !*error)
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'measurement' is missing"));
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_BAD_REQUEST, "measurement");
    }
    if (!mhUtilParseHex("firmware", guest->firmware_digest, MH_SEV_DIGEST_SIZE, &digest,
                        error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!mhSevOwnerVerify(tk, &req->build, req->policy, g_bytes_get_data(digest, NULL),
                          measurement, sizeof(measurement), error)) {
        g_prefix_error(error, _("measurement does not match an allowed firmware: "));
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_FORBIDDEN, "measurement");
    }
    if (!mhBrokerSealKey(store, launch, tk, measurement, header_b64, secret_b64, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    if (!guest->owner_domain &&
        !mhBrokerStoreSetOwnerDomain(store, guest->uuid, platform->oca, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    reason = g_strdup_printf("measurement verified (API %u.%u build %u, policy 0x%04x), "
                             "key 0x%08x released", req->build.api_major, req->build.api_minor,
                             req->build.build_id, req->policy, guest->key_id);
    if (!mhBrokerStoreAudit(store, peer, "secret", guest->uuid, platform->id, true, reason,
                            error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    return true;
}

bool
mhBrokerReleaseSecret(MhBrokerStore *store, const char *peer,
                      const MhBrokerSecretRequest *req, char **header_b64,
                      char **secret_b64, MhBrokerOutcome *outcome, GError **error)
{
    g_autoptr(MhBrokerLaunch) launch = NULL;
    g_autoptr(GError) keep = NULL;
    bool ok;

    *header_b64 = *secret_b64 = NULL;
    if (!req->launch_id || !(launch = mhBrokerStoreGetLaunch(store, req->launch_id, NULL))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("unknown launch id '%s'"),
                    req->launch_id ? req->launch_id : "");
        mhBrokerAuditRefusal(store, peer, "secret", NULL, NULL, *error);
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_NOT_FOUND, "launch_id");
    }
    if (!mhBrokerStoreBegin(store, error))
        return mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
    ok = mhBrokerSecretDecide(store, peer, req, launch, header_b64, secret_b64, outcome, error);
    if (!ok && outcome->kind != MH_BROKER_REFUSE_INTERNAL &&
        outcome->kind != MH_BROKER_REFUSE_CONFLICT) {
        /* A refused launch stays used: its TEK is gone for good. */
        if (mhBrokerStoreAudit(store, peer, "secret", launch->uuid, launch->platform, false,
                               (*error)->message, &keep) &&
            mhBrokerStoreCommit(store, &keep))
            return false;
        g_printerr("virt-mh broker: %s\n", keep->message);
        mhBrokerStoreRollback(store);
        return false;
    }
    if (!ok || !mhBrokerStoreCommit(store, error)) {
        if (ok)
            mhBrokerRefuse(outcome, MH_BROKER_REFUSE_INTERNAL, NULL);
        mhBrokerAuditRefusal(store, peer, "secret", launch->uuid, launch->platform, *error);
        g_clear_pointer(header_b64, g_free);
        g_clear_pointer(secret_b64, g_free);
        return false;
    }
    return true;
}
