/* Guest RAM mapping, see mh-qemu-ram.h. */
#include "qemu/mh-qemu-ram.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MH_GIB (1ULL << 30)
#define MH_4GIB (4ULL << 30)

struct _MhQemuRam {
    int fd;
    uint64_t size;
    uint8_t *base;
    GArray *regions;    /* MhQemuRamRegion */
};

/* QEMU 7.2's split of RAM below 4 GiB (hw/i386/pc_q35.c, pc_piix.c,
 * without max-ram-below-4g): Q35 keeps 0xb0000000 below the hole unless
 * the guest has more, then 2 GiB; i440FX keeps 0xe0000000, or 3 GiB for
 * large guests. */
static uint64_t
mhQemuRamLowmem(const char *machine, uint64_t size)
{
    bool q35 = machine && (g_str_has_prefix(machine, "pc-q35") || g_str_equal(machine, "q35"));
    bool pc = machine && (g_str_has_prefix(machine, "pc-i440fx") || g_str_equal(machine, "pc") ||
                          g_str_has_prefix(machine, "pc-1."));

    if (q35)
        return size >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
    if (pc)
        return size >= 0xe0000000ULL ? 0xc0000000ULL : 0xe0000000ULL;
    return G_MAXUINT64;
}

GArray *
mhQemuRamLayout(const char *machine, uint64_t size)
{
    GArray *regions = g_array_new(FALSE, TRUE, sizeof(MhQemuRamRegion));
    uint64_t lowmem = mhQemuRamLowmem(machine, size);
    MhQemuRamRegion r = { 0, MIN(size, lowmem), 0 };

    g_array_append_val(regions, r);
    if (size > lowmem) {
        MhQemuRamRegion high = { MH_4GIB, size - lowmem, lowmem };
        g_array_append_val(regions, high);
    }
    return regions;
}

MhQemuRam *
mhQemuRamNew(const char *name, uint64_t size, const char *machine, GError **error)
{
    g_autoptr(MhQemuRam) ram = g_new0(MhQemuRam, 1);

    ram->fd = -1;
    ram->base = MAP_FAILED;
    if (size == 0 || size % 4096) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("guest RAM size %llu is not a multiple of 4 KiB"),
                    (unsigned long long)size);
        return NULL;
    }
    if ((ram->fd = memfd_create(name, 0)) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create memfd '%s' for guest RAM: %s"), name, g_strerror(errno));
        return NULL;
    }
    if (ftruncate(ram->fd, size) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot size guest RAM memfd to %llu bytes: %s"),
                    (unsigned long long)size, g_strerror(errno));
        return NULL;
    }
    ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
    if (ram->base == MAP_FAILED) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot map %llu bytes of guest RAM: %s"),
                    (unsigned long long)size, g_strerror(errno));
        return NULL;
    }
    ram->size = size;
    ram->regions = mhQemuRamLayout(machine, size);
    return g_steal_pointer(&ram);
}

void
mhQemuRamFree(MhQemuRam *ram)
{
    if (!ram)
        return;
    if (ram->base != MAP_FAILED)
        munmap(ram->base, ram->size);
    if (ram->fd >= 0)
        close(ram->fd);
    if (ram->regions)
        g_array_unref(ram->regions);
    g_free(ram);
}

int
mhQemuRamGetFd(const MhQemuRam *ram)
{
    return ram->fd;
}

uint64_t
mhQemuRamGetSize(const MhQemuRam *ram)
{
    return ram->size;
}

uint8_t *
mhQemuRamGetBase(const MhQemuRam *ram)
{
    return ram->base;
}

size_t
mhQemuRamGetRegionCount(const MhQemuRam *ram)
{
    return ram->regions->len;
}

const MhQemuRamRegion *
mhQemuRamGetRegion(const MhQemuRam *ram, size_t i)
{
    return &g_array_index(ram->regions, MhQemuRamRegion, i);
}

uint8_t *
mhQemuRamTranslate(const MhQemuRam *ram, uint64_t gpa, uint64_t len, GError **error)
{
    for (guint i = 0; i < ram->regions->len; i++) {
        const MhQemuRamRegion *r = &g_array_index(ram->regions, MhQemuRamRegion, i);

        if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
            return ram->base + r->offset + (gpa - r->gpa);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("guest range 0x%llx+0x%llx is not inside guest RAM"),
                (unsigned long long)gpa, (unsigned long long)len);
    return NULL;
}

bool
mhQemuRamRead(const MhQemuRam *ram, uint64_t gpa, void *buf, size_t len, GError **error)
{
    uint8_t *p = mhQemuRamTranslate(ram, gpa, len, error);

    if (!p)
        return false;
    memcpy(buf, p, len);
    return true;
}

bool
mhQemuRamWrite(MhQemuRam *ram, uint64_t gpa, const void *buf, size_t len, GError **error)
{
    uint8_t *p = mhQemuRamTranslate(ram, gpa, len, error);

    if (!p)
        return false;
    memcpy(p, buf, len);
    return true;
}

bool
mhQemuRamGuestMap(const MhQemuRam *ram, MhGuestRam *map, GError **error)
{
    mhGuestRamInit(map);
    for (size_t i = 0; i < mhQemuRamGetRegionCount(ram); i++) {
        const MhQemuRamRegion *r = mhQemuRamGetRegion(ram, i);

        if (!mhGuestRamAddFileRegion(map, r->gpa, r->size, mhQemuRamGetBase(ram) + r->offset,
                                     mhQemuRamGetFd(ram), r->offset, error))
            return false;
    }
    return true;
}
