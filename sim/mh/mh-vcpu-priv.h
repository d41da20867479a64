/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mirror VM's private memory (MhMhPrivate) and what the MH vCPU code
 * shares between the source side (mh-vcpu.c: INIT, sessions, sealing, the
 * dirty scan) and the target side (mh-vcpu-restore.c). Only the vCPUs
 * touch any of it; the host side sees the mailboxes alone. */
#pragma once

#include "sim/mh/mh-handler-priv.h"
#include "sim/mh/mh-page-digest.h"
#include "util/mh-util.h"

typedef struct {
    GMutex lock;                /* held while verifying into / committing from */
    bool staged;                /* verified, waiting for COMMIT */
    /* Committed, its pages not yet in guest RAM: this vCPU stores them
     * before it verifies its next record, or COMMIT / RESTORE_END do. */
    bool pending_store;
    uint8_t *plain;             /* MH_TRANSPORT_MAX_BATCH pages */
    MhTransportOpened opened;
} MhMhStaging;

/* A session and what lives and dies with it. Counted: a vCPU holds a
 * reference for the length of one command, so that a RESET or a new
 * session issued on another vCPU (a host may do that) never frees what a
 * busy vCPU is using. */
typedef struct {
    gatomicrefcount ref;
    MhTransportSession *s;
    /* Target: one bit per page of guest RAM restored in this session, so
     * that a host which leaves pages out is caught at the final record. */
    uint8_t *coverage;
    uint64_t coverage_pages;
    uint64_t covered;
    /* Source: the digest of every page as sealed, for SCAN_DIRTY. */
    MhPageDigestTable *digests;
} MhMhSession;

struct _MhMhPrivate {
    MhGuestRam ram;
    MhConfCipher cipher;
    uint8_t uuid[MH_TRANSPORT_UUID_SIZE];
    unsigned int vcpus;

    GMutex lock;                /* key and session pointer */
    MhSecret *key;
    uint32_t key_id;
    MhMhSession *session;
    MhMhStaging *staging;       /* one per vCPU */
};


/* The session for this command, referenced until the command ends;
 * 'role' -1 accepts either role. */
MhMhSession *mhMhVcpuSession(MhMhVcpu *v, MhMhPrivate *priv, int role, GError **error);
/* Page number over all RAM regions (the GPA must be mapped), and back. */
uint64_t mhMhPageIndex(const MhGuestRam *ram, uint64_t gpa);
uint64_t mhMhPageGpa(const MhGuestRam *ram, uint64_t index);

/* The batch area a batch command names in params.gpa (0 or 1); NULL and
 * a FORMAT error naming 'command' for any other value. */
MhMailboxBatch *mhMhVcpuBatchArg(MhMhVcpu *v, const char *command, GError **error);

/* Target-side commands (mh-vcpu-restore.c). */
bool mhMhVcpuRestoreBatch(MhMhVcpu *v, MhMhPrivate *priv, GError **error);
bool mhMhVcpuCommit(MhMhVcpu *v, MhMhPrivate *priv, GError **error);
bool mhMhVcpuRestorePage(MhMhVcpu *v, MhMhPrivate *priv, GError **error);
bool mhMhVcpuRestoreEnd(MhMhVcpu *v, MhMhPrivate *priv, GError **error);
