/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The EFI secret table that LAUNCH_SECRET writes into the guest's secret
 * area (the layout OVMF's SecretDxe and libvirt's virt-qemu-sev-validate
 * use), and the project's migration-key entry (docs/migration-key.md). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/mh-util.h"


/* GUIDs in text form; tables carry them in EFI (little-endian) order. */
#define MH_SEV_SECRET_TABLE_GUID "1e74f542-71dd-4d66-963e-ef4287ff173b"
#define MH_SEV_SECRET_LUKS_KEY_GUID "736869e5-84f0-4973-92ec-06879ce3da0b"
/* The project's own: entry that carries the migration key. */
#define MH_SEV_SECRET_MIGRATION_KEY_GUID "71f61f7e-c7bf-4ec9-a8cf-41f59a2ee72d"

#define MH_SEV_MIGRATION_KEY_VERSION 1
#define MH_SEV_MIGRATION_KEY_SIZE 32
/* version (u8) || key id (u32 LE) || key (32) */
#define MH_SEV_MIGRATION_KEY_ENTRY_SIZE (1 + 4 + MH_SEV_MIGRATION_KEY_SIZE)
/* Header: GUID + u32 length; entry header: GUID + u32 length. */
#define MH_SEV_SECRET_HEADER_SIZE (MH_UTIL_GUID_SIZE + 4)

/* Alias ("luks-key", "migration-key") or GUID text -> GUID bytes. */
bool mhSevSecretResolveName(const char *alias_or_guid, uint8_t out[MH_UTIL_GUID_SIZE],
                            GError **error);

typedef struct {
    uint8_t guid[MH_UTIL_GUID_SIZE];
    MhSecret *data;
} MhSevSecretEntry;

typedef struct _MhSevSecretTable MhSevSecretTable;

MhSevSecretTable *mhSevSecretTableNew(void);
void mhSevSecretTableFree(MhSevSecretTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevSecretTable, mhSevSecretTableFree)

/* Add an entry (data copied); a GUID may appear once. */
bool mhSevSecretTableAdd(MhSevSecretTable *table, const uint8_t guid[MH_UTIL_GUID_SIZE],
                         const void *data, size_t len, GError **error);
/* Add from "GUID|ALIAS:FILE" (the --entry option); errors name the file. */
bool mhSevSecretTableAddSpec(MhSevSecretTable *table, const char *spec, GError **error);
/* Add the migration-key entry for a 32-byte key. */
bool mhSevSecretTableAddMigrationKey(MhSevSecretTable *table, const MhSecret *key,
                                     GError **error);
size_t mhSevSecretTableCount(const MhSevSecretTable *table);
const MhSevSecretEntry *mhSevSecretTableGet(const MhSevSecretTable *table, size_t i);
const MhSevSecretEntry *mhSevSecretTableFind(const MhSevSecretTable *table,
                                             const uint8_t guid[MH_UTIL_GUID_SIZE]);

/* Serialize: header, entries, then 1..16 zero bytes to a multiple of 16
 * (as libvirt does). The result holds secrets: wipe it. */
MhSecret *mhSevSecretTableBuild(const MhSevSecretTable *table, GError **error);
/* Parse a table at the start of 'data' (guest memory may follow with
 * padding or junk). Errors: no header GUID, lengths out of bounds. */
MhSevSecretTable *mhSevSecretTableParse(const void *data, size_t len, GError **error);

/* Migration key helpers. */
/* Key id = first 4 bytes (LE u32) of SHA-256("mirror-helper key id" || key). */
bool mhSevMigrationKeyId(const MhSecret *key, uint32_t *key_id, GError **error);
/* Key file: exactly 32 bytes. */
MhSecret *mhSevMigrationKeyLoad(const char *path, GError **error);
/* New random key written 0600 (refuses to overwrite an existing file). */
bool mhSevMigrationKeyCreate(const char *path, GError **error);
/* Find the migration key in a secret table read from guest memory.
 * Errors: no table header, malformed table/entry lengths, no
 * migration-key entry, wrong entry size, unknown version. */
bool mhSevMigrationKeyFind(const void *table, size_t len, MhSecret **key,
                           uint32_t *key_id, GError **error);
