/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP proxy between libvirt and a hostile or confused QEMU, over real
 * sockets: clients connect (several times, up to three at once in the
 * listen backlog), send commands (canned ones reaching every kind of
 * handler, some with file descriptors, or raw bytes) and leave; the fake
 * QEMU greets or not, answers with the right, a wrong or no id, twice,
 * out of order, sends events, garbage, and goes away. The input is the
 * script; the main context is iterated here until nothing is left to do
 * after each step, so a run is deterministic.
 * The oracles: no crash, leak or undefined behaviour; every command a
 * client sent gets at most one reply, carrying that command's id (so no
 * reply of QEMU's reaches the wrong command, and none of qemu-mh's own
 * commands' replies reaches a client); every file descriptor the input
 * opened (sockets, fds passed with commands) is closed when the proxy is
 * freed; and over many inputs the heap does not grow. */
#include "sim/qemu/mh-qmp.h"
#include "sim/qemu/mh-qmp-split.h"

#include "tests/fuzz/fuzz-bounds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CLIENTS 3
#define MAX_OPS 64
#define PUMP_BOUND 256
#define GREETING "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"

/* One client connection, as the harness sees it. */
typedef struct {
    int fd;
    GString *sent;              /* not yet split into values */
    MhQmpSplitter split;
    GPtrArray *expect;          /* id (JsonNode, or noId) of each command not answered yet */
    GString *in;                /* received, not yet a whole line */
} Client;

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    MhQmpProxy *proxy;
    int qemu;                   /* the fake QEMU's end, or -1 */
    GString *qemu_in;
    GPtrArray *qemu_ids;        /* serialized id ("" for none) of each command QEMU got */
    Client clients[MAX_CLIENTS];
    GPtrArray *deferred;        /* requests a handler keeps to complete later */
    guint own_sent, own_done;   /* qemu-mh's own commands and their callbacks */
} Run;

static char noIdMark;
#define noId ((gpointer)&noIdMark)   /* marks a command without an id */
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static socklen_t addr_len;

static uint8_t
next(Run *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

static void
fail(const char *what, const char *detail)
{
    /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
    fprintf(stderr, "fuzz-qmp-proxy: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* ---- the table: one handler of each kind ---- */

static Run *cur;                /* the input being run (handlers reach it here) */

static void
handleEcho(MhQmpRequest *req, gpointer opaque)
{
    const char *v = NULL;

    (void)opaque;
    if (mhQmpRequestGetString(req, "v", false, &v))
        mhQmpRequestReturn(req, v ? json_node_init_string(json_node_alloc(), v) : NULL);
}

static void
handleArgs(MhQmpRequest *req, gpointer opaque)
{
    bool present;
    guint64 n;

    (void)opaque;
    if (mhQmpRequestGetUInt(req, "n", true, &present, &n))
        mhQmpRequestReturn(req, json_node_init_int(json_node_alloc(), (gint64)(n & 0xffff)));
}

static void
ownDone(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    MhQmpRequest *req = data;

    (void)proxy;
    cur->own_done++;
    if (!req)
        return;
    if (reply && json_object_has_member(reply, "return"))
        mhQmpRequestReturn(req, NULL);
    else
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "QEMU said no");
}

/* A handler that asks QEMU itself and answers when QEMU does. */
static void
handleInternal(MhQmpRequest *req, gpointer opaque)
{
    (void)opaque;
    cur->own_sent++;
    mhQmpProxyExecute(mhQmpRequestGetProxy(req), "query-own", NULL, ownDone, req);
}

static gboolean
hookReply(MhQmpRequest *req, JsonObject *reply, gpointer data)
{
    (void)data;
    if (json_object_has_member(reply, "error"))
        return FALSE;           /* QEMU's error unchanged */
    if (json_object_get_size(reply) % 2) {
        g_ptr_array_add(cur->deferred, req);       /* completed later */
        return TRUE;
    }
    mhQmpRequestReply(req, json_object_ref(reply));
    return TRUE;
}

static void
handleHook(MhQmpRequest *req, gpointer opaque)
{
    (void)opaque;
    mhQmpRequestForward(req, hookReply, NULL);
}

static void
handleDefer(MhQmpRequest *req, gpointer opaque)
{
    (void)opaque;
    g_ptr_array_add(cur->deferred, req);
}

/* Takes the fds that came with the command and closes them. */
static void
handleFds(MhQmpRequest *req, gpointer opaque)
{
    GArray *fds = mhQmpRequestTakeFds(req);

    (void)opaque;
    for (guint i = 0; fds && i < fds->len; i++)
        close(g_array_index(fds, int, i));
    if (fds)
        g_array_free(fds, TRUE);
    mhQmpRequestReturn(req, NULL);
}

static const MhQmpCommand table[] = {
    { "mh-echo", handleEcho },
    { "mh-args", handleArgs },
    { "mh-internal", handleInternal },
    { "mh-hook", handleHook },
    { "mh-defer", handleDefer },
    { "mh-fds", handleFds },
    { NULL, NULL },
};

static void
onReady(MhQmpProxy *proxy, gpointer data)
{
    (void)data;
    cur->own_sent++;
    mhQmpProxyExecute(proxy, "query-ready", NULL, ownDone, NULL);
}

static void
onEvent(MhQmpProxy *proxy, const char *event, JsonObject *msg, gpointer data)
{
    (void)proxy;
    (void)msg;
    (void)data;
    g_assert(event);
}

static gboolean
eventFilter(MhQmpProxy *proxy, const char *event, JsonObject *msg, gpointer data)
{
    (void)proxy;
    (void)msg;
    (void)data;
    return strcmp(event, "HIDDEN") != 0;
}

/* ---- driving ---- */

/* Iterate the main context until nothing is ready. */
static void
pump(void)
{
    for (int i = 0; i < PUMP_BOUND && g_main_context_iteration(NULL, FALSE); i++)
        ;
}

/* Send all of it (the peer is drained in between when its buffer is
 * full); false when the peer is gone. */
static bool
sendAll(int fd, const void *buf, size_t len, int passfd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    size_t off = 0;

    for (int tries = 0; off < len && tries < 64; tries++) {
        struct iovec iov = { (char *)buf + off, len - off };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (passfd >= 0 && off == 0) {
            struct cmsghdr *cm;

            memset(&control, 0, sizeof(control));
            msg.msg_control = control.buf;
            msg.msg_controllen = sizeof(control.buf);
            cm = CMSG_FIRSTHDR(&msg);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
        }
        n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            pump();
            continue;
        }
        if (n <= 0)
            return false;
        off += n;
    }
    return off == len;
}

/* Read what is there; fds that came along are closed. False at EOF. */
static bool
drainFd(int fd, GString *into)
{
    for (;;) {
        char buf[4096];
        union {
            char buf[CMSG_SPACE(sizeof(int) * 64)];
            struct cmsghdr align;
        } control;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            int *fds = (int *)CMSG_DATA(c);
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; c->cmsg_type == SCM_RIGHTS && i < k; i++)
                close(fds[i]);
        }
        if (n == 0)
            return false;
        g_string_append_len(into, buf, n);
    }
}

static JsonNode *
parse(const char *text, bool *is_object)
{
    g_autoptr(JsonParser) p = json_parser_new();

    /* NUL-terminated, as the proxy parses. */
    *is_object = false;
    if (!json_parser_load_from_data(p, text, -1, NULL) || !json_parser_get_root(p))
        return NULL;
    *is_object = JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p));
    return json_node_copy(json_parser_get_root(p));
}

static char *
serialize(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_root(gen, node);
    return json_generator_to_data(gen, NULL);
}

/* ---- the fake QEMU ---- */

/* What the proxy sent QEMU: remember each command's id. */
static void
qemuRead(Run *r)
{
    char *nl;

    if (r->qemu < 0)
        return;
    if (!drainFd(r->qemu, r->qemu_in)) {
        close(r->qemu);
        r->qemu = -1;
    }
    while ((nl = memchr(r->qemu_in->str, '\n', r->qemu_in->len))) {
        g_autofree char *line = g_strndup(r->qemu_in->str, nl - r->qemu_in->str);
        bool obj;
        g_autoptr(JsonNode) root = parse(line, &obj);
        JsonNode *id = obj ? json_object_get_member(json_node_get_object(root), "id") : NULL;

        g_string_erase(r->qemu_in, 0, nl - r->qemu_in->str + 1);
        g_ptr_array_add(r->qemu_ids, id ? serialize(id) : g_strdup(""));
    }
}

static void
qemuSend(Run *r, const char *text, size_t len)
{
    if (r->qemu >= 0 && !sendAll(r->qemu, text, len, -1)) {
        close(r->qemu);
        r->qemu = -1;
    }
}

/* Answer a command QEMU got: the oldest or another, with its id, a
 * wrong one or none, as a return or an error, once or twice. */
static void
qemuReply(Run *r)
{
    uint8_t how = next(r), which = next(r);
    const char *id = NULL;
    g_autofree char *wrong = NULL;
    g_autofree char *line = NULL;
    guint i = 0;

    if (r->qemu_ids->len) {
        i = how & 1 ? which % r->qemu_ids->len : 0;
        id = g_ptr_array_index(r->qemu_ids, i);
    }
    switch (how / 2 % 4) {
    case 0: break;
    case 1: id = wrong = g_strdup_printf("\"mh-internal-%u\"", which % 4); break;
    case 2: id = wrong = g_strdup_printf("%u", which % 8); break;
    default: id = "";
    }
    line = g_strdup_printf("{\"%s\": %s%s%s}%s", how & 8 ? "error" : "return",
                           how & 8 ? "{\"class\": \"GenericError\", \"desc\": \"no\"}" :
                           how & 16 ? "{\"a\": 1}" : "{}",
                           id && *id ? ", \"id\": " : "", id && *id ? id : "",
                           how & 32 ? "\n" : "\r\n");
    qemuSend(r, line, strlen(line));
    if (how & 64)
        qemuSend(r, line, strlen(line));
    else if (r->qemu_ids->len && !(how / 2 % 4))
        g_ptr_array_remove_index(r->qemu_ids, i);
}

static void
qemuOp(Run *r, uint8_t op)
{
    static const char *const events[] = { "RESUME", "STOP", "HIDDEN", "MIGRATION" };

    switch (op) {
    case 0:
        qemuSend(r, GREETING, strlen(GREETING));
        break;
    case 1:
        qemuReply(r);
        break;
    case 2: {
        g_autofree char *ev = g_strdup_printf("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
                                              "\"event\": \"%s\"}\r\n", events[next(r) % 4]);
        qemuSend(r, ev, strlen(ev));
        break;
    }
    case 3: {
        size_t n = next(r);

        n = MIN(n, r->size - r->pos);

        qemuSend(r, (const char *)r->data + r->pos, n);
        r->pos += n;
        break;
    }
    default:
        if (r->qemu >= 0)
            close(r->qemu);
        r->qemu = -1;
    }
}

/* ---- clients ---- */

static void
clientInit(Client *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->sent = g_string_new(NULL);
    c->in = g_string_new(NULL);
    c->expect = g_ptr_array_new();
}

static void
clientClear(Client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    for (guint i = 0; i < c->expect->len; i++) {
        if (g_ptr_array_index(c->expect, i) != noId)
            json_node_unref(g_ptr_array_index(c->expect, i));
    }
    g_ptr_array_set_size(c->expect, 0);
    g_string_truncate(c->sent, 0);
    g_string_truncate(c->in, 0);
    memset(&c->split, 0, sizeof(c->split));
}

/* The commands the proxy will see in what was sent, as it splits them:
 * each expects one reply at most, with its id. */
static void
clientSplit(Client *c)
{
    size_t start = 0, end = 0;
    const char *error = NULL;
    MhQmpSplitResult res;

    while ((res = mhQmpSplitNext(&c->split, c->sent->str, c->sent->len, &start, &end, &error)) !=
           MH_QMP_SPLIT_MORE) {
        JsonNode *id = NULL;

        if (res == MH_QMP_SPLIT_VALUE) {
            g_autofree char *value = g_strndup(c->sent->str + start, end - start);
            bool obj;
            g_autoptr(JsonNode) root = parse(value, &obj);

            if (obj && (id = json_object_get_member(json_node_get_object(root), "id")))
                id = json_node_copy(id);
        }
        g_ptr_array_add(c->expect, id ? (gpointer)id : noId);
        g_string_erase(c->sent, 0, end);
        mhQmpSplitConsumed(&c->split, end);
    }
    g_string_erase(c->sent, 0, end);
    mhQmpSplitConsumed(&c->split, end);
}

/* A reply: it must answer a command of this connection not answered yet. */
static void
clientReply(Client *c, JsonNode *id, const char *line)
{
    for (guint i = 0; i < c->expect->len; i++) {
        gpointer want = g_ptr_array_index(c->expect, i);

        if ((want == noId && !id) || (want != noId && id && json_node_equal(want, id))) {
            if (want != noId)
                json_node_unref(want);
            g_ptr_array_remove_index(c->expect, i);
            return;
        }
    }
    fail("a reply that answers no command of this client (or a second reply)", line);
}

static void
clientRead(Client *c)
{
    char *nl;
    bool open;

    if (c->fd < 0)
        return;
    open = drainFd(c->fd, c->in);
    while ((nl = memchr(c->in->str, '\n', c->in->len))) {
        g_autofree char *line = g_strndup(c->in->str, nl - c->in->str + 1);
        bool obj;
        g_autoptr(JsonNode) root = parse(line, &obj);
        JsonObject *o;

        g_string_erase(c->in, 0, nl - c->in->str + 1);
        if (!obj)
            fail("the proxy sent a client something that is not a JSON object", line);
        o = json_node_get_object(root);
        if (json_object_has_member(o, "event") || json_object_has_member(o, "QMP"))
            continue;
        if (!json_object_has_member(o, "return") && !json_object_has_member(o, "error"))
            fail("the proxy sent a client an unknown message", line);
        clientReply(c, json_object_get_member(o, "id"), line);
    }
    if (!open)
        clientClear(c);
}

static void
clientConnect(Client *c)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    clientClear(c);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addr_len) < 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    c->fd = fd;
}

static void
clientSend(Client *c, const char *text, size_t len, int passfd)
{
    if (c->fd < 0)
        return;
    if (!sendAll(c->fd, text, len, passfd)) {
        clientRead(c);
        clientClear(c);
        return;
    }
    g_string_append_len(c->sent, text, len);
    clientSplit(c);
}

/* A command of the table (or forwarded), with one of several ids. */
static void
clientCommand(Run *r, Client *c, bool with_fd)
{
    static const char *const cmds[] = {
        "\"execute\": \"qmp_capabilities\"",
        "\"execute\": \"query-x\"",
        "\"execute\": \"mh-echo\", \"arguments\": {\"v\": \"hi\"}",
        "\"execute\": \"mh-args\", \"arguments\": {\"n\": 7}",
        "\"execute\": \"mh-args\", \"arguments\": {\"n\": \"x\"}",
        "\"execute\": \"mh-internal\"",
        "\"execute\": \"mh-hook\"",
        "\"execute\": \"mh-defer\"",
        "\"execute\": \"mh-fds\"",
        "\"exec-oob\": \"mh-echo\"",
        "\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}",
        "\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}",
    };
    uint8_t which = next(r), idv = next(r);
    g_autofree char *id = NULL;
    g_autofree char *text = NULL;
    int p[2] = { -1, -1 };

    switch (idv % 5) {
    case 0: id = g_strdup(""); break;
    case 1: id = g_strdup_printf(", \"id\": %u", idv / 5 % 4); break;
    case 2: id = g_strdup_printf(", \"id\": \"mh-internal-%u\"", idv / 5 % 4); break;
    case 3: id = g_strdup_printf(", \"id\": {\"n\": %u}", idv / 5 % 4); break;
    default: id = g_strdup_printf(", \"id\": \"c-%u\"", idv / 5 % 4);
    }
    text = g_strdup_printf("{%s%s}%s", cmds[which % G_N_ELEMENTS(cmds)], id,
                           which & 0x80 ? "" : "\r\n");
    if (with_fd && pipe2(p, O_CLOEXEC) < 0)
        p[0] = p[1] = -1;
    clientSend(c, text, strlen(text), p[1]);
    if (p[0] >= 0) {
        close(p[0]);
        close(p[1]);
    }
}

static void
clientOp(Run *r, uint8_t op)
{
    Client *c = &r->clients[next(r) % MAX_CLIENTS];

    switch (op) {
    case 0:
        clientConnect(c);
        break;
    case 1:
        clientClear(c);
        break;
    case 2: {
        size_t n = next(r);

        n = MIN(n, r->size - r->pos);

        clientSend(c, (const char *)r->data + r->pos, n, -1);
        r->pos += n;
        break;
    }
    case 3: case 4:
        clientCommand(r, c, op == 4);
        break;
    default:
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_WR);
    }
}

/* ---- the proxy's own side ---- */

static void
completeDeferred(Run *r, bool all)
{
    while (r->deferred->len) {
        MhQmpRequest *req = g_ptr_array_steal_index(r->deferred, 0);

        mhQmpRequestReturn(req, NULL);
        if (!all)
            break;
    }
}

static void
proxyOp(Run *r, uint8_t op)
{
    switch (op) {
    case 0:
        completeDeferred(r, false);
        break;
    case 1:
        r->own_sent++;
        mhQmpProxyExecute(r->proxy, "query-mine", NULL, ownDone, NULL);
        break;
    case 2:
        mhQmpProxyEmitEvent(r->proxy, "MH_EVENT", NULL);
        break;
    default:
        mhQmpProxyShutdown(r->proxy);
    }
}

static void
readAll(Run *r)
{
    qemuRead(r);
    for (int i = 0; i < MAX_CLIENTS; i++)
        clientRead(&r->clients[i]);
}

static void
start(Run *r)
{
    int sp[2], lfd;
    g_autoptr(GError) err = NULL;
    MhQmpProxyCallbacks cbs = { .ready = onReady };

    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, addr_len) < 0 || listen(lfd, 2) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        fail("cannot set up the sockets", g_strerror(errno));
    r->qemu = sp[1];
    g_unix_set_fd_nonblocking(sp[1], TRUE, NULL);
    r->qemu_in = g_string_new(NULL);
    r->qemu_ids = g_ptr_array_new_with_free_func(g_free);
    r->deferred = g_ptr_array_new();
    for (int i = 0; i < MAX_CLIENTS; i++)
        clientInit(&r->clients[i]);
    r->proxy = mhQmpProxyNew("fuzz", lfd, sp[0], table, NULL, &cbs, NULL, &err);
    if (!r->proxy)
        fail("mhQmpProxyNew", err->message);
    mhQmpProxyAddEventHook(r->proxy, onEvent, NULL);
    if (next(r) & 1)
        mhQmpProxySetEventFilter(r->proxy, eventFilter, NULL);
}

static void
finish(Run *r)
{
    completeDeferred(r, true);
    pump();
    readAll(r);
    mhQmpProxyFree(r->proxy);
    pump();
    readAll(r);
    if (r->own_done != r->own_sent)
        fail("a command of qemu-mh's own got no callback, or more than one", NULL);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        clientClear(&r->clients[i]);
        g_string_free(r->clients[i].sent, TRUE);
        g_string_free(r->clients[i].in, TRUE);
        g_ptr_array_unref(r->clients[i].expect);
    }
    if (r->qemu >= 0)
        close(r->qemu);
    g_string_free(r->qemu_in, TRUE);
    g_ptr_array_unref(r->qemu_ids);
    g_ptr_array_unref(r->deferred);
}

static void
quiet(const char *msg)
{
    (void)msg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The proxy reports what it drops on stderr: millions of lines here. */
    g_set_printerr_handler(quiet);
    /* Abstract: nothing on disk, and the name is free when closed. */
    snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "mh-fuzz-qmp-%d", (int)getpid());
    addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
    /* GLib's main context opens its wakeup fd once, on first use. */
    g_main_context_iteration(NULL, FALSE);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = mhFuzzCountFds();
    Run *r = g_new0(Run, 1);

    r->data = data;
    r->size = size;
    cur = r;
    start(r);
    for (int ops = 0; ops < MAX_OPS && r->pos < r->size; ops++) {
        uint8_t op = next(r);

        switch (op % 4) {
        case 0: case 1: clientOp(r, op / 4 % 6); break;
        case 2: qemuOp(r, op / 4 % 5 == 4 && op < 128 ? 1 : op / 4 % 5); break;
        default: proxyOp(r, op / 4 % 8 == 7 ? 3 : op / 4 % 3);
        }
        pump();
        readAll(r);
    }
    finish(r);
    cur = NULL;
    g_free(r);
    mhFuzzCheckFds(fds, "fuzz-qmp-proxy");
    mhFuzzCheckMemory("fuzz-qmp-proxy");
    return 0;
}
