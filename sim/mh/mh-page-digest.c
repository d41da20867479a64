/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page digests for dirty tracking (see mh-page-digest.h). */
#include "sim/mh/mh-page-digest.h"
#include "util/mh-util.h"

#include <string.h>
#include <openssl/rand.h>

/* Odd multipliers: the 64-bit golden ratio and a well-mixed odd constant;
 * any odd values keep each lane step a bijection. */
#define DIGEST_K1 0x9e3779b97f4a7c15ULL
#define DIGEST_K2 0xbf58476d1ce4e5b9ULL

struct _MhPageDigestTable {
    uint64_t npages;
    uint64_t seed[4];
    MhPageDigest *digests;
    guint64 *sent;              /* one bit per page, set atomically */
};

static inline uint64_t
rotl64(uint64_t v, unsigned int r)
{
    return (v << r) | (v >> (64 - r));
}

/* One multiply per word: xor, rotate and the odd multiply are each a
 * bijection of the lane, and the rotate brings the high bits (which the
 * multiply mixes into nothing) back to the bottom for the next word. */
static inline uint64_t
laneStep(uint64_t v, uint64_t w)
{
    return rotl64(v ^ w, 29) * DIGEST_K1;
}

void
mhPageDigestComputePortable(const void *page, const uint64_t seed[4], MhPageDigest *out)
{
    const uint8_t *p = page;
    uint64_t v0 = seed[0], v1 = seed[1], v2 = seed[2], v3 = seed[3];
    uint64_t v4 = seed[0] ^ DIGEST_K2, v5 = seed[1] ^ DIGEST_K2;
    uint64_t v6 = seed[2] ^ DIGEST_K2, v7 = seed[3] ^ DIGEST_K2;

    /* Eight independent lanes keep the multiplier busy (its latency is
     * what limits one lane), spelled out so that they stay in registers
     * at -O2; memcpy compiles to plain loads. */
    for (size_t off = 0; off < MH_PAGE_SIZE; off += 64) {
        uint64_t w[8];

        memcpy(w, p + off, sizeof(w));
        v0 = laneStep(v0, w[0]);
        v1 = laneStep(v1, w[1]);
        v2 = laneStep(v2, w[2]);
        v3 = laneStep(v3, w[3]);
        v4 = laneStep(v4, w[4]);
        v5 = laneStep(v5, w[5]);
        v6 = laneStep(v6, w[6]);
        v7 = laneStep(v7, w[7]);
    }
    out->lo = v0 ^ rotl64(v1, 16) ^ rotl64(v2, 32) ^ rotl64(v3, 48);
    out->hi = v4 ^ rotl64(v5, 16) ^ rotl64(v6, 32) ^ rotl64(v7, 48);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* With AES-NI: four 128-bit lanes, each absorbing 16 bytes per step as
 * one AES round (a bijection of the lane for a fixed input, like the
 * scalar step), keyed by the seed. Four times the scalar speed, so that
 * the scan of a stopped guest is bound by memory, not by the hash. */
__attribute__((target("aes,sse2")))
static void
digestAes(const void *page, const uint64_t seed[4], MhPageDigest *out)
{
    const __m128i *p = page;
    const __m128i k0 = _mm_set_epi64x((long long)seed[1], (long long)seed[0]);
    const __m128i k1 = _mm_set_epi64x((long long)seed[3], (long long)seed[2]);
    __m128i v0 = k0, v1 = k1;
    __m128i v2 = _mm_xor_si128(k0, _mm_set1_epi64x((long long)DIGEST_K1));
    __m128i v3 = _mm_xor_si128(k1, _mm_set1_epi64x((long long)DIGEST_K2));
    __m128i r;

    for (size_t i = 0; i < MH_PAGE_SIZE / 16; i += 4) {
        v0 = _mm_aesenc_si128(_mm_xor_si128(v0, _mm_loadu_si128(p + i)), k0);
        v1 = _mm_aesenc_si128(_mm_xor_si128(v1, _mm_loadu_si128(p + i + 1)), k1);
        v2 = _mm_aesenc_si128(_mm_xor_si128(v2, _mm_loadu_si128(p + i + 2)), k0);
        v3 = _mm_aesenc_si128(_mm_xor_si128(v3, _mm_loadu_si128(p + i + 3)), k1);
    }
    /* Two more rounds mix the lanes into each other before they fold. */
    v0 = _mm_aesenc_si128(v0, v2);
    v1 = _mm_aesenc_si128(v1, v3);
    r = _mm_aesenc_si128(v0, v1);
    out->lo = (uint64_t)_mm_cvtsi128_si64(r);
    out->hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r));
}

static bool
digestHaveAes(void)
{
    static int have = -1;

    if (have < 0)
        have = __builtin_cpu_supports("aes");
    return have;
}
#endif

void
mhPageDigestCompute(const void *page, const uint64_t seed[4], MhPageDigest *out)
{
#if defined(__x86_64__)
    if (digestHaveAes()) {
        digestAes(page, seed, out);
        return;
    }
#endif
    mhPageDigestComputePortable(page, seed, out);
}

MhPageDigestTable *
mhPageDigestTableNew(uint64_t npages)
{
    g_autoptr(MhPageDigestTable) t = g_new0(MhPageDigestTable, 1);

    if (RAND_bytes((unsigned char *)t->seed, sizeof(t->seed)) != 1)
        return NULL;
    t->npages = npages;
    /* Zeroed and untouched until recorded: a big guest's table costs
     * nothing until pages are sent. */
    t->digests = g_new0(MhPageDigest, MAX(npages, 1));
    t->sent = g_new0(guint64, (npages + 63) / 64 + 1);
    return g_steal_pointer(&t);
}

void
mhPageDigestTableFree(MhPageDigestTable *t)
{
    if (!t)
        return;
    mhUtilWipe(t->seed, sizeof(t->seed));
    if (t->digests)
        mhUtilWipe(t->digests, sizeof(MhPageDigest) * MAX(t->npages, 1));
    g_free(t->digests);
    g_free(t->sent);
    g_free(t);
}

void
mhPageDigestTableRecord(MhPageDigestTable *t, uint64_t index, const void *page)
{
    g_assert(index < t->npages);
    mhPageDigestCompute(page, t->seed, &t->digests[index]);
    /* Other vCPUs set bits of the same word for their pages. */
    __atomic_fetch_or(&t->sent[index / 64], 1ULL << (index % 64), __ATOMIC_RELEASE);
}

bool
mhPageDigestTableIsDirty(const MhPageDigestTable *t, uint64_t index, const void *page)
{
    MhPageDigest d;

    g_assert(index < t->npages);
    if (!(__atomic_load_n(&t->sent[index / 64], __ATOMIC_ACQUIRE) & (1ULL << (index % 64))))
        return true;
    mhPageDigestCompute(page, t->seed, &d);
    return d.lo != t->digests[index].lo || d.hi != t->digests[index].hi;
}

