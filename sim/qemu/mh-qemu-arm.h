/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "arm-migration-handler": the mirror-helper extension QMP command that
 * arms the helper of a guest whose <mh:helper mode='on-request'> for its
 * next outgoing migration ("virt-mh migrate --sev-helper" sends it through
 * virDomainQemuMonitorCommand before it starts the migration).
 *
 *   -> { "execute": "arm-migration-handler" }
 *   <- { "return": { "armed": true, "mode": "on-request" } }
 *   -> { "execute": "arm-migration-handler", "arguments": { "armed": false } }
 *   <- { "return": { "armed": false, "mode": "on-request" } }
 *
 * Refused (GenericError) for a guest without SEV or without the
 * mirror-helper object. For mode=auto it is accepted and changes nothing
 * (every migration uses the helper anyway).
 *
 * For the migration code (mh-qemu-migrate*.c): a source migration of an
 * SEV guest with mode=on-request goes through the MH when
 * mhQemuMigrateArmTake() returns true (it clears the flag, so one arm
 * covers one migration); otherwise it is refused like QEMU 7.2 refuses any
 * SEV guest. The flag is the MhQemu's (one per process). docs/qemu-interface.md. */
#pragma once

#include <stdbool.h>

#include "sim/qemu/mh-qemu.h"


/* Handler of mhQemuCommands[] ('opaque' is the MhQemu). */
void mhQemuCmdArmMigrationHandler(MhQmpRequest *req, gpointer opaque);

/* Whether the next migration is armed (does not change it). */
bool mhQemuMigrateArmed(MhQemu *qemu);
/* Read and clear: true when armed (the migration that calls this uses the
 * helper; the next one needs a new arm). */
bool mhQemuMigrateArmTake(MhQemu *qemu);
/* Set or clear the arm (the command, and tests). */
void mhQemuMigrateArmSet(MhQemu *qemu, bool armed);
