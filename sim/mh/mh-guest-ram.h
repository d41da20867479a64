/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the migration handler sees guest RAM: a list of guest-physical
 * regions, each mapped somewhere in this process (qemu-mh maps the guest's
 * memfd). The MH reads pages through it when saving and writes through it
 * only when restoring on a target. The mappings (and files) are the
 * caller's: they must stay valid while an MH uses them. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MH_GUEST_RAM_MAX_REGIONS 16

typedef struct {
    uint64_t gpa;       /* guest-physical start, page aligned */
    uint64_t size;      /* bytes, page aligned */
    void *host;         /* where the region is mapped in this process */
    bool has_file;      /* 'host' is a shared mapping of 'fd' at 'offset' */
    int fd;
    uint64_t offset;
} MhGuestRamRegion;

typedef struct {
    size_t nregions;
    MhGuestRamRegion regions[MH_GUEST_RAM_MAX_REGIONS];
} MhGuestRam;

/* Start with an empty map (or zero the struct). */
void mhGuestRamInit(MhGuestRam *ram);
/* Add a region; refuses unaligned, empty, overlapping or too many regions. */
bool mhGuestRamAddRegion(MhGuestRam *ram, uint64_t gpa, uint64_t size, void *host,
                         GError **error);
/* The same for a region that is a shared mapping of 'fd' at 'offset':
 * restores then write through the file (mhGuestRamStore). */
bool mhGuestRamAddFileRegion(MhGuestRam *ram, uint64_t gpa, uint64_t size, void *host,
                             int fd, uint64_t offset, GError **error);
/* Store 'len' bytes (whole pages) at 'gpa', inside one region: 'data', or
 * zeros when 'data' is NULL. Safe to call from several threads for
 * disjoint ranges, and they do not serialize. In a file region zeros
 * punch a hole instead of allocating a page. The error names the GPA. */
bool mhGuestRamStore(const MhGuestRam *ram, uint64_t gpa, const void *data, uint64_t len,
                     GError **error);
/* Which of the 'npages' pages from 'gpa' are holes in the file behind
 * their region (hole[i] for page i): a hole reads as zeros, and reading it
 * through a shared mapping would make tmpfs allocate and zero a page. All
 * false where the range is not in one file region or the file cannot
 * tell; a page written meanwhile may still be called a hole. */
void mhGuestRamHoles(const MhGuestRam *ram, uint64_t gpa, uint64_t npages, bool *hole);
/* Host pointer for [gpa, gpa + len) if it lies inside one region, else NULL. */
void *mhGuestRamTranslate(const MhGuestRam *ram, uint64_t gpa, uint64_t len);
/* Total bytes mapped. */
uint64_t mhGuestRamSize(const MhGuestRam *ram);
