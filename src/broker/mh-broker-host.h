/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host's side of the key broker: its configuration (host.conf) and the
 * places where a launch waiting for its secret is kept between the hook's
 * "migrate" and "started" calls. The file is found as qemu-mh.conf is:
 * $MH_HOST_CONF, else for an ordinary user $HOME/.config/mirror-helper/
 * host.conf (a lab host's daemons run with HOME in the lab), else
 * /etc/mirror-helper/host.conf; a missing file means the defaults.
 *
 *   [broker]
 *   # CA certificates that verify https:// brokers
 *   cacert=/etc/mirror-helper/broker-ca.pem
 *   # seconds per broker call
 *   timeout=10
 *   [platform]
 *   # the directory "sevctl export --full" wrote
 *   certs=/var/lib/mirror-helper/platform
 *   [host]
 *   # owner monitors and launches waiting for their secret
 *   run_dir=/run/mirror-helper
 * (GKeyFile: a comment is a line of its own.) */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct {
    char *path;                 /* the file read, or NULL */
    char *cacert;               /* NULL: the system's CAs */
    guint timeout_s;
    char *platform_certs;
    char *run_dir;
} MhBrokerHostConf;

MhBrokerHostConf *mhBrokerHostConfLoad(GError **error);
void mhBrokerHostConfFree(MhBrokerHostConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerHostConf, mhBrokerHostConfFree)

/* RUN_DIR/UUID.owner: the owner monitor socket of a launch. */
char *mhBrokerHostOwnerSocket(const MhBrokerHostConf *conf, const char *uuid);
/* RUN_DIR/UUID.launch: the broker's launch id, written 0600. */
bool mhBrokerHostSaveLaunch(const MhBrokerHostConf *conf, const char *uuid,
                            const char *launch_id, GError **error);
/* The saved launch id, or NULL (no error) when there is none. */
char *mhBrokerHostTakeLaunch(const MhBrokerHostConf *conf, const char *uuid, GError **error);
