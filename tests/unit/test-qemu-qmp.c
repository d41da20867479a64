/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP proxy between a client and a scripted "QEMU": greeting, replies
 * and events pass through byte for byte, table commands are answered
 * locally with the client's id, file descriptors travel with the command
 * they came with, qemu-mh's own commands to QEMU never reach the client,
 * and the per-connection negotiation rules hold. */
#include "sim/qemu/mh-qemu.h"
#include "sim/qemu/mh-qmp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n"
#define EVENT_LINE "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}\r\n"

typedef struct {
    int fd;                 /* "QEMU"'s end */
    GThread *thread;
    GMainLoop *loop;
    GThread *loop_thread;
    MhQmpProxy *proxy;
    char *sock_path;
    char *dir;
    int events_seen;
} Fixture;

/* Read one line (blocking), with any fds that came with it. */
static char *
readLine(int fd, int *fdout)
{
    GString *line = g_string_new(NULL);

    if (fdout)
        *fdout = -1;
    for (;;) {
        char c;
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(fd, &msg, 0);

        if (n <= 0) {
            g_string_free(line, TRUE);
            return NULL;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_type == SCM_RIGHTS && fdout)
                memcpy(fdout, CMSG_DATA(cm), sizeof(int));
        }
        g_string_append_c(line, c);
        if (c == '\n')
            return g_string_free(line, FALSE);
    }
}

static void
writeAll(int fd, const char *text)
{
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
}

static void
sendWithFd(int fd, const char *text, int passfd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = (char *)text, .iov_len = strlen(text) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

    memset(control.buf, 0, sizeof(control.buf));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
    g_assert_cmpint(sendmsg(fd, &msg, 0), ==, (ssize_t)strlen(text));
}

/* The scripted QEMU: answers in its own spacing so that pass-through can
 * be told from re-serialization. */
static gpointer
fakeQemu(gpointer data)
{
    Fixture *f = data;
    char *line;
    int fd;

    writeAll(f->fd, GREETING);
    while ((line = readLine(f->fd, &fd))) {
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *cmd;
        const char *name;
        g_autofree char *id = NULL;
        g_autofree char *reply = NULL;

        g_assert_true(json_parser_load_from_data(p, line, -1, NULL));
        cmd = json_node_get_object(json_parser_get_root(p));
        name = json_object_get_string_member(cmd, "execute");
        if (json_object_has_member(cmd, "id")) {
            JsonNode *idn = json_object_get_member(cmd, "id");
            g_autoptr(JsonGenerator) gen = json_generator_new();
            json_generator_set_root(gen, idn);
            id = json_generator_to_data(gen, NULL);
        }
        if (strcmp(name, "getfd") == 0) {
            /* Prove the fd arrived: write through it. */
            g_assert_cmpint(fd, >=, 0);
            writeAll(fd, "hello");
            close(fd);
        } else {
            g_assert_cmpint(fd, ==, -1);
        }
        if (strcmp(name, "emit") == 0)
            writeAll(f->fd, EVENT_LINE);
        /* A reply nobody asked for comes first: it must not be taken as
         * the answer to the command in flight. */
        if (strcmp(name, "stray") == 0)
            writeAll(f->fd, "{\"return\": {\"stray\": 1}, \"id\": \"not-yours\"}\r\n");
        if (strcmp(name, "query-x") == 0)
            reply = g_strdup_printf("{\"return\": {\"x\": 1}%s%s}\r\n", id ? ", \"id\": " : "", id ? id : "");
        else
            reply = g_strdup_printf("{\"return\": {}%s%s}\r\n", id ? ", \"id\": " : "", id ? id : "");
        writeAll(f->fd, reply);
        g_free(line);
    }
    close(f->fd);
    return NULL;
}

static void
handleEcho(MhQmpRequest *req, gpointer opaque)
{
    JsonObject *args = mhQmpRequestGetArguments(req);
    JsonNode *ret = json_node_new(JSON_NODE_OBJECT);
    JsonObject *obj = json_object_new();

    g_assert_cmpstr(opaque, ==, "opaque");
    json_object_set_string_member(obj, "echo", args ? json_object_get_string_member(args, "v") : "");
    json_node_take_object(ret, obj);
    mhQmpRequestReturn(req, ret);
}

static void
internalDone(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    MhQmpRequest *req = data;
    JsonObject *ret = json_object_get_object_member(reply, "return");

    mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "qemu said x=%" G_GINT64_FORMAT,
                      json_object_get_int_member(ret, "x"));
}

static void
handleInternal(MhQmpRequest *req, gpointer opaque)
{
    mhQmpProxyExecute(mhQmpRequestGetProxy(req), "query-x", NULL, internalDone, req);
}

static gboolean
rewriteHook(MhQmpRequest *req, JsonObject *reply, gpointer data)
{
    JsonObject *copy = json_object_new();

    json_object_set_string_member(copy, "return", "rewritten");
    mhQmpRequestReply(req, copy);
    return TRUE;
}

static void
handleForwardRewrite(MhQmpRequest *req, gpointer opaque)
{
    mhQmpRequestForward(req, rewriteHook, NULL);
}

static const MhQmpCommand testTable[] = {
    { "mh-echo", handleEcho },
    { "mh-internal", handleInternal },
    { "emit", handleForwardRewrite },
    { NULL, NULL },
};

static void
eventHook(MhQmpProxy *proxy, const char *event, JsonObject *msg, gpointer data)
{
    Fixture *f = data;

    if (strcmp(event, "RESUME") == 0)
        g_atomic_int_inc(&f->events_seen);
}

static gpointer
runLoop(gpointer data)
{
    g_main_loop_run(data);
    return NULL;
}

static int
connectClient(Fixture *f)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    strcpy(addr.sun_path, f->sock_path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    return fd;
}

static void
setup(Fixture *f)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int sp[2];
    int lfd;
    g_autoptr(GError) err = NULL;

    f->dir = g_dir_make_tmp("mhqmp-XXXXXX", &err);
    g_assert_no_error(err);
    f->sock_path = g_build_filename(f->dir, "m.sock", NULL);
    strcpy(addr.sun_path, f->sock_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), ==, 0);
    f->fd = sp[1];
    f->proxy = mhQmpProxyNew("test", lfd, sp[0], testTable, (gpointer)"opaque", NULL, NULL, &err);
    g_assert_no_error(err);
    mhQmpProxyAddEventHook(f->proxy, eventHook, f);
    f->thread = g_thread_new("fake-qemu", fakeQemu, f);
    f->loop = g_main_loop_new(NULL, FALSE);
    f->loop_thread = g_thread_new("loop", runLoop, f->loop);
}

static gboolean
quitLoop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static void
teardown(Fixture *f)
{
    g_idle_add(quitLoop, f->loop);
    g_thread_join(f->loop_thread);
    mhQmpProxyFree(f->proxy);   /* closes our end: the fake QEMU sees EOF */
    g_thread_join(f->thread);
    g_main_loop_unref(f->loop);
    unlink(f->sock_path);
    rmdir(f->dir);
    g_free(f->sock_path);
    g_free(f->dir);
}

static char *
roundTrip(int fd, const char *cmd)
{
    writeAll(fd, cmd);
    return readLine(fd, NULL);
}

static void
testProxy(void)
{
    Fixture f = { 0 };
    int c, p[2];
    char buf[8] = { 0 };
    g_autofree char *greeting = NULL;

    setup(&f);
    c = connectClient(&f);
    greeting = readLine(c, NULL);
    g_assert_cmpstr(greeting, ==, GREETING);

    /* Per-connection negotiation, as QEMU does it. */
    {
        g_autofree char *r = roundTrip(c, "{\"execute\":\"query-x\",\"id\":\"early\"}\r\n");
        g_assert_nonnull(strstr(r, "\"CommandNotFound\""));
        g_assert_nonnull(strstr(r, "\"id\":\"early\""));
    }
    {
        g_autofree char *r = roundTrip(c, "{\"execute\":\"qmp_capabilities\"}\r\n");
        g_assert_cmpstr(r, ==, "{\"return\":{}}\r\n");
    }
    /* Forwarded: QEMU's reply unchanged, byte for byte. */
    {
        g_autofree char *r = roundTrip(c, "{\"execute\":\"query-x\",\"id\":\"libvirt-1\"}\r\n");
        g_assert_cmpstr(r, ==, "{\"return\": {\"x\": 1}, \"id\": \"libvirt-1\"}\r\n");
    }
    /* Local, with the id echoed (any JSON value). */
    {
        g_autofree char *r = roundTrip(c, "{\"execute\":\"mh-echo\",\"arguments\":{\"v\":\"hi\"},\"id\":{\"n\":5}}\r\n");
        g_assert_cmpstr(r, ==, "{\"return\":{\"echo\":\"hi\"},\"id\":{\"n\":5}}\r\n");
    }
    /* A handler that asks QEMU itself: QEMU's reply stays inside. */
    {
        g_autofree char *r = roundTrip(c, "{\"execute\":\"mh-internal\",\"id\":2}\r\n");
        g_assert_cmpstr(r, ==, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"qemu said x=1\"},\"id\":2}\r\n");
    }
    /* File descriptors go to QEMU with their command. */
    g_assert_cmpint(pipe(p), ==, 0);
    sendWithFd(c, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f\"},\"id\":3}\r\n", p[1]);
    close(p[1]);
    {
        g_autofree char *r = readLine(c, NULL);
        g_assert_cmpstr(r, ==, "{\"return\": {}, \"id\": 3}\r\n");
    }
    g_assert_cmpint(read(p[0], buf, 5), ==, 5);
    g_assert_cmpstr(buf, ==, "hello");
    close(p[0]);
    /* An event passes unchanged and reaches the hooks; a reply hook can
     * rewrite the reply of a forwarded command. */
    {
        g_autofree char *ev = roundTrip(c, "{\"execute\":\"emit\",\"id\":4}\r\n");
        g_autofree char *r = readLine(c, NULL);
        g_assert_cmpstr(ev, ==, EVENT_LINE);
        g_assert_cmpstr(r, ==, "{\"return\":\"rewritten\",\"id\":4}\r\n");
        g_assert_cmpint(g_atomic_int_get(&f.events_seen), ==, 1);
    }
    /* Replies pair with commands by id, not by arrival order. */
    {
        g_autofree char *r1 = roundTrip(c, "{\"execute\":\"stray\",\"id\":\"mine\"}\r\n");
        g_autofree char *r2 = roundTrip(c, "{\"execute\":\"query-x\",\"id\":\"next\"}\r\n");
        g_assert_cmpstr(r1, ==, "{\"return\": {}, \"id\": \"mine\"}\r\n");
        g_assert_cmpstr(r2, ==, "{\"return\": {\"x\": 1}, \"id\": \"next\"}\r\n");
    }
    /* Not JSON: QEMU's error style, and the connection goes on. */
    {
        g_autofree char *r = roundTrip(c, "{nope\r\n");
        g_assert_nonnull(strstr(r, "JSON parse error"));
    }
    /* Two commands on one line are two commands, as QEMU reads them: the
     * second is qemu-mh's own, so it must not reach QEMU inside the
     * first's line (json-glib would have taken the pair as one object). */
    {
        g_autofree char *r1 = roundTrip(c, "{\"execute\":\"query-x\",\"id\":\"a\"} "
                                           "{\"execute\":\"mh-echo\",\"arguments\":"
                                           "{\"v\":\"b\"},\"id\":\"b\"}\r\n");
        g_autofree char *r2 = readLine(c, NULL);
        g_assert_cmpstr(r1, ==, "{\"return\": {\"x\": 1}, \"id\": \"a\"}\r\n");
        g_assert_cmpstr(r2, ==, "{\"return\":{\"echo\":\"b\"},\"id\":\"b\"}\r\n");
    }
    /* One command over several lines and writes, braces in a string. */
    {
        g_autofree char *r = NULL;

        writeAll(c, "{\"execute\":\n\"mh-echo\",");
        writeAll(c, "\"arguments\":{\"v\":\"}{\\\"\"},\n\"id\":7}");
        r = readLine(c, NULL);
        g_assert_cmpstr(r, ==, "{\"return\":{\"echo\":\"}{\\\"\"},\"id\":7}\r\n");
    }
    /* QEMU's limits: nesting deeper than 1024 and a value over 64 MiB are
     * refused and dropped, nothing of them kept, and the connection goes
     * on. */
    {
        g_autoptr(GString) deep = g_string_new(NULL);
        g_autofree char *r = NULL;
        g_autofree char *big = NULL;
        size_t big_len = (64u << 20) + 4096;
        static const char head[] = "{\"execute\":\"mh-echo\",\"arguments\":{\"v\":\"";

        for (int i = 0; i < 1100; i++)
            g_string_append_c(deep, '[');
        for (int i = 0; i < 1100; i++)
            g_string_append_c(deep, ']');
        r = roundTrip(c, deep->str);
        g_assert_nonnull(strstr(r, "nesting depth limit exceeded"));
        g_clear_pointer(&r, g_free);
        big = g_malloc(big_len + 64);
        memcpy(big, head, strlen(head));
        memset(big + strlen(head), 'x', big_len - strlen(head));
        memcpy(big + big_len, "\"}}", 4);
        r = roundTrip(c, big);
        g_assert_nonnull(strstr(r, "value size limit exceeded"));
        g_clear_pointer(&r, g_free);
        r = roundTrip(c, "{\"execute\":\"mh-echo\",\"arguments\":{\"v\":\"ok\"},\"id\":8}");
        g_assert_cmpstr(r, ==, "{\"return\":{\"echo\":\"ok\"},\"id\":8}\r\n");
    }
    /* A second client after the first left gets the greeting again and
     * must negotiate again. */
    close(c);
    c = connectClient(&f);
    {
        g_autofree char *g2 = readLine(c, NULL);
        g_autofree char *r1 = roundTrip(c, "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n");
        g_autofree char *r2 = roundTrip(c, "{\"execute\":\"qmp_capabilities\",\"id\":2}\r\n");
        g_autofree char *r3 = roundTrip(c, "{\"execute\":\"query-x\"}\r\n");
        g_assert_cmpstr(g2, ==, GREETING);
        g_assert_cmpstr(r1, ==, "{\"return\":{},\"id\":1}\r\n");
        g_assert_nonnull(strstr(r2, "already complete"));
        g_assert_cmpstr(r3, ==, "{\"return\": {\"x\": 1}}\r\n");
    }
    close(c);
    teardown(&f);
}

static void
testCommandTable(void)
{
    static const char *const local[] = {
        "query-sev", "query-sev-capabilities", "query-sev-launch-measure",
        "sev-inject-launch-secret", "query-sev-attestation-report",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(local); i++) {
        const MhQmpCommand *cmd = mhQmpCommandFind(mhQemuCommands, local[i]);
        g_assert_nonnull(cmd);
        g_assert_nonnull(cmd->handler);
    }
    g_assert_null(mhQmpCommandFind(mhQemuCommands, "query-status"));
    g_assert_null(mhQmpCommandFind(mhQemuCommands, "qmp_capabilities"));
    g_assert_null(mhQmpCommandFind(mhQemuCommands, NULL));
    /* Every name once. */
    for (const MhQmpCommand *a = mhQemuCommands; a->name; a++)
        g_assert_true(mhQmpCommandFind(mhQemuCommands, a->name) == a);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu/qmp/proxy", testProxy);
    g_test_add_func("/qemu/qmp/command-table", testCommandTable);
    return g_test_run();
}
