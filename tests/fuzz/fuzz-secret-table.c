/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The EFI secret table and its migration-key entry, as the MH reads what
 * LAUNCH_SECRET decrypted: any bytes parse or fail with an error, never
 * crash; a parsed table rebuilds and parses again to the same entries. */
#include "owner/mh-sev-secret.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(MhSevSecretTable) table = NULL;
    g_autoptr(MhSecret) key = NULL;
    g_autoptr(GError) err = NULL;
    uint32_t key_id = 0;

    if ((table = mhSevSecretTableParse(data, size, &err))) {
        g_autoptr(MhSecret) built = mhSevSecretTableBuild(table, NULL);
        g_autoptr(MhSevSecretTable) again = NULL;

        if (built) {
            again = mhSevSecretTableParse(built->data, built->len, NULL);
            g_assert(again);
            g_assert(mhSevSecretTableCount(again) == mhSevSecretTableCount(table));
        }
    } else {
        g_assert(err && err->message);
    }
    g_clear_error(&err);
    if (!mhSevMigrationKeyFind(data, size, &key, &key_id, &err))
        g_assert(err && err->message);
    return 0;
}
