/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broker/mh-broker-host.h"
#include "broker/mh-broker.h"

#include "broker/mh-broker-client.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void
mhBrokerHostConfFree(MhBrokerHostConf *conf)
{
    if (!conf)
        return;
    g_free(conf->path);
    g_free(conf->cacert);
    g_free(conf->platform_certs);
    g_free(conf->run_dir);
    g_free(conf->libvirt_domain_dir);
    g_free(conf);
}

static char *
mhBrokerHostConfPath(void)
{
    const char *env = g_getenv("MH_HOST_CONF");
    const char *home = g_getenv("HOME");

    if (env && *env)
        return g_strdup(env);
    if (geteuid() != 0 && home && g_path_is_absolute(home)) {
        g_autofree char *user = g_build_filename(home, ".config", "mirror-helper",
                                                 "host.conf", NULL);

        if (g_file_test(user, G_FILE_TEST_EXISTS))
            return g_steal_pointer(&user);
    }
    return g_strdup("/etc/mirror-helper/host.conf");
}

static bool
mhBrokerHostConfRead(MhBrokerHostConf *conf, GKeyFile *kf, GError **error)
{
    static const struct {
        const char *group, *key;
        size_t offset;
    } paths[] = {
        { "broker", "cacert", G_STRUCT_OFFSET(MhBrokerHostConf, cacert) },
        { "platform", "certs", G_STRUCT_OFFSET(MhBrokerHostConf, platform_certs) },
        { "host", "run_dir", G_STRUCT_OFFSET(MhBrokerHostConf, run_dir) },
        { "libvirt", "domain_dir", G_STRUCT_OFFSET(MhBrokerHostConf, libvirt_domain_dir) },
    };
    g_autoptr(GError) err = NULL;
    gint timeout;

    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        char **slot = G_STRUCT_MEMBER_P(conf, paths[i].offset);
        g_autofree char *v = g_key_file_get_string(kf, paths[i].group, paths[i].key, NULL);

        if (!v)
            continue;
        if (!g_path_is_absolute(v)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("%s: [%s] %s must be an absolute path, got '%s'"), conf->path,
                        paths[i].group, paths[i].key, v);
            return false;
        }
        g_free(*slot);
        *slot = g_steal_pointer(&v);
    }
    timeout = g_key_file_get_integer(kf, "broker", "timeout", &err);
    if (!err) {
        if (timeout < 1 || timeout > 300) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("%s: [broker] timeout must be 1 to 300 seconds, got %d"),
                        conf->path, timeout);
            return false;
        }
        conf->timeout_s = timeout;
    } else if (!g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND) &&
               !g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("%s: [broker] timeout: %s"),
                    conf->path, err->message);
        return false;
    }
    return true;
}

MhBrokerHostConf *
mhBrokerHostConfLoad(GError **error)
{
    g_autoptr(MhBrokerHostConf) conf = g_new0(MhBrokerHostConf, 1);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = mhBrokerHostConfPath();
    g_autoptr(GError) err = NULL;

    conf->timeout_s = MH_BROKER_CLIENT_TIMEOUT_S;
    if (geteuid() == 0) {
        conf->platform_certs = g_strdup("/var/lib/mirror-helper/platform");
        conf->run_dir = g_strdup(MH_BROKER_HOST_SYSTEM_RUN_DIR);
        conf->libvirt_domain_dir = g_strdup("/var/lib/libvirt/qemu");
    } else {
        conf->platform_certs = g_build_filename(g_get_home_dir(), ".local", "state",
                                                "mirror-helper", "platform-certs", NULL);
        conf->run_dir = g_build_filename(g_get_home_dir(), ".cache", "mirror-helper", NULL);
        /* libvirt runs hooks with HOME but without XDG_CONFIG_HOME. */
        conf->libvirt_domain_dir = g_build_filename(g_get_home_dir(), ".config", "libvirt",
                                                    "qemu", "lib", NULL);
    }
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&conf);
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("%s: %s"), path, err->message);
        return NULL;
    }
    conf->path = g_steal_pointer(&path);
    if (!mhBrokerHostConfRead(conf, kf, error))
        return NULL;
    return g_steal_pointer(&conf);
}

char *
mhBrokerHostOwnerSocket(const MhBrokerHostConf *conf, const char *uuid)
{
    g_autofree char *name = g_strdup_printf("%s.owner", uuid);

    return g_build_filename(conf->run_dir, name, NULL);
}

static char *
mhBrokerHostLaunchPath(const MhBrokerHostConf *conf, const char *uuid)
{
    g_autofree char *name = g_strdup_printf("%s.launch", uuid);

    return g_build_filename(conf->run_dir, name, NULL);
}

bool
mhBrokerHostSaveLaunch(const MhBrokerHostConf *conf, const char *uuid,
                       const char *launch_id, const char *session_b64, GError **error)
{
    g_autofree char *path = mhBrokerHostLaunchPath(conf, uuid);
    g_autofree char *digest = mhBrokerSessionDigest(session_b64);
    g_autofree char *text = NULL;

    if (!digest) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the key broker's session for launch %s is not base64"), launch_id);
        return false;
    }
    if (g_mkdir_with_parents(conf->run_dir, 0700) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    conf->run_dir, g_strerror(errno));
        return false;
    }
    text = g_strdup_printf("%s %s\n", launch_id, digest);
    return mhUtilWriteFile(path, text, strlen(text), 0600, error);
}

/* The saved launch: its id and its session's digest; false without an
 * error when there is none. */
static bool
mhBrokerHostReadLaunch(const char *path, char **launch_id, char **digest, GError **error)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) fields = NULL;

    if (!g_file_test(path, G_FILE_TEST_EXISTS) || !mhUtilReadFile(path, &text, NULL, error))
        return false;
    fields = g_strsplit(g_strstrip(text), " ", 2);
    if (!fields[0] || !*fields[0] || !fields[1]) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' is not a launch this host saved"), path);
        return false;
    }
    *launch_id = g_strdup(fields[0]);
    *digest = g_strdup(fields[1]);
    return true;
}

bool
mhBrokerHostLaunchPending(const MhBrokerHostConf *conf, const char *uuid,
                          const char *session_b64)
{
    g_autofree char *path = mhBrokerHostLaunchPath(conf, uuid);
    g_autofree char *id = NULL, *digest = NULL, *want = mhBrokerSessionDigest(session_b64);

    return want && mhBrokerHostReadLaunch(path, &id, &digest, NULL) &&
        strcmp(digest, want) == 0;
}

char *
mhBrokerHostTakeLaunch(const MhBrokerHostConf *conf, const char *uuid, GError **error)
{
    g_autofree char *path = mhBrokerHostLaunchPath(conf, uuid);
    g_autofree char *id = NULL, *digest = NULL;
    bool ok = mhBrokerHostReadLaunch(path, &id, &digest, error);

    if (ok || (error && *error))
        unlink(path);
    return ok ? g_steal_pointer(&id) : NULL;
}
