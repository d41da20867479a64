/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a qemu-mh host keeps its SEV platform identity. */
#include "sim/qemu/mh-qemu.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <pwd.h>
#include <unistd.h>

char *
mhQemuPlatformDir(const MhQemuConf *conf)
{
    struct passwd *pw;

    if (conf && conf->platform_dir)
        return g_strdup(conf->platform_dir);
    if (geteuid() == 0)
        return g_strdup("/var/lib/mirror-helper/platform");
    /* The user's real home, not the HOME libvirt gives QEMU. */
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
        qemu->platform_dir = mhQemuPlatformDir(qemu->conf);
    if (!(qemu->platform = mhSevPlatformLoadOrCreate(qemu->platform_dir, error)))
        return NULL;
    mhQemuLog(_("SEV: simulated SEV platform (qemu-mh), state directory %s"), qemu->platform_dir);
    return qemu->platform;
}
