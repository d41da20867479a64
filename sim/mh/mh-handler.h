/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The migration handler (MH), modelling the mirror VM: N MH vCPUs (worker
 * threads) each serve one mailbox; guest RAM is reached only through the
 * MhGuestRam map given at creation. This header is the host side, what
 * qemu-mh calls: it only ever handles public data (GPAs, hellos,
 * confirmations, sealed records). The key and plaintext stay in the MH's
 * private state (mh-vcpu.c). docs/migration-handler.md has the protocol. */
#pragma once

#include "util/mh-enum.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/mh/mh-guest-ram.h"
#include "sim/mh/mh-transport.h"

#define MH_MH_MAX_VCPUS 64

typedef enum {
    MH_MH_STATE_STOPPED,
    MH_MH_STATE_RUNNING,
    MH_MH_STATE_FAILED,

    MH_MH_STATE_LAST
} MhMhState;

MH_ENUM_DECL(mhMhState);

typedef struct _MhMh MhMh;

/* A stopped MH for the guest whose RAM is 'ram' (copied; the mappings
 * must outlive the MH). 'uuid' is the domain UUID (16 bytes). */
MhMh *mhMhNew(const MhGuestRam *ram, unsigned int vcpus, MhConfCipher cipher,
              const uint8_t uuid[MH_TRANSPORT_UUID_SIZE], GError **error);
/* Stops the MH and wipes its keys. */
void mhMhFree(MhMh *mh);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhMh, mhMhFree)

/* The migration key of one launch, held in MH-private memory. It comes
 * only from the secret table that LAUNCH_SECRET decrypted for THIS launch,
 * handed over by the SEV model (the PSP), never from an address in guest
 * RAM: in this simulation the host can write guest RAM (on SEV hardware it
 * cannot write plaintext there), so a table read from RAM could be one the
 * host forged, and a key it chose. Later migrations use this key, not what
 * the secret area holds by then (on a target: the copy restored from the
 * source). The host only holds the pointer; the key is wiped on free. */
typedef struct _MhMhLaunchKey MhMhLaunchKey;

/* Parse the decrypted secret table (the plaintext of LAUNCH_SECRET, 'len'
 * bytes); fails when it holds no migration-key entry or a malformed one. */
MhMhLaunchKey *mhMhLaunchKeyFromSecret(const void *table, size_t len, GError **error);
uint32_t mhMhLaunchKeyGetId(const MhMhLaunchKey *key);
void mhMhLaunchKeyFree(MhMhLaunchKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhMhLaunchKey, mhMhLaunchKeyFree)

/* Start the vCPUs with the migration key from 'key' (copied into the
 * MH's state): the only way an MH gets a key. */
bool mhMhStartWithKey(MhMh *mh, const MhMhLaunchKey *key, GError **error);

/* Point the MH at other guest memory with the same GPAs (qemu-mh: the
 * guest's memfd as mapped now). Ends the current session; the key stays.
 * The mappings must outlive the MH or the next call. */
bool mhMhSetGuestRam(MhMh *mh, const MhGuestRam *ram, GError **error);

/* Stop the vCPUs; the key, session keys and staged plaintext are wiped. */
void mhMhStop(MhMh *mh);

/* Session handshake; hello/confirm are opaque bytes for the wire.
 * Begin starts a fresh session (a failed MH becomes running again). */
bool mhMhSessionBegin(MhMh *mh, MhTransportRole role, GBytes **hello, GError **error);
bool mhMhSessionPeerHello(MhMh *mh, GBytes *peer_hello, GBytes **confirm, GError **error);
bool mhMhSessionPeerConfirm(MhMh *mh, GBytes *peer_confirm, GError **error);
/* End the session (RESET): session keys wiped, migration key kept. */
bool mhMhSessionReset(MhMh *mh, GError **error);

/* Source: seal the pages at 'gpas' (page aligned) in parallel on all
 * vCPUs; sealed records are appended to 'out' in sequence order. */
bool mhMhSavePages(MhMh *mh, const uint64_t *gpas, size_t n, uint32_t iteration,
                   GByteArray *out, GError **error);
/* The same, handing each record (in sequence order, straight from the
 * mailbox) to 'emit' while the other vCPUs go on sealing: e.g. to write it
 * to the migration socket without a copy. 'record' is valid during the
 * call only. If 'emit' fails (returns false with an error), the session is
 * reset, since the stream now misses records the MH sealed. */
typedef bool (*MhMhRecordFunc)(const uint8_t *record, size_t len, gpointer data,
                               GError **error);
bool mhMhSavePagesFunc(MhMh *mh, const uint64_t *gpas, size_t n, uint32_t iteration,
                       MhMhRecordFunc emit, gpointer data, GError **error);
/* Source: append (as guint64 GPAs, in GPA order) every page of guest RAM
 * that was not sealed in this session or whose contents changed since it
 * was; returns false on error. The MH compares page digests on all its
 * vCPUs (mh-page-digest.h); with the guest stopped the answer is exact:
 * after sealing those pages the target holds every page as it is. */
bool mhMhScanDirty(MhMh *mh, GArray *gpas, GError **error);
/* Source: append the final record; no more pages in this session. */
bool mhMhSaveFinish(MhMh *mh, GByteArray *out, GError **error);

/* Target: verify records in parallel and apply them in stream order.
 * The final record is refused (MH_TRANSPORT_ERROR_COUNT) unless every
 * page of the guest RAM map was restored at least once in this session:
 * the source must send every page (all-zero ones cost 8 bytes).
 * With 'consumed' NULL the buffer must hold whole records (a record cut
 * short is MH_TRANSPORT_ERROR_TRUNCATED); otherwise a trailing partial
 * record is left and *consumed says how far the records went. */
bool mhMhRestoreRecords(MhMh *mh, const void *data, size_t len, size_t *consumed,
                        GError **error);
/* Target: the stream ended; fails with MH_TRANSPORT_ERROR_TRUNCATED unless
 * the final record (with matching count and digest) was applied. */
bool mhMhRestoreFinish(MhMh *mh, GError **error);

/* The RFC's single-page commands, for completeness and tests: one record
 * per page, one mailbox round trip each (slow); restore must not be
 * interleaved with batches. */
bool mhMhSavePage(MhMh *mh, uint64_t gpa, uint32_t iteration, GByteArray *out,
                  GError **error);
bool mhMhRestorePage(MhMh *mh, uint64_t gpa, const void *record, size_t len,
                     GError **error);

typedef struct {
    MhMhState state;
    unsigned int vcpus;
    bool have_key;
    uint32_t key_id;
    MhConfCipher cipher;
    uint64_t pages_saved;
    uint64_t pages_restored;
    uint64_t zero_pages;
    uint64_t records_rejected;
    char *last_error;          /* NULL if none; free with mhMhInfoClear() */
} MhMhInfo;

/* CPU time of all MH vCPU threads so far (what the host knows of its vCPU
 * threads), in ns; thread-safe. */
uint64_t mhMhCpuTimeNs(MhMh *mh);

/* Thread-safe; may run while a save or restore is under way. */
void mhMhQuery(MhMh *mh, MhMhInfo *info);
void mhMhInfoClear(MhMhInfo *info);
