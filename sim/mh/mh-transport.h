/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MH page transport: session handshake, key derivation and sealed page
 * records. Pure cryptography and byte layouts, no I/O and no threads of its
 * own; the migration handler (mh-handler.h) drives it. Layouts and the
 * reasoning behind them: docs/migration-handler.md. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/mh-conf.h"
#include "util/mh-enum.h"
#include "util/mh-util.h"

/* The transport reports its failures in a domain of its own so that every
 * kind of tampering has a code a caller (and a test) can tell apart; the
 * messages are translated like every MH_ERROR message. */
#define MH_TRANSPORT_ERROR (mhTransportErrorQuark())

typedef enum {
    MH_TRANSPORT_ERROR_FORMAT,      /* not a well-formed message or record */
    MH_TRANSPORT_ERROR_TAG,         /* AEAD tag did not verify */
    MH_TRANSPORT_ERROR_SEQUENCE,    /* replayed, reordered or missing record */
    MH_TRANSPORT_ERROR_GPA,         /* record bound to another GPA / GPA not in RAM */
    MH_TRANSPORT_ERROR_TRUNCATED,   /* stream ended before the final record */
    MH_TRANSPORT_ERROR_COUNT,       /* final record: page or record count differs */
    MH_TRANSPORT_ERROR_DIGEST,      /* final record: running digest differs */
    MH_TRANSPORT_ERROR_KEY,         /* key confirmation failed: wrong migration key */
    MH_TRANSPORT_ERROR_PEER,        /* peer hello disagrees (role, cipher, domain, key id) */
    MH_TRANSPORT_ERROR_STATE,       /* call not allowed in the session's state */
    MH_TRANSPORT_ERROR_CRYPTO,      /* OpenSSL failed */

    MH_TRANSPORT_ERROR_LAST
} MhTransportErrorCode;

GQuark mhTransportErrorQuark(void);


typedef enum {
    MH_TRANSPORT_ROLE_SOURCE,
    MH_TRANSPORT_ROLE_TARGET,

    MH_TRANSPORT_ROLE_LAST
} MhTransportRole;

MH_ENUM_DECL(mhTransportRole);

#define MH_TRANSPORT_KEY_SIZE 32
#define MH_TRANSPORT_NONCE_SIZE 32
#define MH_TRANSPORT_UUID_SIZE 16
#define MH_TRANSPORT_TAG_SIZE 16
#define MH_TRANSPORT_CONFIRM_SIZE 32
/* Pages per record: 2 MiB of plaintext amortizes the per-record cost
 * (one mailbox round trip with its two thread wakeups, one tag), and a
 * record of a pass in GPA order covers one aligned 2 MiB page of guest
 * RAM, which the target then fills in one write without the kernel
 * zeroing it first (docs/migration-handler.md, "Batches"). */
#define MH_TRANSPORT_MAX_BATCH 512

/* Hello: magic "MHH1", version, role, cipher, 0, domain UUID, key id (LE),
 * nonce. */
#define MH_TRANSPORT_HELLO_SIZE (4 + 4 + MH_TRANSPORT_UUID_SIZE + 4 + MH_TRANSPORT_NONCE_SIZE)

/* Record: fixed header, GPA list (low bit = zero page), ciphertext, tag.
 * Header + GPA list are the AEAD associated data. */
#define MH_TRANSPORT_RECORD_HEADER_SIZE 24
#define MH_TRANSPORT_RECORD_MAGIC 0x3152484dU   /* "MHR1" little-endian */
#define MH_TRANSPORT_GPA_ZERO 0x1ULL
#define MH_TRANSPORT_FINAL_PAYLOAD_SIZE (8 + 8 + 32)
#define MH_TRANSPORT_RECORD_MAX_SIZE \
    (MH_TRANSPORT_RECORD_HEADER_SIZE + 8 * MH_TRANSPORT_MAX_BATCH + \
     MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH + MH_TRANSPORT_TAG_SIZE)

typedef enum {
    MH_TRANSPORT_RECORD_PAGES = 1,
    MH_TRANSPORT_RECORD_FINAL = 2,
} MhTransportRecordType;

typedef struct _MhTransportSession MhTransportSession;

/* A session for one migration; 'key' is copied (and wiped with the
 * session). A fresh random nonce is drawn here. */
MhTransportSession *mhTransportSessionNew(MhTransportRole role,
                                          MhConfCipher cipher,
                                          const MhSecret *key,
                                          uint32_t key_id,
                                          const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                                          GError **error);
/* Same with a caller-chosen nonce: for known-answer tests only, a reused
 * nonce would reuse the page key. */
MhTransportSession *mhTransportSessionNewWithNonce(MhTransportRole role,
                                                   MhConfCipher cipher,
                                                   const MhSecret *key,
                                                   uint32_t key_id,
                                                   const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
                                                   const uint8_t nonce[MH_TRANSPORT_NONCE_SIZE],
                                                   GError **error);
void mhTransportSessionFree(MhTransportSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhTransportSession, mhTransportSessionFree)

MhTransportRole mhTransportSessionRole(const MhTransportSession *session);

/* Handshake: exchange hellos, then confirmations; pages move only once the
 * peer's confirmation verified (both directions). */
void mhTransportSessionHello(MhTransportSession *session,
                             uint8_t out[MH_TRANSPORT_HELLO_SIZE]);
/* Checks the peer's hello, derives the keys, writes our confirmation. */
bool mhTransportSessionPeerHello(MhTransportSession *session,
                                 const void *hello, size_t len,
                                 uint8_t confirm[MH_TRANSPORT_CONFIRM_SIZE],
                                 GError **error);
/* Constant-time check of the peer's confirmation (MH_TRANSPORT_ERROR_KEY). */
bool mhTransportSessionPeerConfirm(MhTransportSession *session,
                                   const void *confirm, size_t len,
                                   GError **error);
bool mhTransportSessionReady(const MhTransportSession *session);

/* --- Sealing (source) ---------------------------------------------------
 * Thread-safe: workers seal in parallel; each record takes the next
 * sequence number at sealing time, and the running digest is kept in
 * sequence order whatever order the workers finish in.
 * 'pages[i]' points at the plaintext of gpas[i] (page aligned GPAs);
 * all-zero pages are sent as a flag. 'out' receives
 * mhTransportRecordSize(n, nonzero) bytes, at most MH_TRANSPORT_RECORD_MAX_SIZE;
 * returns the record length. */
bool mhTransportSealPages(MhTransportSession *session,
                          const uint64_t *gpas, const void *const *pages, size_t n,
                          uint32_t iteration,
                          uint8_t *out, size_t out_size, size_t *out_len,
                          GError **error);
/* The final record (count + digest); fails while records are in flight. */
bool mhTransportSealFinal(MhTransportSession *session,
                          uint8_t *out, size_t out_size, size_t *out_len,
                          GError **error);

/* --- Opening (target) ---------------------------------------------------
 * Two steps so that workers can verify and decrypt in parallel while the
 * records still take effect strictly in sequence order:
 *   mhTransportOpenVerify (parallel): framing, tag, decrypt into 'plain';
 *   mhTransportOpenCommit (serial):   sequence, digest, counts.
 * Plaintext must not reach guest memory before the commit succeeded. */
typedef struct {
    MhTransportRecordType type;
    uint32_t iteration;
    uint64_t seq;
    size_t npages;
    uint64_t gpas[MH_TRANSPORT_MAX_BATCH];      /* page addresses, flag cleared */
    bool zero[MH_TRANSPORT_MAX_BATCH];
    /* Non-zero pages in order, npages - nzero of them (FINAL: the payload). */
    uint8_t *plain;
    size_t plain_len;
    uint8_t digest[32];                          /* hash of header + tag */
} MhTransportOpened;

/* 'plain' must hold MH_PAGE_SIZE * MH_TRANSPORT_MAX_BATCH bytes.
 * 'expect_gpas' (optional): the addresses the caller means to restore to;
 * a record sealed for other addresses is refused (MH_TRANSPORT_ERROR_GPA). */
bool mhTransportOpenVerify(MhTransportSession *session,
                           const void *record, size_t len,
                           const uint64_t *expect_gpas, size_t n_expect,
                           uint8_t *plain, MhTransportOpened *opened,
                           GError **error);
bool mhTransportOpenCommit(MhTransportSession *session,
                           const MhTransportOpened *opened,
                           GError **error);
/* Verify + commit in one go (single-threaded use and tests). */
bool mhTransportOpen(MhTransportSession *session,
                     const void *record, size_t len,
                     const uint64_t *expect_gpas, size_t n_expect,
                     uint8_t *plain, MhTransportOpened *opened,
                     GError **error);
/* The stream ended: true only if the final record was committed
 * (MH_TRANSPORT_ERROR_TRUNCATED otherwise). */
bool mhTransportOpenEnd(MhTransportSession *session, GError **error);

/* Any failure of seal/open marks the session failed: nothing more is
 * accepted under its keys. */
bool mhTransportSessionFailed(const MhTransportSession *session);
/* Fail the session from outside (a record the caller refuses after it
 * verified, e.g. for a GPA outside guest RAM). */
void mhTransportSessionAbort(MhTransportSession *session);

/* Counters (pages include zero pages). */
void mhTransportSessionCounts(MhTransportSession *session,
                              uint64_t *records, uint64_t *pages, uint64_t *zero_pages);

/* --- Framing, for the untrusted host side --------------------------------
 * Length of the record at the start of 'buf' from its header alone:
 * returns false with *need = header bytes still missing when 'avail' is
 * shorter than a header; the header is not authenticated yet. */
bool mhTransportRecordFrame(const void *buf, size_t avail,
                            size_t *record_len, size_t *need, GError **error);
size_t mhTransportRecordSize(size_t npages, size_t nonzero);
/* Read the (unauthenticated) type and sequence number of a record. */
bool mhTransportRecordPeek(const void *record, size_t len,
                           MhTransportRecordType *type, uint64_t *seq,
                           size_t *npages);
