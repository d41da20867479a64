/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The owner flow's QMP back end: a synchronous client on QEMU's (or
 * qemu-mh's) monitor socket: query-sev, query-sev-launch-measure,
 * sev-inject-launch-secret; events are skipped, each reply waits at most
 * 30 s. Used where libvirt cannot be asked: an incoming migration target,
 * whose job lock refuses API calls until Finish. */
#pragma once

#include "owner/mh-owner-launch.h"

typedef struct _MhOwnerQmp MhOwnerQmp;

/* Connect, read the greeting, negotiate capabilities. */
MhOwnerQmp *mhOwnerQmpConnect(const char *path, GError **error);
void mhOwnerQmpFree(MhOwnerQmp *qmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhOwnerQmp, mhOwnerQmpFree)

/* MhOwnerLaunch.ops for a MhOwnerQmp (data). */
extern const MhOwnerLaunchOps mhOwnerQmpOps;
