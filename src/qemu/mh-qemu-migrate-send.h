/* The source's sending thread (see mh-qemu-migrate-send.c); private to
 * src/qemu/. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "qemu/mh-qemu-stream.h"

typedef struct _MhQemuMigrateSender MhQemuMigrateSender;

/* 'nbufs' buffers of 'bufsize' bytes circulate; the stream is written only
 * by the sender's thread until mhQemuMigrateSenderFree(). */
MhQemuMigrateSender *mhQemuMigrateSenderNew(MhQemuStream *stream, guint nbufs, gsize bufsize);
/* Stops the thread; queued messages that were not sent are dropped. */
void mhQemuMigrateSenderFree(MhQemuMigrateSender *s);

/* A free buffer (emptied), waiting for one if needed; NULL with the send
 * error once sending failed. */
GByteArray *mhQemuMigrateSenderGetBuffer(MhQemuMigrateSender *s, GError **error);
/* Queue a filled buffer as one message; it returns to the pool when sent. */
void mhQemuMigrateSenderQueue(MhQemuMigrateSender *s, MhQemuStreamMsg type, GByteArray *buf);
/* Give back a buffer without sending it. */
void mhQemuMigrateSenderRelease(MhQemuMigrateSender *s, GByteArray *buf);
/* Copy and queue a small message. */
bool mhQemuMigrateSenderSend(MhQemuMigrateSender *s, MhQemuStreamMsg type,
                             const void *data, gsize len, GError **error);
/* Wait until everything queued went out; false with the send error. */
bool mhQemuMigrateSenderFlush(MhQemuMigrateSender *s, GError **error);
