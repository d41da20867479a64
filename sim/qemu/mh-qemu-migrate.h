/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration of an SEV guest through the migration handler, inside
 * qemu-mh, under an unmodified libvirt. libvirt drives an ordinary QEMU
 * migration (getfd + "migrate fd:NAME" on the source, "migrate-incoming
 * tcp:HOST:PORT" on the target, query-migrate, MIGRATION events,
 * migrate_cancel); for a guest with the mirror helper qemu-mh turns it
 * into an MH-assisted one on the same connection: sealed page records
 * first (pre-copy with dirty tracking, then a final pass with the guest
 * stopped), then the real QEMU's device state only (x-ignore-shared).
 * Guests without SEV pass through untouched; SEV guests without the helper
 * are refused like QEMU 7.2 refuses them. docs/migration-stream.md has the
 * sequence, the wire format and the failure handling. */
#pragma once

#include "util/mh-enum.h"

#include "sim/qemu/mh-qmp.h"

/* The QMP commands qemu-mh takes over for migration (entries of
 * mhQemuCommands[]; 'opaque' is the MhQemu). */
void mhQemuCmdMigrate(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdMigrateIncoming(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdMigrateCancel(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdQueryMigrate(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdMigrateSetParameters(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdMigrateSetCapabilities(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdGetfd(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdClosefd(MhQmpRequest *req, gpointer opaque);

/* Teardown: cancel a running migration, wait for its thread (turning the
 * main context, which its QMP calls need), close the fds taken with getfd
 * and free the state. */
void mhQemuMigrateClear(MhQemu *qemu);

/* What happens to a migration of this guest. */
typedef enum {
    MH_QEMU_MIGRATE_MODE_PLAIN,     /* no SEV: QEMU's own migration */
    MH_QEMU_MIGRATE_MODE_HELPER,    /* SEV with the helper armed: through the MH */
    MH_QEMU_MIGRATE_MODE_BLOCKED,   /* SEV without it: refused as QEMU 7.2 does */

    MH_QEMU_MIGRATE_MODE_LAST
} MhQemuMigrateMode;

MH_ENUM_DECL(mhQemuMigrateMode);

/* QEMU 7.2's migration blocker for SEV guests, word for word. */
#define MH_QEMU_MIGRATE_SEV_BLOCKER "SEV: Migration is not implemented"
