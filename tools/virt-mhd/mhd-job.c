/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A migration job: libvirt's migration call in a thread of its own, its
 * statistics polled on the main loop every 250 ms (Progress), and
 * Finished with libvirt's completed-job figures or its error. The job
 * does not depend on the client that started it: a client that leaves
 * mid-migration leaves the migration and its object alone. */
#include "mhd.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <libvirt/virterror.h>
#include <string.h>

#define MHD_JOB_POLL_MS 250
/* How long a finished job's object stays for late readers. */
#define MHD_JOB_LINGER_S 300

struct _MhdJob {
    Mhd *mhd;
    MhdDomain *dom;
    char *path;
    char *uuid;
    guint reg_id;
    virDomainPtr vdom;
    MhdMigrateArgs args;
    GThread *thread;
    GMutex lock;
    bool finished;
    bool ok;
    char *error;
    char *state;
    GVariant *stats;            /* a{sv}, the last figures */
    GThread *poller;
    gint stop_poll;
};

static GVariant *
mhdTypedParamsToVariant(virTypedParameterPtr p, int n)
{
    GVariantBuilder b;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    for (int i = 0; i < n; i++) {
        GVariant *v = NULL;

        switch (p[i].type) {
        case VIR_TYPED_PARAM_INT: v = g_variant_new_int32(p[i].value.i); break;
        case VIR_TYPED_PARAM_UINT: v = g_variant_new_uint32(p[i].value.ui); break;
        case VIR_TYPED_PARAM_LLONG: v = g_variant_new_int64(p[i].value.l); break;
        case VIR_TYPED_PARAM_ULLONG: v = g_variant_new_uint64(p[i].value.ul); break;
        case VIR_TYPED_PARAM_DOUBLE: v = g_variant_new_double(p[i].value.d); break;
        case VIR_TYPED_PARAM_BOOLEAN: v = g_variant_new_boolean(p[i].value.b); break;
        case VIR_TYPED_PARAM_STRING: v = g_variant_new_string(p[i].value.s); break;
        default: break;
        }
        if (v)
            g_variant_builder_add(&b, "{sv}", p[i].field, v);
    }
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

GVariant *
mhdReadJobStats(virDomainPtr vdom, unsigned int flags)
{
    virTypedParameterPtr p = NULL;
    int n = 0, type = 0;
    GVariant *v;

    if (!vdom || virDomainGetJobStats(vdom, &type, &p, &n, flags) < 0)
        return NULL;
    virTypedParamsAddInt(&p, &n, &n, "type", type);
    v = mhdTypedParamsToVariant(p, n);
    virTypedParamsFree(p, n);
    return v;
}

static void
mhdJobSetStats(MhdJob *job, GVariant *stats)
{
    g_mutex_lock(&job->lock);
    if (job->stats)
        g_variant_unref(job->stats);
    job->stats = stats;
    g_mutex_unlock(&job->lock);
}

typedef struct {
    MhdJob *job;
    GVariant *stats;
} MhdJobProgress;

static gboolean
mhdJobEmitProgress(gpointer data)
{
    MhdJobProgress *p = data;

    if (!p->job->finished)
        g_dbus_connection_emit_signal(p->job->mhd->bus, NULL, p->job->path, MHD_IFACE_JOB,
                                      "Progress", g_variant_new("(@a{sv})", p->stats), NULL);
    g_variant_unref(p->stats);
    g_free(p);
    return G_SOURCE_REMOVE;
}

/* The statistics are polled in a thread of their own: libvirt may hold
 * a query back while the migration is between phases, and the main loop
 * must go on serving every other caller meanwhile. */
static gpointer
mhdJobPoll(gpointer data)
{
    MhdJob *job = data;

    while (!g_atomic_int_get(&job->stop_poll)) {
        GVariant *stats = mhdReadJobStats(job->vdom, 0);

        if (stats && !g_atomic_int_get(&job->stop_poll)) {
            MhdJobProgress *p = g_new0(MhdJobProgress, 1);

            mhdJobSetStats(job, g_variant_ref(stats));
            p->job = job;
            p->stats = stats;
            g_idle_add(mhdJobEmitProgress, p);
        } else if (stats) {
            g_variant_unref(stats);
        }
        g_usleep(MHD_JOB_POLL_MS * 1000);
    }
    return NULL;
}

/* libvirt's completed-job figures: the source keeps them unless it
 * undefined the domain; then the destination has them. Read without
 * removing them (KEEP_COMPLETED), so "virsh domjobinfo --completed" and
 * other clients still see them. */
static GVariant *
mhdJobCompletedStats(MhdJob *job)
{
    GVariant *stats = mhdReadJobStats(job->vdom, VIR_DOMAIN_JOB_STATS_COMPLETED |
                                                      VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED);
    virConnectPtr dconn;
    virDomainPtr ddom;

    if (stats)
        return stats;
    if (!(dconn = virConnectOpen(job->args.dest_uri)))
        return NULL;
    if ((ddom = virDomainLookupByUUIDString(dconn, job->uuid))) {
        stats = mhdReadJobStats(ddom, VIR_DOMAIN_JOB_STATS_COMPLETED |
                                VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED);
        virDomainFree(ddom);
    }
    virConnectClose(dconn);
    return stats;
}

static gboolean
mhdJobUnregister(gpointer data)
{
    MhdJob *job = data;

    /* Calls reach objects on this (the main) thread only: once it is
     * unregistered here, nothing can use the job any more. */
    g_dbus_connection_unregister_object(job->mhd->bus, job->reg_id);
    if (job->stats)
        g_variant_unref(job->stats);
    g_free(job->args.dest_uri);
    g_free(job->args.migrate_uri);
    g_free(job->args.dest_xml);
    g_free(job->args.persist_xml);
    g_free(job->error);
    g_free(job->state);
    g_free(job->path);
    g_free(job->uuid);
    g_mutex_clear(&job->lock);
    g_free(job);
    return G_SOURCE_REMOVE;
}

static gboolean
mhdJobFinishedIdle(gpointer data)
{
    MhdJob *job = data;
    g_autoptr(GVariant) stats = NULL;
    static const char *const names[] = { "State", "Stats" };
    GVariant *values[2];

    g_thread_join(job->thread);
    job->thread = NULL;
    g_atomic_int_set(&job->stop_poll, 1);
    g_thread_join(job->poller);
    job->poller = NULL;
    if (job->ok && (stats = mhdJobCompletedStats(job)))
        mhdJobSetStats(job, g_variant_ref(stats));
    if (!stats)
        stats = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
    g_mutex_lock(&job->lock);
    job->finished = true;
    g_free(job->state);
    job->state = g_strdup(job->ok ? "completed" : "failed");
    g_mutex_unlock(&job->lock);
    values[0] = g_variant_new_string(job->state);
    values[1] = g_variant_ref(stats);
    mhdEmitPropertiesChanged(job->mhd, job->path, MHD_IFACE_JOB, names, values, 2);
    g_dbus_connection_emit_signal(job->mhd->bus, NULL, job->path, MHD_IFACE_JOB, "Finished",
                                  g_variant_new("(bs@a{sv})", job->ok,
                                                job->error ? job->error : "", stats),
                                  NULL);
    if (job->dom)
        mhdDomainJobEnded(job->dom);
    job->dom = NULL;
    g_clear_pointer(&job->vdom, virDomainFree);
    g_timeout_add_seconds(MHD_JOB_LINGER_S, mhdJobUnregister, job);
    return G_SOURCE_REMOVE;
}

static gpointer
mhdJobRun(gpointer data)
{
    MhdJob *job = data;
    virTypedParameterPtr p = NULL;
    int n = 0, max = 0, rc;

    if (job->args.migrate_uri)
        virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_URI, job->args.migrate_uri);
    if (job->args.dest_xml)
        virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, job->args.dest_xml);
    if (job->args.persist_xml)
        virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_PERSIST_XML,
                                job->args.persist_xml);
    if (job->args.bandwidth)
        virTypedParamsAddULLong(&p, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH, job->args.bandwidth);
    if (job->args.flags & VIR_MIGRATE_PEER2PEER) {
        rc = virDomainMigrateToURI3(job->vdom, job->args.dest_uri, p, n, job->args.flags);
    } else {
        /* Client-managed: this daemon is the client. */
        virConnectPtr dconn = virConnectOpen(job->args.dest_uri);
        virDomainPtr ddom = NULL;

        rc = -1;
        if (dconn && (ddom = virDomainMigrate3(job->vdom, dconn, p, n, job->args.flags))) {
            rc = 0;
            virDomainFree(ddom);
        }
        /* Every libvirt call resets the thread's error: keep it first. */
        if (rc < 0)
            job->error = g_strdup(virGetLastErrorMessage());
        if (dconn)
            virConnectClose(dconn);
    }
    job->ok = rc == 0;
    if (rc < 0 && !job->error)
        job->error = g_strdup(virGetLastErrorMessage());
    virTypedParamsFree(p, n);
    g_idle_add(mhdJobFinishedIdle, job);
    return NULL;
}

/* ---- the job object ---- */

static GVariant *
mhdJobPropDomain(gpointer object, GError **error)
{
    MhdJob *job = object;
    g_autofree char *path = g_strdup_printf("%s/_%s", MHD_DOMAIN_PATH, job->uuid);

    g_strdelimit(path + strlen(MHD_DOMAIN_PATH) + 1, "-", '_');
    return g_variant_new_object_path(path);
}

static GVariant *
mhdJobPropState(gpointer object, GError **error)
{
    MhdJob *job = object;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&job->lock);

    return g_variant_new_string(job->state);
}

static GVariant *
mhdJobPropStats(gpointer object, GError **error)
{
    MhdJob *job = object;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&job->lock);

    return job->stats ? g_variant_ref(job->stats) :
        g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

/* Calls on the running job; refused once it ended. */
static bool
mhdJobRunning(MhdJob *job, GDBusMethodInvocation *inv)
{
    if (job->finished || !job->vdom) {
        mhdReturnErrorLiteral(inv, MHD_ERROR_REFUSED, _("the migration has ended"));
        return false;
    }
    return mhdAuthorize(job->mhd, inv, MHD_BUS_NAME ".migrate");
}

static void
mhdJobLibvirtResult(GDBusMethodInvocation *inv, int rc, const char *what)
{
    g_autoptr(GError) err = NULL;

    if (rc == 0) {
        g_dbus_method_invocation_return_value(inv, NULL);
        return;
    }
    mhVirtSetError(&err, what);
    mhdReturnError(inv, err);
}

static void
mhdJobAbort(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    MhdJob *job = object;

    if (mhdJobRunning(job, inv))
        mhdJobLibvirtResult(inv, virDomainAbortJob(job->vdom), _("cannot abort the migration"));
}

static void
mhdJobSetMaxDowntime(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    MhdJob *job = object;
    guint64 ms;

    g_variant_get(params, "(t)", &ms);
    if (mhdJobRunning(job, inv))
        mhdJobLibvirtResult(inv, virDomainMigrateSetMaxDowntime(job->vdom, ms, 0),
                            _("cannot set the maximum downtime"));
}

static void
mhdJobSetMaxSpeed(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    MhdJob *job = object;
    guint64 mibps;

    g_variant_get(params, "(t)", &mibps);
    if (mhdJobRunning(job, inv))
        mhdJobLibvirtResult(inv, virDomainMigrateSetMaxSpeed(job->vdom, mibps, 0),
                            _("cannot set the maximum speed"));
}

static const MhdMethod mhdJobMethods[] = {
    { "Abort", mhdJobAbort },
    { "SetMaxDowntime", mhdJobSetMaxDowntime },
    { "SetMaxSpeed", mhdJobSetMaxSpeed },
    { NULL, NULL },
};

static const MhdProperty mhdJobProperties[] = {
    { "Domain", mhdJobPropDomain },
    { "State", mhdJobPropState },
    { "Stats", mhdJobPropStats },
    { NULL, NULL },
};

const char *
mhdJobPath(const MhdJob *job)
{
    return job->path;
}

MhdJob *
mhdJobStart(Mhd *mhd, MhdDomain *dom, virDomainPtr vdom, MhdMigrateArgs *args, GError **error)
{
    MhdJob *job = g_new0(MhdJob, 1);

    g_mutex_init(&job->lock);
    job->mhd = mhd;
    job->dom = dom;
    job->uuid = g_strdup(mhdDomainUUID(dom));
    job->path = g_strdup_printf("%s/%u", MHD_JOB_PATH, ++mhd->next_job);
    job->state = g_strdup("running");
    job->args = *args;
    memset(args, 0, sizeof(*args));
    virDomainRef(vdom);
    job->vdom = vdom;
    if (!(job->reg_id = mhdRegister(mhd, job->path, mhd->job_iface, mhdJobMethods,
                                    mhdJobProperties, job, error))) {
        virDomainFree(job->vdom);
        g_free(job->path);
        g_free(job->uuid);
        g_free(job->state);
        g_free(job);
        return NULL;
    }
    job->thread = g_thread_new("mhd-migrate", mhdJobRun, job);
    job->poller = g_thread_new("mhd-poll", mhdJobPoll, job);
    return job;
}
