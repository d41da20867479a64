/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A synchronous QMP client for the guest owner's monitor; see
 * mh-owner-qmp.h. */
#include "owner/mh-owner-qmp.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#define MH_OWNER_QMP_TIMEOUT 30   /* seconds per reply */

struct _MhOwnerQmp {
    GSocketConnection *conn;
    GDataInputStream *in;
    char *path;
};

void
mhOwnerQmpFree(MhOwnerQmp *qmp)
{
    if (!qmp)
        return;
    g_clear_object(&qmp->in);
    if (qmp->conn)
        g_io_stream_close(G_IO_STREAM(qmp->conn), NULL, NULL);
    g_clear_object(&qmp->conn);
    g_free(qmp->path);
    g_free(qmp);
}
/* Next JSON object from the monitor, events skipped. */
static JsonObject *
mhOwnerQmpRead(MhOwnerQmp *qmp, JsonNode **holder, GError **error)
{
    for (;;) {
        g_autoptr(GError) local = NULL;
        g_autofree char *line = g_data_input_stream_read_line_utf8(qmp->in, NULL, NULL, &local);
        g_autoptr(JsonNode) node = NULL;

        if (!line) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("QMP socket '%s': %s"), qmp->path,
                        local ? local->message : _("connection closed"));
            return NULL;
        }
        if (!(node = json_from_string(line, &local)) || !JSON_NODE_HOLDS_OBJECT(node)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("QMP socket '%s': not a JSON object: %s"), qmp->path, line);
            return NULL;
        }
        if (json_object_has_member(json_node_get_object(node), "event"))
            continue;
        *holder = g_steal_pointer(&node);
        return json_node_get_object(*holder);
    }
}

/* Run a command; returns its "return" node (owned by *holder). */
static JsonNode *
mhOwnerQmpRun(MhOwnerQmp *qmp, const char *command, JsonObject *args,
                 JsonNode **holder, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    g_autofree char *line = NULL;
    g_autoptr(GError) local = NULL;
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(qmp->conn));
    JsonObject *reply;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, command);
    if (args) {
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, json_node_init_object(json_node_alloc(), args));
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    line = g_strconcat(text, "\n", NULL);
    if (!g_output_stream_write_all(out, line, strlen(line), NULL, NULL, &local)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("QMP socket '%s': %s"), qmp->path,
                    local->message);
        return NULL;
    }
    if (!(reply = mhOwnerQmpRead(qmp, holder, error)))
        return NULL;
    if (json_object_has_member(reply, "error")) {
        JsonObject *err = json_object_get_object_member(reply, "error");
        const char *desc = err ? json_object_get_string_member_with_default(err, "desc", NULL)
                               : NULL;
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("QMP command %s failed: %s"),
                    command, desc ? desc : _("unknown error"));
        return NULL;
    }
    if (!json_object_has_member(reply, "return")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("QMP command %s: reply has no \"return\""), command);
        return NULL;
    }
    return json_object_get_member(reply, "return");
}

MhOwnerQmp *
mhOwnerQmpConnect(const char *path, GError **error)
{
    g_autoptr(MhOwnerQmp) qmp = g_new0(MhOwnerQmp, 1);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GError) local = NULL;
    g_autoptr(JsonNode) greeting = NULL;
    g_autoptr(JsonNode) caps = NULL;
    JsonObject *hello;

    qmp->path = g_strdup(path);
    g_socket_client_set_timeout(client, MH_OWNER_QMP_TIMEOUT);
    if (!(qmp->conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL,
                                              &local))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot connect to QMP socket '%s': %s"),
                    path, local->message);
        return NULL;
    }
    qmp->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(qmp->conn)));
    g_data_input_stream_set_newline_type(qmp->in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
    if (!(hello = mhOwnerQmpRead(qmp, &greeting, error)))
        return NULL;
    if (!json_object_has_member(hello, "QMP")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' is not a QMP monitor (no greeting)"), path);
        return NULL;
    }
    if (!mhOwnerQmpRun(qmp, "qmp_capabilities", NULL, &caps, error))
        return NULL;
    return g_steal_pointer(&qmp);
}

static bool
mhOwnerQmpGetUInt(JsonObject *obj, const char *member, uint64_t max, uint64_t *out,
                     GError **error)
{
    JsonNode *n = json_object_get_member(obj, member);

    if (!n || json_node_get_value_type(n) != G_TYPE_INT64 ||
        json_node_get_int(n) < 0 || (uint64_t)json_node_get_int(n) > max) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("query-sev: member '%s' is missing or out of range"), member);
        return false;
    }
    *out = json_node_get_int(n);
    return true;
}

static bool
mhOwnerQmpReport(gpointer opaque, MhOwnerLaunchReport *report, GError **error)
{
    MhOwnerQmp *qmp = opaque;
    g_autoptr(JsonNode) h1 = NULL;
    g_autoptr(JsonNode) h2 = NULL;
    JsonNode *sev, *meas;
    JsonObject *o;
    const char *state, *data;
    uint64_t v[4];
    const char *names[4] = { "api-major", "api-minor", "build-id", "policy" };
    const uint64_t max[4] = { 255, 255, 255, G_MAXUINT32 };

    if (!(sev = mhOwnerQmpRun(qmp, "query-sev", NULL, &h1, error)))
        return false;
    if (!JSON_NODE_HOLDS_OBJECT(sev) ||
        !json_object_get_boolean_member_with_default(o = json_node_get_object(sev),
                                                     "enabled", FALSE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the guest behind '%s' does not run with SEV"), qmp->path);
        return false;
    }
    state = json_object_get_string_member_with_default(o, "state", "");
    if (!g_str_equal(state, "launch-secret")) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the guest's SEV state is '%s'; secrets can be injected only in "
                      "'launch-secret' (paused after launch, before it runs)"), state);
        return false;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!mhOwnerQmpGetUInt(o, names[i], max[i], &v[i], error))
            return false;
    }
    report->build.api_major = v[0];
    report->build.api_minor = v[1];
    report->build.build_id = v[2];
    report->policy = v[3];
    if (!(meas = mhOwnerQmpRun(qmp, "query-sev-launch-measure", NULL, &h2, error)))
        return false;
    data = JSON_NODE_HOLDS_OBJECT(meas) ?
        json_object_get_string_member_with_default(json_node_get_object(meas), "data", NULL) :
        NULL;
    if (!data) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("query-sev-launch-measure returned no data"));
        return false;
    }
    return mhOwnerParseMeasurement(data, report->measurement, error);
}

static bool
mhOwnerQmpInject(gpointer data, const char *header, const char *secret,
                 const uint64_t *gpa, GError **error)
{
    MhOwnerQmp *qmp = data;
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) holder = NULL;

    json_object_set_string_member(args, "packet-header", header);
    json_object_set_string_member(args, "secret", secret);
    if (gpa)
        json_object_set_int_member(args, "gpa", (gint64)*gpa);
    return mhOwnerQmpRun(qmp, "sev-inject-launch-secret", args, &holder, error) != NULL;
}

const MhOwnerLaunchOps mhOwnerQmpOps = {
    .report = mhOwnerQmpReport,
    .inject = mhOwnerQmpInject,
};
