/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh start: the first launch of a guest enrolled with a key broker,
 * for owners who do not start paused themselves (tools/common/mh-start.c). */
#include "mh-cmd.h"
#include "mh-start.h"

#include "broker/mh-broker-launch.h"
#include "broker/mh-broker-host.h"
#include "virt/mh-virt-conf.h"
#include "virt/mh-virt-launch.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdio.h>

/* Where the hosts' hooks keep owner monitors: host.conf's run_dir. With
 * no host.conf here, an ordinary user's default would be a directory of
 * their own, which a system daemon's QEMU cannot use: a system
 * connection gets the system default. */
static const char *
mhCmdStartRunDir(virConnectPtr conn, const MhBrokerHostConf *host)
{
    g_autofree char *uri = virConnectGetURI(conn);

    if (!host->path && uri && g_str_has_suffix(uri, "/system"))
        return MH_BROKER_HOST_SYSTEM_RUN_DIR;
    return host->run_dir;
}

static bool
mhCmdStartRun(MhCmdGlobal *global, const char *name, const char *cacert,
              const MhBrokerHostConf *host, GError **error)
{
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(MhConfHelper) helper = NULL;
    MhOwnerLaunchReport report;

    if (!(conn = mhVirtConnect(global->connect_uri, error)) ||
        !(dom = mhVirtLookupDomain(conn, name, error)) ||
        !mhStartDomain(conn, dom, cacert, mhCmdStartRunDir(conn, host), host->timeout_s,
                       &report, error) ||
        !(helper = mhVirtGetHelper(dom, error)))
        return false;
    printf(_("Domain '%s' started: launch attested by %s (policy 0x%04x, SEV API %u.%u "
             "build %u), secret injected\n"), name, helper->key_broker, report.policy,
           report.build.api_major, report.build.api_minor, report.build.build_id);
    return true;
}

int
mhCmdStart(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *cacert = NULL;
    GOptionEntry entries[] = {
        { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &cacert,
          N_("CA certificates to verify an https:// broker (default: host.conf's)"),
          N_("FILE") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhBrokerHostConf) host = NULL;

    if (!mhCmdParseOptions(global, "start", N_("DOMAIN"),
                           N_("Start an SEV domain through its key broker: attest the "
                              "launch, inject its secret, resume."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (argc != 2) {
        mhCmdErrorf(_("start: expected DOMAIN"));
        return MH_EXIT_FAIL;
    }
    if (!(host = mhBrokerHostConfLoad(&error))) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    if (!cacert && host->cacert)
        cacert = g_strdup(host->cacert);
    if (!mhCmdStartRun(global, argv[1], cacert, host, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    return MH_EXIT_OK;
}
