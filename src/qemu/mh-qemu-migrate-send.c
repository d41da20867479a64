/* A sending thread for the source: while it writes one batch of sealed
 * records to the connection, the MH already seals the next one, so
 * sealing and the network (and the target's opening) overlap. Messages
 * keep their order; a few buffers circulate between the two threads. */
#include "qemu/mh-qemu-migrate-send.h"

#include "util/mh-error.h"

struct _MhQemuMigrateSender {
    MhQemuStream *stream;
    GThread *thread;
    GMutex lock;
    GCond cond;
    GQueue queued;          /* MhQemuMigrateSendItem, in order */
    GQueue free;            /* GByteArray */
    guint busy;             /* items taken by the thread, not done yet */
    bool stop;
    GError *error;          /* the first send error; later items dropped */
};

typedef struct {
    MhQemuStreamMsg type;
    GByteArray *buf;
} MhQemuMigrateSendItem;

static gpointer
mhQemuMigrateSenderThread(gpointer data)
{
    MhQemuMigrateSender *s = data;

    g_mutex_lock(&s->lock);
    for (;;) {
        MhQemuMigrateSendItem *item;
        GError *err = NULL;
        bool failed;

        while (!s->stop && g_queue_is_empty(&s->queued))
            g_cond_wait(&s->cond, &s->lock);
        if (g_queue_is_empty(&s->queued))
            break;
        item = g_queue_pop_head(&s->queued);
        s->busy++;
        failed = s->error != NULL;
        g_mutex_unlock(&s->lock);

        if (!failed)
            mhQemuStreamSend(s->stream, item->type, item->buf->data, item->buf->len, &err);

        g_mutex_lock(&s->lock);
        if (err && !s->error)
            s->error = err;
        else if (err)
            g_error_free(err);
        g_queue_push_tail(&s->free, item->buf);
        g_free(item);
        s->busy--;
        g_cond_broadcast(&s->cond);
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

MhQemuMigrateSender *
mhQemuMigrateSenderNew(MhQemuStream *stream, guint nbufs, gsize bufsize)
{
    MhQemuMigrateSender *s = g_new0(MhQemuMigrateSender, 1);

    s->stream = stream;
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    for (guint i = 0; i < nbufs; i++)
        g_queue_push_tail(&s->free, g_byte_array_sized_new(bufsize));
    s->thread = g_thread_new("mh-migrate-send", mhQemuMigrateSenderThread, s);
    return s;
}

void
mhQemuMigrateSenderFree(MhQemuMigrateSender *s)
{
    GByteArray *buf;
    MhQemuMigrateSendItem *item;

    if (!s)
        return;
    g_mutex_lock(&s->lock);
    s->stop = true;
    /* Whatever is still queued is not sent (we are giving up). */
    if (!s->error)
        s->error = g_error_new_literal(MH_ERROR, MH_ERROR_FAILED, "sender stopped");
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    g_thread_join(s->thread);
    while ((item = g_queue_pop_head(&s->queued))) {
        g_byte_array_unref(item->buf);
        g_free(item);
    }
    while ((buf = g_queue_pop_head(&s->free)))
        g_byte_array_unref(buf);
    g_clear_error(&s->error);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s);
}

static bool
mhQemuMigrateSenderFailed(MhQemuMigrateSender *s, GError **error)
{
    if (s->error) {
        g_propagate_error(error, g_error_copy(s->error));
        return true;
    }
    return false;
}

GByteArray *
mhQemuMigrateSenderGetBuffer(MhQemuMigrateSender *s, GError **error)
{
    GByteArray *buf = NULL;

    g_mutex_lock(&s->lock);
    while (!s->error && g_queue_is_empty(&s->free))
        g_cond_wait(&s->cond, &s->lock);
    if (!mhQemuMigrateSenderFailed(s, error)) {
        buf = g_queue_pop_head(&s->free);
        g_byte_array_set_size(buf, 0);
    }
    g_mutex_unlock(&s->lock);
    return buf;
}

void
mhQemuMigrateSenderQueue(MhQemuMigrateSender *s, MhQemuStreamMsg type, GByteArray *buf)
{
    MhQemuMigrateSendItem *item = g_new0(MhQemuMigrateSendItem, 1);

    item->type = type;
    item->buf = buf;
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->queued, item);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
}

void
mhQemuMigrateSenderRelease(MhQemuMigrateSender *s, GByteArray *buf)
{
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->free, buf);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
}

bool
mhQemuMigrateSenderSend(MhQemuMigrateSender *s, MhQemuStreamMsg type,
                        const void *data, gsize len, GError **error)
{
    GByteArray *buf = mhQemuMigrateSenderGetBuffer(s, error);

    if (!buf)
        return false;
    g_byte_array_append(buf, data, len);
    mhQemuMigrateSenderQueue(s, type, buf);
    return true;
}

bool
mhQemuMigrateSenderFlush(MhQemuMigrateSender *s, GError **error)
{
    bool ok;

    g_mutex_lock(&s->lock);
    while (!s->error && (!g_queue_is_empty(&s->queued) || s->busy))
        g_cond_wait(&s->cond, &s->lock);
    ok = !mhQemuMigrateSenderFailed(s, error);
    g_mutex_unlock(&s->lock);
    return ok;
}
