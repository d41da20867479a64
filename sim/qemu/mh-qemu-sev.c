/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SEV platform model of qemu-mh: the launch sequence QEMU 7.2 drives
 * through KVM and the PSP (target/i386/sev.c), with the PSP replaced by
 * src/sev's platform, and the SEV QMP commands answered from it. Error
 * texts follow QEMU's so that libvirt and users see what a real host
 * would show. */
#include "sim/qemu/mh-qemu.h"
#include "sim/qemu/mh-qemu-fw.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

/* AMD SEV API status codes QEMU prints (fw_error) and their texts. */
typedef enum {
    MH_SEV_FW_GUEST_STATE = 2,
    MH_SEV_FW_INVALID_CERTIFICATE = 6,
    MH_SEV_FW_BAD_MEASUREMENT = 11,
    MH_SEV_FW_UNSUPPORTED = 21,
    MH_SEV_FW_INVALID_PARAM = 22,
} MhSevFwError;

static const char *
mhSevFwErrorToString(int code)
{
    switch (code) {
    case MH_SEV_FW_GUEST_STATE: return "Guest state is invalid";
    case MH_SEV_FW_INVALID_CERTIFICATE: return "Certificate is invalid";
    case MH_SEV_FW_BAD_MEASUREMENT: return "Bad measurement";
    case MH_SEV_FW_UNSUPPORTED: return "Feature not supported";
    case MH_SEV_FW_INVALID_PARAM: return "Invalid parameter";
    }
    return "";
}

/* What the PSP would have answered for a refusal of src/sev. */
static int
mhSevFwErrorFromGError(const GError *err, bool launch_start)
{
    if (err->domain != MH_ERROR)
        return MH_SEV_FW_INVALID_PARAM;
    switch (err->code) {
    case MH_ERROR_AUTH: return MH_SEV_FW_BAD_MEASUREMENT;
    case MH_ERROR_STATE: return MH_SEV_FW_GUEST_STATE;
    case MH_ERROR_UNSUPPORTED: return MH_SEV_FW_UNSUPPORTED;
    case MH_ERROR_INVALID:
        return launch_start ? MH_SEV_FW_INVALID_CERTIFICATE : MH_SEV_FW_INVALID_PARAM;
    }
    return MH_SEV_FW_INVALID_PARAM;
}

/* QEMU reads the files with g_file_get_contents and decodes leniently. */
static GBytes *
mhQemuSevReadBase64(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;
    guchar *data;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    "SEV: Failed to read '%s' (%s)", path, err->message);
        return NULL;
    }
    data = g_base64_decode(g_strstrip(text), &len);
    return g_bytes_new_take(data, len);
}

static bool
mhQemuSevKernelHashes(MhQemu *qemu, GError **error)
{
    const MhQemuArgs *args = qemu->args;
    gsize fwlen;
    const uint8_t *fw = g_bytes_get_data(qemu->firmware, &fwlen);
    uint32_t base = 0, size = 0;
    g_autoptr(GBytes) table = NULL;
    gsize tlen;
    const void *tdata;

    if (!args->sev->kernel_hashes || !args->kernel)
        return true;
    if (!mhQemuFwTableFind(fw, fwlen, MH_QEMU_FW_SEV_HASH_TABLE_GUID, &(const uint8_t *){NULL},
                           &(size_t){0})) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    "SEV: kernel specified but guest firmware has no hashes table GUID");
        return false;
    }
    mhQemuFwFindArea(fw, fwlen, MH_QEMU_FW_SEV_HASH_TABLE_GUID, &base, &size);
    if (!(table = mhSevKernelHashesTableFromFiles(args->kernel, args->initrd,
                                                   args->append, error)))
        return false;
    tdata = g_bytes_get_data(table, &tlen);
    if (!base || size < tlen) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    "SEV: guest firmware hashes table area is invalid (base=0x%x size=0x%x)",
                    base, size);
        return false;
    }
    /* QEMU writes the table into the guest page OVMF designates, then
     * has the PSP measure (and encrypt) it. */
    if (qemu->ram && !mhQemuRamWrite(qemu->ram, base, tdata, tlen, error)) {
        mhErrorPrefix(error, "SEV: cannot map hashes table guest memory area: ");
        return false;
    }
    return mhSevLaunchUpdateData(qemu->launch, tdata, tlen, error);
}

bool
mhQemuSevLaunch(MhQemu *qemu, GError **error)
{
    const MhQemuSevArgs *sev = qemu->args->sev;
    g_autoptr(GBytes) godh = NULL;
    g_autoptr(GBytes) session = NULL;
    g_autoptr(GError) err = NULL;
    MhSevPlatform *platform;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];
    g_autofree char *digest_hex = NULL;
    char *fwdata;
    gsize fwlen;

    if (!sev)
        return true;
    if (sev->cbitpos != MH_QEMU_SEV_CBITPOS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    "sev_kvm_init: cbitpos check failed, host '%d' requested '%u'",
                    MH_QEMU_SEV_CBITPOS, sev->cbitpos);
        return false;
    }
    if (sev->reduced_phys_bits < 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    "sev_kvm_init: reduced_phys_bits check failed, it should be >=1, "
                    "requested '%u'", sev->reduced_phys_bits);
        return false;
    }
    /* The model is plain SEV: no VMSA measurement, no encrypted register
     * state; it reports maxESGuests 0, and QEMU refuses like this. */
    if (sev->policy & MH_CONF_SEV_POLICY_ES) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    "sev_kvm_init: guest policy requires SEV-ES, but host SEV-ES support "
                    "unavailable");
        return false;
    }
    if (!(platform = mhQemuGetPlatform(qemu, error)))
        return false;
    if (sev->session_file && !(session = mhQemuSevReadBase64(sev->session_file, error)))
        return false;
    if (sev->dh_cert_file && !(godh = mhQemuSevReadBase64(sev->dh_cert_file, error)))
        return false;
    if (!(qemu->launch = mhSevLaunchStart(platform, sev->policy, godh, session, &err))) {
        int fw = mhSevFwErrorFromGError(err, true);

        g_set_error(error, MH_ERROR, err->code,
                    "sev_launch_start: LAUNCH_START ret=1 fw_error=%d '%s' (%s)",
                    fw, mhSevFwErrorToString(fw), err->message);
        return false;
    }

    /* QEMU has the PSP measure and encrypt pflash unit 0 as loaded. */
    if (!qemu->args->firmware) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("SEV guest without a firmware image (pflash unit 0 or -bios)"));
        return false;
    }
    if (!g_file_get_contents(qemu->args->firmware, &fwdata, &fwlen, &err)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot read firmware '%s': %s"),
                    qemu->args->firmware, err->message);
        return false;
    }
    qemu->firmware = g_bytes_new_take(fwdata, fwlen);
    if (!mhSevLaunchUpdateData(qemu->launch, fwdata, fwlen, error) ||
        !mhQemuSevKernelHashes(qemu, error))
        return false;
    if (!mhSevLaunchGetDigest(qemu->launch, digest, error) ||
        !mhSevLaunchMeasure(qemu->launch, measurement, error))
        return false;
    digest_hex = mhUtilFormatHex(digest, sizeof(digest));
    mhQemuLog(_("SEV: LAUNCH_START policy 0x%x with %s; measured %s (%zu bytes)%s; "
                "launch digest %s; state %s"),
              sev->policy, godh ? _("the guest owner's session") : _("a random TEK/TIK"),
              qemu->args->firmware, (size_t)fwlen,
              sev->kernel_hashes && qemu->args->kernel ? _(" and kernel hashes") : "",
              digest_hex, mhSevStateTypeToString(mhSevLaunchGetState(qemu->launch)));
    return true;
}

void
mhQemuSevEvent(MhQmpProxy *proxy, const char *event, JsonObject *message, gpointer opaque)
{
    MhQemu *qemu = opaque;
    g_autoptr(GError) err = NULL;
    MhSevState state;

    if (!qemu->launch || strcmp(event, "RESUME") != 0)
        return;
    state = mhSevLaunchGetState(qemu->launch);
    /* Several monitors see the same event; finish once. */
    if (state != MH_SEV_STATE_LAUNCH_UPDATE && state != MH_SEV_STATE_LAUNCH_SECRET)
        return;
    if (!mhSevLaunchFinish(qemu->launch, &err)) {
        mhQemuLog(_("sev_launch_finish: LAUNCH_FINISH failed: %s"), err->message);
        return;
    }
    mhQemuLog(_("SEV: LAUNCH_FINISH, state %s"),
              mhSevStateTypeToString(mhSevLaunchGetState(qemu->launch)));
}

/* ---- QMP commands ---- */

void
mhQemuCmdQuerySevCapabilities(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    g_autoptr(GError) err = NULL;
    MhSevPlatform *platform;
    JsonObject *caps;
    JsonNode *ret;
    g_autofree char *pdh = NULL;
    g_autofree char *chain = NULL;
    g_autofree char *cpu0 = NULL;

    if (!(platform = mhQemuGetPlatform(qemu, &err))) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "SEV: Failed to export PDH cert ret=-1 fw_err=1 (%s)", err->message);
        return;
    }
    pdh = mhSevPlatformGetPdhBase64(platform);
    chain = mhSevPlatformGetCertChainBase64(platform);
    cpu0 = mhSevPlatformGetCpu0IdBase64(platform);
    caps = json_object_new();
    json_object_set_string_member(caps, "pdh", pdh);
    json_object_set_string_member(caps, "cert-chain", chain);
    json_object_set_string_member(caps, "cpu0-id", cpu0);
    json_object_set_int_member(caps, "cbitpos", MH_QEMU_SEV_CBITPOS);
    json_object_set_int_member(caps, "reduced-phys-bits", MH_QEMU_SEV_REDUCED_PHYS_BITS);
    ret = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(ret, caps);
    mhQmpRequestReturn(req, ret);
}

void
mhQemuCmdQuerySev(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    JsonObject *info;
    JsonNode *ret;
    MhSevBuild build;

    /* Without an SEV guest, real QEMU's answer is the right one. */
    if (!qemu->launch) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    build = mhSevLaunchGetBuild(qemu->launch);
    info = json_object_new();
    json_object_set_boolean_member(info, "enabled", TRUE);
    json_object_set_int_member(info, "api-major", build.api_major);
    json_object_set_int_member(info, "api-minor", build.api_minor);
    json_object_set_int_member(info, "build-id", build.build_id);
    json_object_set_int_member(info, "policy", mhSevLaunchGetPolicy(qemu->launch));
    json_object_set_string_member(info, "state",
                                  mhSevStateTypeToString(mhSevLaunchGetState(qemu->launch)));
    json_object_set_int_member(info, "handle", mhSevLaunchGetHandle(qemu->launch));
    ret = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(ret, info);
    mhQmpRequestReturn(req, ret);
}

void
mhQemuCmdQuerySevLaunchMeasure(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    uint8_t m[MH_SEV_MEASUREMENT_SIZE];
    g_autofree char *b64 = NULL;
    JsonObject *info;
    JsonNode *ret;

    if (!qemu->launch) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (!mhSevLaunchGetMeasurement(qemu->launch, m)) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "SEV launch measurement is not available");
        return;
    }
    b64 = g_base64_encode(m, sizeof(m));
    info = json_object_new();
    json_object_set_string_member(info, "data", b64);
    ret = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(ret, info);
    mhQmpRequestReturn(req, ret);
}

bool
mhQemuSecretArea(MhQemu *qemu, uint64_t *gpa, uint64_t *size, const char **source)
{
    gsize fwlen = 0;
    const uint8_t *fw = qemu->firmware ? g_bytes_get_data(qemu->firmware, &fwlen) : NULL;
    uint32_t base = 0, len = 0;

    if (fw && mhQemuFwFindArea(fw, fwlen, MH_QEMU_FW_SEV_SECRET_GUID, &base, &len) &&
        base != 0 && len != 0) {
        *gpa = base;
        *size = len;
        *source = _("the firmware's SEV secret area");
        return true;
    }
    if (qemu->args->helper) {
        *gpa = mhConfHelperGetSecret(qemu->args->helper);
        *size = MH_CONF_SECRET_SIZE;
        *source = qemu->args->helper->has_secret ?
            _("the mirror-helper object's secret= GPA") :
            _("the mirror-helper default secret GPA");
        return true;
    }
    return false;
}

void
mhQemuCmdSevInjectLaunchSecret(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    const char *hdr_b64, *secret_b64, *source = _("the command's gpa argument");
    bool has_gpa;
    guint64 gpa;
    uint64_t area_size;
    g_autofree guchar *hdr = NULL;
    g_autofree guchar *data = NULL;
    gsize hdr_len = 0, data_len = 0;
    g_autoptr(GBytes) header = NULL;
    g_autoptr(GBytes) ciphertext = NULL;
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(GError) err = NULL;
    MhSevState state;
    gsize plen;
    const void *pdata;

    if (!qemu->launch) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (!mhQmpRequestGetString(req, "packet-header", true, &hdr_b64) ||
        !mhQmpRequestGetString(req, "secret", true, &secret_b64) ||
        !mhQmpRequestGetUInt(req, "gpa", false, &has_gpa, &gpa))
        return;
    if (!has_gpa && !mhQemuSecretArea(qemu, &gpa, &area_size, &source)) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "SEV: no secret area found in OVMF, gpa must be specified.");
        return;
    }
    state = mhSevLaunchGetState(qemu->launch);
    if (state != MH_SEV_STATE_LAUNCH_SECRET) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "SEV: Not in correct state. (LSECRET) %x",
                          state);
        return;
    }
    hdr = g_base64_decode(hdr_b64, &hdr_len);
    if (!hdr || !hdr_len) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "SEV: Failed to decode sequence header");
        return;
    }
    data = g_base64_decode(secret_b64, &data_len);
    if (!data || !data_len) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "SEV: Failed to decode data");
        return;
    }
    if (!qemu->ram || !mhQemuRamTranslate(qemu->ram, gpa, data_len, NULL)) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "SEV: Failed to calculate guest address: "
                          "No memory is mapped at address 0x%" G_GINT64_MODIFIER "x", gpa);
        return;
    }
    header = g_bytes_new(hdr, hdr_len);
    ciphertext = g_bytes_new(data, data_len);
    if (!mhSevLaunchSecret(qemu->launch, header, ciphertext, &plain, &err)) {
        int fw = mhSevFwErrorFromGError(err, false);

        mhQemuLog(_("SEV: LAUNCH_SECRET refused: %s"), err->message);
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "SEV: failed to inject secret ret=-1 fw_error=%d '%s'",
                          fw, mhSevFwErrorToString(fw));
        return;
    }
    pdata = g_bytes_get_data(plain, &plen);
    if (!mhQemuRamWrite(qemu->ram, gpa, pdata, plen, &err)) {
        mhQmpRequestErrorGError(req, err);
        return;
    }
    mhQemuLog(_("SEV: LAUNCH_SECRET: %zu bytes injected at GPA 0x%llx (from %s)"),
              (size_t)plen, (unsigned long long)gpa, source);
    if (qemu->on_launch_secret)
        qemu->on_launch_secret(qemu, pdata, plen);
    mhQmpRequestReturn(req, NULL);
}

void
mhQemuCmdQuerySevAttestationReport(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;

    if (!qemu->launch) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    /* The model has no ATTESTATION command: answered as by a PSP that
     * does not support it (docs/simulation.md). */
    mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                      "SEV: Failed to query the attestation report length "
                      "ret=-1 fw_err=%d (%s)", MH_SEV_FW_UNSUPPORTED,
                      mhSevFwErrorToString(MH_SEV_FW_UNSUPPORTED));
}
