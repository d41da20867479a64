/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The source side of an MH migration, in a thread of its own:
 * handshake, pre-copy passes of sealed pages while the guest runs, the
 * final pass with the guest stopped, then the real QEMU's device state
 * through the same connection. */
#include "sim/qemu/mh-qemu-migrate-priv.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Pages per sealing request: 8 full records (16 MiB), so that a vCPU that
 * finishes first gets the next record at once; progress is updated per request. */
#define MH_QEMU_MIGRATE_BATCH 4096
#define PAGE MH_PAGE_SIZE

typedef struct {
    MhQemuMigrateJob *job;
    MhQemuStream stream;
    MhMh *mh;
    gint64 pass_t0;             /* start of the current pass */
    uint64_t pass_sent0;        /* stream.bytes_sent then */
    /* The RAM phase's own figures, from pass to pass. */
    gint64 last_scan;           /* start of the last dirty sync */
    double bw;                  /* bytes/s of sending in the last pass */
    uint64_t scan_ms;           /* the compare after the stop, estimated */
    uint64_t device_ms;         /* the device-state phase, estimated */
    uint64_t limit_ms;          /* libvirt's downtime limit, as of this pass */
    uint64_t max_passes;
} MhQemuMigrateSrc;

static void
mhQemuMigrateSrcUpdate(MhQemuMigrateSrc *src)
{
    MhMhInfo info;

    mhMhQuery(src->mh, &info);
    g_mutex_lock(&src->job->mig->lock);
    src->job->pages_zero = info.zero_pages - src->job->mh_base_zero;
    src->job->pages_normal = info.pages_saved - src->job->mh_base_saved - src->job->pages_zero;
    src->job->wire_bytes = src->stream.bytes_sent;
    g_mutex_unlock(&src->job->mig->lock);
    mhMhInfoClear(&info);
}

/* Each sealed record goes from the MH's mailbox straight to the socket
 * (one writev, no copy into a buffer of ours) while the other vCPUs go on
 * sealing. */
static bool
mhQemuMigrateSrcEmit(const uint8_t *record, size_t len, gpointer data, GError **error)
{
    MhQemuMigrateSrc *src = data;
    uint64_t limit;
    gint64 due, now;

    if (!mhQemuStreamSend(&src->stream, MH_QEMU_STREAM_MSG_RECORDS, record, len, error))
        return false;
    /* libvirt's bandwidth limit (migrate-set-parameters max-bandwidth)
     * holds for the MH phase as for QEMU's own: sleep off any excess,
     * record by record, and notice a cancel while sleeping. The bytes on
     * the wire count record by record too: at a low limit a batch takes
     * many seconds, and query-migrate would show no progress meanwhile. */
    g_mutex_lock(&src->job->mig->lock);
    limit = src->job->mig->max_bandwidth;
    src->job->wire_bytes = src->stream.bytes_sent;
    g_mutex_unlock(&src->job->mig->lock);
    if (!limit || src->job->guest_stopped)
        return true;
    due = src->pass_t0 +
        (gint64)((src->stream.bytes_sent - src->pass_sent0) * (double)G_USEC_PER_SEC / limit);
    while ((now = g_get_monotonic_time()) < due) {
        if (g_atomic_int_get(&src->job->cancel)) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration canceled"));
            return false;
        }
        g_usleep(MIN(due - now, 50 * 1000));
    }
    return true;
}

/* Seal and send the pages of one pass; this thread writes the stream. */
static bool
mhQemuMigrateSrcSend(MhQemuMigrateSrc *src, GArray *gpas, uint32_t pass, GError **error)
{
    const uint64_t *all = (const uint64_t *)gpas->data;
    gint64 t0 = g_get_monotonic_time();
    uint64_t sent0 = src->stream.bytes_sent;
    uint8_t iter[12];

    src->pass_t0 = t0;
    src->pass_sent0 = sent0;

    for (size_t i = 0; i < gpas->len; i += MH_QEMU_MIGRATE_BATCH) {
        size_t n = MIN(MH_QEMU_MIGRATE_BATCH, gpas->len - i);

        if (g_atomic_int_get(&src->job->cancel)) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration canceled"));
            return false;
        }
        if (!mhMhSavePagesFunc(src->mh, all + i, n, pass, mhQemuMigrateSrcEmit, src, error))
            return false;
        g_mutex_lock(&src->job->mig->lock);
        src->job->remaining_pages = gpas->len - i - n;
        {
            gint64 dt = g_get_monotonic_time() - t0;

            /* Live rate of this pass (Mbit/s x 1000) for virsh's progress. */
            if (dt > 0 && src->stream.bytes_sent > sent0)
                src->job->mbps_x1000 = (src->stream.bytes_sent - sent0) * 8 * 1000 / dt;
        }
        g_mutex_unlock(&src->job->mig->lock);
        mhQemuMigrateSrcUpdate(src);
    }
    mhQemuStreamIterationPack(pass, gpas->len, iter);
    return mhQemuStreamSend(&src->stream, MH_QEMU_STREAM_MSG_ITERATION, iter, sizeof(iter),
                            error);
}

static bool
mhQemuMigrateSrcHandshake(MhQemuMigrateSrc *src, GError **error)
{
    g_autoptr(GBytes) hello = NULL;
    g_autoptr(GBytes) confirm = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(GBytes) peer = NULL;
    gsize len;
    const void *data;

    if (!mhMhSessionBegin(src->mh, MH_TRANSPORT_ROLE_SOURCE, &hello, error))
        return false;
    data = g_bytes_get_data(hello, &len);
    if (!mhQemuStreamSendHeader(&src->stream, error) ||
        !mhQemuStreamSend(&src->stream, MH_QEMU_STREAM_MSG_HELLO, data, len, error) ||
        !mhQemuStreamRecvHeader(&src->stream, error) ||
        !mhQemuStreamExpect(&src->stream, MH_QEMU_STREAM_MSG_HELLO, payload, error))
        return false;
    peer = g_bytes_new(payload->data, payload->len);
    if (!mhMhSessionPeerHello(src->mh, peer, &confirm, error))
        return false;
    data = g_bytes_get_data(confirm, &len);
    if (!mhQemuStreamSend(&src->stream, MH_QEMU_STREAM_MSG_CONFIRM, data, len, error) ||
        !mhQemuStreamExpect(&src->stream, MH_QEMU_STREAM_MSG_CONFIRM, payload, error))
        return false;
    g_clear_pointer(&peer, g_bytes_unref);
    peer = g_bytes_new(payload->data, payload->len);
    return mhMhSessionPeerConfirm(src->mh, peer, error);
}

/* The device-state phase (RAM done -> completed, 4.4 MB of device state
 * and the QMP round trips) until this process measured one: 25-90 ms on
 * the 2-core TCG bench host, more under load; 100 ms errs long. */
#define MH_QEMU_MIGRATE_DEVICE_MS_DEFAULT 100

static uint64_t
mhQemuMigrateSrcDeviceEstimate(MhQemuMigrateJob *job)
{
    uint64_t ms;

    g_mutex_lock(&job->mig->lock);
    ms = job->mig->device_phase_ms;
    g_mutex_unlock(&job->mig->lock);
    return ms ? ms : MH_QEMU_MIGRATE_DEVICE_MS_DEFAULT;
}

uint64_t
mhQemuMigrateStoppedCompareMs(gint64 wall_us, uint64_t cpu_ns, unsigned int vcpus,
                              unsigned int cpus)
{
    uint64_t wall_ms = (MAX(wall_us, 0) + 999) / 1000;
    unsigned int parallel = MAX(1, MIN(vcpus, cpus));
    uint64_t ms;

    if (cpu_ns == 0)
        return wall_ms;
    /* CPU time over the CPUs the vCPUs will have, plus a quarter. */
    ms = (cpu_ns * 5 / 4 / parallel + 999999) / 1000000;
    return MIN(ms, wall_ms);
}

/* After a later pass: is the stop sure to fit without another scan while
 * the guest runs? The pages dirtied since the last scan, at the rate
 * seen so far, must fit half the limit together with the compare and the
 * device phase; the compare after the stop is exact whatever the guest
 * did meanwhile, so a wrong guess costs downtime, never a page. A full
 * scan saved is a read of all of RAM (about 0.1 CPU-s per GiB). */
bool
mhQemuMigrateStopWithoutCompare(uint64_t dirty_rate, gint64 since_us, double bw,
                                uint64_t fixed_ms, uint64_t limit_ms,
                                uint64_t *pages, uint64_t *expect_ms)
{
    if (bw <= 0 || dirty_rate == 0 || since_us < 0)
        return false;
    *pages = dirty_rate * (uint64_t)since_us / G_USEC_PER_SEC;
    *expect_ms = fixed_ms + (uint64_t)(*pages * (double)PAGE * 1000 / bw);
    return 2 * *expect_ms <= limit_ms;
}

static bool
mhQemuMigrateSrcStopNow(MhQemuMigrateJob *job, gint64 last_scan, double bw,
                        uint64_t fixed_ms, uint64_t limit_ms)
{
    uint64_t pages, expect;
    bool stop;

    g_mutex_lock(&job->mig->lock);
    stop = mhQemuMigrateStopWithoutCompare(job->dirty_rate, g_get_monotonic_time() - last_scan,
                                           bw, fixed_ms, limit_ms, &pages, &expect);
    if (stop) {
        job->remaining_pages = pages;
        job->expected_downtime_ms = expect;
    }
    g_mutex_unlock(&job->mig->lock);
    return stop;
}

/* Sync: find the pages dirtied since they were sealed (the MH compares
 * page digests). The first scan compares nothing (no page sealed yet);
 * later ones give the compare after the stop, when the MH's vCPUs no
 * longer share the CPUs with the guest's; the quickest so far counts. */
static bool
mhQemuMigrateSrcSync(MhQemuMigrateSrc *src, uint32_t pass, GArray *gpas, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    uint64_t cpu0 = mhMhCpuTimeNs(src->mh);

    g_array_set_size(gpas, 0);
    if (!mhMhScanDirty(src->mh, gpas, error))
        return false;
    if (pass > 1) {
        uint64_t ms = mhQemuMigrateStoppedCompareMs(g_get_monotonic_time() - t0,
                                                    mhMhCpuTimeNs(src->mh) - cpu0,
                                                    src->job->mh_vcpus, g_get_num_processors());

        src->scan_ms = src->scan_ms ? MIN(src->scan_ms, ms) : ms;
    }
    /* The figures of this pass, under one lock: libvirt reads them. */
    g_mutex_lock(&src->job->mig->lock);
    src->limit_ms = src->job->mig->downtime_limit_ms;
    src->max_passes = src->job->mig->max_passes;
    src->job->passes = pass;
    src->job->remaining_pages = gpas->len;
    if (src->last_scan)
        src->job->dirty_rate = gpas->len * G_USEC_PER_SEC / MAX(1, t0 - src->last_scan);
    src->job->expected_downtime_ms = src->scan_ms + src->device_ms +
        (src->bw > 0 ? (uint64_t)(gpas->len * (double)PAGE * 1000 / src->bw) : 0);
    g_mutex_unlock(&src->job->mig->lock);
    src->last_scan = t0;
    return true;
}

static void
mhQemuMigrateSrcPassEvent(MhQemuMigrateJob *job, uint32_t pass)
{
    JsonObject *data = json_object_new();

    json_object_set_int_member(data, "pass", pass);
    mhQemuMigrateEmit(job, "MIGRATION_PASS", data);
}

/* Switch-over decision after the sync of a later pass: the whole stop
 * fits the downtime limit, or the pass cap is reached. Over the limit,
 * QEMU goes on iterating until management raises it (Nova does, step by
 * step) or gives up; the MH does the same up to its cap. */
static bool
mhQemuMigrateSrcSwitchOver(MhQemuMigrateSrc *src, uint32_t pass)
{
    if (src->job->expected_downtime_ms <= src->limit_ms)
        return true;
    if (pass < src->max_passes)
        return false;
    mhQemuLog("MH: %" G_GUINT64_FORMAT " passes without reaching the downtime "
              "limit of %" G_GUINT64_FORMAT " ms (RAM compare %" G_GUINT64_FORMAT
              " ms + device state %" G_GUINT64_FORMAT " ms + dirty pages); "
              "stopping now", src->max_passes, src->limit_ms, src->scan_ms, src->device_ms);
    return true;
}

/* Iterate: seal and send the dirty pages while the guest runs; the rate
 * of sending alone (the compare is counted apart) updates the bandwidth.
 * A pass of a few pages says more about latency than about the rate, so
 * small ones keep the earlier figure. */
static bool
mhQemuMigrateSrcIterate(MhQemuMigrateSrc *src, uint32_t pass, GArray *gpas, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    uint64_t sent0 = src->stream.bytes_sent;
    gint64 dt;
    uint64_t sent;

    if (!mhQemuMigrateSrcSend(src, gpas, pass, error))
        return false;
    dt = g_get_monotonic_time() - t0;
    sent = src->stream.bytes_sent - sent0;
    if (dt > 0 && sent > 0 && (src->bw == 0 || sent >= 8 * 1024 * 1024))
        src->bw = (double)sent * G_USEC_PER_SEC / dt;
    g_mutex_lock(&src->job->mig->lock);
    src->job->mbps_x1000 = (uint64_t)(src->bw * 8 / 1000);
    g_mutex_unlock(&src->job->mig->lock);
    mhQemuLog("MH pre-copy pass %u: %u pages, %.1f MB/s", pass, gpas->len, src->bw / 1e6);
    return true;
}

/* Complete: the guest stops (libvirt sees QEMU's STOP event as it would
 * from QEMU's own migration), the last dirty pages and the final record
 * go, and the target confirms it verified the count and digest and wrote
 * every page. */
static bool
mhQemuMigrateSrcComplete(MhQemuMigrateSrc *src, uint32_t pass, GArray *gpas, GError **error)
{
    MhQemuMigrateJob *job = src->job;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    gint64 t_final;

    g_mutex_lock(&job->mig->lock);
    job->stop_us = g_get_monotonic_time();
    g_mutex_unlock(&job->mig->lock);
    if (!mhQemuMigrateQmp(job, "stop", NULL, NULL, error))
        return false;
    job->guest_stopped = true;
    g_array_set_size(gpas, 0);
    t_final = g_get_monotonic_time();
    if (!mhMhScanDirty(src->mh, gpas, error))
        return false;
    mhQemuLog("MH final pass %u: %u pages with the guest stopped (RAM compared in %"
              G_GINT64_FORMAT " ms)", pass, gpas->len,
              (g_get_monotonic_time() - t_final) / 1000);
    if (!mhQemuMigrateSrcSend(src, gpas, pass, error) ||
        !mhMhSaveFinish(src->mh, payload, error) ||
        !mhQemuStreamSend(&src->stream, MH_QEMU_STREAM_MSG_FINAL, payload->data, payload->len,
                          error) ||
        !mhQemuStreamExpect(&src->stream, MH_QEMU_STREAM_MSG_RAM_DONE, payload, error))
        return false;
    g_mutex_lock(&job->mig->lock);
    job->ram_done_us = g_get_monotonic_time();
    g_mutex_unlock(&job->mig->lock);
    mhQemuMigrateSrcUpdate(src);
    return true;
}

/* The RAM phase, split as QEMU splits RAM migration: sync, iterate,
 * switch-over decision, complete. Pre-copy goes on until the whole stop
 * fits the downtime limit (or the pass cap). The stop costs more than the
 * last dirty pages: with the guest stopped all of RAM is compared once
 * more (the last full scan measures that), then the real QEMUs move the
 * device state (measured by the previous migration of this process, or a
 * conservative default). All three count against libvirt's
 * downtime-limit, as QEMU counts its whole stop. */
static bool
mhQemuMigrateSrcRam(MhQemuMigrateSrc *src, GError **error)
{
    MhQemuMigrateJob *job = src->job;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    bool estimated = false;
    uint32_t pass;

    src->device_ms = mhQemuMigrateSrcDeviceEstimate(job);
    for (pass = 1;; pass++) {
        if (!mhQemuMigrateSrcSync(src, pass, gpas, error))
            return false;
        if (pass > 1) {
            mhQemuMigrateSrcPassEvent(job, pass);
            if (mhQemuMigrateSrcSwitchOver(src, pass))
                break;
        }
        if (!mhQemuMigrateSrcIterate(src, pass, gpas, error))
            return false;
        /* Stop without another compare while the guest runs when the
         * pages dirtied since fit half the limit. */
        if (pass > 1 && mhQemuMigrateSrcStopNow(job, src->last_scan, src->bw,
                                                src->scan_ms + src->device_ms, src->limit_ms)) {
            pass++;
            g_mutex_lock(&job->mig->lock);
            job->passes = pass;
            g_mutex_unlock(&job->mig->lock);
            mhQemuMigrateSrcPassEvent(job, pass);
            estimated = true;
            break;
        }
    }
    mhQemuLog("MH switch-over: %" G_GUINT64_FORMAT " dirty pages%s, expected downtime %"
              G_GUINT64_FORMAT " ms (RAM compare %" G_GUINT64_FORMAT " ms, device state %"
              G_GUINT64_FORMAT " ms, limit %" G_GUINT64_FORMAT " ms)",
              job->remaining_pages, estimated ? " (estimated)" : "",
              job->expected_downtime_ms, src->scan_ms, src->device_ms, src->limit_ms);
    return mhQemuMigrateSrcComplete(src, pass, gpas, error);
}

static int
mhQemuMigrateSrcListenLocal(MhQemuMigrateJob *job, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (!mhQemuMigrateLocalPath(job, error))
        return -1;
    g_strlcpy(addr.sun_path, job->local_path, sizeof(addr.sun_path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot listen on '%s': %s"),
                    job->local_path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The real QEMU sends the device state (RAM excluded) into our local
 * socket; we relay it. */
static bool
mhQemuMigrateSrcDevice(MhQemuMigrateSrc *src, GError **error)
{
    MhQemuMigrateJob *job = src->job;
    g_autofree char *uri = NULL;
    JsonObject *args;
    const char *result;
    int lfd, local;
    bool ok;

    if ((lfd = mhQemuMigrateSrcListenLocal(job, error)) < 0)
        return false;
    if (!mhQemuMigrateQmp(job, "migrate-set-capabilities", mhQemuMigrateIgnoreShared(),
                          NULL, error)) {
        close(lfd);
        return false;
    }
    uri = g_strdup_printf("unix:%s", job->local_path);
    args = json_object_new();
    json_object_set_string_member(args, "uri", uri);
    /* From here the real QEMU reports the statuses (pre-switchover,
     * device, completed) to libvirt, and libvirt's migrate-continue
     * reaches it directly. */
    job->real_started = true;
    if (!mhQemuMigrateQmp(job, "migrate", args, NULL, error)) {
        job->real_started = false;
        close(lfd);
        return false;
    }
    g_mutex_lock(&job->mig->lock);
    job->status = MH_QEMU_MIGRATE_STATUS_DEVICE;
    g_mutex_unlock(&job->mig->lock);
    local = mhQemuMigrateAccept(job, lfd, _("the QEMU migration stream"), error);
    close(lfd);
    unlink(job->local_path);
    if (local < 0)
        return false;
    ok = mhQemuMigrateRelay(job, &src->stream, local, error);
    close(local);
    if (!ok)
        return false;
    result = mhQemuMigrateWaitQemu(job);
    g_mutex_lock(&job->mig->lock);
    job->downtime_ms = (g_get_monotonic_time() - job->stop_us) / 1000;
    if (g_str_equal(result, "completed"))
        job->mig->device_phase_ms = (g_get_monotonic_time() - job->ram_done_us + 999) / 1000;
    g_mutex_unlock(&job->mig->lock);
    if (!g_str_equal(result, "completed")) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("QEMU's device-state migration %s"), result);
        return false;
    }
    return true;
}

/* Undo what a failed migration left on the source: the real QEMU's
 * migration cancelled, the guest running again. */
static void
mhQemuMigrateSrcRecover(MhQemuMigrateSrc *src, const GError *err)
{
    MhQemuMigrateJob *job = src->job;
    g_autoptr(GError) e2 = NULL;

    if (job->fd >= 0)
        mhQemuStreamSendError(&src->stream, err->message);
    if (job->fd >= 0) {
        shutdown(job->fd, SHUT_RDWR);
    }
    if (job->real_started && job->status == MH_QEMU_MIGRATE_STATUS_DEVICE) {
        mhQemuMigrateQmp(job, "migrate_cancel", NULL, NULL, NULL);
    }
    if (job->guest_stopped && !mhQemuMigrateQmp(job, "cont", NULL, NULL, &e2))
        mhQemuLog("cannot resume the guest after the failed migration: %s", e2->message);
    job->guest_stopped = false;
}

/* The connection to the target, bounded in time and ended by a cancel;
 * a failure ends the migration with status failed, as QEMU reports it. */
static bool
mhQemuMigrateSrcConnect(MhQemuMigrateSrc *src, GError **error)
{
    MhQemuMigrateJob *job = src->job;
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_autoptr(GError) err = NULL;

    g_socket_client_set_timeout(client, mhQemuMigrateStallTimeout(job));
    g_mutex_lock(&job->mig->lock);
    job->connecting = cancel;
    if (g_atomic_int_get(&job->cancel))
        g_cancellable_cancel(cancel);
    g_mutex_unlock(&job->mig->lock);
    conn = g_socket_client_connect_to_host(client, job->connect_to, 0, cancel, &err);
    g_mutex_lock(&job->mig->lock);
    job->connecting = NULL;
    g_mutex_unlock(&job->mig->lock);
    if (!conn) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, "Failed to connect to '%s': %s",
                    job->connect_to, err->message);
        return false;
    }
    job->fd = dup(g_socket_get_fd(g_socket_connection_get_socket(conn)));
    src->stream.fd = job->fd;
    return true;
}

gpointer
mhQemuMigrateSourceThread(gpointer data)
{
    MhQemuMigrateJob *job = data;
    g_autoptr(GError) err = NULL;
    MhQemuMigrateSrc src = { .job = job };

    mhQemuStreamInit(&src.stream, job->fd, &job->cancel);
    if (job->connect_to && !mhQemuMigrateSrcConnect(&src, &err))
        goto fail;
    src.stream.idle_timeout_s = mhQemuMigrateStallTimeout(job);
    {
        int sz = 8 * 1024 * 1024;

        /* Room for a couple of batches in flight (capped by the kernel). */
        setsockopt(job->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }

    /* The MH of this launch, with its key. */
    if (!(src.mh = mhQemuMigrateNewMh(job, &err)) ||
        !mhQemuMigrateSrcHandshake(&src, &err))
        goto fail;

    g_mutex_lock(&job->mig->lock);
    job->setup_us = g_get_monotonic_time();
    g_mutex_unlock(&job->mig->lock);
    mhQemuLog("MH session with the target's MH established");
    {
        JsonObject *pd = json_object_new();

        json_object_set_int_member(pd, "pass", 1);
        mhQemuMigrateEmit(job, "MIGRATION_PASS", pd);
    }
    mhQemuMigrateSetStatus(job, MH_QEMU_MIGRATE_STATUS_ACTIVE);

    if (!mhQemuMigrateSrcRam(&src, &err) || !mhQemuMigrateSrcDevice(&src, &err))
        goto fail;
    mhQemuLog("migration completed: %" G_GUINT64_FORMAT " pages sealed (%" G_GUINT64_FORMAT
              " zero), %" G_GUINT64_FORMAT " bytes on the wire, %" G_GUINT64_FORMAT
              " bytes of device state, downtime %" G_GUINT64_FORMAT " ms",
              job->pages_normal + job->pages_zero, job->pages_zero, src.stream.bytes_sent,
              job->device_bytes, job->downtime_ms);
    mhQemuMigrateFinish(job, NULL);
    goto cleanup;

 fail:
    /* The reason first: cancelling the real QEMU's migration makes libvirt
     * ask query-migrate at once, and the answer must carry it. */
    mhQemuMigrateSetErrorDesc(job, err);
    mhQemuMigrateSrcRecover(&src, err);
    /* Our own statuses again: the real QEMU may never have started. */
    if (!job->real_started || job->status != MH_QEMU_MIGRATE_STATUS_DEVICE)
        job->real_started = false;
    mhQemuMigrateFinish(job, err);

 cleanup:
    if (job->fd >= 0)
        close(job->fd);
    job->fd = -1;
    /* The process's MH stays (with its key) for the next migration; this
     * session's keys and page digests go. */
    if (src.mh)
        mhMhSessionReset(src.mh, NULL);
    if (job->local_path)
        unlink(job->local_path);
    if (job->tmpdir)
        g_rmdir(job->tmpdir);
    return NULL;
}
