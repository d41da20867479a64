/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh lab up|down|status: local libvirt hosts for demos and tests. */
#include "mh-cmd.h"

#include "lab/mh-lab.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/virterror.h>

/* Indexed by virDomainState. */
static const char *const mhCmdLabDomainStates[] = {
    [VIR_DOMAIN_NOSTATE] = N_("no state"),
    [VIR_DOMAIN_RUNNING] = N_("running"),
    [VIR_DOMAIN_BLOCKED] = N_("blocked"),
    [VIR_DOMAIN_PAUSED] = N_("paused"),
    [VIR_DOMAIN_SHUTDOWN] = N_("in shutdown"),
    [VIR_DOMAIN_SHUTOFF] = N_("shut off"),
    [VIR_DOMAIN_CRASHED] = N_("crashed"),
    [VIR_DOMAIN_PMSUSPENDED] = N_("pmsuspended"),
};

static const char *
mhCmdLabDomainStateToString(int state)
{
    if (state < 0 || state >= (int)G_N_ELEMENTS(mhCmdLabDomainStates) ||
        !mhCmdLabDomainStates[state])
        return _("unknown");
    return _(mhCmdLabDomainStates[state]);
}

static bool
mhCmdLabNeedDir(const char *command, const char *dir)
{
    if (!dir) {
        mhCmdErrorf(_("%s: option --dir is required"), command);
        return false;
    }
    return true;
}

static int
mhCmdLabUp(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autofree char *qemuMh = NULL;
    g_autofree char *tried = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(MhLab) lab = NULL;
    gint hosts = 2;
    GOptionEntry entries[] = {
        { "hosts", 'n', 0, G_OPTION_ARG_INT, &hosts,
          N_("number of hosts (default 2)"), N_("N") },
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
          N_("lab directory (created if missing; keep it short)"), N_("DIR") },
        { "qemu-mh", 0, 0, G_OPTION_ARG_FILENAME, &qemuMh,
          N_("qemu-mh binary to copy into DIR/bin (default: next to virt-mh, or $MH_QEMU_MH)"),
          N_("FILE") },
        { NULL }
    };

    if (!mhCmdParseOptions(global, "lab up", NULL,
                           N_("Start N local libvirt hosts and print one URI per line."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdLabNeedDir("lab up", dir))
        return MH_EXIT_FAIL;
    if (hosts < 1 || hosts > MH_LAB_MAX_HOSTS) {
        mhCmdErrorf(_("lab up: --hosts %d out of range 1..%d"), hosts, MH_LAB_MAX_HOSTS);
        return MH_EXIT_FAIL;
    }
    if (!qemuMh) {
        qemuMh = mhLabFindQemuMh(&tried);
        if (!qemuMh)
            fprintf(stderr, _("warning: qemu-mh not found (looked for %s); "
                              "the lab has no DIR/bin/qemu-mh\n"), tried);
    }
    if (!(lab = mhLabUp(dir, hosts, qemuMh, &error))) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    for (guint i = 0; i < lab->hosts->len; i++)
        printf("%s\n", ((MhLabHost *)g_ptr_array_index(lab->hosts, i))->uri);
    return MH_EXIT_OK;
}

static int
mhCmdLabDown(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(MhLab) lab = NULL;
    guint strays = 0;
    GOptionEntry entries[] = {
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
          N_("lab directory given to 'lab up'"), N_("DIR") },
        { NULL }
    };

    if (!mhCmdParseOptions(global, "lab down", NULL,
                           N_("Stop everything 'lab up' started in DIR; files in DIR stay."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdLabNeedDir("lab down", dir))
        return MH_EXIT_FAIL;
    if (!(lab = mhLabLoad(dir, &error))) {
        /* The directory or its state file was deleted under a running
         * lab: its processes still carry their homes in HOME. */
        if ((strays = mhLabProcKillOrphans(dir) + mhLabProcKillServices(dir)) > 0) {
            fprintf(stderr, _("lab down: %s; killed %u process(es) whose HOME was under '%s'\n"),
                    error->message, strays, dir);
            return MH_EXIT_OK;
        }
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    if (!mhLabDown(lab, &strays, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    if (strays > 0)
        fprintf(stderr, _("lab down: killed %u leftover process(es) of the lab hosts\n"),
                strays);
    return MH_EXIT_OK;
}

static int
mhCmdLabRestart(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(MhLab) lab = NULL;
    gint host = 0;
    GOptionEntry entries[] = {
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
          N_("lab directory given to 'lab up'"), N_("DIR") },
        { "host", 0, 0, G_OPTION_ARG_INT, &host, N_("the host whose libvirtd restarts"),
          N_("N") },
        { NULL }
    };

    if (!mhCmdParseOptions(global, "lab restart", NULL,
                           N_("Restart one lab host's libvirtd; its domains keep running."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdLabNeedDir("lab restart", dir))
        return MH_EXIT_FAIL;
    if (!(lab = mhLabLoad(dir, &error)) || !mhLabRestartHost(lab, host, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    return MH_EXIT_OK;
}

static void
mhCmdLabQuietLibvirt(void *opaque, virErrorPtr err)
{
    /* A dead host is reported in the listing, not as a libvirt error. */
}

static void
mhCmdLabPrintDomains(const MhLabHost *host)
{
    virConnectPtr conn = virConnectOpen(host->uri);
    virDomainPtr *doms = NULL;
    int n;

    if (!conn) {
        printf(_("  (cannot connect: %s)\n"), virGetLastErrorMessage());
        return;
    }
    n = virConnectListAllDomains(conn, &doms, 0);
    for (int i = 0; i < n; i++) {
        int state = VIR_DOMAIN_NOSTATE;
        int reason = 0;
        int id = (int)virDomainGetID(doms[i]);

        virDomainGetState(doms[i], &state, &reason, 0);
        if (virDomainIsActive(doms[i]) == 1)
            printf(_("  domain %s id %d %s\n"), virDomainGetName(doms[i]), id,
                   mhCmdLabDomainStateToString(state));
        else
            printf(_("  domain %s id - %s\n"), virDomainGetName(doms[i]),
                   mhCmdLabDomainStateToString(state));
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
}

static int
mhCmdLabStatus(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(MhLab) lab = NULL;
    GOptionEntry entries[] = {
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
          N_("lab directory given to 'lab up'"), N_("DIR") },
        { NULL }
    };

    if (!mhCmdParseOptions(global, "lab status", NULL,
                           N_("List the hosts of the lab in DIR and their domains."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdLabNeedDir("lab status", dir))
        return MH_EXIT_FAIL;
    if (!(lab = mhLabLoad(dir, &error))) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    virSetErrorFunc(NULL, mhCmdLabQuietLibvirt);
    printf(_("lab %s: %u host(s), daemons run as user %s\n"),
           lab->dir, lab->hosts->len, lab->user);
    for (guint i = 0; i < lab->hosts->len; i++) {
        const MhLabHost *host = g_ptr_array_index(lab->hosts, i);
        bool alive = mhLabHostAlive(lab, host);
        g_autofree char *line = g_strdup_printf(_("host%u %s pid %d %s uuid %s"),
                                                host->index, host->uri, (int)host->pid,
                                                alive ? _("alive") : _("dead"),
                                                host->uuid ? host->uuid : "-");

        puts(line);
        if (host->bus)
            printf(_("  D-Bus: %s (virt-mhd, org.mirrorhelper.MirrorHelper1)\n"), host->bus);
        if (alive)
            mhCmdLabPrintDomains(host);
    }
    return MH_EXIT_OK;
}

static const MhCmd mhCmdLabSubs[] = {
    { "down", N_("stop everything the lab started"), mhCmdLabDown },
    { "relay", N_("relay TCP and record every byte (demo's capture)"), mhCmdLabRelay },
    { "restart", N_("restart one host's libvirtd"), mhCmdLabRestart },
    { "status", N_("list hosts and their domains"), mhCmdLabStatus },
    { "up", N_("start N local libvirt hosts"), mhCmdLabUp },
    { NULL, NULL, NULL }
};

static const MhCmdFamily mhCmdLabFamily = {
    N_("Usage: virt-mh lab SUBCOMMAND --dir DIR [OPTIONS...]\n\nSubcommands:\n"), 8,
    N_("lab: unknown subcommand '%s' (expected up, down, status, restart or relay)"), false, mhCmdLabSubs,
};

int
mhCmdLab(MhCmdGlobal *global, int argc, char **argv)
{
    return mhCmdFamilyRun(&mhCmdLabFamily, global, argc, argv);
}
