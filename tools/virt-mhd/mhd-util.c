/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mhd's plumbing: named errors, table dispatch, polkit, libvirt. */
#include "mhd.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <libvirt/virterror.h>

static const GDBusErrorEntry mhdErrorEntries[] = {
    { MHD_ERROR_NOT_FOUND, MHD_BUS_NAME ".Error.NotFound" },
    { MHD_ERROR_INVALID_ARGS, MHD_BUS_NAME ".Error.InvalidArgs" },
    { MHD_ERROR_REFUSED, MHD_BUS_NAME ".Error.Refused" },
    { MHD_ERROR_FAILED, MHD_BUS_NAME ".Error.Failed" },
};

GQuark
mhdErrorQuark(void)
{
    static gsize quark = 0;

    g_dbus_error_register_error_domain("mhd-error-quark", &quark, mhdErrorEntries,
                                       G_N_ELEMENTS(mhdErrorEntries));
    return (GQuark)quark;
}

void
mhdReturnErrorLiteral(GDBusMethodInvocation *inv, MhdError code, const char *message)
{
    g_dbus_method_invocation_return_error_literal(inv, MHD_ERROR, code, message);
}

void
mhdReturnError(GDBusMethodInvocation *inv, const GError *error)
{
    MhdError code = MHD_ERROR_FAILED;

    if (error->domain == MHD_ERROR) {
        code = error->code;
    } else if (error->domain == MH_ERROR) {
        switch ((MhErrorCode)error->code) {
        case MH_ERROR_INVALID:
            code = MHD_ERROR_INVALID_ARGS;
            break;
        case MH_ERROR_AUTH:
        case MH_ERROR_STATE:
        case MH_ERROR_UNSUPPORTED:
            code = MHD_ERROR_REFUSED;
            break;
        default:
            code = MHD_ERROR_FAILED;
        }
    }
    mhdReturnErrorLiteral(inv, code, error->message);
}

virConnectPtr
mhdConnection(Mhd *mhd, GError **error)
{
    unsigned long version;

    if (mhd->conn && virConnectGetLibVersion(mhd->conn, &version) == 0)
        return mhd->conn;
    /* libvirtd restarted (or never answered): open it again; the objects
     * stay, they look their domains up by UUID on every call. */
    if (mhd->conn) {
        virConnectClose(mhd->conn);
        mhd->conn = NULL;
    }
    if ((mhd->conn = mhVirtConnect(mhd->uri, error)))
        mhdEventsRegister(mhd, mhd->conn);
    return mhd->conn;
}

bool
mhdAuthorize(Mhd *mhd, GDBusMethodInvocation *inv, const char *action)
{
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GError) err = NULL;
    GVariantBuilder details;
    gboolean authorized = FALSE, challenge = FALSE;
    g_autofree char *msg = NULL;

    if (!mhd->use_polkit)
        return true;
    g_variant_builder_init(&details, G_VARIANT_TYPE("a{ss}"));
    reply = g_dbus_connection_call_sync(
        mhd->bus, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
        "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
        g_variant_new("((s@a{sv})sa{ss}us)", "system-bus-name",
                      g_variant_new_parsed("{'name': <%s>}",
                                           g_dbus_method_invocation_get_sender(inv)),
                      action, &details, 0 /* no interaction: a daemon has no agent */, ""),
        G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &err);
    if (reply)
        g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
    if (authorized)
        return true;
    msg = g_strdup_printf(_("not authorized for %s%s%s"), action, err ? ": " : "",
                          err ? err->message : "");
    mhdReturnErrorLiteral(inv, MHD_ERROR_REFUSED, msg);
    return false;
}

/* ---- work off the main loop ---- */

typedef struct {
    GDBusMethodInvocation *inv;
    MhdThreadFunc func;
    gpointer data;
    GDestroyNotify free_data;
} MhdThreadCall;

static void
mhdThreadCallFree(gpointer p)
{
    MhdThreadCall *call = p;

    if (call->free_data)
        call->free_data(call->data);
    g_free(call);
}

static void
mhdThreadCallRun(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    MhdThreadCall *call = data;

    call->func(call->inv, call->data);
    g_task_return_boolean(task, TRUE);
}

void
mhdRunInThread(GDBusMethodInvocation *inv, MhdThreadFunc func, gpointer data,
               GDestroyNotify free_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, NULL, NULL);
    MhdThreadCall *call = g_new0(MhdThreadCall, 1);

    *call = (MhdThreadCall){ inv, func, data, free_data };
    g_task_set_task_data(task, call, mhdThreadCallFree);
    g_task_run_in_thread(task, mhdThreadCallRun);
}

/* ---- table dispatch ---- */

typedef struct {
    const MhdMethod *methods;
    const MhdProperty *properties;
    gpointer object;
} MhdVtableData;

static void
mhdMethodCall(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
              const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
    MhdVtableData *d = data;

    for (const MhdMethod *m = d->methods; m && m->name; m++) {
        if (strcmp(m->name, method) == 0) {
            m->func(d->object, params, inv);
            return;
        }
    }
    g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                          _("unknown method %s"), method);
}

static GVariant *
mhdGetProperty(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
               const char *name, GError **error, gpointer data)
{
    MhdVtableData *d = data;

    for (const MhdProperty *p = d->properties; p && p->name; p++) {
        if (strcmp(p->name, name) == 0)
            return p->func(d->object, error);
    }
    g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, _("unknown property %s"),
                name);
    return NULL;
}

static const GDBusInterfaceVTable mhdVtable = { mhdMethodCall, mhdGetProperty, NULL, { 0 } };

guint
mhdRegister(Mhd *mhd, const char *path, GDBusInterfaceInfo *iface, const MhdMethod *methods,
            const MhdProperty *properties, gpointer object, GError **error)
{
    MhdVtableData *d = g_new0(MhdVtableData, 1);

    *d = (MhdVtableData){ methods, properties, object };
    return g_dbus_connection_register_object(mhd->bus, path, iface, &mhdVtable, d, g_free,
                                             error);
}

void
mhdEmitPropertiesChanged(Mhd *mhd, const char *path, const char *iface,
                         const char *const *names, GVariant *const *values, guint n)
{
    GVariantBuilder changed;

    g_variant_builder_init(&changed, G_VARIANT_TYPE("a{sv}"));
    for (guint i = 0; i < n; i++) {
        if (values[i])
            g_variant_builder_add(&changed, "{sv}", names[i], values[i]);
    }
    g_dbus_connection_emit_signal(mhd->bus, NULL, path, "org.freedesktop.DBus.Properties",
                                  "PropertiesChanged",
                                  g_variant_new("(sa{sv}as)", iface, &changed, NULL), NULL);
}
