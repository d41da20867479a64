/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh.conf; see mh-qemu-conf.h. */
#include "sim/qemu/mh-qemu-conf.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <unistd.h>

#define MH_QEMU_CONF_DEFAULT_REAL_QEMU "/usr/bin/qemu-system-x86_64"
#define MH_QEMU_CONF_DEFAULT_KEY_WAIT_S 30
#define MH_QEMU_CONF_DEFAULT_STALL_TIMEOUT_S 120
#define MH_QEMU_CONF_MAX_SECONDS 3600

char *
mhQemuConfPath(void)
{
    const char *env = g_getenv(MH_QEMU_CONF_ENV);
    const char *home = g_getenv("HOME");

    if (env && *env)
        return g_strdup(env);
    if (geteuid() != 0 && home && g_path_is_absolute(home)) {
        g_autofree char *user = g_build_filename(home, ".config", "mirror-helper",
                                                 "qemu-mh.conf", NULL);

        if (g_file_test(user, G_FILE_TEST_EXISTS))
            return g_steal_pointer(&user);
    }
    return g_strdup(MH_QEMU_CONF_SYSTEM);
}

/* A string in double quotes (no escapes: paths), or NULL. */
static char *
mhQemuConfString(const char *value)
{
    size_t len = strlen(value);

    if (len < 2 || value[0] != '"' || value[len - 1] != '"' ||
        memchr(value + 1, '"', len - 2))
        return NULL;
    return g_strndup(value + 1, len - 2);
}

static bool
mhQemuConfSet(MhQemuConf *conf, const char *key, const char *value, GError **error)
{
    if (g_str_equal(key, "real_qemu") || g_str_equal(key, "platform_dir")) {
        char **field = g_str_equal(key, "real_qemu") ? &conf->real_qemu : &conf->platform_dir;
        char *str = mhQemuConfString(value);

        if (!str || !g_path_is_absolute(str)) {
            g_free(str);
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("%s must be an absolute path in double quotes, not %s"), key, value);
            return false;
        }
        g_free(*field);
        *field = str;
        return true;
    }
    if (g_str_equal(key, "migrate_key_wait") || g_str_equal(key, "migrate_stall_timeout")) {
        unsigned int *field = g_str_equal(key, "migrate_key_wait") ? &conf->migrate_key_wait_s
                                                                  : &conf->migrate_stall_timeout_s;
        guint64 v;

        if (!g_ascii_string_to_unsigned(value, 10, 1, MH_QEMU_CONF_MAX_SECONDS, &v, NULL)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("%s must be a number of seconds from 1 to %d, not %s"), key,
                        MH_QEMU_CONF_MAX_SECONDS, value);
            return false;
        }
        *field = v;
        return true;
    }
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("unknown setting '%s' (known: real_qemu, platform_dir, migrate_key_wait, "
                  "migrate_stall_timeout)"),
                key);
    return false;
}

/* End 'value' before a trailing '#' comment (outside its quotes); false
 * when anything else follows a quoted string. */
static bool
mhQemuConfCutComment(char *value)
{
    char *end;

    if (*value == '"' && (end = strchr(value + 1, '"'))) {
        end++;
        if (*g_strchug(end) && *end != '#')
            return false;
        *end = '\0';
        return true;
    }
    if ((end = strchr(value, '#')))
        *end = '\0';
    g_strchomp(value);
    return true;
}

static bool
mhQemuConfParse(MhQemuConf *conf, const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *eq, *key, *value;

        if (!*line || *line == '#')
            continue;
        if (!(eq = strchr(line, '='))) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("line %u: expected 'key = value', got '%s'"), i + 1, line);
            return false;
        }
        *eq = '\0';
        key = g_strstrip(line);
        value = g_strstrip(eq + 1);
        if (!mhQemuConfCutComment(value)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("line %u: unexpected text after the value of %s"), i + 1, key);
            return false;
        }
        if (!mhQemuConfSet(conf, key, value, error)) {
            g_prefix_error(error, _("line %u: "), i + 1);
            return false;
        }
    }
    return true;
}

MhQemuConf *
mhQemuConfLoad(const char *path, GError **error)
{
    g_autoptr(MhQemuConf) conf = g_new0(MhQemuConf, 1);
    g_autofree char *file = path ? g_strdup(path) : mhQemuConfPath();
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    conf->real_qemu = g_strdup(MH_QEMU_CONF_DEFAULT_REAL_QEMU);
    conf->migrate_key_wait_s = MH_QEMU_CONF_DEFAULT_KEY_WAIT_S;
    conf->migrate_stall_timeout_s = MH_QEMU_CONF_DEFAULT_STALL_TIMEOUT_S;
    if (!g_file_get_contents(file, &text, NULL, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&conf);
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot read '%s': %s"), file,
                    err->message);
        return NULL;
    }
    if (!mhQemuConfParse(conf, text, error)) {
        g_prefix_error(error, "%s: ", file);
        return NULL;
    }
    conf->path = g_steal_pointer(&file);
    return g_steal_pointer(&conf);
}

void
mhQemuConfFree(MhQemuConf *conf)
{
    if (!conf)
        return;
    g_free(conf->path);
    g_free(conf->real_qemu);
    g_free(conf->platform_dir);
    g_free(conf);
}
