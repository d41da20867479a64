/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest RAM as qemu-mh sees it: a shared file (on a private huge-page
 * tmpfs, else a memfd) that qemu-mh creates and QEMU maps as the guest's
 * memory backend (see mh-qemu-args.h), mapped here too, with the x86 PC/Q35 layout that turns guest physical
 * addresses into offsets: RAM below the PCI hole from GPA 0, the rest
 * from 4 GiB. Used for LAUNCH_SECRET injection and by the migration
 * handler. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/mh/mh-guest-ram.h"

typedef struct {
    uint64_t gpa;       /* guest physical start */
    uint64_t size;
    uint64_t offset;    /* offset in the memfd */
} MhQemuRamRegion;

typedef struct _MhQemuRam MhQemuRam;

/* Create and map a shared file of 'size' bytes (on 2 MiB pages where a
 * private huge-page tmpfs can be had, else a memfd) for a guest of machine type
 * 'machine' ("pc-q35-7.2", "pc-i440fx-7.2", "q35", "pc", ...; other
 * types get one region at GPA 0). The fd is not close-on-exec so that
 * QEMU inherits it. */
MhQemuRam *mhQemuRamNew(const char *name, uint64_t size, const char *machine,
                        GError **error);
void mhQemuRamFree(MhQemuRam *ram);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQemuRam, mhQemuRamFree)

int mhQemuRamGetFd(const MhQemuRam *ram);
/* What backs the pages (huge-page tmpfs file or memfd, and why), for the log. */
const char *mhQemuRamGetBacking(const MhQemuRam *ram);
uint64_t mhQemuRamGetSize(const MhQemuRam *ram);
/* Base of the whole mapping (memfd offset 0). */
uint8_t *mhQemuRamGetBase(const MhQemuRam *ram);
size_t mhQemuRamGetRegionCount(const MhQemuRam *ram);
const MhQemuRamRegion *mhQemuRamGetRegion(const MhQemuRam *ram, size_t i);

/* The map the migration handler uses: every region, as a shared mapping
 * of the memfd (restores write through the file). */
bool mhQemuRamGuestMap(const MhQemuRam *ram, MhGuestRam *map, GError **error);

/* Host pointer for [gpa, gpa + len), which must lie inside one RAM
 * region; NULL and an error naming the range otherwise. */
uint8_t *mhQemuRamTranslate(const MhQemuRam *ram, uint64_t gpa, uint64_t len,
                            GError **error);
bool mhQemuRamRead(const MhQemuRam *ram, uint64_t gpa, void *buf, size_t len,
                   GError **error);
bool mhQemuRamWrite(MhQemuRam *ram, uint64_t gpa, const void *buf, size_t len,
                    GError **error);

/* The layout alone (for tests): regions of a 'size'-byte guest. */
GArray *mhQemuRamLayout(const char *machine, uint64_t size);
