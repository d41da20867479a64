/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh migrate: a virsh-like live migration with a progress bar, and
 * --sev-helper, which checks the domain's mirror helper and arms it
 * (mode='on-request') before libvirt migrates the domain. */
#include "mh-cmd.h"
#include "virt/mh-virt-migrate.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <stdio.h>
#include <string.h>

int
mhCmdMigrate(MhCmdGlobal *global, int argc, char **argv)
{
    gboolean sev_helper = FALSE, p2p = FALSE, live = FALSE, verbose = FALSE;
    gboolean persistent = FALSE, undefine_source = FALSE;
    g_autofree char *migrate_uri = NULL;
    g_autofree char *xml_path = NULL;
    g_autofree char *xml = NULL;
    gint timeout = 0;
    GOptionEntry entries[] = {
        { "sev-helper", 0, 0, G_OPTION_ARG_NONE, &sev_helper,
          N_("migrate an SEV domain through its mirror helper (arms mode='on-request')"),
          NULL },
        { "p2p", 0, 0, G_OPTION_ARG_NONE, &p2p,
          N_("peer-to-peer: the source libvirtd drives the migration"), NULL },
        { "live", 0, 0, G_OPTION_ARG_NONE, &live,
          N_("live migration (the guest keeps running)"), NULL },
        { "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose,
          N_("show a progress bar and the figures"), NULL },
        { "migrate-uri", 0, 0, G_OPTION_ARG_STRING, &migrate_uri,
          N_("migration data URI, e.g. tcp://HOST:PORT"), N_("URI") },
        { "xml", 0, 0, G_OPTION_ARG_FILENAME, &xml_path,
          N_("domain XML for the destination"), N_("FILE") },
        { "persistent", 0, 0, G_OPTION_ARG_NONE, &persistent,
          N_("define the domain persistently on the destination"), NULL },
        { "undefine-source", 0, 0, G_OPTION_ARG_NONE, &undefine_source,
          N_("undefine the domain on the source"), NULL },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
          N_("abort the migration after S seconds"), N_("S") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virConnect) dconn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomain) ddom = NULL;
    MhMigrateOptions opts = { NULL };
    MhMigrateStats stats;
    const char *mode = NULL;
    bool armed = false;

    if (!mhCmdParseOptions(global, "migrate", N_("DOMAIN DEST-URI"),
                           N_("Live-migrate a domain, through its mirror helper with "
                              "--sev-helper."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (argc != 3) {
        mhCmdErrorf(_("migrate: expected DOMAIN and DEST-URI"));
        return MH_EXIT_FAIL;
    }
    if (timeout < 0) {
        mhCmdErrorf(_("migrate: --timeout %d must not be negative"), timeout);
        return MH_EXIT_FAIL;
    }
    if (xml_path) {
        size_t len;
        if (!mhUtilReadFile(xml_path, &xml, &len, &error))
            goto fail;
        xml = g_realloc(xml, len + 1);
        xml[len] = '\0';
    }
    if (!(conn = mhVirtConnect(global->connect_uri, &error)))
        goto fail;
    if (!(dom = mhVirtLookupDomain(conn, argv[1], &error)))
        goto fail;
    if (!p2p) {
        /* Client-managed: this process talks to both daemons. */
        if (!(dconn = virConnectOpen(argv[2]))) {
            g_autofree char *ctx = g_strdup_printf(_("failed to connect to the destination "
                                                     "'%s'"), argv[2]);
            mhVirtSetError(&error, ctx);
            goto fail;
        }
    } else if (verbose) {
        /* Only for the figures: libvirt keeps the completed job's
         * statistics on the destination. The source daemon may reach the
         * destination when this client cannot; that is not an error. */
        dconn = virConnectOpen(argv[2]);
    }
    if (sev_helper) {
        if (!mhMigrateArmHelper(dom, &mode, &error))
            goto fail;
        armed = g_str_equal(mode, "on-request");
        if (verbose)
            printf(_("mirror helper of '%s': mode %s%s\n"), argv[1], mode,
                   armed ? _(", armed for this migration") : "");
    }

    opts.dest_uri = argv[2];
    opts.dconn = dconn;
    opts.migrate_uri = migrate_uri;
    opts.dest_xml = xml;
    opts.p2p = p2p;
    opts.live = live;
    opts.persistent = persistent;
    opts.undefine_source = undefine_source;
    opts.timeout = timeout;
    opts.progress = verbose;
    if (!mhMigrateRun(dom, &opts, &stats, &ddom, &error)) {
        /* An arm that no migration consumed must not make a later plain
         * migration go through the helper. */
        if (armed)
            mhMigrateDisarmHelper(dom);
        goto fail;
    }
    if (verbose) {
        printf(_("Migration of '%s' to %s completed\n"), argv[1], argv[2]);
        mhMigrateStatsPrint(&stats, stdout);
    }
    return MH_EXIT_OK;

 fail:
    mhCmdPrintError(error);
    return MH_EXIT_FAIL;
}
