/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner -> platform round trips through the simulated PSP, the PSP's
 * state machine, and rejection of every tampered input. (The primitives'
 * known answers are in test-sev-crypto.c; interoperability with libvirt's
 * implementation is checked by tests/sev/crosscheck.py.) */
#include "owner/mh-sev-owner.h"
#include "sim/psp/mh-sev-platform.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"

#include <string.h>
#include <glib/gstdio.h>

typedef struct {
    char *dir;
    MhSevPlatform *platform;
} Fixture;

static void
fixtureSetUp(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("test-sev-platform-XXXXXX", &error);
    g_assert_no_error(error);
    f->platform = mhSevPlatformLoadOrCreate(f->dir, &error);
    g_assert_no_error(error);
}

static void
fixtureTearDown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;

    mhSevPlatformFree(f->platform);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
}

static MhSevCert *
platformPdh(MhSevPlatform *platform)
{
    g_autoptr(GBytes) b = mhSevPlatformGetPdh(platform);
    gsize len;
    const void *p = g_bytes_get_data(b, &len);

    return mhSevCertParse(p, len, NULL);
}

static void
testIdentity(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevPlatform) again = NULL;
    g_autoptr(GBytes) pdh1 = mhSevPlatformGetPdh(f->platform);
    g_autoptr(GBytes) pdh2 = NULL;
    g_autoptr(GBytes) chain = mhSevPlatformGetCertChain(f->platform);
    g_autoptr(MhSevCert) pdh = platformPdh(f->platform);
    g_autoptr(MhSevCert) pek = NULL;
    g_autoptr(MhSevCert) oca = NULL;
    g_autoptr(MhSevCert) cek = NULL;
    g_autofree char *pem = g_build_filename(f->dir, "pdh.pem", NULL);
    g_autofree char *id1 = mhSevPlatformGetCpu0IdBase64(f->platform);
    g_autofree char *id2 = NULL;
    const uint8_t *c;
    gsize len;
    GStatBuf st;

    c = g_bytes_get_data(chain, &len);
    g_assert_cmpuint(len, ==, 3 * MH_SEV_CERT_SIZE);
    pek = mhSevCertParse(c, MH_SEV_CERT_SIZE, &error);
    oca = mhSevCertParse(c + MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE, &error);
    cek = mhSevCertParse(c + 2 * MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(mhSevCertGetUsage(pek), ==, MH_SEV_USAGE_PEK);
    g_assert_cmpuint(mhSevCertGetUsage(oca), ==, MH_SEV_USAGE_OCA);
    g_assert_cmpuint(mhSevCertGetUsage(cek), ==, MH_SEV_USAGE_CEK);
    g_assert_true(mhSevCertVerify(pdh, pek, &error));
    g_assert_true(mhSevCertVerify(pek, oca, &error));
    g_assert_true(mhSevCertVerify(pek, cek, &error));
    g_assert_true(mhSevCertVerify(oca, oca, &error));
    g_assert_no_error(error);

    g_assert_cmpint(g_stat(pem, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    /* The identity persists. */
    again = mhSevPlatformLoadOrCreate(f->dir, &error);
    g_assert_no_error(error);
    pdh2 = mhSevPlatformGetPdh(again);
    g_assert_true(g_bytes_equal(pdh1, pdh2));
    id2 = mhSevPlatformGetCpu0IdBase64(again);
    g_assert_cmpstr(id1, ==, id2);
}

/* A full launch: returns the launch in state launch-secret. */
static MhSevLaunch *
launch(Fixture *f, MhSevOwnerSession *s, uint32_t policy, const char *fw,
       uint8_t measurement[48])
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) godh = mhSevCertToBytes(s->godh);
    g_autoptr(GBytes) blob = g_bytes_new(&s->session, sizeof(s->session));
    g_autoptr(MhSevLaunch) l = mhSevLaunchStart(f->platform, policy, godh, blob, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(mhSevStateTypeToString(mhSevLaunchGetState(l)), ==, "launch-update");
    g_assert_true(mhSevLaunchUpdateData(l, fw, strlen(fw), &error));
    g_assert_true(mhSevLaunchMeasure(l, measurement, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(mhSevStateTypeToString(mhSevLaunchGetState(l)), ==, "launch-secret");
    return g_steal_pointer(&l);
}

static void
testRoundTrip(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevCert) pdh = platformPdh(f->platform);
    g_autoptr(MhSevOwnerSession) s = mhSevOwnerSessionNew(pdh, 0x33, &error);
    g_autoptr(MhSevLaunch) l = NULL;
    g_autoptr(GBytes) fw = g_bytes_new_static("firmware image", 14);
    g_autoptr(MhSevSecretTable) t = mhSevSecretTableNew();
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhSecret) table = NULL;
    g_autoptr(MhSecret) found = NULL;
    g_autoptr(GBytes) ct = NULL;
    g_autoptr(GBytes) hdr = NULL;
    g_autoptr(GBytes) plain = NULL;
    MhSevBuild build = mhSevPlatformGetBuild(f->platform);
    uint8_t m[48], m2[48], digest[32], header[52];
    uint32_t id;
    gsize len;
    const void *p;

    g_assert_no_error(error);
    l = launch(f, s, 0x33, "firmware image", m);
    g_assert_true(mhSevOwnerLaunchDigest(fw, NULL, digest, &error));
    g_assert_true(mhSevOwnerVerify(s->tk, &build, 0x33, digest, m, 48, &error));
    g_assert_no_error(error);
    g_assert_true(mhSevLaunchGetMeasurement(l, m2));
    g_assert_cmpmem(m, 48, m2, 48);

    key->data[5] = 42;
    g_assert_true(mhSevSecretTableAddMigrationKey(t, key, &error));
    table = mhSevSecretTableBuild(t, &error);
    g_assert_true(mhSevOwnerSeal(s->tk, m, 48, table->data, table->len, NULL, header,
                                 &ct, &error));
    g_assert_no_error(error);
    hdr = g_bytes_new(header, sizeof(header));
    g_assert_true(mhSevLaunchSecret(l, hdr, ct, &plain, &error));
    g_assert_no_error(error);
    p = g_bytes_get_data(plain, &len);
    g_assert_cmpmem(p, len, table->data, table->len);
    g_assert_true(mhSevMigrationKeyFind(p, len, &found, &id, &error));
    g_assert_cmpmem(found->data, 32, key->data, 32);

    g_assert_true(mhSevLaunchFinish(l, &error));
    g_assert_cmpstr(mhSevStateTypeToString(mhSevLaunchGetState(l)), ==, "running");
    g_bytes_unref(plain);
    plain = NULL;
    g_assert_false(mhSevLaunchSecret(l, hdr, ct, &plain, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);
}

static void
testTamperPacket(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevCert) pdh = platformPdh(f->platform);
    g_autoptr(MhSevOwnerSession) s = mhSevOwnerSessionNew(pdh, 0x1, &error);
    g_autoptr(MhSevOwnerSession) other = mhSevOwnerSessionNew(pdh, 0x1, &error);
    g_autoptr(MhSevLaunch) l = NULL;
    g_autoptr(GBytes) ct = NULL;
    const char *table = "0123456789abcdef0123456789abcdef0123456789abcdef";
    uint8_t m[48], header[52];
    gsize clen;
    const uint8_t *cp;
    size_t rejected = 0;

    l = launch(f, s, 0x1, "fw", m);
    g_assert_true(mhSevOwnerSeal(s->tk, m, 48, table, 48, NULL, header, &ct, &error));
    cp = g_bytes_get_data(ct, &clen);
    /* Every bit position's byte of the header (flags, IV, MAC) and of the
     * ciphertext. */
    for (size_t i = 0; i < 52 + clen; i++) {
        uint8_t h[52];
        g_autofree uint8_t *c = g_memdup2(cp, clen);
        g_autoptr(GBytes) hb = NULL;
        g_autoptr(GBytes) cb = NULL;
        g_autoptr(GBytes) plain = NULL;
        g_autoptr(GError) e = NULL;

        memcpy(h, header, 52);
        if (i < 52)
            h[i] ^= 0x80;
        else
            c[i - 52] ^= 0x80;
        hb = g_bytes_new(h, 52);
        cb = g_bytes_new(c, clen);
        g_assert_false(mhSevLaunchSecret(l, hb, cb, &plain, &e));
        g_assert_null(plain);
        g_assert_true(e->code == MH_ERROR_AUTH || (i < 4 && e->code == MH_ERROR_UNSUPPORTED));
        rejected++;
    }
    g_assert_cmpuint(rejected, ==, 52 + 48);

    /* Sealed with the wrong TIK, or over a different measurement. */
    {
        uint8_t m_other[48];
        g_autoptr(GBytes) ct2 = NULL;
        g_autoptr(GBytes) hb = NULL;
        g_autoptr(GBytes) plain = NULL;

        g_assert_true(mhSevOwnerSeal(other->tk, m, 48, table, 48, NULL, header, &ct2, &error));
        hb = g_bytes_new(header, 52);
        g_assert_false(mhSevLaunchSecret(l, hb, ct2, &plain, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
        g_clear_error(&error);
        g_clear_pointer(&ct2, g_bytes_unref);
        g_clear_pointer(&hb, g_bytes_unref);

        memcpy(m_other, m, 48);
        m_other[0] ^= 1;
        g_assert_true(mhSevOwnerSeal(s->tk, m_other, 48, table, 48, NULL, header, &ct2, &error));
        hb = g_bytes_new(header, 52);
        g_assert_false(mhSevLaunchSecret(l, hb, ct2, &plain, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
        g_clear_error(&error);
    }
    /* The measurement itself: a different digest, policy, or TIK. */
    {
        MhSevBuild build = mhSevPlatformGetBuild(f->platform);
        g_autoptr(GBytes) fw = g_bytes_new_static("fw", 2);
        g_autoptr(GBytes) fw2 = g_bytes_new_static("fW", 2);
        uint8_t d[32], d2[32];

        g_assert_true(mhSevOwnerLaunchDigest(fw, NULL, d, NULL));
        g_assert_true(mhSevOwnerLaunchDigest(fw2, NULL, d2, NULL));
        g_assert_true(mhSevOwnerVerify(s->tk, &build, 0x1, d, m, 48, &error));
        g_assert_false(mhSevOwnerVerify(s->tk, &build, 0x1, d2, m, 48, &error));
        g_clear_error(&error);
        g_assert_false(mhSevOwnerVerify(s->tk, &build, 0x3, d, m, 48, &error));
        g_clear_error(&error);
        g_assert_false(mhSevOwnerVerify(other->tk, &build, 0x1, d, m, 48, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    }
}

static void
testTamperSession(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevCert) pdh = platformPdh(f->platform);
    g_autoptr(MhSevOwnerSession) s = mhSevOwnerSessionNew(pdh, 0x5, &error);
    g_autoptr(MhSevOwnerSession) s2 = mhSevOwnerSessionNew(pdh, 0x5, &error);
    g_autoptr(GBytes) godh = mhSevCertToBytes(s->godh);
    g_autoptr(GBytes) godh2 = mhSevCertToBytes(s2->godh);
    g_autoptr(GBytes) blob = g_bytes_new(&s->session, sizeof(s->session));

    for (size_t i = 0; i < sizeof(s->session); i++) {
        MhSevSession bad = s->session;
        g_autoptr(GBytes) b = NULL;
        g_autoptr(MhSevLaunch) l = NULL;
        g_autoptr(GError) e = NULL;

        ((uint8_t *)&bad)[i] ^= 0x10;
        b = g_bytes_new(&bad, sizeof(bad));
        l = mhSevLaunchStart(f->platform, 0x5, godh, b, &e);
        g_assert_null(l);
        g_assert_error(e, MH_ERROR, MH_ERROR_AUTH);
    }
    /* wrong policy, a GODH that is not the one the session was made with,
     * a session blob of the wrong size, only one of the two */
    g_assert_null(mhSevLaunchStart(f->platform, 0x7, godh, blob, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&error);
    g_assert_null(mhSevLaunchStart(f->platform, 0x5, godh2, blob, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_AUTH);
    g_clear_error(&error);
    {
        g_autoptr(GBytes) shortb = g_bytes_new(&s->session, 100);
        g_assert_null(mhSevLaunchStart(f->platform, 0x5, godh, shortb, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
        g_clear_error(&error);
    }
    g_assert_null(mhSevLaunchStart(f->platform, 0x5, godh, NULL, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&error);
    {
        /* The platform's own PEK is no GODH (usage PEK, ECDSA). */
        g_autoptr(GBytes) chain = mhSevPlatformGetCertChain(f->platform);
        g_autoptr(GBytes) pek = g_bytes_new_from_bytes(chain, 0, MH_SEV_CERT_SIZE);
        g_assert_null(mhSevLaunchStart(f->platform, 0x5, pek, blob, &error));
        g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
        g_assert_nonnull(strstr(error->message, "usage PDH"));
    }
}

static void
testStates(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevLaunch) l = mhSevLaunchStart(f->platform, 0, NULL, NULL, &error);
    g_autoptr(GBytes) hdr = g_bytes_new_static("x", 1);
    g_autoptr(GBytes) plain = NULL;
    uint8_t m[48];

    g_assert_no_error(error);
    g_assert_cmpuint(mhSevLaunchGetHandle(l), !=, 0);
    g_assert_false(mhSevLaunchGetMeasurement(l, m));
    g_assert_false(mhSevLaunchSecret(l, hdr, hdr, &plain, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);
    g_clear_error(&error);
    g_assert_true(mhSevLaunchUpdateData(l, "abc", 3, &error));
    g_assert_true(mhSevLaunchMeasure(l, m, &error));
    g_assert_false(mhSevLaunchMeasure(l, m, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);
    g_clear_error(&error);
    g_assert_false(mhSevLaunchUpdateData(l, "abc", 3, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);
    g_clear_error(&error);
    g_assert_true(mhSevLaunchFinish(l, &error));
    g_assert_false(mhSevLaunchFinish(l, &error));
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);

    for (int i = 0; i < MH_SEV_STATE_LAST; i++)
        g_assert_cmpint(mhSevStateTypeFromString(mhSevStateTypeToString(i)), ==, i);
    g_assert_cmpint(mhSevStateTypeFromString("bogus"), ==, -1);
    g_assert_cmpstr(mhSevStateTypeToString(MH_SEV_STATE_RECEIVE_UPDATE), ==, "receive-update");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/sev/platform/identity", Fixture, NULL, fixtureSetUp, testIdentity,
               fixtureTearDown);
    g_test_add("/sev/platform/round-trip", Fixture, NULL, fixtureSetUp, testRoundTrip,
               fixtureTearDown);
    g_test_add("/sev/platform/tamper-packet", Fixture, NULL, fixtureSetUp, testTamperPacket,
               fixtureTearDown);
    g_test_add("/sev/platform/tamper-session", Fixture, NULL, fixtureSetUp, testTamperSession,
               fixtureTearDown);
    g_test_add("/sev/platform/states", Fixture, NULL, fixtureSetUp, testStates,
               fixtureTearDown);
    return g_test_run();
}
