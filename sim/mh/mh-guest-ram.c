/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim/mh/mh-guest-ram.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MH_GUEST_RAM_PAGE 4096ULL

void
mhGuestRamInit(MhGuestRam *ram)
{
    memset(ram, 0, sizeof(*ram));
}

bool
mhGuestRamAddRegion(MhGuestRam *ram, uint64_t gpa, uint64_t size, void *host,
                    GError **error)
{
    if (size == 0 || (gpa | size) & (MH_GUEST_RAM_PAGE - 1) || gpa + size < gpa || !host) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("guest RAM region at GPA 0x%" PRIx64 ", size 0x%"
                      PRIx64 " is empty, not page aligned or unmapped"),
                    gpa, size);
        return false;
    }
    if (ram->nregions == MH_GUEST_RAM_MAX_REGIONS) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("more than %d guest RAM regions"), MH_GUEST_RAM_MAX_REGIONS);
        return false;
    }
    for (size_t i = 0; i < ram->nregions; i++) {
        const MhGuestRamRegion *r = &ram->regions[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + size) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("guest RAM region at GPA 0x%" PRIx64 " overlaps "
                          "the region at GPA 0x%" PRIx64 ""), gpa, r->gpa);
            return false;
        }
    }
    ram->regions[ram->nregions++] = (MhGuestRamRegion){ gpa, size, host, false, -1, 0 };
    return true;
}

bool
mhGuestRamAddFileRegion(MhGuestRam *ram, uint64_t gpa, uint64_t size, void *host,
                        int fd, uint64_t offset, GError **error)
{
    MhGuestRamRegion *r;

    if (fd < 0 || offset & (MH_GUEST_RAM_PAGE - 1)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("guest RAM region at GPA 0x%" PRIx64 ": file offset 0x%" PRIx64
                      " is not page aligned, or there is no file"), gpa, offset);
        return false;
    }
    if (!mhGuestRamAddRegion(ram, gpa, size, host, error))
        return false;
    r = &ram->regions[ram->nregions - 1];
    r->has_file = true;
    r->fd = fd;
    r->offset = offset;
    return true;
}

static const MhGuestRamRegion *
mhGuestRamFind(const MhGuestRam *ram, uint64_t gpa, uint64_t len)
{
    for (size_t i = 0; i < ram->nregions; i++) {
        const MhGuestRamRegion *r = &ram->regions[i];
        if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
            return r;
    }
    return NULL;
}

static bool
storeFailed(uint64_t gpa, int err, GError **error)
{
    g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot write guest RAM at GPA 0x%" PRIx64 ": %s"),
                gpa, g_strerror(err));
    return false;
}

bool
mhGuestRamStore(const MhGuestRam *ram, uint64_t gpa, const void *data, uint64_t len,
                GError **error)
{
    const MhGuestRamRegion *r = mhGuestRamFind(ram, gpa, len);
    uint64_t off;

    if (!r) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("cannot store 0x%" PRIx64 " bytes at GPA 0x%" PRIx64
                      ": not inside one region of guest RAM"), len, gpa);
        return false;
    }
    off = gpa - r->gpa;
    if (!r->has_file) {
        if (data)
            memcpy((uint8_t *)r->host + off, data, len);
        else
            memset((uint8_t *)r->host + off, 0, len);
        return true;
    }
    if (!data) {
        /* A hole reads as zeros through every mapping of the file. */
        if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      r->offset + off, len) == 0)
            return true;
        memset((uint8_t *)r->host + off, 0, len);
        return true;
    }
    /* Through the mapping, not write(): write() holds the file's inode
     * lock while it copies, so the MH vCPUs, each storing its own record,
     * would take turns (on the bench host, where every first touch of a
     * page is a fault in the hypervisor, two threads writing 1 GiB took
     * 3.3-3.6 s against 1.8-1.9 s through the mapping). Faults on
     * different pages proceed in parallel. Populating the range first
     * takes them in one call rather than one per 4 KiB page of a memfd,
     * and turns a full file system into an error instead of a SIGBUS in
     * the copy. Kernels before 5.14 lack it: write() there. */
    if (madvise((uint8_t *)r->host + off, len, MADV_POPULATE_WRITE) == 0) {
        memcpy((uint8_t *)r->host + off, data, len);
        return true;
    }
    if (errno != EINVAL)
        return storeFailed(gpa, errno, error);
    for (uint64_t done = 0; done < len;) {
        ssize_t n = pwrite(r->fd, (const uint8_t *)data + done, len - done,
                           r->offset + off + done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return storeFailed(gpa + done, n < 0 ? errno : ENOSPC, error);
        done += n;
    }
    return true;
}

void
mhGuestRamHoles(const MhGuestRam *ram, uint64_t gpa, uint64_t npages, bool *hole)
{
    const MhGuestRamRegion *r = mhGuestRamFind(ram, gpa, npages * MH_GUEST_RAM_PAGE);
    unsigned char vec[512];
    uint64_t off;

    memset(hole, 0, npages * sizeof(*hole));
    if (!r || !r->has_file)
        return;
    off = gpa - r->gpa;
    /* mincore() answers from the page cache in time linear in the range,
     * but calls a page of a tmpfs file that went to swap absent; so from
     * an absent page SEEK_DATA says where the data resumes, and the pages
     * before that are holes. (SEEK_HOLE would walk the whole data extent
     * after a page: all of RAM, for every page asked.) */
    for (uint64_t first = 0; first < npages; first += G_N_ELEMENTS(vec)) {
        uint64_t n = MIN(npages - first, G_N_ELEMENTS(vec));

        if (mincore((uint8_t *)r->host + off + first * MH_GUEST_RAM_PAGE,
                    n * MH_GUEST_RAM_PAGE, vec) < 0)
            return;             /* cannot tell: the rest is data */
        for (uint64_t i = 0; i < n; i++) {
            uint64_t at = r->offset + off + (first + i) * MH_GUEST_RAM_PAGE, end = n;
            off_t data;

            if (vec[i] & 1)
                continue;
            data = lseek(r->fd, at, SEEK_DATA);
            if (data < 0 && errno != ENXIO)
                return;
            if (data >= 0)
                end = MIN(n, i + (data - at) / MH_GUEST_RAM_PAGE);
            /* Holes up to the data; the page there (in swap) is data. */
            for (; i < end; i++)
                hole[first + i] = true;
        }
    }
}

void *
mhGuestRamTranslate(const MhGuestRam *ram, uint64_t gpa, uint64_t len)
{
    const MhGuestRamRegion *r = mhGuestRamFind(ram, gpa, len);

    return r ? (uint8_t *)r->host + (gpa - r->gpa) : NULL;
}

uint64_t
mhGuestRamSize(const MhGuestRam *ram)
{
    uint64_t total = 0;

    for (size_t i = 0; i < ram->nregions; i++)
        total += ram->regions[i].size;
    return total;
}
