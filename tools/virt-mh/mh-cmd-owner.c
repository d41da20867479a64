/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh owner: the guest owner's side of SEV launch attestation.
 *
 *   session   LAUNCH_START inputs (<dhCert>, <session>) and TEK||TIK
 *   measure   the measurement a platform would report
 *   verify    check a reported measurement
 *   secret    seal a LAUNCH_SECRET packet
 *   inject    verify and inject into a paused domain (mh-cmd-owner-inject.c)
 *   new-key   a fresh migration key file
 *
 * Every subcommand computes all its results before it writes anything, and
 * writes its files all-or-nothing. */
#include "mh-cmd.h"
#include "mh-cmd-owner-priv.h"
#include "owner/mh-sev-chain.h"

#include "owner/mh-sev-cert.h"
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

void
mhCmdOwnerImageClear(MhCmdOwnerImage *image)
{
    g_clear_pointer(&image->firmware, g_free);
    g_clear_pointer(&image->kernel, g_free);
    g_clear_pointer(&image->initrd, g_free);
    g_clear_pointer(&image->cmdline, g_free);
    g_clear_pointer(&image->digest, g_free);
}

bool
mhCmdOwnerImageDigest(const MhCmdOwnerImage *image, uint8_t digest[MH_SEV_DIGEST_SIZE],
                      GError **error)
{
    g_autofree char *fw = NULL;
    size_t fw_len = 0;
    g_autoptr(GBytes) firmware = NULL;
    g_autoptr(GBytes) table = NULL;

    if (image->digest && image->firmware) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("give either --firmware or --digest, not both"));
        return false;
    }
    if (image->digest) {
        g_autoptr(GBytes) raw = NULL;
        if (image->kernel || image->initrd || image->cmdline) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("--kernel, --initrd and --cmdline need --firmware, not --digest"));
            return false;
        }
        if (!mhUtilParseHex("--digest", image->digest, MH_SEV_DIGEST_SIZE, &raw, error))
            return false;
        memcpy(digest, g_bytes_get_data(raw, NULL), MH_SEV_DIGEST_SIZE);
        return true;
    }
    if (!image->firmware) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the launch image is missing: give --firmware FILE or --digest HEX"));
        return false;
    }
    if ((image->initrd || image->cmdline) && !image->kernel) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--initrd and --cmdline are measured only with --kernel"));
        return false;
    }
    if (!mhUtilReadFile(image->firmware, &fw, &fw_len, error))
        return false;
    if (fw_len == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("firmware file '%s' is empty"), image->firmware);
        return false;
    }
    firmware = g_bytes_new_take(g_steal_pointer(&fw), fw_len);
    if (image->kernel &&
        !(table = mhSevKernelHashesTableFromFiles(image->kernel, image->initrd,
                                                  image->cmdline, error)))
        return false;
    return mhSevOwnerLaunchDigest(firmware, table, digest, error);
}

bool
mhCmdOwnerParsePolicy(const char *text, uint32_t *policy, GError **error)
{
    const char *p = text;
    guint64 v = 0;

    if (g_str_has_prefix(p, "0x") || g_str_has_prefix(p, "0X"))
        p += 2;
    if (!*p || strlen(p) > 8 || !g_ascii_string_to_unsigned(p, 16, 0, G_MAXUINT32, &v, NULL)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--policy: '%s' is not a 32-bit hex number"), text);
        return false;
    }
    *policy = v;
    return true;
}

MhSecret *
mhCmdOwnerBuildTable(char **entries, const char *migration_key, GError **error)
{
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();

    if ((!entries || !*entries) && !migration_key) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("nothing to seal: give --entry GUID|ALIAS:FILE or --migration-key FILE"));
        return NULL;
    }
    for (char **e = entries; e && *e; e++) {
        if (!mhSevSecretTableAddSpec(table, *e, error))
            return NULL;
    }
    if (migration_key) {
        g_autoptr(MhSecret) key = mhSevMigrationKeyLoad(migration_key, error);
        if (!key || !mhSevSecretTableAddMigrationKey(table, key, error))
            return NULL;
    }
    return mhSevSecretTableBuild(table, error);
}

bool
mhCmdOwnerRequire(const char *command, const char *option, const void *value,
                  GError **error)
{
    if (value)
        return true;
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("%s: option %s is required"), command, option);
    return false;
}

typedef struct {
    const char *name;
    const void *data;
    size_t len;
    int mode;
} MhCmdOwnerOutput;

/* Write all outputs or none: each goes to a temporary name first and is
 * renamed into place only when all are written. A directory that did not
 * exist is created and removed again on failure. */
static bool
mhCmdOwnerWriteOutputs(const char *dir, const MhCmdOwnerOutput *outs, size_t n,
                       GError **error)
{
    g_autoptr(GPtrArray) tmps = g_ptr_array_new_with_free_func(g_free);
    bool created = false;
    size_t i;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("--out '%s' exists and is not a directory"), dir);
            return false;
        }
        if (g_mkdir(dir, 0700) < 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("cannot create directory '%s': %s"), dir, g_strerror(errno));
            return false;
        }
        created = true;
    }
    for (i = 0; i < n; i++) {
        g_autofree char *base = g_strdup_printf(".%s.new", outs[i].name);
        char *tmp = g_build_filename(dir, base, NULL);

        g_ptr_array_add(tmps, tmp);
        if (!mhUtilWriteFile(tmp, outs[i].data, outs[i].len, outs[i].mode, error))
            goto fail;
    }
    for (i = 0; i < n; i++) {
        g_autofree char *path = g_build_filename(dir, outs[i].name, NULL);
        if (rename(g_ptr_array_index(tmps, i), path) < 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO,
                        _("cannot write file '%s': %s"), path, g_strerror(errno));
            goto fail;
        }
    }
    return true;

 fail:
    for (size_t j = 0; j < tmps->len; j++)
        unlink(g_ptr_array_index(tmps, j));
    if (created)
        g_rmdir(dir);
    return false;
}

/* The PDH from --pdh FILE (base64 as virsh nodesevinfo prints it, or the
 * raw certificate) or from the host's libvirt (virNodeGetSEVInfo). With a
 * certificate chain, PDH <- PEK <- OCA and PEK <- CEK are checked. */
static MhSevCert *
mhCmdOwnerLoadPdh(MhCmdGlobal *global, const char *pdh_path, const char *chain_path,
                  GError **error)
{
    g_autofree char *pdh_text = NULL;
    g_autofree char *chain_text = NULL;
    g_autoptr(MhSevCert) pdh = NULL;
    size_t len = 0;

    if (pdh_path) {
        if (!mhUtilReadFile(pdh_path, &pdh_text, &len, error))
            return NULL;
        if (len == MH_SEV_CERT_SIZE) {
            pdh = mhSevCertParse(pdh_text, len, error);
        } else {
            pdh_text = g_realloc(pdh_text, len + 1);
            pdh_text[len] = '\0';
            pdh = mhSevCertParseBase64("PDH", pdh_text, error);
        }
        if (!pdh) {
            mhErrorPrefix(error, "%s: ", pdh_path);
            return NULL;
        }
        if (chain_path && !mhUtilReadFile(chain_path, &chain_text, NULL, error))
            return NULL;
    } else {
        g_autoptr(virConnect) conn = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0;
        const char *v = NULL;

        if (!global->connect_uri) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("give the platform's PDH with --pdh FILE or -c URI"));
            return NULL;
        }
        if (!(conn = mhVirtConnect(global->connect_uri, error)))
            return NULL;
        if (virNodeGetSEVInfo(conn, &params, &nparams, 0) < 0) {
            mhVirtSetError(error, _("cannot read the host's SEV information"));
            return NULL;
        }
        if (virTypedParamsGetString(params, nparams, VIR_NODE_SEV_PDH, &v) == 1)
            pdh_text = g_strdup(v);
        if (virTypedParamsGetString(params, nparams, VIR_NODE_SEV_CERT_CHAIN, &v) == 1)
            chain_text = g_strdup(v);
        virTypedParamsFree(params, nparams);
        if (!pdh_text) {
            g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                        _("the host's SEV information has no PDH"));
            return NULL;
        }
        if (!(pdh = mhSevCertParseBase64("PDH", pdh_text, error)))
            return NULL;
    }
    if (chain_text) {
        g_autoptr(GBytes) raw = NULL;
        g_autoptr(GBytes) pdh_bytes = mhSevCertToBytes(pdh);
        g_autoptr(MhSevChain) chain = NULL;

        if (!mhUtilDecodeBase64(_("certificate chain"), chain_text, &raw, error) ||
            !(chain = mhSevChainFromBytes(pdh_bytes, raw, error)))
            return NULL;
    }
    return g_steal_pointer(&pdh);
}

static int
mhCmdOwnerSession(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *pdh_path = NULL;
    g_autofree char *chain_path = NULL;
    g_autofree char *policy_text = NULL;
    g_autofree char *out = NULL;
    GOptionEntry entries[] = {
        { "pdh", 0, 0, G_OPTION_ARG_FILENAME, &pdh_path,
          N_("platform PDH certificate, base64 as 'virsh nodesevinfo' prints it"), N_("FILE") },
        { "cert-chain", 0, 0, G_OPTION_ARG_FILENAME, &chain_path,
          N_("with --pdh: base64 PEK, OCA, CEK chain to check the PDH against"), N_("FILE") },
        { "policy", 0, 0, G_OPTION_ARG_STRING, &policy_text,
          N_("guest policy (hex)"), N_("HEX") },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
          N_("directory for godh.b64, session.b64 and tk.bin"), N_("DIR") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSevCert) pdh = NULL;
    g_autoptr(MhSevOwnerSession) session = NULL;
    g_autofree char *godh_b64 = NULL;
    g_autofree char *session_b64 = NULL;
    uint32_t policy;

    if (!mhCmdParseOptions(global, "owner session", NULL,
                           N_("Create a SEV launch session for a platform's PDH."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdOwnerRequire("owner session", "--policy", policy_text, &error) ||
        !mhCmdOwnerRequire("owner session", "--out", out, &error) ||
        !mhCmdOwnerParsePolicy(policy_text, &policy, &error) ||
        !(pdh = mhCmdOwnerLoadPdh(global, pdh_path, chain_path, &error)) ||
        !(session = mhSevOwnerSessionNew(pdh, policy, &error)))
        goto fail;
    godh_b64 = mhSevCertToBase64(session->godh);
    session_b64 = g_base64_encode((const guchar *)&session->session, MH_SEV_SESSION_SIZE);
    {
        MhCmdOwnerOutput outs[] = {
            { "godh.b64", godh_b64, strlen(godh_b64), 0644 },
            { "session.b64", session_b64, strlen(session_b64), 0644 },
            { "tk.bin", session->tk->data, session->tk->len, 0600 },
        };
        if (!mhCmdOwnerWriteOutputs(out, outs, G_N_ELEMENTS(outs), &error))
            goto fail;
    }
    return MH_EXIT_OK;

 fail:
    mhCmdPrintError(error);
    return MH_EXIT_FAIL;
}

/* Options shared by measure and verify. */
typedef struct {
    MhCmdOwnerImage image;
    char *api_major;
    char *api_minor;
    char *build_id;
    char *policy;
    char *tk;
} MhCmdOwnerMeasureArgs;

static void
mhCmdOwnerMeasureArgsClear(MhCmdOwnerMeasureArgs *args)
{
    mhCmdOwnerImageClear(&args->image);
    g_free(args->api_major);
    g_free(args->api_minor);
    g_free(args->build_id);
    g_free(args->policy);
    g_free(args->tk);
}

#define MH_CMD_OWNER_MEASURE_ENTRIES(a) \
    { "firmware", 0, 0, G_OPTION_ARG_FILENAME, &(a).image.firmware, \
      N_("firmware image the guest was launched with"), N_("FILE") }, \
    MH_CMD_OWNER_KERNEL_ENTRIES((a).image), \
    { "digest", 0, 0, G_OPTION_ARG_STRING, &(a).image.digest, \
      N_("launch digest instead of the images"), N_("HEX") }, \
    { "api-major", 0, 0, G_OPTION_ARG_STRING, &(a).api_major, \
      N_("platform API major version"), N_("N") }, \
    { "api-minor", 0, 0, G_OPTION_ARG_STRING, &(a).api_minor, \
      N_("platform API minor version"), N_("N") }, \
    { "build-id", 0, 0, G_OPTION_ARG_STRING, &(a).build_id, \
      N_("platform firmware build id"), N_("N") }, \
    { "policy", 0, 0, G_OPTION_ARG_STRING, &(a).policy, \
      N_("guest policy (hex)"), N_("HEX") }, \
    MH_CMD_OWNER_TK_ENTRY((a).tk)

static bool
mhCmdOwnerMeasureInputs(const char *command, const MhCmdOwnerMeasureArgs *args,
                        MhSevBuild *build, uint32_t *policy,
                        uint8_t digest[MH_SEV_DIGEST_SIZE], MhSecret **tk, GError **error)
{
    uint64_t v[3];
    const char *names[3] = { "--api-major", "--api-minor", "--build-id" };
    const char *values[3] = { args->api_major, args->api_minor, args->build_id };

    for (size_t i = 0; i < 3; i++) {
        if (!mhCmdOwnerRequire(command, names[i], values[i], error) ||
            !mhUtilParseU64(names[i], values[i], 255, &v[i], error))
            return false;
    }
    build->api_major = v[0];
    build->api_minor = v[1];
    build->build_id = v[2];
    return mhCmdOwnerRequire(command, "--policy", args->policy, error) &&
           mhCmdOwnerParsePolicy(args->policy, policy, error) &&
           mhCmdOwnerRequire(command, "--tk", args->tk, error) &&
           (*tk = mhSevOwnerLoadTk(args->tk, error)) &&
           mhCmdOwnerImageDigest(&args->image, digest, error);
}

/* measure and verify differ only in their one extra input and in what
 * they do with the launch inputs; the rest is one code path. */
typedef struct {
    const char *command;
    const char *summary;          /* N_() */
    const char *option;           /* the extra input, without "--" */
    const char *option_help;      /* N_() */
    const char *option_arg;       /* N_() */
    /* Check the extra input; returns it as bytes. */
    GBytes *(*parse)(const char *text, GError **error);
    /* Act on all inputs and print the result. */
    bool (*run)(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                const uint8_t digest[MH_SEV_DIGEST_SIZE], GBytes *input, GError **error);
} MhCmdOwnerMeasureMode;

static GBytes *
mhCmdOwnerParseMnonce(const char *text, GError **error)
{
    GBytes *mnonce = NULL;

    if (!mhUtilParseHex("--mnonce", text, MH_SEV_NONCE_SIZE, &mnonce, error))
        return NULL;
    return mnonce;
}

static bool
mhCmdOwnerMeasureRun(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                     const uint8_t digest[MH_SEV_DIGEST_SIZE], GBytes *mnonce,
                     GError **error)
{
    uint8_t out[MH_SEV_MEASUREMENT_SIZE];
    g_autofree char *b64 = NULL;

    if (!mhSevOwnerMeasure(tk, build, policy, digest, g_bytes_get_data(mnonce, NULL),
                           out, error))
        return false;
    b64 = g_base64_encode(out, sizeof(out));
    printf("%s\n", b64);
    return true;
}

static GBytes *
mhCmdOwnerParseMeasurementBytes(const char *text, GError **error)
{
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];

    if (!mhOwnerParseMeasurement(text, measurement, error))
        return NULL;
    return g_bytes_new(measurement, sizeof(measurement));
}

static bool
mhCmdOwnerVerifyRun(const MhSecret *tk, const MhSevBuild *build, uint32_t policy,
                    const uint8_t digest[MH_SEV_DIGEST_SIZE], GBytes *measurement,
                    GError **error)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(measurement, &len);

    if (!mhSevOwnerVerify(tk, build, policy, digest, p, len, error))
        return false;
    printf(_("measurement verified\n"));
    return true;
}

static const MhCmdOwnerMeasureMode mhCmdOwnerModeMeasure = {
    "owner measure", N_("Compute the launch measurement a platform would report."),
    "mnonce", N_("measurement nonce (16 bytes hex)"), N_("HEX"),
    mhCmdOwnerParseMnonce, mhCmdOwnerMeasureRun,
};

static const MhCmdOwnerMeasureMode mhCmdOwnerModeVerify = {
    "owner verify", N_("Check a reported SEV launch measurement."),
    "measurement", N_("the reported measurement (base64)"), N_("B64"),
    mhCmdOwnerParseMeasurementBytes, mhCmdOwnerVerifyRun,
};

static int
mhCmdOwnerMeasureCommon(const MhCmdOwnerMeasureMode *mode, MhCmdGlobal *global,
                        int argc, char **argv)
{
    MhCmdOwnerMeasureArgs args = { .tk = NULL };
    g_autofree char *input_text = NULL;
    g_autofree char *option = g_strdup_printf("--%s", mode->option);
    GOptionEntry entries[] = {
        MH_CMD_OWNER_MEASURE_ENTRIES(args),
        { mode->option, 0, 0, G_OPTION_ARG_STRING, &input_text,
          mode->option_help, mode->option_arg },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) tk = NULL;
    g_autoptr(GBytes) input = NULL;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    MhSevBuild build;
    uint32_t policy;
    int ret = MH_EXIT_FAIL;

    if (!mhCmdParseOptions(global, mode->command, NULL, mode->summary,
                           entries, &argc, &argv))
        goto cleanup;
    if (!mhCmdOwnerRequire(mode->command, option, input_text, &error) ||
        !(input = mode->parse(input_text, &error)) ||
        !mhCmdOwnerMeasureInputs(mode->command, &args, &build, &policy, digest, &tk, &error) ||
        !mode->run(tk, &build, policy, digest, input, &error)) {
        mhCmdPrintError(error);
        goto cleanup;
    }
    ret = MH_EXIT_OK;

 cleanup:
    mhCmdOwnerMeasureArgsClear(&args);
    return ret;
}

static int
mhCmdOwnerMeasure(MhCmdGlobal *global, int argc, char **argv)
{
    return mhCmdOwnerMeasureCommon(&mhCmdOwnerModeMeasure, global, argc, argv);
}

static int
mhCmdOwnerVerify(MhCmdGlobal *global, int argc, char **argv)
{
    return mhCmdOwnerMeasureCommon(&mhCmdOwnerModeVerify, global, argc, argv);
}

static int
mhCmdOwnerSecret(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *tk_path = NULL;
    g_autofree char *measurement_text = NULL;
    g_auto(GStrv) specs = NULL;
    g_autofree char *mk_path = NULL;
    g_autofree char *iv_text = NULL;
    g_autofree char *out = NULL;
    GOptionEntry entries[] = {
        MH_CMD_OWNER_TK_ENTRY(tk_path),
        { "measurement", 0, 0, G_OPTION_ARG_STRING, &measurement_text,
          N_("the verified measurement (base64)"), N_("B64") },
        MH_CMD_OWNER_SECRET_ENTRIES(specs, mk_path),
        { "iv", 0, 0, G_OPTION_ARG_STRING, &iv_text,
          N_("IV (16 bytes hex; random by default)"), N_("HEX") },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
          N_("directory for header.b64 and secret.b64"), N_("DIR") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) tk = NULL;
    g_autoptr(MhSecret) table = NULL;
    g_autoptr(GBytes) iv = NULL;
    g_autoptr(GBytes) ciphertext = NULL;
    g_autofree char *header_b64 = NULL;
    g_autofree char *secret_b64 = NULL;
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];
    uint8_t header[MH_SEV_PACKET_HEADER_SIZE];
    gsize clen;
    const guchar *cp;

    if (!mhCmdParseOptions(global, "owner secret", NULL,
                           N_("Seal secrets into a SEV LAUNCH_SECRET packet."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdOwnerRequire("owner secret", "--tk", tk_path, &error) ||
        !mhCmdOwnerRequire("owner secret", "--measurement", measurement_text, &error) ||
        !mhCmdOwnerRequire("owner secret", "--out", out, &error) ||
        !mhOwnerParseMeasurement(measurement_text, measurement, &error) ||
        (iv_text && !mhUtilParseHex("--iv", iv_text, MH_SEV_IV_SIZE, &iv, &error)) ||
        !(tk = mhSevOwnerLoadTk(tk_path, &error)) ||
        !(table = mhCmdOwnerBuildTable(specs, mk_path, &error)) ||
        !mhSevOwnerSeal(tk, measurement, sizeof(measurement), table->data, table->len,
                        iv ? g_bytes_get_data(iv, NULL) : NULL, header, &ciphertext, &error))
        goto fail;
    cp = g_bytes_get_data(ciphertext, &clen);
    header_b64 = g_base64_encode(header, sizeof(header));
    secret_b64 = g_base64_encode(cp, clen);
    {
        MhCmdOwnerOutput outs[] = {
            { "header.b64", header_b64, strlen(header_b64), 0644 },
            { "secret.b64", secret_b64, strlen(secret_b64), 0644 },
        };
        if (!mhCmdOwnerWriteOutputs(out, outs, G_N_ELEMENTS(outs), &error))
            goto fail;
    }
    return MH_EXIT_OK;

 fail:
    mhCmdPrintError(error);
    return MH_EXIT_FAIL;
}

static int
mhCmdOwnerNewKey(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *out = NULL;
    GOptionEntry entries[] = {
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
          N_("new key file (created 0600, never overwritten)"), N_("FILE") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;

    if (!mhCmdParseOptions(global, "owner new-key", NULL,
                           N_("Create a random migration key."), entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!mhCmdOwnerRequire("owner new-key", "--out", out, &error) ||
        !mhSevMigrationKeyCreate(out, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    return MH_EXIT_OK;
}

static const MhCmd mhCmdOwnerSubs[] = {
    { "inject", N_("verify a paused SEV domain and inject secrets"), mhCmdOwnerInject },
    { "measure", N_("compute the measurement a platform would report"), mhCmdOwnerMeasure },
    { "new-key", N_("create a random migration key file"), mhCmdOwnerNewKey },
    { "secret", N_("seal a LAUNCH_SECRET packet"), mhCmdOwnerSecret },
    { "session", N_("create a SEV launch session for a PDH"), mhCmdOwnerSession },
    { "verify", N_("check a reported launch measurement"), mhCmdOwnerVerify },
    { NULL, NULL, NULL }
};

static const MhCmdFamily mhCmdOwnerFamily = {
    N_("Usage: virt-mh owner SUBCOMMAND [OPTIONS...]\n\nSubcommands:\n"), 10,
    N_("unknown owner subcommand '%s'"), true, mhCmdOwnerSubs,
};

int
mhCmdOwner(MhCmdGlobal *global, int argc, char **argv)
{
    return mhCmdFamilyRun(&mhCmdOwnerFamily, global, argc, argv);
}
