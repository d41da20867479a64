/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* start-/query-/stop-migration-handler; see mh-qmp-handler.h. */
#include "sim/qemu/mh-qmp-handler.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

/* One qemu-mh process runs one guest, hence one MH (qemu->mh), created
 * once and kept for the life of the process: start-migration-handler,
 * every migration (source and target) and query-migration-handler all see
 * the same instance and its counters. Its only key is this launch's
 * (qemu->launch_key), which the SEV model hands over at LAUNCH_SECRET
 * (mhQemuMhOnLaunchSecret): no QMP argument, option or guest address can
 * choose it. qemu->mh_lock guards both; the migration threads reach them. */

MhMh *
mhQemuMhGet(MhQemu *qemu)
{
    MhMh *mh;

    g_mutex_lock(&qemu->mh_lock);
    mh = qemu->mh;
    g_mutex_unlock(&qemu->mh_lock);
    return mh;
}

/* With qemu->mh_lock held: whether the MH runs with this launch's key. */
static bool
mhQemuMhRunsLaunchKeyLocked(MhQemu *qemu)
{
    MhMhInfo info;
    bool ok;

    if (!qemu->mh || !qemu->launch_key)
        return false;
    mhMhQuery(qemu->mh, &info);
    ok = info.state == MH_MH_STATE_RUNNING && info.have_key &&
         info.key_id == mhMhLaunchKeyGetId(qemu->launch_key);
    mhMhInfoClear(&info);
    return ok;
}

bool
mhQemuMhStart(MhQemu *qemu, GError **error)
{
    const MhConfHelper *helper = qemu->args ? qemu->args->helper : NULL;
    MhGuestRam ram;
    MhMhInfo info;
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
    if (!qemu->args->has_uuid) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, "%s",
                    _("the domain UUID (-uuid) is not on qemu-mh's command line; it binds "
                      "the migration handler's session keys to this guest"));
        return false;
    }
    if (!mhQemuRamGuestMap(qemu->ram, &ram, error))
        return false;

    g_mutex_lock(&qemu->mh_lock);
    if (!qemu->launch_key) {
        g_mutex_unlock(&qemu->mh_lock);
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, "%s",
                    _("cannot start the migration handler: no migration key was injected "
                      "into this launch of the guest (sev-inject-launch-secret with a "
                      "secret table holding the migration key), or it was wiped by "
                      "stop-migration-handler"));
        return false;
    }
    if (mhQemuMhRunsLaunchKeyLocked(qemu)) {
        g_mutex_unlock(&qemu->mh_lock);
        return true;
    }
    /* The MH lives as long as the process (a migration may hold it); a
     * stopped one is started again, with its counters. */
    if (!qemu->mh) {
        if (!(qemu->mh = mhMhNew(&ram, helper->vcpus, helper->cipher, qemu->args->uuid,
                                 error))) {
            g_mutex_unlock(&qemu->mh_lock);
            return false;
        }
    } else if (!mhMhSetGuestRam(qemu->mh, &ram, error)) {
        g_mutex_unlock(&qemu->mh_lock);
        return false;
    }
    ok = mhMhStartWithKey(qemu->mh, qemu->launch_key, error);
    g_mutex_unlock(&qemu->mh_lock);
    if (!ok) {
        if (error && *error)
            mhQemuLog("%s", (*error)->message);
        return false;
    }
    mhMhQuery(qemu->mh, &info);
    mhQemuLog("migration handler: running, %u vCPUs, key id 0x%08x, cipher %s, "
              "key from this launch's injected secret table",
              info.vcpus, info.key_id, mhConfCipherTypeToString(helper->cipher));
    mhMhInfoClear(&info);
    return true;
}

/* The MH a migration uses: running with this launch's key, and no other
 * (a refusal names both ids). On-demand MHs start here (the first
 * migration). */
MhMh *
mhQemuMhForMigration(MhQemu *qemu, GError **error)
{
    MhMhInfo info;
    bool mine;

    if (!mhQemuMhStart(qemu, error))
        return NULL;
    g_mutex_lock(&qemu->mh_lock);
    mine = mhQemuMhRunsLaunchKeyLocked(qemu);
    if (!mine) {
        mhMhQuery(qemu->mh, &info);
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the migration handler holds key id 0x%08x, not this launch's key "
                      "id 0x%08x: refusing to migrate with it"),
                    info.have_key ? info.key_id : 0,
                    qemu->launch_key ? mhMhLaunchKeyGetId(qemu->launch_key) : 0);
        mhMhInfoClear(&info);
    }
    g_mutex_unlock(&qemu->mh_lock);
    return mine ? qemu->mh : NULL;
}

void
mhQemuMhClear(MhQemu *qemu)
{
    g_mutex_lock(&qemu->mh_lock);
    g_clear_pointer(&qemu->mh, mhMhFree);
    g_clear_pointer(&qemu->launch_key, mhMhLaunchKeyFree);
    g_mutex_unlock(&qemu->mh_lock);
}

/* The SEV model's notification: LAUNCH_SECRET decrypted 'table' for this
 * launch (the guest has not run since). The MH takes the migration key
 * from it into its private memory now. */
void
mhQemuMhOnLaunchSecret(MhQemu *qemu, const void *table, size_t len)
{
    g_autoptr(GError) err = NULL;
    MhMhLaunchKey *lk;

    if (!(lk = mhMhLaunchKeyFromSecret(table, len, &err))) {
        /* A secret without a migration key is no error of the injection;
         * the MH will say so when it is needed. */
        mhQemuLog("migration handler: the injected secret table holds no usable "
                  "migration key: %s", err->message);
        return;
    }
    mhQemuLog("migration handler: migration key of this launch captured (key id 0x%08x)",
              mhMhLaunchKeyGetId(lk));
    g_mutex_lock(&qemu->mh_lock);
    mhMhLaunchKeyFree(qemu->launch_key);
    qemu->launch_key = lk;
    g_mutex_unlock(&qemu->mh_lock);

    if (qemu->args->helper->lifetime == MH_CONF_LIFETIME_PERSISTENT) {
        g_clear_error(&err);
        if (!mhQemuMhStart(qemu, &err))
            mhQemuLog("migration handler: cannot start it at launch (lifetime=persistent): %s",
                      err->message);
    }
}

void
mhQemuCmdStartMigrationHandler(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    JsonObject *args = mhQmpRequestGetArguments(req);
    g_autoptr(GError) err = NULL;

    if (!qemu->args || !qemu->args->helper) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s",
                          _("this guest has no migration handler (no -object mirror-helper)"));
        return;
    }
    /* The RFC let the host say where the secret table is; a host that can
     * name the address can plant a table of its own there. */
    if (args && json_object_has_member(args, "secret-gpa")) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s",
                          _("start-migration-handler: 'secret-gpa' is not accepted: the "
                            "migration handler takes its key only from the secret injected "
                            "into this launch"));
        return;
    }
    if (!mhQemuMhStart(qemu, &err)) {
        mhQmpRequestErrorGError(req, err);
        return;
    }
    mhQmpRequestReturn(req, NULL);
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
    MhQemu *qemu = opaque;
    MhMh *mh = mhQemuMhGet(qemu);

    if (mh) {
        mhMhStop(mh);
        mhQemuLog("migration handler: stopped, keys wiped");
    }
    /* The owner asked for the key to go: this launch's copy goes too, so
     * no later migration restarts the MH with it. */
    g_mutex_lock(&qemu->mh_lock);
    g_clear_pointer(&qemu->launch_key, mhMhLaunchKeyFree);
    g_mutex_unlock(&qemu->mh_lock);
    mhQmpRequestReturn(req, NULL);
}
