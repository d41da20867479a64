/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QEMU option syntaxes, see mh-qemu-opts.h. */
#include "conf/mh-qemu-opts.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

struct _MhQemuOpts {
    GArray *items;      /* MhQemuOpt */
};

static void
mhQemuOptClear(gpointer p)
{
    MhQemuOpt *opt = p;

    g_free(opt->key);
    g_free(opt->value);
}

static MhQemuOpts *
mhQemuOptsNew(void)
{
    MhQemuOpts *opts = g_new0(MhQemuOpts, 1);

    opts->items = g_array_new(FALSE, TRUE, sizeof(MhQemuOpt));
    g_array_set_clear_func(opts->items, mhQemuOptClear);
    return opts;
}

void
mhQemuOptsFree(MhQemuOpts *opts)
{
    if (!opts)
        return;
    g_array_unref(opts->items);
    g_free(opts);
}

GPtrArray *
mhQemuOptsSplit(const char *str)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = str; *p; p++) {
        if (*p == ',') {
            if (p[1] == ',') {
                g_string_append_c(cur, ',');
                p++;
                continue;
            }
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
            continue;
        }
        g_string_append_c(cur, *p);
    }
    g_ptr_array_add(parts, g_string_free(cur, FALSE));
    return parts;
}

void
mhQemuOptsAppendEscaped(GString *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == ',')
            g_string_append_c(out, ',');
        g_string_append_c(out, *p);
    }
}

MhQemuOpts *
mhQemuOptsParse(const char *str, const char *implied_key, GError **error)
{
    g_autoptr(MhQemuOpts) opts = mhQemuOptsNew();
    g_autoptr(GPtrArray) parts = mhQemuOptsSplit(str);

    for (guint i = 0; i < parts->len; i++) {
        const char *part = g_ptr_array_index(parts, i);
        const char *eq = strchr(part, '=');
        MhQemuOpt opt = { NULL, NULL };

        if (!*part) {
            /* A trailing comma is accepted by QEMU. */
            if (i == parts->len - 1 && i > 0)
                continue;
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("empty item in option '%s'"), str);
            return NULL;
        }
        if (eq) {
            opt.key = g_strndup(part, eq - part);
            opt.value = g_strdup(eq + 1);
        } else if (i == 0 && implied_key) {
            opt.key = g_strdup(implied_key);
            opt.value = g_strdup(part);
        } else {
            opt.key = g_strdup(part);
        }
        g_array_append_val(opts->items, opt);
    }
    return g_steal_pointer(&opts);
}

const char *
mhQemuOptsGet(const MhQemuOpts *opts, const char *key)
{
    const char *ret = NULL;

    for (guint i = 0; i < opts->items->len; i++) {
        MhQemuOpt *opt = &g_array_index(opts->items, MhQemuOpt, i);
        if (strcmp(opt->key, key) == 0)
            ret = opt->value;
    }
    return ret;
}

bool
mhQemuOptsHas(const MhQemuOpts *opts, const char *key)
{
    for (guint i = 0; i < opts->items->len; i++) {
        if (strcmp(g_array_index(opts->items, MhQemuOpt, i).key, key) == 0)
            return true;
    }
    return false;
}

unsigned int
mhQemuOptsRemove(MhQemuOpts *opts, const char *key)
{
    unsigned int n = 0;

    for (guint i = 0; i < opts->items->len;) {
        if (strcmp(g_array_index(opts->items, MhQemuOpt, i).key, key) == 0) {
            g_array_remove_index(opts->items, i);
            n++;
        } else {
            i++;
        }
    }
    return n;
}

void
mhQemuOptsSet(MhQemuOpts *opts, const char *key, const char *value)
{
    bool found = false;

    for (guint i = 0; i < opts->items->len;) {
        MhQemuOpt *opt = &g_array_index(opts->items, MhQemuOpt, i);

        if (strcmp(opt->key, key) != 0) {
            i++;
            continue;
        }
        if (found) {
            g_array_remove_index(opts->items, i);
            continue;
        }
        g_free(opt->value);
        opt->value = g_strdup(value);
        found = true;
        i++;
    }
    if (!found) {
        MhQemuOpt opt = { g_strdup(key), g_strdup(value) };
        g_array_append_val(opts->items, opt);
    }
}

size_t
mhQemuOptsCount(const MhQemuOpts *opts)
{
    return opts->items->len;
}

const MhQemuOpt *
mhQemuOptsAt(const MhQemuOpts *opts, size_t i)
{
    return &g_array_index(opts->items, MhQemuOpt, i);
}

char *
mhQemuOptsFormat(const MhQemuOpts *opts, const char *implied_key)
{
    GString *out = g_string_new(NULL);
    const char *implied = implied_key ? mhQemuOptsGet(opts, implied_key) : NULL;

    if (implied)
        mhQemuOptsAppendEscaped(out, implied);
    for (guint i = 0; i < opts->items->len; i++) {
        MhQemuOpt *opt = &g_array_index(opts->items, MhQemuOpt, i);

        if (implied && strcmp(opt->key, implied_key) == 0)
            continue;
        if (out->len)
            g_string_append_c(out, ',');
        mhQemuOptsAppendEscaped(out, opt->key);
        if (opt->value) {
            g_string_append_c(out, '=');
            mhQemuOptsAppendEscaped(out, opt->value);
        }
    }
    return g_string_free(out, FALSE);
}

bool
mhQemuParseBool(const char *what, const char *text, bool *out, GError **error)
{
    static const char *const yes[] = { "on", "yes", "true", "y", NULL };
    static const char *const no[] = { "off", "no", "false", "n", NULL };

    if (text && g_strv_contains(yes, text)) {
        *out = true;
        return true;
    }
    if (text && g_strv_contains(no, text)) {
        *out = false;
        return true;
    }
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("%s: '%s' is not a boolean (on/off)"), what, text ? text : "");
    return false;
}

bool
mhQemuParseSize(const char *what, const char *text, uint64_t default_unit,
                uint64_t *out, GError **error)
{
    char *end = NULL;
    guint64 n;
    uint64_t mult = default_unit;

    if (!text || !g_ascii_isdigit(*text))
        goto bad;
    n = g_ascii_strtoull(text, &end, 0);
    if (*end) {
        switch (g_ascii_toupper(*end)) {
        case 'B': mult = 1; break;
        case 'K': mult = 1ULL << 10; break;
        case 'M': mult = 1ULL << 20; break;
        case 'G': mult = 1ULL << 30; break;
        case 'T': mult = 1ULL << 40; break;
        default: goto bad;
        }
        if (end[1])
            goto bad;
    }
    if (n > G_MAXUINT64 / mult)
        goto bad;
    *out = n * mult;
    return true;

 bad:
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("%s: '%s' is not a valid size"), what, text ? text : "");
    return false;
}

JsonObject *
mhQemuOptionToJson(const char *value, const char *implied_key, GError **error)
{
    g_autoptr(MhQemuOpts) opts = NULL;
    JsonObject *obj;

    if (value[0] == '{') {
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonNode *root;

        if (!json_parser_load_from_data(parser, value, -1, error)) {
            mhErrorPrefix(error, _("option '%s'"), value);
            return NULL;
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("option '%s' is not a JSON object"), value);
            return NULL;
        }
        return json_object_ref(json_node_get_object(root));
    }
    if (!(opts = mhQemuOptsParse(value, implied_key, error)))
        return NULL;
    obj = json_object_new();
    for (size_t i = 0; i < mhQemuOptsCount(opts); i++) {
        const MhQemuOpt *opt = mhQemuOptsAt(opts, i);
        json_object_set_string_member(obj, opt->key, opt->value ? opt->value : "on");
    }
    return obj;
}

bool
mhQemuJsonGetUInt(JsonObject *obj, const char *key, uint64_t max, bool *present,
                  uint64_t *out, GError **error)
{
    JsonNode *node = json_object_get_member(obj, key);

    *present = false;
    if (!node)
        return true;
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64) {
        gint64 v = json_node_get_int(node);

        if (v < 0 || (uint64_t)v > max) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("property '%s': value %lld out of range"), key, (long long)v);
            return false;
        }
        *out = v;
    } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        if (!mhUtilParseU64(key, json_node_get_string(node), max, out, error))
            return false;
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("property '%s' must be an integer"), key);
        return false;
    }
    *present = true;
    return true;
}

bool
mhQemuJsonGetBool(JsonObject *obj, const char *key, bool *present, bool *out,
                  GError **error)
{
    JsonNode *node = json_object_get_member(obj, key);

    *present = false;
    if (!node)
        return true;
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
        *out = json_node_get_boolean(node);
    } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        if (!mhQemuParseBool(key, json_node_get_string(node), out, error))
            return false;
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("property '%s' must be a boolean"), key);
        return false;
    }
    *present = true;
    return true;
}

const char *
mhQemuJsonGetString(JsonObject *obj, const char *key)
{
    JsonNode *node = json_object_get_member(obj, key);

    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(node);
}

char *
mhQemuJsonFormat(JsonObject *obj)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_node_set_object(node, obj);
    json_generator_set_root(gen, node);
    return json_generator_to_data(gen, NULL);
}
