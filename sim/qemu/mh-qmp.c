/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP proxy, see mh-qmp.h. */
#include "sim/qemu/mh-qmp.h"
#include "sim/qemu/mh-qmp-channel.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#define MH_QMP_INTERNAL_ID_PREFIX "mh-internal-"

struct _MhQmpRequest {
    MhQmpProxy *proxy;
    guint64 conn;               /* client connection it came from */
    char *raw;                  /* the line as received */
    size_t raw_len;
    GArray *fds;
    JsonNode *root;             /* NULL when the line was not JSON */
    char *parse_error;
    const char *command;        /* borrowed from root */
    JsonNode *id;               /* copy of "id", or NULL */
    MhQmpReplyHook hook;
    gpointer hook_data;
};

typedef struct {
    MhQmpRequest *req;          /* a forwarded client command, or NULL */
    char *id;                   /* internal commands: our id */
    MhQmpCallback cb;
    gpointer data;
} MhQmpPending;

typedef struct {
    MhQmpEventHook hook;
    gpointer data;
} MhQmpEventHookEntry;

struct _MhQmpProxy {
    char *name;
    const MhQmpCommand *table;
    gpointer opaque;
    MhQmpProxyCallbacks cbs;
    gpointer cb_data;

    int listen_fd;
    GSource *listen_src;
    MhQmpChannel *client;
    guint64 conn;
    bool client_negotiated;
    bool shut;

    MhQmpChannel *upstream;
    char *greeting;
    size_t greeting_len;
    bool upstream_negotiated;

    GQueue incoming;            /* MhQmpRequest, waiting their turn */
    MhQmpRequest *current;
    bool processing;
    GQueue pending;             /* MhQmpPending, in the order sent to QEMU */
    GQueue deferred;            /* MhQmpPending + line, until QEMU is negotiated */
    GPtrArray *deferred_lines;
    guint64 next_internal;
    GArray *event_hooks;
    MhQmpEventFilter event_filter;
    gpointer event_filter_data;
};

static void mhQmpProxyProcess(MhQmpProxy *proxy);
static void mhQmpProxyListen(MhQmpProxy *proxy);

const MhQmpCommand *
mhQmpCommandFind(const MhQmpCommand *table, const char *name)
{
    if (!table || !name)
        return NULL;
    for (const MhQmpCommand *cmd = table; cmd->name; cmd++) {
        if (strcmp(cmd->name, name) == 0)
            return cmd;
    }
    return NULL;
}

static char *
mhQmpFormat(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, NULL);
    /* QEMU terminates every message with CRLF. */
    return g_strconcat(text, "\r\n", NULL);
}

static char *
mhQmpFormatObject(JsonObject *obj)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

    json_node_set_object(node, obj);
    return mhQmpFormat(node);
}

static JsonNode *
mhQmpParse(const char *line, char **err_msg)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;

    if (!json_parser_load_from_data(parser, line, -1, &err)) {
        if (err_msg)
            *err_msg = g_strdup(err->message);
        return NULL;
    }
    if (!json_parser_get_root(parser)) {
        if (err_msg)
            *err_msg = g_strdup("empty input");
        return NULL;
    }
    return json_node_copy(json_parser_get_root(parser));
}

/* ---- requests ---- */

static void
mhQmpRequestFree(MhQmpRequest *req)
{
    if (!req)
        return;
    g_free(req->raw);
    mhQmpFdsFree(req->fds);
    if (req->root)
        json_node_unref(req->root);
    if (req->id)
        json_node_unref(req->id);
    g_free(req->parse_error);
    g_free(req);
}

JsonObject *
mhQmpRequestGetArguments(const MhQmpRequest *req)
{
    JsonObject *obj;
    JsonNode *args;

    if (!req->root || !JSON_NODE_HOLDS_OBJECT(req->root))
        return NULL;
    obj = json_node_get_object(req->root);
    args = json_object_get_member(obj, "arguments");
    if (!args || !JSON_NODE_HOLDS_OBJECT(args))
        return NULL;
    return json_node_get_object(args);
}

MhQmpProxy *
mhQmpRequestGetProxy(const MhQmpRequest *req)
{
    return req->proxy;
}

/* Send the reply line to the client the request came from (if it is
 * still connected) and move on to the next request. */
static void
mhQmpRequestComplete(MhQmpRequest *req, const char *line, size_t len)
{
    MhQmpProxy *proxy = req->proxy;

    if (proxy->client && req->conn == proxy->conn)
        mhQmpChannelSend(proxy->client, line, len, NULL);
    if (proxy->current == req)
        proxy->current = NULL;
    mhQmpRequestFree(req);
    mhQmpProxyProcess(proxy);
}

static void
mhQmpRequestCompleteObject(MhQmpRequest *req, JsonObject *reply)
{
    g_autofree char *line = NULL;

    if (req->id)
        json_object_set_member(reply, "id", json_node_copy(req->id));
    line = mhQmpFormatObject(reply);
    mhQmpRequestComplete(req, line, strlen(line));
}

void
mhQmpRequestReply(MhQmpRequest *req, JsonObject *reply)
{
    mhQmpRequestCompleteObject(req, reply);
    json_object_unref(reply);
}

void
mhQmpRequestReturn(MhQmpRequest *req, JsonNode *ret)
{
    g_autoptr(JsonObject) reply = json_object_new();

    if (!ret) {
        ret = json_node_new(JSON_NODE_OBJECT);
        json_node_take_object(ret, json_object_new());
    }
    json_object_set_member(reply, "return", ret);
    mhQmpRequestCompleteObject(req, reply);
}

static void
mhQmpRequestErrorLiteral(MhQmpRequest *req, const char *klass, const char *desc)
{
    g_autoptr(JsonObject) reply = json_object_new();
    JsonObject *err = json_object_new();

    json_object_set_string_member(err, "class", klass);
    json_object_set_string_member(err, "desc", desc);
    json_object_set_object_member(reply, "error", err);
    mhQmpRequestCompleteObject(req, reply);
}

void
mhQmpRequestError(MhQmpRequest *req, const char *klass, const char *format, ...)
{
    va_list ap;
    g_autofree char *desc = NULL;

    va_start(ap, format);
    desc = g_strdup_vprintf(format, ap);
    va_end(ap);
    mhQmpRequestErrorLiteral(req, klass, desc);
}

void
mhQmpRequestErrorGError(MhQmpRequest *req, const GError *error)
{
    mhQmpRequestErrorLiteral(req, MH_QMP_GENERIC_ERROR, error->message);
}

/* The argument NAME in *node (NULL when absent); a missing required one
 * is answered with QEMU's error and gives false. */
static bool
mhQmpRequestGetParam(MhQmpRequest *req, const char *name, bool required, JsonNode **node)
{
    JsonObject *args = mhQmpRequestGetArguments(req);

    *node = args ? json_object_get_member(args, name) : NULL;
    if (!*node && required) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "Parameter '%s' is missing", name);
        return false;
    }
    return true;
}

bool
mhQmpRequestGetString(MhQmpRequest *req, const char *name, bool required,
                      const char **value)
{
    JsonNode *node;

    *value = NULL;
    if (!mhQmpRequestGetParam(req, name, required, &node))
        return false;
    if (!node)
        return true;
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "Invalid parameter type for '%s', expected: string", name);
        return false;
    }
    *value = json_node_get_string(node);
    return true;
}

bool
mhQmpRequestGetUInt(MhQmpRequest *req, const char *name, bool required,
                    bool *present, guint64 *value)
{
    JsonNode *node;

    *present = false;
    *value = 0;
    if (!mhQmpRequestGetParam(req, name, required, &node))
        return false;
    if (!node)
        return true;
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64 ||
        json_node_get_int(node) < 0) {
        /* json-glib reads integers as int64: values above INT64_MAX are
         * refused too, which no GPA or size reaches. */
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "Invalid parameter type for '%s', expected: integer", name);
        return false;
    }
    *present = true;
    *value = (guint64)json_node_get_int(node);
    return true;
}

/* ---- talking to QEMU ---- */

static void
mhQmpProxySendUpstream(MhQmpProxy *proxy, MhQmpPending *pending,
                       const char *line, size_t len, GArray *fds)
{
    if (!proxy->upstream) {
        /* QEMU is gone: nothing will answer. */
        mhQmpFdsFree(fds);
        if (pending->cb)
            pending->cb(proxy, NULL, pending->data);
        if (pending->req)
            mhQmpRequestErrorLiteral(pending->req, MH_QMP_GENERIC_ERROR,
                                     "QEMU monitor is closed");
        g_free(pending->id);
        g_free(pending);
        return;
    }
    g_queue_push_tail(&proxy->pending, pending);
    mhQmpChannelSend(proxy->upstream, line, len, fds);
}

void
mhQmpRequestForward(MhQmpRequest *req, MhQmpReplyHook hook, gpointer data)
{
    MhQmpPending *pending = g_new0(MhQmpPending, 1);

    req->hook = hook;
    req->hook_data = data;
    pending->req = req;
    mhQmpProxySendUpstream(req->proxy, pending, req->raw, req->raw_len,
                           g_steal_pointer(&req->fds));
}

void
mhQmpProxyExecute(MhQmpProxy *proxy, const char *command, JsonObject *args,
                  MhQmpCallback cb, gpointer data)
{
    g_autoptr(JsonObject) msg = json_object_new();
    MhQmpPending *pending = g_new0(MhQmpPending, 1);
    g_autofree char *line = NULL;

    pending->id = g_strdup_printf(MH_QMP_INTERNAL_ID_PREFIX "%" G_GUINT64_FORMAT,
                                  ++proxy->next_internal);
    pending->cb = cb;
    pending->data = data;
    json_object_set_string_member(msg, "execute", command);
    if (args)
        json_object_set_object_member(msg, "arguments", args);
    json_object_set_string_member(msg, "id", pending->id);
    line = mhQmpFormatObject(msg);

    if (!proxy->upstream_negotiated && proxy->upstream) {
        g_queue_push_tail(&proxy->deferred, pending);
        g_ptr_array_add(proxy->deferred_lines, g_steal_pointer(&line));
        return;
    }
    mhQmpProxySendUpstream(proxy, pending, line, strlen(line), NULL);
}

static void
mhQmpProxyNegotiated(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    MhQmpPending *pending;
    guint i = 0;

    if (!reply || !json_object_has_member(reply, "return")) {
        g_printerr("qemu-mh: %s: QEMU refused capabilities negotiation\n", proxy->name);
        return;
    }
    proxy->upstream_negotiated = true;
    while ((pending = g_queue_pop_head(&proxy->deferred))) {
        char *line = g_ptr_array_index(proxy->deferred_lines, i++);
        mhQmpProxySendUpstream(proxy, pending, line, strlen(line), NULL);
    }
    g_ptr_array_set_size(proxy->deferred_lines, 0);
}

/* A reply belongs to the pending command with the same "id" (none
 * matches none). QEMU answers in order, so this is the oldest one with
 * that id; a reply that matches nothing is dropped rather than handed to
 * whichever command happens to be first, so that a confused or lying
 * QEMU cannot answer one client command (or one of qemu-mh's own) with
 * another's reply. */
static bool
mhQmpPendingMatches(const MhQmpPending *pending, JsonNode *reply_id)
{
    if (pending->req) {
        if (!pending->req->id || !reply_id)
            return !pending->req->id && !reply_id;
        return json_node_equal(pending->req->id, reply_id);
    }
    return reply_id && JSON_NODE_HOLDS_VALUE(reply_id) &&
        json_node_get_value_type(reply_id) == G_TYPE_STRING &&
        g_strcmp0(json_node_get_string(reply_id), pending->id) == 0;
}

static void
mhQmpProxyHandleReply(MhQmpProxy *proxy, const char *line, size_t len, JsonObject *obj)
{
    JsonNode *reply_id = json_object_get_member(obj, "id");
    MhQmpPending *pending = NULL;

    for (GList *l = proxy->pending.head; l; l = l->next) {
        if (mhQmpPendingMatches(l->data, reply_id)) {
            pending = l->data;
            g_queue_delete_link(&proxy->pending, l);
            break;
        }
    }
    if (!pending) {
        g_printerr("qemu-mh: %s: reply from QEMU that matches no command dropped\n",
                   proxy->name);
        return;
    }
    if (pending->req) {
        MhQmpRequest *req = pending->req;

        if (!req->hook || !req->hook(req, obj, req->hook_data))
            mhQmpRequestComplete(req, line, len);
    } else if (pending->cb) {
        pending->cb(proxy, obj, pending->data);
    }
    g_free(pending->id);
    g_free(pending);
}

static void
mhQmpProxyUpstreamLine(MhQmpChannel *chan, const char *line, size_t len,
                       GArray *fds, const char *error, gpointer data)
{
    MhQmpProxy *proxy = data;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *obj;

    mhQmpFdsFree(fds);
    if (!(root = mhQmpParse(line, NULL)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_printerr("qemu-mh: %s: unparsable message from QEMU dropped\n", proxy->name);
        return;
    }
    obj = json_node_get_object(root);

    if (!proxy->greeting) {
        if (!json_object_has_member(obj, "QMP")) {
            g_printerr("qemu-mh: %s: QEMU did not start with a greeting\n", proxy->name);
            return;
        }
        proxy->greeting = g_strndup(line, len);
        proxy->greeting_len = len;
        /* qemu-mh negotiates its own session with QEMU, so that its own
         * commands work whether or not a client is connected; each client
         * connection then gets the greeting and negotiates with qemu-mh,
         * which mimics QEMU's per-connection rules. */
        {
            MhQmpPending *pending = g_new0(MhQmpPending, 1);
            const char *neg = "{\"execute\":\"qmp_capabilities\",\"id\":\"mh-internal-0\"}\r\n";

            pending->id = g_strdup("mh-internal-0");
            pending->cb = mhQmpProxyNegotiated;
            mhQmpProxySendUpstream(proxy, pending, neg, strlen(neg), NULL);
        }
        if (proxy->client)
            mhQmpChannelSend(proxy->client, proxy->greeting, proxy->greeting_len, NULL);
        if (proxy->cbs.ready)
            proxy->cbs.ready(proxy, proxy->cb_data);
        return;
    }

    if (json_object_has_member(obj, "event")) {
        const char *event = json_object_get_string_member_with_default(obj, "event", "");

        /* QEMU sends events only to negotiated sessions. */
        if (proxy->client && proxy->client_negotiated &&
            (!proxy->event_filter ||
             proxy->event_filter(proxy, event, obj, proxy->event_filter_data)))
            mhQmpChannelSend(proxy->client, line, len, NULL);
        for (guint i = 0; i < proxy->event_hooks->len; i++) {
            MhQmpEventHookEntry *e = &g_array_index(proxy->event_hooks, MhQmpEventHookEntry, i);
            e->hook(proxy, event, obj, e->data);
        }
        return;
    }
    if (json_object_has_member(obj, "return") || json_object_has_member(obj, "error")) {
        mhQmpProxyHandleReply(proxy, line, len, obj);
        return;
    }
    g_printerr("qemu-mh: %s: unknown message from QEMU dropped\n", proxy->name);
}

static void
mhQmpProxyUpstreamEof(MhQmpChannel *chan, gpointer data)
{
    MhQmpProxy *proxy = data;
    MhQmpPending *pending;

    proxy->upstream = NULL;
    mhQmpChannelFree(chan);
    while ((pending = g_queue_pop_head(&proxy->deferred)))
        g_queue_push_tail(&proxy->pending, pending);
    g_ptr_array_set_size(proxy->deferred_lines, 0);
    while ((pending = g_queue_pop_head(&proxy->pending))) {
        if (pending->cb)
            pending->cb(proxy, NULL, pending->data);
        if (pending->req) {
            if (proxy->current == pending->req)
                proxy->current = NULL;
            mhQmpRequestFree(pending->req);
        }
        g_free(pending->id);
        g_free(pending);
    }
    mhQmpProxyProcess(proxy);
    if (proxy->cbs.upstream_closed)
        proxy->cbs.upstream_closed(proxy, proxy->cb_data);
}

/* ---- the client side ---- */

static void
mhQmpProxyDispatch(MhQmpProxy *proxy, MhQmpRequest *req)
{
    const MhQmpCommand *cmd;
    JsonObject *obj;

    if (!req->root) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "JSON parse error, %s",
                          req->parse_error ? req->parse_error : "invalid input");
        return;
    }
    if (!JSON_NODE_HOLDS_OBJECT(req->root)) {
        mhQmpRequestErrorLiteral(req, MH_QMP_GENERIC_ERROR, "QMP input must be a JSON object");
        return;
    }
    obj = json_node_get_object(req->root);

    if (req->command && strcmp(req->command, "qmp_capabilities") == 0) {
        JsonObject *args = mhQmpRequestGetArguments(req);
        JsonNode *enable = args ? json_object_get_member(args, "enable") : NULL;

        if (proxy->client_negotiated) {
            mhQmpRequestErrorLiteral(req, MH_QMP_COMMAND_NOT_FOUND,
                                     "Capabilities negotiation is already complete, command ignored");
            return;
        }
        if (enable && JSON_NODE_HOLDS_ARRAY(enable) &&
            json_array_get_length(json_node_get_array(enable)) > 0) {
            /* qemu-mh's own session with QEMU runs without out-of-band
             * execution, which libvirt does not use. */
            mhQmpRequestErrorLiteral(req, MH_QMP_GENERIC_ERROR,
                                     "Capability 'oob' is not available");
            return;
        }
        proxy->client_negotiated = true;
        mhQmpRequestReturn(req, NULL);
        return;
    }
    if (!proxy->client_negotiated) {
        mhQmpRequestErrorLiteral(req, MH_QMP_COMMAND_NOT_FOUND,
                                 "Expecting capabilities negotiation with 'qmp_capabilities'");
        return;
    }
    if (req->command && !json_object_has_member(obj, "exec-oob") &&
        (cmd = mhQmpCommandFind(proxy->table, req->command))) {
        cmd->handler(req, proxy->opaque);
        return;
    }
    mhQmpRequestForward(req, NULL, NULL);
}

static void
mhQmpProxyProcess(MhQmpProxy *proxy)
{
    MhQmpRequest *req;

    if (proxy->processing)
        return;
    proxy->processing = true;
    while (!proxy->current && (req = g_queue_pop_head(&proxy->incoming))) {
        proxy->current = req;
        mhQmpProxyDispatch(proxy, req);
    }
    proxy->processing = false;
}

static void
mhQmpProxyClientLine(MhQmpChannel *chan, const char *line, size_t len,
                     GArray *fds, const char *error, gpointer data)
{
    MhQmpProxy *proxy = data;
    MhQmpRequest *req;

    req = g_new0(MhQmpRequest, 1);
    req->proxy = proxy;
    req->conn = proxy->conn;
    req->fds = fds;
    if (!line) {
        /* Dropped input: answered with QEMU's error, nothing forwarded. */
        req->parse_error = g_strdup(error);
        g_queue_push_tail(&proxy->incoming, req);
        mhQmpProxyProcess(proxy);
        return;
    }
    /* One value, forwarded on a line of its own. */
    req->raw = g_strdup_printf("%.*s\r\n", (int)len, line);
    req->raw_len = len + 2;
    req->root = mhQmpParse(line, &req->parse_error);
    if (req->root && JSON_NODE_HOLDS_OBJECT(req->root)) {
        JsonObject *obj = json_node_get_object(req->root);
        JsonNode *id = json_object_get_member(obj, "id");
        JsonNode *exec = json_object_get_member(obj, "execute");

        if (!exec)
            exec = json_object_get_member(obj, "exec-oob");
        if (exec && JSON_NODE_HOLDS_VALUE(exec) &&
            json_node_get_value_type(exec) == G_TYPE_STRING)
            req->command = json_node_get_string(exec);
        if (id)
            req->id = json_node_copy(id);
    }
    g_queue_push_tail(&proxy->incoming, req);
    mhQmpProxyProcess(proxy);
}

static void
mhQmpProxyClientEof(MhQmpChannel *chan, gpointer data)
{
    MhQmpProxy *proxy = data;
    MhQmpRequest *req;

    mhQmpChannelFree(chan);
    proxy->client = NULL;
    proxy->client_negotiated = false;
    /* Queued commands of the closed connection are dropped, as QEMU
     * drops unread input; one already with QEMU completes silently. */
    while ((req = g_queue_pop_head(&proxy->incoming)))
        mhQmpRequestFree(req);
    if (!proxy->shut)
        mhQmpProxyListen(proxy);
}

static gboolean
mhQmpProxyAccept(gint fd, GIOCondition cond, gpointer data)
{
    MhQmpProxy *proxy = data;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    proxy->conn++;
    proxy->client_negotiated = false;
    proxy->client = mhQmpChannelNew(cfd, MH_QMP_CHANNEL_JSON_VALUES, mhQmpProxyClientLine,
                                    mhQmpProxyClientEof, proxy);
    if (proxy->greeting)
        mhQmpChannelSend(proxy->client, proxy->greeting, proxy->greeting_len, NULL);
    /* One client at a time, like QEMU's socket chardev: others wait in
     * the listen backlog until this one leaves. */
    g_source_unref(proxy->listen_src);
    proxy->listen_src = NULL;
    return G_SOURCE_REMOVE;
}

static void
mhQmpProxyListen(MhQmpProxy *proxy)
{
    if (proxy->listen_src || proxy->listen_fd < 0)
        return;
    proxy->listen_src = g_unix_fd_source_new(proxy->listen_fd, G_IO_IN);
    g_source_set_callback(proxy->listen_src, (GSourceFunc)(void (*)(void))mhQmpProxyAccept,
                          proxy, NULL);
    g_source_attach(proxy->listen_src, NULL);
}

MhQmpProxy *
mhQmpProxyNew(const char *name, int listen_fd, int upstream_fd,
              const MhQmpCommand *table, gpointer opaque,
              const MhQmpProxyCallbacks *callbacks, gpointer cb_data,
              GError **error)
{
    MhQmpProxy *proxy;

    if (listen_fd < 0 || upstream_fd < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("monitor '%s': invalid file descriptors"), name);
        return NULL;
    }
    proxy = g_new0(MhQmpProxy, 1);
    proxy->name = g_strdup(name);
    proxy->table = table;
    proxy->opaque = opaque;
    if (callbacks)
        proxy->cbs = *callbacks;
    proxy->cb_data = cb_data;
    proxy->listen_fd = listen_fd;
    g_unix_set_fd_nonblocking(listen_fd, TRUE, NULL);
    fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
    g_queue_init(&proxy->incoming);
    g_queue_init(&proxy->pending);
    g_queue_init(&proxy->deferred);
    proxy->deferred_lines = g_ptr_array_new_with_free_func(g_free);
    proxy->event_hooks = g_array_new(FALSE, FALSE, sizeof(MhQmpEventHookEntry));
    proxy->upstream = mhQmpChannelNew(upstream_fd, MH_QMP_CHANNEL_LINES, mhQmpProxyUpstreamLine,
                                      mhQmpProxyUpstreamEof, proxy);
    mhQmpProxyListen(proxy);
    return proxy;
}

void
mhQmpProxyShutdown(MhQmpProxy *proxy)
{
    MhQmpRequest *req;

    proxy->shut = true;
    if (proxy->listen_src) {
        g_source_destroy(proxy->listen_src);
        g_source_unref(proxy->listen_src);
        proxy->listen_src = NULL;
    }
    if (proxy->listen_fd >= 0) {
        close(proxy->listen_fd);
        proxy->listen_fd = -1;
    }
    if (proxy->client) {
        mhQmpChannelFree(proxy->client);
        proxy->client = NULL;
    }
    while ((req = g_queue_pop_head(&proxy->incoming)))
        mhQmpRequestFree(req);
}

void
mhQmpProxyFree(MhQmpProxy *proxy)
{
    MhQmpPending *pending;

    if (!proxy)
        return;
    mhQmpProxyShutdown(proxy);
    if (proxy->upstream) {
        MhQmpChannel *up = proxy->upstream;

        proxy->upstream = NULL;
        mhQmpChannelFree(up);
    }
    while ((pending = g_queue_pop_head(&proxy->deferred)))
        g_queue_push_tail(&proxy->pending, pending);
    while ((pending = g_queue_pop_head(&proxy->pending))) {
        if (pending->cb)
            pending->cb(proxy, NULL, pending->data);
        if (pending->req && pending->req != proxy->current)
            mhQmpRequestFree(pending->req);
        g_free(pending->id);
        g_free(pending);
    }
    mhQmpRequestFree(proxy->current);
    g_ptr_array_unref(proxy->deferred_lines);
    g_array_unref(proxy->event_hooks);
    g_free(proxy->greeting);
    g_free(proxy->name);
    g_free(proxy);
}

void
mhQmpProxyAddEventHook(MhQmpProxy *proxy, MhQmpEventHook hook, gpointer data)
{
    MhQmpEventHookEntry e = { hook, data };

    g_array_append_val(proxy->event_hooks, e);
}

void
mhQmpProxySetEventFilter(MhQmpProxy *proxy, MhQmpEventFilter filter, gpointer data)
{
    proxy->event_filter = filter;
    proxy->event_filter_data = data;
}

GArray *
mhQmpRequestTakeFds(MhQmpRequest *req)
{
    return g_steal_pointer(&req->fds);
}

void
mhQmpProxyEmitEvent(MhQmpProxy *proxy, const char *event, JsonObject *data)
{
    g_autoptr(JsonObject) msg = json_object_new();
    JsonObject *ts = json_object_new();
    gint64 now = g_get_real_time();
    g_autofree char *line = NULL;

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(msg, "timestamp", ts);
    json_object_set_string_member(msg, "event", event);
    if (data)
        json_object_set_object_member(msg, "data", data);
    if (!proxy->client || !proxy->client_negotiated)
        return;
    line = mhQmpFormatObject(msg);
    mhQmpChannelSend(proxy->client, line, strlen(line), NULL);
}
