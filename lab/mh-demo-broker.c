/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The demo's guest owner: a key broker of its own on loopback, over TLS
 * with a certificate the demo makes, and a relay in front of it through
 * which the hosts reach it. The relay records what a host on the path
 * sees, so the confidentiality check covers the broker's traffic without
 * needing the privileges a packet capture needs. */
#include "lab/mh-demo.h"

#include "broker/mh-broker-client.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib/gstdio.h>


struct _MhDemoBroker {
    char *dir;
    char *cert;
    char *key;
    char *record;               /* what the relay carried */
    char *url;                  /* the broker itself (the owner's admin calls) */
    char *host_url;             /* through the relay (the hosts' calls) */
    char **env;                 /* the children's, tagged for "lab down" */
    GPid pid;
    GPid relay_pid;
    MhBrokerClient *admin;
    gint64 log_seq;
};

/* Run virt-mh ARGS... in the background; its first output line, which
 * must start with 'ready', is returned without the prefix. */
static char *
mhDemoBrokerSpawnChild(MhDemoBroker *b, const char *const *args, const char *ready,
                       GPid *pid, GError **error)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GIOChannel) out = NULL;
    g_autofree char *line = NULL;
    gint out_fd = -1;
    gsize len = 0;

    if (!self) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot find this program"));
        return NULL;
    }
    g_ptr_array_add(argv, self);
    for (size_t i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_async_with_pipes(NULL, (char **)argv->pdata, b->env, G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, pid, NULL, &out_fd, NULL, error))
        return NULL;
    out = g_io_channel_unix_new(out_fd);
    g_io_channel_set_close_on_unref(out, TRUE);
    if (g_io_channel_read_line(out, &line, &len, NULL, error) != G_IO_STATUS_NORMAL ||
        !g_str_has_prefix(line, ready)) {
        if (error && !*error)
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("'virt-mh %s %s' did not start (see its messages above)"),
                        args[0], args[1]);
        return NULL;
    }
    return g_strdup(g_strstrip(line + strlen(ready)));
}

/* ---- the broker ---- */

/* A self-signed certificate for 127.0.0.1, which is also the CA the hosts
 * and the owner verify the broker with. */
static bool
mhDemoBrokerMakeCert(MhDemoBroker *b, GError **error)
{
    const char *argv[] = {
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", b->key, "-out", b->cert, NULL
    };
    g_autofree char *err_text = NULL;
    gint status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &err_text, &status, error)) {
        g_prefix_error(error, _("cannot run openssl (package openssl): "));
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("openssl req failed: %s"),
                    err_text ? g_strstrip(err_text) : "");
        return false;
    }
    /* The hosts' daemons run as the lab user and read the CA. */
    g_chmod(b->cert, 0644);
    return true;
}

static bool
mhDemoBrokerSpawn(MhDemoBroker *b, GError **error)
{
    g_autofree char *state = g_build_filename(b->dir, "state", NULL);
    g_autofree char *to = NULL;
    g_autofree char *relay = NULL;
    g_autoptr(GUri) uri = NULL;
    const char *serve[] = { "broker", "serve", "--listen", "127.0.0.1:0", "--state", state,
                            "--tls-cert", b->cert, "--tls-key", b->key, NULL };

    if (!(b->url = mhDemoBrokerSpawnChild(b, serve, "listening on ", &b->pid, error)) ||
        !(uri = g_uri_parse(b->url, G_URI_FLAGS_NONE, error)))
        return false;
    to = g_strdup_printf("127.0.0.1:%d", g_uri_get_port(uri));
    {
        const char *args[] = { "lab", "relay", "--to", to, "--record", b->record, NULL };

        if (!(relay = mhDemoBrokerSpawnChild(b, args, "relay on ", &b->relay_pid, error)))
            return false;
    }
    b->host_url = g_strdup_printf("https://%s/", relay);
    return true;
}

MhDemoBroker *
mhDemoBrokerStart(const char *lab_dir, const char *dir, GError **error)
{
    g_autoptr(MhDemoBroker) b = g_new0(MhDemoBroker, 1);
    g_autofree char *token = NULL;

    b->env = g_environ_setenv(g_get_environ(), MH_LAB_SERVICE_ENV, lab_dir, TRUE);
    b->record = g_build_filename(dir, "relay-record.bin", NULL);
    b->dir = g_strdup(dir);
    b->cert = g_build_filename(dir, "broker-cert.pem", NULL);
    b->key = g_build_filename(dir, "broker-key.pem", NULL);
    token = g_build_filename(dir, "state", "admin.token", NULL);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create directory '%s': %s"),
                    dir, g_strerror(errno));
        return NULL;
    }
    if (!mhDemoBrokerMakeCert(b, error) || !mhDemoBrokerSpawn(b, error) ||
        !(b->admin = mhBrokerClientNew(b->url, b->cert, token, MH_BROKER_CLIENT_TIMEOUT_S,
                                       error)))
        return NULL;
    return g_steal_pointer(&b);
}

static void
mhDemoBrokerStop(GPid *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
    g_spawn_close_pid(*pid);
    *pid = 0;
}

void
mhDemoBrokerFree(MhDemoBroker *b)
{
    if (!b)
        return;
    mhDemoBrokerStop(&b->relay_pid);
    mhDemoBrokerStop(&b->pid);
    mhBrokerClientFree(b->admin);
    g_strfreev(b->env);
    g_free(b->dir);
    g_free(b->cert);
    g_free(b->key);
    g_free(b->record);
    g_free(b->url);
    g_free(b->host_url);
    g_free(b);
}

void
mhDemoBrokerDetach(MhDemoBroker *b)
{
    /* They stay for the kept lab; "virt-mh lab down" stops them. */
    b->pid = 0;
    b->relay_pid = 0;
}

const char *
mhDemoBrokerUrl(const MhDemoBroker *b)
{
    return b->url;
}

const char *
mhDemoBrokerHostUrl(const MhDemoBroker *b)
{
    return b->host_url;
}

const char *
mhDemoBrokerCa(const MhDemoBroker *b)
{
    return b->cert;
}

JsonObject *
mhDemoBrokerAdmin(MhDemoBroker *b, const char *method, const char *path, JsonObject *body,
                  GError **error)
{
    return mhBrokerClientCall(b->admin, method, path, body, error);
}

/* Print the audit entries since the last call, as "broker: ..." lines. */
bool
mhDemoBrokerPrintLog(MhDemoBroker *b, GError **error)
{
    g_autofree char *path = g_strdup_printf("/admin/v1/log?after=%" G_GINT64_FORMAT, b->log_seq);
    g_autoptr(JsonObject) reply = mhBrokerClientCall(b->admin, "GET", path, NULL, error);
    JsonArray *arr;

    if (!reply)
        return false;
    arr = json_object_get_array_member(reply, "entries");
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *e = json_array_get_object_element(arr, i);
        const char *platform = json_object_get_string_member_with_default(e, "platform", NULL);

        b->log_seq = json_object_get_int_member_with_default(e, "seq", b->log_seq);
        mhDemoSay(_("broker: %s %s%s%.12s: %s"),
                  json_object_get_string_member_with_default(e, "action", "?"),
                  json_object_get_boolean_member_with_default(e, "granted", FALSE) ?
                  _("GRANTED") : _("REFUSED"), platform ? _(" for platform ") : "",
                  platform ? platform : "",
                  json_object_get_string_member_with_default(e, "reason", ""));
    }
    return true;
}

/* What the relay carried so far: its size, and how often 'needle'
 * occurs in it. */
guint64
mhDemoBrokerWireCount(MhDemoBroker *b, const void *needle, size_t len, guint64 *bytes)
{
    g_autofree char *data = NULL;
    size_t n = 0;
    guint64 hits = 0;

    *bytes = 0;
    if (!mhUtilReadFile(b->record, &data, &n, NULL))
        return 0;
    *bytes = n;
    for (const char *p = data; len && (p = memmem(p, n - (p - data), needle, len)); p++)
        hits++;
    return hits;
}
