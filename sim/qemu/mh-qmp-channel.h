/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A non-blocking, line-oriented Unix socket endpoint for the QMP proxy:
 * it splits input into lines (keeping the raw bytes, terminator
 * included, so they can be passed on unchanged), collects file
 * descriptors received with SCM_RIGHTS and attaches them to the line
 * they arrived with, and queues output with optional fds to send along.
 * Private to src/qemu/. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _MhQmpChannel MhQmpChannel;

/* 'line' is NUL-terminated and includes its '\n' (and '\r', if any);
 * 'fds' (may be NULL) is handed over to the callee. */
typedef void (*MhQmpChannelLineFunc)(MhQmpChannel *chan, const char *line, size_t len,
                                     GArray *fds, gpointer data);
/* The peer closed the connection or it failed; no more callbacks follow. */
typedef void (*MhQmpChannelEofFunc)(MhQmpChannel *chan, gpointer data);

/* Takes over 'fd' (made non-blocking). */
MhQmpChannel *mhQmpChannelNew(int fd, MhQmpChannelLineFunc line_cb,
                              MhQmpChannelEofFunc eof_cb, gpointer data);
/* Close the socket and drop queued output; safe to call from a callback. */
void mhQmpChannelFree(MhQmpChannel *chan);

/* Queue bytes; 'fds' (may be NULL, handed over) go with the first byte
 * and are closed here once sent. */
void mhQmpChannelSend(MhQmpChannel *chan, const char *data, size_t len, GArray *fds);

/* Close every fd in the array and free it. */
void mhQmpFdsFree(GArray *fds);
