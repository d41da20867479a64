/* Shadow-copy dirty tracking (see mh-qemu-dirty.h). */
#include "qemu/mh-qemu-dirty.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    uint64_t gpa;
    uint64_t size;
    uint8_t *live;
    uint8_t *shadow;
    uint64_t first_page;        /* index of its first page in 'captured' */
} MhQemuDirtyRegion;

struct _MhQemuDirty {
    size_t nregions;
    MhQemuDirtyRegion regions[MH_GUEST_RAM_MAX_REGIONS];
    MhGuestRam shadow_map;
    uint64_t total_pages;
    uint64_t captured_count;
    /* One bit per page: captured at least once. Only the migration thread
     * writes it, scans read it. */
    guint64 *captured;
    /* Shadow mapped copy-on-write from the guest's memfd: one bit per
     * page whose shadow is private already (a later capture copies). */
    bool cow;
    guint64 *private;
};

static MhQemuDirty *
mhQemuDirtyNewFull(const MhGuestRam *live, int fd, const uint64_t *offsets, GError **error)
{
    g_autoptr(MhQemuDirty) dirty = g_new0(MhQemuDirty, 1);

    mhGuestRamInit(&dirty->shadow_map);
    dirty->cow = fd >= 0;
    for (size_t i = 0; i < live->nregions; i++) {
        const MhGuestRamRegion *lr = &live->regions[i];
        MhQemuDirtyRegion *r = &dirty->regions[i];
        void *map;

        if (lr->size % MH_QEMU_DIRTY_PAGE_SIZE || lr->gpa % MH_QEMU_DIRTY_PAGE_SIZE ||
            (fd >= 0 && offsets[i] % MH_QEMU_DIRTY_PAGE_SIZE)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("guest RAM region at GPA 0x%" PRIx64 " is not page aligned"),
                        (guint64)lr->gpa);
            return NULL;
        }
        if (fd >= 0) {
            /* A private mapping of guest RAM: a page becomes the shadow's
             * own when copy-on-write copies it, which is the capture. No
             * anonymous page is zeroed first only to be overwritten (that
             * zeroing cost ~0.8 s per GiB on the bench host). */
            map = mmap(NULL, lr->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
                       fd, offsets[i]);
        } else {
            /* Untouched shadow pages cost nothing; NORESERVE keeps a large
             * guest from failing on overcommit accounting. */
            map = mmap(NULL, lr->size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        }
        if (map == MAP_FAILED) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("cannot map a %" PRIu64 "-byte shadow of guest RAM at GPA 0x%"
                          PRIx64 ": %s"),
                        (guint64)lr->size, (guint64)lr->gpa, g_strerror(errno));
            return NULL;
        }
        /* The first pass touches every shadow page once: huge pages make
         * that a fraction of the page faults (it is only a hint). */
        if (fd < 0)
            madvise(map, lr->size, MADV_HUGEPAGE);
        r->gpa = lr->gpa;
        r->size = lr->size;
        r->live = lr->host;
        r->shadow = map;
        r->first_page = dirty->total_pages;
        dirty->nregions = i + 1;
        dirty->total_pages += lr->size / MH_QEMU_DIRTY_PAGE_SIZE;
        if (!mhGuestRamAddRegion(&dirty->shadow_map, lr->gpa, lr->size, map, error))
            return NULL;
    }
    dirty->captured = g_new0(guint64, (dirty->total_pages + 63) / 64);
    dirty->private = g_new0(guint64, (dirty->total_pages + 63) / 64);
    return g_steal_pointer(&dirty);
}

MhQemuDirty *
mhQemuDirtyNew(const MhGuestRam *live, GError **error)
{
    return mhQemuDirtyNewFull(live, -1, NULL, error);
}

MhQemuDirty *
mhQemuDirtyNewFd(const MhGuestRam *live, int fd, const uint64_t *offsets, GError **error)
{
    return mhQemuDirtyNewFull(live, fd, offsets, error);
}

void
mhQemuDirtyFree(MhQemuDirty *dirty)
{
    if (!dirty)
        return;
    for (size_t i = 0; i < dirty->nregions; i++)
        munmap(dirty->regions[i].shadow, dirty->regions[i].size);
    g_free(dirty->captured);
    g_free(dirty->private);
    g_free(dirty);
}

const MhGuestRam *
mhQemuDirtyGetShadow(const MhQemuDirty *dirty)
{
    return &dirty->shadow_map;
}

uint64_t
mhQemuDirtyTotalPages(const MhQemuDirty *dirty)
{
    return dirty->total_pages;
}

uint64_t
mhQemuDirtyCapturedPages(const MhQemuDirty *dirty)
{
    return dirty->captured_count;
}

static MhQemuDirtyRegion *
mhQemuDirtyFind(MhQemuDirty *dirty, uint64_t gpa, uint64_t len)
{
    for (size_t i = 0; i < dirty->nregions; i++) {
        MhQemuDirtyRegion *r = &dirty->regions[i];

        if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
            return r;
    }
    return NULL;
}

/* A contiguous range of page indexes (global numbering) for one worker. */
typedef struct {
    MhQemuDirty *dirty;
    uint64_t first;
    uint64_t last;              /* exclusive */
    GArray *out;
} MhQemuDirtyJob;

static void
mhQemuDirtyScanRange(MhQemuDirtyJob *job)
{
    MhQemuDirty *dirty = job->dirty;

    for (size_t i = 0; i < dirty->nregions; i++) {
        MhQemuDirtyRegion *r = &dirty->regions[i];
        uint64_t npages = r->size / MH_QEMU_DIRTY_PAGE_SIZE;
        uint64_t from = MAX(job->first, r->first_page);
        uint64_t to = MIN(job->last, r->first_page + npages);

        for (uint64_t p = from; p < to; p++) {
            uint64_t off = (p - r->first_page) * MH_QEMU_DIRTY_PAGE_SIZE;
            bool captured = dirty->captured[p / 64] & (1ULL << (p % 64));

            if (!captured || memcmp(r->live + off, r->shadow + off, MH_QEMU_DIRTY_PAGE_SIZE) != 0) {
                guint64 gpa = r->gpa + off;

                g_array_append_val(job->out, gpa);
            }
        }
    }
}

static gpointer
mhQemuDirtyScanThread(gpointer data)
{
    mhQemuDirtyScanRange(data);
    return NULL;
}

size_t
mhQemuDirtyScan(MhQemuDirty *dirty, GArray *gpas, unsigned int nthreads)
{
    g_autofree MhQemuDirtyJob *jobs = NULL;
    g_autofree GThread **threads = NULL;
    uint64_t chunk;
    size_t before = gpas->len;

    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > 16)
        nthreads = 16;
    jobs = g_new0(MhQemuDirtyJob, nthreads);
    threads = g_new0(GThread *, nthreads);
    /* Whole 64-page words per worker, so that output stays in GPA order. */
    chunk = ((dirty->total_pages + nthreads - 1) / nthreads + 63) / 64 * 64;
    for (unsigned int t = 0; t < nthreads; t++) {
        jobs[t].dirty = dirty;
        jobs[t].first = MIN(dirty->total_pages, t * chunk);
        jobs[t].last = MIN(dirty->total_pages, (t + 1) * chunk);
        jobs[t].out = t == 0 ? gpas : g_array_new(FALSE, FALSE, sizeof(guint64));
        if (t > 0)
            threads[t] = g_thread_new("mh-dirty-scan", mhQemuDirtyScanThread, &jobs[t]);
    }
    mhQemuDirtyScanRange(&jobs[0]);
    for (unsigned int t = 1; t < nthreads; t++) {
        g_thread_join(threads[t]);
        g_array_append_vals(gpas, jobs[t].out->data, jobs[t].out->len);
        g_array_unref(jobs[t].out);
    }
    return gpas->len - before;
}

#define BIT_GET(map, p) ((map)[(p) / 64] & (1ULL << ((p) % 64)))
#define BIT_SET(map, p) ((map)[(p) / 64] |= 1ULL << ((p) % 64))

/* Copy-on-write capture of the pages [from, to) of 'r' (all still shared
 * with guest RAM): the kernel copies each page as it breaks the sharing,
 * one call for the whole run. */
static void
mhQemuDirtyCowRun(MhQemuDirtyRegion *r, uint64_t from, uint64_t to)
{
    uint8_t *start = r->shadow + from * MH_QEMU_DIRTY_PAGE_SIZE;
    size_t len = (to - from) * MH_QEMU_DIRTY_PAGE_SIZE;

#ifdef MADV_POPULATE_WRITE
    if (madvise(start, len, MADV_POPULATE_WRITE) == 0)
        return;
#endif
    /* Older kernels: a write per page breaks the sharing the same way;
     * adding zero keeps the bytes the kernel copied. */
    for (size_t off = 0; off < len; off += MH_QEMU_DIRTY_PAGE_SIZE)
        __atomic_fetch_add((uint64_t *)(start + off), 0, __ATOMIC_RELAXED);
}

void
mhQemuDirtyCapture(MhQemuDirty *dirty, const uint64_t *gpas, size_t n)
{
    MhQemuDirtyRegion *r = NULL;
    MhQemuDirtyRegion *run_r = NULL;
    uint64_t run_from = 0, run_to = 0;      /* region-relative page numbers */

    for (size_t i = 0; i < n; i++) {
        uint64_t off, p, rp;

        if (!r || gpas[i] < r->gpa || gpas[i] - r->gpa >= r->size)
            r = mhQemuDirtyFind(dirty, gpas[i], MH_QEMU_DIRTY_PAGE_SIZE);
        if (!r)
            continue;   /* not RAM: the MH refuses it when sealing */
        off = gpas[i] - r->gpa;
        rp = off / MH_QEMU_DIRTY_PAGE_SIZE;
        p = r->first_page + rp;
        if (dirty->cow && !BIT_GET(dirty->private, p)) {
            if (run_r && (run_r != r || rp != run_to)) {
                mhQemuDirtyCowRun(run_r, run_from, run_to);
                run_r = NULL;
            }
            if (!run_r) {
                run_r = r;
                run_from = rp;
            }
            run_to = rp + 1;
            BIT_SET(dirty->private, p);
        } else {
            memcpy(r->shadow + off, r->live + off, MH_QEMU_DIRTY_PAGE_SIZE);
        }
        if (!BIT_GET(dirty->captured, p)) {
            BIT_SET(dirty->captured, p);
            dirty->captured_count++;
        }
    }
    if (run_r)
        mhQemuDirtyCowRun(run_r, run_from, run_to);
}

bool
mhQemuDirtyCopyRange(MhQemuDirty *dirty, uint64_t gpa, uint64_t len, GError **error)
{
    MhQemuDirtyRegion *r = mhQemuDirtyFind(dirty, gpa, len);

    if (!r) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("range 0x%" PRIx64 "+0x%" PRIx64 " is not inside guest RAM"),
                    (guint64)gpa, (guint64)len);
        return false;
    }
    memcpy(r->shadow + (gpa - r->gpa), r->live + (gpa - r->gpa), len);
    /* Those shadow pages are private now: later captures copy them. */
    for (uint64_t a = (gpa - r->gpa) / MH_QEMU_DIRTY_PAGE_SIZE;
         a * MH_QEMU_DIRTY_PAGE_SIZE < gpa - r->gpa + len; a++)
        BIT_SET(dirty->private, r->first_page + a);
    return true;
}
