/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One thread accepts, one thread per connection moves both directions
 * with poll(), so that a stop is seen within 200 ms everywhere. */
#include "lab/mh-lab-relay.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MH_LAB_RELAY_CHUNK (256 * 1024)

struct _MhLabRelay {
    char *to_addr;
    guint to_port;
    guint port;
    int listen_fd;
    gint stop;
    GThread *acceptor;
    GPtrArray *workers;         /* GThread *, joined at the stop */
    GMutex lock;                /* the sink's state, the workers */
    MhLabRelaySink sink;
    gpointer sink_data;
};

static int
mhLabRelaySocket(const char *addr, guint port, bool listening, GError **error)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1;
    int fd = -1;

    errno = EINVAL;
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
        (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
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

/* Bytes read from 'from' go through the sink and on to 'to' (-1: the far
 * end was never reached); false at the end of that direction. */
static bool
mhLabRelayPass(MhLabRelay *relay, int from, int to, gpointer *flow, uint8_t *buf)
{
    ssize_t n = recv(from, buf, MH_LAB_RELAY_CHUNK, 0);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (to >= 0)
            shutdown(to, SHUT_WR);
        return false;
    }
    g_mutex_lock(&relay->lock);
    relay->sink(relay->sink_data, flow, buf, n);
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
    MhLabRelay *relay;
    int client;
} MhLabRelayConn;

static gpointer
mhLabRelayConnThread(gpointer data)
{
    g_autofree MhLabRelayConn *conn = data;
    MhLabRelay *relay = conn->relay;
    g_autofree uint8_t *buf = g_malloc(MH_LAB_RELAY_CHUNK);
    gpointer flow[2] = { NULL, NULL };
    int server = mhLabRelaySocket(relay->to_addr, relay->to_port, false, NULL);
    bool up_open = true, down_open = server >= 0;

    while ((up_open || down_open) && !g_atomic_int_get(&relay->stop)) {
        struct pollfd pfd[2] = {
            { .fd = up_open ? conn->client : -1, .events = POLLIN },
            { .fd = down_open ? server : -1, .events = POLLIN },
        };

        if (poll(pfd, 2, 200) <= 0)
            continue;
        if (pfd[0].revents && !mhLabRelayPass(relay, conn->client, server, &flow[0], buf))
            up_open = false;
        if (pfd[1].revents && !mhLabRelayPass(relay, server, conn->client, &flow[1], buf))
            down_open = false;
    }
    close(conn->client);
    if (server >= 0)
        close(server);
    g_mutex_lock(&relay->lock);
    g_free(flow[0]);
    g_free(flow[1]);
    g_mutex_unlock(&relay->lock);
    return NULL;
}

static gpointer
mhLabRelayAcceptThread(gpointer data)
{
    MhLabRelay *relay = data;

    while (!g_atomic_int_get(&relay->stop)) {
        struct pollfd pfd = { .fd = relay->listen_fd, .events = POLLIN };
        MhLabRelayConn *conn;
        int fd;

        if (poll(&pfd, 1, 200) <= 0 ||
            (fd = accept4(relay->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
            continue;
        conn = g_new0(MhLabRelayConn, 1);
        conn->relay = relay;
        conn->client = fd;
        g_mutex_lock(&relay->lock);
        g_ptr_array_add(relay->workers,
                        g_thread_new("mh-relay-conn", mhLabRelayConnThread, conn));
        g_mutex_unlock(&relay->lock);
    }
    return NULL;
}

MhLabRelay *
mhLabRelayStart(const char *listen_addr, guint listen_port, const char *to_addr,
                guint to_port, MhLabRelaySink sink, gpointer data, GError **error)
{
    g_autoptr(MhLabRelay) relay = g_new0(MhLabRelay, 1);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    relay->to_addr = g_strdup(to_addr);
    relay->to_port = to_port;
    relay->sink = sink;
    relay->sink_data = data;
    relay->workers = g_ptr_array_new();
    relay->listen_fd = -1;
    g_mutex_init(&relay->lock);
    if ((relay->listen_fd = mhLabRelaySocket(listen_addr, listen_port, true, error)) < 0)
        return NULL;
    if (getsockname(relay->listen_fd, (struct sockaddr *)&sa, &len) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("relay: cannot read its port: %s"),
                    g_strerror(errno));
        return NULL;
    }
    relay->port = ntohs(sa.sin_port);
    relay->acceptor = g_thread_new("mh-relay", mhLabRelayAcceptThread, relay);
    return g_steal_pointer(&relay);
}

guint
mhLabRelayGetPort(const MhLabRelay *relay)
{
    return relay->port;
}

void
mhLabRelayLock(MhLabRelay *relay)
{
    g_mutex_lock(&relay->lock);
}

void
mhLabRelayUnlock(MhLabRelay *relay)
{
    g_mutex_unlock(&relay->lock);
}

void
mhLabRelayStop(MhLabRelay *relay)
{
    g_atomic_int_set(&relay->stop, 1);
    if (relay->acceptor)
        g_thread_join(g_steal_pointer(&relay->acceptor));
    /* The acceptor is gone: nobody adds workers any more. */
    for (guint i = 0; i < relay->workers->len; i++)
        g_thread_join(g_ptr_array_index(relay->workers, i));
    g_ptr_array_set_size(relay->workers, 0);
}

void
mhLabRelayFree(MhLabRelay *relay)
{
    if (!relay)
        return;
    mhLabRelayStop(relay);
    if (relay->listen_fd >= 0)
        close(relay->listen_fd);
    g_ptr_array_free(relay->workers, TRUE);
    g_mutex_clear(&relay->lock);
    g_free(relay->to_addr);
    g_free(relay);
}
