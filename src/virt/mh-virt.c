/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connections, lookup and errors; see mh-virt.h. */
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <libvirt/virterror.h>

void
mhVirtSetError(GError **error, const char *context)
{
    const char *msg = virGetLastErrorMessage();

    g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT, "%s: %s", context,
                msg ? msg : _("unknown libvirt error"));
}

static void
mhVirtQuietLibvirt(void *opaque, virErrorPtr err)
{
    /* Errors reach the user once, through GError, not through libvirt's
     * default handler as well. */
}

virConnectPtr
mhVirtConnect(const char *uri, GError **error)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, mhVirtQuietLibvirt);
    conn = virConnectOpen(uri);
    if (!conn) {
        g_autofree char *ctx = g_strdup_printf(_("failed to connect to '%s'"),
                                               uri ? uri : _("the default hypervisor"));
        mhVirtSetError(error, ctx);
    }
    return conn;
}

virDomainPtr
mhVirtLookupDomain(virConnectPtr conn, const char *what, GError **error)
{
    virDomainPtr dom;
    guint64 id;

    if (g_ascii_string_to_unsigned(what, 10, 0, G_MAXINT, &id, NULL))
        dom = virDomainLookupByID(conn, (int)id);
    else if (g_uuid_string_is_valid(what))
        dom = virDomainLookupByUUIDString(conn, what);
    else
        dom = virDomainLookupByName(conn, what);
    if (!dom) {
        g_autofree char *ctx = g_strdup_printf(_("domain '%s' not found"), what);
        mhVirtSetError(error, ctx);
    }
    return dom;
}
