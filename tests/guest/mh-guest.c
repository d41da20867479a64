/*
 * mh-guest.c: the test guest, a UEFI application
 *
 * It fills guest memory with incompressible pages whose content is a pure
 * function of (seed, page index, generation), keeps each page's generation
 * in a table in guest memory, rewrites pages at a set rate and re-verifies
 * every page against the table, forever.  A migration that loses, mixes up
 * or misses a dirtied page shows up as an INTEGRITY FAILURE line on the
 * serial console and in the status block, independently of what the
 * migration code itself counted.  See docs/test-guest.md.
 *
 * Nothing here depends on SEV: the same binary runs in plain and SEV guests.
 * The strings are a machine-read protocol, not user interface, and are
 * therefore not translated.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <efi.h>
#include <efilib.h>

#include "mh-guest.h"

#define MH_PAGE_SIZE        4096
#define MH_PAGE_WORDS       (MH_PAGE_SIZE / 8)
/* Data pages are allocated in 2 MiB chunks: large guests need not have one
 * contiguous free range that big. */
#define MH_CHUNK_SHIFT      9
#define MH_CHUNK_PAGES      (1U << MH_CHUNK_SHIFT)
#define MH_MAX_CHUNKS       8192            /* 16 GiB */
#define MH_MARKER_MAX       47
/* The last 64 bytes of every data page: marker (48 bytes, NUL padded),
 * page index, generation.  The rest is pseudo-random. */
#define MH_TRAILER_WORDS    8
#define MH_RANDOM_WORDS     (MH_PAGE_WORDS - MH_TRAILER_WORDS)
#define MH_VERIFY_CHUNK     16              /* pages verified between dirty checks */
#define MH_MAX_REPORTS      16              /* failure lines per pass */

typedef struct {
    UINT64 memMiB;
    UINT64 rate;
    UINT64 seed;
    UINT64 intervalMs;
    UINT64 halt;                /* 1: halt between dirtying ticks, 0: spin */
    UINT64 statusGpa;
    CHAR8 marker[MH_MARKER_MAX + 1];
} MhGuestOptions;

typedef struct {
    MhGuestOptions opts;
    volatile MhGuestStatus *status;
    UINT64 trailerMarker[6];
    EFI_PHYSICAL_ADDRESS chunks[MH_MAX_CHUNKS];
    UINT32 nchunks;
    UINT32 pages;
    UINT32 *gen;                /* generation of each data page */
    UINT64 tscPerMs;
    UINT64 rng;                 /* picks the pages to dirty */
    EFI_EVENT tick;             /* wakes an idle wait; NULL: spin instead */
} MhGuest;

static MhGuest guest;


static inline UINT64
mhRdtsc(void)
{
    UINT32 lo, hi;

    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((UINT64)hi << 32) | lo;
}


/* splitmix64's finaliser: a bijective mix, so distinct inputs never
 * collide and every output bit depends on every input bit. */
static inline UINT64
mhMix(UINT64 z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


static inline UINT64
mhPageKey(UINT32 page, UINT32 gen)
{
    return mhMix(guest.opts.seed ^ mhMix(((UINT64)gen << 32) | page));
}


static inline UINT64 *
mhPageAddr(UINT32 page)
{
    EFI_PHYSICAL_ADDRESS base = guest.chunks[page >> MH_CHUNK_SHIFT];

    return (UINT64 *)(UINTN)(base + ((UINT64)(page & (MH_CHUNK_PAGES - 1)) * MH_PAGE_SIZE));
}


static void
mhPageWrite(UINT32 page, UINT32 gen)
{
    UINT64 *p = mhPageAddr(page);
    UINT64 key = mhPageKey(page, gen);
    UINTN i;

    for (i = 0; i < MH_RANDOM_WORDS; i++)
        p[i] = mhMix(key + i * 0x9e3779b97f4a7c15ULL);
    for (i = 0; i < 6; i++)
        p[MH_RANDOM_WORDS + i] = guest.trailerMarker[i];
    p[MH_RANDOM_WORDS + 6] = page;
    p[MH_RANDOM_WORDS + 7] = gen;
}


/* Returns the byte offset of the first wrong word, or -1 when the page
 * holds exactly what generation @gen must hold. */
static INTN
mhPageCheck(UINT32 page, UINT32 gen)
{
    const UINT64 *p = mhPageAddr(page);
    UINT64 key = mhPageKey(page, gen);
    UINT64 diff = 0;
    UINTN i;

    /* Accumulate first, locate only on failure: keeps the hot loop
     * branch-free, which matters under TCG. */
    for (i = 0; i < MH_RANDOM_WORDS; i++)
        diff |= p[i] ^ mhMix(key + i * 0x9e3779b97f4a7c15ULL);
    for (i = 0; i < 6; i++)
        diff |= p[MH_RANDOM_WORDS + i] ^ guest.trailerMarker[i];
    diff |= p[MH_RANDOM_WORDS + 6] ^ page;
    diff |= p[MH_RANDOM_WORDS + 7] ^ gen;
    if (diff == 0)
        return -1;

    for (i = 0; i < MH_RANDOM_WORDS; i++) {
        if (p[i] != mhMix(key + i * 0x9e3779b97f4a7c15ULL))
            return i * 8;
    }
    for (i = 0; i < 6; i++) {
        if (p[MH_RANDOM_WORDS + i] != guest.trailerMarker[i])
            return (MH_RANDOM_WORDS + i) * 8;
    }
    if (p[MH_RANDOM_WORDS + 6] != page)
        return (MH_RANDOM_WORDS + 6) * 8;
    return (MH_RANDOM_WORDS + 7) * 8;
}


static UINT64
mhRandom(void)
{
    guest.rng += 0x9e3779b97f4a7c15ULL;
    return mhMix(guest.rng);
}


/* ---- options ---------------------------------------------------------- */

static BOOLEAN
mhParseNumber(const CHAR8 *s, UINT64 *out)
{
    UINT64 v = 0;
    UINT64 base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return FALSE;
    for (; *s; s++) {
        UINT64 d;

        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return FALSE;
        v = v * base + d;
    }
    *out = v;
    return TRUE;
}


static BOOLEAN
mhStrEq(const CHAR8 *a, const CHAR8 *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}


typedef struct {
    const char *name;
    UINT64 *value;
    UINT64 min;
    UINT64 max;
} MhNumOption;


/* One "key=value" token; tokens without '=' (a shell's program name) and
 * OVMF's own "initrd=..." are ignored. */
static BOOLEAN
mhOptionApply(CHAR8 *tok)
{
    MhNumOption nums[] = {
        { "mem", &guest.opts.memMiB, 1, 16384 },
        { "rate", &guest.opts.rate, 0, 10000000 },
        { "seed", &guest.opts.seed, 0, ~0ULL },
        { "interval", &guest.opts.intervalMs, 0, 3600000 },
        { "halt", &guest.opts.halt, 0, 1 },
        { "status", &guest.opts.statusGpa, 0, ~0ULL },
    };
    CHAR8 *val = tok;
    UINTN i;

    while (*val && *val != '=')
        val++;
    if (!*val)
        return TRUE;
    *val++ = '\0';

    if (mhStrEq(tok, (const CHAR8 *)"initrd"))
        return TRUE;
    if (mhStrEq(tok, (const CHAR8 *)"mem") && mhStrEq(val, (const CHAR8 *)"all")) {
        guest.opts.memMiB = 0;
        return TRUE;
    }
    if (mhStrEq(tok, (const CHAR8 *)"marker")) {
        for (i = 0; val[i]; i++) {
            if (i == MH_MARKER_MAX) {
                Print(L"mh-guest: error option marker longer than %d characters\r\n",
                      MH_MARKER_MAX);
                return FALSE;
            }
            guest.opts.marker[i] = val[i];
        }
        guest.opts.marker[i] = '\0';
        return TRUE;
    }
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!mhStrEq(tok, (const CHAR8 *)nums[i].name))
            continue;
        if (!mhParseNumber(val, nums[i].value) ||
            *nums[i].value < nums[i].min || *nums[i].value > nums[i].max) {
            Print(L"mh-guest: error option %a value '%a' is not a number in %ld..%ld\r\n",
                  tok, val, nums[i].min, nums[i].max);
            return FALSE;
        }
        return TRUE;
    }
    Print(L"mh-guest: error unknown option '%a'\r\n", tok);
    return FALSE;
}


static BOOLEAN
mhOptionsParse(EFI_HANDLE image)
{
    static CHAR8 buf[1024];
    EFI_LOADED_IMAGE *li = NULL;
    EFI_STATUS st;
    BOOLEAN ok = TRUE;
    UINTN n = 0;
    UINTN i;

    guest.opts.memMiB = 64;
    guest.opts.rate = 1000;
    guest.opts.seed = 1;
    guest.opts.intervalMs = 2000;
    guest.opts.halt = 1;
    guest.opts.statusGpa = MH_GUEST_STATUS_GPA;
    guest.opts.marker[0] = '\0';

    st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
                           (void **)&li);
    if (!EFI_ERROR(st) && li->LoadOptions) {
        const CHAR16 *w = li->LoadOptions;
        UINTN len = li->LoadOptionsSize / sizeof(CHAR16);

        for (i = 0; i < len && w[i] && n < sizeof(buf) - 1; i++)
            buf[n++] = w[i] < 0x80 ? (CHAR8)w[i] : '?';
    }
    buf[n] = '\0';

    for (i = 0; i < n && ok;) {
        UINTN start;

        while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        start = i;
        while (i < n && buf[i] != ' ' && buf[i] != '\t')
            i++;
        if (i == start)
            break;
        buf[i++] = '\0';
        ok = mhOptionApply(&buf[start]);
    }
    return ok;
}


/* ---- set-up ------------------------------------------------------------ */

static void
mhFatal(void)
{
    if (guest.status)
        guest.status->state = MH_GUEST_STATE_SETUP_ERROR;
    /* Returning would let the firmware boot something else; stay put so
     * the error line is the last thing on the console. */
    for (;;)
        uefi_call_wrapper(BS->Stall, 1, 1000000);
}


static BOOLEAN
mhStatusSetup(void)
{
    EFI_PHYSICAL_ADDRESS addr = guest.opts.statusGpa;
    EFI_STATUS st;

    st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData,
                           1, &addr);
    if (EFI_ERROR(st)) {
        Print(L"mh-guest: error cannot claim status page at gpa=0x%lx: %r\r\n",
              guest.opts.statusGpa, st);
        return FALSE;
    }
    guest.status = (volatile MhGuestStatus *)(UINTN)addr;
    ZeroMem((void *)guest.status, MH_PAGE_SIZE);
    guest.status->version = MH_GUEST_STATUS_VERSION;
    guest.status->state = MH_GUEST_STATE_BOOT;
    guest.status->magic = MH_GUEST_STATUS_MAGIC;
    return TRUE;
}


/* mem=all keeps this much free for the firmware's own later needs. */
#define MH_ALL_SPARE_CHUNKS 4

static BOOLEAN
mhMemorySetup(void)
{
    BOOLEAN all = guest.opts.memMiB == 0;
    UINT64 want = all ? (UINT64)MH_MAX_CHUNKS * MH_CHUNK_PAGES : guest.opts.memMiB * 256;
    EFI_PHYSICAL_ADDRESS addr;
    EFI_STATUS st;
    UINT32 i;

    guest.nchunks = (want + MH_CHUNK_PAGES - 1) / MH_CHUNK_PAGES;
    for (i = 0; i < guest.nchunks; i++) {
        st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages,
                               EfiLoaderData, MH_CHUNK_PAGES, &addr);
        if (EFI_ERROR(st) && all && i > MH_ALL_SPARE_CHUNKS) {
            guest.nchunks = i - MH_ALL_SPARE_CHUNKS;
            for (; i > guest.nchunks; i--)
                uefi_call_wrapper(BS->FreePages, 2, guest.chunks[i - 1], MH_CHUNK_PAGES);
            want = (UINT64)guest.nchunks * MH_CHUNK_PAGES;
            guest.opts.memMiB = want / 256;
            break;
        }
        if (EFI_ERROR(st)) {
            Print(L"mh-guest: error cannot allocate mem=%ld MiB (got %d MiB): %r\r\n",
                  guest.opts.memMiB, i * 2, st);
            return FALSE;
        }
        guest.chunks[i] = addr;
    }
    guest.pages = want;

    addr = 0;
    st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
                           (guest.pages * sizeof(UINT32) + MH_PAGE_SIZE - 1) / MH_PAGE_SIZE,
                           &addr);
    if (EFI_ERROR(st)) {
        Print(L"mh-guest: error cannot allocate the generation table: %r\r\n", st);
        return FALSE;
    }
    guest.gen = (UINT32 *)(UINTN)addr;
    return TRUE;
}


/* Wait about a millisecond. Halted (the firmware's idle loop runs HLT
 * until the timer interrupt) the vCPU costs its host nothing, as an idle
 * guest's would; spinning (halt=0) keeps it busy all the time. The
 * firmware's timer ticks every 10 ms or so, which the credit in mhRun
 * absorbs. */
static void
mhIdle(void)
{
    UINTN index;

    if (guest.tick &&
        uefi_call_wrapper(BS->SetTimer, 3, guest.tick, TimerRelative, 10000) == EFI_SUCCESS &&
        uefi_call_wrapper(BS->WaitForEvent, 3, 1, &guest.tick, &index) == EFI_SUCCESS)
        return;
    uefi_call_wrapper(BS->Stall, 1, 1000);
}


static void
mhTimerCalibrate(void)
{
    UINT64 t0 = mhRdtsc();

    uefi_call_wrapper(BS->Stall, 1, 50000);
    guest.tscPerMs = (mhRdtsc() - t0) / 50;
    if (guest.tscPerMs == 0)
        guest.tscPerMs = 1;
}


static void
mhMarkerSetup(void)
{
    CHAR8 *m = (CHAR8 *)guest.trailerMarker;
    UINTN i;

    if (!guest.opts.marker[0]) {
        static const char hex[] = "0123456789abcdef";
        UINT64 v = mhMix(guest.opts.seed ^ 0x4d482d4d41524b45ULL);
        const char *prefix = "MH-MARKER-";

        for (i = 0; prefix[i]; i++)
            guest.opts.marker[i] = prefix[i];
        for (; i < 26; i++, v >>= 4)
            guest.opts.marker[i] = hex[v & 0xf];
        guest.opts.marker[i] = '\0';
    }
    ZeroMem(guest.trailerMarker, sizeof(guest.trailerMarker));
    for (i = 0; guest.opts.marker[i]; i++)
        m[i] = guest.opts.marker[i];
}


/* ---- workload ---------------------------------------------------------- */

static void
mhReportFailure(UINT32 page, INTN offset, UINT32 *reported)
{
    const UINT64 *p = mhPageAddr(page);
    UINT64 gpa = (UINT64)(UINTN)p;

    guest.status->failPage = page;
    guest.status->failExpectedGen = guest.gen[page];
    guest.status->failGpa = gpa;
    guest.status->errors++;
    if ((*reported)++ < MH_MAX_REPORTS) {
        Print(L"mh-guest: INTEGRITY FAILURE page=%d gpa=0x%lx expected-gen=%d "
              L"found-gen=%ld offset=0x%lx\r\n",
              page, gpa, guest.gen[page], p[MH_RANDOM_WORDS + 7], (UINT64)offset);
    }
    /* Rewrite the page as it should be, so that one bad page is reported
     * once, not in every later pass. */
    mhPageWrite(page, guest.gen[page]);
}


static void
mhDirtyOne(void)
{
    UINT32 page = mhRandom() % guest.pages;

    guest.gen[page]++;
    mhPageWrite(page, guest.gen[page]);
    guest.status->dirtied++;
}


static void
mhRun(void)
{
    UINT64 ratePerMs1000 = guest.opts.rate;      /* pages per 1000 ms */
    UINT64 start = mhRdtsc();
    UINT64 last = start;
    UINT64 credit = 0;          /* in 1/1000 pages */
    UINT64 passStart = start;
    UINT64 nextPass = start;
    UINT64 capCredit = ratePerMs1000 * 100;      /* at most 100 ms of backlog */
    BOOLEAN inPass = FALSE;
    UINT32 cursor = 0;
    UINT32 reported = 0;
    UINT32 errorsAtPassStart = 0;

    if (capCredit < 1000)
        capCredit = 1000;

    for (;;) {
        UINT64 now = mhRdtsc();
        UINT64 elapsedMs;

        /* A TSC that went backwards or jumped (the VM was paused or moved)
         * must not trigger a burst: credit is capped. */
        if (now > last) {
            UINT64 dms = (now - last) / guest.tscPerMs;

            if (dms > 0) {
                credit += dms * ratePerMs1000;
                if (credit > capCredit)
                    credit = capCredit;
                last += dms * guest.tscPerMs;
            }
        } else {
            last = now;
        }
        while (credit >= 1000) {
            mhDirtyOne();
            credit -= 1000;
        }

        elapsedMs = (now > start ? now - start : 0) / guest.tscPerMs;
        guest.status->uptimeMs = (UINT32)elapsedMs;

        if (!inPass) {
            if ((INT64)(now - nextPass) < 0) {
                mhIdle();
                continue;
            }
            inPass = TRUE;
            cursor = 0;
            reported = 0;
            passStart = now;
            errorsAtPassStart = guest.status->errors;
        }

        for (UINT32 n = 0; n < MH_VERIFY_CHUNK && cursor < guest.pages; n++, cursor++) {
            INTN off = mhPageCheck(cursor, guest.gen[cursor]);

            if (off >= 0)
                mhReportFailure(cursor, off, &reported);
            guest.status->verified++;
        }

        if (cursor == guest.pages) {
            UINT32 passErrors = guest.status->errors - errorsAtPassStart;

            inPass = FALSE;
            guest.status->passes++;
            if (reported > MH_MAX_REPORTS)
                Print(L"mh-guest: %d more integrity failures in this pass\r\n",
                      reported - MH_MAX_REPORTS);
            Print(L"mh-guest: pass %d verified=%d dirtied=%ld errors=%d "
                  L"pass-errors=%d ms=%ld\r\n",
                  guest.status->passes, guest.pages, guest.status->dirtied,
                  guest.status->errors, passErrors,
                  (mhRdtsc() - passStart) / guest.tscPerMs);
            nextPass = passStart + guest.opts.intervalMs * guest.tscPerMs;
        }
    }
}


EFI_STATUS
efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    UINT64 t0;
    UINT32 i;

    InitializeLib(image, systab);
    /* The boot manager arms a 5 minute watchdog for boot options; this
     * application is meant to run for ever. */
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);

    Print(L"\r\nmh-guest: starting\r\n");
    if (!mhOptionsParse(image))
        mhFatal();
    if (!mhStatusSetup())
        mhFatal();
    guest.status->rate = guest.opts.rate;
    mhTimerCalibrate();
    if (guest.opts.halt &&
        uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &guest.tick) != EFI_SUCCESS)
        guest.tick = NULL;
    mhMarkerSetup();
    if (!mhMemorySetup())
        mhFatal();

    guest.status->pages = guest.pages;
    guest.status->state = MH_GUEST_STATE_FILLING;
    guest.rng = mhMix(guest.opts.seed + 0x6d682d6775657374ULL);
    t0 = mhRdtsc();
    for (i = 0; i < guest.pages; i++) {
        guest.gen[i] = 0;
        mhPageWrite(i, 0);
    }

    Print(L"mh-guest: ready pages=%d mem=%ld rate=%ld interval=%ld halt=%ld seed=%ld "
          L"status=0x%lx fill-ms=%ld marker=%a\r\n",
          guest.pages, guest.opts.memMiB, guest.opts.rate, guest.opts.intervalMs,
          guest.opts.halt, guest.opts.seed, (UINT64)(UINTN)guest.status,
          (mhRdtsc() - t0) / guest.tscPerMs, guest.opts.marker);
    guest.status->state = MH_GUEST_STATE_RUNNING;

    mhRun();
    return EFI_SUCCESS;
}
