/* Shared by mh-cmd-owner.c and mh-cmd-owner-inject.c: inputs that
 * several "virt-mh owner" subcommands take the same way. */
#pragma once

#include "mh-cmd.h"
#include "sev/mh-sev-crypto.h"

/* What was launched: a firmware image (plus kernel hashes) or a digest. */
typedef struct {
    char *firmware;
    char *kernel;
    char *initrd;
    char *cmdline;
    char *digest;
} MhCmdOwnerImage;

void mhCmdOwnerImageClear(MhCmdOwnerImage *image);
/* Launch digest of firmware || kernel-hashes table, or the given digest. */
bool mhCmdOwnerImageDigest(const MhCmdOwnerImage *image, uint8_t digest[MH_SEV_DIGEST_SIZE],
                           GError **error);

/* Policy as hex ("0x33" or "33"). */
bool mhCmdOwnerParsePolicy(const char *text, uint32_t *policy, GError **error);
/* Base64 measurement, exactly 48 bytes. */
bool mhCmdOwnerParseMeasurement(const char *text, uint8_t out[MH_SEV_MEASUREMENT_SIZE],
                                GError **error);
/* The secret table from --entry specs and/or --migration-key. */
MhSecret *mhCmdOwnerBuildTable(char **entries, const char *migration_key, GError **error);
/* Check that a required option was given. */
bool mhCmdOwnerRequire(const char *command, const char *option, const void *value,
                       GError **error);

int mhCmdOwnerInject(MhCmdGlobal *global, int argc, char **argv);
