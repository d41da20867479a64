/* start-/query-/stop-migration-handler; see mh-qmp-handler.h. */
#include "qemu/mh-qmp-handler.h"
#include "qemu/mh-qemu-fw.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

/* One qemu-mh process runs one guest, hence one MH. */
static MhMh *qemuMh;
static MhQemu *qemuMhOwner;

MhMh *
mhQemuMhGet(MhQemu *qemu)
{
    return qemu == qemuMhOwner ? qemuMh : NULL;
}

bool
mhQemuMhParseUuid(const char *text, uint8_t uuid[MH_TRANSPORT_UUID_SIZE], GError **error)
{
    g_autoptr(GBytes) bytes = NULL;
    g_autofree char *hex = NULL;

    if (!text || !g_uuid_string_is_valid(text)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' is not a UUID"), text ? text : "");
        return false;
    }
    hex = g_strdup(text);
    g_strdelimit(hex, "-", ' ');
    g_strstrip(hex);
    {
        /* Drop the separators ("xxxxxxxx xxxx ..." -> 32 hex digits). */
        char *w = hex;
        for (const char *r = hex; *r; r++) {
            if (*r != ' ')
                *w++ = *r;
        }
        *w = '\0';
    }
    if (!mhUtilParseHex(_("domain UUID"), hex, MH_TRANSPORT_UUID_SIZE, &bytes, error))
        return false;
    memcpy(uuid, g_bytes_get_data(bytes, NULL), MH_TRANSPORT_UUID_SIZE);
    return true;
}

/* Where LAUNCH_SECRET put the table: the firmware's SEV secret block when
 * it has one (as QEMU's sev-inject-launch-secret without gpa), else the
 * mirror-helper object's secret GPA. */
static void
qemuMhSecretArea(MhQemu *qemu, uint64_t *gpa, uint64_t *size)
{
    gsize fwlen = 0;
    const uint8_t *fw = qemu->firmware ? g_bytes_get_data(qemu->firmware, &fwlen) : NULL;
    uint32_t base = 0, len = 0;

    if (fw && mhQemuFwFindArea(fw, fwlen, MH_QEMU_FW_SEV_SECRET_GUID, &base, &len) &&
        base != 0 && len != 0) {
        *gpa = base;
        *size = len;
        return;
    }
    *gpa = mhConfHelperGetSecret(qemu->args->helper);
    *size = MH_CONF_SECRET_SIZE;
}

bool
mhQemuMhStart(MhQemu *qemu, const uint8_t uuid[MH_TRANSPORT_UUID_SIZE],
              uint64_t secret_gpa, GError **error)
{
    const MhConfHelper *helper = qemu->args ? qemu->args->helper : NULL;
    MhGuestRam ram;
    uint64_t area_gpa, area_size;
    int cipher;

    if (!helper) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("this guest has no migration handler (no -object mirror-helper)"));
        return false;
    }
    if (!qemu->ram) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("guest RAM is not shared with qemu-mh; the migration handler cannot reach it"));
        return false;
    }
    if (qemuMh && qemuMhOwner == qemu) {
        MhMhInfo info;
        bool running;

        mhMhQuery(qemuMh, &info);
        running = info.state != MH_MH_STATE_STOPPED;
        mhMhInfoClear(&info);
        if (running)
            return true;
    }
    cipher = mhTransportCipherTypeFromString(mhConfCipherTypeToString(helper->cipher));
    if (cipher < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("the migration handler does not support cipher '%s'"),
                    mhConfCipherTypeToString(helper->cipher));
        return false;
    }

    mhGuestRamInit(&ram);
    for (size_t i = 0; i < mhQemuRamGetRegionCount(qemu->ram); i++) {
        const MhQemuRamRegion *r = mhQemuRamGetRegion(qemu->ram, i);
        if (!mhGuestRamAddRegion(&ram, r->gpa, r->size,
                                 mhQemuRamGetBase(qemu->ram) + r->offset, error))
            return false;
    }
    qemuMhSecretArea(qemu, &area_gpa, &area_size);
    if (secret_gpa) {
        area_gpa = secret_gpa;
        area_size = MH_CONF_SECRET_SIZE;
    }

    /* A fresh MH each time: vCPU count and cipher come from the object,
     * the previous one (stopped) goes with its counters. */
    g_clear_pointer(&qemuMh, mhMhFree);
    if (!(qemuMh = mhMhNew(&ram, helper->vcpus, cipher, uuid, error)))
        return false;
    qemuMhOwner = qemu;
    if (!mhMhStart(qemuMh, area_gpa, area_size, error)) {
        if (error && *error)
            mhQemuLog("%s", (*error)->message);
        return false;
    }
    {
        MhMhInfo info;
        mhMhQuery(qemuMh, &info);
        mhQemuLog("migration handler: running, %u vCPUs, key id 0x%08x, cipher %s",
                  info.vcpus, info.key_id, mhTransportCipherTypeToString(cipher));
        mhMhInfoClear(&info);
    }
    return true;
}

typedef struct {
    MhQmpRequest *req;
    MhQemu *qemu;
    uint64_t secret_gpa;
} StartData;

/* query-uuid answered: the domain UUID binds the session keys. */
static void
startUuidDone(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    g_autofree StartData *sd = data;
    g_autoptr(GError) err = NULL;
    JsonObject *ret = reply && json_object_has_member(reply, "return") ?
        json_object_get_object_member(reply, "return") : NULL;
    const char *text = ret && json_object_has_member(ret, "UUID") ?
        json_object_get_string_member(ret, "UUID") : NULL;
    uint8_t uuid[MH_TRANSPORT_UUID_SIZE];

    if (!text) {
        mhQmpRequestError(sd->req, MH_QMP_GENERIC_ERROR, "%s",
                          _("cannot start the migration handler: QEMU did not report "
                            "the domain UUID (query-uuid)"));
        return;
    }
    if (!mhQemuMhParseUuid(text, uuid, &err) ||
        !mhQemuMhStart(sd->qemu, uuid, sd->secret_gpa, &err)) {
        mhQmpRequestErrorGError(sd->req, err);
        return;
    }
    mhQmpRequestReturn(sd->req, NULL);
}

void
mhQemuCmdStartMigrationHandler(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    StartData *sd;
    bool present = false;
    guint64 gpa = 0;

    if (!qemu->args || !qemu->args->helper) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s",
                          _("this guest has no migration handler (no -object mirror-helper)"));
        return;
    }
    /* Optional: where the secret table is, if not the usual area. */
    if (!mhQmpRequestGetUInt(req, "secret-gpa", false, &present, &gpa))
        return;
    sd = g_new0(StartData, 1);
    sd->req = req;
    sd->qemu = qemu;
    sd->secret_gpa = present ? gpa : 0;
    mhQmpProxyExecute(mhQmpRequestGetProxy(req), "query-uuid", NULL, startUuidDone, sd);
}

void
mhQemuCmdQueryMigrationHandler(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhMh *mh = mhQemuMhGet(qemu);
    JsonObject *obj = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    MhMhInfo info = { 0 };

    if (mh) {
        mhMhQuery(mh, &info);
    } else {
        info.state = MH_MH_STATE_STOPPED;
        info.vcpus = qemu->args && qemu->args->helper ? qemu->args->helper->vcpus : 0;
    }
    json_object_set_string_member(obj, "state", mhMhStateTypeToString(info.state));
    json_object_set_int_member(obj, "vcpus", info.vcpus);
    if (info.have_key)
        json_object_set_int_member(obj, "key-id", info.key_id);
    if (mh)
        json_object_set_string_member(obj, "cipher", mhTransportCipherTypeToString(info.cipher));
    json_object_set_int_member(obj, "pages-saved", info.pages_saved);
    json_object_set_int_member(obj, "pages-restored", info.pages_restored);
    json_object_set_int_member(obj, "zero-pages", info.zero_pages);
    json_object_set_int_member(obj, "records-rejected", info.records_rejected);
    if (info.last_error)
        json_object_set_string_member(obj, "last-error", info.last_error);
    mhMhInfoClear(&info);
    json_node_take_object(node, obj);
    mhQmpRequestReturn(req, node);
}

void
mhQemuCmdStopMigrationHandler(MhQmpRequest *req, gpointer opaque)
{
    MhMh *mh = mhQemuMhGet(opaque);

    if (mh) {
        mhMhStop(mh);
        mhQemuLog("migration handler: stopped, keys wiped");
    }
    mhQmpRequestReturn(req, NULL);
}
