/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker-backed first launch, shared by virt-mh and virt-mhd. */
#pragma once

#include "owner/mh-owner-launch.h"
#include "virt/mh-virt.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>

/* The first launch of 'dom' through the key broker its <mh:helper> names:
 * bundle for this host, start paused, attest and inject, resume; the
 * launch is destroyed on failure. 'cacert' may be NULL; 'timeout_s' per
 * broker call (host.conf's [broker] timeout). A definition
 * without an owner monitor gets one in 'run_dir' (the host's host.conf
 * run_dir; NULL: none), so that the hook can attest later starts. */
bool mhStartDomain(virConnectPtr conn, virDomainPtr dom, const char *cacert,
                   const char *run_dir, guint timeout_s, MhOwnerLaunchReport *report,
                   GError **error);
