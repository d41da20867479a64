/* The source's sending thread: messages arrive whole and in order while
 * the producer keeps filling buffers, flush waits for all of them, and a
 * peer that goes away turns into an error for the producer instead of a
 * hang. Also the sending side's rule for stopping without another RAM
 * compare. */
#include "qemu/mh-qemu-migrate-priv.h"
#include "qemu/mh-qemu-migrate-send.h"
#include "util/mh-error.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NMSG 200
#define MSGLEN (300 * 1024)

typedef struct {
    int fd;
    int received;
    bool ok;
} Reader;

static gpointer
readerThread(gpointer data)
{
    Reader *r = data;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    MhQemuStream stream;

    mhQemuStreamInit(&stream, r->fd, NULL);
    r->ok = true;
    for (int i = 0; i < NMSG; i++) {
        g_autoptr(GError) err = NULL;
        MhQemuStreamMsg type;
        uint32_t seq;

        if (!mhQemuStreamRecv(&stream, &type, payload, &err) ||
            type != MH_QEMU_STREAM_MSG_RECORDS || payload->len != MSGLEN) {
            r->ok = false;
            return NULL;
        }
        memcpy(&seq, payload->data, 4);
        if (seq != (uint32_t)i || payload->data[MSGLEN - 1] != (uint8_t)i) {
            r->ok = false;
            return NULL;
        }
        r->received++;
    }
    return NULL;
}

static void
testOrder(void)
{
    g_autoptr(GError) err = NULL;
    MhQemuMigrateSender *s;
    MhQemuStream stream;
    Reader r = { 0 };
    GThread *th;
    int fds[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    mhQemuStreamInit(&stream, fds[0], NULL);
    r.fd = fds[1];
    th = g_thread_new("reader", readerThread, &r);
    s = mhQemuMigrateSenderNew(&stream, 3, MSGLEN);
    for (uint32_t i = 0; i < NMSG; i++) {
        GByteArray *buf = mhQemuMigrateSenderGetBuffer(s, &err);

        g_assert_no_error(err);
        g_assert_cmpuint(buf->len, ==, 0);
        g_byte_array_set_size(buf, MSGLEN);
        memset(buf->data, 0, MSGLEN);
        memcpy(buf->data, &i, 4);
        buf->data[MSGLEN - 1] = (uint8_t)i;
        mhQemuMigrateSenderQueue(s, MH_QEMU_STREAM_MSG_RECORDS, buf);
    }
    g_assert_true(mhQemuMigrateSenderFlush(s, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(stream.bytes_sent, ==, (guint64)NMSG * (MSGLEN + MH_QEMU_STREAM_FRAME_HEADER_SIZE));
    mhQemuMigrateSenderFree(s);
    g_thread_join(th);
    g_assert_true(r.ok);
    g_assert_cmpint(r.received, ==, NMSG);
    close(fds[0]);
    close(fds[1]);
}

static void
testPeerGone(void)
{
    g_autoptr(GError) err = NULL;
    MhQemuMigrateSender *s;
    MhQemuStream stream;
    int fds[2];
    bool failed = false;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    mhQemuStreamInit(&stream, fds[0], NULL);
    close(fds[1]);
    s = mhQemuMigrateSenderNew(&stream, 2, MSGLEN);
    /* The producer learns of the failure at the latest when it asks for a
     * buffer or flushes; it never blocks forever. */
    for (int i = 0; i < 10 && !failed; i++) {
        GByteArray *buf = mhQemuMigrateSenderGetBuffer(s, &err);

        if (!buf) {
            failed = true;
            break;
        }
        g_byte_array_set_size(buf, MSGLEN);
        mhQemuMigrateSenderQueue(s, MH_QEMU_STREAM_MSG_RECORDS, buf);
    }
    if (!failed)
        failed = !mhQemuMigrateSenderFlush(s, &err);
    g_assert_true(failed);
    g_assert_error(err, MH_ERROR, MH_ERROR_IO);
    mhQemuMigrateSenderFree(s);
    close(fds[0]);
}

static void
testSmallAndRelease(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    MhQemuMigrateSender *s;
    MhQemuStream stream, rstream;
    MhQemuStreamMsg type;
    GByteArray *buf;
    int fds[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    mhQemuStreamInit(&stream, fds[0], NULL);
    mhQemuStreamInit(&rstream, fds[1], NULL);
    s = mhQemuMigrateSenderNew(&stream, 1, 64);
    /* A released buffer is not sent and comes back to the pool. */
    buf = mhQemuMigrateSenderGetBuffer(s, &err);
    g_byte_array_append(buf, (const guint8 *)"junk", 4);
    mhQemuMigrateSenderRelease(s, buf);
    g_assert_true(mhQemuMigrateSenderSend(s, MH_QEMU_STREAM_MSG_ITERATION, "0123456789ab", 12, &err));
    g_assert_true(mhQemuMigrateSenderFlush(s, &err));
    g_assert_true(mhQemuStreamRecv(&rstream, &type, payload, &err));
    g_assert_cmpint(type, ==, MH_QEMU_STREAM_MSG_ITERATION);
    g_assert_cmpmem(payload->data, payload->len, "0123456789ab", 12);
    mhQemuMigrateSenderFree(s);
    close(fds[0]);
    close(fds[1]);
}

/* The source stops without another compare only with room to spare:
 * 5000 pages/s for 0.2 s = 1000 pages = 4 MB at 400 MB/s = 10 ms, plus a
 * 160 ms compare and device phase, fits half of 400 ms but not of 300. */
static void
testStopWithoutCompare(void)
{
    uint64_t pages = 0, ms = 0;

    g_assert_true(mhQemuMigrateStopWithoutCompare(5000, 200000, 4096e5, 160, 400, &pages, &ms));
    g_assert_cmpuint(pages, ==, 1000);
    g_assert_cmpuint(ms, ==, 170);
    g_assert_false(mhQemuMigrateStopWithoutCompare(5000, 200000, 4096e5, 160, 300, &pages, &ms));
    g_assert_cmpuint(ms, ==, 170);
    /* No rate or no send rate measured yet: always compare. */
    g_assert_false(mhQemuMigrateStopWithoutCompare(0, 200000, 4096e5, 0, 10000, &pages, &ms));
    g_assert_false(mhQemuMigrateStopWithoutCompare(5000, 200000, 0, 0, 10000, &pages, &ms));
    /* A busy guest (200 000 pages/s for 1 s = 800 MB) never fits. */
    g_assert_false(mhQemuMigrateStopWithoutCompare(200000, G_USEC_PER_SEC, 4096e5, 100, 300,
                                                   &pages, &ms));
    g_assert_cmpuint(ms, ==, 2100);
}

/* The compare after the stop, from one made while the guest ran: as
 * measured on the bench host (113 ms while running, 87 ms of CPU on 2 MH
 * vCPUs; 49.5 ms once stopped) the estimate is 55 ms. */
static void
testStoppedCompare(void)
{
    g_assert_cmpuint(mhQemuMigrateStoppedCompareMs(113214, 87081000, 2, 2), ==, 55);
    /* One CPU: the vCPUs take turns, the CPU time is the time. */
    g_assert_cmpuint(mhQemuMigrateStoppedCompareMs(113214, 87081000, 2, 1), ==, 109);
    /* Never more than the compare took with the guest running. */
    g_assert_cmpuint(mhQemuMigrateStoppedCompareMs(50000, 87081000, 1, 4), ==, 50);
    /* No CPU time known: the wall time stands. */
    g_assert_cmpuint(mhQemuMigrateStoppedCompareMs(113214, 0, 2, 2), ==, 114);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migrate/send/order", testOrder);
    g_test_add_func("/migrate/send/peer-gone", testPeerGone);
    g_test_add_func("/migrate/send/small-and-release", testSmallAndRelease);
    g_test_add_func("/migrate/src/stop-without-compare", testStopWithoutCompare);
    g_test_add_func("/migrate/src/stopped-compare", testStoppedCompare);
    return g_test_run();
}
