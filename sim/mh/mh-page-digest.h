/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page digests for the source MH's dirty tracking (docs/migration-stream.md
 * section 4). The MH copies each page it seals into its private memory,
 * digests that copy and seals that copy, so a digest always describes the
 * exact bytes the target received; a later scan digests the live page and
 * calls it dirty when the digests differ (or the page was never sent).
 *
 * The digest is not a MAC: 128 bits of a seeded hash over several
 * independent lanes, chosen for speed (it must run near memory bandwidth,
 * since the stopped-guest scan reads all of RAM). Each lane step is a
 * bijection of the lane for a fixed input word, so a change confined to
 * one lane's words is always detected; for wider changes a collision
 * needs a 128-bit coincidence. The seed is random per session and lives only in
 * MH-private memory, so nobody outside can aim for a collision. */
#pragma once

#include "util/mh-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>


typedef struct {
    uint64_t lo;
    uint64_t hi;
} MhPageDigest;

/* 'seed' is 4 random words. With AES-NI four AES-round lanes, else
 * the portable function below (the two give different digests; a process
 * uses one). */
void mhPageDigestCompute(const void *page, const uint64_t seed[4], MhPageDigest *out);
/* Eight 64-bit multiply-rotate lanes, for CPUs without AES-NI. */
void mhPageDigestComputePortable(const void *page, const uint64_t seed[4], MhPageDigest *out);

/* One digest per page of a guest RAM map (page index numbering) plus a bit
 * per page saying whether it was sent in this session. Pages are recorded
 * by several MH vCPUs at once (different pages), scanned by several. */
typedef struct _MhPageDigestTable MhPageDigestTable;

/* A table for 'npages' pages with a fresh random seed; NULL if the
 * system's random source fails. */
MhPageDigestTable *mhPageDigestTableNew(uint64_t npages);
/* Wipes the seed and digests. */
void mhPageDigestTableFree(MhPageDigestTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhPageDigestTable, mhPageDigestTableFree)

/* Page 'index' (< size) was sent with the contents 'page'. */
void mhPageDigestTableRecord(MhPageDigestTable *table, uint64_t index, const void *page);
/* Was page 'index' never sent, or do its contents 'page' differ from what
 * was? */
bool mhPageDigestTableIsDirty(const MhPageDigestTable *table, uint64_t index,
                              const void *page);
