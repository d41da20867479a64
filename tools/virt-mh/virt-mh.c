/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh: the mirror-helper command-line tool. */
#include "mh-cmd.h"

#include "util/mh-i18n.h"

#include <stdio.h>
#include <string.h>

/* Commands are found by name in this table; see mh-cmd.h for the
 * entry points. Keep it sorted by name. */
static const MhCmd mhCommands[] = {
    { "broker", N_("the guest owner's key broker: serve, enroll, trust-platform, log"), mhCmdBroker },
    { "demo", N_("the main job: SEV live migration through the mirror helper, end to end"), mhCmdDemo },
    { "disable", N_("remove the mirror helper from a domain"), mhCmdDisable },
    { "enable", N_("enable the mirror helper in a domain"), mhCmdEnable },
    { "lab", N_("local libvirt hosts: lab up|down|status|restart|relay"), mhCmdLab },
    { "migrate", N_("live-migrate a domain (through its mirror helper)"), mhCmdMigrate },
    { "owner", N_("guest owner: SEV session, measurement, secrets"), mhCmdOwner },
    { "show", N_("show a domain's mirror-helper settings"), mhCmdShow },
    { "start", N_("start an SEV domain through its key broker"), mhCmdStart },
    { "validate", N_("check a domain XML file"), mhCmdValidate },
    { NULL, NULL, NULL }
};

static void
mhUsage(FILE *out)
{
    fprintf(out, _("Usage: virt-mh [-c URI] COMMAND [OPTIONS...]\n\nCommands:\n"));
    for (const MhCmd *cmd = mhCommands; cmd->name; cmd++)
        fprintf(out, "  %-12s %s\n", cmd->name, _(cmd->summary));
    fprintf(out, _("\nRun 'virt-mh COMMAND --help' for a command's options.\n"));
}

int
main(int argc, char **argv)
{
    MhCmdGlobal global = { NULL };
    int i = 1;

    mhI18nInit();

    /* Global options before the command, like virsh. */
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--connect") == 0) && i + 1 < argc) {
            global.connect_uri = argv[i + 1];
            i += 2;
        } else if (g_str_has_prefix(argv[i], "--connect=")) {
            global.connect_uri = argv[i] + strlen("--connect=");
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            mhUsage(stdout);
            return MH_EXIT_OK;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("virt-mh (mirror-helper) %s\n", PACKAGE_VERSION);
            return MH_EXIT_OK;
        } else {
            mhCmdErrorf(_("unknown option '%s'"), argv[i]);
            return MH_EXIT_FAIL;
        }
    }
    if (i >= argc) {
        mhUsage(stderr);
        return MH_EXIT_FAIL;
    }
    for (const MhCmd *cmd = mhCommands; cmd->name; cmd++) {
        if (strcmp(cmd->name, argv[i]) == 0)
            return cmd->run(&global, argc - i, argv + i);
    }
    mhCmdErrorf(_("unknown command: '%s'"), argv[i]);
    return MH_EXIT_FAIL;
}
