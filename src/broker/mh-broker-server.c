/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker-server.h"

#include "broker/mh-broker.h"
#include "owner/mh-sev-crypto.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <openssl/crypto.h>

#define ADMIN_TOKEN_BYTES 32

struct _MhBrokerServer {
    SoupServer *soup;
    MhBrokerStore *store;
    char *token;
    char *url;
};

typedef struct {
    MhBrokerServer *server;
    const char *peer;
    const char *tail;           /* the path after the route's prefix */
    GHashTable *query;
    JsonObject *body;           /* NULL for GET and DELETE */
} MhBrokerCall;

/* Fill *reply (a new object) and return the HTTP status, or return 0 with
 * *outcome and *error set. */
typedef guint (*MhBrokerHandler)(MhBrokerCall *call, JsonObject *reply,
                                 MhBrokerOutcome *outcome, GError **error);

typedef struct {
    const char *method;
    const char *path;           /* exact, or a prefix when it ends in '/' */
    bool admin;
    MhBrokerHandler handler;
} MhBrokerRoute;

/* ---- request fields ---- */

static bool
mhBrokerFieldString(JsonObject *body, const char *name, bool required, const char **out,
                    MhBrokerOutcome *outcome, GError **error)
{
    JsonNode *node = body ? json_object_get_member(body, name) : NULL;

    *out = NULL;
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        if (!required)
            return true;
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' is missing"), name);
    } else if (JSON_NODE_HOLDS_VALUE(node) &&
               json_node_get_value_type(node) == G_TYPE_STRING) {
        *out = json_node_get_string(node);
        return true;
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' must be a string"), name);
    }
    outcome->kind = MH_BROKER_REFUSE_BAD_REQUEST;
    outcome->field = name;
    return false;
}

static bool
mhBrokerFieldUInt(JsonObject *body, const char *name, guint64 max, guint64 *out,
                  MhBrokerOutcome *outcome, GError **error)
{
    JsonNode *node = body ? json_object_get_member(body, name) : NULL;

    if (!node) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' is missing"), name);
    } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64 &&
               json_node_get_int(node) >= 0 && (guint64)json_node_get_int(node) <= max) {
        *out = json_node_get_int(node);
        return true;
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' must be an integer from 0 to %llu"), name, (unsigned long long)max);
    }
    outcome->kind = MH_BROKER_REFUSE_BAD_REQUEST;
    outcome->field = name;
    return false;
}

/* ---- host API ---- */

static guint
mhBrokerHandleBundle(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                     GError **error)
{
    const char *uuid, *pdh, *chain, *current;
    g_autofree char *digest = NULL;
    MhBrokerBundle bundle;

    if (!mhBrokerFieldString(call->body, "uuid", true, &uuid, outcome, error) ||
        !mhBrokerFieldString(call->body, "pdh", true, &pdh, outcome, error) ||
        !mhBrokerFieldString(call->body, "cert_chain", true, &chain, outcome, error) ||
        !mhBrokerFieldString(call->body, "current_session", false, &current, outcome, error))
        return 0;
    if (current && !(digest = mhBrokerSessionDigest(current))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s' is not base64"),
                    "current_session");
        outcome->kind = MH_BROKER_REFUSE_BAD_REQUEST;
        outcome->field = "current_session";
        return 0;
    }
    if (!mhBrokerIssueBundle(call->server->store, call->peer, uuid, pdh, chain, digest,
                             &bundle, outcome, error))
        return 0;
    if (bundle.current) {
        json_object_set_boolean_member(reply, "current", TRUE);
        return SOUP_STATUS_OK;
    }
    json_object_set_string_member(reply, "launch_id", bundle.launch_id);
    json_object_set_string_member(reply, "godh", bundle.godh_b64);
    json_object_set_string_member(reply, "session", bundle.session_b64);
    json_object_set_int_member(reply, "policy", bundle.policy);
    mhBrokerBundleClear(&bundle);
    return SOUP_STATUS_OK;
}

static guint
mhBrokerHandleSecret(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                     GError **error)
{
    MhBrokerSecretRequest req = { 0 };
    g_autofree char *header = NULL;
    g_autofree char *secret = NULL;
    guint64 major = 0, minor = 0, build = 0, policy = 0;

    if (!mhBrokerFieldString(call->body, "launch_id", true, &req.launch_id, outcome, error) ||
        !mhBrokerFieldString(call->body, "measurement", true, &req.measurement_b64,
                             outcome, error) ||
        !mhBrokerFieldUInt(call->body, "api_major", 255, &major, outcome, error) ||
        !mhBrokerFieldUInt(call->body, "api_minor", 255, &minor, outcome, error) ||
        !mhBrokerFieldUInt(call->body, "build_id", 255, &build, outcome, error) ||
        !mhBrokerFieldUInt(call->body, "policy", G_MAXUINT32, &policy, outcome, error))
        return 0;
    req.build = (MhSevBuild){ major, minor, build };
    req.policy = policy;
    if (!mhBrokerReleaseSecret(call->server->store, call->peer, &req, &header, &secret,
                               outcome, error))
        return 0;
    json_object_set_string_member(reply, "header", header);
    json_object_set_string_member(reply, "secret", secret);
    return SOUP_STATUS_OK;
}

/* ---- admin API ---- */

static guint
mhBrokerHandleEnroll(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                     GError **error)
{
    MhBrokerEnrolment req = { 0 };
    const char *key_b64 = NULL;
    g_autoptr(GBytes) key_raw = NULL;
    g_autoptr(MhSecret) key = NULL;
    guint64 policy = 0;
    uint32_t key_id = 0;

    if (!mhBrokerFieldString(call->body, "uuid", true, &req.uuid, outcome, error) ||
        !mhBrokerFieldUInt(call->body, "policy", G_MAXUINT32, &policy, outcome, error) ||
        !mhBrokerFieldString(call->body, "firmware_digest", true, &req.firmware_digest,
                             outcome, error) ||
        !mhBrokerFieldString(call->body, "migration_key", false, &key_b64, outcome, error))
        return 0;
    if (key_b64) {
        if (!mhUtilDecodeBase64("migration_key", key_b64, &key_raw, error) ||
            g_bytes_get_size(key_raw) != 32) {
            g_clear_error(error);
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("'migration_key' must be 32 bytes in base64"));
            outcome->kind = MH_BROKER_REFUSE_BAD_REQUEST;
            outcome->field = "migration_key";
            return 0;
        }
        key = mhSecretNewFrom(g_bytes_get_data(key_raw, NULL), 32);
        req.key = key;
    }
    req.policy = policy;
    if (!mhBrokerEnroll(call->server->store, call->peer, &req, &key_id, outcome, error))
        return 0;
    json_object_set_string_member(reply, "uuid", req.uuid);
    json_object_set_int_member(reply, "key_id", key_id);
    return SOUP_STATUS_CREATED;
}

static guint
mhBrokerHandleRevoke(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                     GError **error)
{
    if (!mhBrokerRevoke(call->server->store, call->peer, call->tail, outcome, error))
        return 0;
    json_object_set_string_member(reply, "uuid", call->tail);
    json_object_set_boolean_member(reply, "revoked", TRUE);
    return SOUP_STATUS_OK;
}

static guint
mhBrokerHandleTrust(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                    GError **error)
{
    const char *pdh, *chain;
    g_autofree char *id = NULL;
    g_autofree char *oca = NULL;

    if (!mhBrokerFieldString(call->body, "pdh", true, &pdh, outcome, error) ||
        !mhBrokerFieldString(call->body, "cert_chain", true, &chain, outcome, error) ||
        !mhBrokerTrustPlatform(call->server->store, call->peer, pdh, chain, &id, &oca,
                               outcome, error))
        return 0;
    json_object_set_string_member(reply, "id", id);
    json_object_set_string_member(reply, "oca", oca);
    return SOUP_STATUS_CREATED;
}

static guint
mhBrokerHandleListGuests(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                         GError **error)
{
    g_autoptr(GPtrArray) guests = mhBrokerStoreListGuests(call->server->store, error);
    JsonArray *arr = json_array_new();

    if (!guests) {
        json_array_unref(arr);
        outcome->kind = MH_BROKER_REFUSE_INTERNAL;
        return 0;
    }
    for (guint i = 0; i < guests->len; i++) {
        MhBrokerGuest *g = g_ptr_array_index(guests, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "uuid", g->uuid);
        json_object_set_int_member(o, "policy", g->policy);
        json_object_set_string_member(o, "firmware_digest", g->firmware_digest);
        json_object_set_int_member(o, "key_id", g->key_id);
        json_object_set_boolean_member(o, "revoked", g->revoked);
        json_object_set_string_member(o, "owner_domain", g->owner_domain);
        json_object_set_string_member(o, "enrolled", g->enrolled);
        json_array_add_object_element(arr, o);
    }
    json_object_set_array_member(reply, "guests", arr);
    return SOUP_STATUS_OK;
}

static guint
mhBrokerHandleListPlatforms(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                            GError **error)
{
    g_autoptr(GPtrArray) platforms = mhBrokerStoreListPlatforms(call->server->store, error);
    JsonArray *arr = json_array_new();

    if (!platforms) {
        json_array_unref(arr);
        outcome->kind = MH_BROKER_REFUSE_INTERNAL;
        return 0;
    }
    for (guint i = 0; i < platforms->len; i++) {
        MhBrokerPlatform *p = g_ptr_array_index(platforms, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "id", p->id);
        json_object_set_string_member(o, "oca", p->oca);
        json_object_set_string_member(o, "trusted", p->trusted);
        json_array_add_object_element(arr, o);
    }
    json_object_set_array_member(reply, "platforms", arr);
    return SOUP_STATUS_OK;
}

static guint
mhBrokerHandleLog(MhBrokerCall *call, JsonObject *reply, MhBrokerOutcome *outcome,
                  GError **error)
{
    const char *after_text = call->query ? g_hash_table_lookup(call->query, "after") : NULL;
    guint64 after = 0;
    g_autoptr(GPtrArray) entries = NULL;
    JsonArray *arr;

    if (after_text && !mhUtilParseU64("after", after_text, G_MAXINT64, &after, error)) {
        outcome->kind = MH_BROKER_REFUSE_BAD_REQUEST;
        outcome->field = "after";
        return 0;
    }
    if (!(entries = mhBrokerStoreListAudit(call->server->store, after, error))) {
        outcome->kind = MH_BROKER_REFUSE_INTERNAL;
        return 0;
    }
    arr = json_array_new();
    for (guint i = 0; i < entries->len; i++) {
        MhBrokerAudit *a = g_ptr_array_index(entries, i);
        JsonObject *o = json_object_new();

        json_object_set_int_member(o, "seq", a->seq);
        json_object_set_string_member(o, "time", a->time);
        json_object_set_string_member(o, "peer", a->peer);
        json_object_set_string_member(o, "action", a->action);
        json_object_set_string_member(o, "uuid", a->uuid);
        json_object_set_string_member(o, "platform", a->platform);
        json_object_set_boolean_member(o, "granted", a->granted);
        json_object_set_string_member(o, "reason", a->reason);
        json_array_add_object_element(arr, o);
    }
    json_object_set_array_member(reply, "entries", arr);
    return SOUP_STATUS_OK;
}

static const MhBrokerRoute mhBrokerRoutes[] = {
    { "POST", "/v1/bundle", false, mhBrokerHandleBundle },
    { "POST", "/v1/secret", false, mhBrokerHandleSecret },
    { "POST", "/admin/v1/guests", true, mhBrokerHandleEnroll },
    { "GET", "/admin/v1/guests", true, mhBrokerHandleListGuests },
    { "DELETE", "/admin/v1/guests/", true, mhBrokerHandleRevoke },
    { "POST", "/admin/v1/platforms", true, mhBrokerHandleTrust },
    { "GET", "/admin/v1/platforms", true, mhBrokerHandleListPlatforms },
    { "GET", "/admin/v1/log", true, mhBrokerHandleLog },
    { NULL, NULL, false, NULL },
};

/* ---- dispatch ---- */

static void
mhBrokerRespond(SoupServerMessage *msg, guint status, JsonObject *body)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    gsize len = 0;
    char *text;

    json_node_set_object(root, body);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, &len);
    /* One request per connection: libsoup 3.2's server never notices a
     * client closing an idle keep-alive connection, whose socket then stays
     * open for good (CLOSE-WAIT); closing after each reply bounds the
     * broker's open files whatever its clients do. */
    soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                 "Connection", "close");
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

static void
mhBrokerRespondError(SoupServerMessage *msg, guint status, const char *field,
                     const char *message)
{
    g_autoptr(JsonObject) body = json_object_new();
    JsonObject *err = json_object_new();

    json_object_set_int_member(err, "status", status);
    if (field)
        json_object_set_string_member(err, "field", field);
    else
        json_object_set_null_member(err, "field");
    json_object_set_string_member(err, "message", message);
    json_object_set_object_member(body, "error", err);
    mhBrokerRespond(msg, status, body);
}

static guint
mhBrokerRefusalStatus(MhBrokerRefusal kind)
{
    switch (kind) {
    case MH_BROKER_REFUSE_BAD_REQUEST: return SOUP_STATUS_BAD_REQUEST;
    case MH_BROKER_REFUSE_FORBIDDEN: return SOUP_STATUS_FORBIDDEN;
    case MH_BROKER_REFUSE_NOT_FOUND: return SOUP_STATUS_NOT_FOUND;
    case MH_BROKER_REFUSE_CONFLICT: return SOUP_STATUS_CONFLICT;
    case MH_BROKER_REFUSE_INTERNAL: break;
    }
    return SOUP_STATUS_INTERNAL_SERVER_ERROR;
}

static bool
mhBrokerAuthorized(MhBrokerServer *server, SoupServerMessage *msg)
{
    const char *auth = soup_message_headers_get_one(
        soup_server_message_get_request_headers(msg), "Authorization");
    size_t want = strlen(server->token);

    if (!auth || !g_str_has_prefix(auth, "Bearer ") || strlen(auth + 7) != want)
        return false;
    return CRYPTO_memcmp(auth + 7, server->token, want) == 0;
}

static const MhBrokerRoute *
mhBrokerFindRoute(const char *method, const char *path, const char **tail, bool *path_known)
{
    *path_known = false;
    for (const MhBrokerRoute *r = mhBrokerRoutes; r->method; r++) {
        size_t n = strlen(r->path);
        bool prefix = r->path[n - 1] == '/';

        if (prefix ? (strncmp(path, r->path, n) != 0 || !path[n] || strchr(path + n, '/'))
                   : strcmp(path, r->path) != 0)
            continue;
        *path_known = true;
        if (strcmp(method, r->method) == 0) {
            *tail = path + (prefix ? n : strlen(path));
            return r;
        }
    }
    return NULL;
}

static JsonObject *
mhBrokerParseBody(SoupServerMessage *msg, GError **error)
{
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    JsonNode *root;

    if (!body->length || !body->data) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("the request has no JSON body"));
        return NULL;
    }
    if (!json_parser_load_from_data(parser, body->data, body->length, error)) {
        g_prefix_error(error, _("malformed JSON: "));
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("the body must be a JSON object"));
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}

static void
mhBrokerDispatch(SoupServer *soup, SoupServerMessage *msg, const char *path,
                 GHashTable *query, gpointer data)
{
    MhBrokerServer *server = data;
    const char *method = soup_server_message_get_method(msg);
    const char *tail = NULL;
    bool path_known;
    const MhBrokerRoute *route = mhBrokerFindRoute(method, path, &tail, &path_known);
    g_autoptr(JsonObject) body = NULL;
    g_autoptr(JsonObject) reply = json_object_new();
    g_autoptr(GError) err = NULL;
    MhBrokerOutcome outcome = { MH_BROKER_REFUSE_INTERNAL, NULL };
    MhBrokerCall call = { server, soup_server_message_get_remote_host(msg), NULL, query, NULL };
    guint status;

    if (!route) {
        mhBrokerRespondError(msg, path_known ? SOUP_STATUS_METHOD_NOT_ALLOWED :
                             SOUP_STATUS_NOT_FOUND, NULL,
                             path_known ? _("method not allowed") : _("no such resource"));
        return;
    }
    if (route->admin && !mhBrokerAuthorized(server, msg)) {
        mhBrokerStoreAudit(server->store, call.peer, "admin", NULL, NULL, false,
                           "missing or wrong admin token", NULL);
        mhBrokerRespondError(msg, SOUP_STATUS_UNAUTHORIZED, "Authorization",
                             _("missing or wrong admin token"));
        return;
    }
    if (strcmp(method, "POST") == 0 && !(body = mhBrokerParseBody(msg, &err))) {
        mhBrokerRespondError(msg, SOUP_STATUS_BAD_REQUEST, NULL, err->message);
        return;
    }
    call.tail = tail;
    call.body = body;
    if (!(status = route->handler(&call, reply, &outcome, &err))) {
        status = mhBrokerRefusalStatus(outcome.kind);
        if (status >= 500)
            g_printerr("virt-mh broker: %s %s: %s\n", method, path, err ? err->message : "?");
        mhBrokerRespondError(msg, status, outcome.field,
                             err ? err->message : _("internal error"));
        return;
    }
    mhBrokerRespond(msg, status, reply);
}

/* Refuse an oversized or unbounded body from its headers, before libsoup
 * reads any of it. */
static void
mhBrokerEarly(SoupServer *soup, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer data)
{
    SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
    SoupEncoding enc = soup_message_headers_get_encoding(headers);

    if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF ||
        (enc == SOUP_ENCODING_CONTENT_LENGTH &&
         soup_message_headers_get_content_length(headers) > MH_BROKER_MAX_BODY)) {
        g_autofree char *why = g_strdup_printf(_("the body must have a Content-Length of at "
                                                 "most %d bytes"), MH_BROKER_MAX_BODY);

        mhBrokerRespondError(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "Content-Length", why);
    }
}

/* ---- life cycle ---- */

static char *
mhBrokerLoadToken(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "admin.token", NULL);
    g_autofree char *text = NULL;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        uint8_t raw[ADMIN_TOKEN_BYTES];
        g_autofree char *token = NULL;
        g_autofree char *line = NULL;

        if (!mhUtilRandom(raw, sizeof(raw), error))
            return NULL;
        token = mhUtilFormatHex(raw, sizeof(raw));
        mhUtilWipe(raw, sizeof(raw));
        line = g_strdup_printf("%s\n", token);
        if (!mhUtilCreateFile(path, line, strlen(line), 0600, error))
            return NULL;
    }
    if (!mhUtilReadFile(path, &text, NULL, error))
        return NULL;
    g_strstrip(text);
    if (strlen(text) < 32) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s': the admin token is too short"), path);
        return NULL;
    }
    return g_steal_pointer(&text);
}

static GSocketAddress *
mhBrokerParseListen(const char *listen, GError **error)
{
    g_autoptr(GSocketConnectable) conn = NULL;
    g_autoptr(GSocketAddressEnumerator) en = NULL;
    GSocketAddress *addr;

    if (!listen || !strrchr(listen, ':') ||
        !(conn = g_network_address_parse(listen, 0, NULL))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--listen: expected HOST:PORT, got '%s'"), listen ? listen : "");
        return NULL;
    }
    en = g_socket_connectable_enumerate(conn);
    if (!(addr = g_socket_address_enumerator_next(en, NULL, error)))
        g_prefix_error(error, _("--listen '%s': "), listen);
    return addr;
}

void
mhBrokerServerFree(MhBrokerServer *server)
{
    if (!server)
        return;
    if (server->soup) {
        soup_server_disconnect(server->soup);
        g_object_unref(server->soup);
    }
    mhBrokerStoreFree(server->store);
    if (server->token)
        mhUtilWipe(server->token, strlen(server->token));
    g_free(server->token);
    g_free(server->url);
    g_free(server);
}

MhBrokerServer *
mhBrokerServerNew(const MhBrokerServerOptions *opts, GError **error)
{
    g_autoptr(MhBrokerServer) server = g_new0(MhBrokerServer, 1);
    g_autoptr(GTlsCertificate) cert = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    GSList *uris;

    if (!opts->plain_http && (!opts->tls_cert || !opts->tls_key)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("give --tls-cert FILE and --tls-key FILE, or --plain-http"));
        return NULL;
    }
    if (!(addr = mhBrokerParseListen(opts->listen, error)))
        return NULL;
    if (!opts->plain_http &&
        !(cert = g_tls_certificate_new_from_files(opts->tls_cert, opts->tls_key, error))) {
        g_prefix_error(error, _("TLS certificate '%s': "), opts->tls_cert);
        return NULL;
    }
    if (!(server->store = mhBrokerStoreOpen(opts->state_dir, error)) ||
        !(server->token = mhBrokerLoadToken(opts->state_dir, error)))
        return NULL;
    server->soup = g_object_new(SOUP_TYPE_SERVER, "server-header", "virt-mh-broker",
                                cert ? "tls-certificate" : NULL, cert, NULL);
    soup_server_add_early_handler(server->soup, NULL, mhBrokerEarly, server, NULL);
    soup_server_add_handler(server->soup, NULL, mhBrokerDispatch, server, NULL);
    if (!soup_server_listen(server->soup, addr,
                            opts->plain_http ? 0 : SOUP_SERVER_LISTEN_HTTPS, error)) {
        g_prefix_error(error, _("cannot listen on %s: "), opts->listen);
        return NULL;
    }
    uris = soup_server_get_uris(server->soup);
    server->url = uris ? g_uri_to_string(uris->data) : g_strdup("?");
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    return g_steal_pointer(&server);
}

const char *
mhBrokerServerGetUrl(MhBrokerServer *server)
{
    return server->url;
}
