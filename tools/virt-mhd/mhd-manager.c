/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager object: the host's domains with the helper, lookups, the
 * host's SEV platform. */
#include "mhd.h"

#include "conf/mh-conf.h"
#include "virt/mh-virt-conf.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdlib.h>
#include <string.h>

static void
mhdManagerListDomains(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    Mhd *mhd = object;
    g_autoptr(GError) err = NULL;
    virConnectPtr conn = mhdConnection(mhd, &err);
    virDomainPtr *doms = NULL;
    GVariantBuilder out;
    int n;

    if (!conn) {
        mhdReturnError(inv, err);
        return;
    }
    if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        mhVirtSetError(&err, _("cannot list the domains"));
        mhdReturnError(inv, err);
        return;
    }
    g_variant_builder_init(&out, G_VARIANT_TYPE("ao"));
    for (int i = 0; i < n; i++) {
        g_autoptr(MhConfHelper) helper = mhVirtGetHelper(doms[i], NULL);
        MhdDomain *dom;

        if (helper && (dom = mhdDomainGet(mhd, doms[i], NULL)))
            g_variant_builder_add(&out, "o", mhdDomainPath(dom));
        virDomainFree(doms[i]);
    }
    free(doms);
    g_dbus_method_invocation_return_value(inv, g_variant_new("(ao)", &out));
}

static void
mhdManagerLookup(Mhd *mhd, GDBusMethodInvocation *inv, virDomainPtr (*lookup)(virConnectPtr,
                                                                          const char *),
                 const char *key)
{
    g_autoptr(GError) err = NULL;
    virConnectPtr conn = mhdConnection(mhd, &err);
    g_autoptr(virDomain) vdom = NULL;
    MhdDomain *dom;

    if (!conn) {
        mhdReturnError(inv, err);
        return;
    }
    if (!(vdom = lookup(conn, key))) {
        g_autofree char *msg = g_strdup_printf(_("domain '%s' not found"), key);

        mhdReturnErrorLiteral(inv, MHD_ERROR_NOT_FOUND, msg);
        return;
    }
    if (!(dom = mhdDomainGet(mhd, vdom, &err))) {
        mhdReturnError(inv, err);
        return;
    }
    g_dbus_method_invocation_return_value(inv, g_variant_new("(o)", mhdDomainPath(dom)));
}

static void
mhdManagerLookupByName(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    const char *name;

    g_variant_get(params, "(&s)", &name);
    mhdManagerLookup(object, inv, virDomainLookupByName, name);
}

static void
mhdManagerLookupByUUID(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    const char *uuid;

    g_variant_get(params, "(&s)", &uuid);
    mhdManagerLookup(object, inv, virDomainLookupByUUIDString, uuid);
}

/* Whether the host's default emulator (the domain capabilities' <path>,
 * symlinks followed) is qemu-mh, the simulation, rather than a QEMU on
 * SEV hardware. */
static bool
mhdManagerEmulatorIsQemuMh(const char *caps)
{
    const char *a, *b;
    g_autofree char *path = NULL;
    g_autofree char *real = NULL;
    g_autofree char *base = NULL;

    if (!caps || !(a = strstr(caps, "<path>")) || !(b = strstr(a, "</path>")))
        return false;
    a += strlen("<path>");
    path = g_strndup(a, b - a);
    real = realpath(path, NULL);
    base = g_path_get_basename(real ? real : path);
    return strcmp(base, "qemu-mh") == 0;
}

static void
mhdManagerGetPlatform(gpointer object, GVariant *params, GDBusMethodInvocation *inv)
{
    Mhd *mhd = object;
    g_autoptr(GError) err = NULL;
    virConnectPtr conn = mhdConnection(mhd, &err);
    virTypedParameterPtr p = NULL;
    int np = 0;
    const char *pdh = NULL, *chain = NULL;
    g_autofree char *caps = NULL;

    if (!conn) {
        mhdReturnError(inv, err);
        return;
    }
    if (virNodeGetSEVInfo(conn, &p, &np, 0) < 0) {
        mhVirtSetError(&err, _("cannot read the host's SEV information"));
        mhdReturnError(inv, err);
        return;
    }
    virTypedParamsGetString(p, np, VIR_NODE_SEV_PDH, &pdh);
    virTypedParamsGetString(p, np, VIR_NODE_SEV_CERT_CHAIN, &chain);
    caps = virConnectGetDomainCapabilities(conn, NULL, NULL, NULL, NULL, 0);
    g_dbus_method_invocation_return_value(
        inv, g_variant_new("(sss)", pdh ? pdh : "", chain ? chain : "",
                           mhdManagerEmulatorIsQemuMh(caps) ? "qemu-mh" : "hardware"));
    virTypedParamsFree(p, np);
}

static GVariant *
mhdManagerVersion(gpointer object, GError **error)
{
    return g_variant_new_string(PACKAGE_VERSION);
}

static GVariant *
mhdManagerUri(gpointer object, GError **error)
{
    Mhd *mhd = object;

    return g_variant_new_string(mhd->uri ? mhd->uri : "");
}

static const MhdMethod mhdManagerMethods[] = {
    { "ListDomains", mhdManagerListDomains },
    { "LookupByName", mhdManagerLookupByName },
    { "LookupByUUID", mhdManagerLookupByUUID },
    { "GetPlatform", mhdManagerGetPlatform },
    { NULL, NULL },
};

static const MhdProperty mhdManagerProperties[] = {
    { "Version", mhdManagerVersion },
    { "LibvirtURI", mhdManagerUri },
    { NULL, NULL },
};

bool
mhdManagerRegister(Mhd *mhd, GError **error)
{
    return mhdRegister(mhd, MHD_PATH, mhd->manager_iface, mhdManagerMethods,
                       mhdManagerProperties, mhd, error) != 0;
}

void
mhdManagerHelperChanged(Mhd *mhd, MhdDomain *dom, bool enabled)
{
    g_dbus_connection_emit_signal(mhd->bus, NULL, MHD_PATH, MHD_IFACE_MANAGER, "HelperChanged",
                                  g_variant_new("(ob)", mhdDomainPath(dom), enabled), NULL);
}
