/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: capture the migration connection and search it. tcpdump
 * records TCP on the loopback interface for the migration port only (the
 * libvirt RPC connections, which carry the domain XML, use other
 * sockets); the pcap file is then read here, TCP payloads joined per
 * direction so that a string split across segments is still found, and
 * searched for the guest's marker string, the migration key and the MH
 * stream header ("MHMS", proof that the capture saw the migration). */
#include "lab/mh-demo.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define MH_DEMO_PCAP_MAGIC_US 0xa1b2c3d4u
#define MH_DEMO_PCAP_MAGIC_NS 0xa1b23c4du
#define MH_DEMO_LINKTYPE_ETHERNET 1
#define MH_DEMO_LINKTYPE_LINUX_SLL 113
#define MH_DEMO_LINKTYPE_LINUX_SLL2 276

struct _MhDemoCapture {
    GSubprocess *proc;
    char *file;
    char *log;
    guint port;
};

void
mhDemoCaptureFree(MhDemoCapture *cap)
{
    if (!cap)
        return;
    if (cap->proc) {
        g_subprocess_force_exit(cap->proc);
        g_subprocess_wait(cap->proc, NULL, NULL);
        g_object_unref(cap->proc);
    }
    g_free(cap->file);
    g_free(cap->log);
    g_free(cap);
}

static char *
mhDemoFindTcpdump(void)
{
    static const char *const dirs[] = { "/usr/bin", "/usr/sbin", "/sbin", "/bin" };
    char *p = g_find_program_in_path("tcpdump");

    for (size_t i = 0; !p && i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *c = g_build_filename(dirs[i], "tcpdump", NULL);
        if (g_file_test(c, G_FILE_TEST_IS_EXECUTABLE))
            p = g_steal_pointer(&c);
    }
    return p;
}

MhDemoCapture *
mhDemoCaptureStart(const char *dir, guint port, char **why_not)
{
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *tcpdump = NULL;
    g_autofree char *filter = g_strdup_printf("tcp port %u", port);
    g_autofree char *name = g_strdup_printf("capture-%u.pcap", port);
    g_autofree char *logname = g_strdup_printf("capture-%u.log", port);
    MhDemoCapture *cap;
    gint64 deadline;

    if (geteuid() != 0) {
        *why_not = g_strdup(_("capturing packets on lo needs root (CAP_NET_RAW)"));
        return NULL;
    }
    if (!(tcpdump = mhDemoFindTcpdump())) {
        *why_not = g_strdup(_("tcpdump is not installed (Debian package tcpdump)"));
        return NULL;
    }
    cap = g_new0(MhDemoCapture, 1);
    cap->port = port;
    cap->file = g_build_filename(dir, name, NULL);
    cap->log = g_build_filename(dir, logname, NULL);
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_stderr_file_path(launcher, cap->log);
    /* -U: write each packet at once; -B: a large kernel buffer (KiB), so
     * that a fast migration on loopback is not dropped; -Z root: keep
     * writing our own file instead of switching to the tcpdump user. */
    cap->proc = g_subprocess_launcher_spawn(launcher, &err, tcpdump, "-i", "lo", "-n",
                                            "-s", "0", "-B", "262144", "-U", "-Z", "root",
                                            "-w", cap->file, filter, NULL);
    if (!cap->proc) {
        *why_not = g_strdup_printf(_("cannot run %s: %s"), tcpdump, err->message);
        mhDemoCaptureFree(cap);
        return NULL;
    }
    /* tcpdump says "listening on lo" once the capture is armed. */
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        g_autofree char *log = NULL;

        if (g_file_get_contents(cap->log, &log, NULL, NULL) && strstr(log, "listening on"))
            break;
        if (g_get_monotonic_time() > deadline ||
            g_subprocess_get_identifier(cap->proc) == NULL) {
            *why_not = g_strdup_printf(_("tcpdump did not start: %s"),
                                       log && *log ? g_strstrip(log) : _("no output"));
            mhDemoCaptureFree(cap);
            return NULL;
        }
        g_usleep(50 * 1000);
    }
    return cap;
}

/* The positive control: before the migration, send the marker once over a
 * connection on the same port, split across two TCP segments. The capture
 * must find it exactly there: tcpdump, the reassembly and the search all
 * work on this very capture. (Never the key: it is not sent anywhere.) */
bool
mhDemoCaptureProbe(MhDemoCapture *cap, const char *marker, GError **error)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cap->port) };
    size_t half = strlen(marker) / 2;
    g_autofree char *first = g_strdup_printf("mh-demo control: %.*s", (int)half, marker);
    const char *second = marker + half;
    int one = 1;
    int lfd = -1, cfd = -1, afd = -1;
    bool ok = false;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
        (cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
        write(cfd, first, strlen(first)) != (ssize_t)strlen(first)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot send the capture's control string on 127.0.0.1:%u: %s"),
                    cap->port, g_strerror(errno));
        goto cleanup;
    }
    g_usleep(20 * 1000);
    if (write(cfd, second, strlen(second)) != (ssize_t)strlen(second)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot send the capture's control string on 127.0.0.1:%u: %s"),
                    cap->port, g_strerror(errno));
        goto cleanup;
    }
    /* Let it arrive before the sockets go (and tcpdump sees it). */
    {
        char buf[128];
        size_t want = strlen(first) + strlen(second), got = 0;
        while (got < want) {
            ssize_t n = read(afd, buf, sizeof(buf));
            if (n <= 0)
                break;
            got += n;
        }
    }
    ok = true;

 cleanup:
    if (cfd >= 0)
        close(cfd);
    if (afd >= 0)
        close(afd);
    if (lfd >= 0)
        close(lfd);
    return ok;
}

void
mhDemoSearch(MhDemoDirection *dir, const uint8_t *payload, size_t len,
             MhDemoNeedle *needles, size_t nneedles)
{
    g_autofree uint8_t *buf = g_malloc(dir->tail_len + len);
    size_t blen = dir->tail_len + len;

    memcpy(buf, dir->tail, dir->tail_len);
    memcpy(buf + dir->tail_len, payload, len);
    for (size_t i = 0; i < nneedles; i++) {
        const uint8_t *p = buf;
        size_t left = blen;

        if (!needles[i].len)
            continue;
        while (left >= needles[i].len) {
            const uint8_t *hit = memmem(p, left, needles[i].data, needles[i].len);

            if (!hit)
                break;
            if ((size_t)(hit - buf) + needles[i].len > dir->tail_len)
                (*needles[i].hits)++;
            left -= (hit - p) + 1;
            p = hit + 1;
        }
    }
    dir->tail_len = MIN(blen, (size_t)MH_DEMO_MAX_NEEDLE - 1);
    memcpy(dir->tail, buf + blen - dir->tail_len, dir->tail_len);
}

/* The TCP payload of one captured frame, or NULL. */
static const uint8_t *
mhDemoTcpPayload(const uint8_t *pkt, size_t len, uint32_t linktype, uint32_t *key,
                 size_t *plen)
{
    size_t off, l3len, iphl;
    uint16_t proto;
    const uint8_t *ip;
    const uint8_t *tcp;
    size_t thl;

    switch (linktype) {
    case MH_DEMO_LINKTYPE_ETHERNET:
        if (len < 14)
            return NULL;
        proto = pkt[12] << 8 | pkt[13];
        off = 14;
        break;
    case MH_DEMO_LINKTYPE_LINUX_SLL:
        if (len < 16)
            return NULL;
        proto = pkt[14] << 8 | pkt[15];
        off = 16;
        break;
    case MH_DEMO_LINKTYPE_LINUX_SLL2:
        if (len < 20)
            return NULL;
        proto = pkt[0] << 8 | pkt[1];
        off = 20;
        break;
    default:
        return NULL;
    }
    ip = pkt + off;
    if (proto == 0x0800) {
        if (len < off + 20 || (ip[0] >> 4) != 4 || ip[9] != 6)
            return NULL;
        iphl = (ip[0] & 0xf) * 4;
        l3len = ip[2] << 8 | ip[3];
    } else if (proto == 0x86dd) {
        if (len < off + 40 || ip[6] != 6)
            return NULL;
        iphl = 40;
        l3len = 40 + (ip[4] << 8 | ip[5]);
    } else {
        return NULL;
    }
    /* Ethernet pads short frames: trust the IP length, not the frame's. */
    if (l3len > len - off)
        l3len = len - off;
    if (l3len < iphl + 20)
        return NULL;
    tcp = ip + iphl;
    thl = (tcp[12] >> 4) * 4;
    if (thl < 20 || iphl + thl > l3len)
        return NULL;
    *key = (uint32_t)(tcp[0] << 8 | tcp[1]) << 16 | (tcp[2] << 8 | tcp[3]);
    *plen = l3len - iphl - thl;
    return tcp + thl;
}

static bool
mhDemoCaptureRead(MhDemoCapture *cap, MhDemoNeedle *needles, size_t nneedles,
                  MhDemoCaptureResult *res, GError **error)
{
    g_autoptr(GHashTable) dirs = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    g_autofree uint8_t *pkt = NULL;
    uint8_t gh[24];
    uint32_t magic, snaplen, linktype;
    FILE *f = fopen(cap->file, "rb");
    bool ok = false;

    if (!f) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot open the capture '%s': %s"),
                    cap->file, g_strerror(errno));
        return false;
    }
    if (fread(gh, 1, sizeof(gh), f) != sizeof(gh)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("capture '%s' has no pcap header"), cap->file);
        goto cleanup;
    }
    memcpy(&magic, gh, 4);
    memcpy(&snaplen, gh + 16, 4);
    memcpy(&linktype, gh + 20, 4);
    if (magic != MH_DEMO_PCAP_MAGIC_US && magic != MH_DEMO_PCAP_MAGIC_NS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("capture '%s' is not a little-endian pcap file"), cap->file);
        goto cleanup;
    }
    pkt = g_malloc(MAX(snaplen, 65536u) + 1);
    for (;;) {
        uint8_t rh[16];
        uint32_t incl, key;
        size_t plen = 0;
        const uint8_t *payload;
        MhDemoDirection *dir;

        if (fread(rh, 1, sizeof(rh), f) != sizeof(rh))
            break;          /* end of file (a cut last record is ignored) */
        memcpy(&incl, rh + 8, 4);
        if (incl > MAX(snaplen, 65536u) || fread(pkt, 1, incl, f) != incl)
            break;
        res->packets++;
        if (!(payload = mhDemoTcpPayload(pkt, incl, linktype, &key, &plen)) || !plen)
            continue;
        res->payload_bytes += plen;
        if (!(dir = g_hash_table_lookup(dirs, GUINT_TO_POINTER(key)))) {
            dir = g_new0(MhDemoDirection, 1);
            g_hash_table_insert(dirs, GUINT_TO_POINTER(key), dir);
        }
        mhDemoSearch(dir, payload, plen, needles, nneedles);
    }
    ok = true;

 cleanup:
    fclose(f);
    return ok;
}

bool
mhDemoCaptureFinish(MhDemoCapture *cap, const char *marker, const MhSecret *key,
                    MhDemoCaptureResult *res, GError **error)
{
    g_autofree char *log = NULL;
    const char *p;
    MhDemoNeedle needles[3] = {
        { (const uint8_t *)marker, strlen(marker), &res->marker_hits },
        { key->data, key->len, &res->key_hits },
        { (const uint8_t *)MH_DEMO_STREAM_MAGIC, strlen(MH_DEMO_STREAM_MAGIC),
          &res->stream_magic_hits },
    };

    memset(res, 0, sizeof(*res));
    /* SIGINT: tcpdump flushes, prints its counters and exits. */
    g_subprocess_send_signal(cap->proc, SIGINT);
    g_subprocess_wait(cap->proc, NULL, NULL);
    g_clear_object(&cap->proc);
    if (g_file_get_contents(cap->log, &log, NULL, NULL) &&
        (p = strstr(log, " packets dropped by kernel"))) {
        while (p > log && g_ascii_isdigit(p[-1]))
            p--;
        res->dropped = g_ascii_strtoull(p, NULL, 10);
    }
    return mhDemoCaptureRead(cap, needles, G_N_ELEMENTS(needles), res, error);
}
