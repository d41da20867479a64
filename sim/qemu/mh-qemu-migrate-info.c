/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* query-migrate for MH migrations: the figures of the MH phase (pages
 * sealed, bytes on the wire, passes, dirty rate, downtime) in QEMU's
 * MigrationInfo layout, so that libvirt's job statistics, "virsh
 * domjobinfo" and "virsh migrate --verbose" read them like a QEMU
 * migration's; while the real QEMU moves the device state its status and
 * figures are merged in. SEV guests without the helper report QEMU 7.2's
 * blocker, which libvirt 9.0 turns into "cannot migrate domain: ...". */
#include "sim/qemu/mh-qemu-migrate-priv.h"

#define PAGE 4096

static void
mhQemuMigrateInfoAddRam(JsonObject *ram, const char *name, gint64 add)
{
    gint64 v = json_object_get_int_member_with_default(ram, name, 0);

    json_object_set_int_member(ram, name, v + add);
}

/* MigrationInfo of 'job' with 'status'; 'real' (may be NULL) is the real
 * QEMU's answer during the device phase, whose RAM figures (device
 * state and the small non-shared RAM blocks) are added. */
static JsonObject *
mhQemuMigrateInfoBuild(MhQemuMigrateJob *job, const char *status, JsonObject *real)
{
    JsonObject *info = json_object_new();
    JsonObject *ram = json_object_new();
    JsonObject *rram = real && json_object_has_member(real, "ram") ?
        json_object_get_object_member(real, "ram") : NULL;
    gint64 now = g_get_monotonic_time();
    gint64 end = job->end_us ? job->end_us : now;
    bool done = g_str_equal(status, "completed");
    uint64_t bytes = (job->pages_normal) * PAGE;
    double mbps = job->mbps_x1000 / 1000.0;

    json_object_set_string_member(info, "status", status);
    if (g_str_equal(status, "failed") || g_str_equal(status, "cancelled")) {
        const char *desc = job->error_desc;

        if (!desc && real)
            desc = json_object_get_string_member_with_default(real, "error-desc", NULL);
        if (desc)
            json_object_set_string_member(info, "error-desc", desc);
        return info;
    }
    json_object_set_int_member(info, "setup-time",
                               job->setup_us ? (job->setup_us - job->start_us) / 1000 : 0);
    json_object_set_int_member(info, "total-time", (end - job->start_us) / 1000);
    if (done) {
        gint64 down = job->downtime_ms;

        if (!down && job->stop_us)
            down = (end - job->stop_us) / 1000;
        json_object_set_int_member(info, "downtime", down);
    } else {
        json_object_set_int_member(info, "expected-downtime", job->expected_downtime_ms);
    }
    json_object_set_int_member(ram, "total", job->ram_total);
    json_object_set_int_member(ram, "transferred", job->wire_bytes);
    json_object_set_int_member(ram, "remaining", done ? 0 : job->remaining_pages * PAGE);
    json_object_set_int_member(ram, "duplicate", job->pages_zero);
    json_object_set_int_member(ram, "skipped", 0);
    json_object_set_int_member(ram, "normal", job->pages_normal);
    json_object_set_int_member(ram, "normal-bytes", bytes);
    json_object_set_int_member(ram, "dirty-sync-count", job->passes);
    json_object_set_int_member(ram, "dirty-pages-rate", job->dirty_rate);
    json_object_set_double_member(ram, "mbps", mbps);
    json_object_set_int_member(ram, "page-size", PAGE);
    json_object_set_int_member(ram, "pages-per-second",
                               (gint64)(mbps * 1000 * 1000 / 8 / PAGE));
    json_object_set_int_member(ram, "postcopy-requests", 0);
    json_object_set_int_member(ram, "multifd-bytes", 0);
    json_object_set_int_member(ram, "precopy-bytes", job->wire_bytes);
    json_object_set_int_member(ram, "downtime-bytes", 0);
    json_object_set_int_member(ram, "postcopy-bytes", 0);
    json_object_set_int_member(ram, "dirty-sync-missed-zero-copy", 0);
    if (rram) {
        /* The real QEMU's own counts are for its non-shared blocks (ROMs,
         * video RAM); its transferred bytes already crossed our wire. */
        mhQemuMigrateInfoAddRam(ram, "total", json_object_get_int_member_with_default(rram, "total", 0));
        mhQemuMigrateInfoAddRam(ram, "duplicate", json_object_get_int_member_with_default(rram, "duplicate", 0));
        mhQemuMigrateInfoAddRam(ram, "normal", json_object_get_int_member_with_default(rram, "normal", 0));
        mhQemuMigrateInfoAddRam(ram, "normal-bytes", json_object_get_int_member_with_default(rram, "normal-bytes", 0));
        mhQemuMigrateInfoAddRam(ram, "remaining", done ? 0 : json_object_get_int_member_with_default(rram, "remaining", 0));
        mhQemuMigrateInfoAddRam(ram, "downtime-bytes", json_object_get_int_member_with_default(rram, "transferred", 0));
    }
    json_object_set_object_member(info, "ram", ram);
    return info;
}

static JsonNode *
mhQemuMigrateInfoNode(JsonObject *info)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(node, info);
    return node;
}

typedef struct {
    MhQemuMigrate *mig;
    MhQemuMigrateMode mode;
} MhQemuMigrateInfoCtx;

static gboolean
mhQemuMigrateInfoReply(MhQmpRequest *req, JsonObject *reply, gpointer data)
{
    g_autofree MhQemuMigrateInfoCtx *ctx = data;
    MhQemuMigrateJob *job = ctx->mig->job;
    JsonObject *ret = json_object_has_member(reply, "return") ?
        json_object_get_object_member(reply, "return") : NULL;
    JsonObject *msg;
    JsonObject *info;
    const char *status;

    if (!ret)
        return FALSE;
    if (ctx->mode == MH_QEMU_MIGRATE_MODE_BLOCKED) {
        /* QEMU 7.2 lists its blockers here (libvirt checks them first). */
        JsonArray *reasons = json_array_new();

        json_array_add_string_element(reasons, MH_QEMU_MIGRATE_SEV_BLOCKER);
        json_object_set_array_member(ret, "blocked-reasons", reasons);
        /* The proxy passes QEMU's own bytes unless we reply ourselves. */
        msg = json_object_new();
        json_object_set_object_member(msg, "return", json_object_ref(ret));
        mhQmpRequestReply(req, msg);
        return TRUE;
    }
    status = json_object_get_string_member_with_default(ret, "status", NULL);
    if (!job || !status)
        return FALSE;
    if (g_str_equal(status, "setup"))
        status = "active";
    g_mutex_lock(&ctx->mig->lock);
    /* The real QEMU's migration ends because ours failed (qemu-mh
     * cancelled it): ours is the status and the reason libvirt reports. */
    if (job->error_desc && (g_str_equal(status, "failed") || g_str_equal(status, "cancelled")))
        status = g_atomic_int_get(&job->cancel) ? "cancelled" : "failed";
    info = mhQemuMigrateInfoBuild(job, status, ret);
    g_mutex_unlock(&ctx->mig->lock);
    msg = json_object_new();
    json_object_set_object_member(msg, "return", info);
    mhQmpRequestReply(req, msg);
    return TRUE;
}

void
mhQemuCmdQueryMigrate(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhQemuMigrateMode mode = mhQemuMigrateGetMode(qemu);
    MhQemuMigrateInfoCtx *ctx;
    MhQemuMigrate *mig;
    MhQemuMigrateJob *job;

    if (mode == MH_QEMU_MIGRATE_MODE_PLAIN) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    mig = mhQemuMigrateGetState(qemu);
    job = mig->job;
    /* An on-request arm covers one migration and is spent when it starts;
     * that migration still reports through the MH until it ends. */
    if (mode == MH_QEMU_MIGRATE_MODE_BLOCKED && job &&
        job->status != MH_QEMU_MIGRATE_STATUS_NONE &&
        job->status != MH_QEMU_MIGRATE_STATUS_FAILED &&
        job->status != MH_QEMU_MIGRATE_STATUS_CANCELLED)
        mode = MH_QEMU_MIGRATE_MODE_HELPER;
    /* While qemu-mh's own phase runs (or after it failed there), the
     * answer is ours alone; otherwise the real QEMU's status leads. */
    if (job && job->role == MH_QEMU_MIGRATE_ROLE_SOURCE && !job->real_started &&
        job->status != MH_QEMU_MIGRATE_STATUS_NONE) {
        JsonObject *info;

        g_mutex_lock(&mig->lock);
        info = mhQemuMigrateInfoBuild(job, mhQemuMigrateStatusTypeToString(
                                          job->status == MH_QEMU_MIGRATE_STATUS_SETUP ?
                                          MH_QEMU_MIGRATE_STATUS_SETUP : job->status), NULL);
        g_mutex_unlock(&mig->lock);
        mhQmpRequestReturn(req, mhQemuMigrateInfoNode(info));
        return;
    }
    if (job && job->role == MH_QEMU_MIGRATE_ROLE_TARGET &&
        (job->status == MH_QEMU_MIGRATE_STATUS_FAILED ||
         job->status == MH_QEMU_MIGRATE_STATUS_CANCELLED)) {
        JsonObject *info;

        g_mutex_lock(&mig->lock);
        info = mhQemuMigrateInfoBuild(job, mhQemuMigrateStatusTypeToString(job->status), NULL);
        g_mutex_unlock(&mig->lock);
        mhQmpRequestReturn(req, mhQemuMigrateInfoNode(info));
        return;
    }
    ctx = g_new0(MhQemuMigrateInfoCtx, 1);
    ctx->mig = mig;
    ctx->mode = mode;
    mhQmpRequestForward(req, mhQemuMigrateInfoReply, ctx);
}
