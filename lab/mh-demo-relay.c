/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: the migration stream's confidentiality check for users
 * who cannot capture packets (tcpdump needs root). The demo stands on the
 * network path itself: the migration URI names 127.0.0.1:PORT, where its
 * relay (lab/mh-lab-relay.h) listens, libvirt's listen address puts the
 * target's QEMU on 127.0.0.2:PORT, and every byte passed on is searched,
 * both directions, for the guest's marker, the migration key and the MH
 * stream header, as the capture's reader does. */
#include "lab/mh-demo.h"
#include "lab/mh-lab-relay.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MH_DEMO_RELAY_TARGET "127.0.0.2"

struct _MhDemoRelay {
    MhLabRelay *relay;
    MhDemoCaptureResult res;    /* under the relay's lock */
    MhDemoNeedle needles[3];
};

static void
mhDemoRelaySink(gpointer data, gpointer *flow, const uint8_t *buf, size_t len)
{
    MhDemoRelay *relay = data;

    if (!*flow)
        *flow = g_new0(MhDemoDirection, 1);
    relay->res.packets++;
    relay->res.payload_bytes += len;
    mhDemoSearch(*flow, buf, len, relay->needles, G_N_ELEMENTS(relay->needles));
}

MhDemoRelay *
mhDemoRelayStart(guint port, const char *marker, const MhSecret *key, GError **error)
{
    MhDemoRelay *relay = g_new0(MhDemoRelay, 1);

    relay->needles[0] = (MhDemoNeedle){ (const uint8_t *)marker, strlen(marker),
                                        &relay->res.marker_hits };
    relay->needles[1] = (MhDemoNeedle){ key->data, key->len, &relay->res.key_hits };
    relay->needles[2] = (MhDemoNeedle){ (const uint8_t *)MH_DEMO_STREAM_MAGIC,
                                        strlen(MH_DEMO_STREAM_MAGIC),
                                        &relay->res.stream_magic_hits };
    /* Nobody listens on the target side before the migration: the control
     * connection is searched and goes no further. */
    if (!(relay->relay = mhLabRelayStart("127.0.0.1", port, MH_DEMO_RELAY_TARGET, port,
                                         mhDemoRelaySink, relay, error))) {
        g_free(relay);
        return NULL;
    }
    return relay;
}

static uint64_t
mhDemoRelayBytes(MhDemoRelay *relay)
{
    uint64_t got;

    mhLabRelayLock(relay->relay);
    got = relay->res.payload_bytes;
    mhLabRelayUnlock(relay->relay);
    return got;
}

bool
mhDemoRelayProbe(MhDemoRelay *relay, const char *marker, GError **error)
{
    guint port = mhLabRelayGetPort(relay->relay);
    size_t half = strlen(marker) / 2;
    g_autofree char *first = g_strdup_printf("mh-demo control: %.*s", (int)half, marker);
    const char *second = marker + half;
    size_t want = strlen(first) + strlen(second);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

    if (ok) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ok = write(fd, first, strlen(first)) == (ssize_t)strlen(first);
        g_usleep(20 * 1000);
        ok = ok && write(fd, second, strlen(second)) == (ssize_t)strlen(second);
    }
    if (!ok)
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot send the relay's control string on 127.0.0.1:%u: %s"), port,
                    g_strerror(errno));
    if (fd >= 0)
        close(fd);
    if (!ok)
        return false;
    /* The relay has it once it counted every byte (the migration has not
     * started: nothing else comes through). */
    for (int i = 0; i < 100; i++) {
        if (mhDemoRelayBytes(relay) >= want)
            return true;
        g_usleep(20 * 1000);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_IO,
                _("the relay on 127.0.0.1:%u did not receive its control string"), port);
    return false;
}

void
mhDemoRelayFinish(MhDemoRelay *relay, MhDemoCaptureResult *res)
{
    mhLabRelayStop(relay->relay);
    *res = relay->res;
}

void
mhDemoRelayFree(MhDemoRelay *relay)
{
    if (!relay)
        return;
    mhLabRelayFree(relay->relay);
    g_free(relay);
}
