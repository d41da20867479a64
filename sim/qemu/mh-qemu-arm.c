/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* arm-migration-handler: see mh-qemu-arm.h. */
#include "sim/qemu/mh-qemu-arm.h"

#include "util/mh-i18n.h"

/* Set on qemu-mh's main loop (QMP), read by the migration code, which may
 * run in a thread of its own: hence atomic. */
bool
mhQemuMigrateArmed(MhQemu *qemu)
{
    return g_atomic_int_get(&qemu->armed) != 0;
}

bool
mhQemuMigrateArmTake(MhQemu *qemu)
{
    return g_atomic_int_exchange(&qemu->armed, 0) != 0;
}

void
mhQemuMigrateArmSet(MhQemu *qemu, bool armed)
{
    g_atomic_int_set(&qemu->armed, armed ? 1 : 0);
}

void
mhQemuCmdArmMigrationHandler(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    const MhConfHelper *helper = qemu->args ? qemu->args->helper : NULL;
    JsonObject *args = mhQmpRequestGetArguments(req);
    bool armed = true;
    JsonObject *ret;

    if (!qemu->args || !qemu->args->sev) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s",
                          _("arm-migration-handler: this guest does not run with SEV"));
        return;
    }
    if (!helper) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s",
                          _("arm-migration-handler: this guest has no migration handler "
                            "(no -object mirror-helper)"));
        return;
    }
    if (args && json_object_has_member(args, "armed")) {
        JsonNode *n = json_object_get_member(args, "armed");

        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
            mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                              "Invalid parameter type for 'armed', expected: boolean");
            return;
        }
        armed = json_node_get_boolean(n);
    }
    /* mode=auto needs no arm: every migration uses the helper. */
    if (helper->mode == MH_CONF_MODE_ON_REQUEST)
        mhQemuMigrateArmSet(qemu, armed);
    ret = json_object_new();
    json_object_set_boolean_member(ret, "armed",
                                   helper->mode == MH_CONF_MODE_AUTO || mhQemuMigrateArmed(qemu));
    json_object_set_string_member(ret, "mode", mhConfModeTypeToString(helper->mode));
    mhQmpRequestReturn(req, json_node_init_object(json_node_alloc(), ret));
}
