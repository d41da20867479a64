/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's settings, in qemu-mh.conf (like libvirt's qemu.conf):
 * "key = value" lines, strings in double quotes, '#' comments.
 *
 *   real_qemu = "/usr/bin/qemu-system-x86_64"   the QEMU that qemu-mh runs
 *   platform_dir = "/var/lib/mirror-helper/platform"
 *                        the simulated SEV platform's identity (PDH, chain)
 *   migrate_key_wait = 30
 *                        seconds an incoming migration waits for the guest
 *                        owner to inject this launch's migration key
 *   migrate_stall_timeout = 120
 *                        seconds a migration waits for its peer (or the
 *                        real QEMU) to move anything before it fails
 *
 * The file: $MH_QEMU_CONF (a test override); else, when running as an
 * ordinary user, ~/.config/mirror-helper/qemu-mh.conf of the HOME libvirt
 * gives QEMU (a session daemon's own HOME: each lab host has one); else
 * /etc/mirror-helper/qemu-mh.conf. A missing file means the defaults. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#define MH_QEMU_CONF_ENV "MH_QEMU_CONF"
#define MH_QEMU_CONF_SYSTEM "/etc/mirror-helper/qemu-mh.conf"

typedef struct {
    char *path;                 /* the file read, NULL when none exists */
    char *real_qemu;
    char *platform_dir;         /* NULL: the default for the user */
    unsigned int migrate_key_wait_s;
    unsigned int migrate_stall_timeout_s;
} MhQemuConf;

/* The file qemu-mh reads (which may not exist). */
char *mhQemuConfPath(void);
/* Read 'path' (NULL: mhQemuConfPath()); errors name the file, line and key. */
MhQemuConf *mhQemuConfLoad(const char *path, GError **error);
void mhQemuConfFree(MhQemuConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQemuConf, mhQemuConfFree)
