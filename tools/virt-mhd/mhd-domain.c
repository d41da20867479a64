/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One object per domain: its helper setting and live state as
 * properties, and the methods that change them, attest its launch or
 * migrate it. Objects hold the UUID only and look the domain up on each
 * call, so they survive libvirtd restarting and the domain moving. */
#include "mhd.h"

#include "mh-start.h"

#include "broker/mh-broker-host.h"
#include "conf/mh-conf.h"
#include "owner/mh-owner-launch.h"
#include "virt/mh-virt-conf.h"
#include "virt/mh-virt-launch.h"
#include "virt/mh-virt-migrate.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <string.h>

static const MhdMethod mhdDomainMethods[];
static const MhdProperty mhdDomainProperties[];

void
mhdDomainFree(MhdDomain *dom)
{
    if (!dom)
        return;
    if (dom->reg_id)
        g_dbus_connection_unregister_object(dom->mhd->bus, dom->reg_id);
    mhdDomainClearState(dom);
    g_free(dom->uuid);
    g_free(dom->path);
    g_free(dom);
}

MhdDomain *
mhdDomainGet(Mhd *mhd, virDomainPtr vdom, GError **error)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    MhdDomain *dom;

    if (virDomainGetUUIDString(vdom, uuid) < 0) {
        mhVirtSetError(error, _("cannot read the domain's UUID"));
        return NULL;
    }
    if ((dom = g_hash_table_lookup(mhd->domains, uuid)))
        return dom;
    dom = g_new0(MhdDomain, 1);
    dom->mhd = mhd;
    dom->enabled = -1;
    dom->uuid = g_strdup(uuid);
    dom->path = g_strdup_printf("%s/_%s", MHD_DOMAIN_PATH, uuid);
    g_strdelimit(dom->path + strlen(MHD_DOMAIN_PATH) + 1, "-", '_');
    if (!(dom->reg_id = mhdRegister(mhd, dom->path, mhd->domain_iface, mhdDomainMethods,
                                    mhdDomainProperties, dom, error))) {
        mhdDomainFree(dom);
        return NULL;
    }
    g_hash_table_insert(mhd->domains, dom->uuid, dom);
    return dom;
}

const char *
mhdDomainPath(const MhdDomain *dom)
{
    return dom->path;
}

const char *
mhdDomainUUID(const MhdDomain *dom)
{
    return dom->uuid;
}

virDomainPtr
mhdDomainLookup(MhdDomain *dom, GError **error)
{
    virConnectPtr conn = mhdConnection(dom->mhd, error);
    virDomainPtr vdom;

    if (!conn)
        return NULL;
    if (!(vdom = virDomainLookupByUUIDString(conn, dom->uuid)))
        g_set_error(error, MHD_ERROR, MHD_ERROR_NOT_FOUND,
                    _("domain %s is not on this host any more"), dom->uuid);
    return vdom;
}

/* ---- properties ---- */

static MhConfHelper *
mhdDomainHelper(MhdDomain *dom, GError **error)
{
    g_autoptr(virDomain) vdom = mhdDomainLookup(dom, error);

    return vdom ? mhVirtGetHelper(vdom, error) : NULL;
}

/* Property getters share one shape: the helper (or its absence) in, a
 * value out. */
#define MHD_HELPER_PROPERTY(fn, expr, none)                          \
    static GVariant *fn(gpointer object, GError **error)             \
    {                                                                \
        g_autoptr(GError) err = NULL;                                \
        g_autoptr(MhConfHelper) h = mhdDomainHelper(object, &err);   \
        if (err) {                                                   \
            g_propagate_error(error, g_steal_pointer(&err));         \
            return NULL;                                             \
        }                                                            \
        return h ? (expr) : (none);                                  \
    }

MHD_HELPER_PROPERTY(mhdPropEnabled, g_variant_new_boolean(TRUE), g_variant_new_boolean(FALSE))
MHD_HELPER_PROPERTY(mhdPropMode, g_variant_new_string(mhConfModeTypeToString(h->mode)),
                    g_variant_new_string(""))
MHD_HELPER_PROPERTY(mhdPropVcpus, g_variant_new_uint32(h->vcpus), g_variant_new_uint32(0))
MHD_HELPER_PROPERTY(mhdPropLifetime,
                    g_variant_new_string(mhConfLifetimeTypeToString(h->lifetime)),
                    g_variant_new_string(""))
MHD_HELPER_PROPERTY(mhdPropCipher, g_variant_new_string(mhConfCipherTypeToString(h->cipher)),
                    g_variant_new_string(""))
MHD_HELPER_PROPERTY(mhdPropKeyBroker,
                    g_variant_new_string(h->key_broker ? h->key_broker : ""),
                    g_variant_new_string(""))

static GVariant *
mhdPropName(gpointer object, GError **error)
{
    g_autoptr(virDomain) vdom = mhdDomainLookup(object, error);

    return vdom ? g_variant_new_string(virDomainGetName(vdom)) : NULL;
}

static GVariant *
mhdPropUUID(gpointer object, GError **error)
{
    return g_variant_new_string(((MhdDomain *)object)->uuid);
}

static GVariant *
mhdPropJob(gpointer object, GError **error)
{
    MhdDomain *dom = object;

    return g_variant_new_object_path(dom->job ? mhdJobPath(dom->job) : "/");
}

static const MhdProperty mhdDomainProperties[] = {
    { "Name", mhdPropName },
    { "UUID", mhdPropUUID },
    { "Enabled", mhdPropEnabled },
    { "Mode", mhdPropMode },
    { "Vcpus", mhdPropVcpus },
    { "Lifetime", mhdPropLifetime },
    { "Cipher", mhdPropCipher },
    { "KeyBroker", mhdPropKeyBroker },
    { "HandlerRunning", mhdPropHandlerRunning },
    { "KeyId", mhdPropKeyId },
    { "HandlerVcpus", mhdPropHandlerVcpus },
    { "LastMigration", mhdPropLastMigration },
    { "Job", mhdPropJob },
    { NULL, NULL },
};

static void
mhdDomainSettingsChanged(MhdDomain *dom)
{
    static const char *const names[] = { "Enabled", "Mode", "Vcpus", "Lifetime", "Cipher",
                                         "KeyBroker" };
    GVariant *values[G_N_ELEMENTS(names)];

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        values[i] = NULL;
        for (const MhdProperty *p = mhdDomainProperties; p->name; p++) {
            if (strcmp(p->name, names[i]) == 0)
                values[i] = p->func(dom, NULL);
        }
    }
    mhdEmitPropertiesChanged(dom->mhd, dom->path, MHD_IFACE_DOMAIN, names, values,
                             G_N_ELEMENTS(names));
}

void
mhdDomainJobEnded(MhdDomain *dom)
{
    static const char *const names[] = { "Job" };
    GVariant *values[] = { g_variant_new_object_path("/") };

    dom->job = NULL;
    mhdEmitPropertiesChanged(dom->mhd, dom->path, MHD_IFACE_DOMAIN, names, values, 1);
    mhdDomainRefreshState(dom);
}

/* ---- methods ---- */

typedef struct {
    const char *key;
    const char *type;           /* GVariant type string */
} MhdOption;

/* Every key of 'dict' must be one of 'known', with its type. */
static bool
mhdCheckOptions(GVariant *dict, const MhdOption *known, GError **error)
{
    GVariantIter iter;
    const char *key;
    GVariant *value;

    g_variant_iter_init(&iter, dict);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        const MhdOption *o = known;

        while (o->key && strcmp(o->key, key) != 0)
            o++;
        if (!o->key) {
            g_set_error(error, MHD_ERROR, MHD_ERROR_INVALID_ARGS, _("unknown option '%s'"), key);
            g_variant_unref(value);
            return false;
        }
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE(o->type))) {
            g_set_error(error, MHD_ERROR, MHD_ERROR_INVALID_ARGS,
                        _("option '%s' must be of type '%s', not '%s'"), key, o->type,
                        g_variant_get_type_string(value));
            g_variant_unref(value);
            return false;
        }
    }
    return true;
}

/* Look the domain up and check the caller's right; on failure the
 * invocation has been answered. */
static virDomainPtr
mhdDomainBegin(MhdDomain *dom, GDBusMethodInvocation *inv, const char *action)
{
    g_autoptr(GError) err = NULL;
    virDomainPtr vdom;

    if (action && !mhdAuthorize(dom->mhd, inv, action))
        return NULL;
    if (!(vdom = mhdDomainLookup(dom, &err)))
        mhdReturnError(inv, err);
    return vdom;
}

#define MHD_ACTION_MANAGE MHD_BUS_NAME ".manage"
#define MHD_ACTION_MIGRATE MHD_BUS_NAME ".migrate"
#define MHD_ACTION_SECRET MHD_BUS_NAME ".inject-secret"

static bool
mhdApplyEnum(GVariant *opts, const char *key, int (*from)(const char *), int *out,
             GError **error)
{
    const char *v;

    if (!g_variant_lookup(opts, key, "&s", &v))
        return true;
    if ((*out = from(v)) < 0) {
        g_set_error(error, MHD_ERROR, MHD_ERROR_INVALID_ARGS, _("option '%s': invalid value '%s'"),
                    key, v);
        return false;
    }
    return true;
}

static bool
mhdDomainApply(MhdDomain *dom, virDomainPtr vdom, const MhConfHelper *helper, GError **error)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);

    if (!mhVirtApplyHelper(vdom, helper, problems, error)) {
        if (problems->len)
            mhConfProblemsToError(problems, error);
        return false;
    }
    mhdDomainSettingsChanged(dom);
    mhdManagerHelperChanged(dom->mhd, dom, helper != NULL);
    dom->enabled = helper != NULL;
    return true;
}

void
mhdDomainRefresh(MhdDomain *dom)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhConfHelper) helper = mhdDomainHelper(dom, &err);
    int enabled = helper != NULL;

    /* A domain gone or unreadable is not news. */
    if (err)
        return;
    mhdDomainSettingsChanged(dom);
    if (enabled != dom->enabled)
        mhdManagerHelperChanged(dom->mhd, dom, enabled);
    dom->enabled = enabled;
}

static void
mhdDomainEnable(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    static const MhdOption known[] = {
        { "mode", "s" }, { "vcpus", "u" }, { "lifetime", "s" }, { "cipher", "s" },
        { "key_broker", "s" }, { NULL, NULL },
    };
    MhdDomain *dom = object;
    g_autoptr(virDomain) vdom = NULL;
    g_autoptr(GVariant) opts = NULL;
    g_autoptr(MhConfHelper) helper = NULL;
    g_autoptr(GError) err = NULL;
    int mode, lifetime, cipher;
    const char *broker;

    g_variant_get(params, "(@a{sv})", &opts);
    if (!mhdCheckOptions(opts, known, &err) ||
        !(vdom = mhdDomainBegin(dom, inv, MHD_ACTION_MANAGE))) {
        if (err)
            mhdReturnError(inv, err);
        return;
    }
    if (!(helper = mhVirtGetHelper(vdom, NULL)))
        helper = mhConfHelperNew();
    mode = helper->mode;
    lifetime = helper->lifetime;
    cipher = helper->cipher;
    if (!mhdApplyEnum(opts, "mode", mhConfModeTypeFromString, &mode, &err) ||
        !mhdApplyEnum(opts, "lifetime", mhConfLifetimeTypeFromString, &lifetime, &err) ||
        !mhdApplyEnum(opts, "cipher", mhConfCipherTypeFromString, &cipher, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    helper->mode = mode;
    helper->lifetime = lifetime;
    helper->cipher = cipher;
    g_variant_lookup(opts, "vcpus", "u", &helper->vcpus);
    if (g_variant_lookup(opts, "key_broker", "&s", &broker)) {
        g_free(helper->key_broker);
        helper->key_broker = *broker ? g_strdup(broker) : NULL;
    }
    if (!mhdDomainApply(dom, vdom, helper, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static void
mhdDomainDisable(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    MhdDomain *dom = object;
    g_autoptr(virDomain) vdom = mhdDomainBegin(dom, inv, MHD_ACTION_MANAGE);
    g_autoptr(GError) err = NULL;

    if (!vdom)
        return;
    if (!mhdDomainApply(dom, vdom, NULL, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static void
mhdDomainArm(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    g_autoptr(virDomain) vdom = mhdDomainBegin(object, inv, MHD_ACTION_MIGRATE);
    g_autoptr(GError) err = NULL;

    if (!vdom)
        return;
    if (!mhMigrateArmHelper(vdom, NULL, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

/* A launch call's arguments, for its thread: libvirt may hold a launch
 * query back while a job runs, and Start waits on the broker. */
typedef struct {
    virDomainPtr vdom;
    char *cacert;
    char *run_dir;
    guint timeout_s;
    char *header;
    char *secret;
    bool has_gpa;
    guint64 gpa;
} MhdLaunchCall;

static void
mhdLaunchCallFree(gpointer data)
{
    MhdLaunchCall *call = data;

    virDomainFree(call->vdom);
    g_free(call->cacert);
    g_free(call->run_dir);
    g_free(call->header);
    if (call->secret)
        mhUtilWipe(call->secret, strlen(call->secret));
    g_free(call->secret);
    g_free(call);
}

static void
mhdDomainStartThread(GDBusMethodInvocation *inv, gpointer data)
{
    MhdLaunchCall *call = data;
    g_autoptr(GError) err = NULL;
    MhOwnerLaunchReport report;

    if (!mhStartDomain(virDomainGetConnect(call->vdom), call->vdom, call->cacert,
                       call->run_dir, call->timeout_s, &report, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static void
mhdDomainInjectThread(GDBusMethodInvocation *inv, gpointer data)
{
    MhdLaunchCall *call = data;
    g_autoptr(GError) err = NULL;

    if (!mhVirtLaunchOps.inject(call->vdom, call->header, call->secret,
                                call->has_gpa ? &call->gpa : NULL, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static void
mhdDomainStart(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    static const MhdOption known[] = { { "cacert", "s" }, { NULL, NULL } };
    MhdDomain *dom = object;
    g_autoptr(GVariant) opts = NULL;
    g_autoptr(virDomain) vdom = NULL;
    g_autoptr(GError) err = NULL;
    const char *cacert = NULL;
    g_autoptr(MhBrokerHostConf) host = NULL;
    MhdLaunchCall *call;

    g_variant_get(params, "(@a{sv})", &opts);
    if (!mhdCheckOptions(opts, known, &err) ||
        !(vdom = mhdDomainBegin(dom, inv, MHD_ACTION_MANAGE))) {
        if (err)
            mhdReturnError(inv, err);
        return;
    }
    g_variant_lookup(opts, "cacert", "&s", &cacert);
    /* As "virt-mh start": the host's CA for the broker unless given, and
     * its run_dir for the owner monitor (virt-mhd runs on the host). */
    if (!(host = mhBrokerHostConfLoad(&err))) {
        mhdReturnError(inv, err);
        return;
    }
    if (!cacert)
        cacert = host->cacert;
    call = g_new0(MhdLaunchCall, 1);
    call->vdom = g_steal_pointer(&vdom);
    call->cacert = g_strdup(cacert);
    call->run_dir = g_strdup(host->run_dir);
    call->timeout_s = host->timeout_s;
    mhdRunInThread(inv, mhdDomainStartThread, call, mhdLaunchCallFree);
}

static void
mhdDomainMeasurementThread(GDBusMethodInvocation *inv, gpointer data)
{
    MhdLaunchCall *call = data;
    g_autoptr(GError) err = NULL;
    g_autofree char *meas = NULL;
    MhOwnerLaunchReport report;

    if (!mhVirtLaunchOps.report(call->vdom, &report, &err)) {
        mhdReturnError(inv, err);
        return;
    }
    meas = g_base64_encode(report.measurement, sizeof(report.measurement));
    g_dbus_method_invocation_return_value(inv, g_variant_new("(suyyy)", meas, report.policy,
                                                             report.build.api_major,
                                                             report.build.api_minor,
                                                             report.build.build_id));
}

static void
mhdDomainGetLaunchMeasurement(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    virDomainPtr vdom = mhdDomainBegin(object, inv, NULL);
    MhdLaunchCall *call;

    if (!vdom)
        return;
    call = g_new0(MhdLaunchCall, 1);
    call->vdom = vdom;
    mhdRunInThread(inv, mhdDomainMeasurementThread, call, mhdLaunchCallFree);
}

static void
mhdDomainInjectLaunchSecret(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    static const MhdOption known[] = { { "gpa", "t" }, { NULL, NULL } };
    g_autoptr(GVariant) opts = NULL;
    g_autoptr(virDomain) vdom = NULL;
    g_autoptr(GError) err = NULL;
    const char *header, *secret;
    MhdLaunchCall *call;

    g_variant_get(params, "(&s&s@a{sv})", &header, &secret, &opts);
    if (!mhdCheckOptions(opts, known, &err) ||
        !(vdom = mhdDomainBegin(object, inv, MHD_ACTION_SECRET))) {
        if (err)
            mhdReturnError(inv, err);
        return;
    }
    call = g_new0(MhdLaunchCall, 1);
    call->has_gpa = g_variant_lookup(opts, "gpa", "t", &call->gpa);
    call->vdom = g_steal_pointer(&vdom);
    call->header = g_strdup(header);
    call->secret = g_strdup(secret);
    mhdRunInThread(inv, mhdDomainInjectThread, call, mhdLaunchCallFree);
}

static void
mhdMigrateArgsClear(MhdMigrateArgs *a)
{
    g_free(a->dest_uri);
    g_free(a->migrate_uri);
    g_free(a->dest_xml);
    g_free(a->persist_xml);
}

static void
mhdDomainMigrate(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    static const MhdOption known[] = {
        { "migrate_uri", "s" }, { "bandwidth", "t" }, { "destination_xml", "s" },
        { "persistent_xml", "s" }, { "sev_helper", "b" }, { NULL, NULL },
    };
    MhdDomain *dom = object;
    g_autoptr(GVariant) opts = NULL;
    g_autoptr(virDomain) vdom = NULL;
    g_autoptr(GError) err = NULL;
    MhdMigrateArgs args = { 0 };
    const char *dest;
    gboolean arm = FALSE;
    MhdJob *job;

    g_variant_get(params, "(&s@a{sv}u)", &dest, &opts, &args.flags);
    if (!mhdCheckOptions(opts, known, &err) ||
        !(vdom = mhdDomainBegin(dom, inv, MHD_ACTION_MIGRATE))) {
        if (err)
            mhdReturnError(inv, err);
        return;
    }
    if (dom->job) {
        g_autofree char *msg = g_strdup_printf(_("domain %s is already migrating (job %s)"),
                                               dom->uuid, mhdJobPath(dom->job));

        mhdReturnErrorLiteral(inv, MHD_ERROR_REFUSED, msg);
        return;
    }
    if (!*dest) {
        mhdReturnErrorLiteral(inv, MHD_ERROR_INVALID_ARGS, _("the destination URI is empty"));
        return;
    }
    args.dest_uri = g_strdup(dest);
    g_variant_lookup(opts, "migrate_uri", "s", &args.migrate_uri);
    g_variant_lookup(opts, "destination_xml", "s", &args.dest_xml);
    g_variant_lookup(opts, "persistent_xml", "s", &args.persist_xml);
    g_variant_lookup(opts, "bandwidth", "t", &args.bandwidth);
    g_variant_lookup(opts, "sev_helper", "b", &arm);
    if ((arm && !mhMigrateArmHelper(vdom, NULL, &err)) ||
        !(job = mhdJobStart(dom->mhd, dom, vdom, &args, &err))) {
        mhdMigrateArgsClear(&args);
        mhdReturnError(inv, err);
        return;
    }
    dom->job = job;
    g_dbus_method_invocation_return_value(inv, g_variant_new("(o)", mhdJobPath(job)));
    {
        static const char *const names[] = { "Job" };
        GVariant *values[] = { g_variant_new_object_path(mhdJobPath(job)) };

        mhdEmitPropertiesChanged(dom->mhd, dom->path, MHD_IFACE_DOMAIN, names, values, 1);
    }
}

static const MhdMethod mhdDomainMethods[] = {
    { "Enable", mhdDomainEnable },
    { "Disable", mhdDomainDisable },
    { "Arm", mhdDomainArm },
    { "Start", mhdDomainStart },
    { "GetLaunchMeasurement", mhdDomainGetLaunchMeasurement },
    { "InjectLaunchSecret", mhdDomainInjectLaunchSecret },
    { "Migrate", mhdDomainMigrate },
    { NULL, NULL },
};
