/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dirty tracking for MH pre-copy (mhMhScanDirty and the page digests):
 * exact dirty sets in GPA order, any one-word change found, the A->B->A
 * case that a digest of the live page taken apart from sealing would miss,
 * the same answer from 1 to 4 vCPUs, and a pre-copy against a writer
 * thread after which the target equals the source byte for byte. */
#include "mh-test-guest.h"
#include "sim/mh/mh-page-digest.h"
#include "util/mh-error.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#define NPAGES ((LOW_SIZE + HIGH_SIZE) / PAGE)

static uint64_t
pageGpa(uint64_t page)
{
    return page < LOW_SIZE / PAGE ? page * PAGE : HIGH_GPA + (page - LOW_SIZE / PAGE) * PAGE;
}

static uint8_t *
guestPage(Guest *g, uint64_t gpa)
{
    return mhGuestRamTranslate(&g->ram, gpa, PAGE);
}

static size_t
scan(MhMh *mh, GArray *out)
{
    g_autoptr(GError) err = NULL;

    g_array_set_size(out, 0);
    g_assert_true(mhMhScanDirty(mh, out, &err));
    g_assert_no_error(err);
    return out->len;
}

/* Seal the pages and apply the records on the target. */
static void
send(Pair *p, GArray *gpas, uint32_t pass)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();

    if (gpas->len == 0)
        return;
    g_assert_true(mhMhSavePages(p->src, (const uint64_t *)gpas->data, gpas->len, pass, stream,
                                &err));
    g_assert_true(mhMhRestoreRecords(p->dst, stream->data, stream->len, NULL, &err));
    g_assert_no_error(err);
}

static void
finish(Pair *p)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();

    g_assert_true(mhMhSaveFinish(p->src, stream, &err));
    g_assert_true(mhMhRestoreRecords(p->dst, stream->data, stream->len, NULL, &err));
    g_assert_true(mhMhRestoreFinish(p->dst, &err));
    g_assert_no_error(err);
}

static void
pairStart(Pair *p, unsigned int vcpus)
{
    g_autoptr(GError) err = NULL;

    pairInit(p, vcpus, 2, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(p, &err));
    g_assert_no_error(err);
}

static void
checkDigest(void (*compute)(const void *, const uint64_t[4], MhPageDigest *))
{
    g_autofree uint8_t *page = g_malloc(PAGE);
    const uint64_t seed[4] = { 1, 2, 3, 4 };
    const uint64_t seed2[4] = { 1, 2, 3, 5 };
    MhPageDigest a, b;

    for (size_t i = 0; i < PAGE; i++)
        page[i] = i * 7;
    compute(page, seed, &a);
    compute(page, seed, &b);
    g_assert_true(a.lo == b.lo && a.hi == b.hi);
    compute(page, seed2, &b);
    g_assert_false(a.lo == b.lo && a.hi == b.hi);
    /* Any change within one word: every byte, every bit value, is found
     * (each lane step is a bijection, so this holds by construction). */
    for (size_t i = 0; i < PAGE; i++) {
        for (int bit = 0; bit < 8; bit++) {
            page[i] ^= 1 << bit;
            compute(page, seed, &b);
            page[i] ^= 1 << bit;
            g_assert_false(a.lo == b.lo && a.hi == b.hi);
        }
    }
    /* Two words swapped, and a page of zeros against one with a zero word
     * moved: what a weaker sum would not see. */
    memcpy(page + 8, page + 16, 8);
    memset(page + 16, 0x11, 8);
    compute(page, seed, &b);
    g_assert_false(a.lo == b.lo && a.hi == b.hi);
}

static void
testDigest(void)
{
    checkDigest(mhPageDigestCompute);
    checkDigest(mhPageDigestComputePortable);
}

static void
testBasic(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    Pair p;

    pairStart(&p, 2);
    /* Nothing sealed yet: everything is dirty, in GPA order. */
    g_assert_cmpuint(scan(p.src, gpas), ==, NPAGES);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, 0);
    g_assert_cmpuint(g_array_index(gpas, guint64, LOW_SIZE / PAGE), ==, HIGH_GPA);
    g_assert_cmpuint(g_array_index(gpas, guint64, NPAGES - 1), ==, HIGH_GPA + HIGH_SIZE - PAGE);
    send(&p, gpas, 0);
    g_assert_cmpuint(scan(p.src, gpas), ==, 0);

    /* Writes anywhere in a page, in both regions, are found; one byte is
     * enough, and writing back the same value is not a change. */
    guestPage(&p.src_guest, 5 * PAGE)[0] ^= 1;
    guestPage(&p.src_guest, 9 * PAGE)[PAGE - 1] ^= 2;
    guestPage(&p.src_guest, HIGH_GPA + 3 * PAGE)[100] ^= 3;
    guestPage(&p.src_guest, 11 * PAGE)[7] = guestPage(&p.src_guest, 11 * PAGE)[7];
    g_assert_cmpuint(scan(p.src, gpas), ==, 3);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, 5 * PAGE);
    g_assert_cmpuint(g_array_index(gpas, guint64, 1), ==, 9 * PAGE);
    g_assert_cmpuint(g_array_index(gpas, guint64, 2), ==, HIGH_GPA + 3 * PAGE);
    send(&p, gpas, 1);
    g_assert_cmpuint(scan(p.src, gpas), ==, 0);
    finish(&p);
    g_assert_cmpmem(p.src_guest.low, LOW_SIZE, p.dst_guest.low, LOW_SIZE);
    g_assert_cmpmem(p.src_guest.high, HIGH_SIZE, p.dst_guest.high, HIGH_SIZE);

    /* A new session forgets what the last one sent. */
    mhMhSessionReset(p.src, &err);
    g_assert_no_error(err);
    g_assert_false(mhMhScanDirty(p.src, gpas, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_clear_error(&err);
    mhMhSessionReset(p.dst, &err);
    g_assert_true(pairHandshake(&p, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(scan(p.src, gpas), ==, NPAGES);
    /* The target has no digests to compare with. */
    g_assert_false(mhMhScanDirty(p.dst, gpas, &err));
    g_assert_error(err, MH_TRANSPORT_ERROR, MH_TRANSPORT_ERROR_STATE);
    g_test_message("scan on the target: %s", err->message);
    pairClear(&p);
}

/* The page changes A -> B, B is what gets sealed, then it changes back
 * to A. The target holds B, so the page must be dirty: the digest is of
 * the bytes sealed, not of the live page at some other instant. */
static void
testABA(void)
{
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GArray) one = g_array_new(FALSE, FALSE, sizeof(guint64));
    uint64_t gpa = 7 * PAGE;
    uint8_t a;
    Pair p;

    pairStart(&p, 2);
    scan(p.src, gpas);
    send(&p, gpas, 0);
    a = guestPage(&p.src_guest, gpa)[8];
    g_array_append_val(one, gpa);

    guestPage(&p.src_guest, gpa)[8] = a ^ 0xff;
    send(&p, one, 1);
    guestPage(&p.src_guest, gpa)[8] = a;
    g_assert_cmpuint(scan(p.src, gpas), ==, 1);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, gpa);

    /* And the opposite: changed and changed back between two seals is
     * clean, because the target already has those bytes. */
    send(&p, one, 2);
    guestPage(&p.src_guest, gpa)[8] = a ^ 0xff;
    guestPage(&p.src_guest, gpa)[8] = a;
    g_assert_cmpuint(scan(p.src, gpas), ==, 0);
    finish(&p);
    g_assert_cmpmem(p.src_guest.low, LOW_SIZE, p.dst_guest.low, LOW_SIZE);
    pairClear(&p);
}

static void
testParallelScan(void)
{
    g_autoptr(GArray) first = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    g_autoptr(GHashTable) written = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autofree uint64_t *pages = g_new(uint64_t, 300);

    for (int i = 0; i < 300; i++) {
        pages[i] = pageGpa(g_rand_int_range(rand, 0, NPAGES));
        g_hash_table_add(written, &pages[i]);
    }
    for (unsigned int vcpus = 1; vcpus <= 4; vcpus++) {
        Pair p;

        pairStart(&p, vcpus);
        scan(p.src, gpas);
        send(&p, gpas, 0);
        for (int i = 0; i < 300; i++)
            guestPage(&p.src_guest, pages[i])[(i * 37) % PAGE] ^= 0x5a;
        {
            /* The host sees what a compare cost its vCPU threads. */
            uint64_t cpu0 = mhMhCpuTimeNs(p.src);

            g_assert_cmpuint(cpu0, >, 0);
            scan(p.src, gpas);
            g_assert_cmpuint(mhMhCpuTimeNs(p.src), >, cpu0);
        }
        g_assert_cmpuint(gpas->len, ==, g_hash_table_size(written));
        if (vcpus == 1)
            g_array_append_vals(first, gpas->data, gpas->len);
        else
            g_assert_cmpmem(gpas->data, gpas->len * sizeof(guint64),
                            first->data, first->len * sizeof(guint64));
        pairClear(&p);
    }
}

/* A target whose RAM is a memfd, as qemu-mh's: records are stored in
 * parallel, zero pages become holes, and the mapping sees every byte. */
static void
testMemfdTarget(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    int fd = memfd_create("test-target-ram", MFD_CLOEXEC);
    uint8_t *map;
    MhGuestRam ram;
    Pair p;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, LOW_SIZE + HIGH_SIZE), ==, 0);
    map = mmap(NULL, LOW_SIZE + HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(map != MAP_FAILED);
    g_assert_cmpint(RAND_bytes(map, LOW_SIZE + HIGH_SIZE), ==, 1);     /* stale contents */
    mhGuestRamInit(&ram);
    g_assert_true(mhGuestRamAddFileRegion(&ram, 0, LOW_SIZE, map, fd, 0, &err));
    g_assert_true(mhGuestRamAddFileRegion(&ram, HIGH_GPA, HIGH_SIZE, map + LOW_SIZE, fd,
                                          LOW_SIZE, &err));
    g_assert_no_error(err);
    g_assert_false(mhGuestRamAddFileRegion(&ram, 2 * HIGH_GPA, PAGE, map, fd, 100, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&err);

    pairStart(&p, 2);
    memset(p.src_guest.low + 40 * PAGE, 0, 3 * PAGE);
    memset(p.src_guest.high + HIGH_SIZE - PAGE, 0, PAGE);
    g_assert_true(mhMhSetGuestRam(p.dst, &ram, &err));
    g_assert_true(mhMhSessionReset(p.src, &err));
    g_assert_true(pairHandshake(&p, &err));
    g_assert_no_error(err);
    scan(p.src, gpas);
    send(&p, gpas, 0);
    /* Pass 2 turns a page that went with data into a zero page. */
    memset(p.src_guest.low + 50 * PAGE, 0, PAGE);
    scan(p.src, gpas);
    g_assert_cmpuint(gpas->len, ==, 1);
    send(&p, gpas, 1);
    finish(&p);
    /* Before anything reads them: a read through the mapping allocates. */
    g_assert_cmpint(lseek(fd, 40 * PAGE, SEEK_HOLE), ==, 40 * PAGE);
    g_assert_cmpint(lseek(fd, 50 * PAGE, SEEK_HOLE), ==, 50 * PAGE);
    g_assert_cmpint(lseek(fd, 40 * PAGE, SEEK_DATA), ==, 43 * PAGE);
    g_assert_cmpint(memcmp(map, p.src_guest.low, LOW_SIZE), ==, 0);
    g_assert_cmpint(memcmp(map + LOW_SIZE, p.src_guest.high, HIGH_SIZE), ==, 0);
    pairClear(&p);
    munmap(map, LOW_SIZE + HIGH_SIZE);
    close(fd);
}

/* A source whose RAM is a memfd with holes (pages the guest never
 * touched): they are sealed as zero pages and scanned without being read,
 * so the file stays as sparse as it was; a write into a hole later is
 * found by the next scan and reaches the target. */
static void
testMemfdSourceHoles(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    int fd = memfd_create("test-source-ram", MFD_CLOEXEC);
    const size_t size = LOW_SIZE + HIGH_SIZE;
    bool hole[8];
    struct stat st0, st1;
    uint8_t *map;
    MhGuestRam ram;
    Pair p;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(map != MAP_FAILED);
    mhGuestRamInit(&ram);
    g_assert_true(mhGuestRamAddFileRegion(&ram, 0, LOW_SIZE, map, fd, 0, &err));
    g_assert_true(mhGuestRamAddFileRegion(&ram, HIGH_GPA, HIGH_SIZE, map + LOW_SIZE, fd,
                                          LOW_SIZE, &err));
    g_assert_no_error(err);

    pairStart(&p, 2);
    /* The guest wrote everything but pages 100-299 and the high region's
     * last 2 pages (the secret area, page 0x80c, stays data). */
    memcpy(map, p.src_guest.low, 100 * PAGE);
    memcpy(map + 300 * PAGE, p.src_guest.low + 300 * PAGE, LOW_SIZE - 300 * PAGE);
    memcpy(map + LOW_SIZE, p.src_guest.high, HIGH_SIZE - 2 * PAGE);
    memset(p.src_guest.low + 100 * PAGE, 0, 200 * PAGE);
    memset(p.src_guest.high + HIGH_SIZE - 2 * PAGE, 0, 2 * PAGE);

    mhGuestRamHoles(&ram, 98 * PAGE, G_N_ELEMENTS(hole), hole);
    for (size_t i = 0; i < G_N_ELEMENTS(hole); i++)
        g_assert_cmpint(hole[i], ==, i >= 2);
    mhGuestRamHoles(&ram, HIGH_GPA + HIGH_SIZE - 4 * PAGE, 4, hole);
    g_assert_true(!hole[0] && !hole[1] && hole[2] && hole[3]);

    g_assert_true(mhMhSetGuestRam(p.src, &ram, &err));
    g_assert_true(mhMhSessionReset(p.src, &err));
    g_assert_true(pairHandshake(&p, &err));
    g_assert_no_error(err);
    g_assert_cmpint(fstat(fd, &st0), ==, 0);
    g_assert_cmpuint(scan(p.src, gpas), ==, NPAGES);
    send(&p, gpas, 0);
    g_assert_cmpuint(scan(p.src, gpas), ==, 0);
    g_assert_cmpint(fstat(fd, &st1), ==, 0);
    g_assert_cmpint(st1.st_blocks, ==, st0.st_blocks);
    g_assert_cmpint(lseek(fd, 100 * PAGE, SEEK_DATA), ==, 300 * PAGE);

    /* The guest writes into a hole: found, sent, and the target has it. */
    memset(map + 200 * PAGE + 17, 0x5a, 3);
    memset(p.src_guest.low + 200 * PAGE + 17, 0x5a, 3);
    g_assert_cmpuint(scan(p.src, gpas), ==, 1);
    g_assert_cmpuint(g_array_index(gpas, guint64, 0), ==, 200 * PAGE);
    send(&p, gpas, 1);
    finish(&p);
    g_assert_cmpint(memcmp(p.dst_guest.low, p.src_guest.low, LOW_SIZE), ==, 0);
    g_assert_cmpint(memcmp(p.dst_guest.high, p.src_guest.high, HIGH_SIZE), ==, 0);
    pairClear(&p);
    munmap(map, size);
    close(fd);
}

/* A window of records verified together (one per target vCPU) that names
 * the same page twice, from two passes: the later copy must win although
 * the vCPUs store their records in parallel otherwise. With 3 target
 * vCPUs the windows are records 0-2, 3-5, ...: pass 0 is records 0-63 (64
 * pages each), so record 63 (the last pages of the high region), the
 * pass 1 record and the final record share the last window. */
static void
testOverlappingWindow(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autofree uint64_t *gpas = NULL;
    uint64_t last = HIGH_GPA + HIGH_SIZE - PAGE;
    size_t n;
    Pair p;

    pairInit(&p, 2, 3, MH_CONF_CIPHER_AES_256_GCM, false);
    g_assert_true(pairHandshake(&p, &err));
    gpas = allGpas(&n);
    g_assert_cmpuint(n, ==, 64 * 64);
    memset(guestPage(&p.src_guest, last), 'A', PAGE);
    g_assert_true(mhMhSavePages(p.src, gpas, n, 0, stream, &err));
    memset(guestPage(&p.src_guest, last), 'B', PAGE);
    g_assert_true(mhMhSavePages(p.src, &last, 1, 1, stream, &err));
    g_assert_true(mhMhSaveFinish(p.src, stream, &err));
    g_assert_true(mhMhRestoreRecords(p.dst, stream->data, stream->len, NULL, &err));
    g_assert_true(mhMhRestoreFinish(p.dst, &err));
    g_assert_no_error(err);
    g_assert_cmpint(guestPage(&p.dst_guest, last)[0], ==, 'B');
    g_assert_cmpmem(p.src_guest.low, LOW_SIZE, p.dst_guest.low, LOW_SIZE);
    g_assert_cmpmem(p.src_guest.high, HIGH_SIZE, p.dst_guest.high, HIGH_SIZE);
    pairClear(&p);
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
        uint64_t page = g_rand_int_range(rand, 0, 8) ? g_rand_int_range(rand, 0, 64)
                                                     : g_rand_int_range(rand, 0, NPAGES);
        volatile uint64_t *word = (volatile uint64_t *)(guestPage(w->g, pageGpa(page)) +
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
testPrecopyWithWriter(void)
{
    g_autoptr(GArray) gpas = g_array_new(FALSE, FALSE, sizeof(guint64));
    Writer w = { 0 };
    GThread *th;
    size_t last = 0;
    Pair p;

    pairStart(&p, 2);
    w.g = &p.src_guest;
    th = g_thread_new("writer", writerThread, &w);
    for (uint32_t pass = 0; pass < 8; pass++) {
        last = scan(p.src, gpas);
        send(&p, gpas, pass);
        g_usleep(2000);
    }
    /* "stop": no more writes, then the final pass. */
    g_atomic_int_set(&w.stop, 1);
    g_thread_join(th);
    g_test_message("writer made %" G_GUINT64_FORMAT " writes; last pre-copy pass sent %zu pages",
                   w.writes, last);
    g_assert_cmpuint(w.writes, >, 1000);
    scan(p.src, gpas);
    send(&p, gpas, 8);
    finish(&p);

    g_assert_cmpint(memcmp(p.dst_guest.low, p.src_guest.low, LOW_SIZE), ==, 0);
    g_assert_cmpint(memcmp(p.dst_guest.high, p.src_guest.high, HIGH_SIZE), ==, 0);
    g_assert_cmpuint(scan(p.src, gpas), ==, 0);
    pairClear(&p);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mh/dirty/digest", testDigest);
    g_test_add_func("/mh/dirty/basic", testBasic);
    g_test_add_func("/mh/dirty/aba", testABA);
    g_test_add_func("/mh/dirty/parallel-scan", testParallelScan);
    g_test_add_func("/mh/dirty/memfd-target", testMemfdTarget);
    g_test_add_func("/mh/dirty/memfd-source-holes", testMemfdSourceHoles);
    g_test_add_func("/mh/dirty/overlapping-window", testOverlappingWindow);
    g_test_add_func("/mh/dirty/precopy-with-writer", testPrecopyWithWriter);
    return g_test_run();
}
