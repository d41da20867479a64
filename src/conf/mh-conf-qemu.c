/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QEMU side of the feature: the "-object mirror-helper,..." option
 * string generated from <mh:helper> and parsed back by qemu-mh. The syntax
 * is QEMU's opts syntax, where a literal comma inside a value is doubled. */
#include "conf/mh-conf.h"
#include "conf/mh-qemu-opts.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

static void
mhConfQemuAppendValue(GString *buf, const char *key, const char *value)
{
    g_string_append_printf(buf, ",%s=", key);
    mhQemuOptsAppendEscaped(buf, value);
}

static void
mhConfQemuAppendGpa(GString *buf, const char *key, uint64_t gpa)
{
    g_autofree char *value = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", (guint64) gpa);

    mhConfQemuAppendValue(buf, key, value);
}

char *
mhConfHelperToQemuObject(const MhConfHelper *helper)
{
    GString *buf = g_string_new(MH_CONF_QEMU_OBJECT_TYPE);
    g_autofree char *vcpus = g_strdup_printf("%u", helper->vcpus);
    const char *mode = mhConfModeTypeToString(helper->mode);
    const char *lifetime = mhConfLifetimeTypeToString(helper->lifetime);
    const char *cipher = mhConfCipherTypeToString(helper->cipher);

    mhConfQemuAppendValue(buf, "id", MH_CONF_QEMU_OBJECT_ID);
    mhConfQemuAppendValue(buf, "mode", mode ? mode : "");
    mhConfQemuAppendValue(buf, "vcpus", vcpus);
    mhConfQemuAppendValue(buf, "lifetime", lifetime ? lifetime : "");
    mhConfQemuAppendValue(buf, "cipher", cipher ? cipher : "");
    if (helper->has_mailbox)
        mhConfQemuAppendGpa(buf, "mailbox", helper->mailbox);
    if (helper->has_entry)
        mhConfQemuAppendGpa(buf, "entry", helper->entry);
    if (helper->has_secret)
        mhConfQemuAppendGpa(buf, "secret", helper->secret);
    if (helper->key_broker)
        mhConfQemuAppendValue(buf, "key-broker", helper->key_broker);
    return g_string_free(buf, FALSE);
}

/* The type comes first, bare or as qom-type=. */
static bool
mhConfQemuIsObjectType(GPtrArray *parts)
{
    const char *first = g_ptr_array_index(parts, 0);

    return strcmp(first, MH_CONF_QEMU_OBJECT_TYPE) == 0 ||
        strcmp(first, "qom-type=" MH_CONF_QEMU_OBJECT_TYPE) == 0;
}

bool
mhConfIsQemuObject(const char *str)
{
    g_autoptr(GPtrArray) parts = NULL;

    if (!str)
        return false;
    parts = mhQemuOptsSplit(str);
    return mhConfQemuIsObjectType(parts);
}

typedef enum {
    MH_CONF_QEMU_KEY_ID,
    MH_CONF_QEMU_KEY_MODE,
    MH_CONF_QEMU_KEY_VCPUS,
    MH_CONF_QEMU_KEY_LIFETIME,
    MH_CONF_QEMU_KEY_CIPHER,
    MH_CONF_QEMU_KEY_MAILBOX,
    MH_CONF_QEMU_KEY_ENTRY,
    MH_CONF_QEMU_KEY_SECRET,
    MH_CONF_QEMU_KEY_KEY_BROKER,
    MH_CONF_QEMU_KEY_LAST
} MhConfQemuKey;

static const char *const mhConfQemuKeyNames[MH_CONF_QEMU_KEY_LAST] = {
    [MH_CONF_QEMU_KEY_ID] = "id",
    [MH_CONF_QEMU_KEY_MODE] = "mode",
    [MH_CONF_QEMU_KEY_VCPUS] = "vcpus",
    [MH_CONF_QEMU_KEY_LIFETIME] = "lifetime",
    [MH_CONF_QEMU_KEY_CIPHER] = "cipher",
    [MH_CONF_QEMU_KEY_MAILBOX] = "mailbox",
    [MH_CONF_QEMU_KEY_ENTRY] = "entry",
    [MH_CONF_QEMU_KEY_SECRET] = "secret",
    [MH_CONF_QEMU_KEY_KEY_BROKER] = "key-broker",
};

static bool
mhConfQemuSetGpa(const char *key, const char *value, bool *has, uint64_t *gpa,
                 GError **error)
{
    g_autofree char *what = g_strdup_printf(_("mirror-helper object property '%s'"), key);

    if (!g_str_has_prefix(value, "0x") && !g_str_has_prefix(value, "0X")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("%s: '%s' is not a 0x-prefixed hex address"), what, value);
        return false;
    }
    if (!mhUtilParseU64(what, value, G_MAXUINT64, gpa, error))
        return false;
    *has = true;
    return true;
}

static bool
mhConfQemuSetKey(MhConfHelper *helper, MhConfQemuKey key, const char *name,
                 const char *value, GError **error)
{
    int v;
    uint64_t n;

    switch (key) {
    case MH_CONF_QEMU_KEY_ID:
        if (!*value) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("mirror-helper object: property 'id' is empty"));
            return false;
        }
        return true;
    case MH_CONF_QEMU_KEY_MODE:
        if ((v = mhConfModeTypeFromString(value)) < 0)
            goto bad_enum;
        helper->mode = v;
        return true;
    case MH_CONF_QEMU_KEY_LIFETIME:
        if ((v = mhConfLifetimeTypeFromString(value)) < 0)
            goto bad_enum;
        helper->lifetime = v;
        return true;
    case MH_CONF_QEMU_KEY_CIPHER:
        if ((v = mhConfCipherTypeFromString(value)) < 0)
            goto bad_enum;
        helper->cipher = v;
        return true;
    case MH_CONF_QEMU_KEY_VCPUS:
        if (!mhUtilParseU64(_("mirror-helper object property 'vcpus'"), value,
                            G_MAXUINT, &n, error))
            return false;
        helper->vcpus = n;
        return true;
    case MH_CONF_QEMU_KEY_MAILBOX:
        return mhConfQemuSetGpa(name, value, &helper->has_mailbox, &helper->mailbox, error);
    case MH_CONF_QEMU_KEY_ENTRY:
        return mhConfQemuSetGpa(name, value, &helper->has_entry, &helper->entry, error);
    case MH_CONF_QEMU_KEY_SECRET:
        return mhConfQemuSetGpa(name, value, &helper->has_secret, &helper->secret, error);
    case MH_CONF_QEMU_KEY_KEY_BROKER:
        g_free(helper->key_broker);
        helper->key_broker = g_strdup(value);
        return true;
    case MH_CONF_QEMU_KEY_LAST:
        break;
    }
    g_assert_not_reached();

 bad_enum:
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("mirror-helper object: property '%s' has invalid value '%s'"), name, value);
    return false;
}

MhConfHelper *
mhConfHelperFromQemuObject(const char *str, GError **error)
{
    g_autoptr(MhConfHelper) helper = mhConfHelperNew();
    g_autoptr(GPtrArray) parts = mhQemuOptsSplit(str);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    bool seen[MH_CONF_QEMU_KEY_LAST] = { false };

    if (!mhConfQemuIsObjectType(parts)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' is not a %s object (it must start with '%s,')"),
                    str, MH_CONF_QEMU_OBJECT_TYPE, MH_CONF_QEMU_OBJECT_TYPE);
        return NULL;
    }
    for (guint i = 1; i < parts->len; i++) {
        const char *part = g_ptr_array_index(parts, i);
        const char *eq = strchr(part, '=');
        g_autofree char *name = NULL;
        int key = -1;

        if (!eq) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("mirror-helper object: '%s' is not a key=value property"), part);
            return NULL;
        }
        name = g_strndup(part, eq - part);
        for (int k = 0; k < MH_CONF_QEMU_KEY_LAST; k++) {
            if (strcmp(mhConfQemuKeyNames[k], name) == 0)
                key = k;
        }
        if (key < 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("mirror-helper object: unknown property '%s'"), name);
            return NULL;
        }
        if (seen[key]) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("mirror-helper object: property '%s' given more than once"), name);
            return NULL;
        }
        seen[key] = true;
        if (!mhConfQemuSetKey(helper, key, name, eq + 1, error))
            return NULL;
    }
    if (!seen[MH_CONF_QEMU_KEY_ID]) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("mirror-helper object: property 'id' is missing"));
        return NULL;
    }
    if (!mhConfHelperValidate(helper, NULL, problems)) {
        mhConfProblemsToError(problems, error);
        mhErrorPrefix(error, _("mirror-helper object: "));
        return NULL;
    }
    return g_steal_pointer(&helper);
}
