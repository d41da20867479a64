/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's command-line rewriting: what libvirt passes to the emulator
 * is read once (mhQemuArgsParse), the settings qemu-mh acts on are kept,
 * and the command line for the real QEMU is rebuilt (mhQemuArgsBuild)
 * with what real QEMU cannot do removed or replaced:
 *
 *  - "-object sev-guest" and "-machine confidential-guest-support=": the
 *    SEV platform is qemu-mh's model; the parameters are kept here;
 *  - "-object mirror-helper": consumed, parsed by src/conf;
 *  - the monitors ("-chardev ... -mon mode=control", "-qmp"): QEMU gets
 *    one end of a socketpair, qemu-mh listens where QEMU would have;
 *  - "-pidfile", "-daemonize": done by qemu-mh for its own process;
 *  - guest RAM of SEV / mirror-helper guests: moved to a shared memfd that
 *    qemu-mh creates, so that it can reach guest memory.
 *
 * Everything else passes through untouched and in order. Options are
 * handled through a table (option name -> handler). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/mh-conf.h"

typedef struct {
    char *id;               /* chardev id ("charmonitor") */
    int listen_fd;          /* libvirt's listening socket, or -1 */
    char *path;             /* else: the path to listen on */
    int qemu_fd;            /* set by the launcher: QEMU's end */
} MhQemuMonitor;

typedef struct {
    char *id;
    uint32_t policy;
    char *dh_cert_file;     /* NULL: no session (random TEK/TIK) */
    char *session_file;
    bool kernel_hashes;
    uint32_t cbitpos;
    uint32_t reduced_phys_bits;
} MhQemuSevArgs;

typedef struct _MhQemuArgItem MhQemuArgItem;

typedef struct {
    GPtrArray *items;       /* MhQemuArgItem, the command line in order */
    bool daemonize;
    char *pidfile;
    GPtrArray *monitors;    /* MhQemuMonitor */
    MhQemuSevArgs *sev;     /* NULL without a sev-guest object */
    MhConfHelper *helper;   /* NULL without a mirror-helper object */
    char *name;             /* -name guest=, for log lines */
    uint8_t uuid[16];       /* -uuid, the domain's (binds the MH's session keys) */
    bool has_uuid;
    char *machine_type;     /* "pc-q35-7.2", NULL if not given */
    /* Guest RAM: the machine's memory backend (or one qemu-mh adds). */
    char *ram_backend_id;
    uint64_t ram_size;
    bool ram_shared;        /* RAM is moved to qemu-mh's memfd */
    int ram_fd;             /* set by the launcher when ram_shared */
    char *firmware;         /* pflash unit 0 / -bios image */
    char *kernel;
    char *initrd;
    char *append;
    bool probing;           /* "-machine none": capability probing */
} MhQemuArgs;

/* Parse libvirt's arguments (argv[0] excluded). */
MhQemuArgs *mhQemuArgsParse(int argc, char *const *argv, GError **error);
void mhQemuArgsFree(MhQemuArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQemuArgs, mhQemuArgsFree)

/* The real QEMU's argv (NULL-terminated; element 0 = real_qemu). Every
 * monitor needs its qemu_fd and, when ram_shared, ram_fd must be set. */
GStrv mhQemuArgsBuild(const MhQemuArgs *args, const char *real_qemu, GError **error);

