/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The target side of an MH migration, in a thread of its own: accept the
 * connection on libvirt's URI, start the MH with the migration key that
 * the guest owner injected into this (newly launched) guest, restore the
 * sealed pages, then hand the device state to the real QEMU, which was
 * told to listen on a private socket. */
#include "sim/qemu/mh-qemu-migrate-priv.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The guest owner injects the key through the second monitor while
 * libvirt's Prepare runs, which may be a moment after the source
 * connected: wait for the MH to have captured it from the injected table
 * (mh-qmp-handler.c), up to migrate_key_wait seconds (qemu-mh.conf). */
static MhMh *
mhQemuMigrateDstWaitKey(MhQemuMigrateJob *job, GError **error)
{
    gint64 deadline = g_get_monotonic_time() +
        (gint64)job->mig->qemu->conf->migrate_key_wait_s * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr(GError) err = NULL;
        MhMh *mh = mhQemuMigrateNewMh(job, &err);

        if (mh)
            return mh;
        if (g_atomic_int_get(&job->cancel) || g_get_monotonic_time() >= deadline) {
            g_propagate_prefixed_error(error, g_steal_pointer(&err), "%s",
                                       _("migration target: "));
            return NULL;
        }
        g_usleep(100 * 1000);
    }
}

static bool
mhQemuMigrateDstHandshake(MhQemuMigrateJob *job, MhQemuStream *stream, MhMh *mh,
                          GError **error)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(GBytes) hello = NULL;
    g_autoptr(GBytes) confirm = NULL;
    g_autoptr(GBytes) peer_hello = NULL;
    g_autoptr(GBytes) peer_confirm = NULL;
    const void *data;
    gsize len;

    if (!mhQemuStreamExpect(stream, MH_QEMU_STREAM_MSG_HELLO, payload, error))
        return false;
    peer_hello = g_bytes_new(payload->data, payload->len);
    if (!mhMhSessionBegin(mh, MH_TRANSPORT_ROLE_TARGET, &hello, error) ||
        !mhMhSessionPeerHello(mh, peer_hello, &confirm, error))
        return false;
    data = g_bytes_get_data(hello, &len);
    if (!mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_HELLO, data, len, error) ||
        !mhQemuStreamExpect(stream, MH_QEMU_STREAM_MSG_CONFIRM, payload, error))
        return false;
    peer_confirm = g_bytes_new(payload->data, payload->len);
    /* Our confirmation goes out only after the source proved the key, so
     * a source with the wrong key learns nothing more than "refused". */
    if (!mhMhSessionPeerConfirm(mh, peer_confirm, error))
        return false;
    data = g_bytes_get_data(confirm, &len);
    return mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_CONFIRM, data, len, error);
}

/* Records received while the MH works on earlier ones wait in one batch,
 * up to this size: a batch gives every MH vCPU a record to verify and
 * store at once (one record at a time kept the others idle). */
#define MH_QEMU_MIGRATE_DST_BATCH (4 * 1024 * 1024)

static bool
mhQemuMigrateDstRestore(MhQemuMigrateJob *job, MhQemuStream *stream, MhMh *mh,
                        GByteArray *records, GError **error)
{
    MhMhInfo info;

    if (records->len == 0)
        return true;
    if (!mhMhRestoreRecords(mh, records->data, records->len, NULL, error))
        return false;
    g_byte_array_set_size(records, 0);
    mhMhQuery(mh, &info);
    g_mutex_lock(&job->mig->lock);
    job->pages_zero = info.zero_pages - job->mh_base_zero;
    job->pages_normal = info.pages_restored - job->mh_base_restored - job->pages_zero;
    job->wire_bytes = stream->bytes_received;
    g_mutex_unlock(&job->mig->lock);
    mhMhInfoClear(&info);
    return true;
}

static bool
mhQemuMigrateDstRam(MhQemuMigrateJob *job, MhQemuStream *stream, MhMh *mh, GError **error)
{
    g_autoptr(GByteArray) records = g_byte_array_sized_new(MH_QEMU_MIGRATE_DST_BATCH + 512 * 1024);
    g_autoptr(GByteArray) payload = g_byte_array_new();

    for (;;) {
        MhQemuStreamMsg type;
        guint at = records->len;

        if (!mhQemuStreamRecvAppend(stream, &type, records, error))
            return false;
        if (type == MH_QEMU_STREAM_MSG_RECORDS) {
            if (records->len < MH_QEMU_MIGRATE_DST_BATCH && mhQemuStreamReadable(stream))
                continue;
            if (!mhQemuMigrateDstRestore(job, stream, mh, records, error))
                return false;
            continue;
        }
        /* Any other message ends the batch: the records before it first. */
        g_byte_array_set_size(payload, 0);
        g_byte_array_append(payload, records->data + at, records->len - at);
        g_byte_array_set_size(records, at);
        if (!mhQemuMigrateDstRestore(job, stream, mh, records, error))
            return false;
        switch (type) {
        case MH_QEMU_STREAM_MSG_FINAL:
            if (!mhMhRestoreRecords(mh, payload->data, payload->len, NULL, error) ||
                !mhMhRestoreFinish(mh, error))
                return false;
            return mhQemuStreamSend(stream, MH_QEMU_STREAM_MSG_RAM_DONE, NULL, 0, error);
        case MH_QEMU_STREAM_MSG_ITERATION: {
            uint32_t pass;
            uint64_t pages;

            if (!mhQemuStreamIterationUnpack(payload->data, payload->len, &pass, &pages, error))
                return false;
            g_mutex_lock(&job->mig->lock);
            job->passes = pass;
            g_mutex_unlock(&job->mig->lock);
            break;
        }
        case MH_QEMU_STREAM_MSG_ERROR: {
            g_autofree char *reason = mhQemuStreamErrorReason(payload);

            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration source reported: %s"),
                        reason);
            return false;
        }
        default:
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("MH migration stream: unexpected '%s' message before the final record"),
                        mhQemuStreamMsgTypeToString(type));
            return false;
        }
    }
}

static int
mhQemuMigrateDstConnectLocal(MhQemuMigrateJob *job, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    g_strlcpy(addr.sun_path, job->local_path, sizeof(addr.sun_path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot reach QEMU's incoming migration socket '%s': %s"),
                    job->local_path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

gpointer
mhQemuMigrateTargetThread(gpointer data)
{
    MhQemuMigrateJob *job = data;
    g_autoptr(GError) err = NULL;
    MhMh *mh = NULL;            /* the process's, borrowed */
    MhQemuStream stream;
    const char *result;
    int local = -1;

    mhQemuStreamInit(&stream, -1, &job->cancel);
    if ((job->fd = mhQemuMigrateAccept(job, job->listen_fd,
                                       _("the migration connection"), &err)) < 0)
        goto fail;
    close(job->listen_fd);
    job->listen_fd = -1;
    stream.fd = job->fd;
    stream.idle_timeout_s = mhQemuMigrateStallTimeout(job);
    {
        int sz = 8 * 1024 * 1024;

        setsockopt(job->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    if (!mhQemuStreamRecvHeader(&stream, &err) || !mhQemuStreamSendHeader(&stream, &err))
        goto fail;
    /* The migration key is read now: the guest owner injected it during
     * Prepare, after checking this target's launch measurement. */
    if (!(mh = mhQemuMigrateDstWaitKey(job, &err)) ||
        !mhQemuMigrateDstHandshake(job, &stream, mh, &err))
        goto fail;
    g_mutex_lock(&job->mig->lock);
    job->setup_us = g_get_monotonic_time();
    job->status = MH_QEMU_MIGRATE_STATUS_ACTIVE;
    g_mutex_unlock(&job->mig->lock);

    if (!mhQemuMigrateDstRam(job, &stream, mh, &err))
        goto fail;
    mhQemuLog("MH restored %" G_GUINT64_FORMAT " pages (%" G_GUINT64_FORMAT " zero); "
              "device state next", job->pages_normal + job->pages_zero, job->pages_zero);
    /* The MH's work is done; the session keys go before the device state
     * moves (the migration key of this launch stays for the next hop). */
    mhMhSessionReset(mh, NULL);
    mh = NULL;
    g_mutex_lock(&job->mig->lock);
    job->ram_done_us = g_get_monotonic_time();
    g_mutex_unlock(&job->mig->lock);
    g_mutex_lock(&job->mig->lock);
    job->status = MH_QEMU_MIGRATE_STATUS_DEVICE;
    g_mutex_unlock(&job->mig->lock);
    if ((local = mhQemuMigrateDstConnectLocal(job, &err)) < 0 ||
        !mhQemuMigrateRelay(job, &stream, local, &err))
        goto fail;
    close(local);
    local = -1;
    result = mhQemuMigrateWaitQemu(job);
    if (!g_str_equal(result, "completed")) {
        g_set_error(&err, MH_ERROR, MH_ERROR_FAILED,
                    _("QEMU's device-state migration %s"), result);
        mhQemuMigrateFinish(job, err);
        goto cleanup;
    }
    mhQemuLog("MH device phase on the target: %" G_GINT64_FORMAT " ms",
              (g_get_monotonic_time() - job->ram_done_us) / 1000);
    mhQemuMigrateFinish(job, NULL);
    goto cleanup;

 fail:
    if (job->fd >= 0) {
        mhQemuStreamSendError(&stream, err->message);
        shutdown(job->fd, SHUT_RDWR);
    }
    /* The real QEMU never got a byte: the failure is ours to report. */
    if (job->status != MH_QEMU_MIGRATE_STATUS_DEVICE)
        job->real_started = false;
    mhQemuMigrateFinish(job, err);

 cleanup:
    if (mh)
        mhMhSessionReset(mh, NULL);
    if (local >= 0)
        close(local);
    if (job->listen_fd >= 0)
        close(job->listen_fd);
    job->listen_fd = -1;
    if (job->fd >= 0)
        close(job->fd);
    job->fd = -1;
    if (job->local_path)
        unlink(job->local_path);
    if (job->tmpdir)
        g_rmdir(job->tmpdir);
    return NULL;
}
