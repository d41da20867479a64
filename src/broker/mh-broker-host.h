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
 *   [libvirt]
 *   # where libvirt keeps its domain-ID-NAME directories (its libDir):
 *   # /var/lib/libvirt/qemu for the system daemon, else
 *   # $HOME/.config/libvirt/qemu/lib
 *   domain_dir=/var/lib/libvirt/qemu
 * (GKeyFile: a comment is a line of its own.) */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* run_dir's default for root (libvirt's system daemon). */
#define MH_BROKER_HOST_SYSTEM_RUN_DIR "/run/mirror-helper"

typedef struct {
    char *path;                 /* the file read, or NULL */
    char *cacert;               /* NULL: the system's CAs */
    guint timeout_s;
    char *platform_certs;
    char *run_dir;
    char *libvirt_domain_dir;
} MhBrokerHostConf;

MhBrokerHostConf *mhBrokerHostConfLoad(GError **error);
void mhBrokerHostConfFree(MhBrokerHostConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerHostConf, mhBrokerHostConfFree)

/* RUN_DIR/UUID.owner: the owner monitor socket of a launch. */
char *mhBrokerHostOwnerSocket(const MhBrokerHostConf *conf, const char *uuid);
/* RUN_DIR/UUID.launch: the broker's launch id and its session's digest,
 * written 0600 by the hook that put that session in place. */
bool mhBrokerHostSaveLaunch(const MhBrokerHostConf *conf, const char *uuid,
                            const char *launch_id, const char *session_b64, GError **error);
/* Is the saved launch the one of this session? (The hook's "migrate"
 * prepared it, so its "start" must leave it.) */
bool mhBrokerHostLaunchPending(const MhBrokerHostConf *conf, const char *uuid,
                               const char *session_b64);
/* The saved launch id, removed, or NULL (no error) when there is none. */
char *mhBrokerHostTakeLaunch(const MhBrokerHostConf *conf, const char *uuid, GError **error);
