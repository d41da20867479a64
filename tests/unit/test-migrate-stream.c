/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MH migration stream framing: header, messages of every type over a
 * real socket pair, large payloads, the peer's error, truncation,
 * malformed headers and cancellation. */
#include "sim/qemu/mh-qemu-stream.h"
#include "util/mh-error.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fds[2];
    MhQemuStream a;
    MhQemuStream b;
} Pair;

static void
pairInit(Pair *p)
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), ==, 0);
    mhQemuStreamInit(&p->a, p->fds[0], NULL);
    mhQemuStreamInit(&p->b, p->fds[1], NULL);
}

static void
pairClear(Pair *p)
{
    if (p->fds[0] >= 0)
        close(p->fds[0]);
    if (p->fds[1] >= 0)
        close(p->fds[1]);
}

/* Write a raw frame header on a's side, as a broken or hostile peer would. */
static void
pairSendHeader(Pair *p, MhQemuStreamMsg type, uint32_t len)
{
    uint8_t hdr[MH_QEMU_STREAM_FRAME_HEADER_SIZE];

    mhQemuStreamFrameHeader(type, len, hdr);
    g_assert_cmpint(write(p->fds[0], hdr, sizeof(hdr)), ==, sizeof(hdr));
}

/* Receive on b's side, which must fail with MH_ERROR 'code'; the error
 * is returned for the caller's checks of its message. */
static GError *
pairRecvError(Pair *p, GByteArray *payload, int code)
{
    GError *err = NULL;
    MhQemuStreamMsg type;

    g_assert_false(mhQemuStreamRecv(&p->b, &type, payload, &err));
    g_assert_error(err, MH_ERROR, code);
    return err;
}

static void
testHeader(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t hdr[MH_QEMU_STREAM_HEADER_SIZE];
    /* What a plain QEMU migration stream starts with. */
    const uint8_t qevm[8] = { 'Q', 'E', 'V', 'M', 0, 0, 0, 3 };

    mhQemuStreamHeader(hdr);
    g_assert_true(mhQemuStreamCheckHeader(hdr, sizeof(hdr), &err));
    g_assert_no_error(err);

    g_assert_false(mhQemuStreamCheckHeader(qevm, sizeof(qevm), &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "does not use the mirror helper"));
    g_clear_error(&err);

    hdr[4] = 99;
    g_assert_false(mhQemuStreamCheckHeader(hdr, sizeof(hdr), &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_UNSUPPORTED);
    g_clear_error(&err);

    g_assert_false(mhQemuStreamCheckHeader(hdr, 3, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
}

static void
testTypeNames(void)
{
    for (int t = 1; t < MH_QEMU_STREAM_MSG_LAST; t++) {
        const char *name = mhQemuStreamMsgTypeToString(t);

        g_assert_nonnull(name);
        g_assert_cmpint(mhQemuStreamMsgTypeFromString(name), ==, t);
    }
    g_assert_null(mhQemuStreamMsgTypeToString(0));
    g_assert_null(mhQemuStreamMsgTypeToString(MH_QEMU_STREAM_MSG_LAST));
    g_assert_cmpint(mhQemuStreamMsgTypeFromString("nope"), ==, -1);
}

static void
testFrameHeader(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t hdr[MH_QEMU_STREAM_FRAME_HEADER_SIZE];
    MhQemuStreamMsg type;
    uint32_t len;

    mhQemuStreamFrameHeader(MH_QEMU_STREAM_MSG_DEVICE, 1234, hdr);
    g_assert_true(mhQemuStreamParseFrameHeader(hdr, &type, &len, &err));
    g_assert_cmpint(type, ==, MH_QEMU_STREAM_MSG_DEVICE);
    g_assert_cmpuint(len, ==, 1234);

    mhQemuStreamFrameHeader(MH_QEMU_STREAM_MSG_LAST, 1, hdr);
    g_assert_false(mhQemuStreamParseFrameHeader(hdr, &type, &len, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&err);

    mhQemuStreamFrameHeader(0, 1, hdr);
    g_assert_false(mhQemuStreamParseFrameHeader(hdr, &type, &len, &err));
    g_clear_error(&err);

    mhQemuStreamFrameHeader(MH_QEMU_STREAM_MSG_RECORDS, MH_QEMU_STREAM_MAX_PAYLOAD + 1, hdr);
    g_assert_false(mhQemuStreamParseFrameHeader(hdr, &type, &len, &err));
    g_assert_nonnull(strstr(err->message, "exceeds the limit"));
}

/* A large message cannot fit the socket buffer: the sender runs in a
 * thread while the receiver reads. */
typedef struct {
    MhQemuStream *stream;
    GBytes *big;
} Sender;

static gpointer
senderThread(gpointer data)
{
    Sender *s = data;
    g_autoptr(GError) err = NULL;
    uint8_t iter[12];
    gsize len;
    const uint8_t *big = g_bytes_get_data(s->big, &len);

    g_assert_true(mhQemuStreamSendHeader(s->stream, &err));
    g_assert_true(mhQemuStreamSend(s->stream, MH_QEMU_STREAM_MSG_HELLO, "hello!", 6, &err));
    g_assert_true(mhQemuStreamSend(s->stream, MH_QEMU_STREAM_MSG_CONFIRM, NULL, 0, &err));
    g_assert_true(mhQemuStreamSend2(s->stream, MH_QEMU_STREAM_MSG_RECORDS,
                                    big, len / 2, big + len / 2, len - len / 2, &err));
    mhQemuStreamIterationPack(7, 0x100000002ULL, iter);
    g_assert_true(mhQemuStreamSend(s->stream, MH_QEMU_STREAM_MSG_ITERATION, iter, 12, &err));
    g_assert_true(mhQemuStreamSend(s->stream, MH_QEMU_STREAM_MSG_DEVICE_EOF, NULL, 0, &err));
    g_assert_no_error(err);
    return NULL;
}

static void
testRoundTrip(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autofree uint8_t *bigdata = g_malloc(3 * 1024 * 1024 + 17);
    Sender s;
    GThread *th;
    Pair p;
    MhQemuStreamMsg type;
    uint32_t pass;
    uint64_t pages;

    for (size_t i = 0; i < 3 * 1024 * 1024 + 17; i++)
        bigdata[i] = (uint8_t)(i * 31 + (i >> 12));
    pairInit(&p);
    s.stream = &p.a;
    s.big = g_bytes_new_static(bigdata, 3 * 1024 * 1024 + 17);
    th = g_thread_new("sender", senderThread, &s);

    g_assert_true(mhQemuStreamRecvHeader(&p.b, &err));
    g_assert_true(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_HELLO, payload, &err));
    g_assert_cmpmem(payload->data, payload->len, "hello!", 6);
    g_assert_true(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_CONFIRM, payload, &err));
    g_assert_cmpuint(payload->len, ==, 0);
    g_assert_true(mhQemuStreamRecv(&p.b, &type, payload, &err));
    g_assert_cmpint(type, ==, MH_QEMU_STREAM_MSG_RECORDS);
    g_assert_cmpmem(payload->data, payload->len, bigdata, 3 * 1024 * 1024 + 17);
    g_assert_true(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_ITERATION, payload, &err));
    g_assert_true(mhQemuStreamIterationUnpack(payload->data, payload->len, &pass, &pages, &err));
    g_assert_cmpuint(pass, ==, 7);
    g_assert_cmpuint(pages, ==, 0x100000002ULL);
    g_assert_true(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_DEVICE_EOF, payload, &err));
    g_assert_no_error(err);
    g_thread_join(th);

    /* Every byte is accounted for on both sides. */
    g_assert_cmpuint(p.a.bytes_sent, ==, p.b.bytes_received);
    g_assert_cmpuint(p.a.bytes_sent, ==,
                     MH_QEMU_STREAM_HEADER_SIZE + 5 * MH_QEMU_STREAM_FRAME_HEADER_SIZE +
                     6 + 0 + (3 * 1024 * 1024 + 17) + 12 + 0);
    g_bytes_unref(s.big);
    pairClear(&p);
}

static void
testPeerError(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    Pair p;

    pairInit(&p);
    g_assert_true(mhQemuStreamSendError(&p.a, "target has no migration key"));
    g_assert_false(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_HELLO, payload, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "target has no migration key"));
    g_clear_error(&err);

    /* An ERROR without a reason (a fuzzer's find: GLib was handed NULL). */
    g_assert_true(mhQemuStreamSend(&p.a, MH_QEMU_STREAM_MSG_ERROR, NULL, 0, &err));
    g_assert_false(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_HELLO, payload, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "no reason given"));
    g_clear_error(&err);

    /* Another type than expected is a protocol error naming both. */
    g_assert_true(mhQemuStreamSend(&p.a, MH_QEMU_STREAM_MSG_FINAL, "x", 1, &err));
    g_assert_false(mhQemuStreamExpect(&p.b, MH_QEMU_STREAM_MSG_RAM_DONE, payload, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "ram-done"));
    g_assert_nonnull(strstr(err->message, "final"));
    pairClear(&p);
}

static void
testTruncated(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    Pair p;

    pairInit(&p);
    /* A header announcing 100 bytes, then 10 bytes, then EOF. */
    pairSendHeader(&p, MH_QEMU_STREAM_MSG_RECORDS, 100);
    g_assert_cmpint(write(p.fds[0], "0123456789", 10), ==, 10);
    close(p.fds[0]);
    p.fds[0] = -1;
    err = pairRecvError(&p, payload, MH_ERROR_IO);
    g_assert_nonnull(strstr(err->message, "closed by the peer"));
    g_assert_nonnull(strstr(err->message, "records"));
    g_clear_error(&err);

    /* A bare EOF at a message boundary is an error as well. */
    err = pairRecvError(&p, payload, MH_ERROR_IO);
    pairClear(&p);
}

static void
testGarbage(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    Pair p;

    pairInit(&p);
    /* A peer announcing a huge message is refused before any allocation. */
    pairSendHeader(&p, MH_QEMU_STREAM_MSG_DEVICE, 0xffffffffU);
    err = pairRecvError(&p, payload, MH_ERROR_INVALID);
    g_assert_cmpuint(payload->len, ==, 0);
    pairClear(&p);
}

static gpointer
cancelLater(gpointer data)
{
    g_usleep(100 * 1000);
    g_atomic_int_set((volatile gint *)data, 1);
    return NULL;
}

static void
testCancel(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    volatile gint cancel = 0;
    GThread *th;
    Pair p;

    pairInit(&p);
    p.b.cancel = &cancel;
    /* Nothing ever arrives: only the cancel ends the wait. */
    th = g_thread_new("cancel", cancelLater, (gpointer)&cancel);
    err = pairRecvError(&p, payload, MH_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "canceled"));
    g_thread_join(th);
    g_clear_error(&err);

    /* An error message still goes out after a cancel. */
    g_assert_true(mhQemuStreamSendError(&p.b, "canceled"));
    g_assert_false(mhQemuStreamExpect(&p.a, MH_QEMU_STREAM_MSG_DEVICE, payload, &err));
    g_assert_nonnull(strstr(err->message, "canceled"));
    pairClear(&p);
}

static void
testIdleTimeout(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    gint64 t0;
    Pair p;

    pairInit(&p);
    /* A peer that is still connected but silent (a cut without a reset). */
    p.b.idle_timeout_s = 1;
    t0 = g_get_monotonic_time();
    err = pairRecvError(&p, payload, MH_ERROR_IO);
    g_assert_nonnull(strstr(err->message, "no progress"));
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, G_USEC_PER_SEC);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 3 * G_USEC_PER_SEC);
    pairClear(&p);
}

static void
testIterationBad(void)
{
    g_autoptr(GError) err = NULL;
    uint32_t pass;
    uint64_t pages;

    g_assert_false(mhQemuStreamIterationUnpack("short", 5, &pass, &pages, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migrate/stream/header", testHeader);
    g_test_add_func("/migrate/stream/type-names", testTypeNames);
    g_test_add_func("/migrate/stream/frame-header", testFrameHeader);
    g_test_add_func("/migrate/stream/round-trip", testRoundTrip);
    g_test_add_func("/migrate/stream/peer-error", testPeerError);
    g_test_add_func("/migrate/stream/truncated", testTruncated);
    g_test_add_func("/migrate/stream/garbage", testGarbage);
    g_test_add_func("/migrate/stream/cancel", testCancel);
    g_test_add_func("/migrate/stream/idle-timeout", testIdleTimeout);
    g_test_add_func("/migrate/stream/iteration-bad", testIterationBad);
    return g_test_run();
}
