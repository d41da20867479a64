/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration as "virt-mh migrate" and "virt-mh demo" drive it: one
 * libvirt migration call (virDomainMigrateToURI3 for peer-to-peer,
 * virDomainMigrate3 for client-managed) run in a thread of its own while
 * the caller's thread polls virDomainGetJobStats for a progress bar,
 * enforces a timeout (virDomainAbortJob) and runs the caller's own checks
 * (e.g. the guest owner attesting the target during Prepare). */
#pragma once

#include "virt/mh-virt.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Called about every 200 ms from the polling thread while the migration
 * runs; return false (with the error set) to abort the migration. */
typedef bool (*MhMigrateTickFunc)(gpointer data, GError **error);

typedef struct {
    const char *dest_uri;       /* destination libvirt URI (p2p: the source daemon opens it) */
    virConnectPtr dconn;        /* client-managed: open destination connection (required);
                                 * p2p: optional, used to read the completed job's figures */
    const char *migrate_uri;    /* VIR_MIGRATE_PARAM_URI, e.g. tcp://127.0.0.1:49152 */
    const char *dest_xml;       /* VIR_MIGRATE_PARAM_DEST_XML (live definition on the target) */
    const char *persist_xml;    /* VIR_MIGRATE_PARAM_PERSIST_XML */
    const char *listen_address; /* VIR_MIGRATE_PARAM_LISTEN_ADDRESS: where the target's
                                 * QEMU listens, when not the migrate_uri's host */
    bool p2p;
    bool live;
    bool persistent;            /* VIR_MIGRATE_PERSIST_DEST */
    bool undefine_source;       /* VIR_MIGRATE_UNDEFINE_SOURCE */
    unsigned int timeout;       /* seconds; 0: none. On expiry the job is aborted. */
    bool progress;              /* draw the progress bar on stdout */
    MhMigrateTickFunc tick;
    gpointer tick_data;
} MhMigrateOptions;

/* Figures of a migration: libvirt's completed-job statistics when it kept
 * them, else the last ones polled while it ran. */
typedef struct {
    double wall_s;              /* the migration call, measured here */
    bool completed_stats;       /* figures are libvirt's completed job */
    bool have_stats;
    uint64_t time_elapsed_ms;
    bool have_downtime;
    uint64_t downtime_ms;
    uint64_t memory_total;
    uint64_t memory_processed;
    uint64_t memory_remaining;
    uint64_t memory_iteration;
    uint64_t memory_bps;
    uint64_t memory_dirty_rate;
    uint64_t data_processed;
} MhMigrateStats;

/* Check that the running domain has the mirror helper (its live XML: the
 * <mh:helper> element and the "-object mirror-helper" argument) and, for
 * mode='on-request', arm it for the next migration through qemu-mh's
 * "arm-migration-handler" (virDomainQemuMonitorCommand). 'mode' (may be
 * NULL) receives the helper's mode ("auto" / "on-request"). */
bool mhMigrateArmHelper(virDomainPtr dom, const char **mode, GError **error);
/* Undo an arm that no migration consumed (best effort). */
void mhMigrateDisarmHelper(virDomainPtr dom);

/* Run the migration; on success *ddom (may be NULL) is the domain on the
 * destination when it could be looked up. */
bool mhMigrateRun(virDomainPtr dom, const MhMigrateOptions *opts, MhMigrateStats *stats,
                  virDomainPtr *ddom, GError **error);

/* Human-readable figures, one "  name: value" line each. */
void mhMigrateStatsPrint(const MhMigrateStats *stats, FILE *out);

/* Byte sizes and rates for humans ("12.5 MiB", "98.1 MiB/s"). */
char *mhMigrateFormatBytes(uint64_t bytes);
