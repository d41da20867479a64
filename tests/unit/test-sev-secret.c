/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EFI secret table and migration-key entry.
 * The table layout follows libvirt's virt-qemu-sev-validate (SecretsTable /
 * GUIDTable.build: header GUID, u32 length, entries, then 1..16 pad bytes);
 * tests/sev/crosscheck.py compares the bytes with libvirt's own code. The
 * migration-key entry is this project's (docs/migration-key.md); its key id
 * vector below was computed independently with Python's hashlib:
 *   sha256(b"mirror-helper key id" + bytes(range(32)))[:4] read LE = 0x9c3765fb */
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

static void
testGuid(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *hex = NULL;
    uint8_t g[16];

    g_assert_true(mhUtilGuidParse(MH_SEV_SECRET_TABLE_GUID, g, &error));
    hex = mhUtilFormatHex(g, 16);
    /* uuid.UUID(...).bytes_le, as libvirt's script writes it */
    g_assert_cmpstr(hex, ==, "42f5741edd71664d963eef4287ff173b");
    text = mhUtilGuidFormat(g);
    g_assert_cmpstr(text, ==, MH_SEV_SECRET_TABLE_GUID);
    g_assert_false(mhUtilGuidParse("42f5741e-dd71-664d-963e-ef4287ff173", g, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(mhUtilGuidParse("42f5741e-dd71-664d-963e-ef4287ff173g", g, &error));
    g_clear_error(&error);
    g_assert_false(mhSevSecretResolveName("disk-key", g, &error));
    g_assert_nonnull(strstr(error->message, "unknown secret alias 'disk-key'"));
    g_clear_error(&error);
    g_assert_true(mhSevSecretResolveName("migration-key", g, &error));
    hex = (g_free(hex), mhUtilFormatHex(g, 16));
    g_assert_cmpstr(hex, ==, "7e1ff671bfc7c94ea8cf41f59a2ee72d");
}

static MhSecret *
buildTable(const void *data, size_t len)
{
    g_autoptr(MhSevSecretTable) t = mhSevSecretTableNew();
    uint8_t g[16];

    g_assert_true(mhSevSecretResolveName("luks-key", g, NULL));
    g_assert_true(mhSevSecretTableAdd(t, g, data, len, NULL));
    return mhSevSecretTableBuild(t, NULL);
}

static void
testBuild(void)
{
    g_autoptr(MhSecret) a = buildTable("secret", 6);
    g_autoptr(MhSecret) b = NULL;
    g_autofree char *hex = NULL;
    uint8_t twelve[12] = { 0 };

    /* 20 + 20 + 6 = 46 bytes, padded to 48 */
    g_assert_cmpuint(a->len, ==, 48);
    hex = mhUtilFormatHex(a->data, a->len);
    g_assert_cmpstr(hex, ==,
                    "42f5741edd71664d963eef4287ff173b" "2e000000"
                    "e5696873f084734992ec06879ce3da0b" "1a000000" "736563726574"
                    "0000");
    /* 20 + 20 + 12 = 52, padded to 64 */
    b = buildTable(twelve, 12);
    g_assert_cmpuint(b->len, ==, 64);
    b = (mhSecretFree(b), NULL);
    /* 20 + 20 + 24 = 64: already aligned, libvirt still adds 16 */
    {
        uint8_t d[24] = { 0 };
        b = buildTable(d, 24);
        g_assert_cmpuint(b->len, ==, 80);
        g_assert_cmpuint(b->data[16], ==, 64);
    }
}

static void
testParse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) raw = buildTable("secret", 6);
    g_autoptr(MhSevSecretTable) t = NULL;
    g_autofree uint8_t *mem = g_malloc0(3072);

    /* Guest memory: the table at the start of a 3 KiB area. */
    memcpy(mem, raw->data, raw->len);
    t = mhSevSecretTableParse(mem, 3072, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(mhSevSecretTableCount(t), ==, 1);
    g_assert_cmpmem(mhSevSecretTableGet(t, 0)->data->data, 6, "secret", 6);
}

static void
expectFindError(const void *data, size_t len, int code, const char *fragment)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) key = NULL;
    uint32_t id = 0;

    g_assert_false(mhSevMigrationKeyFind(data, len, &key, &id, &error));
    g_assert_null(key);
    g_assert_error(error, MH_ERROR, code);
    if (!strstr(error->message, fragment))
        g_error("message '%s' lacks '%s'", error->message, fragment);
}

static void
testMigrationKey(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhSecret) found = NULL;
    g_autoptr(MhSevSecretTable) t = mhSevSecretTableNew();
    g_autoptr(MhSecret) raw = NULL;
    g_autofree uint8_t *mem = NULL;
    uint8_t luks[16];
    uint32_t id = 0;

    for (int i = 0; i < 32; i++)
        key->data[i] = i;
    g_assert_true(mhSevMigrationKeyId(key, &id, &error));
    g_assert_cmphex(id, ==, 0x9c3765fb);

    g_assert_true(mhSevSecretResolveName("luks-key", luks, NULL));
    g_assert_true(mhSevSecretTableAdd(t, luks, "pw", 2, NULL));
    g_assert_true(mhSevSecretTableAddMigrationKey(t, key, &error));
    raw = mhSevSecretTableBuild(t, &error);
    g_assert_no_error(error);
    /* entry: GUID, u32 57, version 1, key id LE, key */
    g_assert_cmpuint(raw->len, ==, 20 + 22 + 57 + 13);
    g_assert_cmpuint(raw->data[42 + 16], ==, 57);
    g_assert_cmpuint(raw->data[42 + 20], ==, 1);
    g_assert_cmphex(raw->data[42 + 21], ==, 0xfb);
    g_assert_cmphex(raw->data[42 + 24], ==, 0x9c);

    mem = g_malloc0(3072);
    memcpy(mem, raw->data, raw->len);
    id = 0;
    g_assert_true(mhSevMigrationKeyFind(mem, 3072, &found, &id, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(found->data, found->len, key->data, 32);
    g_assert_cmphex(id, ==, 0x9c3765fb);

    /* Errors, each with its own message. */
    {
        g_autofree uint8_t *bad = g_memdup2(mem, 3072);
        expectFindError(bad, 10, MH_ERROR_INVALID, "no SEV secret table");
        bad[0] ^= 1;
        expectFindError(bad, 3072, MH_ERROR_INVALID, "no SEV secret table");
        bad[0] ^= 1;
        bad[16] = 0xff; bad[17] = 0xff;   /* total beyond the area */
        expectFindError(bad, 3072, MH_ERROR_INVALID, "malformed SEV secret table: length");
        memcpy(bad, mem, 3072);
        bad[20 + 16] = 200;               /* luks entry runs past the table */
        expectFindError(bad, 3072, MH_ERROR_INVALID, "malformed SEV secret table: entry");
        memcpy(bad, mem, 3072);
        bad[20 + 16] = 3;                 /* entry shorter than its header */
        expectFindError(bad, 3072, MH_ERROR_INVALID, "malformed SEV secret table: entry");
        memcpy(bad, mem, 3072);
        bad[42] ^= 1;                     /* migration-key GUID changed */
        expectFindError(bad, 3072, MH_ERROR_INVALID, "no migration-key entry");
        memcpy(bad, mem, 3072);
        bad[42 + 20] = 2;                 /* version */
        expectFindError(bad, 3072, MH_ERROR_UNSUPPORTED, "unknown version 2");
        memcpy(bad, mem, 3072);
        bad[42 + 30] ^= 1;                /* key byte: id no longer matches */
        expectFindError(bad, 3072, MH_ERROR_INVALID, "corrupt");
    }
    {
        /* An entry of the wrong size. */
        g_autoptr(MhSevSecretTable) t2 = mhSevSecretTableNew();
        g_autoptr(MhSecret) raw2 = NULL;
        uint8_t mk[16];
        uint8_t data[40] = { 1 };
        g_assert_true(mhSevSecretResolveName("migration-key", mk, NULL));
        g_assert_true(mhSevSecretTableAdd(t2, mk, data, sizeof(data), NULL));
        raw2 = mhSevSecretTableBuild(t2, NULL);
        expectFindError(raw2->data, raw2->len, MH_ERROR_INVALID, "40 data bytes");
    }
}

static void
testKeyFiles(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-sev-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "mk", NULL);
    g_autofree char *wrong = g_build_filename(dir, "short", NULL);
    g_autoptr(MhSecret) key = NULL;
    GStatBuf st;

    g_assert_true(mhSevMigrationKeyCreate(path, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(st.st_size, ==, 32);
    g_assert_false(mhSevMigrationKeyCreate(path, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_IO);
    g_clear_error(&error);
    key = mhSevMigrationKeyLoad(path, &error);
    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(wrong, "abc", 3, NULL));
    g_assert_null(mhSevMigrationKeyLoad(wrong, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&error);
    /* Never through a symlink, even a dangling one: the key would land
     * where the link points. No temporary file is left either way. */
    {
        g_autofree char *link = g_build_filename(dir, "link", NULL);
        g_autofree char *target = g_build_filename(dir, "target", NULL);
        g_autoptr(GDir) d = NULL;
        guint n = 0;

        g_assert_cmpint(symlink(target, link), ==, 0);
        g_assert_false(mhSevMigrationKeyCreate(link, &error));
        g_assert_nonnull(strstr(error->message, "already exists"));
        g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));
        d = g_dir_open(dir, 0, NULL);
        while (g_dir_read_name(d))
            n++;
        g_assert_cmpuint(n, ==, 3);     /* mk, short, link */
        g_unlink(link);
    }
    g_unlink(path);
    g_unlink(wrong);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sev/secret/guid", testGuid);
    g_test_add_func("/sev/secret/build", testBuild);
    g_test_add_func("/sev/secret/parse", testParse);
    g_test_add_func("/sev/secret/migration-key", testMigrationKey);
    g_test_add_func("/sev/secret/key-files", testKeyFiles);
    return g_test_run();
}
