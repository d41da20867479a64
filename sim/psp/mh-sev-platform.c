/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A simulated SEV platform (the PSP's role) for qemu-mh's SEV model.
 *
 * Identity in the state directory (created 0700):
 *   oca.pem pek.pem cek.pem pdh.pem   private keys, PEM, mode 0600
 *   oca.cert pek.cert cek.cert pdh.cert  SEV certificates
 *   cpu0-id                           64 random bytes, the chip id
 *   version (optional)                "API_MAJOR API_MINOR BUILD"
 * pdh.cert is written last: its presence means the identity is complete.
 *
 * Chain: OCA self-signed; PEK signed by OCA (slot 0) and CEK (slot 1);
 * PDH signed by PEK. A real CEK is signed by AMD's ASK with RSA; ours is
 * self-signed because no AMD key is available, so owners of a simulated
 * platform can check everything but the AMD root. */
#include "sim/psp/mh-sev-platform.h"
#include "owner/mh-sev-priv.h"
#include "util/mh-enum.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MH_SEV_DEFAULT_API_MAJOR 0
#define MH_SEV_DEFAULT_API_MINOR 24
#define MH_SEV_DEFAULT_BUILD 15
#define MH_SEV_CPU0_ID_SIZE 64

typedef enum {
    MH_SEV_PLATFORM_KEY_OCA,
    MH_SEV_PLATFORM_KEY_PEK,
    MH_SEV_PLATFORM_KEY_CEK,
    MH_SEV_PLATFORM_KEY_PDH,
    MH_SEV_PLATFORM_KEY_LAST
} MhSevPlatformKey;

static const struct {
    const char *name;
    MhSevUsage usage;
} mhSevPlatformKeys[MH_SEV_PLATFORM_KEY_LAST] = {
    [MH_SEV_PLATFORM_KEY_OCA] = { "oca", MH_SEV_USAGE_OCA },
    [MH_SEV_PLATFORM_KEY_PEK] = { "pek", MH_SEV_USAGE_PEK },
    [MH_SEV_PLATFORM_KEY_CEK] = { "cek", MH_SEV_USAGE_CEK },
    [MH_SEV_PLATFORM_KEY_PDH] = { "pdh", MH_SEV_USAGE_PDH },
};

struct _MhSevPlatform {
    char *statedir;
    MhSevBuild build;
    EVP_PKEY *keys[MH_SEV_PLATFORM_KEY_LAST];
    MhSevCert *certs[MH_SEV_PLATFORM_KEY_LAST];
    uint8_t cpu0_id[MH_SEV_CPU0_ID_SIZE];
};

struct _MhSevLaunch {
    MhSevState state;
    uint32_t policy;
    uint32_t handle;
    MhSevBuild build;
    MhSecret *tk;                 /* TEK || TIK */
    EVP_MD_CTX *ld;               /* running launch digest */
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];
    bool measured;
};

MH_ENUM_IMPL(mhSevState, MH_SEV_STATE_LAST, "uninit", "launch-update", "launch-secret",
             "running", "send-update", "receive-update");

void
mhSevPlatformFree(MhSevPlatform *platform)
{
    if (!platform)
        return;
    for (size_t i = 0; i < MH_SEV_PLATFORM_KEY_LAST; i++) {
        EVP_PKEY_free(platform->keys[i]);
        mhSevCertFree(platform->certs[i]);
    }
    g_free(platform->statedir);
    g_free(platform);
}

static char *
mhSevPlatformPath(const MhSevPlatform *platform, MhSevPlatformKey k, const char *ext)
{
    g_autofree char *base = g_strdup_printf("%s.%s", mhSevPlatformKeys[k].name, ext);
    return g_build_filename(platform->statedir, base, NULL);
}

static bool
mhSevPlatformLoadVersion(MhSevPlatform *platform, GError **error)
{
    g_autofree char *path = g_build_filename(platform->statedir, "version", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) words = NULL;
    uint64_t v[3];

    platform->build.api_major = MH_SEV_DEFAULT_API_MAJOR;
    platform->build.api_minor = MH_SEV_DEFAULT_API_MINOR;
    platform->build.build_id = MH_SEV_DEFAULT_BUILD;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return true;
    if (!mhUtilReadFile(path, &text, NULL, error))
        return false;
    words = g_strsplit_set(g_strstrip(text), " \t\n", -1);
    if (g_strv_length(words) != 3) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' must hold \"API_MAJOR API_MINOR BUILD\""), path);
        return false;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!mhUtilParseU64(path, words[i], 255, &v[i], error))
            return false;
    }
    platform->build.api_major = v[0];
    platform->build.api_minor = v[1];
    platform->build.build_id = v[2];
    return true;
}

/* A platform owner may provision its own OCA before the first start, as
 * "sevctl provision" does on hardware: oca.pem and oca.cert already in the
 * state directory. Hosts provisioned with one OCA form one owner domain,
 * which is what a guest policy with DOMAIN allows migration within. */
static bool
mhSevPlatformLoadProvisionedOca(MhSevPlatform *platform, bool *provisioned, GError **error)
{
    g_autofree char *pem = mhSevPlatformPath(platform, MH_SEV_PLATFORM_KEY_OCA, "pem");
    g_autofree char *crt = mhSevPlatformPath(platform, MH_SEV_PLATFORM_KEY_OCA, "cert");
    g_autofree char *data = NULL;
    size_t len = 0;
    MhSevCert *cert;

    *provisioned = false;
    if (!g_file_test(pem, G_FILE_TEST_EXISTS) && !g_file_test(crt, G_FILE_TEST_EXISTS))
        return true;
    if (!(platform->keys[MH_SEV_PLATFORM_KEY_OCA] = mhSevKeyLoadPem(pem, error)) ||
        !mhUtilReadFile(crt, &data, &len, error))
        return false;
    if (!(cert = mhSevCertParse(data, len, error))) {
        mhErrorPrefix(error, "%s: ", crt);
        return false;
    }
    platform->certs[MH_SEV_PLATFORM_KEY_OCA] = cert;
    if (mhSevCertGetUsage(cert) != MH_SEV_USAGE_OCA ||
        EVP_PKEY_eq(platform->keys[MH_SEV_PLATFORM_KEY_OCA], mhSevCertGetKey(cert)) != 1 ||
        !mhSevCertVerify(cert, cert, error)) {
        g_clear_error(error);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("provisioned OCA '%s' is not a self-signed OCA certificate of '%s'"),
                    crt, pem);
        return false;
    }
    *provisioned = true;
    return true;
}

static bool
mhSevPlatformCreate(MhSevPlatform *platform, GError **error)
{
    static const struct {
        MhSevPlatformKey subject;
        MhSevPlatformKey issuer;
        unsigned slot;
    } signatures[] = {
        { MH_SEV_PLATFORM_KEY_OCA, MH_SEV_PLATFORM_KEY_OCA, 0 },
        { MH_SEV_PLATFORM_KEY_CEK, MH_SEV_PLATFORM_KEY_CEK, 0 },
        { MH_SEV_PLATFORM_KEY_PEK, MH_SEV_PLATFORM_KEY_OCA, 0 },
        { MH_SEV_PLATFORM_KEY_PEK, MH_SEV_PLATFORM_KEY_CEK, 1 },
        { MH_SEV_PLATFORM_KEY_PDH, MH_SEV_PLATFORM_KEY_PEK, 0 },
    };
    g_autofree char *id_path = g_build_filename(platform->statedir, "cpu0-id", NULL);
    bool provisioned = false;

    if (!mhSevPlatformLoadProvisionedOca(platform, &provisioned, error))
        return false;
    for (size_t k = 0; k < MH_SEV_PLATFORM_KEY_LAST; k++) {
        if (k == MH_SEV_PLATFORM_KEY_OCA && provisioned)
            continue;
        if (!(platform->keys[k] = mhSevKeyGenerate(error)) ||
            !(platform->certs[k] = mhSevCertNew(mhSevPlatformKeys[k].usage, platform->keys[k],
                                                platform->build.api_major,
                                                platform->build.api_minor, error)))
            return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(signatures); i++) {
        if (provisioned && signatures[i].subject == MH_SEV_PLATFORM_KEY_OCA)
            continue;
        if (!mhSevCertSign(platform->certs[signatures[i].subject], signatures[i].slot,
                           mhSevPlatformKeys[signatures[i].issuer].usage,
                           platform->keys[signatures[i].issuer], error))
            return false;
    }
    if (!mhUtilRandom(platform->cpu0_id, sizeof(platform->cpu0_id), error) ||
        !mhUtilWriteFile(id_path, platform->cpu0_id, sizeof(platform->cpu0_id), 0644, error))
        return false;
    /* Keys first and the PDH certificate last, so a crash in between
     * leaves an identity that the next start recognizes as incomplete. */
    for (size_t k = 0; k < MH_SEV_PLATFORM_KEY_LAST; k++) {
        g_autofree char *path = mhSevPlatformPath(platform, k, "pem");
        if (!mhSevKeySavePem(platform->keys[k], path, error))
            return false;
    }
    for (size_t k = 0; k < MH_SEV_PLATFORM_KEY_LAST; k++) {
        g_autofree char *path = mhSevPlatformPath(platform, k, "cert");
        if (!mhUtilWriteFile(path, mhSevCertGetData(platform->certs[k]), MH_SEV_CERT_SIZE,
                             0644, error))
            return false;
    }
    return true;
}

static bool
mhSevPlatformLoad(MhSevPlatform *platform, GError **error)
{
    g_autofree char *id_path = g_build_filename(platform->statedir, "cpu0-id", NULL);
    g_autofree char *id = NULL;
    size_t id_len = 0;

    for (size_t k = 0; k < MH_SEV_PLATFORM_KEY_LAST; k++) {
        g_autofree char *pem = mhSevPlatformPath(platform, k, "pem");
        g_autofree char *crt = mhSevPlatformPath(platform, k, "cert");
        g_autofree char *data = NULL;
        size_t len = 0;

        if (!(platform->keys[k] = mhSevKeyLoadPem(pem, error)) ||
            !mhUtilReadFile(crt, &data, &len, error))
            return false;
        if (!(platform->certs[k] = mhSevCertParse(data, len, error))) {
            mhErrorPrefix(error, "%s: ", crt);
            return false;
        }
        if (mhSevCertGetUsage(platform->certs[k]) != mhSevPlatformKeys[k].usage ||
            EVP_PKEY_eq(platform->keys[k], mhSevCertGetKey(platform->certs[k])) != 1) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("'%s' does not certify the key in '%s'"), crt, pem);
            return false;
        }
    }
    if (!mhSevCertVerify(platform->certs[MH_SEV_PLATFORM_KEY_PDH],
                         platform->certs[MH_SEV_PLATFORM_KEY_PEK], error) ||
        !mhSevCertVerify(platform->certs[MH_SEV_PLATFORM_KEY_PEK],
                         platform->certs[MH_SEV_PLATFORM_KEY_OCA], error) ||
        !mhSevCertVerify(platform->certs[MH_SEV_PLATFORM_KEY_PEK],
                         platform->certs[MH_SEV_PLATFORM_KEY_CEK], error)) {
        mhErrorPrefix(error, _("platform state '%s': "), platform->statedir);
        return false;
    }
    if (!mhUtilReadFile(id_path, &id, &id_len, error))
        return false;
    if (id_len != MH_SEV_CPU0_ID_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' must hold %d bytes"), id_path, MH_SEV_CPU0_ID_SIZE);
        return false;
    }
    memcpy(platform->cpu0_id, id, MH_SEV_CPU0_ID_SIZE);
    return true;
}

MhSevPlatform *
mhSevPlatformLoadOrCreate(const char *statedir, GError **error)
{
    g_autoptr(MhSevPlatform) platform = g_new0(MhSevPlatform, 1);
    g_autofree char *lock_path = NULL;
    g_autofree char *pdh_path = NULL;
    int lock_fd;
    bool ok;

    platform->statedir = g_strdup(statedir);
    if (g_mkdir_with_parents(statedir, 0700) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create SEV platform state directory '%s': %s"),
                    statedir, g_strerror(errno));
        return NULL;
    }
    if (!mhSevPlatformLoadVersion(platform, error))
        return NULL;
    /* Two emulators may start at once on a fresh directory; only one may
     * create the identity. */
    lock_path = g_build_filename(statedir, "lock", NULL);
    if ((lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
        flock(lock_fd, LOCK_EX) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot lock '%s': %s"),
                    lock_path, g_strerror(errno));
        if (lock_fd >= 0)
            close(lock_fd);
        return NULL;
    }
    pdh_path = mhSevPlatformPath(platform, MH_SEV_PLATFORM_KEY_PDH, "cert");
    if (g_file_test(pdh_path, G_FILE_TEST_EXISTS))
        ok = mhSevPlatformLoad(platform, error);
    else
        ok = mhSevPlatformCreate(platform, error);
    close(lock_fd);
    return ok ? g_steal_pointer(&platform) : NULL;
}

MhSevBuild
mhSevPlatformGetBuild(const MhSevPlatform *platform)
{
    return platform->build;
}

GBytes *
mhSevPlatformGetPdh(const MhSevPlatform *platform)
{
    return mhSevCertToBytes(platform->certs[MH_SEV_PLATFORM_KEY_PDH]);
}

GBytes *
mhSevPlatformGetCertChain(const MhSevPlatform *platform)
{
    static const MhSevPlatformKey order[] = {
        MH_SEV_PLATFORM_KEY_PEK, MH_SEV_PLATFORM_KEY_OCA, MH_SEV_PLATFORM_KEY_CEK
    };
    GByteArray *chain = g_byte_array_new();

    for (size_t i = 0; i < G_N_ELEMENTS(order); i++)
        g_byte_array_append(chain, mhSevCertGetData(platform->certs[order[i]]),
                            MH_SEV_CERT_SIZE);
    return g_byte_array_free_to_bytes(chain);
}

char *
mhSevPlatformGetPdhBase64(const MhSevPlatform *platform)
{
    return mhSevCertToBase64(platform->certs[MH_SEV_PLATFORM_KEY_PDH]);
}

char *
mhSevPlatformGetCertChainBase64(const MhSevPlatform *platform)
{
    g_autoptr(GBytes) chain = mhSevPlatformGetCertChain(platform);
    gsize len;
    const guchar *p = g_bytes_get_data(chain, &len);

    return g_base64_encode(p, len);
}

char *
mhSevPlatformGetCpu0IdBase64(const MhSevPlatform *platform)
{
    return g_base64_encode(platform->cpu0_id, sizeof(platform->cpu0_id));
}

void
mhSevLaunchFree(MhSevLaunch *launch)
{
    if (!launch)
        return;
    mhSecretFree(launch->tk);
    EVP_MD_CTX_free(launch->ld);
    OPENSSL_cleanse(launch, sizeof(*launch));
    g_free(launch);
}

MhSevLaunch *
mhSevLaunchStart(MhSevPlatform *platform, uint32_t policy,
                 GBytes *godh, GBytes *session, GError **error)
{
    g_autoptr(MhSevLaunch) launch = g_new0(MhSevLaunch, 1);

    launch->state = MH_SEV_STATE_UNINIT;
    launch->policy = policy;
    launch->build = platform->build;
    if (!!godh != !!session) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("LAUNCH_START needs both the guest owner's DH certificate and "
                      "the session blob, or neither"));
        return NULL;
    }
    if (godh) {
        g_autoptr(MhSevCert) cert = NULL;
        g_autoptr(MhSecret) z = NULL;
        MhSevSession blob;
        gsize len;
        const void *p = g_bytes_get_data(godh, &len);

        if (!(cert = mhSevCertParse(p, len, error))) {
            mhErrorPrefix(error, _("LAUNCH_START: guest owner DH certificate: "));
            return NULL;
        }
        /* As the firmware: the GODH is an ECDH key in a PDH-usage cert. */
        if (mhSevCertGetUsage(cert) != MH_SEV_USAGE_PDH ||
            (mhSevCertGetAlgo(cert) != MH_SEV_ALGO_ECDH_SHA256 &&
             mhSevCertGetAlgo(cert) != MH_SEV_ALGO_ECDH_SHA384)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("LAUNCH_START: the guest owner DH certificate must be an ECDH "
                          "key with usage PDH (got usage 0x%x, algorithm 0x%x)"),
                        mhSevCertGetUsage(cert), mhSevCertGetAlgo(cert));
            return NULL;
        }
        p = g_bytes_get_data(session, &len);
        if (!mhSevSessionParse(p, len, &blob, error) ||
            !(z = mhSevEcdh(platform->keys[MH_SEV_PLATFORM_KEY_PDH],
                            mhSevCertGetKey(cert), error)) ||
            !(launch->tk = mhSevSessionUnwrap(z, &blob, policy, error))) {
            mhErrorPrefix(error, "LAUNCH_START: ");
            return NULL;
        }
    } else {
        launch->tk = mhSecretNew(MH_SEV_TK_SIZE);
        if (!mhUtilRandom(launch->tk->data, launch->tk->len, error))
            return NULL;
    }
    launch->ld = EVP_MD_CTX_new();
    if (!launch->ld || !EVP_DigestInit_ex2(launch->ld, EVP_sha256(), NULL)) {
        mhSevSetOpensslError(error, "SHA-256");
        return NULL;
    }
    do {
        if (!mhUtilRandom(&launch->handle, sizeof(launch->handle), error))
            return NULL;
    } while (launch->handle == 0);
    launch->state = MH_SEV_STATE_LAUNCH_UPDATE;
    return g_steal_pointer(&launch);
}

MhSevState
mhSevLaunchGetState(const MhSevLaunch *launch)
{
    return launch->state;
}

uint32_t
mhSevLaunchGetPolicy(const MhSevLaunch *launch)
{
    return launch->policy;
}

uint32_t
mhSevLaunchGetHandle(const MhSevLaunch *launch)
{
    return launch->handle;
}

MhSevBuild
mhSevLaunchGetBuild(const MhSevLaunch *launch)
{
    return launch->build;
}

static bool
mhSevLaunchCheckState(const MhSevLaunch *launch, const char *op, MhSevState want,
                      GError **error)
{
    if (launch->state == want)
        return true;
    g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                _("%s is not allowed in SEV state '%s' (needs '%s')"), op,
                mhSevStateTypeToString(launch->state), mhSevStateTypeToString(want));
    return false;
}

bool
mhSevLaunchUpdateData(MhSevLaunch *launch, const void *data, size_t len, GError **error)
{
    if (!mhSevLaunchCheckState(launch, "LAUNCH_UPDATE_DATA", MH_SEV_STATE_LAUNCH_UPDATE, error))
        return false;
    if (!EVP_DigestUpdate(launch->ld, data, len)) {
        mhSevSetOpensslError(error, "SHA-256");
        return false;
    }
    return true;
}

bool
mhSevLaunchGetDigest(const MhSevLaunch *launch, uint8_t out[MH_SEV_DIGEST_SIZE],
                     GError **error)
{
    g_autoptr(EVP_MD_CTX) copy = NULL;

    if (launch->measured) {
        memcpy(out, launch->digest, MH_SEV_DIGEST_SIZE);
        return true;
    }
    /* Finalize a copy: the running digest may still be extended. */
    copy = EVP_MD_CTX_new();
    if (!copy || !EVP_MD_CTX_copy_ex(copy, launch->ld) ||
        !EVP_DigestFinal_ex(copy, out, NULL)) {
        mhSevSetOpensslError(error, "SHA-256");
        return false;
    }
    return true;
}

bool
mhSevLaunchMeasure(MhSevLaunch *launch, uint8_t out[MH_SEV_MEASUREMENT_SIZE],
                   GError **error)
{
    uint8_t *mnonce = launch->measurement + MH_SEV_MAC_SIZE;

    if (!mhSevLaunchCheckState(launch, "LAUNCH_MEASURE", MH_SEV_STATE_LAUNCH_UPDATE, error))
        return false;
    if (!mhSevLaunchGetDigest(launch, launch->digest, error) ||
        !mhUtilRandom(mnonce, MH_SEV_NONCE_SIZE, error) ||
        !mhSevMeasurementMac(launch->tk->data + MH_SEV_KEY_SIZE, &launch->build,
                             launch->policy, launch->digest, mnonce,
                             launch->measurement, error))
        return false;
    launch->measured = true;
    launch->state = MH_SEV_STATE_LAUNCH_SECRET;
    memcpy(out, launch->measurement, MH_SEV_MEASUREMENT_SIZE);
    return true;
}

bool
mhSevLaunchGetMeasurement(const MhSevLaunch *launch, uint8_t out[MH_SEV_MEASUREMENT_SIZE])
{
    if (!launch->measured)
        return false;
    memcpy(out, launch->measurement, MH_SEV_MEASUREMENT_SIZE);
    return true;
}

bool
mhSevLaunchSecret(MhSevLaunch *launch, GBytes *header, GBytes *ciphertext,
                  GBytes **plaintext, GError **error)
{
    MhSevPacketHeader hdr;
    uint8_t mac[MH_SEV_MAC_SIZE];
    g_autoptr(MhSecret) out = NULL;
    gsize hlen, clen;
    const void *hp = g_bytes_get_data(header, &hlen);
    const void *cp = g_bytes_get_data(ciphertext, &clen);

    if (!mhSevLaunchCheckState(launch, "LAUNCH_SECRET", MH_SEV_STATE_LAUNCH_SECRET, error))
        return false;
    if (!mhSevPacketHeaderParse(hp, hlen, &hdr, error))
        return false;
    if (clen == 0 || clen > G_MAXUINT32) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("LAUNCH_SECRET: secret length %zu is invalid"), (size_t)clen);
        return false;
    }
    /* Bit 0 asks the PSP to decompress; the secret table is never
     * compressed, and an unknown bit must not be ignored. */
    if (hdr.flags != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("LAUNCH_SECRET: packet flags 0x%x are not supported"), hdr.flags);
        return false;
    }
    if (!mhSevPacketMac(launch->tk->data + MH_SEV_KEY_SIZE, hdr.flags, hdr.iv, clen,
                        cp, clen, launch->measurement, mac, error))
        return false;
    if (!mhSevMacEqual(mac, hdr.mac, MH_SEV_MAC_SIZE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("LAUNCH_SECRET: packet header MAC does not match (wrong TIK, "
                      "measurement or tampered packet)"));
        return false;
    }
    out = mhSecretNew(clen);
    if (!mhSevAesCtr(launch->tk->data, hdr.iv, cp, clen, out->data, error))
        return false;
    *plaintext = mhSevSecretToBytes(g_steal_pointer(&out));
    return true;
}

bool
mhSevLaunchFinish(MhSevLaunch *launch, GError **error)
{
    if (launch->state != MH_SEV_STATE_LAUNCH_UPDATE &&
        launch->state != MH_SEV_STATE_LAUNCH_SECRET) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("LAUNCH_FINISH is not allowed in SEV state '%s'"),
                    mhSevStateTypeToString(launch->state));
        return false;
    }
    launch->state = MH_SEV_STATE_RUNNING;
    return true;
}
