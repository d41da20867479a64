/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EFI secret table, as OVMF's SecretDxe exposes it and libvirt's
 * virt-qemu-sev-validate builds it:
 *
 *   header: GUID 1e74f542-71dd-4d66-963e-ef4287ff173b, u32 total length
 *   entry:  GUID, u32 length (= 16 + 4 + data), data
 *   then 1..16 zero bytes up to a multiple of 16 (not counted in length)
 *
 * and the project's migration-key entry (docs/migration-key.md). */
#include "owner/mh-sev-secret.h"
#include "owner/mh-sev-priv.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <openssl/evp.h>

#define MH_SEV_KEY_ID_LABEL "mirror-helper key id"

struct _MhSevSecretTable {
    GPtrArray *entries;   /* MhSevSecretEntry */
};

typedef struct {
    const char *alias;
    const char *guid;
} MhSevSecretAlias;

static const MhSevSecretAlias mhSevSecretAliases[] = {
    { "luks-key", MH_SEV_SECRET_LUKS_KEY_GUID },
    { "migration-key", MH_SEV_SECRET_MIGRATION_KEY_GUID },
};

bool
mhSevSecretResolveName(const char *alias_or_guid, uint8_t out[MH_UTIL_GUID_SIZE],
                       GError **error)
{
    g_autofree char *known = NULL;
    g_autoptr(GString) names = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(mhSevSecretAliases); i++) {
        if (g_str_equal(alias_or_guid, mhSevSecretAliases[i].alias))
            return mhUtilGuidParse(mhSevSecretAliases[i].guid, out, error);
        g_string_append_printf(names, "%s%s", i ? ", " : "", mhSevSecretAliases[i].alias);
    }
    if (strlen(alias_or_guid) == 36 && alias_or_guid[8] == '-')
        return mhUtilGuidParse(alias_or_guid, out, error);
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("unknown secret alias '%s' (use a GUID or one of: %s)"),
                alias_or_guid, names->str);
    return false;
}

static void
mhSevSecretEntryFree(gpointer p)
{
    MhSevSecretEntry *entry = p;

    mhSecretFree(entry->data);
    g_free(entry);
}

MhSevSecretTable *
mhSevSecretTableNew(void)
{
    MhSevSecretTable *table = g_new0(MhSevSecretTable, 1);

    table->entries = g_ptr_array_new_with_free_func(mhSevSecretEntryFree);
    return table;
}

void
mhSevSecretTableFree(MhSevSecretTable *table)
{
    if (!table)
        return;
    g_ptr_array_unref(table->entries);
    g_free(table);
}

const MhSevSecretEntry *
mhSevSecretTableFind(const MhSevSecretTable *table, const uint8_t guid[MH_UTIL_GUID_SIZE])
{
    for (size_t i = 0; i < table->entries->len; i++) {
        const MhSevSecretEntry *e = g_ptr_array_index(table->entries, i);
        if (memcmp(e->guid, guid, MH_UTIL_GUID_SIZE) == 0)
            return e;
    }
    return NULL;
}

bool
mhSevSecretTableAdd(MhSevSecretTable *table, const uint8_t guid[MH_UTIL_GUID_SIZE],
                    const void *data, size_t len, GError **error)
{
    MhSevSecretEntry *entry;

    if (mhSevSecretTableFind(table, guid)) {
        g_autofree char *text = mhUtilGuidFormat(guid);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("secret for GUID %s given more than once"), text);
        return false;
    }
    if (len > G_MAXUINT32 - 2 * MH_SEV_SECRET_HEADER_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("secret too large"));
        return false;
    }
    entry = g_new0(MhSevSecretEntry, 1);
    memcpy(entry->guid, guid, MH_UTIL_GUID_SIZE);
    entry->data = mhSecretNewFrom(data, len);
    g_ptr_array_add(table->entries, entry);
    return true;
}

bool
mhSevSecretTableAddSpec(MhSevSecretTable *table, const char *spec, GError **error)
{
    const char *colon = strchr(spec, ':');
    g_autofree char *name = NULL;
    g_autoptr(MhSecret) data = NULL;
    uint8_t guid[MH_UTIL_GUID_SIZE];
    uint8_t mk_guid[MH_UTIL_GUID_SIZE];

    if (!colon || colon == spec || !colon[1]) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("secret entry '%s' is not GUID:FILE or ALIAS:FILE"), spec);
        return false;
    }
    name = g_strndup(spec, colon - spec);
    if (!mhSevSecretResolveName(name, guid, error) ||
        !mhUtilGuidParse(MH_SEV_SECRET_MIGRATION_KEY_GUID, mk_guid, error))
        return false;
    /* The migration-key entry has a fixed format: its file is a key file,
     * never the raw entry, so a malformed entry cannot be injected. */
    if (memcmp(guid, mk_guid, MH_UTIL_GUID_SIZE) == 0) {
        g_autoptr(MhSecret) key = mhSevMigrationKeyLoad(colon + 1, error);
        return key && mhSevSecretTableAddMigrationKey(table, key, error);
    }
    return (data = mhSecretLoad(colon + 1, error)) &&
           mhSevSecretTableAdd(table, guid, data->data, data->len, error);
}

bool
mhSevSecretTableAddMigrationKey(MhSevSecretTable *table, const MhSecret *key,
                                GError **error)
{
    uint8_t entry[MH_SEV_MIGRATION_KEY_ENTRY_SIZE];
    uint8_t guid[MH_UTIL_GUID_SIZE];
    uint32_t key_id;
    bool ok;

    if (key->len != MH_SEV_MIGRATION_KEY_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("migration key must be %d bytes, got %zu"),
                    MH_SEV_MIGRATION_KEY_SIZE, key->len);
        return false;
    }
    if (!mhSevMigrationKeyId(key, &key_id, error) ||
        !mhUtilGuidParse(MH_SEV_SECRET_MIGRATION_KEY_GUID, guid, error))
        return false;
    entry[0] = MH_SEV_MIGRATION_KEY_VERSION;
    mhUtilPutLE32(entry + 1, key_id);
    memcpy(entry + 5, key->data, MH_SEV_MIGRATION_KEY_SIZE);
    ok = mhSevSecretTableAdd(table, guid, entry, sizeof(entry), error);
    mhUtilWipe(entry, sizeof(entry));
    return ok;
}

size_t
mhSevSecretTableCount(const MhSevSecretTable *table)
{
    return table->entries->len;
}

const MhSevSecretEntry *
mhSevSecretTableGet(const MhSevSecretTable *table, size_t i)
{
    return i < table->entries->len ? g_ptr_array_index(table->entries, i) : NULL;
}

MhSecret *
mhSevSecretTableBuild(const MhSevSecretTable *table, GError **error)
{
    size_t total = MH_SEV_SECRET_HEADER_SIZE;
    size_t padded, off;
    MhSecret *out;

    if (table->entries->len == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("the secret table has no entries"));
        return NULL;
    }
    for (size_t i = 0; i < table->entries->len; i++) {
        const MhSevSecretEntry *e = g_ptr_array_index(table->entries, i);
        total += MH_SEV_SECRET_HEADER_SIZE + e->data->len;
    }
    if (total > G_MAXUINT32 - 16) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("secret table too large"));
        return NULL;
    }
    /* libvirt always pads, by 16 when already aligned. */
    padded = total + (16 - total % 16);
    out = mhSecretNew(padded);
    if (!mhUtilGuidParse(MH_SEV_SECRET_TABLE_GUID, out->data, error)) {
        mhSecretFree(out);
        return NULL;
    }
    mhUtilPutLE32(out->data + MH_UTIL_GUID_SIZE, total);
    off = MH_SEV_SECRET_HEADER_SIZE;
    for (size_t i = 0; i < table->entries->len; i++) {
        const MhSevSecretEntry *e = g_ptr_array_index(table->entries, i);
        memcpy(out->data + off, e->guid, MH_UTIL_GUID_SIZE);
        mhUtilPutLE32(out->data + off + MH_UTIL_GUID_SIZE,
                     MH_SEV_SECRET_HEADER_SIZE + e->data->len);
        memcpy(out->data + off + MH_SEV_SECRET_HEADER_SIZE, e->data->data, e->data->len);
        off += MH_SEV_SECRET_HEADER_SIZE + e->data->len;
    }
    return out;
}

MhSevSecretTable *
mhSevSecretTableParse(const void *data, size_t len, GError **error)
{
    const uint8_t *p = data;
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    uint8_t header[MH_UTIL_GUID_SIZE];
    uint32_t total;
    size_t off;

    if (!mhUtilGuidParse(MH_SEV_SECRET_TABLE_GUID, header, error))
        return NULL;
    if (len < MH_SEV_SECRET_HEADER_SIZE || memcmp(p, header, MH_UTIL_GUID_SIZE) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("no SEV secret table: header GUID %s not found at the start "
                      "of the %zu-byte secret area"), MH_SEV_SECRET_TABLE_GUID, len);
        return NULL;
    }
    total = mhUtilGetLE32(p + MH_UTIL_GUID_SIZE);
    if (total < MH_SEV_SECRET_HEADER_SIZE || total > len) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("malformed SEV secret table: length %u outside %d..%zu"),
                    total, MH_SEV_SECRET_HEADER_SIZE, len);
        return NULL;
    }
    for (off = MH_SEV_SECRET_HEADER_SIZE; off < total;) {
        uint32_t elen;

        if (total - off < MH_SEV_SECRET_HEADER_SIZE) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("malformed SEV secret table: truncated entry header at "
                          "offset %zu of %u"), off, total);
            return NULL;
        }
        elen = mhUtilGetLE32(p + off + MH_UTIL_GUID_SIZE);
        if (elen < MH_SEV_SECRET_HEADER_SIZE || elen > total - off) {
            g_autofree char *guid = mhUtilGuidFormat(p + off);
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("malformed SEV secret table: entry %s at offset %zu has "
                          "length %u, outside %d..%zu"), guid, off, elen,
                        MH_SEV_SECRET_HEADER_SIZE, (size_t)(total - off));
            return NULL;
        }
        if (!mhSevSecretTableAdd(table, p + off, p + off + MH_SEV_SECRET_HEADER_SIZE,
                                 elen - MH_SEV_SECRET_HEADER_SIZE, error)) {
            mhErrorPrefix(error, _("malformed SEV secret table: "));
            return NULL;
        }
        off += elen;
    }
    return g_steal_pointer(&table);
}

bool
mhSevMigrationKeyId(const MhSecret *key, uint32_t *key_id, GError **error)
{
    g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
    uint8_t digest[32];

    if (!md || !EVP_DigestInit_ex2(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, MH_SEV_KEY_ID_LABEL, strlen(MH_SEV_KEY_ID_LABEL)) ||
        !EVP_DigestUpdate(md, key->data, key->len) ||
        !EVP_DigestFinal_ex(md, digest, NULL)) {
        mhSevSetOpensslError(error, _("SHA-256"));
        return false;
    }
    *key_id = mhUtilGetLE32(digest);
    return true;
}

MhSecret *
mhSevMigrationKeyLoad(const char *path, GError **error)
{
    g_autoptr(MhSecret) key = mhSecretLoad(path, error);

    if (!key)
        return NULL;
    if (key->len != MH_SEV_MIGRATION_KEY_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("migration key file '%s' must hold exactly %d bytes, it has %zu"),
                    path, MH_SEV_MIGRATION_KEY_SIZE, key->len);
        return NULL;
    }
    return g_steal_pointer(&key);
}

bool
mhSevMigrationKeyCreate(const char *path, GError **error)
{
    g_autoptr(MhSecret) key = mhSecretNew(MH_SEV_MIGRATION_KEY_SIZE);

    return mhUtilRandom(key->data, key->len, error) &&
           mhUtilCreateFile(path, key->data, key->len, 0600, error);
}

bool
mhSevMigrationKeyFind(const void *data, size_t len, MhSecret **key,
                      uint32_t *key_id, GError **error)
{
    g_autoptr(MhSevSecretTable) table = NULL;
    g_autoptr(MhSecret) found = NULL;
    const MhSevSecretEntry *entry;
    uint8_t guid[MH_UTIL_GUID_SIZE];
    uint32_t stored_id, computed_id;

    if (!mhUtilGuidParse(MH_SEV_SECRET_MIGRATION_KEY_GUID, guid, error))
        return false;
    if (!(table = mhSevSecretTableParse(data, len, error)))
        return false;
    if (!(entry = mhSevSecretTableFind(table, guid))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the SEV secret table has no migration-key entry (GUID %s)"),
                    MH_SEV_SECRET_MIGRATION_KEY_GUID);
        return false;
    }
    if (entry->data->len < 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the migration-key entry is empty"));
        return false;
    }
    if (entry->data->data[0] != MH_SEV_MIGRATION_KEY_VERSION) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("the migration-key entry has unknown version %u (supported: %d)"),
                    entry->data->data[0], MH_SEV_MIGRATION_KEY_VERSION);
        return false;
    }
    if (entry->data->len != MH_SEV_MIGRATION_KEY_ENTRY_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("malformed migration-key entry: %zu data bytes, version 1 has %d"),
                    entry->data->len, MH_SEV_MIGRATION_KEY_ENTRY_SIZE);
        return false;
    }
    stored_id = mhUtilGetLE32(entry->data->data + 1);
    found = mhSecretNewFrom(entry->data->data + 5, MH_SEV_MIGRATION_KEY_SIZE);
    if (!mhSevMigrationKeyId(found, &computed_id, error))
        return false;
    /* The id is derived from the key, so a mismatch means a corrupted entry. */
    if (stored_id != computed_id) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("migration-key entry is corrupt: key id 0x%08x does not match "
                      "its key (0x%08x)"), stored_id, computed_id);
        return false;
    }
    *key = g_steal_pointer(&found);
    if (key_id)
        *key_id = stored_id;
    return true;
}
