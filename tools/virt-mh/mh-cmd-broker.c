/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh broker: the guest owner's key broker (serve) and its admin
 * client (trust-platform, enroll, revoke, list, log). docs/key-broker.md
 * describes the API these commands speak. */
#include "mh-cmd.h"
#include "mh-cmd-owner-priv.h"

#include "broker/mh-broker-client.h"
#include "broker/mh-broker-server.h"
#include "owner/mh-sev-chain.h"
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *broker;
    char *token;
    char *cacert;
} MhCmdBrokerConn;

#define MH_CMD_BROKER_CONN_ENTRIES(c) \
    { "broker", 0, 0, G_OPTION_ARG_STRING, &(c).broker, \
      N_("the key broker's URL"), N_("URL") }, \
    { "token", 0, 0, G_OPTION_ARG_FILENAME, &(c).token, \
      N_("file with the broker's admin token"), N_("FILE") }, \
    { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &(c).cacert, \
      N_("CA certificates to verify an https:// broker"), N_("FILE") }

static void
mhCmdBrokerConnClear(MhCmdBrokerConn *c)
{
    g_free(c->broker);
    g_free(c->token);
    g_free(c->cacert);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MhCmdBrokerConn, mhCmdBrokerConnClear)

static MhBrokerClient *
mhCmdBrokerConnect(const char *command, const MhCmdBrokerConn *c, GError **error)
{
    if (!c->broker || !c->token) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("%s: give %s"), command,
                    !c->broker ? "--broker URL" : "--token FILE");
        return NULL;
    }
    return mhBrokerClientNew(c->broker, c->cacert, c->token, MH_BROKER_CLIENT_TIMEOUT_S, error);
}

static int
mhCmdBrokerDone(GError *error)
{
    if (!error)
        return MH_EXIT_OK;
    mhCmdPrintError(error);
    return MH_EXIT_FAIL;
}

/* ---- serve ---- */

static gboolean
mhCmdBrokerQuit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

static int
mhCmdBrokerServe(MhCmdGlobal *global, int argc, char **argv)
{
    MhBrokerServerOptions opts = { 0 };
    g_autofree char *listen = NULL, *state = NULL, *cert = NULL, *key = NULL;
    gboolean plain = FALSE;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
          N_("address to listen on (port 0: any free port)"), N_("HOST:PORT") },
        { "state", 0, 0, G_OPTION_ARG_FILENAME, &state,
          N_("state directory (database, master key, admin token)"), N_("DIR") },
        { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, N_("TLS certificate (PEM)"),
          N_("FILE") },
        { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &key, N_("TLS private key (PEM)"),
          N_("FILE") },
        { "plain-http", 0, 0, G_OPTION_ARG_NONE, &plain,
          N_("serve plain HTTP (loopback tests only)"), NULL },
        { NULL }
    };
    g_autoptr(MhBrokerServer) server = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(GError) error = NULL;
    guint sig_term, sig_int;

    if (!mhCmdParseOptions(global, "broker serve", NULL,
                           N_("Run the guest owner's key broker in the foreground."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!listen || !state) {
        mhCmdErrorf(_("broker serve: give --listen HOST:PORT and --state DIR"));
        return MH_EXIT_FAIL;
    }
    opts = (MhBrokerServerOptions){ listen, state, cert, key, plain };
    if (plain)
        g_printerr(_("warning: --plain-http: the broker's traffic is not encrypted; use it "
                     "on loopback for tests only\n"));
    if (!(server = mhBrokerServerNew(&opts, &error)))
        return mhCmdBrokerDone(error);
    printf(_("listening on %s\n"), mhBrokerServerGetUrl(server));
    fflush(stdout);
    loop = g_main_loop_new(NULL, FALSE);
    sig_term = g_unix_signal_add(SIGTERM, mhCmdBrokerQuit, loop);
    sig_int = g_unix_signal_add(SIGINT, mhCmdBrokerQuit, loop);
    g_main_loop_run(loop);
    g_source_remove(sig_term);
    g_source_remove(sig_int);
    return MH_EXIT_OK;
}

/* ---- trust-platform ---- */

static MhSevChain *
mhCmdBrokerReadPlatform(MhCmdGlobal *global, const char *pdh, const char *chain,
                        const char *export_dir, GError **error)
{
    g_autoptr(virConnect) conn = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    const char *p = NULL, *c = NULL;
    MhSevChain *out;

    if (export_dir)
        return mhSevChainLoadDir(export_dir, error);
    if (pdh || chain) {
        if (!pdh || !chain) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("broker trust-platform: --pdh and --cert-chain go together"));
            return NULL;
        }
        return mhSevChainParse(pdh, chain, error);
    }
    if (!global->connect_uri) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("broker trust-platform: give -c URI, --export-dir DIR or "
                      "--pdh B64 --cert-chain B64"));
        return NULL;
    }
    if (!(conn = mhVirtConnect(global->connect_uri, error)))
        return NULL;
    if (virNodeGetSEVInfo(conn, &params, &nparams, 0) < 0) {
        mhVirtSetError(error, _("cannot read the host's SEV information"));
        return NULL;
    }
    virTypedParamsGetString(params, nparams, VIR_NODE_SEV_PDH, &p);
    virTypedParamsGetString(params, nparams, VIR_NODE_SEV_CERT_CHAIN, &c);
    if (!p || !c) {
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("the host's SEV information lacks the PDH or the certificate chain"));
        out = NULL;
    } else {
        out = mhSevChainParse(p, c, error);
    }
    virTypedParamsFree(params, nparams);
    return out;
}

static int
mhCmdBrokerTrust(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdBrokerConn) c = { 0 };
    g_autofree char *pdh = NULL, *chain_b64 = NULL, *export_dir = NULL;
    GOptionEntry entries[] = {
        MH_CMD_BROKER_CONN_ENTRIES(c),
        { "pdh", 0, 0, G_OPTION_ARG_STRING, &pdh, N_("the platform's PDH"), N_("B64") },
        { "cert-chain", 0, 0, G_OPTION_ARG_STRING, &chain_b64,
          N_("the platform's PEK, OCA and CEK"), N_("B64") },
        { "export-dir", 0, 0, G_OPTION_ARG_FILENAME, &export_dir,
          N_("the platform's certificates as 'sevctl export --full' writes them"), N_("DIR") },
        { NULL }
    };
    g_autoptr(MhBrokerClient) client = NULL;
    g_autoptr(MhSevChain) chain = NULL;
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *pdh_out = NULL;
    g_autofree char *chain_out = NULL;

    if (!mhCmdParseOptions(global, "broker trust-platform", NULL,
                           N_("Trust a host's SEV platform (its certificate chain)."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!(client = mhCmdBrokerConnect("broker trust-platform", &c, &error)) ||
        !(chain = mhCmdBrokerReadPlatform(global, pdh, chain_b64, export_dir, &error)))
        return mhCmdBrokerDone(error);
    pdh_out = mhSevCertToBase64(chain->pdh);
    json_object_set_string_member(body, "pdh", pdh_out);
    chain_out = mhSevChainFormatBase64(chain);
    json_object_set_string_member(body, "cert_chain", chain_out);
    if (!(reply = mhBrokerClientCall(client, "POST", "/admin/v1/platforms", body, &error)))
        return mhCmdBrokerDone(error);
    printf(_("platform %s trusted (owner %s)\n"),
           json_object_get_string_member_with_default(reply, "id", "?"),
           json_object_get_string_member_with_default(reply, "oca", "?"));
    return MH_EXIT_OK;
}

/* ---- enroll, revoke ---- */

static int
mhCmdBrokerEnroll(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdBrokerConn) c = { 0 };
    g_autofree char *uuid = NULL, *policy_text = NULL, *key_path = NULL;
    g_autofree char *digest_hex = NULL;
    g_auto(MhCmdOwnerImage) image = { NULL };
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    GOptionEntry entries[] = {
        MH_CMD_BROKER_CONN_ENTRIES(c),
        { "uuid", 0, 0, G_OPTION_ARG_STRING, &uuid, N_("the domain's UUID"), N_("UUID") },
        { "policy", 0, 0, G_OPTION_ARG_STRING, &policy_text, N_("SEV guest policy"), N_("HEX") },
        { "firmware", 0, 0, G_OPTION_ARG_FILENAME, &image.firmware,
          N_("the firmware image the guest may run"), N_("FILE") },
        { "firmware-digest", 0, 0, G_OPTION_ARG_STRING, &image.digest,
          N_("or its launch digest (SHA-256, hex)"), N_("HEX") },
        { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &image.kernel,
          N_("with kernel-hashes: the kernel measured after the firmware"), N_("FILE") },
        { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &image.initrd, N_("with --kernel: the initrd"),
          N_("FILE") },
        { "cmdline", 0, 0, G_OPTION_ARG_STRING, &image.cmdline,
          N_("with --kernel: the command line"), N_("TEXT") },
        { "migration-key", 0, 0, G_OPTION_ARG_FILENAME, &key_path,
          N_("the owner's migration key (default: the broker makes one)"), N_("FILE") },
        { NULL }
    };
    g_autoptr(MhBrokerClient) client = NULL;
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(MhSecret) key = NULL;
    g_autoptr(GError) error = NULL;
    guint64 policy = 0;

    if (!mhCmdParseOptions(global, "broker enroll", NULL,
                           N_("Enrol a guest: its policy, firmware and migration key."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!uuid || !policy_text || (!image.firmware == !image.digest)) {
        mhCmdErrorf(_("broker enroll: give --uuid, --policy and one of --firmware or "
                      "--firmware-digest"));
        return MH_EXIT_FAIL;
    }
    if (!(client = mhCmdBrokerConnect("broker enroll", &c, &error)) ||
        !mhUtilParseU64("--policy", policy_text, G_MAXUINT32, &policy, &error) ||
        !mhCmdOwnerImageDigest(&image, digest, &error) ||
        (key_path && !(key = mhSevMigrationKeyLoad(key_path, &error))))
        return mhCmdBrokerDone(error);
    json_object_set_string_member(body, "uuid", uuid);
    json_object_set_int_member(body, "policy", policy);
    digest_hex = mhUtilFormatHex(digest, sizeof(digest));
    json_object_set_string_member(body, "firmware_digest", digest_hex);
    if (key) {
        g_autofree char *b64 = g_base64_encode(key->data, key->len);

        json_object_set_string_member(body, "migration_key", b64);
        mhUtilWipe(b64, strlen(b64));
    }
    if (!(reply = mhBrokerClientCall(client, "POST", "/admin/v1/guests", body, &error)))
        return mhCmdBrokerDone(error);
    printf(_("guest %s enrolled, migration key 0x%08x\n"), uuid,
           (unsigned)json_object_get_int_member_with_default(reply, "key_id", 0));
    return MH_EXIT_OK;
}

static int
mhCmdBrokerRevoke(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdBrokerConn) c = { 0 };
    g_autofree char *uuid = NULL;
    GOptionEntry entries[] = {
        MH_CMD_BROKER_CONN_ENTRIES(c),
        { "uuid", 0, 0, G_OPTION_ARG_STRING, &uuid, N_("the domain's UUID"), N_("UUID") },
        { NULL }
    };
    g_autoptr(MhBrokerClient) client = NULL;
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;

    if (!mhCmdParseOptions(global, "broker revoke", NULL,
                           N_("Revoke a guest: no launch of it gets a secret again."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!uuid) {
        mhCmdErrorf(_("broker revoke: give --uuid UUID"));
        return MH_EXIT_FAIL;
    }
    path = g_strdup_printf("/admin/v1/guests/%s", uuid);
    if (!(client = mhCmdBrokerConnect("broker revoke", &c, &error)) ||
        !(reply = mhBrokerClientCall(client, "DELETE", path, NULL, &error)))
        return mhCmdBrokerDone(error);
    printf(_("guest %s revoked\n"), uuid);
    return MH_EXIT_OK;
}

/* ---- list, log ---- */

static const char *
mhCmdBrokerStr(JsonObject *o, const char *name)
{
    const char *v = json_object_get_string_member_with_default(o, name, NULL);

    return v ? v : "-";
}

static int
mhCmdBrokerList(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdBrokerConn) c = { 0 };
    GOptionEntry entries[] = { MH_CMD_BROKER_CONN_ENTRIES(c), { NULL } };
    g_autoptr(MhBrokerClient) client = NULL;
    g_autoptr(JsonObject) guests = NULL;
    g_autoptr(JsonObject) platforms = NULL;
    g_autoptr(GError) error = NULL;
    JsonArray *arr;

    if (!mhCmdParseOptions(global, "broker list", NULL,
                           N_("List enrolled guests and trusted platforms."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!(client = mhCmdBrokerConnect("broker list", &c, &error)) ||
        !(guests = mhBrokerClientCall(client, "GET", "/admin/v1/guests", NULL, &error)) ||
        !(platforms = mhBrokerClientCall(client, "GET", "/admin/v1/platforms", NULL, &error)))
        return mhCmdBrokerDone(error);
    printf(_("Guests:\n"));
    arr = json_object_get_array_member(guests, "guests");
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *g = json_array_get_object_element(arr, i);

        printf("  %s  policy 0x%04x  key 0x%08x  firmware %.16s  %s\n",
               mhCmdBrokerStr(g, "uuid"),
               (unsigned)json_object_get_int_member_with_default(g, "policy", 0),
               (unsigned)json_object_get_int_member_with_default(g, "key_id", 0),
               mhCmdBrokerStr(g, "firmware_digest"),
               json_object_get_boolean_member_with_default(g, "revoked", FALSE) ?
               _("revoked") : _("active"));
    }
    printf(_("Platforms:\n"));
    arr = json_object_get_array_member(platforms, "platforms");
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *p = json_array_get_object_element(arr, i);

        printf(_("  %s  owner %.16s  trusted %s\n"), mhCmdBrokerStr(p, "id"),
               mhCmdBrokerStr(p, "oca"), mhCmdBrokerStr(p, "trusted"));
    }
    return MH_EXIT_OK;
}

static int
mhCmdBrokerLog(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdBrokerConn) c = { 0 };
    gint64 after = 0;
    GOptionEntry entries[] = {
        MH_CMD_BROKER_CONN_ENTRIES(c),
        { "after", 0, 0, G_OPTION_ARG_INT64, &after,
          N_("only entries after this sequence number"), N_("N") },
        { NULL }
    };
    g_autoptr(MhBrokerClient) client = NULL;
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    JsonArray *arr;

    if (!mhCmdParseOptions(global, "broker log", NULL,
                           N_("Print the broker's audit log: every decision and why."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    path = g_strdup_printf("/admin/v1/log?after=%" G_GINT64_FORMAT, after < 0 ? 0 : after);
    if (!(client = mhCmdBrokerConnect("broker log", &c, &error)) ||
        !(reply = mhBrokerClientCall(client, "GET", path, NULL, &error)))
        return mhCmdBrokerDone(error);
    arr = json_object_get_array_member(reply, "entries");
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *e = json_array_get_object_element(arr, i);

        printf("%" G_GINT64_FORMAT " %s %s %s %s %.16s %s: %s\n",
               json_object_get_int_member_with_default(e, "seq", 0),
               mhCmdBrokerStr(e, "time"), mhCmdBrokerStr(e, "peer"),
               mhCmdBrokerStr(e, "action"), mhCmdBrokerStr(e, "uuid"),
               mhCmdBrokerStr(e, "platform"),
               json_object_get_boolean_member_with_default(e, "granted", FALSE) ?
               _("GRANTED") : _("REFUSED"), mhCmdBrokerStr(e, "reason"));
    }
    return MH_EXIT_OK;
}

static const MhCmd mhCmdBrokerSubs[] = {
    { "enroll", N_("enrol a guest (policy, firmware, migration key)"), mhCmdBrokerEnroll },
    { "list", N_("list enrolled guests and trusted platforms"), mhCmdBrokerList },
    { "log", N_("print the audit log"), mhCmdBrokerLog },
    { "revoke", N_("revoke a guest"), mhCmdBrokerRevoke },
    { "serve", N_("run the key broker"), mhCmdBrokerServe },
    { "trust-platform", N_("trust a host's SEV platform"), mhCmdBrokerTrust },
    { NULL, NULL, NULL }
};

static const MhCmdFamily mhCmdBrokerFamily = {
    N_("Usage: virt-mh broker SUBCOMMAND [OPTIONS...]\n\nSubcommands:\n"), 14,
    N_("unknown broker subcommand '%s'"), true, mhCmdBrokerSubs,
};

int
mhCmdBroker(MhCmdGlobal *global, int argc, char **argv)
{
    return mhCmdFamilyRun(&mhCmdBrokerFamily, global, argc, argv);
}
