/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals shared by the host side (mh-handler.c) and the MH vCPUs
 * (mh-vcpu.c). The split mirrors the trust boundary: MhMhPrivate is the
 * mirror VM's private memory (key, session, staged plaintext) and only
 * mh-vcpu.c touches it; the host side only writes mailboxes and reads the
 * status counters. */
#pragma once

#include "sim/mh/mh-handler.h"
#include "sim/mh/mh-mailbox.h"

#include <pthread.h>
#include <time.h>

typedef struct _MhMhPrivate MhMhPrivate;

typedef struct {
    MhMh *mh;
    unsigned int index;
    uint8_t *mailbox;           /* MH_MAILBOX_SIZE bytes */
    GMutex lock;                /* with cond: the doorbell (go/done) */
    GCond cond;
    bool quit;
    GThread *thread;
    clockid_t cpu_clock;        /* the thread's CPU-time clock (set by the thread) */
    gint cpu_clock_set;
    void *held;                 /* MH side: session reference of the running command */
} MhMhVcpu;

struct _MhMh {
    unsigned int vcpus;
    MhGuestRam ram;             /* the GPA layout (the host's view, no contents) */
    MhMhVcpu *vcpu;
    MhMhPrivate *priv;
    MhConfCipher cipher;
    MhTransportRole role;
    GMutex host_lock;           /* one host operation at a time */
    bool started;
    uint64_t next_seq;          /* source: sequence of the next record to emit */
    /* Any vCPU finishing a command broadcasts here too, so the host can
     * wait for whichever finishes first. */
    GMutex done_lock;
    GCond done_cond;

    GMutex status_lock;
    MhMhState state;
    bool have_key;
    uint32_t key_id;
    char *last_error;
    /* Bumped by the vCPUs (atomically). */
    guint64 pages_saved;
    guint64 pages_restored;
    guint64 zero_pages;
    guint64 records_rejected;
};

MhMhPrivate *mhMhPrivateNew(const MhGuestRam *ram, unsigned int vcpus,
                            MhConfCipher cipher,
                            const uint8_t uuid[MH_TRANSPORT_UUID_SIZE]);
/* Wipes keys and staged plaintext. */
void mhMhPrivateFree(MhMhPrivate *priv);
void mhMhPrivateWipe(MhMhPrivate *priv);

/* INIT from a captured launch key; returns its key id. */
uint32_t mhMhPrivateInitFromKey(MhMhPrivate *priv, const MhMhLaunchKey *lk);
/* Map other guest memory (drops the session). */
void mhMhPrivateSetRam(MhMhPrivate *priv, const MhGuestRam *ram);

/* The host's mailbox protocol (mh-handler.c), shared with the source-side
 * calls in mh-handler-save.c. The host lock is the caller's. */
void mhMhHostKick(MhMhVcpu *v, MhMailboxCommand cmd, uint64_t gpa);
int mhMhHostWait(MhMhVcpu *v);
void mhMhHostError(MhMhVcpu *v, int ret, GError **error);
/* Records 'err' (taken) as the MH's state and passes it on; returns false. */
bool mhMhHostFail(MhMh *mh, GError *err, GError **error);
bool mhMhHostCall(MhMh *mh, unsigned int slot, MhMailboxCommand cmd, uint64_t gpa,
                  GError **error);
bool mhMhHostCheckStarted(MhMh *mh, GError **error);
void mhMhHostSetState(MhMh *mh, MhMhState state, const GError *err, bool rejected);

/* Thread body of one MH vCPU. */
gpointer mhMhVcpuRun(gpointer data);

static inline MhMailboxParams *
mhMhVcpuParams(MhMhVcpu *v)
{
    return (MhMailboxParams *)(v->mailbox + MH_MAILBOX_PARAMS_OFFSET);
}

static inline MhMailboxEnvelope *
mhMhVcpuEnvelope(MhMhVcpu *v)
{
    return (MhMailboxEnvelope *)(v->mailbox + MH_MAILBOX_ENVELOPE_OFFSET);
}

static inline uint8_t *
mhMhVcpuPage(MhMhVcpu *v)
{
    return v->mailbox + MH_MAILBOX_PAGE_OFFSET;
}

static inline MhMailboxBatch *
mhMhVcpuBatchArea(MhMhVcpu *v, unsigned int area)
{
    return (MhMailboxBatch *)(v->mailbox + MH_MAILBOX_BATCH_OFFSET +
                              area * MH_MAILBOX_BATCH_STRIDE);
}

/* Batch area 0, which every batch command but SAVE_BATCH uses. */
static inline MhMailboxBatch *
mhMhVcpuBatch(MhMhVcpu *v)
{
    return mhMhVcpuBatchArea(v, 0);
}
