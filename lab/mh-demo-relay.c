/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: the migration stream's confidentiality check for users
 * who cannot capture packets (tcpdump needs root). The demo stands on the
 * network path itself: the migration URI names 127.0.0.1:PORT, where this
 * relay listens, libvirt's listen address puts the target's QEMU on
 * 127.0.0.2:PORT, and the relay passes every byte on while it searches
 * both directions for the guest's marker, the migration key and the MH
 * stream header, as the capture's reader does. */
#include "lab/mh-demo.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MH_DEMO_RELAY_CHUNK (256 * 1024)
#define MH_DEMO_RELAY_TARGET "127.0.0.2"

struct _MhDemoRelay {
    guint port;
    int listen_fd;
    gint stop;
    GThread *acceptor;
    GPtrArray *workers;         /* GThread *, joined at the end */
    GMutex lock;                /* the counts and needles */
    MhDemoCaptureResult res;
    MhDemoNeedle needles[3];
};

static int
mhDemoRelaySocket(const char *addr, guint port, bool listening, GError **error)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (fd < 0 ||
        (listening && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                       bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)) ||
        (!listening && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
        int saved = errno;

        if (listening)
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("relay: cannot listen on %s:%u: %s"),
                        addr, port, g_strerror(saved));
        else
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("relay: cannot connect to %s:%u: %s"),
                        addr, port, g_strerror(saved));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Bytes read from 'from' go to 'to' (-1: nowhere, the control connection)
 * and through the search; false at the end of that direction. */
static bool
mhDemoRelayPass(MhDemoRelay *relay, int from, int to, MhDemoDirection *dir, uint8_t *buf)
{
    ssize_t n = recv(from, buf, MH_DEMO_RELAY_CHUNK, 0);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (to >= 0)
            shutdown(to, SHUT_WR);
        return false;
    }
    g_mutex_lock(&relay->lock);
    relay->res.packets++;
    relay->res.payload_bytes += n;
    mhDemoSearch(dir, buf, n, relay->needles, G_N_ELEMENTS(relay->needles));
    g_mutex_unlock(&relay->lock);
    for (ssize_t off = 0; to >= 0 && off < n;) {
        ssize_t w = send(to, buf + off, n - off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        off += w;
    }
    return true;
}

typedef struct {
    MhDemoRelay *relay;
    int client;
} MhDemoRelayConn;

static gpointer
mhDemoRelayConnThread(gpointer data)
{
    g_autofree MhDemoRelayConn *conn = data;
    MhDemoRelay *relay = conn->relay;
    g_autofree uint8_t *buf = g_malloc(MH_DEMO_RELAY_CHUNK);
    MhDemoDirection up = { { 0 }, 0 }, down = { { 0 }, 0 };
    /* Nobody listens there before the migration: the control connection
     * is searched and goes no further. */
    int server = mhDemoRelaySocket(MH_DEMO_RELAY_TARGET, relay->port, false, NULL);
    bool up_open = true, down_open = server >= 0;

    while ((up_open || down_open) && !g_atomic_int_get(&relay->stop)) {
        struct pollfd pfd[2] = {
            { .fd = up_open ? conn->client : -1, .events = POLLIN },
            { .fd = down_open ? server : -1, .events = POLLIN },
        };

        if (poll(pfd, 2, 200) <= 0)
            continue;
        if (pfd[0].revents && !mhDemoRelayPass(relay, conn->client, server, &up, buf))
            up_open = false;
        if (pfd[1].revents && !mhDemoRelayPass(relay, server, conn->client, &down, buf))
            down_open = false;
    }
    close(conn->client);
    if (server >= 0)
        close(server);
    return NULL;
}

static gpointer
mhDemoRelayAcceptThread(gpointer data)
{
    MhDemoRelay *relay = data;

    while (!g_atomic_int_get(&relay->stop)) {
        struct pollfd pfd = { .fd = relay->listen_fd, .events = POLLIN };
        MhDemoRelayConn *conn;
        int fd;

        if (poll(&pfd, 1, 200) <= 0 || (fd = accept4(relay->listen_fd, NULL, NULL,
                                                     SOCK_CLOEXEC)) < 0)
            continue;
        conn = g_new0(MhDemoRelayConn, 1);
        conn->relay = relay;
        conn->client = fd;
        g_mutex_lock(&relay->lock);
        g_ptr_array_add(relay->workers,
                        g_thread_new("mh-demo-relay-conn", mhDemoRelayConnThread, conn));
        g_mutex_unlock(&relay->lock);
    }
    return NULL;
}

MhDemoRelay *
mhDemoRelayStart(guint port, const char *marker, const MhSecret *key, GError **error)
{
    MhDemoRelay *relay = g_new0(MhDemoRelay, 1);

    relay->port = port;
    g_mutex_init(&relay->lock);
    relay->workers = g_ptr_array_new();
    relay->needles[0] = (MhDemoNeedle){ (const uint8_t *)marker, strlen(marker),
                                        &relay->res.marker_hits };
    relay->needles[1] = (MhDemoNeedle){ key->data, key->len, &relay->res.key_hits };
    relay->needles[2] = (MhDemoNeedle){ (const uint8_t *)MH_DEMO_STREAM_MAGIC,
                                        strlen(MH_DEMO_STREAM_MAGIC),
                                        &relay->res.stream_magic_hits };
    if ((relay->listen_fd = mhDemoRelaySocket("127.0.0.1", port, true, error)) < 0) {
        mhDemoRelayFree(relay);
        return NULL;
    }
    relay->acceptor = g_thread_new("mh-demo-relay", mhDemoRelayAcceptThread, relay);
    return relay;
}

bool
mhDemoRelayProbe(MhDemoRelay *relay, const char *marker, GError **error)
{
    size_t half = strlen(marker) / 2;
    g_autofree char *first = g_strdup_printf("mh-demo control: %.*s", (int)half, marker);
    const char *second = marker + half;
    size_t want = strlen(first) + strlen(second);
    int one = 1;
    int fd = mhDemoRelaySocket("127.0.0.1", relay->port, false, error);
    bool ok;

    if (fd < 0)
        return false;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ok = write(fd, first, strlen(first)) == (ssize_t)strlen(first);
    g_usleep(20 * 1000);
    ok = ok && write(fd, second, strlen(second)) == (ssize_t)strlen(second);
    close(fd);
    if (!ok) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot send the relay's control string on 127.0.0.1:%u: %s"),
                    relay->port, g_strerror(errno));
        return false;
    }
    /* The relay has it once it counted every byte (the migration has not
     * started: nothing else comes through). */
    for (int i = 0; i < 100; i++) {
        guint64 got;

        g_mutex_lock(&relay->lock);
        got = relay->res.payload_bytes;
        g_mutex_unlock(&relay->lock);
        if (got >= want)
            return true;
        g_usleep(20 * 1000);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_IO,
                _("the relay on 127.0.0.1:%u did not receive its control string"), relay->port);
    return false;
}

static void
mhDemoRelayStop(MhDemoRelay *relay)
{
    g_atomic_int_set(&relay->stop, 1);
    if (relay->acceptor)
        g_thread_join(g_steal_pointer(&relay->acceptor));
    for (guint i = 0; i < relay->workers->len; i++)
        g_thread_join(g_ptr_array_index(relay->workers, i));
    g_ptr_array_set_size(relay->workers, 0);
}

void
mhDemoRelayFinish(MhDemoRelay *relay, MhDemoCaptureResult *res)
{
    mhDemoRelayStop(relay);
    *res = relay->res;
}

void
mhDemoRelayFree(MhDemoRelay *relay)
{
    if (!relay)
        return;
    mhDemoRelayStop(relay);
    if (relay->listen_fd >= 0)
        close(relay->listen_fd);
    g_ptr_array_free(relay->workers, TRUE);
    g_mutex_clear(&relay->lock);
    g_free(relay);
}
