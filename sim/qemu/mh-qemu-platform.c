/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a qemu-mh host keeps its SEV platform identity. */
#include "sim/qemu/mh-qemu.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <pwd.h>
#include <unistd.h>

/* Walk up from 'path' looking for a directory that has "mh-platform". */
static char *
mhQemuPlatformDirAbove(const char *path)
{
    g_autofree char *dir = g_path_is_absolute(path) ? g_strdup(path) : NULL;

    while (dir && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0) {
        g_autofree char *cand = g_build_filename(dir, MH_QEMU_PLATFORM_DIRNAME, NULL);
        char *parent;

        if (g_file_test(cand, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&cand);
        parent = g_path_get_dirname(dir);
        g_free(dir);
        dir = parent;
    }
    return NULL;
}

char *
mhQemuPlatformDir(const MhQemuArgs *args)
{
    /* libvirt gives QEMU a fresh environment (HOME and XDG_* point into
     * the per-domain directory), so the environment alone cannot name the
     * host; libvirt's own paths on the command line can. */
    static const char *const envs[] = {
        "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", NULL
    };
    const char *env = g_getenv("MH_PLATFORM_DIR");
    g_autoptr(GPtrArray) paths = NULL;
    struct passwd *pw;
    char *dir;

    if (env && *env)
        return g_strdup(env);
    paths = args ? mhQemuArgsGetPaths(args) : g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; envs[i]; i++) {
        if ((env = g_getenv(envs[i])) && *env)
            g_ptr_array_add(paths, g_strdup(env));
    }
    g_ptr_array_add(paths, g_get_current_dir());
    for (guint i = 0; i < paths->len; i++) {
        if ((dir = mhQemuPlatformDirAbove(g_ptr_array_index(paths, i))))
            return dir;
    }
    if (geteuid() == 0)
        return g_strdup("/var/lib/mirror-helper/platform");
    /* The user's real home, not libvirt's per-domain HOME. */
    pw = getpwuid(geteuid());
    return g_build_filename(pw && pw->pw_dir ? pw->pw_dir : g_get_home_dir(),
                            ".local", "state", "mirror-helper", "platform", NULL);
}

MhSevPlatform *
mhQemuGetPlatform(MhQemu *qemu, GError **error)
{
    if (qemu->platform)
        return qemu->platform;
    if (!qemu->platform_dir)
        qemu->platform_dir = mhQemuPlatformDir(qemu->args);
    if (!(qemu->platform = mhSevPlatformLoadOrCreate(qemu->platform_dir, error)))
        return NULL;
    mhQemuLog(_("SEV: simulated SEV platform (qemu-mh), state directory %s"), qemu->platform_dir);
    return qemu->platform;
}
