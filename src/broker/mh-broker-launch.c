/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker-launch.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

static const char *
mhBrokerReplyString(JsonObject *reply, const char *name)
{
    const char *v = json_object_get_string_member_with_default(reply, name, NULL);

    return v && *v ? v : NULL;
}

bool
mhBrokerRequestBundle(MhBrokerClient *client, const char *uuid, const MhSevChain *chain,
                      const char *current_session, MhBrokerBundle *out, GError **error)
{
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autofree char *pdh = mhSevCertToBase64(chain->pdh);
    g_autofree char *certs = mhSevChainFormatBase64(chain);
    const char *id, *godh, *session;

    memset(out, 0, sizeof(*out));
    json_object_set_string_member(body, "uuid", uuid);
    json_object_set_string_member(body, "pdh", pdh);
    json_object_set_string_member(body, "cert_chain", certs);
    if (current_session)
        json_object_set_string_member(body, "current_session", current_session);
    if (!(reply = mhBrokerClientCall(client, "POST", "/v1/bundle", body, error)))
        return false;
    if (current_session &&
        json_object_get_boolean_member_with_default(reply, "current", FALSE)) {
        out->current = true;
        return true;
    }
    id = mhBrokerReplyString(reply, "launch_id");
    godh = mhBrokerReplyString(reply, "godh");
    session = mhBrokerReplyString(reply, "session");
    /* The id names files on the host: nothing but hex gets through. */
    if (!id || !godh || !session || strspn(id, "0123456789abcdef") != strlen(id)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the key broker sent an incomplete launch bundle"));
        return false;
    }
    out->launch_id = g_strdup(id);
    out->godh_b64 = g_strdup(godh);
    out->session_b64 = g_strdup(session);
    out->policy = json_object_get_int_member_with_default(reply, "policy", 0);
    return true;
}

bool
mhBrokerAttestInject(MhBrokerClient *client, const char *launch_id,
                     const MhOwnerLaunch *launch, MhOwnerLaunchReport *report, GError **error)
{
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autofree char *meas = NULL;
    const char *header, *secret;

    if (!launch->ops->report(launch->data, report, error))
        return false;
    meas = g_base64_encode(report->measurement, sizeof(report->measurement));
    json_object_set_string_member(body, "launch_id", launch_id);
    json_object_set_string_member(body, "measurement", meas);
    json_object_set_int_member(body, "api_major", report->build.api_major);
    json_object_set_int_member(body, "api_minor", report->build.api_minor);
    json_object_set_int_member(body, "build_id", report->build.build_id);
    json_object_set_int_member(body, "policy", report->policy);
    if (!(reply = mhBrokerClientCall(client, "POST", "/v1/secret", body, error)))
        return false;
    header = mhBrokerReplyString(reply, "header");
    secret = mhBrokerReplyString(reply, "secret");
    if (!header || !secret) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the key broker sent an incomplete secret"));
        return false;
    }
    return launch->ops->inject(launch->data, header, secret, NULL, error);
}
