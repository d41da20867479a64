/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A non-blocking, line-oriented Unix socket endpoint for the QMP proxy:
 * it splits input into lines (keeping the raw bytes, terminator
 * included, so they can be passed on unchanged), collects file
 * descriptors received with SCM_RIGHTS and attaches them to the line
 * they arrived with, and queues output with optional fds to send along.
 * Private to sim/qemu/. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _MhQmpChannel MhQmpChannel;

/* How input is cut into messages: QEMU's replies and events come one per
 * line; a client's commands are top-level JSON values, as QEMU's monitor
 * reads them (mh-qmp-split.h). */
typedef enum {
    MH_QMP_CHANNEL_LINES,
    MH_QMP_CHANNEL_JSON_VALUES,
} MhQmpChannelFraming;

/* 'line' is NUL-terminated and, for lines, includes its '\n' (and '\r',
 * if any); 'fds' (may be NULL) is handed over to the callee. When input
 * had to be dropped (JSON values over QEMU's limits, or malformed), 'line'
 * is NULL and 'error' says why, in QEMU's words. */
typedef void (*MhQmpChannelLineFunc)(MhQmpChannel *chan, const char *line, size_t len,
                                     GArray *fds, const char *error, gpointer data);
/* The peer closed the connection or it failed; no more callbacks follow. */
typedef void (*MhQmpChannelEofFunc)(MhQmpChannel *chan, gpointer data);

/* Takes over 'fd' (made non-blocking). */
MhQmpChannel *mhQmpChannelNew(int fd, MhQmpChannelFraming framing,
                              MhQmpChannelLineFunc line_cb, MhQmpChannelEofFunc eof_cb,
                              gpointer data);
/* Close the socket and drop queued output; safe to call from a callback. */
void mhQmpChannelFree(MhQmpChannel *chan);

/* Queue bytes; 'fds' (may be NULL, handed over) go with the first byte
 * and are closed here once sent. */
void mhQmpChannelSend(MhQmpChannel *chan, const char *data, size_t len, GArray *fds);

/* Close every fd in the array and free it. */
void mhQmpFdsFree(GArray *fds);
