#include "mh/mh-guest-ram.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
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
    for (uint64_t done = 0; done < len;) {
        ssize_t n = pwrite(r->fd, (const uint8_t *)data + done, len - done,
                           r->offset + off + done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("cannot write guest RAM at GPA 0x%" PRIx64 ": %s"),
                        gpa + done, n < 0 ? g_strerror(errno) : _("short write"));
            return false;
        }
        done += n;
    }
    return true;
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
