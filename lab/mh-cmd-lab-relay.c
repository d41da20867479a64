/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh lab relay: a TCP relay that records every byte it carries, both
 * directions, as a host on the path would see them; for the demo's
 * confidentiality checks without the privileges a packet capture needs.
 *   virt-mh lab relay --to HOST:PORT --record FILE
 * prints "relay on 127.0.0.1:PORT" once it accepts and runs until
 * SIGTERM or SIGINT. */
#include "mh-cmd.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gio.h>

typedef struct {
    GSocketConnectable *to;
    int record_fd;
    GMutex lock;
} MhLabRelay;

typedef struct {
    MhLabRelay *relay;
    GSocketConnection *keep_from;
    GSocketConnection *keep_to;
    GSocket *from;
    GSocket *to;
} MhLabPump;

static gpointer
mhLabPumpRun(gpointer data)
{
    MhLabPump *p = data;
    char buf[16384];
    gssize n;

    while ((n = g_socket_receive(p->from, buf, sizeof(buf), NULL, NULL)) > 0) {
        g_mutex_lock(&p->relay->lock);
        if (write(p->relay->record_fd, buf, n) != n)
            g_printerr(_("lab relay: cannot record: %s\n"), g_strerror(errno));
        g_mutex_unlock(&p->relay->lock);
        for (gssize off = 0; off < n;) {
            gssize w = g_socket_send(p->to, buf + off, n - off, NULL, NULL);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
 out:
    g_socket_shutdown(p->to, FALSE, TRUE, NULL);
    g_object_unref(p->keep_from);
    g_object_unref(p->keep_to);
    g_free(p);
    return NULL;
}

static void
mhLabRelayStart(MhLabRelay *relay, GSocketConnection *a, GSocketConnection *b)
{
    GSocketConnection *ends[2][2] = { { a, b }, { b, a } };

    for (size_t i = 0; i < 2; i++) {
        MhLabPump *p = g_new0(MhLabPump, 1);

        p->relay = relay;
        p->keep_from = g_object_ref(ends[i][0]);
        p->keep_to = g_object_ref(ends[i][1]);
        p->from = g_socket_connection_get_socket(ends[i][0]);
        p->to = g_socket_connection_get_socket(ends[i][1]);
        g_socket_set_blocking(p->from, TRUE);
        g_thread_unref(g_thread_new("mh-relay", mhLabPumpRun, p));
    }
}

static gpointer
mhLabRelayAccept(gpointer data)
{
    GSocketListener *listener = data;
    MhLabRelay *relay = g_object_get_data(G_OBJECT(listener), "mh-relay");
    GSocketConnection *in;

    while ((in = g_socket_listener_accept(listener, NULL, NULL, NULL))) {
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GSocketConnection) out = g_socket_client_connect(client, relay->to, NULL,
                                                                   NULL);

        if (out)
            mhLabRelayStart(relay, in, out);
        g_object_unref(in);
    }
    return NULL;
}

static gboolean
mhLabRelayQuit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

int
mhCmdLabRelay(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *to = NULL, *record = NULL;
    GOptionEntry entries[] = {
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, N_("where to relay to"), N_("HOST:PORT") },
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &record,
          N_("file that receives every byte relayed"), N_("FILE") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketListener) listener = g_socket_listener_new();
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    MhLabRelay relay = { .to = NULL, .record_fd = -1 };

    if (!mhCmdParseOptions(global, "lab relay", NULL,
                           N_("Relay TCP to HOST:PORT, recording every byte."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!to || !record) {
        mhCmdErrorf(_("lab relay: give --to HOST:PORT and --record FILE"));
        return MH_EXIT_FAIL;
    }
    if (!(relay.to = g_network_address_parse(to, 0, &error)) ||
        !g_socket_listener_add_address(listener, any, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    if ((relay.record_fd = open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
        mhCmdErrorf(_("lab relay: cannot open '%s': %s"), record, g_strerror(errno));
        return MH_EXIT_FAIL;
    }
    g_mutex_init(&relay.lock);
    g_object_set_data(G_OBJECT(listener), "mh-relay", &relay);
    printf(_("relay on 127.0.0.1:%u\n"),
           g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    g_unix_signal_add(SIGTERM, mhLabRelayQuit, loop);
    g_unix_signal_add(SIGINT, mhLabRelayQuit, loop);
    g_thread_unref(g_thread_new("mh-relay-accept", mhLabRelayAccept, listener));
    g_main_loop_run(loop);
    /* Pumps may still run: exit without tearing down what they use. */
    fsync(relay.record_fd);
    _exit(MH_EXIT_OK);
}
