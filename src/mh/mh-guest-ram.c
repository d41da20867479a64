#include "mh/mh-guest-ram.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <string.h>

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
    ram->regions[ram->nregions++] = (MhGuestRamRegion){ gpa, size, host };
    return true;
}

void *
mhGuestRamTranslate(const MhGuestRam *ram, uint64_t gpa, uint64_t len)
{
    for (size_t i = 0; i < ram->nregions; i++) {
        const MhGuestRamRegion *r = &ram->regions[i];
        if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
            return (uint8_t *)r->host + (gpa - r->gpa);
    }
    return NULL;
}

uint64_t
mhGuestRamSize(const MhGuestRam *ram)
{
    uint64_t total = 0;

    for (size_t i = 0; i < ram->nregions; i++)
        total += ram->regions[i].size;
    return total;
}
