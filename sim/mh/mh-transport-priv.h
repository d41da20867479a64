/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of the page transport shared by its two files:
 * mh-transport-session.c (handshake, keys) and mh-transport.c (records). */
#pragma once

#include "sim/mh/mh-transport.h"

#include <openssl/evp.h>

#define MH_TRANSPORT_HELLO_MAGIC "MHH1"
#define MH_TRANSPORT_VERSION 1
#define MH_TRANSPORT_IV_SIZE 12

#define INFO_PAGE_KEY "mirror-helper page key v1"
#define INFO_CONFIRM_KEY "mirror-helper confirm key v1"
#define INFO_PAGE_IV "mirror-helper page iv v1"
#define CONFIRM_LABEL "mirror-helper confirm v1"

typedef enum {
    SESSION_NEW,        /* hello drawn, peer unknown */
    SESSION_KEYED,      /* keys derived, peer not confirmed yet */
    SESSION_READY,      /* pages may move */
    SESSION_FINISHED,   /* final record sealed / committed */
    SESSION_FAILED,     /* a record or confirmation was refused */
} MhTransportSessionState;

struct _MhTransportSession {
    MhTransportRole role;
    MhConfCipher cipher;
    uint32_t key_id;
    uint8_t uuid[MH_TRANSPORT_UUID_SIZE];
    uint8_t nonce[MH_TRANSPORT_NONCE_SIZE];
    uint8_t hello[MH_TRANSPORT_HELLO_SIZE];
    uint8_t transcript[32];

    MhSecret *migration_key;
    MhSecret *page_key;
    MhSecret *confirm_key;
    uint8_t iv_base[MH_TRANSPORT_IV_SIZE];
    EVP_CIPHER *evp;

    GMutex lock;                /* protects everything below */
    MhTransportSessionState state;
    uint64_t seq_next;          /* seal: next to hand out; open: next expected */
    uint64_t chain_next;        /* seal: next sequence to enter the digest */
    GHashTable *pending;        /* seal: seq -> digest of records done early */
    uint8_t chain[32];          /* running digest over committed records */
    uint32_t iteration;         /* open: iterations never go back */
    uint64_t records;
    uint64_t pages;
    uint64_t zero_pages;
};

/* "AES-256-GCM" etc., for EVP_CIPHER_fetch and messages. */
const char *mhTransportCipherEvpName(MhConfCipher cipher);
void mhTransportSetCryptoError(GError **error, const char *what);

