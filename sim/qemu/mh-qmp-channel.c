/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Line-oriented socket endpoint with SCM_RIGHTS, see mh-qmp-channel.h. */
#include "sim/qemu/mh-qmp-channel.h"
#include "sim/qemu/mh-qmp-split.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

/* More than any QMP command carries; extra fds are closed by the kernel
 * being told the control buffer was truncated (MSG_CTRUNC). */
#define MH_QMP_MAX_FDS 32
#define MH_QMP_READ_SIZE 65536

typedef struct {
    GBytes *data;
    size_t off;
    GArray *fds;
} MhQmpOut;

struct _MhQmpChannel {
    int refs;
    int fd;
    bool closed;
    GSource *in_src;
    GSource *out_src;
    GString *inbuf;
    MhQmpChannelFraming framing;
    size_t line_scanned;        /* of inbuf, for lines: no '\n' before it */
    MhQmpSplitter split;        /* for JSON values */
    GArray *cur_fds;
    GQueue outq;
    MhQmpChannelLineFunc line_cb;
    MhQmpChannelEofFunc eof_cb;
    gpointer data;
};

void
mhQmpFdsFree(GArray *fds)
{
    if (!fds)
        return;
    for (guint i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
    g_array_free(fds, TRUE);
}

static void
mhQmpOutFree(MhQmpOut *out)
{
    g_bytes_unref(out->data);
    mhQmpFdsFree(out->fds);
    g_free(out);
}

static void
mhQmpChannelUnref(MhQmpChannel *chan)
{
    if (--chan->refs > 0)
        return;
    g_string_free(chan->inbuf, TRUE);
    mhQmpFdsFree(chan->cur_fds);
    g_free(chan);
}

static void
mhQmpChannelClose(MhQmpChannel *chan)
{
    MhQmpOut *out;

    if (chan->closed)
        return;
    chan->closed = true;
    if (chan->in_src) {
        g_source_destroy(chan->in_src);
        g_source_unref(chan->in_src);
        chan->in_src = NULL;
    }
    if (chan->out_src) {
        g_source_destroy(chan->out_src);
        g_source_unref(chan->out_src);
        chan->out_src = NULL;
    }
    while ((out = g_queue_pop_head(&chan->outq)))
        mhQmpOutFree(out);
    close(chan->fd);
    chan->fd = -1;
}

void
mhQmpChannelFree(MhQmpChannel *chan)
{
    if (!chan)
        return;
    mhQmpChannelClose(chan);
    mhQmpChannelUnref(chan);
}

static void
mhQmpChannelEof(MhQmpChannel *chan)
{
    mhQmpChannelClose(chan);
    if (chan->eof_cb)
        chan->eof_cb(chan, chan->data);
}

static void
mhQmpChannelTakeFds(MhQmpChannel *chan, struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;
        int *fds;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        fds = (int *)CMSG_DATA(c);
        if (!chan->cur_fds)
            chan->cur_fds = g_array_new(FALSE, FALSE, sizeof(int));
        g_array_append_vals(chan->cur_fds, fds, n);
    }
}

/* Drop the first 'n' bytes of the input. */
static void
mhQmpChannelConsume(MhQmpChannel *chan, size_t n)
{
    g_string_erase(chan->inbuf, 0, n);
    chan->line_scanned -= MIN(n, chan->line_scanned);
    mhQmpSplitConsumed(&chan->split, n);
}

/* The next complete message of the input, if any: TRUE with *msg (or
 * *error when input was dropped). Each byte is scanned once. */
static bool
mhQmpChannelNextMessage(MhQmpChannel *chan, char **msg, size_t *len, const char **error)
{
    size_t start = 0, end = 0;
    MhQmpSplitResult r;
    char *nl;

    *msg = NULL;
    *error = NULL;
    if (chan->framing == MH_QMP_CHANNEL_LINES) {
        nl = memchr(chan->inbuf->str + chan->line_scanned, '\n',
                    chan->inbuf->len - chan->line_scanned);
        if (!nl) {
            chan->line_scanned = chan->inbuf->len;
            return false;
        }
        *len = nl - chan->inbuf->str + 1;
        *msg = g_strndup(chan->inbuf->str, *len);
        mhQmpChannelConsume(chan, *len);
        return true;
    }
    r = mhQmpSplitNext(&chan->split, chan->inbuf->str, chan->inbuf->len, &start, &end, error);
    if (r == MH_QMP_SPLIT_VALUE) {
        *len = end - start;
        *msg = g_strndup(chan->inbuf->str + start, *len);
    }
    mhQmpChannelConsume(chan, end);
    return r != MH_QMP_SPLIT_MORE;
}

/* Hand every complete message to the callback. The callback may free the
 * channel: we hold a reference and stop as soon as it is closed. */
static void
mhQmpChannelDispatch(MhQmpChannel *chan)
{
    char *msg;
    size_t len = 0;
    const char *error;

    while (!chan->closed && mhQmpChannelNextMessage(chan, &msg, &len, &error)) {
        g_autofree char *owned = msg;
        GArray *fds = g_steal_pointer(&chan->cur_fds);

        chan->line_cb(chan, owned, owned ? len : 0, fds, error, chan->data);
    }
}

static gboolean
mhQmpChannelReadable(gint fd, GIOCondition cond, gpointer opaque)
{
    MhQmpChannel *chan = opaque;
    char buf[MH_QMP_READ_SIZE];
    union {
        char buf[CMSG_SPACE(sizeof(int) * MH_QMP_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    ssize_t got;

    got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;

    chan->refs++;
    if (got <= 0) {
        mhQmpChannelEof(chan);
    } else {
        mhQmpChannelTakeFds(chan, &msg);
        g_string_append_len(chan->inbuf, buf, got);
        mhQmpChannelDispatch(chan);
    }
    if (chan->closed) {
        /* The source is already destroyed; drop our reference. */
        mhQmpChannelUnref(chan);
        return G_SOURCE_REMOVE;
    }
    mhQmpChannelUnref(chan);
    return G_SOURCE_CONTINUE;
}

static gboolean mhQmpChannelWritable(gint fd, GIOCondition cond, gpointer opaque);

static void
mhQmpChannelFlush(MhQmpChannel *chan)
{
    MhQmpOut *out;

    while (!chan->closed && (out = g_queue_peek_head(&chan->outq))) {
        size_t len;
        const char *data = g_bytes_get_data(out->data, &len);
        struct iovec iov = { .iov_base = (char *)data + out->off, .iov_len = len - out->off };
        union {
            char buf[CMSG_SPACE(sizeof(int) * MH_QMP_MAX_FDS)];
            struct cmsghdr align;
        } control;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t sent;

        if (out->off == 0 && out->fds && out->fds->len > 0) {
            struct cmsghdr *c;
            size_t n = MIN(out->fds->len, MH_QMP_MAX_FDS);

            memset(&control, 0, sizeof(control));
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
            c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * n);
            memcpy(CMSG_DATA(c), out->fds->data, sizeof(int) * n);
        }
        sent = sendmsg(chan->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (!chan->out_src) {
                    chan->out_src = g_unix_fd_source_new(chan->fd, G_IO_OUT);
                    g_source_set_callback(chan->out_src, (GSourceFunc)(void (*)(void))mhQmpChannelWritable,
                                          chan, NULL);
                    g_source_attach(chan->out_src, NULL);
                }
                return;
            }
            /* The peer is gone: the reader sees EOF and reports it. */
            while ((out = g_queue_pop_head(&chan->outq)))
                mhQmpOutFree(out);
            break;
        }
        /* Sent fds are duplicates in the peer now; ours are closed. */
        mhQmpFdsFree(g_steal_pointer(&out->fds));
        out->off += sent;
        if (out->off == len)
            mhQmpOutFree(g_queue_pop_head(&chan->outq));
    }
    if (chan->out_src) {
        g_source_destroy(chan->out_src);
        g_source_unref(chan->out_src);
        chan->out_src = NULL;
    }
}

static gboolean
mhQmpChannelWritable(gint fd, GIOCondition cond, gpointer opaque)
{
    MhQmpChannel *chan = opaque;
    GSource *src = chan->out_src;

    /* Flush may destroy the source; keep it alive until we return. */
    g_source_ref(src);
    mhQmpChannelFlush(chan);
    g_source_unref(src);
    return G_SOURCE_CONTINUE;
}

void
mhQmpChannelSend(MhQmpChannel *chan, const char *data, size_t len, GArray *fds)
{
    MhQmpOut *out;

    if (chan->closed) {
        mhQmpFdsFree(fds);
        return;
    }
    out = g_new0(MhQmpOut, 1);
    out->data = g_bytes_new(data, len);
    out->fds = fds;
    g_queue_push_tail(&chan->outq, out);
    if (!chan->out_src)
        mhQmpChannelFlush(chan);
}

MhQmpChannel *
mhQmpChannelNew(int fd, MhQmpChannelFraming framing, MhQmpChannelLineFunc line_cb,
                MhQmpChannelEofFunc eof_cb, gpointer data)
{
    MhQmpChannel *chan = g_new0(MhQmpChannel, 1);

    chan->framing = framing;
    chan->refs = 1;
    chan->fd = fd;
    chan->inbuf = g_string_new(NULL);
    chan->line_cb = line_cb;
    chan->eof_cb = eof_cb;
    chan->data = data;
    g_queue_init(&chan->outq);
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    fcntl(fd, F_SETFD, FD_CLOEXEC);

    chan->in_src = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(chan->in_src, (GSourceFunc)(void (*)(void))mhQmpChannelReadable,
                          chan, NULL);
    g_source_attach(chan->in_src, NULL);
    return chan;
}
