/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain object's live state: the running handler's own report
 * (query-migration-handler) and libvirt's figures of the last completed
 * migration, read without waiting on a libvirt job, kept for the readers
 * that come while one runs, and announced from a thread of their own. */
#include "mhd.h"

#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <string.h>

/* Whether libvirt would hold a monitor query back: an incoming migration
 * (or a switch-over) pauses the domain for "migration" and admits no
 * other job until it ends, and a job of its own may hold the monitor.
 * Both answers come without a job. */
static bool
mhdDomainBusy(virDomainPtr vdom)
{
    virDomainControlInfo control;
    int state, reason;

    if (virDomainGetState(vdom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
        reason == VIR_DOMAIN_PAUSED_MIGRATION)
        return true;
    return virDomainGetControlInfo(vdom, &control, 0) == 0 &&
           (control.state == VIR_DOMAIN_CONTROL_JOB ||
            control.state == VIR_DOMAIN_CONTROL_OCCUPIED);
}

/* qemu-mh's query-migration-handler on a running domain; NULL when the
 * domain is not running or its emulator does not answer it. *busy: libvirt
 * would hold the query back (for up to its 30 s job wait); nothing was
 * asked. */
static JsonObject *
mhdHandlerInfo(virDomainPtr vdom, bool *busy)
{
    g_autofree char *reply = NULL;
    g_autoptr(JsonNode) node = NULL;
    JsonObject *ret;

    *busy = false;
    if (!vdom || virDomainIsActive(vdom) != 1)
        return NULL;
    if ((*busy = mhdDomainBusy(vdom)))
        return NULL;
    if (virDomainQemuMonitorCommand(vdom, "{\"execute\":\"query-migration-handler\"}",
                                    &reply, 0) < 0 ||
        !(node = json_from_string(reply, NULL)) || !JSON_NODE_HOLDS_OBJECT(node) ||
        !(ret = json_object_get_object_member(json_node_get_object(node), "return")))
        return NULL;
    return json_object_ref(ret);
}

/* The live-state properties, from one handler report ('info' may be NULL)
 * and libvirt's figures of the domain's last completed migration (kept
 * for the next reader: KEEP_COMPLETED). */
typedef enum {
    MHD_STATE_HANDLER_RUNNING,
    MHD_STATE_KEY_ID,
    MHD_STATE_HANDLER_VCPUS,
    MHD_STATE_LAST_MIGRATION,
    MHD_STATE_LAST,
} MhdStateProperty;

static const char *const mhdStateNames[MHD_STATE_LAST] = {
    "HandlerRunning", "KeyId", "HandlerVcpus", "LastMigration",
};

static GVariant *
mhdStateValue(MhdStateProperty which, virDomainPtr vdom, JsonObject *info)
{
    GVariant *stats;

    switch (which) {
    case MHD_STATE_HANDLER_RUNNING:
        return g_variant_new_boolean(info && g_strcmp0(json_object_get_string_member_with_default(
                                         info, "state", ""), "running") == 0);
    case MHD_STATE_KEY_ID:
        return g_variant_new_uint32(info ? json_object_get_int_member_with_default(info, "key-id", 0)
                                    : 0);
    case MHD_STATE_HANDLER_VCPUS:
        return g_variant_new_uint32(info ? json_object_get_int_member_with_default(info, "vcpus", 0)
                                    : 0);
    case MHD_STATE_LAST_MIGRATION:
        stats = vdom && virDomainIsActive(vdom) == 1
            ? mhdReadJobStats(vdom, VIR_DOMAIN_JOB_STATS_COMPLETED |
                                    VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
            : NULL;
        return stats ? stats : g_variant_new("a{sv}", NULL);
    case MHD_STATE_LAST:
        break;
    }
    g_return_val_if_reached(NULL);
}

static void
mhdDomainKeepHandlerInfo(MhdDomain *dom, JsonObject *info)
{
    if (dom->handler_info)
        json_object_unref(dom->handler_info);
    dom->handler_info = info ? json_object_ref(info) : NULL;
}

/* libvirt's figures (owned) in, the ones to report out (owned): the new
 * ones when there are any, else those last seen. */
static GVariant *
mhdDomainKeepLastMigration(MhdDomain *dom, GVariant *stats)
{
    guint32 type = 0;

    if (g_variant_lookup(stats, "type", "i", &type) && type != VIR_DOMAIN_JOB_NONE) {
        if (dom->last_migration)
            g_variant_unref(dom->last_migration);
        dom->last_migration = g_variant_ref(stats);
        return stats;
    }
    if (!dom->last_migration)
        return stats;
    g_variant_unref(stats);
    return g_variant_ref(dom->last_migration);
}

static GVariant *
mhdPropState(gpointer object, MhdStateProperty which)
{
    MhdDomain *dom = object;
    g_autoptr(virDomain) vdom = mhdDomainLookup(dom, NULL);
    g_autoptr(JsonObject) info = NULL;
    bool busy = false;

    if (which == MHD_STATE_LAST_MIGRATION)
        return mhdDomainKeepLastMigration(dom, g_variant_take_ref(mhdStateValue(which, vdom, NULL)));
    if ((info = mhdHandlerInfo(vdom, &busy)) || !busy)
        mhdDomainKeepHandlerInfo(dom, info);
    else if (dom->handler_info)
        info = json_object_ref(dom->handler_info);
    return mhdStateValue(which, vdom, info);
}

/* The property table's getters, one per live-state property. */
#define MHD_STATE_PROPERTY(fn, which)                   \
    GVariant *fn(gpointer object, GError **error)       \
    {                                                   \
        return mhdPropState(object, which);             \
    }

MHD_STATE_PROPERTY(mhdPropHandlerRunning, MHD_STATE_HANDLER_RUNNING)
MHD_STATE_PROPERTY(mhdPropKeyId, MHD_STATE_KEY_ID)
MHD_STATE_PROPERTY(mhdPropHandlerVcpus, MHD_STATE_HANDLER_VCPUS)
MHD_STATE_PROPERTY(mhdPropLastMigration, MHD_STATE_LAST_MIGRATION)

typedef struct {
    Mhd *mhd;
    virConnectPtr conn;
    char *uuid;
    JsonObject *info;
    GVariant *values[MHD_STATE_LAST];
} MhdStateRead;

static void
mhdStateReadFree(MhdStateRead *r)
{
    virConnectClose(r->conn);
    if (r->info)
        json_object_unref(r->info);
    g_free(r->uuid);
    for (guint i = 0; i < MHD_STATE_LAST; i++) {
        if (r->values[i])
            g_variant_unref(r->values[i]);
    }
    g_free(r);
}

static void
mhdStateReadThread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    MhdStateRead *r = data;
    g_autoptr(virDomain) vdom = virDomainLookupByUUIDString(r->conn, r->uuid);
    bool busy = true;

    if (!vdom) {
        g_task_return_boolean(task, FALSE);
        return;
    }
    /* The events come while libvirt still holds the job (an incoming
     * migration resumes the guest before its Finish ends): wait it out
     * here, off the main loop. */
    for (guint i = 0; i < 300 && busy; i++) {
        if (i)
            g_usleep(100 * 1000);
        r->info = mhdHandlerInfo(vdom, &busy);
    }
    if (busy) {
        g_task_return_boolean(task, FALSE);
        return;
    }
    /* Owned once each, floating or not (libvirt's figures come sunk). */
    for (guint i = 0; i < MHD_STATE_LAST; i++)
        r->values[i] = g_variant_take_ref(mhdStateValue(i, vdom, r->info));
    g_task_return_boolean(task, TRUE);
}

static void
mhdStateReadDone(GObject *source, GAsyncResult *res, gpointer user_data)
{
    MhdStateRead *r = g_task_get_task_data(G_TASK(res));
    MhdDomain *dom;

    /* The object may have gone while the thread waited on libvirt. */
    if (!g_task_propagate_boolean(G_TASK(res), NULL) ||
        !(dom = g_hash_table_lookup(r->mhd->domains, r->uuid)))
        return;
    mhdDomainKeepHandlerInfo(dom, r->info);
    r->values[MHD_STATE_LAST_MIGRATION] =
        mhdDomainKeepLastMigration(dom, r->values[MHD_STATE_LAST_MIGRATION]);
    mhdEmitPropertiesChanged(dom->mhd, dom->path, MHD_IFACE_DOMAIN, mhdStateNames,
                             r->values, MHD_STATE_LAST);
}

void
mhdDomainRefreshState(MhdDomain *dom)
{
    g_autoptr(GTask) task = NULL;
    MhdStateRead *r;
    virConnectPtr conn = mhdConnection(dom->mhd, NULL);

    if (!conn)
        return;
    r = g_new0(MhdStateRead, 1);
    r->mhd = dom->mhd;
    r->conn = conn;
    virConnectRef(conn);
    r->uuid = g_strdup(dom->uuid);
    task = g_task_new(NULL, NULL, mhdStateReadDone, NULL);
    g_task_set_task_data(task, r, (GDestroyNotify)mhdStateReadFree);
    g_task_run_in_thread(task, mhdStateReadThread);
}

void
mhdDomainClearState(MhdDomain *dom)
{
    if (dom->handler_info)
        json_object_unref(dom->handler_info);
    if (dom->last_migration)
        g_variant_unref(dom->last_migration);
    dom->handler_info = NULL;
    dom->last_migration = NULL;
}
