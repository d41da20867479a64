/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by mh-cmd-owner.c and mh-cmd-owner-inject.c: inputs that
 * several "virt-mh owner" subcommands take the same way. */
#pragma once

#include "mh-cmd.h"
#include "owner/mh-owner-launch.h"
#include "owner/mh-sev-crypto.h"

/* What was launched: a firmware image (plus kernel hashes) or a digest. */
typedef struct {
    char *firmware;
    char *kernel;
    char *initrd;
    char *cmdline;
    char *digest;
} MhCmdOwnerImage;

void mhCmdOwnerImageClear(MhCmdOwnerImage *image);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MhCmdOwnerImage, mhCmdOwnerImageClear)
/* Launch digest of firmware || kernel-hashes table, or the given digest. */
bool mhCmdOwnerImageDigest(const MhCmdOwnerImage *image, uint8_t digest[MH_SEV_DIGEST_SIZE],
                           GError **error);

/* Policy as hex ("0x33" or "33"). */
bool mhCmdOwnerParsePolicy(const char *text, uint32_t *policy, GError **error);
/* The secret table from --entry specs and/or --migration-key. */
MhSecret *mhCmdOwnerBuildTable(char **entries, const char *migration_key, GError **error);
/* Check that a required option was given. */
bool mhCmdOwnerRequire(const char *command, const char *option, const void *value,
                       GError **error);

/* Options that several subcommands take with the same meaning. */
#define MH_CMD_OWNER_TK_ENTRY(var) \
    { "tk", 0, 0, G_OPTION_ARG_FILENAME, &(var), \
      N_("TEK and TIK (32 bytes)"), N_("FILE") }
#define MH_CMD_OWNER_KERNEL_ENTRIES(image) \
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &(image).kernel, \
      N_("kernel, when kernel hashes are measured"), N_("FILE") }, \
    { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &(image).initrd, \
      N_("initrd, when kernel hashes are measured"), N_("FILE") }, \
    { "cmdline", 0, 0, G_OPTION_ARG_STRING, &(image).cmdline, \
      N_("kernel command line, when kernel hashes are measured"), N_("STRING") }
#define MH_CMD_OWNER_SECRET_ENTRIES(specs, migration_key) \
    { "entry", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &(specs), \
      N_("a secret: GUID or alias (luks-key, migration-key) and a file"), \
      N_("GUID|ALIAS:FILE") }, \
    { "migration-key", 0, 0, G_OPTION_ARG_FILENAME, &(migration_key), \
      N_("migration key file (32 bytes)"), N_("FILE") }

int mhCmdOwnerInject(MhCmdGlobal *global, int argc, char **argv);
