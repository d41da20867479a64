/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The unit tests' guest (see mh-test-guest.h). */
#include "mh-test-guest.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"

#include <string.h>
#include <openssl/rand.h>

const uint8_t testUuid[16] = { 0xa1, 0xb2, 0xc3, 0xd4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

void
guestInit(Guest *g, bool random)
{
    g_autoptr(GError) err = NULL;

    g->low = g_malloc(LOW_SIZE);
    g->high = g_malloc(HIGH_SIZE);
    if (random) {
        g_assert_cmpint(RAND_bytes(g->low, LOW_SIZE), ==, 1);
        g_assert_cmpint(RAND_bytes(g->high, HIGH_SIZE), ==, 1);
    } else {
        memset(g->low, 0, LOW_SIZE);
        memset(g->high, 0, HIGH_SIZE);
    }
    mhGuestRamInit(&g->ram);
    g_assert_true(mhGuestRamAddRegion(&g->ram, 0, LOW_SIZE, g->low, &err));
    g_assert_true(mhGuestRamAddRegion(&g->ram, HIGH_GPA, HIGH_SIZE, g->high, &err));
    g_assert_no_error(err);
}

void
guestClear(Guest *g)
{
    g_free(g->low);
    g_free(g->high);
}

/* What LAUNCH_SECRET leaves in the secret area: the table built by the
 * owner-side code, then zeros. */
void
guestInjectKey(Guest *g, const MhSecret *key)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) blob = NULL;

    g_assert_true(mhSevSecretTableAddMigrationKey(table, key, &err));
    g_assert_no_error(err);
    blob = mhSevSecretTableBuild(table, &err);
    g_assert_no_error(err);
    memset(g->low + SECRET_GPA, 0, SECRET_SIZE);
    memcpy(g->low + SECRET_GPA, blob->data, blob->len);
}

MhSecret *
randomKey(void)
{
    MhSecret *key = mhSecretNew(32);
    g_assert_cmpint(RAND_bytes(key->data, key->len), ==, 1);
    return key;
}


bool
guestStartMh(MhMh *mh, const Guest *g, GError **error)
{
    g_autoptr(MhMhLaunchKey) lk = mhMhLaunchKeyFromSecret(g->low + SECRET_GPA, SECRET_SIZE,
                                                          error);

    return lk && mhMhStartWithKey(mh, lk, error);
}

void
pairInit(Pair *p, unsigned int src_vcpus, unsigned int dst_vcpus, MhConfCipher cipher,
         bool wrong_key)
{
    g_autoptr(GError) err = NULL;

    p->key = randomKey();
    guestInit(&p->src_guest, true);
    guestInit(&p->dst_guest, true);     /* garbage: every page must be written */
    guestInjectKey(&p->src_guest, p->key);
    if (wrong_key) {
        g_autoptr(MhSecret) other = randomKey();
        guestInjectKey(&p->dst_guest, other);
    } else {
        guestInjectKey(&p->dst_guest, p->key);
    }
    p->src = mhMhNew(&p->src_guest.ram, src_vcpus, cipher, testUuid, &err);
    p->dst = mhMhNew(&p->dst_guest.ram, dst_vcpus, cipher, testUuid, &err);
    g_assert_no_error(err);
    g_assert_true(guestStartMh(p->src, &p->src_guest, &err));
    g_assert_true(guestStartMh(p->dst, &p->dst_guest, &err));
    g_assert_no_error(err);
}

bool
pairHandshake(Pair *p, GError **error)
{
    g_autoptr(GBytes) hs = NULL, hd = NULL, cs = NULL, cd = NULL;

    return mhMhSessionBegin(p->src, MH_TRANSPORT_ROLE_SOURCE, &hs, error) &&
        mhMhSessionBegin(p->dst, MH_TRANSPORT_ROLE_TARGET, &hd, error) &&
        mhMhSessionPeerHello(p->src, hd, &cs, error) &&
        mhMhSessionPeerHello(p->dst, hs, &cd, error) &&
        mhMhSessionPeerConfirm(p->src, cd, error) &&
        mhMhSessionPeerConfirm(p->dst, cs, error);
}

void
pairClear(Pair *p)
{
    mhMhFree(p->src);
    mhMhFree(p->dst);
    guestClear(&p->src_guest);
    guestClear(&p->dst_guest);
    mhSecretFree(p->key);
}

/* Every page of the source guest, low and high region. */
uint64_t *
allGpas(size_t *n)
{
    size_t nlow = LOW_SIZE / PAGE, nhigh = HIGH_SIZE / PAGE;
    uint64_t *gpas = g_new(uint64_t, nlow + nhigh);

    for (size_t i = 0; i < nlow; i++)
        gpas[i] = i * PAGE;
    for (size_t i = 0; i < nhigh; i++)
        gpas[nlow + i] = HIGH_GPA + i * PAGE;
    *n = nlow + nhigh;
    return gpas;
}

