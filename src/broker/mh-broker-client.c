/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker-client.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <libsoup/soup.h>
#include <string.h>

struct _MhBrokerClient {
    SoupSession *session;
    GUri *base;
    char *url;
    char *token;
};

void
mhBrokerClientFree(MhBrokerClient *client)
{
    if (!client)
        return;
    g_clear_object(&client->session);
    if (client->base)
        g_uri_unref(client->base);
    if (client->token)
        mhUtilWipe(client->token, strlen(client->token));
    g_free(client->token);
    g_free(client->url);
    g_free(client);
}

MhBrokerClient *
mhBrokerClientNew(const char *url, const char *cacert, const char *token_file,
                  guint timeout_s, GError **error)
{
    g_autoptr(MhBrokerClient) client = g_new0(MhBrokerClient, 1);
    const char *scheme;

    if (!url || !(client->base = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, NULL)) ||
        !(scheme = g_uri_get_scheme(client->base)) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        !g_uri_get_host(client->base)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("key broker URL '%s' is not an http:// or https:// URL"), url ? url : "");
        return NULL;
    }
    client->url = g_strdup(url);
    client->session = soup_session_new_with_options("timeout", timeout_s,
                                                    "idle-timeout", timeout_s,
                                                    "user-agent", "virt-mh/" PACKAGE_VERSION,
                                                    NULL);
    if (cacert) {
        /* GTlsFileDatabase takes absolute paths only. */
        g_autofree char *abs = g_canonicalize_filename(cacert, NULL);
        g_autoptr(GTlsDatabase) db = NULL;

        if (!g_file_test(abs, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("CA file '%s' does not exist"), cacert);
            return NULL;
        }
        db = g_tls_file_database_new(abs, error);

        if (!db) {
            g_prefix_error(error, _("CA file '%s': "), cacert);
            return NULL;
        }
        soup_session_set_tls_database(client->session, db);
    }
    if (token_file) {
        if (!mhUtilReadFile(token_file, &client->token, NULL, error))
            return NULL;
        g_strstrip(client->token);
    }
    return g_steal_pointer(&client);
}

static void
mhBrokerClientRefusal(MhBrokerClient *client, guint status, GBytes *reply, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    const char *message = NULL;
    const char *field = NULL;
    JsonNode *root;

    if (reply && json_parser_load_from_data(parser, g_bytes_get_data(reply, NULL),
                                            g_bytes_get_size(reply), NULL) &&
        (root = json_parser_get_root(parser)) && JSON_NODE_HOLDS_OBJECT(root)) {
        JsonObject *err = json_object_get_object_member(json_node_get_object(root), "error");

        if (err) {
            message = json_object_get_string_member_with_default(err, "message", NULL);
            field = json_object_get_string_member_with_default(err, "field", NULL);
        }
    }
    if (field)
        g_set_error(error, MH_ERROR, status == 403 ? MH_ERROR_AUTH : MH_ERROR_INVALID,
                    _("key broker %s refused (HTTP %u, field '%s'): %s"), client->url,
                    status, field, message ? message : soup_status_get_phrase(status));
    else
        g_set_error(error, MH_ERROR, status == 403 ? MH_ERROR_AUTH : MH_ERROR_INVALID,
                    _("key broker %s refused (HTTP %u): %s"), client->url, status,
                    message ? message : soup_status_get_phrase(status));
}

JsonObject *
mhBrokerClientCall(MhBrokerClient *client, const char *method, const char *path,
                   JsonObject *body, GError **error)
{
    g_autoptr(GUri) uri = g_uri_parse_relative(client->base, path, SOUP_HTTP_URI_FLAGS, error);
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) reply = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonNode *root;
    guint status;

    if (!uri)
        return NULL;
    msg = soup_message_new_from_uri(method, uri);
    if (client->token) {
        g_autofree char *auth = g_strdup_printf("Bearer %s", client->token);

        soup_message_headers_replace(soup_message_get_request_headers(msg),
                                     "Authorization", auth);
    }
    if (body) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        g_autoptr(JsonGenerator) gen = json_generator_new();
        gsize len = 0;
        char *text;

        json_node_set_object(node, body);
        json_generator_set_root(gen, node);
        text = json_generator_to_data(gen, &len);
        soup_message_set_request_body_from_bytes(msg, "application/json",
                                                 g_bytes_new_take(text, len));
    }
    if (!(reply = soup_session_send_and_read(client->session, msg, NULL, &err))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("key broker %s unreachable: %s"),
                    client->url, err->message);
        return NULL;
    }
    status = soup_message_get_status(msg);
    if (status < 200 || status >= 300) {
        mhBrokerClientRefusal(client, status, reply, error);
        return NULL;
    }
    if (!json_parser_load_from_data(parser, g_bytes_get_data(reply, NULL),
                                    g_bytes_get_size(reply), &err) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("key broker %s sent a reply that is not a JSON object"), client->url);
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}
