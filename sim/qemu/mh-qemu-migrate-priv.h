/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared state of the migration code (mh-qemu-migrate*.c); private to
 * sim/qemu/. The QMP side (mh-qemu-migrate.c) runs on qemu-mh's main
 * loop; each migration runs in a thread of its own (source:
 * mh-qemu-migrate-src.c, target: mh-qemu-migrate-dst.c) that does blocking
 * I/O on the migration connection and reaches QEMU's monitor and libvirt
 * only through the helpers below, which hop to the main loop. */
#pragma once

#include "sim/qemu/mh-qemu.h"
#include "sim/qemu/mh-qemu-migrate.h"
#include "sim/qemu/mh-qemu-stream.h"
#include "sim/mh/mh-handler.h"

typedef enum {
    MH_QEMU_MIGRATE_ROLE_SOURCE,
    MH_QEMU_MIGRATE_ROLE_TARGET,
} MhQemuMigrateRole;

/* QEMU's MigrationStatus names that qemu-mh reports itself. */
typedef enum {
    MH_QEMU_MIGRATE_STATUS_NONE,
    MH_QEMU_MIGRATE_STATUS_SETUP,
    MH_QEMU_MIGRATE_STATUS_ACTIVE,
    MH_QEMU_MIGRATE_STATUS_DEVICE,      /* the real QEMU migrates device state */
    MH_QEMU_MIGRATE_STATUS_COMPLETED,
    MH_QEMU_MIGRATE_STATUS_FAILED,
    MH_QEMU_MIGRATE_STATUS_CANCELLING,
    MH_QEMU_MIGRATE_STATUS_CANCELLED,

    MH_QEMU_MIGRATE_STATUS_LAST
} MhQemuMigrateStatus;

MH_ENUM_DECL(mhQemuMigrateStatus);

typedef struct _MhQemuMigrate MhQemuMigrate;

typedef struct {
    MhQemuMigrate *mig;
    MhQemuMigrateRole role;
    GThread *thread;
    GThreadFunc body;           /* the source's or the target's */
    volatile gint cancel;
    volatile gint thread_done;  /* set as the thread's last act */
    int fd;                     /* the migration connection */
    char *connect_to;           /* source, tcp: HOST:PORT the thread connects to */
    GCancellable *connecting;   /* while it connects, under mig->lock */
    int listen_fd;              /* target: libvirt's URI, until accepted */
    char *tmpdir;               /* private dir for the real QEMU's socket */
    char *local_path;           /* unix socket between qemu-mh and real QEMU */
    /* Real QEMU's MIGRATION statuses (char *), for the thread. */
    GAsyncQueue *qemu_events;

    /* Figures, under mig->lock. */
    MhQemuMigrateStatus status;
    char *error_desc;
    gint64 start_us;
    gint64 setup_us;            /* setup done (handshake) */
    gint64 stop_us;             /* guest stopped for the final pass */
    gint64 end_us;
    gint64 ram_done_us;         /* RAM verified on the target, device phase next */
    uint64_t ram_total;         /* bytes of guest RAM */
    uint64_t pages_normal;      /* pages sent in full */
    uint64_t pages_zero;        /* pages sent as a zero flag */
    uint64_t remaining_pages;   /* dirty, not yet sent */
    uint64_t passes;            /* dirty-sync-count */
    uint64_t dirty_rate;        /* pages/s found dirty in the last pass */
    uint64_t mbps_x1000;        /* last pass throughput, Mbit/s * 1000 */
    uint64_t expected_downtime_ms;
    uint64_t downtime_ms;
    uint64_t wire_bytes;        /* bytes on the connection, both phases */
    uint64_t device_bytes;      /* of which device state */
    /* The process's MH counters when this job took it (they add up over
     * all migrations of the process). */
    uint64_t mh_base_saved;
    uint64_t mh_base_restored;
    uint64_t mh_base_zero;
    unsigned int mh_vcpus;      /* of the MH taken for this migration */
    bool guest_stopped;         /* we stopped it (source) */
    bool real_started;          /* the real QEMU's migration was started */
} MhQemuMigrateJob;

struct _MhQemuMigrate {
    MhQemu *qemu;
    MhQmpProxy *proxy;          /* libvirt's monitor */
    GMutex lock;
    uint64_t downtime_limit_ms;
    uint64_t max_bandwidth;     /* bytes/s, 0 = unlimited */
    uint64_t max_passes;
    /* How long the device-state phase (RAM done -> completed) took in the
     * last outgoing migration of this process; 0: none yet. (A target's
     * own view of that phase starts before the source's QEMU is even
     * asked to migrate, so it would overstate it.) */
    uint64_t device_phase_ms;
    GHashTable *fds;            /* name -> fd taken from getfd (GINT) */
    /* Capabilities libvirt turned on that the MH phase cannot honour
     * (migrate-set-capabilities); an MH migration refuses to start. */
    bool cap_postcopy;
    bool cap_multifd;
    GHashTable *hooked;         /* proxies with our event hook */
    MhQemuMigrateJob *job;      /* the current or last migration */
};

MhQemuMigrateMode mhQemuMigrateGetMode(MhQemu *qemu);
/* The process's migration state (qemu->migrate), created on first use. */
MhQemuMigrate *mhQemuMigrateGetState(MhQemu *qemu);

/* ---- for the migration threads ---- */

/* Run a QMP command on the real QEMU from a migration thread; the reply's
 * "return" (or NULL for {}) in *ret when wanted. A QMP error becomes a
 * GError with QEMU's description. */
bool mhQemuMigrateQmp(MhQemuMigrateJob *job, const char *command, JsonObject *args,
                      JsonNode **ret, GError **error);
/* Send an event to libvirt (data taken over, may be NULL). */
void mhQemuMigrateEmit(MhQemuMigrateJob *job, const char *event, JsonObject *data);
/* Set the status and send the MIGRATION event for it. */
void mhQemuMigrateSetStatus(MhQemuMigrateJob *job, MhQemuMigrateStatus status);
/* Wait for the real QEMU's migration to reach completed/failed/cancelled;
 * returns the final status name (static): "cancelled" on a cancel, and
 * "failed" after the stall timeout without an end. */
const char *mhQemuMigrateWaitQemu(MhQemuMigrateJob *job);
/* Seconds without progress before a migration gives up (qemu-mh.conf's
 * migrate_stall_timeout): the peer's stream, the device-state relay, the
 * wait for the real QEMU's end and the source's connect. */
unsigned int mhQemuMigrateStallTimeout(const MhQemuMigrateJob *job);
/* Set the cancel flag, and end a connect under way. */
void mhQemuMigrateJobCancel(MhQemuMigrateJob *job);
/* Record why the job is failing, for query-migrate, before its end. */
void mhQemuMigrateSetErrorDesc(MhQemuMigrateJob *job, const GError *error);
/* The job ends: status completed, or failed/cancelled with the reason. */
void mhQemuMigrateFinish(MhQemuMigrateJob *job, const GError *error);

/* The process's MH (mh-qmp-handler.c; borrowed, never freed by the
 * migration), started with the key captured from the secret table
 * injected into this launch; it maps live guest RAM from its start. */
MhMh *mhQemuMigrateNewMh(MhQemuMigrateJob *job, GError **error);
#define MH_QEMU_MIGRATE_SECRET_SIZE 0x1000

/* Relay the real QEMU's migration stream ('local') over the connection as
 * DEVICE messages, both directions, until both have ended. */
bool mhQemuMigrateRelay(MhQemuMigrateJob *job, MhQemuStream *stream, int local,
                        GError **error);
/* {"capabilities":[{"capability":"x-ignore-shared","state":true}]}: both
 * real QEMUs leave guest RAM (the MH's) out of their stream. */
JsonObject *mhQemuMigrateIgnoreShared(void);
/* The socket path for the real QEMU's side: in the domain's private
 * directory under libvirt, else in a new private directory (job->tmpdir). */
#define MH_QEMU_MIGRATE_SOCKET_NAME "mig.sock"
bool mhQemuMigrateLocalPath(MhQemuMigrateJob *job, GError **error);
/* Accept one connection on the listening socket 'lfd', polling so that a
 * cancel ends the wait; 'what' names the connection in the error. */
int mhQemuMigrateAccept(MhQemuMigrateJob *job, int lfd, const char *what, GError **error);

gpointer mhQemuMigrateSourceThread(gpointer data);
/* How long the full RAM compare after the stop will take, from one made
 * while the guest ran: 'wall_us' long, 'cpu_ns' of CPU on the MH's
 * 'vcpus' threads. It is CPU- and memory-bound, and once the guest's
 * vCPUs stop the MH's get min(vcpus, cpus) CPUs: the CPU time over those,
 * plus a quarter, but never more than the compare took while the guest
 * ran (docs/migration-stream.md, "Convergence"). */
uint64_t mhQemuMigrateStoppedCompareMs(gint64 wall_us, uint64_t cpu_ns, unsigned int vcpus,
                                       unsigned int cpus);
/* After a later pre-copy pass: may the source stop without another RAM
 * compare? Yes when the pages dirtied in 'since_us' at 'dirty_rate'
 * pages/s, sent at 'bw' bytes/s, plus 'fixed_ms' (compare and device
 * state) fit half of 'limit_ms'; '*pages' and '*expect_ms' are that
 * estimate (set whenever the inputs allow one). */
bool mhQemuMigrateStopWithoutCompare(uint64_t dirty_rate, gint64 since_us, double bw,
                                     uint64_t fixed_ms, uint64_t limit_ms,
                                     uint64_t *pages, uint64_t *expect_ms);
gpointer mhQemuMigrateTargetThread(gpointer data);
