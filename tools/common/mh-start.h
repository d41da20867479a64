/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker-backed first launch, shared by virt-mh and virt-mhd. */
#pragma once

#include "owner/mh-owner-launch.h"
#include "virt/mh-virt.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>

/* The first launch of 'dom' through the key broker its <mh:helper> names:
 * bundle for this host, start paused, attest and inject, resume; the
 * launch is destroyed on failure. 'cacert' may be NULL. */
bool mhStartDomain(virConnectPtr conn, virDomainPtr dom, const char *cacert,
                   MhOwnerLaunchReport *report, GError **error);
