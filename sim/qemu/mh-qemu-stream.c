/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Framing of the MH migration connection (see mh-qemu-stream.h). */
#include "sim/qemu/mh-qemu-stream.h"

#include "util/mh-enum.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Type 0 is no message: it has no name. */
MH_ENUM_IMPL(mhQemuStreamMsg, MH_QEMU_STREAM_MSG_LAST, NULL, "hello", "confirm", "records",
             "iteration", "final", "ram-done", "device", "device-eof", "error");

static void
mhQemuStreamPutU32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

static uint32_t
mhQemuStreamGetU32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void
mhQemuStreamHeader(uint8_t out[MH_QEMU_STREAM_HEADER_SIZE])
{
    memcpy(out, MH_QEMU_STREAM_MAGIC, 4);
    mhQemuStreamPutU32(out + 4, MH_QEMU_STREAM_VERSION);
}

bool
mhQemuStreamCheckHeader(const void *buf, size_t len, GError **error)
{
    const uint8_t *p = buf;
    uint32_t version;

    if (len < MH_QEMU_STREAM_HEADER_SIZE || memcmp(p, MH_QEMU_STREAM_MAGIC, 4) != 0) {
        /* Most likely a plain QEMU migration stream ("QEVM"): the source
         * migrates without the helper. */
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the incoming migration is not an MH migration stream (no '%s' header): "
                      "the source does not use the mirror helper"),
                    MH_QEMU_STREAM_MAGIC);
        return false;
    }
    version = mhQemuStreamGetU32(p + 4);
    if (version != MH_QEMU_STREAM_VERSION) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("MH migration stream version %u is not supported (this side speaks %u)"),
                    version, MH_QEMU_STREAM_VERSION);
        return false;
    }
    return true;
}

void
mhQemuStreamFrameHeader(MhQemuStreamMsg type, uint32_t len,
                        uint8_t out[MH_QEMU_STREAM_FRAME_HEADER_SIZE])
{
    mhQemuStreamPutU32(out, type);
    mhQemuStreamPutU32(out + 4, len);
}

bool
mhQemuStreamParseFrameHeader(const void *buf, MhQemuStreamMsg *type,
                             uint32_t *len, GError **error)
{
    const uint8_t *p = buf;
    uint32_t t = mhQemuStreamGetU32(p);
    uint32_t l = mhQemuStreamGetU32(p + 4);

    if (t == 0 || t >= MH_QEMU_STREAM_MSG_LAST) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH migration stream: unknown message type %u"), t);
        return false;
    }
    if (l > MH_QEMU_STREAM_MAX_PAYLOAD) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH migration stream: '%s' message of %u bytes exceeds the limit of %u"),
                    mhQemuStreamMsgTypeToString(t), l, MH_QEMU_STREAM_MAX_PAYLOAD);
        return false;
    }
    *type = t;
    *len = l;
    return true;
}

void
mhQemuStreamInit(MhQemuStream *stream, int fd, volatile gint *cancel)
{
    memset(stream, 0, sizeof(*stream));
    stream->fd = fd;
    stream->cancel = cancel;
}

static bool
mhQemuStreamCanceled(MhQemuStream *stream, GError **error)
{
    if (stream->cancel && g_atomic_int_get(stream->cancel)) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration canceled"));
        return true;
    }
    return false;
}

/* Wait until the fd is ready, waking up regularly to notice a cancel. */
static bool
mhQemuStreamWait(MhQemuStream *stream, short events, GError **error)
{
    gint64 start = g_get_monotonic_time();

    for (;;) {
        struct pollfd pfd = { .fd = stream->fd, .events = events };
        int r;

        if (mhQemuStreamCanceled(stream, error))
            return false;
        if (stream->idle_timeout_s &&
            g_get_monotonic_time() - start > (gint64)stream->idle_timeout_s * G_USEC_PER_SEC) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("migration connection: no progress for %u seconds"),
                        stream->idle_timeout_s);
            return false;
        }
        r = poll(&pfd, 1, 200);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("migration connection: poll failed: %s"), g_strerror(errno));
            return false;
        }
    }
}

static bool
mhQemuStreamWritev(MhQemuStream *stream, struct iovec *iov, int iovcnt, GError **error)
{
    while (iovcnt > 0) {
        ssize_t n;

        if (!mhQemuStreamWait(stream, POLLOUT, error))
            return false;
        n = sendmsg(stream->fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = iovcnt },
                    MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                g_set_error(error, MH_ERROR, MH_ERROR_IO,
                            _("migration connection lost: the peer went away (%s)"),
                            g_strerror(errno));
            else
                g_set_error(error, MH_ERROR, MH_ERROR_IO,
                            _("migration connection: write failed: %s"), g_strerror(errno));
            return false;
        }
        stream->bytes_sent += n;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    return true;
}

/* Read exactly 'len' bytes; 'what' names the part for a truncation error. */
static bool
mhQemuStreamRead(MhQemuStream *stream, void *buf, size_t len, const char *what,
                 GError **error)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n;

        if (!mhQemuStreamWait(stream, POLLIN, error))
            return false;
        n = recv(stream->fd, (char *)buf + got, len - got, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("migration connection: read failed: %s"), g_strerror(errno));
            return false;
        }
        if (n == 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("migration connection closed by the peer (in %s, after %zu of %zu bytes)"),
                        what, got, len);
            return false;
        }
        got += n;
        stream->bytes_received += n;
    }
    return true;
}

bool
mhQemuStreamSendHeader(MhQemuStream *stream, GError **error)
{
    uint8_t hdr[MH_QEMU_STREAM_HEADER_SIZE];
    struct iovec iov = { hdr, sizeof(hdr) };

    mhQemuStreamHeader(hdr);
    return mhQemuStreamWritev(stream, &iov, 1, error);
}

bool
mhQemuStreamRecvHeader(MhQemuStream *stream, GError **error)
{
    uint8_t hdr[MH_QEMU_STREAM_HEADER_SIZE];

    return mhQemuStreamRead(stream, hdr, sizeof(hdr), _("the stream header"), error) &&
           mhQemuStreamCheckHeader(hdr, sizeof(hdr), error);
}

bool
mhQemuStreamSend2(MhQemuStream *stream, MhQemuStreamMsg type,
                  const void *a, size_t alen, const void *b, size_t blen,
                  GError **error)
{
    uint8_t hdr[MH_QEMU_STREAM_FRAME_HEADER_SIZE];
    struct iovec iov[3];
    int n = 0;

    if (alen + blen > MH_QEMU_STREAM_MAX_PAYLOAD) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH migration stream: '%s' message of %zu bytes exceeds the limit of %u"),
                    mhQemuStreamMsgTypeToString(type), alen + blen, MH_QEMU_STREAM_MAX_PAYLOAD);
        return false;
    }
    mhQemuStreamFrameHeader(type, alen + blen, hdr);
    iov[n++] = (struct iovec){ hdr, sizeof(hdr) };
    if (alen)
        iov[n++] = (struct iovec){ (void *)a, alen };
    if (blen)
        iov[n++] = (struct iovec){ (void *)b, blen };
    return mhQemuStreamWritev(stream, iov, n, error);
}

bool
mhQemuStreamSend(MhQemuStream *stream, MhQemuStreamMsg type,
                 const void *data, size_t len, GError **error)
{
    return mhQemuStreamSend2(stream, type, data, len, NULL, 0, error);
}

bool
mhQemuStreamSendError(MhQemuStream *stream, const char *message)
{
    g_autoptr(GError) err = NULL;
    volatile gint *cancel = stream->cancel;
    bool ok;

    /* The reason must go out even when we give up because of a cancel. */
    stream->cancel = NULL;
    ok = mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_ERROR, message, strlen(message), &err);
    stream->cancel = cancel;
    return ok;
}

bool
mhQemuStreamRecv(MhQemuStream *stream, MhQemuStreamMsg *type,
                 GByteArray *payload, GError **error)
{
    g_byte_array_set_size(payload, 0);
    return mhQemuStreamRecvAppend(stream, type, payload, error);
}

bool
mhQemuStreamRecvAppend(MhQemuStream *stream, MhQemuStreamMsg *type, GByteArray *buf,
                       GError **error)
{
    uint8_t hdr[MH_QEMU_STREAM_FRAME_HEADER_SIZE];
    uint32_t len;
    guint at = buf->len;

    if (!mhQemuStreamRead(stream, hdr, sizeof(hdr), _("a message header"), error) ||
        !mhQemuStreamParseFrameHeader(hdr, type, &len, error))
        return false;
    if (len == 0)
        return true;
    g_byte_array_set_size(buf, at + len);
    if (mhQemuStreamRead(stream, buf->data + at, len, mhQemuStreamMsgTypeToString(*type),
                         error))
        return true;
    g_byte_array_set_size(buf, at);
    return false;
}

bool
mhQemuStreamReadable(MhQemuStream *stream)
{
    struct pollfd pfd = { .fd = stream->fd, .events = POLLIN };

    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

char *
mhQemuStreamErrorReason(const GByteArray *payload)
{
    /* An empty GByteArray may have no data at all. */
    if (!payload->len)
        return g_strdup(_("no reason given"));
    return g_utf8_make_valid((const char *)payload->data, payload->len);
}

bool
mhQemuStreamExpect(MhQemuStream *stream, MhQemuStreamMsg want,
                   GByteArray *payload, GError **error)
{
    MhQemuStreamMsg type;

    if (!mhQemuStreamRecv(stream, &type, payload, error))
        return false;
    if (type == MH_QEMU_STREAM_MSG_ERROR) {
        g_autofree char *reason = mhQemuStreamErrorReason(payload);

        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("migration peer reported: %s"), reason);
        return false;
    }
    if (type != want) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH migration stream: expected a '%s' message, got '%s'"),
                    mhQemuStreamMsgTypeToString(want), mhQemuStreamMsgTypeToString(type));
        return false;
    }
    return true;
}

void
mhQemuStreamIterationPack(uint32_t pass, uint64_t pages, uint8_t out[12])
{
    mhQemuStreamPutU32(out, pass);
    mhQemuStreamPutU32(out + 4, (uint32_t)pages);
    mhQemuStreamPutU32(out + 8, (uint32_t)(pages >> 32));
}

bool
mhQemuStreamIterationUnpack(const void *buf, size_t len, uint32_t *pass,
                            uint64_t *pages, GError **error)
{
    const uint8_t *p = buf;

    if (len != 12) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("MH migration stream: 'iteration' message of %zu bytes, expected 12"), len);
        return false;
    }
    *pass = mhQemuStreamGetU32(p);
    *pages = mhQemuStreamGetU32(p + 4) | (uint64_t)mhQemuStreamGetU32(p + 8) << 32;
    return true;
}
