/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MH mailbox: one per MH vCPU, the RFC layout (OVMF/QEMU migration
 * handler RFC, Aug 2021) extended with a batch area. On real hardware it
 * sits in pages shared (unencrypted) between the host and the mirror VM;
 * everything in it is public: commands, GPAs, ciphertext, sealed records,
 * error messages. Plaintext and keys never enter it. */
#pragma once

#include <stdint.h>

#include "sim/mh/mh-transport.h"

#define MH_MAILBOX_PARAMS_OFFSET    0x0000
#define MH_MAILBOX_ENVELOPE_OFFSET  0x0800
#define MH_MAILBOX_PAGE_OFFSET      0x1000
#define MH_MAILBOX_BATCH_OFFSET     0x2000      /* extension */
#define MH_MAILBOX_ENVELOPE_MAX     1024
#define MH_MAILBOX_BATCH_MAX        MH_TRANSPORT_RECORD_MAX_SIZE
/* Two batch areas, whole pages each: the host reads a sealed record out of
 * one while the vCPU seals the next into the other. */
#define MH_MAILBOX_BATCH_AREAS      2
#define MH_MAILBOX_BATCH_STRIDE     ((8 + MH_MAILBOX_BATCH_MAX + 0xfff) & ~0xfffUL)
#define MH_MAILBOX_SIZE \
    (MH_MAILBOX_BATCH_OFFSET + MH_MAILBOX_BATCH_AREAS * MH_MAILBOX_BATCH_STRIDE)

/* Pages per SCAN_DIRTY: the bitmap fills at most the batch area. */
#define MH_MAILBOX_SCAN_MAX_PAGES   (8 * MH_MAILBOX_BATCH_MAX)

/* params at +0 (the RFC's, packed; every field naturally aligned) */
typedef struct __attribute__((packed)) {
    uint64_t cmd;
    uint64_t gpa;
    int32_t prefetch;
    int32_t ret;
    int32_t go;
    int32_t done;
} MhMailboxParams;

/* envelope at +0x800 */
typedef struct __attribute__((packed)) {
    uint32_t len;
    uint8_t data[MH_MAILBOX_ENVELOPE_MAX];
} MhMailboxEnvelope;

/* batch areas at +0x2000 and +0x2000 + MH_MAILBOX_BATCH_STRIDE (0x204000) */
typedef struct __attribute__((packed)) {
    uint32_t len;
    uint32_t reserved;
    uint8_t data[MH_MAILBOX_BATCH_MAX];
} MhMailboxBatch;

typedef enum {
    /* The RFC's commands. */
    MH_MAILBOX_CMD_INIT = 0,            /* the RFC's INIT from a guest address: refused
                                         * (invalid function); the key comes only
                                         * from LAUNCH_SECRET (mhMhStartWithKey) */
    MH_MAILBOX_CMD_SAVE_PAGE = 1,       /* gpa = page; envelope in: u32 iteration */
    MH_MAILBOX_CMD_RESTORE_PAGE = 2,    /* gpa = page; envelope + page buffer = record */
    MH_MAILBOX_CMD_RESET = 3,           /* end the session, keep the key */
    /* Extensions. */
    MH_MAILBOX_CMD_SESSION_HELLO = 0x10,    /* gpa = role; envelope out: hello */
    MH_MAILBOX_CMD_SESSION_PEER = 0x11,     /* envelope in: peer hello, out: confirm */
    MH_MAILBOX_CMD_SESSION_CONFIRM = 0x12,  /* envelope in: peer confirm */
    MH_MAILBOX_CMD_SAVE_BATCH = 0x13,       /* gpa = batch area (0, 1); in: iteration, n, gpas; out: record */
    MH_MAILBOX_CMD_RESTORE_BATCH = 0x14,    /* gpa = batch area; in: record; verified and staged */
    MH_MAILBOX_CMD_COMMIT = 0x15,           /* envelope in: n, slots; staged records take effect */
    MH_MAILBOX_CMD_SAVE_FINAL = 0x16,       /* batch out: final record */
    MH_MAILBOX_CMD_RESTORE_END = 0x17,      /* was the final record committed? */
    MH_MAILBOX_CMD_SCAN_DIRTY = 0x18,       /* gpa = batch area; in: gpa, n; out: bitmap of changed pages */
} MhMailboxCommand;

/* ret: 0, -1, -2 are the RFC's; the rest say why, so the host can report
 * a precise error (the envelope carries the message). */
typedef enum {
    MH_MAILBOX_RET_SUCCESS = 0,
    MH_MAILBOX_RET_INVALID_FUNCTION = -1,
    MH_MAILBOX_RET_AUTH = -2,           /* record tag */
    MH_MAILBOX_RET_KEY = -3,            /* key confirmation / key id */
    MH_MAILBOX_RET_SEQUENCE = -4,
    MH_MAILBOX_RET_GPA = -5,
    MH_MAILBOX_RET_TRUNCATED = -6,
    MH_MAILBOX_RET_COUNT = -7,
    MH_MAILBOX_RET_DIGEST = -8,
    MH_MAILBOX_RET_FORMAT = -9,
    MH_MAILBOX_RET_STATE = -10,
    MH_MAILBOX_RET_NO_KEY = -11,        /* INIT: no usable migration key */
    MH_MAILBOX_RET_PEER = -12,
    MH_MAILBOX_RET_INTERNAL = -13,
} MhMailboxRet;

G_STATIC_ASSERT(sizeof(MhMailboxParams) == 32);
G_STATIC_ASSERT(MH_MAILBOX_ENVELOPE_OFFSET + sizeof(MhMailboxEnvelope) <= MH_MAILBOX_PAGE_OFFSET);
