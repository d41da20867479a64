/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lab: several independent session-mode libvirt "hosts" on one machine.
 *
 * Each host N lives entirely under DIR/hostN/ (its own XDG directories,
 * sockets, host UUID and migration port range), so libvirt treats the hosts
 * as different machines and migrates between them. As root the daemons run
 * under the unprivileged system user MH_LAB_USER, so the machine's own
 * libvirt (/run/libvirt, /etc/libvirt) and /dev/sev are never touched.
 * See docs/lab.md. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#define MH_LAB_USER "mh-lab"           /* as root; env MH_LAB_USER overrides */
#define MH_LAB_MAX_HOSTS 16

/* The file in DIR that records what 'lab up' started. */
#define MH_LAB_STATE_FILE "lab.ini"

/* Processes serving a lab from outside its hosts (the demo's key broker
 * and relay) carry MH_LAB_SERVICE=DIR in their environment; "lab down"
 * stops them with the hosts. */
#define MH_LAB_SERVICE_ENV "MH_LAB_SERVICE"

typedef struct {
    guint index;            /* 1-based */
    char *dir;              /* DIR/hostN */
    char *home;             /* DIR/hostN/home: HOME of libvirtd and its QEMUs */
    char *socket;           /* DIR/hostN/run/libvirt/libvirt-sock */
    char *uri;
    char *uuid;             /* host_uuid */
    char *platformDir;      /* DIR/hostN/mh-platform */
    char *log;              /* DIR/hostN/libvirtd.log */
    char *bus;              /* virt-mhd's private bus address, or NULL */
    guint migrationPortMin;
    guint migrationPortMax;
    pid_t pid;              /* libvirtd, 0 when not started */
} MhLabHost;

typedef struct {
    char *dir;              /* absolute, symlinks resolved */
    char *user;             /* user the daemons run as */
    uid_t uid;
    gid_t gid;
    char *emulator;         /* DIR/bin/qemu-mh, NULL when not copied */
    GPtrArray *hosts;       /* MhLabHost */
} MhLab;

void mhLabFree(MhLab *lab);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhLab, mhLabFree)

/* Start 'nhosts' hosts in 'dir' (created if missing). Waits until every
 * daemon answers on its socket. On failure everything started is stopped
 * again and NULL is returned. 'qemuMh' is the qemu-mh binary to copy into
 * DIR/bin (NULL: no copy). */
MhLab *mhLabUp(const char *dir, guint nhosts, const char *qemuMh, GError **error);

/* Stop host N's libvirtd and start it again (its domains keep running). */
bool mhLabRestartHost(MhLab *lab, guint index, GError **error);

/* Read DIR/lab.ini. */
MhLab *mhLabLoad(const char *dir, GError **error);

/* Destroy the hosts' domains, stop their daemons and kill any process left
 * over from them. Files in DIR stay. 'strays' (optional) receives the number
 * of processes that were still around after the daemons had stopped. */
bool mhLabDown(MhLab *lab, guint *strays, GError **error);

/* The libvirt URI of a lab host listening on 'socket'. */
char *mhLabHostUri(const char *socket);

/* Whether the host's recorded libvirtd is still running (and is really
 * that host's daemon, not a process that reused the pid). */
bool mhLabHostAlive(const MhLab *lab, const MhLabHost *host);

/* mh-lab-proc.c: processes of the lab. */

/* Find or create the lab user (root only). */
bool mhLabProcEnsureUser(const char *name, uid_t *uid, gid_t *gid, GError **error);

/* Check, as uid/gid, that access(dir, mode) succeeds. */
bool mhLabProcCheckAccess(const char *dir, int mode, uid_t uid, gid_t gid, GError **error);

/* Start libvirtd for 'host' as uid/gid (dropping privileges when root),
 * detached in its own session, stdout/stderr into host->log. */
/* Any daemon of a host, as the lab user with the host's environment. */
bool mhLabProcSpawn(const char *const *argv, MhLabHost *host, uid_t uid, gid_t gid,
                    const char *user, const char *log, pid_t *pid, GError **error);
bool mhLabProcSpawnDaemon(const char *libvirtd, MhLabHost *host,
                          uid_t uid, gid_t gid, const char *user, GError **error);

/* Whether pid is a live (not zombie) process. */
bool mhLabProcAlive(pid_t pid);

/* Whether pid is a live process of uid that belongs to 'host'. */
bool mhLabProcIsHostProcess(pid_t pid, uid_t uid, const MhLabHost *host);

/* Send SIGTERM, wait up to timeoutMs, then SIGKILL. */
void mhLabProcStop(pid_t pid, guint timeoutMs);

/* Kill every process of uid that belongs to one of the hosts (HOME of a
 * host, or paths of a host's domains on its command line). Returns the
 * number of processes that had to be killed. */
guint mhLabProcKillStrays(const MhLab *lab);
/* For a lab whose directory (or state file) is gone: kill every process
 * whose HOME is a host home under 'dir' (what 'lab up' gives its daemons
 * and they pass on); returns how many. Processes of other users are
 * reached only as root. */
guint mhLabProcKillOrphans(const char *dir);
/* Stop the processes tagged MH_LAB_SERVICE=DIR (SIGTERM, then SIGKILL). */
guint mhLabProcKillServices(const char *dir);

/* Recursively hand 'path' to uid/gid (lchown, no symlink following). */
bool mhLabProcChown(const char *path, uid_t uid, gid_t gid, GError **error);

/* qemu-mh for the lab and the demo: $MH_QEMU_MH, else next to virt-mh in
 * the build tree (tools/virt-mh/virt-mh and sim/qemu-mh/qemu-mh) or
 * installed side by side. NULL when none is executable; *tried says where
 * it looked. */
char *mhLabFindQemuMh(char **tried);

/* mh-lab-platform.c: every host's SEV platform provisioned with the lab's
 * one platform owner (OCA), its certificates exported with mh-sevctl (found
 * next to qemuMh), and its host.conf written. */
bool mhLabPrepareHostPlatforms(const MhLab *lab, const char *qemuMh, GError **error);
/* (Re)write a host's host.conf; 'cacert' (may be NULL) verifies brokers. */
/* The host's host.conf run_dir: owner monitors, saved launches, hook.log. */
char *mhLabHostRunDir(const MhLabHost *host);
bool mhLabWriteHostConf(const MhLabHost *host, const char *cacert, GError **error);
/* mh-lab-bus.c: a private bus and virt-mhd per host (a warning, no
 * failure, when dbus-daemon or virt-mhd is missing). */
bool mhLabUpBuses(MhLab *lab, GError **error);
/* The hook built next to this program ($MH_HOOK overrides), or NULL. */
char *mhLabFindHook(void);
/* Put this build's hook into /etc/libvirt/hooks/qemu.d when it is missing
 * or differs (as root; otherwise say how). *installed: it was copied now. */
bool mhLabInstallHook(bool *installed, GError **error);
