/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: drives the simulated PSP (sim/psp/mh-sev-platform) from a
 * script, so that tests/sev/crosscheck.py can put libvirt's own guest-owner
 * code on the other side.
 *
 *   sev-psp-sim pdh STATEDIR
 *       print the platform's PDH (base64)
 *   sev-psp-sim chain STATEDIR
 *       print the platform's certificate chain PEK||OCA||CEK (base64)
 *   sev-psp-sim launch STATEDIR POLICY GODH.b64 SESSION.b64 FIRMWARE
 *       LAUNCH_START with the owner's session, LAUNCH_UPDATE_DATA(firmware),
 *       LAUNCH_MEASURE; print "MEASUREMENT_B64 API_MAJOR API_MINOR BUILD";
 *       then read a packet header and secret (base64, one per line) from
 *       stdin, LAUNCH_SECRET, and print the plaintext in hex.
 * Errors: "error: ..." on stderr, exit 1. */
#include "sim/psp/mh-sev-platform.h"
#include "util/mh-error.h"

#include <stdio.h>
#include <string.h>

static GBytes *
readB64File(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    GBytes *out = NULL;

    if (!mhUtilReadFile(path, &text, NULL, error))
        return NULL;
    if (!mhUtilDecodeBase64(path, text, &out, error))
        return NULL;
    return out;
}

static GBytes *
readB64Line(const char *what, GError **error)
{
    char buf[65536];
    GBytes *out = NULL;

    if (!fgets(buf, sizeof(buf), stdin)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, "no %s on stdin", what);
        return NULL;
    }
    if (!mhUtilDecodeBase64(what, buf, &out, error))
        return NULL;
    return out;
}

static int
runLaunch(char **argv, GError **error)
{
    g_autoptr(MhSevPlatform) platform = NULL;
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(GBytes) godh = NULL;
    g_autoptr(GBytes) session = NULL;
    g_autoptr(GBytes) header = NULL;
    g_autoptr(GBytes) secret = NULL;
    g_autoptr(GBytes) plain = NULL;
    g_autofree char *fw = NULL;
    g_autofree char *b64 = NULL;
    g_autofree char *hex = NULL;
    uint64_t policy;
    size_t fw_len = 0;
    uint8_t m[MH_SEV_MEASUREMENT_SIZE];
    MhSevBuild build;
    gsize len;
    const void *p;

    if (!(platform = mhSevPlatformLoadOrCreate(argv[2], error)) ||
        !mhUtilParseU64("policy", argv[3], G_MAXUINT32, &policy, error) ||
        !(godh = readB64File(argv[4], error)) ||
        !(session = readB64File(argv[5], error)) ||
        !mhUtilReadFile(argv[6], &fw, &fw_len, error) ||
        !(launch = mhSevLaunchStart(platform, policy, godh, session, error)) ||
        !mhSevLaunchUpdateData(launch, fw, fw_len, error) ||
        !mhSevLaunchMeasure(launch, m, error))
        return 1;
    build = mhSevLaunchGetBuild(launch);
    b64 = g_base64_encode(m, sizeof(m));
    printf("%s %u %u %u\n", b64, build.api_major, build.api_minor, build.build_id);
    fflush(stdout);
    if (!(header = readB64Line("header", error)) ||
        !(secret = readB64Line("secret", error)) ||
        !mhSevLaunchSecret(launch, header, secret, &plain, error))
        return 1;
    p = g_bytes_get_data(plain, &len);
    hex = mhUtilFormatHex(p, len);
    printf("%s\n", hex);
    return 0;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    int ret = 1;

    if (argc == 3 && g_str_equal(argv[1], "pdh")) {
        g_autoptr(MhSevPlatform) platform = mhSevPlatformLoadOrCreate(argv[2], &error);
        if (platform) {
            g_autofree char *b64 = mhSevPlatformGetPdhBase64(platform);
            printf("%s\n", b64);
            ret = 0;
        }
    } else if (argc == 3 && g_str_equal(argv[1], "chain")) {
        g_autoptr(MhSevPlatform) platform = mhSevPlatformLoadOrCreate(argv[2], &error);
        if (platform) {
            g_autofree char *b64 = mhSevPlatformGetCertChainBase64(platform);
            printf("%s\n", b64);
            ret = 0;
        }
    } else if (argc == 7 && g_str_equal(argv[1], "launch")) {
        ret = runLaunch(argv, &error);
    } else {
        fprintf(stderr, "usage: sev-psp-sim pdh DIR | chain DIR | launch DIR POLICY GODH SESSION FW\n");
        return 2;
    }
    if (ret != 0 && error)
        fprintf(stderr, "error: %s\n", error->message);
    return ret;
}
