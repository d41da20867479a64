/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh command plumbing: a table of commands, each with its own
 * GOptionContext so that "virt-mh CMD --help" works as virsh users expect. */
#pragma once

#include <glib.h>
#include "owner/mh-owner-launch.h"
#include "virt/mh-virt.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>

typedef struct {
    const char *connect_uri;   /* -c/--connect, NULL for libvirt's default */
} MhCmdGlobal;

typedef int (*MhCmdRunFunc)(MhCmdGlobal *global, int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;       /* N_() */
    MhCmdRunFunc run;
} MhCmd;

/* Exit codes, as virsh */
#define MH_EXIT_OK 0
#define MH_EXIT_FAIL 1

/* Print "error: MESSAGE" on stderr. */
void mhCmdPrintError(const GError *error);
void mhCmdErrorf(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* Parse the command's options; adds -c/--connect, handles --help.
 * 'params' describes positional arguments for --help.
 * Returns false (after printing the error) on bad options. */
bool mhCmdParseOptions(MhCmdGlobal *global, const char *command,
                       const char *params, const char *summary,
                       const GOptionEntry *entries, int *argc, char ***argv);





/* A command with subcommands ("virt-mh owner session ..."): one table,
 * one usage text and one dispatcher for all such families. */
typedef struct {
    const char *usage;         /* N_(), the header of the usage text */
    int width;                 /* of the subcommand column in the usage */
    const char *unknown;       /* N_(), the error for an unknown subcommand (one %s) */
    bool usage_on_unknown;     /* print the usage after that error */
    const MhCmd *subs;         /* NULL-terminated */
} MhCmdFamily;

/* Run the subcommand argv[1] of a family (argv[0] is the family's name);
 * no subcommand prints the usage and fails, -h/--help prints it. */
int mhCmdFamilyRun(const MhCmdFamily *family, MhCmdGlobal *global, int argc, char **argv);

/* Command entry points; each lives in its own mh-cmd-*.c file. */
int mhCmdLab(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-lab-relay.c */
int mhCmdLabRelay(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-owner.c */
int mhCmdOwner(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-conf.c */
int mhCmdValidate(MhCmdGlobal *global, int argc, char **argv);
int mhCmdEnable(MhCmdGlobal *global, int argc, char **argv);
int mhCmdDisable(MhCmdGlobal *global, int argc, char **argv);
int mhCmdShow(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-broker.c */
int mhCmdBroker(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-start.c */
int mhCmdStart(MhCmdGlobal *global, int argc, char **argv);

/* mh-cmd-migrate.c */
int mhCmdMigrate(MhCmdGlobal *global, int argc, char **argv);
/* mh-cmd-demo.c */
int mhCmdDemo(MhCmdGlobal *global, int argc, char **argv);
