/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* start-/query-/stop-migration-handler; see mh-qmp-handler.h. */
#include "sim/qemu/mh-qmp-handler.h"
#include "sim/qemu/mh-qemu-fw.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

/* One qemu-mh process runs one guest, hence one MH, created once and
 * kept for the life of the process: start-migration-handler, every
 * migration (source and target) and query-migration-handler all see the
 * same instance and its counters. The migration key of THIS launch is
 * captured (MH-private, mhMhLaunchKeyCapture) when the owner injects the
 * secret table, so that a later migration from this host uses it rather
 * than what the secret area holds by then (on a migration target: the
 * copy restored from the source). qemuMhLock guards the three pointers;
 * the migration threads reach them too. */
static GMutex qemuMhLock;
static MhMh *qemuMh;
static MhQemu *qemuMhOwner;
static MhMhLaunchKey *qemuMhLaunchKey;

MhMh *
mhQemuMhGet(MhQemu *qemu)
{
    MhMh *mh;

    g_mutex_lock(&qemuMhLock);
    mh = qemu == qemuMhOwner ? qemuMh : NULL;
    g_mutex_unlock(&qemuMhLock);
    return mh;
}

/* The domain UUID binds the session keys to this guest; libvirt passes it
 * as -uuid, which qemu-mh hands to QEMU unchanged. */
bool
mhQemuMhCmdlineUuid(uint8_t uuid[MH_TRANSPORT_UUID_SIZE], GError **error)
{
    g_autofree char *cmdline = NULL;
    gsize len = 0;

    if (g_file_get_contents("/proc/self/cmdline", &cmdline, &len, NULL)) {
        const char *prev = NULL;

        for (const char *p = cmdline; p < cmdline + len; p += strlen(p) + 1) {
            if (prev && g_str_equal(prev, "-uuid"))
                return mhQemuMhParseUuid(p, uuid, error);
            prev = p;
        }
    }
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID, "%s",
                _("cannot find the domain UUID (-uuid) on qemu-mh's command line"));
    return false;
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
    bool ok;

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
    if (!mhQemuRamGuestMap(qemu->ram, &ram, error))
        return false;

    g_mutex_lock(&qemuMhLock);
    if (qemuMh && qemuMhOwner == qemu) {
        MhMhInfo info;
        bool running;

        mhMhQuery(qemuMh, &info);
        running = info.state != MH_MH_STATE_STOPPED;
        mhMhInfoClear(&info);
        if (running) {
            g_mutex_unlock(&qemuMhLock);
            return true;
        }
    }
    cipher = helper->cipher;
    /* The MH lives as long as the process (a migration may hold it); a
     * stopped one is started again, with its counters. */
    if (!qemuMh) {
        if (!(qemuMh = mhMhNew(&ram, helper->vcpus, cipher, uuid, error))) {
            g_mutex_unlock(&qemuMhLock);
            return false;
        }
        qemuMhOwner = qemu;
    } else if (!mhMhSetGuestRam(qemuMh, &ram, error)) {
        g_mutex_unlock(&qemuMhLock);
        return false;
    }
    if (qemuMhLaunchKey && !secret_gpa) {
        ok = mhMhStartWithKey(qemuMh, qemuMhLaunchKey, error);
    } else {
        qemuMhSecretArea(qemu, &area_gpa, &area_size);
        if (secret_gpa) {
            area_gpa = secret_gpa;
            area_size = MH_CONF_SECRET_SIZE;
        }
        ok = mhMhStart(qemuMh, area_gpa, area_size, error);
    }
    g_mutex_unlock(&qemuMhLock);
    if (!ok) {
        if (error && *error)
            mhQemuLog("%s", (*error)->message);
        return false;
    }
    {
        MhMhInfo info;
        mhMhQuery(qemuMh, &info);
        mhQemuLog("migration handler: running, %u vCPUs, key id 0x%08x, cipher %s%s",
                  info.vcpus, info.key_id, mhConfCipherTypeToString(cipher),
                  qemuMhLaunchKey && !secret_gpa ?
                  ", key from this launch's injected secret table" : "");
        mhMhInfoClear(&info);
    }
    return true;
}

/* The MH a migration uses: running with this launch's key. On-demand
 * MHs start here (the first migration); the key is the one captured at
 * injection, never re-read from guest RAM. */
MhMh *
mhQemuMhForMigration(MhQemu *qemu, GError **error)
{
    uint8_t uuid[MH_TRANSPORT_UUID_SIZE];
    MhMh *mh = mhQemuMhGet(qemu);
    bool have_key;

    if (mh) {
        MhMhInfo info;
        bool running;

        mhMhQuery(mh, &info);
        running = info.state != MH_MH_STATE_STOPPED && info.have_key;
        mhMhInfoClear(&info);
        if (running)
            return mh;
    }
    g_mutex_lock(&qemuMhLock);
    have_key = qemuMhLaunchKey != NULL;
    g_mutex_unlock(&qemuMhLock);
    if (!have_key) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, "%s",
                    _("cannot start the migration handler: no migration key was injected "
                      "into this launch of the guest (sev-inject-launch-secret with a "
                      "secret table holding the migration key), or it was wiped by "
                      "stop-migration-handler"));
        return NULL;
    }
    if (!mhQemuMhCmdlineUuid(uuid, error) || !mhQemuMhStart(qemu, uuid, 0, error))
        return NULL;
    return mhQemuMhGet(qemu);
}

bool
mhQemuMhHasLaunchKey(MhQemu *qemu)
{
    bool have;

    g_mutex_lock(&qemuMhLock);
    have = qemuMhLaunchKey != NULL && (!qemuMhOwner || qemuMhOwner == qemu);
    g_mutex_unlock(&qemuMhLock);
    return have;
}

static void
qemuMhAtExit(void)
{
    /* The key leaves memory with the process, wiped first. */
    g_mutex_lock(&qemuMhLock);
    g_clear_pointer(&qemuMhLaunchKey, mhMhLaunchKeyFree);
    g_mutex_unlock(&qemuMhLock);
}

/* The secret table was just written into guest RAM by LAUNCH_SECRET
 * (the guest has not run since): the MH takes the migration key from it
 * into its private memory now. */
static void
qemuMhCaptureLaunchKey(MhQemu *qemu, uint64_t gpa, uint64_t size)
{
    static bool registered;
    g_autoptr(GError) err = NULL;
    MhGuestRam ram;
    MhMhLaunchKey *lk;

    if (!mhQemuRamGuestMap(qemu->ram, &ram, &err) ||
        !(lk = mhMhLaunchKeyCapture(&ram, gpa, size, &err))) {
        /* A secret without a migration key is no error of the injection;
         * the MH will say so when it is needed. */
        mhQemuLog("migration handler: the injected secret table holds no usable "
                  "migration key: %s", err->message);
        return;
    }
    mhQemuLog("migration handler: migration key of this launch captured (key id 0x%08x)",
              mhMhLaunchKeyGetId(lk));
    g_mutex_lock(&qemuMhLock);
    mhMhLaunchKeyFree(qemuMhLaunchKey);
    qemuMhLaunchKey = lk;
    if (!registered) {
        atexit(qemuMhAtExit);
        registered = true;
    }
    g_mutex_unlock(&qemuMhLock);

    if (qemu->args->helper->lifetime == MH_CONF_LIFETIME_PERSISTENT) {
        uint8_t uuid[MH_TRANSPORT_UUID_SIZE];

        g_clear_error(&err);
        if (!mhQemuMhCmdlineUuid(uuid, &err) || !mhQemuMhStart(qemu, uuid, 0, &err))
            mhQemuLog("migration handler: cannot start it at launch (lifetime=persistent): %s",
                      err->message);
    }
}

void
mhQemuCmdSevInjectLaunchSecretMh(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    JsonObject *args = mhQmpRequestGetArguments(req);
    uint64_t gpa = 0, size = 0;
    g_autofree uint8_t *before = NULL;
    uint8_t *area = NULL;

    /* Where the table will go (the SEV model's choice, see
     * mhQemuCmdSevInjectLaunchSecret) and what is there now. */
    if (qemu->launch && qemu->ram && qemu->args && qemu->args->helper) {
        qemuMhSecretArea(qemu, &gpa, &size);
        if (args && json_object_has_member(args, "gpa")) {
            JsonNode *n = json_object_get_member(args, "gpa");

            if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64) {
                gpa = json_node_get_int(n);
                size = MH_CONF_SECRET_SIZE;
            } else {
                size = 0;
            }
        }
        if (size && (area = mhQemuRamTranslate(qemu->ram, gpa, size, NULL)))
            before = g_memdup2(area, size);
    }
    /* Synchronous: the request is complete when it returns. */
    mhQemuCmdSevInjectLaunchSecret(req, opaque);
    /* LAUNCH_SECRET changed the area only if it succeeded. */
    if (before && memcmp(before, area, size) != 0)
        qemuMhCaptureLaunchKey(qemu, gpa, size);
    if (before)
        mhUtilWipe(before, size);
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
        json_object_set_string_member(obj, "cipher", mhConfCipherTypeToString(info.cipher));
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
    /* The owner asked for the key to go: this launch's copy goes too, so
     * no later migration restarts the MH with it. */
    g_mutex_lock(&qemuMhLock);
    g_clear_pointer(&qemuMhLaunchKey, mhMhLaunchKeyFree);
    g_mutex_unlock(&qemuMhLock);
    mhQmpRequestReturn(req, NULL);
}
