/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MH migration stream as the target reads it, from a real socket: a
 * writer thread sends the input's bytes in chunks whose sizes the input
 * chooses (and may cancel the migration part way), and a reader takes
 * them through mh-qemu-stream.c the way mh-qemu-migrate-dst.c and the
 * relay do: the stream header, HELLO and CONFIRM (answered), then records
 * batched while more are readable, ITERATION and the FINAL record, then
 * the device state up to DEVICE_EOF. (The reader cannot run the real
 * target thread, which needs a whole qemu-mh and an MH; what the MH does
 * with the records is fuzzed by fuzz-mh-restore.)
 * The oracle: no crash, leak, undefined behaviour or hang; the reader
 * ends exactly as a reference parse of the same bytes held in memory
 * does, whatever the chunks: with the same hello, confirmation, records,
 * passes and device bytes, or with an error of the same kind (cut short,
 * malformed, reported by the peer, canceled), having read exactly as many
 * bytes; and both socket ends are closed afterwards (fd count). */
#include "sim/qemu/mh-qemu-stream.h"

#include "tests/fuzz/fuzz-bounds.h"
#include "util/mh-error.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that batches end both ways: full, or nothing more readable. */
#define BATCH 256

typedef struct {
    bool ok;
    int code;                   /* MhErrorCode when !ok */
    bool canceled;
    uint64_t consumed;          /* bytes of the stream read */
    GByteArray *hello, *confirm, *records, *device;
    guint iterations;
    uint32_t pass;
    uint64_t pages;
} Outcome;

typedef struct {
    int fd;
    const uint8_t *data;
    size_t size;
    uint32_t seed;              /* chunk sizes */
    bool yield;                 /* let the reader catch up between chunks */
    int cancel_after;           /* chunks before the cancel, or -1 */
    volatile gint cancel;
} Writer;

static void
outcomeInit(Outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->hello = g_byte_array_new();
    o->confirm = g_byte_array_new();
    o->records = g_byte_array_new();
    o->device = g_byte_array_new();
}

static void
outcomeClear(Outcome *o)
{
    g_byte_array_unref(o->hello);
    g_byte_array_unref(o->confirm);
    g_byte_array_unref(o->records);
    g_byte_array_unref(o->device);
}

static void
outcomeError(Outcome *o, GError *err)
{
    if (!err || err->domain != MH_ERROR) {
        fprintf(stderr, "fuzz-migrate-stream: failed without an MH error: %s\n",
                err ? err->message : "(none)");
        abort();
    }
    o->ok = false;
    o->code = err->code;
    o->canceled = err->code == MH_ERROR_FAILED && strcmp(err->message, "migration canceled") == 0;
}

/* ---- the reference: the same session parsed from memory ---- */

typedef enum { PHASE_HELLO, PHASE_CONFIRM, PHASE_RAM, PHASE_DEVICE, PHASE_DONE } Phase;

/* One message in 'phase'; false when the session ends (ok or error). */
static bool
refMessage(Outcome *o, Phase *phase, MhQemuStreamMsg type, const uint8_t *p, uint32_t len)
{
    g_autoptr(GError) err = NULL;

    if (type == MH_QEMU_STREAM_MSG_ERROR) {
        o->code = MH_ERROR_FAILED;
        return false;
    }
    switch (*phase) {
    case PHASE_HELLO:
    case PHASE_CONFIRM:
        if (type != (*phase == PHASE_HELLO ? MH_QEMU_STREAM_MSG_HELLO : MH_QEMU_STREAM_MSG_CONFIRM))
            break;
        g_byte_array_append(*phase == PHASE_HELLO ? o->hello : o->confirm, p, len);
        (*phase)++;
        return true;
    case PHASE_RAM:
        if (type == MH_QEMU_STREAM_MSG_RECORDS || type == MH_QEMU_STREAM_MSG_FINAL) {
            g_byte_array_append(o->records, p, len);
            if (type == MH_QEMU_STREAM_MSG_FINAL)
                *phase = PHASE_DEVICE;
            return true;
        }
        if (type != MH_QEMU_STREAM_MSG_ITERATION)
            break;
        if (!mhQemuStreamIterationUnpack(p, len, &o->pass, &o->pages, &err)) {
            outcomeError(o, err);
            return false;
        }
        o->iterations++;
        return true;
    default:
        if (type == MH_QEMU_STREAM_MSG_DEVICE) {
            g_byte_array_append(o->device, p, len);
            return true;
        }
        if (type != MH_QEMU_STREAM_MSG_DEVICE_EOF)
            break;
        *phase = PHASE_DONE;
        o->ok = true;
        return false;
    }
    o->code = MH_ERROR_INVALID;
    return false;
}

static void
refRun(const uint8_t *d, size_t n, Outcome *o)
{
    g_autoptr(GError) err = NULL;
    Phase phase = PHASE_HELLO;
    size_t pos = MH_QEMU_STREAM_HEADER_SIZE;

    o->code = MH_ERROR_IO;              /* cut short, unless said otherwise */
    if (n < MH_QEMU_STREAM_HEADER_SIZE) {
        o->consumed = n;
        return;
    }
    o->consumed = pos;
    if (!mhQemuStreamCheckHeader(d, n, &err)) {
        outcomeError(o, err);
        return;
    }
    for (;;) {
        MhQemuStreamMsg type;
        uint32_t len;

        if (n - pos < MH_QEMU_STREAM_FRAME_HEADER_SIZE) {
            o->consumed = n;
            return;
        }
        o->consumed = pos + MH_QEMU_STREAM_FRAME_HEADER_SIZE;
        if (!mhQemuStreamParseFrameHeader(d + pos, &type, &len, &err)) {
            outcomeError(o, err);
            return;
        }
        pos += MH_QEMU_STREAM_FRAME_HEADER_SIZE;
        if (n - pos < len) {
            o->consumed = n;
            return;
        }
        pos += len;
        o->consumed = pos;
        if (!refMessage(o, &phase, type, d + pos - len, len))
            return;
    }
}

/* ---- the reader on the socket, as the target's migration thread ---- */

static bool
sockHandshake(MhQemuStream *s, Outcome *o, GError **error)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();

    if (!mhQemuStreamRecvHeader(s, error) || !mhQemuStreamSendHeader(s, error) ||
        !mhQemuStreamExpect(s, MH_QEMU_STREAM_MSG_HELLO, payload, error))
        return false;
    g_byte_array_append(o->hello, payload->data, payload->len);
    if (!mhQemuStreamSend(s, MH_QEMU_STREAM_MSG_HELLO, payload->data, payload->len, error) ||
        !mhQemuStreamExpect(s, MH_QEMU_STREAM_MSG_CONFIRM, payload, error))
        return false;
    g_byte_array_append(o->confirm, payload->data, payload->len);
    return mhQemuStreamSend(s, MH_QEMU_STREAM_MSG_CONFIRM, payload->data, payload->len, error);
}

/* Records wait in a batch while more are readable, as in
 * mhQemuMigrateDstRam(); any other message ends the batch. */
static bool
sockRam(MhQemuStream *s, Outcome *o, GError **error)
{
    /* Allocated up front, as the target does (never a NULL data). */
    g_autoptr(GByteArray) batch = g_byte_array_sized_new(BATCH + 64);
    g_autoptr(GByteArray) payload = g_byte_array_new();

    for (;;) {
        MhQemuStreamMsg type;
        guint at = batch->len;

        if (!mhQemuStreamRecvAppend(s, &type, batch, error))
            return false;
        if (type == MH_QEMU_STREAM_MSG_RECORDS) {
            if (batch->len < BATCH && mhQemuStreamReadable(s))
                continue;
            g_byte_array_append(o->records, batch->data, batch->len);
            g_byte_array_set_size(batch, 0);
            continue;
        }
        g_byte_array_set_size(payload, 0);
        g_byte_array_append(payload, batch->data + at, batch->len - at);
        g_byte_array_set_size(batch, at);
        g_byte_array_append(o->records, batch->data, batch->len);
        g_byte_array_set_size(batch, 0);
        switch (type) {
        case MH_QEMU_STREAM_MSG_FINAL:
            g_byte_array_append(o->records, payload->data, payload->len);
            return mhQemuStreamSend(s, MH_QEMU_STREAM_MSG_RAM_DONE, NULL, 0, error);
        case MH_QEMU_STREAM_MSG_ITERATION:
            if (!mhQemuStreamIterationUnpack(payload->data, payload->len, &o->pass, &o->pages,
                                             error))
                return false;
            o->iterations++;
            break;
        case MH_QEMU_STREAM_MSG_ERROR:
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, "migration source reported: %.*s",
                        (int)payload->len, (const char *)payload->data);
            return false;
        default:
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID, "unexpected '%s' message",
                        mhQemuStreamMsgTypeToString(type));
            return false;
        }
    }
}

/* The device phase's side of the relay: messages until DEVICE_EOF. */
static bool
sockDevice(MhQemuStream *s, Outcome *o, GError **error)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();

    for (;;) {
        MhQemuStreamMsg type;

        if (!mhQemuStreamRecv(s, &type, payload, error))
            return false;
        switch (type) {
        case MH_QEMU_STREAM_MSG_DEVICE:
            g_byte_array_append(o->device, payload->data, payload->len);
            break;
        case MH_QEMU_STREAM_MSG_DEVICE_EOF:
            return true;
        case MH_QEMU_STREAM_MSG_ERROR:
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, "migration peer reported");
            return false;
        default:
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID, "unexpected '%s' message",
                        mhQemuStreamMsgTypeToString(type));
            return false;
        }
    }
}

static void
sockRun(int fd, volatile gint *cancel, Outcome *o)
{
    g_autoptr(GError) err = NULL;
    MhQemuStream s;

    mhQemuStreamInit(&s, fd, cancel);
    o->ok = sockHandshake(&s, o, &err) && sockRam(&s, o, &err) && sockDevice(&s, o, &err);
    o->consumed = s.bytes_received;
    if (!o->ok) {
        outcomeError(o, err);
        mhQemuStreamSendError(&s, err->message);
    }
}

/* ---- the writer ---- */

static gpointer
writerThread(gpointer data)
{
    Writer *w = data;
    size_t off = 0;

    for (int chunk = 0; off < w->size; chunk++) {
        size_t n;
        ssize_t sent;

        w->seed = w->seed * 1103515245u + 12345u;
        n = MIN(w->size - off, 1 + (w->seed >> 16) % 64);
        if (chunk == w->cancel_after)
            g_atomic_int_set(&w->cancel, 1);
        sent = send(w->fd, w->data + off, n, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            break;              /* the reader gave up and shut its end */
        off += sent;
        if (w->yield)
            sched_yield();
    }
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

static bool
sameBytes(GByteArray *a, GByteArray *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
compare(const Outcome *ref, const Outcome *got, bool may_cancel)
{
    const char *diff = NULL;

    if (may_cancel && !got->ok && got->canceled)
        return;
    if (got->ok != ref->ok || (!ref->ok && got->code != ref->code))
        diff = "the outcome";
    else if (got->consumed != ref->consumed)
        diff = "the bytes read";
    else if (ref->ok && (!sameBytes(ref->hello, got->hello) ||
                         !sameBytes(ref->confirm, got->confirm) ||
                         !sameBytes(ref->records, got->records) ||
                         !sameBytes(ref->device, got->device) ||
                         ref->iterations != got->iterations || ref->pass != got->pass ||
                         ref->pages != got->pages))
        diff = "what was received";
    if (diff) {
        fprintf(stderr, "fuzz-migrate-stream: the socket reader and the reference differ in %s: "
                "ok %d/%d, code %d/%d, %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " bytes, "
                "%u/%u records bytes\n", diff, ref->ok, got->ok, ref->code, got->code,
                ref->consumed, got->consumed, ref->records->len, got->records->len);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds = mhFuzzCountFds();
    Writer w = { .cancel_after = -1 };
    Outcome ref, got;
    GThread *thread;
    int sp[2];

    if (size < 3)
        return 0;
    /* Byte 0: flags, byte 1: chunk sizes, then the stream. */
    w.yield = data[0] & 1;
    if (data[0] & 2)
        w.cancel_after = data[0] >> 2;
    w.seed = data[1];
    w.data = data + 2;
    w.size = size - 2;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        abort();
    w.fd = sp[1];
    outcomeInit(&ref);
    outcomeInit(&got);
    refRun(w.data, w.size, &ref);
    thread = g_thread_new("writer", writerThread, &w);
    sockRun(sp[0], &w.cancel, &got);
    /* A writer still blocked on a full socket gets EPIPE. */
    shutdown(sp[0], SHUT_RDWR);
    g_thread_join(thread);
    close(sp[0]);
    close(sp[1]);
    compare(&ref, &got, w.cancel_after >= 0);
    outcomeClear(&ref);
    outcomeClear(&got);
    mhFuzzCheckFds(fds, "fuzz-migrate-stream");
    mhFuzzCheckMemory("fuzz-migrate-stream");
    return 0;
}
