/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The owner flow's libvirt back end: virDomainGetLaunchSecurityInfo for
 * the report, virDomainSetLaunchSecurityState to inject (the domain must
 * be paused). */
#pragma once

#include "owner/mh-owner-launch.h"

/* MhOwnerLaunch.ops for a virDomainPtr (data). */
extern const MhOwnerLaunchOps mhVirtLaunchOps;
