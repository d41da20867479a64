/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device-state phase: the real QEMUs migrate to and from a local
 * socket of qemu-mh, whose bytes travel as DEVICE messages on the one
 * migration connection, in both directions (QEMU's return path). */
#include "sim/qemu/mh-qemu-migrate-priv.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MH_QEMU_RELAY_CHUNK (256 * 1024)

/* Write all of 'len' bytes to the real QEMU; false when it closed its
 * side (its data is then of no use to anyone). */
static bool
mhQemuMigrateWriteLocal(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= n;
    }
    return true;
}

bool
mhQemuMigrateRelay(MhQemuMigrateJob *job, MhQemuStream *stream, int local,
                   GError **error)
{
    g_autofree uint8_t *buf = g_malloc(MH_QEMU_RELAY_CHUNK);
    g_autoptr(GByteArray) payload = g_byte_array_new();
    bool local_eof = false;     /* the real QEMU sent everything */
    bool remote_eof = false;    /* the peer's QEMU sent everything */
    bool local_writable = true;
    /* A link that dies without a reset moves nothing: after as long as the
     * stream waits for a message, the device phase fails instead of
     * leaving the source guest paused until someone aborts. */
    const gint64 stall = (gint64)mhQemuMigrateStallTimeout(job) * G_USEC_PER_SEC;
    gint64 deadline = g_get_monotonic_time() + stall;

    while (!local_eof || !remote_eof) {
        struct pollfd pfd[2] = {
            { .fd = local_eof ? -1 : local, .events = POLLIN },
            { .fd = remote_eof ? -1 : stream->fd, .events = POLLIN },
        };
        int r;

        if (g_atomic_int_get(&job->cancel)) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration canceled"));
            return false;
        }
        if ((r = poll(pfd, 2, 200)) < 0 && errno != EINTR) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, "poll: %s", g_strerror(errno));
            return false;
        }
        if (r <= 0) {
            if (g_get_monotonic_time() >= deadline) {
                g_set_error(error, MH_ERROR, MH_ERROR_IO,
                            _("migration connection: no progress for %u seconds in the "
                              "device-state phase"), mhQemuMigrateStallTimeout(job));
                return false;
            }
            continue;
        }
        deadline = g_get_monotonic_time() + stall;
        if (pfd[0].revents) {
            ssize_t n = recv(local, buf, MH_QEMU_RELAY_CHUNK, MSG_DONTWAIT);

            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n > 0) {
                if (!mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_DEVICE, buf, n, error))
                    return false;
                g_mutex_lock(&job->mig->lock);
                job->device_bytes += n;
                job->wire_bytes = MAX(stream->bytes_sent, stream->bytes_received);
                g_mutex_unlock(&job->mig->lock);
            } else {
                /* EOF or reset: QEMU is done with its side either way; a
                 * failed QEMU migration is reported through its status. */
                if (!mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_DEVICE_EOF, NULL, 0, error))
                    return false;
                local_eof = true;
            }
        }
        if (pfd[1].revents) {
            MhQemuStreamMsg type;

            if (!mhQemuStreamRecv(stream, &type, payload, error))
                return false;
            switch (type) {
            case MH_QEMU_STREAM_MSG_DEVICE:
                if (local_writable && !mhQemuMigrateWriteLocal(local, payload->data, payload->len))
                    local_writable = false;
                g_mutex_lock(&job->mig->lock);
                job->device_bytes += payload->len;
                job->wire_bytes = MAX(stream->bytes_sent, stream->bytes_received);
                g_mutex_unlock(&job->mig->lock);
                break;
            case MH_QEMU_STREAM_MSG_DEVICE_EOF:
                shutdown(local, SHUT_WR);
                remote_eof = true;
                break;
            case MH_QEMU_STREAM_MSG_ERROR: {
                g_autofree char *reason = mhQemuStreamErrorReason(payload);

                g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                            _("migration peer reported: %s"), reason);
                return false;
            }
            default:
                g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                            _("MH migration stream: unexpected '%s' message in the device-state phase"),
                            mhQemuStreamMsgTypeToString(type));
                return false;
            }
        }
    }
    return true;
}
