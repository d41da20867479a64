/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mh-sevctl: the simulated platform's counterpart of "sevctl", for what a
 * host administrator does with the PSP before any guest runs:
 *   mh-sevctl export --full DIR   write pdh.cert pek.cert oca.cert cek.cert
 *   mh-sevctl provision OCA.cert OCA.pem   take the platform owner's OCA
 * The platform is the one qemu-mh uses (qemu-mh.conf's platform_dir), and
 * is created on first use as qemu-mh would. On SEV hardware the real
 * sevctl does this; the product reads only the exported files. */
#include "sim/psp/mh-sev-platform.h"
#include "sim/qemu/mh-qemu-conf.h"
#include "sim/qemu/mh-qemu.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool
mhSevctlCopy(const char *from_dir, const char *to_dir, const char *name, GError **error)
{
    g_autofree char *from = g_build_filename(from_dir, name, NULL);
    g_autofree char *to = g_build_filename(to_dir, name, NULL);
    g_autofree char *data = NULL;
    size_t len = 0;

    return mhUtilReadFile(from, &data, &len, error) &&
        mhUtilWriteFile(to, data, len, 0644, error);
}

static bool
mhSevctlExport(const char *platform_dir, const char *out_dir, GError **error)
{
    static const char *const names[] = { "pdh.cert", "pek.cert", "oca.cert", "cek.cert" };
    g_autoptr(MhSevPlatform) platform = mhSevPlatformLoadOrCreate(platform_dir, error);

    if (!platform)
        return false;
    if (g_mkdir_with_parents(out_dir, 0755) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    out_dir, g_strerror(errno));
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!mhSevctlCopy(platform_dir, out_dir, names[i], error))
            return false;
    }
    return true;
}

static bool
mhSevctlProvision(const char *platform_dir, const char *cert, const char *key, GError **error)
{
    g_autofree char *pdh = g_build_filename(platform_dir, "pdh.cert", NULL);
    g_autofree char *dir_cert = g_build_filename(platform_dir, "oca.cert", NULL);
    g_autofree char *dir_key = g_build_filename(platform_dir, "oca.pem", NULL);
    g_autofree char *data = NULL;
    g_autoptr(MhSevPlatform) platform = NULL;
    size_t len = 0;

    if (g_file_test(pdh, G_FILE_TEST_EXISTS)) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("platform '%s' already has its identity; provision before first use"),
                    platform_dir);
        return false;
    }
    if (g_mkdir_with_parents(platform_dir, 0700) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    platform_dir, g_strerror(errno));
        return false;
    }
    if (!mhUtilReadFile(cert, &data, &len, error) ||
        !mhUtilWriteFile(dir_cert, data, len, 0644, error))
        return false;
    g_clear_pointer(&data, g_free);
    if (!mhUtilReadFile(key, &data, &len, error) ||
        !mhUtilWriteFile(dir_key, data, len, 0600, error))
        return false;
    mhUtilWipe(data, len);
    if (!(platform = mhSevPlatformLoadOrCreate(platform_dir, error))) {
        unlink(dir_cert);
        unlink(dir_key);
        return false;
    }
    return true;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuConf) conf = NULL;
    g_autofree char *dir = NULL;
    bool ok;

    mhI18nInit();
    if (!(conf = mhQemuConfLoad(NULL, &err))) {
        fprintf(stderr, "mh-sevctl: %s\n", err->message);
        return 1;
    }
    dir = mhQemuPlatformDir(conf);
    if (argc == 4 && strcmp(argv[1], "export") == 0 && strcmp(argv[2], "--full") == 0) {
        ok = mhSevctlExport(dir, argv[3], &err);
    } else if (argc == 4 && strcmp(argv[1], "provision") == 0) {
        ok = mhSevctlProvision(dir, argv[2], argv[3], &err);
    } else {
        fprintf(stderr, _("usage: mh-sevctl export --full DIR | provision OCA.cert OCA.pem\n"));
        return 2;
    }
    if (!ok) {
        fprintf(stderr, "mh-sevctl: %s\n", err->message);
        return 1;
    }
    return 0;
}
