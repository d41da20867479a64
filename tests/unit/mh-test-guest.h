/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The unit tests' guest: two RAM regions (below 4 GiB and above), the
 * migration key injected into the secret area the way LAUNCH_SECRET leaves
 * it, and a source/target pair of MHs. Shared by the MH tests. */
#pragma once

#include "sim/mh/mh-handler.h"
#include "util/mh-util.h"

#include <stdbool.h>
#include <stdint.h>

#define PAGE 4096
#define LOW_SIZE (12 * 1024 * 1024)
#define HIGH_GPA 0x100000000ULL
#define HIGH_SIZE (4 * 1024 * 1024)
#define SECRET_GPA 0x80C000ULL
#define SECRET_SIZE 0xC00


extern const uint8_t testUuid[16];

typedef struct {
    uint8_t *low;
    uint8_t *high;
    MhGuestRam ram;
} Guest;

/* RAM filled with random bytes, or zeros. */
void guestInit(Guest *g, bool random);
void guestClear(Guest *g);
/* What LAUNCH_SECRET leaves in the secret area: the owner's table. */
void guestInjectKey(Guest *g, const MhSecret *key);
/* Start the MH with the key of the table at SECRET_GPA, as qemu-mh does
 * with what LAUNCH_SECRET decrypted. */
bool guestStartMh(MhMh *mh, const Guest *g, GError **error);
MhSecret *randomKey(void);

typedef struct {
    Guest src_guest;
    Guest dst_guest;
    MhSecret *key;
    MhMh *src;
    MhMh *dst;
} Pair;

/* Two guests with MHs started from their secret areas; the target's key
 * differs when 'wrong_key'. */
void pairInit(Pair *p, unsigned int src_vcpus, unsigned int dst_vcpus, MhConfCipher cipher,
              bool wrong_key);
bool pairHandshake(Pair *p, GError **error);
void pairClear(Pair *p);
/* Every page of the guest, low region then high. */
uint64_t *allGpas(size_t *n);
