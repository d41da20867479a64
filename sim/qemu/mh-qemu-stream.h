/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire framing of an MH-assisted migration: one TCP connection (the
 * one libvirt opened, or the URI libvirt gave) carries the handshake, the
 * sealed page records, the end-of-RAM confirmation and the device state of
 * the real QEMUs, as length-prefixed messages after a stream header.
 * Everything here is public data: hellos, confirmations, sealed records
 * and QEMU's device state (RAM excluded with x-ignore-shared). The layout
 * is in docs/migration-stream.md.
 *
 * I/O is blocking on a plain fd (the migration threads own their socket);
 * the parser side is separate so that it can be tested without sockets. */
#pragma once

#include "util/mh-enum.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MH_QEMU_STREAM_MAGIC "MHMS"
#define MH_QEMU_STREAM_VERSION 1
#define MH_QEMU_STREAM_HEADER_SIZE 8
#define MH_QEMU_STREAM_FRAME_HEADER_SIZE 8
/* Large enough for a batch of full records (15 records of 512 pages). */
#define MH_QEMU_STREAM_MAX_PAYLOAD (32U * 1024 * 1024)

typedef enum {
    MH_QEMU_STREAM_MSG_HELLO = 1,       /* MH hello (both directions) */
    MH_QEMU_STREAM_MSG_CONFIRM,         /* MH key confirmation (both) */
    MH_QEMU_STREAM_MSG_RECORDS,         /* one or more sealed records (src->dst) */
    MH_QEMU_STREAM_MSG_ITERATION,       /* end of a pre-copy pass: u32 pass, u64 pages */
    MH_QEMU_STREAM_MSG_FINAL,           /* the final record (src->dst) */
    MH_QEMU_STREAM_MSG_RAM_DONE,        /* target restored and verified all RAM */
    MH_QEMU_STREAM_MSG_DEVICE,          /* QEMU migration stream bytes (both) */
    MH_QEMU_STREAM_MSG_DEVICE_EOF,      /* that direction of QEMU's stream ended */
    MH_QEMU_STREAM_MSG_ERROR,           /* UTF-8 reason; the sender gives up */

    MH_QEMU_STREAM_MSG_LAST
} MhQemuStreamMsg;

MH_ENUM_DECL(mhQemuStreamMsg);

/* The 8-byte stream header: magic + version (LE). */
void mhQemuStreamHeader(uint8_t out[MH_QEMU_STREAM_HEADER_SIZE]);
bool mhQemuStreamCheckHeader(const void *buf, size_t len, GError **error);

/* Frame header for a message of 'len' payload bytes. */
void mhQemuStreamFrameHeader(MhQemuStreamMsg type, uint32_t len,
                             uint8_t out[MH_QEMU_STREAM_FRAME_HEADER_SIZE]);
/* Decode a frame header; refuses unknown types and oversized payloads. */
bool mhQemuStreamParseFrameHeader(const void *buf, MhQemuStreamMsg *type,
                                  uint32_t *len, GError **error);

/* ---- blocking I/O on a connected socket ---- */

typedef struct {
    int fd;
    uint64_t bytes_sent;        /* everything written, headers included */
    uint64_t bytes_received;
    /* Checked between writes/reads; set from another thread to give up. */
    volatile gint *cancel;
    /* Give up when the peer neither reads nor writes for this long (a
     * connection cut without a reset); 0: wait forever. */
    unsigned int idle_timeout_s;
} MhQemuStream;

void mhQemuStreamInit(MhQemuStream *stream, int fd, volatile gint *cancel);

bool mhQemuStreamSendHeader(MhQemuStream *stream, GError **error);
bool mhQemuStreamRecvHeader(MhQemuStream *stream, GError **error);

bool mhQemuStreamSend(MhQemuStream *stream, MhQemuStreamMsg type,
                      const void *data, size_t len, GError **error);
/* Two buffers as one message (header + records without a copy). */
bool mhQemuStreamSend2(MhQemuStream *stream, MhQemuStreamMsg type,
                       const void *a, size_t alen, const void *b, size_t blen,
                       GError **error);
bool mhQemuStreamSendError(MhQemuStream *stream, const char *message);

/* Receive one message into 'payload' (resized). A peer ERROR message is
 * returned as a message like any other; EOF before a whole message is an
 * error naming what was cut short. */
bool mhQemuStreamRecv(MhQemuStream *stream, MhQemuStreamMsg *type,
                      GByteArray *payload, GError **error);

/* The same, appending the payload to 'buf' (a batch of records grows
 * without a copy). */
bool mhQemuStreamRecvAppend(MhQemuStream *stream, MhQemuStreamMsg *type,
                            GByteArray *buf, GError **error);
/* Are there bytes to read right now? */
bool mhQemuStreamReadable(MhQemuStream *stream);
/* Receive one message of the expected type; a peer ERROR becomes a GError
 * carrying the peer's reason, another type a protocol error. */
bool mhQemuStreamExpect(MhQemuStream *stream, MhQemuStreamMsg want,
                        GByteArray *payload, GError **error);

/* The reason a peer's ERROR message gives, valid UTF-8 (never NULL). */
char *mhQemuStreamErrorReason(const GByteArray *payload);

/* ITERATION payload. */
void mhQemuStreamIterationPack(uint32_t pass, uint64_t pages, uint8_t out[12]);
bool mhQemuStreamIterationUnpack(const void *buf, size_t len, uint32_t *pass,
                                 uint64_t *pages, GError **error);
