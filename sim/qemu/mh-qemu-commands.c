/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's QMP command table: commands named here are answered by
 * qemu-mh (their handlers may still forward to QEMU, e.g. query-sev of a
 * guest without SEV); every other command goes to the real QEMU.
 * A new command is one line here and a handler in a file of its own. */
#include "sim/qemu/mh-qemu.h"
#include "sim/qemu/mh-qmp-handler.h"
#include "sim/qemu/mh-qemu-arm.h"
#include "sim/qemu/mh-qemu-migrate.h"

const MhQmpCommand mhQemuCommands[] = {
    /* QEMU 7.2 SEV commands, answered by the SEV platform model. */
    { "query-sev", mhQemuCmdQuerySev },
    { "query-sev-attestation-report", mhQemuCmdQuerySevAttestationReport },
    { "query-sev-capabilities", mhQemuCmdQuerySevCapabilities },
    { "query-sev-launch-measure", mhQemuCmdQuerySevLaunchMeasure },
    /* The MH captures the migration key from the injected table. */
    { "sev-inject-launch-secret", mhQemuCmdSevInjectLaunchSecret },
    /* mirror-helper extensions go here. */
    { "start-migration-handler", mhQemuCmdStartMigrationHandler },
    { "query-migration-handler", mhQemuCmdQueryMigrationHandler },
    { "stop-migration-handler", mhQemuCmdStopMigrationHandler },
    { "arm-migration-handler", mhQemuCmdArmMigrationHandler },
    /* QEMU 7.2 migration commands, taken over for MH migration
     * (mh-qemu-migrate.h); they forward to QEMU for guests without SEV. */
    { "getfd", mhQemuCmdGetfd },
    { "closefd", mhQemuCmdClosefd },
    { "migrate", mhQemuCmdMigrate },
    { "migrate-incoming", mhQemuCmdMigrateIncoming },
    { "migrate-set-parameters", mhQemuCmdMigrateSetParameters },
    { "migrate-set-capabilities", mhQemuCmdMigrateSetCapabilities },
    { "migrate_cancel", mhQemuCmdMigrateCancel },
    { "query-migrate", mhQemuCmdQueryMigrate },
    { NULL, NULL },
};
