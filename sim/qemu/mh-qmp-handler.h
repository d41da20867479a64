/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's QMP commands for the migration handler (the RFC's
 * start-migration-handler, plus query- and stop-migration-handler): the
 * mirror VM of this guest, built from the guest's mirror-helper object
 * and qemu-mh's mapping of guest RAM. docs/migration-handler.md. */
#pragma once

#include "sim/mh/mh-handler.h"
#include "sim/qemu/mh-qemu.h"

void mhQemuCmdStartMigrationHandler(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdQueryMigrationHandler(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdStopMigrationHandler(MhQmpRequest *req, gpointer opaque);

/* The MH of this qemu-mh process once start-migration-handler created it
 * (running, or stopped after a failed INIT / stop), else NULL. The
 * migration code (issue 6) drives sessions and pages through it. */
MhMh *mhQemuMhGet(MhQemu *qemu);

/* Create and start the MH without QMP (lifetime=persistent at launch, or
 * on-demand at the first migration). 'uuid' is the domain UUID;
 * 'secret_gpa' 0 means: the firmware's SEV secret area, else the
 * mirror-helper object's secret GPA. Already running: true. */
bool mhQemuMhStart(MhQemu *qemu, const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                   uint64_t secret_gpa, GError **error);
/* The MH a migration uses, started (on-demand) with the key captured
 * from the secret table injected into this launch; NULL with a reason
 * when there is none. */
MhMh *mhQemuMhForMigration(MhQemu *qemu, GError **error);
/* Whether this launch's migration key was captured (the owner injected
 * a secret table with one). */
bool mhQemuMhHasLaunchKey(MhQemu *qemu);
/* sev-inject-launch-secret: the SEV model's command, after which the MH
 * captures the migration key from the injected table (and starts, for
 * lifetime=persistent). */
void mhQemuCmdSevInjectLaunchSecretMh(MhQmpRequest *req, gpointer opaque);
/* The domain UUID from qemu-mh's -uuid argument. */
bool mhQemuMhCmdlineUuid(uint8_t uuid[MH_TRANSPORT_UUID_SIZE], GError **error);
/* Parse a textual UUID ("6b1f0e7a-3341-...") into 16 bytes. */
bool mhQemuMhParseUuid(const char *text, uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                       GError **error);
