/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh: the QEMU front-end that libvirt runs as <emulator>. It runs
 * the real qemu-system-x86_64 as its child, proxies QEMU's QMP monitors
 * (mh-qmp.h), rewrites the command line (mh-qemu-args.h), owns guest RAM
 * (mh-qemu-ram.h) and models the SEV platform (mh-qemu-sev.c) that the
 * machine lacks.
 *
 * QMP commands that qemu-mh answers itself are listed in one table,
 * mhQemuCommands[] (mh-qemu-commands.c); a new command is one entry
 * there plus its handler (void handler(MhQmpRequest *req, gpointer
 * opaque), opaque being the MhQemu) in a file of its own. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "sim/mh/mh-handler.h"
#include "sim/qemu/mh-qemu-args.h"
#include "sim/qemu/mh-qemu-conf.h"
#include "sim/qemu/mh-qemu-ram.h"
#include "sim/qemu/mh-qmp.h"
#include "sim/psp/mh-sev-platform.h"

/* The platform's C-bit position and physical address reduction, as an
 * AMD EPYC (Rome/Milan) reports them in CPUID 0x8000001F. */
#define MH_QEMU_SEV_CBITPOS 47
#define MH_QEMU_SEV_REDUCED_PHYS_BITS 1

typedef struct _MhQemu MhQemu;
typedef struct _MhQemuMigrate MhQemuMigrate;

/* The SEV model tells whoever listens that LAUNCH_SECRET succeeded, with
 * the decrypted secret table it wrote into guest RAM. */
typedef void (*MhQemuLaunchSecretFunc)(MhQemu *qemu, const void *table, size_t len);

/* All of qemu-mh's state, one per process, torn down by mhQemuClear() in
 * this order: the QMP proxies, the migration (its thread joined), the MH
 * (its vCPUs stopped, keys wiped), this launch's migration key, guest
 * RAM, the SEV launch and platform, the arguments. */
struct _MhQemu {
    MhQemuConf *conf;           /* qemu-mh.conf */
    MhQemuArgs *args;
    char *real_qemu;
    char *platform_dir;         /* resolved lazily */
    MhSevPlatform *platform;    /* loaded lazily */
    MhSevLaunch *launch;        /* SEV guests, from before QEMU starts */
    GBytes *firmware;           /* the measured image (SEV guests) */
    MhQemuRam *ram;             /* when args->ram_shared */
    GPtrArray *proxies;         /* MhQmpProxy, one per proxied monitor */
    GPid qemu_pid;
    int qemu_status;            /* wait status once QEMU exited */
    bool qemu_exited;
    GMainLoop *loop;
    int ready_pipe;             /* daemonize: tells the parent we are up */
    guint ready_count;
    guint upstreams_closed;     /* monitors QEMU has closed */
    guint finish_timer;
    guint kill_timer;
    guint stderr_watch;
    int stderr_pipe;
    MhQemuLaunchSecretFunc on_launch_secret;   /* set when the guest has a helper */

    /* The migration handler. The migration threads reach it too, hence
     * the lock; 'armed' is read by them without it. */
    GMutex mh_lock;
    MhMh *mh;                   /* created on first start, kept for the process */
    MhMhLaunchKey *launch_key;  /* captured at LAUNCH_SECRET of this launch */
    gint armed;                 /* arm-migration-handler, for mode=on-request */
    MhQemuMigrate *migrate;     /* created on first use */
};

/* Tear down in the order above; 'qemu' itself belongs to the caller. */
void mhQemuClear(MhQemu *qemu);

/* qemu-mh's locally answered QMP commands, terminated by { NULL, NULL }. */
extern const MhQmpCommand mhQemuCommands[];

/* Run qemu-mh: returns the exit status (or does not return when it must
 * die from the signal that killed QEMU). */
int mhQemuMain(int argc, char **argv);

/* Log a line to stderr (the domain's log file), QEMU style. */
void mhQemuLog(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* The host's SEV platform state directory: platform_dir of qemu-mh.conf;
 * else /var/lib/mirror-helper/platform for root,
 * ~/.local/state/mirror-helper/platform of the user's real home otherwise. */
char *mhQemuPlatformDir(const MhQemuConf *conf);
/* The platform, loaded (or created) on first use. */
MhSevPlatform *mhQemuGetPlatform(MhQemu *qemu, GError **error);

/* SEV launch before QEMU starts: LAUNCH_START from libvirt's session
 * files, the firmware (and kernel hashes) measured, LAUNCH_MEASURE. Errors
 * are worded as QEMU's and end the start-up. */
bool mhQemuSevLaunch(MhQemu *qemu, GError **error);
/* Where LAUNCH_SECRET puts the secret table when the command names no gpa:
 * the firmware's SEV secret area when the (measured) firmware defines one,
 * as QEMU does, else the mirror-helper object's secret GPA. 'source' says
 * which, for log lines. False when neither exists. */
bool mhQemuSecretArea(MhQemu *qemu, uint64_t *gpa, uint64_t *size, const char **source);
/* Event hook: the first RESUME is LAUNCH_FINISH (state running). */
void mhQemuSevEvent(MhQmpProxy *proxy, const char *event, JsonObject *message,
                    gpointer opaque);

/* The handlers of mhQemuCommands[]. */
void mhQemuCmdQuerySevCapabilities(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdQuerySev(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdQuerySevLaunchMeasure(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdSevInjectLaunchSecret(MhQmpRequest *req, gpointer opaque);
void mhQemuCmdQuerySevAttestationReport(MhQmpRequest *req, gpointer opaque);
