/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mhd: the mirror helper on D-Bus (docs/dbus.md).
 *   virt-mhd [-c URI] [--system | --session | --address ADDR] */
#include "mhd.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <glib-unix.h>
#include <stdio.h>

static GDBusInterfaceInfo *
mhdLoadInterface(const char *iface, GError **error)
{
    g_autofree char *path = g_strdup_printf("/org/mirrorhelper/virt-mhd/%s.xml", iface);
    g_autoptr(GBytes) xml = g_resources_lookup_data(path, 0, error);
    g_autoptr(GDBusNodeInfo) node = NULL;
    GDBusInterfaceInfo *info;

    if (!xml || !(node = g_dbus_node_info_new_for_xml(g_bytes_get_data(xml, NULL), error)))
        return NULL;
    if (!(info = g_dbus_node_info_lookup_interface(node, iface))) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("%s: no interface %s"), path, iface);
        return NULL;
    }
    return g_dbus_interface_info_ref(info);
}

static void
mhdNameLost(GDBusConnection *bus, const char *name, gpointer loop)
{
    fprintf(stderr, _("virt-mhd: lost or could not own the bus name %s\n"), name);
    g_main_loop_quit(loop);
}

static gboolean
mhdQuit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    g_autofree char *uri = NULL, *address = NULL;
    gboolean system_bus = FALSE, session_bus = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, N_("libvirt URI (default qemu:///system)"),
          N_("URI") },
        { "system", 0, 0, G_OPTION_ARG_NONE, &system_bus, N_("the system bus (default)"), NULL },
        { "session", 0, 0, G_OPTION_ARG_NONE, &session_bus, N_("the session bus"), NULL },
        { "address", 0, 0, G_OPTION_ARG_STRING, &address, N_("the bus at this address"),
          N_("ADDR") },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, N_("print the version and exit"),
          NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    Mhd mhd = { 0 };
    guint owner;

    mhI18nInit();
    g_option_context_set_summary(ctx, _("The mirror helper of this host's libvirt domains on "
                                        "D-Bus (org.mirrorhelper.MirrorHelper1)."));
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) ||
        (system_bus + session_bus + (address != NULL)) > 1) {
        fprintf(stderr, "virt-mhd: %s\n",
                err ? err->message : _("give one of --system, --session, --address"));
        return 1;
    }
    if (version) {
        printf("virt-mhd (mirror-helper) %s\n", PACKAGE_VERSION);
        return 0;
    }
    mhdEventsInit();
    mhd.uri = g_strdup(uri ? uri : "qemu:///system");
    mhd.domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify)mhdDomainFree);
    if (address)
        mhd.bus = g_dbus_connection_new_for_address_sync(
            address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    else
        mhd.bus = g_bus_get_sync(session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL,
                                 &err);
    mhd.use_polkit = !address && !session_bus;
    if (!mhd.bus || !(mhd.manager_iface = mhdLoadInterface(MHD_IFACE_MANAGER, &err)) ||
        !(mhd.domain_iface = mhdLoadInterface(MHD_IFACE_DOMAIN, &err)) ||
        !(mhd.job_iface = mhdLoadInterface(MHD_IFACE_JOB, &err)) ||
        !mhdConnection(&mhd, &err) || !mhdManagerRegister(&mhd, &err)) {
        fprintf(stderr, "virt-mhd: %s\n", err->message);
        return 1;
    }
    owner = g_bus_own_name_on_connection(mhd.bus, MHD_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                         NULL, mhdNameLost, loop, NULL);
    g_unix_signal_add(SIGTERM, mhdQuit, loop);
    g_unix_signal_add(SIGINT, mhdQuit, loop);
    g_main_loop_run(loop);
    g_bus_unown_name(owner);
    g_hash_table_destroy(mhd.domains);
    if (mhd.conn)
        virConnectClose(mhd.conn);
    g_object_unref(mhd.bus);
    g_free(mhd.uri);
    return 0;
}
