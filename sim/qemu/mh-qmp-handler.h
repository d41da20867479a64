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

/* Start the MH (or keep it running) with this launch's key; refused
 * without one. */
bool mhQemuMhStart(MhQemu *qemu, GError **error);
/* The MH for a migration: started if needed, and holding this launch's
 * key, never another. */
MhMh *mhQemuMhForMigration(MhQemu *qemu, GError **error);
/* MhQemuLaunchSecretFunc: capture the migration key from LAUNCH_SECRET's
 * decrypted table. */
void mhQemuMhOnLaunchSecret(MhQemu *qemu, const void *table, size_t len);
/* Free the MH and wipe this launch's key (teardown). */
void mhQemuMhClear(MhQemu *qemu);
