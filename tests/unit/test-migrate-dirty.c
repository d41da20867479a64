/* Dirty tracking for MH pre-copy: exact dirty sets, the A->B->A case that
 * a hash of the live page would miss, parallel scans, and a pre-copy run
 * against a writer thread after which the copy equals the source byte for
 * byte. */
#include "qemu/mh-qemu-dirty.h"
#include "util/mh-error.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE MH_QEMU_DIRTY_PAGE_SIZE
#define LOW_SIZE (16 * 1024 * 1024)
#define HIGH_GPA 0x100000000ULL
#define HIGH_SIZE (2 * 1024 * 1024)

typedef struct {
    uint8_t *low;
    uint8_t *high;
    MhGuestRam ram;
    int fd;                     /* guest RAM in a memfd (cow mode), else -1 */
} Guest;

/* The /migrate/dirty/cow/ tests: guest RAM in a memfd as qemu-mh has it,
 * the shadow a copy-on-write mapping of it (mhQemuDirtyNewFd). */
static bool cowMode;

static void
guestInit(Guest *g)
{
    g_autoptr(GError) err = NULL;

    g->fd = -1;
    if (cowMode) {
        g->fd = memfd_create("test-guest-ram", MFD_CLOEXEC);
        g_assert_cmpint(g->fd, >=, 0);
        g_assert_cmpint(ftruncate(g->fd, LOW_SIZE + HIGH_SIZE), ==, 0);
        g->low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
        g->high = mmap(NULL, HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, LOW_SIZE);
    } else {
        g->low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        g->high = mmap(NULL, HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    g_assert_true(g->low != MAP_FAILED && g->high != MAP_FAILED);
    mhGuestRamInit(&g->ram);
    g_assert_true(mhGuestRamAddRegion(&g->ram, 0, LOW_SIZE, g->low, &err));
    g_assert_true(mhGuestRamAddRegion(&g->ram, HIGH_GPA, HIGH_SIZE, g->high, &err));
}

static void
guestClear(Guest *g)
{
    munmap(g->low, LOW_SIZE);
    munmap(g->high, HIGH_SIZE);
    if (g->fd >= 0)
        close(g->fd);
}

static MhQemuDirty *
dirtyNew(Guest *g, GError **error)
{
    const uint64_t offsets[] = { 0, LOW_SIZE };

    if (g->fd >= 0)
        return mhQemuDirtyNewFd(&g->ram, g->fd, offsets, error);
    return mhQemuDirtyNew(&g->ram, error);
}

static uint8_t *
guestPage(Guest *g, uint64_t gpa)
{
    return mhGuestRamTranslate(&g->ram, gpa, PAGE);
}

static size_t
scanAll(MhQemuDirty *d, GArray *out)
{
    g_array_set_size(out, 0);
    return mhQemuDirtyScan(d, out, 1);
}

static void
captureAll(MhQemuDirty *d, GArray *gpas)
{
    mhQemuDirtyCapture(d, (const uint64_t *)gpas->data, gpas->len);
}

static void
testBasic(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuDirty) d = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    const uint64_t total = (LOW_SIZE + HIGH_SIZE) / PAGE;
    Guest g;

    guestInit(&g);
    d = dirtyNew(&g, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(mhQemuDirtyTotalPages(d), ==, total);

    /* Nothing captured yet: everything is dirty, in GPA order. */
    g_assert_cmpuint(scanAll(d, gpas), ==, total);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, 0);
    g_assert_cmpuint(g_array_index(gpas, guint64, LOW_SIZE / PAGE), ==, HIGH_GPA);
    g_assert_cmpuint(g_array_index(gpas, guint64, total - 1), ==, HIGH_GPA + HIGH_SIZE - PAGE);
    captureAll(d, gpas);
    g_assert_cmpuint(mhQemuDirtyCapturedPages(d), ==, total);
    g_assert_cmpuint(scanAll(d, gpas), ==, 0);

    /* Writes anywhere in a page, in both regions, are found; one byte is
     * enough, and the shadow holds the captured bytes. */
    guestPage(&g, 5 * PAGE)[0] = 1;
    guestPage(&g, 9 * PAGE)[PAGE - 1] = 2;
    guestPage(&g, HIGH_GPA + 3 * PAGE)[100] = 3;
    g_assert_cmpuint(scanAll(d, gpas), ==, 3);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, 5 * PAGE);
    g_assert_cmpuint(g_array_index(gpas, guint64, 1), ==, 9 * PAGE);
    g_assert_cmpuint(g_array_index(gpas, guint64, 2), ==, HIGH_GPA + 3 * PAGE);
    captureAll(d, gpas);
    g_assert_cmpuint(scanAll(d, gpas), ==, 0);
    g_assert_cmpint(((uint8_t *)mhGuestRamTranslate(mhQemuDirtyGetShadow(d),
                                                    HIGH_GPA + 3 * PAGE, PAGE))[100], ==, 3);
    guestClear(&g);
}

/* The case that comparing hashes taken before sealing gets wrong: the
 * page changes A -> B, B is what gets captured (sealed), then it changes
 * back to A. The target holds B, so the page must be dirty. */
static void
testABA(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuDirty) d = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    uint64_t gpa = 7 * PAGE;
    Guest g;

    guestInit(&g);
    d = dirtyNew(&g, &err);
    scanAll(d, gpas);
    captureAll(d, gpas);

    guestPage(&g, gpa)[8] = 'B';
    mhQemuDirtyCapture(d, &gpa, 1);
    guestPage(&g, gpa)[8] = 0;
    g_assert_cmpuint(scanAll(d, gpas), ==, 1);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, gpa);

    /* And the opposite: changed and changed back between two captures is
     * clean, because the target already has those bytes. */
    mhQemuDirtyCapture(d, &gpa, 1);
    guestPage(&g, gpa)[8] = 'B';
    guestPage(&g, gpa)[8] = 0;
    g_assert_cmpuint(scanAll(d, gpas), ==, 0);
    guestClear(&g);
}

static void
testCopyRange(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuDirty) d = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    Guest g;

    guestInit(&g);
    memcpy(guestPage(&g, 0x80c000), "secret table", 12);
    d = dirtyNew(&g, &err);
    g_assert_true(mhQemuDirtyCopyRange(d, 0x80c000, 0x1000, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(mhGuestRamTranslate(mhQemuDirtyGetShadow(d), 0x80c000, 12), 12,
                    "secret table", 12);
    /* Copied for the MH's INIT, not sent: still dirty. */
    g_assert_cmpuint(mhQemuDirtyCapturedPages(d), ==, 0);
    g_assert_cmpuint(scanAll(d, gpas), ==, (LOW_SIZE + HIGH_SIZE) / PAGE);

    g_assert_false(mhQemuDirtyCopyRange(d, LOW_SIZE - 0x800, 0x1000, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    guestClear(&g);
}

static void
testParallelScan(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuDirty) d = NULL;
    g_autoptr(GArray) one = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GArray) many = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    Guest g;

    guestInit(&g);
    d = dirtyNew(&g, &err);
    scanAll(d, one);
    captureAll(d, one);
    for (int i = 0; i < 300; i++) {
        uint64_t page = g_rand_int_range(rand, 0, (LOW_SIZE + HIGH_SIZE) / PAGE);
        uint64_t gpa = page < LOW_SIZE / PAGE ? page * PAGE
                                              : HIGH_GPA + (page - LOW_SIZE / PAGE) * PAGE;

        guestPage(&g, gpa)[g_rand_int_range(rand, 0, PAGE)] ^= 0x5a;
    }
    scanAll(d, one);
    g_assert_cmpuint(one->len, >, 0);
    for (unsigned int t = 2; t <= 5; t++) {
        g_array_set_size(many, 0);
        g_assert_cmpuint(mhQemuDirtyScan(d, many, t), ==, one->len);
        g_assert_cmpmem(many->data, many->len * sizeof(guint64),
                        one->data, one->len * sizeof(guint64));
    }
    guestClear(&g);
}

/* ---- pre-copy against a running writer ---- */

typedef struct {
    Guest *g;
    volatile gint stop;
    guint64 writes;
} Writer;

static gpointer
writerThread(gpointer data)
{
    Writer *w = data;
    g_autoptr(GRand) rand = g_rand_new_with_seed(7);
    guint64 counter = 0;

    while (!g_atomic_int_get(&w->stop)) {
        /* Hot pages (the first 64) most of the time, any page sometimes;
         * sometimes a value is written and immediately restored. */
        uint64_t npages = (LOW_SIZE + HIGH_SIZE) / PAGE;
        uint64_t page = g_rand_int_range(rand, 0, 8) ? g_rand_int_range(rand, 0, 64)
                                                     : g_rand_int_range(rand, 0, npages);
        uint64_t gpa = page < LOW_SIZE / PAGE ? page * PAGE
                                              : HIGH_GPA + (page - LOW_SIZE / PAGE) * PAGE;
        volatile uint64_t *word = (volatile uint64_t *)(guestPage(w->g, gpa) +
                                                        8 * g_rand_int_range(rand, 0, PAGE / 8));
        uint64_t old = *word;

        *word = ++counter;
        if (counter % 5 == 0)
            *word = old;
        w->writes++;
    }
    return NULL;
}

static void
transfer(MhQemuDirty *d, GArray *gpas, uint8_t *target_low, uint8_t *target_high)
{
    const MhGuestRam *shadow = mhQemuDirtyGetShadow(d);

    /* What the MH does: seal the shadow pages; here they are copied to
     * the "target" directly. */
    captureAll(d, gpas);
    for (guint i = 0; i < gpas->len; i++) {
        uint64_t gpa = g_array_index(gpas, guint64, i);
        uint8_t *dst = gpa < HIGH_GPA ? target_low + gpa : target_high + (gpa - HIGH_GPA);

        memcpy(dst, mhGuestRamTranslate(shadow, gpa, PAGE), PAGE);
    }
}

static void
testPrecopyWithWriter(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuDirty) d = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autofree uint8_t *target_low = g_malloc0(LOW_SIZE);
    g_autofree uint8_t *target_high = g_malloc0(HIGH_SIZE);
    Writer w = { 0 };
    GThread *th;
    Guest g;
    size_t last = 0;

    guestInit(&g);
    d = dirtyNew(&g, &err);
    w.g = &g;
    th = g_thread_new("writer", writerThread, &w);
    for (int pass = 0; pass < 8; pass++) {
        g_array_set_size(gpas, 0);
        last = mhQemuDirtyScan(d, gpas, 2);
        transfer(d, gpas, target_low, target_high);
        g_usleep(2000);
    }
    /* "stop": no more writes, then the final pass. */
    g_atomic_int_set(&w.stop, 1);
    g_thread_join(th);
    g_test_message("writer made %" G_GUINT64_FORMAT " writes; last pre-copy pass sent %zu pages",
                   w.writes, last);
    g_assert_cmpuint(w.writes, >, 1000);
    scanAll(d, gpas);
    transfer(d, gpas, target_low, target_high);

    g_assert_cmpint(memcmp(target_low, g.low, LOW_SIZE), ==, 0);
    g_assert_cmpint(memcmp(target_high, g.high, HIGH_SIZE), ==, 0);
    g_assert_cmpuint(scanAll(d, gpas), ==, 0);
    guestClear(&g);
}

static void
inCowMode(gconstpointer data)
{
    void (*test)(void) = data;

    cowMode = true;
    test();
    cowMode = false;
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migrate/dirty/basic", testBasic);
    g_test_add_func("/migrate/dirty/aba", testABA);
    g_test_add_func("/migrate/dirty/copy-range", testCopyRange);
    g_test_add_func("/migrate/dirty/parallel-scan", testParallelScan);
    g_test_add_func("/migrate/dirty/precopy-with-writer", testPrecopyWithWriter);
    /* Again with a copy-on-write shadow of a memfd, as qemu-mh runs it. */
    g_test_add_data_func("/migrate/dirty/cow/basic", (gconstpointer)testBasic, inCowMode);
    g_test_add_data_func("/migrate/dirty/cow/aba", (gconstpointer)testABA, inCowMode);
    g_test_add_data_func("/migrate/dirty/cow/copy-range", (gconstpointer)testCopyRange, inCowMode);
    g_test_add_data_func("/migrate/dirty/cow/parallel-scan", (gconstpointer)testParallelScan, inCowMode);
    g_test_add_data_func("/migrate/dirty/cow/precopy-with-writer", (gconstpointer)testPrecopyWithWriter,
                         inCowMode);
    return g_test_run();
}
