/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh owner inject: attest a paused SEV guest and inject secrets.
 *
 * Through libvirt (-c URI DOMAIN): virDomainGetLaunchSecurityInfo for the
 * measurement and platform version, the domain XML for firmware, kernel
 * hashes and the checks libvirt's virt-qemu-sev-validate makes, then
 * virDomainSetLaunchSecurityState and virDomainResume.
 *
 * Through QMP (--qmp SOCKET): query-sev, query-sev-launch-measure and
 * sev-inject-launch-secret, and no "cont": this is for an incoming
 * migration target, whose libvirt job refuses API calls until Finish.
 *
 * Nothing reaches the guest unless the measurement verified. */
#include "mh-cmd.h"
#include "mh-cmd-owner-priv.h"

#include "owner/mh-sev-owner.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#define MH_CMD_OWNER_QMP_TIMEOUT 30   /* seconds per reply */

typedef struct {
    MhSevBuild build;
    uint32_t policy;
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];
} MhCmdOwnerReport;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* ---- QMP ---------------------------------------------------------------- */

typedef struct {
    GSocketConnection *conn;
    GDataInputStream *in;
    char *path;
} MhCmdOwnerQmp;

static void
mhCmdOwnerQmpFree(MhCmdOwnerQmp *qmp)
{
    if (!qmp)
        return;
    g_clear_object(&qmp->in);
    if (qmp->conn)
        g_io_stream_close(G_IO_STREAM(qmp->conn), NULL, NULL);
    g_clear_object(&qmp->conn);
    g_free(qmp->path);
    g_free(qmp);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhCmdOwnerQmp, mhCmdOwnerQmpFree)

/* Next JSON object from the monitor, events skipped. */
static JsonObject *
mhCmdOwnerQmpRead(MhCmdOwnerQmp *qmp, JsonNode **holder, GError **error)
{
    for (;;) {
        g_autoptr(GError) local = NULL;
        g_autofree char *line = g_data_input_stream_read_line_utf8(qmp->in, NULL, NULL, &local);
        g_autoptr(JsonNode) node = NULL;

        if (!line) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("QMP socket '%s': %s"), qmp->path,
                        local ? local->message : _("connection closed"));
            return NULL;
        }
        if (!(node = json_from_string(line, &local)) || !JSON_NODE_HOLDS_OBJECT(node)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("QMP socket '%s': not a JSON object: %s"), qmp->path, line);
            return NULL;
        }
        if (json_object_has_member(json_node_get_object(node), "event"))
            continue;
        *holder = g_steal_pointer(&node);
        return json_node_get_object(*holder);
    }
}

/* Run a command; returns its "return" node (owned by *holder). */
static JsonNode *
mhCmdOwnerQmpRun(MhCmdOwnerQmp *qmp, const char *command, JsonObject *args,
                 JsonNode **holder, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    g_autofree char *line = NULL;
    g_autoptr(GError) local = NULL;
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(qmp->conn));
    JsonObject *reply;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, command);
    if (args) {
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, json_node_init_object(json_node_alloc(), args));
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    line = g_strconcat(text, "\n", NULL);
    if (!g_output_stream_write_all(out, line, strlen(line), NULL, NULL, &local)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("QMP socket '%s': %s"), qmp->path,
                    local->message);
        return NULL;
    }
    if (!(reply = mhCmdOwnerQmpRead(qmp, holder, error)))
        return NULL;
    if (json_object_has_member(reply, "error")) {
        JsonObject *err = json_object_get_object_member(reply, "error");
        const char *desc = err ? json_object_get_string_member_with_default(err, "desc", NULL)
                               : NULL;
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("QMP command %s failed: %s"),
                    command, desc ? desc : _("unknown error"));
        return NULL;
    }
    if (!json_object_has_member(reply, "return")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("QMP command %s: reply has no \"return\""), command);
        return NULL;
    }
    return json_object_get_member(reply, "return");
}

static MhCmdOwnerQmp *
mhCmdOwnerQmpConnect(const char *path, GError **error)
{
    g_autoptr(MhCmdOwnerQmp) qmp = g_new0(MhCmdOwnerQmp, 1);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GError) local = NULL;
    g_autoptr(JsonNode) greeting = NULL;
    g_autoptr(JsonNode) caps = NULL;
    JsonObject *hello;

    qmp->path = g_strdup(path);
    g_socket_client_set_timeout(client, MH_CMD_OWNER_QMP_TIMEOUT);
    if (!(qmp->conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL,
                                              &local))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot connect to QMP socket '%s': %s"),
                    path, local->message);
        return NULL;
    }
    qmp->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(qmp->conn)));
    g_data_input_stream_set_newline_type(qmp->in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
    if (!(hello = mhCmdOwnerQmpRead(qmp, &greeting, error)))
        return NULL;
    if (!json_object_has_member(hello, "QMP")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s' is not a QMP monitor (no greeting)"), path);
        return NULL;
    }
    if (!mhCmdOwnerQmpRun(qmp, "qmp_capabilities", NULL, &caps, error))
        return NULL;
    return g_steal_pointer(&qmp);
}

static bool
mhCmdOwnerQmpGetUInt(JsonObject *obj, const char *member, uint64_t max, uint64_t *out,
                     GError **error)
{
    JsonNode *n = json_object_get_member(obj, member);

    if (!n || json_node_get_value_type(n) != G_TYPE_INT64 ||
        json_node_get_int(n) < 0 || (uint64_t)json_node_get_int(n) > max) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("query-sev: member '%s' is missing or out of range"), member);
        return false;
    }
    *out = json_node_get_int(n);
    return true;
}

static bool
mhCmdOwnerQmpReport(MhCmdOwnerQmp *qmp, MhCmdOwnerReport *report, GError **error)
{
    g_autoptr(JsonNode) h1 = NULL;
    g_autoptr(JsonNode) h2 = NULL;
    JsonNode *sev, *meas;
    JsonObject *o;
    const char *state, *data;
    uint64_t v[4];
    const char *names[4] = { "api-major", "api-minor", "build-id", "policy" };
    const uint64_t max[4] = { 255, 255, 255, G_MAXUINT32 };

    if (!(sev = mhCmdOwnerQmpRun(qmp, "query-sev", NULL, &h1, error)))
        return false;
    if (!JSON_NODE_HOLDS_OBJECT(sev) ||
        !json_object_get_boolean_member_with_default(o = json_node_get_object(sev),
                                                     "enabled", FALSE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the guest behind '%s' does not run with SEV"), qmp->path);
        return false;
    }
    state = json_object_get_string_member_with_default(o, "state", "");
    if (!g_str_equal(state, "launch-secret")) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("the guest's SEV state is '%s'; secrets can be injected only in "
                      "'launch-secret' (paused after launch, before it runs)"), state);
        return false;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!mhCmdOwnerQmpGetUInt(o, names[i], max[i], &v[i], error))
            return false;
    }
    report->build.api_major = v[0];
    report->build.api_minor = v[1];
    report->build.build_id = v[2];
    report->policy = v[3];
    if (!(meas = mhCmdOwnerQmpRun(qmp, "query-sev-launch-measure", NULL, &h2, error)))
        return false;
    data = JSON_NODE_HOLDS_OBJECT(meas) ?
        json_object_get_string_member_with_default(json_node_get_object(meas), "data", NULL) :
        NULL;
    if (!data) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("query-sev-launch-measure returned no data"));
        return false;
    }
    return mhCmdOwnerParseMeasurement(data, report->measurement, error);
}

static bool
mhCmdOwnerQmpInject(MhCmdOwnerQmp *qmp, const char *header, const char *secret,
                    const uint64_t *gpa, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) holder = NULL;

    json_object_set_string_member(args, "packet-header", header);
    json_object_set_string_member(args, "secret", secret);
    if (gpa)
        json_object_set_int_member(args, "gpa", (gint64)*gpa);
    return mhCmdOwnerQmpRun(qmp, "sev-inject-launch-secret", args, &holder, error) != NULL;
}

/* ---- libvirt ------------------------------------------------------------ */

static char *
mhCmdOwnerXPathString(xmlXPathContextPtr ctx, const char *expr)
{
    g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    xmlChar *s;
    char *ret;

    if (!obj || obj->type != XPATH_NODESET || !obj->nodesetval ||
        obj->nodesetval->nodeNr < 1)
        return NULL;
    s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
    ret = s ? g_strstrip(g_strdup((const char *)s)) : NULL;
    xmlFree(s);
    return ret;
}

static int
mhCmdOwnerXPathCount(xmlXPathContextPtr ctx, const char *expr)
{
    g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);

    if (!obj || obj->type != XPATH_NODESET || !obj->nodesetval)
        return 0;
    return obj->nodesetval->nodeNr;
}

/* Local when the URI names no host or the daemon runs on this machine:
 * then the host that is being attested is also the one holding the TK. */
static bool
mhCmdOwnerIsLocal(virConnectPtr conn)
{
    g_autofree char *uri = virConnectGetURI(conn);
    g_autofree char *host = virConnectGetHostname(conn);
    g_autoptr(GUri) parsed = uri ? g_uri_parse(uri, G_URI_FLAGS_NONE, NULL) : NULL;
    const char *uri_host = parsed ? g_uri_get_host(parsed) : NULL;

    if (!uri_host || !*uri_host || g_str_equal(uri_host, "localhost") ||
        g_str_equal(uri_host, "127.0.0.1") || g_str_equal(uri_host, "::1"))
        return true;
    if (!host)
        return true;   /* cannot tell: assume the worst */
    /* Compare short names: libvirt may report the FQDN, the C library the
     * short name; a false "local" only costs an --insecure. */
    {
        g_autofree char *a = g_strndup(host, strcspn(host, "."));
        g_autofree char *b = g_strndup(g_get_host_name(), strcspn(g_get_host_name(), "."));
        return g_ascii_strcasecmp(a, b) == 0;
    }
}

/* Domain checks and the image inputs it implies, as virt-qemu-sev-validate. */
static bool
mhCmdOwnerCheckDomain(const char *name, const char *xml, bool local, bool insecure,
                      MhCmdOwnerImage *image, GError **error)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
    g_autoptr(xmlXPathContext) ctx = NULL;
    g_autofree char *hashes = NULL;
    bool measure_kernel;
    int kern_nodes;

    if (!doc || !(ctx = xmlXPathNewContext(doc))) {
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("cannot parse the XML of domain '%s'"), name);
        return false;
    }
    if (mhCmdOwnerXPathCount(ctx, "/domain/launchSecurity[@type='sev']") != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' is not configured with SEV launch security"), name);
        return false;
    }
    if (mhCmdOwnerXPathCount(ctx, "/domain/launchSecurity/dhCert") != 1 ||
        mhCmdOwnerXPathCount(ctx, "/domain/launchSecurity/session") != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' has no <dhCert> and <session>: its TEK/TIK were chosen "
                      "by the platform, not by the owner, so it cannot be attested"), name);
        return false;
    }
    if (mhCmdOwnerXPathCount(ctx, "/domain/os/nvram") != 0 && !insecure) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' has NVRAM, which the measurement does not cover "
                      "(use --insecure to accept that)"), name);
        return false;
    }
    hashes = mhCmdOwnerXPathString(ctx, "/domain/launchSecurity/@kernelHashes");
    measure_kernel = hashes && g_str_equal(hashes, "yes");
    kern_nodes = mhCmdOwnerXPathCount(ctx, "/domain/os/kernel | /domain/os/initrd | "
                                           "/domain/os/cmdline");
    if (!measure_kernel) {
        if (image->kernel || image->initrd || image->cmdline) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("--kernel/--initrd/--cmdline given but domain '%s' does not "
                          "measure kernel hashes"), name);
            return false;
        }
        if (kern_nodes && !insecure) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("domain '%s' boots a kernel directly without measuring it "
                          "(kernelHashes='yes' is not set)"), name);
            return false;
        }
    } else if (!image->kernel) {
        g_autofree char *kernel = mhCmdOwnerXPathString(ctx, "/domain/os/kernel");
        if (!kernel) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("domain '%s' measures kernel hashes but boots no kernel"), name);
            return false;
        }
        if (!local) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("cannot read the kernel of domain '%s' on a remote host: give "
                          "--kernel, --initrd and --cmdline"), name);
            return false;
        }
        image->kernel = g_steal_pointer(&kernel);
        image->initrd = mhCmdOwnerXPathString(ctx, "/domain/os/initrd");
        image->cmdline = mhCmdOwnerXPathString(ctx, "/domain/os/cmdline");
    }
    if (!image->firmware) {
        g_autofree char *loader = mhCmdOwnerXPathString(ctx, "/domain/os/loader");
        if (!loader) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("domain '%s' has no <loader>; give --firmware"), name);
            return false;
        }
        if (!local) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("cannot read the firmware '%s' of domain '%s' on a remote host: "
                          "give --firmware"), loader, name);
            return false;
        }
        image->firmware = g_steal_pointer(&loader);
    }
    return true;
}

static bool
mhCmdOwnerLibvirtReport(virDomainPtr dom, MhCmdOwnerReport *report, GError **error)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    const char *meas = NULL;
    unsigned int v[4];
    const char *names[4] = {
        VIR_DOMAIN_LAUNCH_SECURITY_SEV_API_MAJOR, VIR_DOMAIN_LAUNCH_SECURITY_SEV_API_MINOR,
        VIR_DOMAIN_LAUNCH_SECURITY_SEV_BUILD_ID, VIR_DOMAIN_LAUNCH_SECURITY_SEV_POLICY,
    };
    bool ok = true;

    if (virDomainGetLaunchSecurityInfo(dom, &params, &nparams, 0) < 0) {
        mhVirtSetError(error, _("cannot read the domain's launch security info"));
        return false;
    }
    for (size_t i = 0; i < 4 && ok; i++) {
        if (virTypedParamsGetUInt(params, nparams, names[i], &v[i]) != 1 ||
            (i < 3 && v[i] > 255)) {
            g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                        _("the domain's launch security info has no valid '%s'"), names[i]);
            ok = false;
        }
    }
    if (ok && virTypedParamsGetString(params, nparams,
                                      VIR_DOMAIN_LAUNCH_SECURITY_SEV_MEASUREMENT, &meas) != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("the domain's launch security info has no measurement"));
        ok = false;
    }
    if (ok) {
        report->build.api_major = v[0];
        report->build.api_minor = v[1];
        report->build.build_id = v[2];
        report->policy = v[3];
        ok = mhCmdOwnerParseMeasurement(meas, report->measurement, error);
    }
    virTypedParamsFree(params, nparams);
    return ok;
}

static bool
mhCmdOwnerLibvirtInject(virDomainPtr dom, const char *header, const char *secret,
                        const uint64_t *gpa, GError **error)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0, maxparams = 0;
    int rc;

    if (virTypedParamsAddString(&params, &nparams, &maxparams,
                                VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET_HEADER, header) < 0 ||
        virTypedParamsAddString(&params, &nparams, &maxparams,
                                VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET, secret) < 0 ||
        (gpa && virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                        VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET_SET_ADDRESS,
                                        *gpa) < 0)) {
        virTypedParamsFree(params, nparams);
        mhVirtSetError(error, _("cannot build launch security parameters"));
        return false;
    }
    rc = virDomainSetLaunchSecurityState(dom, params, nparams, 0);
    virTypedParamsFree(params, nparams);
    if (rc < 0) {
        mhVirtSetError(error, _("cannot inject the launch secret"));
        return false;
    }
    return true;
}

/* ---- the command -------------------------------------------------------- */

int
mhCmdOwnerInject(MhCmdGlobal *global, int argc, char **argv)
{
    MhCmdOwnerImage image = { .firmware = NULL };
    g_autofree char *tk_path = NULL;
    g_auto(GStrv) specs = NULL;
    g_autofree char *mk_path = NULL;
    g_autofree char *qmp_path = NULL;
    g_autofree char *gpa_text = NULL;
    uint64_t gpa = 0;
    gboolean keep_paused = FALSE;
    gboolean insecure = FALSE;
    GOptionEntry entries[] = {
        MH_CMD_OWNER_TK_ENTRY(tk_path),
        { "firmware", 0, 0, G_OPTION_ARG_FILENAME, &image.firmware,
          N_("firmware image (default: the domain's <loader>, local only)"), N_("FILE") },
        MH_CMD_OWNER_KERNEL_ENTRIES(image),
        MH_CMD_OWNER_SECRET_ENTRIES(specs, mk_path),
        { "keep-paused", 0, 0, G_OPTION_ARG_NONE, &keep_paused,
          N_("do not resume the domain after injecting"), NULL },
        { "insecure", 0, 0, G_OPTION_ARG_NONE, &insecure,
          N_("allow running on the attested host itself"), NULL },
        { "gpa", 0, 0, G_OPTION_ARG_STRING, &gpa_text,
          N_("guest address for the secret (default: the firmware's secret area)"),
          N_("ADDR") },
        { "qmp", 0, 0, G_OPTION_ARG_FILENAME, &qmp_path,
          N_("talk to QEMU's QMP socket instead of libvirt (no resume)"), N_("SOCKET") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhSecret) tk = NULL;
    g_autoptr(MhSecret) table = NULL;
    g_autoptr(GBytes) ciphertext = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(MhCmdOwnerQmp) qmp = NULL;
    g_autofree char *header_b64 = NULL;
    g_autofree char *secret_b64 = NULL;
    g_autofree char *xml = NULL;
    MhCmdOwnerReport report;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    uint8_t header[MH_SEV_PACKET_HEADER_SIZE];
    const char *name = NULL;
    int ret = MH_EXIT_FAIL;
    gsize clen;
    const guchar *cp;

    if (!mhCmdParseOptions(global, "owner inject", N_("[DOMAIN]"),
                           N_("Verify a paused SEV guest's measurement and inject secrets."),
                           entries, &argc, &argv))
        goto cleanup;
    if (qmp_path) {
        if (argc > 1) {
            g_set_error(&error, MH_ERROR, MH_ERROR_INVALID,
                        _("owner inject: --qmp takes no DOMAIN argument"));
            goto fail;
        }
    } else if (argc != 2) {
        g_set_error(&error, MH_ERROR, MH_ERROR_INVALID,
                    _("owner inject: expected one DOMAIN (or --qmp SOCKET)"));
        goto fail;
    } else {
        name = argv[1];
    }
    /* Everything local first, so a typo costs no guest interaction. */
    if (!mhCmdOwnerRequire("owner inject", "--tk", tk_path, &error) ||
        !(tk = mhSevOwnerLoadTk(tk_path, &error)) ||
        !(table = mhCmdOwnerBuildTable(specs, mk_path, &error)) ||
        (gpa_text && !mhUtilParseU64("--gpa", gpa_text, G_MAXINT64, &gpa, &error)))
        goto fail;

    if (qmp_path) {
        /* A QMP socket is always on the attested host. */
        if (!insecure) {
            g_set_error(&error, MH_ERROR, MH_ERROR_INVALID,
                        _("a QMP socket is on the host being attested, which could then "
                          "see the TK and fake the guest; use --insecure to accept that"));
            goto fail;
        }
        if (!mhCmdOwnerRequire("owner inject --qmp", "--firmware", image.firmware, &error) ||
            !(qmp = mhCmdOwnerQmpConnect(qmp_path, &error)) ||
            !mhCmdOwnerQmpReport(qmp, &report, &error))
            goto fail;
    } else {
        bool local;
        int state = 0, reason = 0;

        if (!(conn = mhVirtConnect(global->connect_uri, &error)))
            goto fail;
        local = mhCmdOwnerIsLocal(conn);
        if (local && !insecure) {
            g_set_error(&error, MH_ERROR, MH_ERROR_INVALID,
                        _("running on the hypervisor host is not secure: that host could "
                          "read the TK and fake the measurement; connect from the guest "
                          "owner's machine, or use --insecure to accept that"));
            goto fail;
        }
        if (!(dom = mhVirtLookupDomain(conn, name, &error)))
            goto fail;
        if (virDomainGetState(dom, &state, &reason, 0) < 0) {
            mhVirtSetError(&error, _("cannot read the domain state"));
            goto fail;
        }
        if (state != VIR_DOMAIN_PAUSED) {
            g_set_error(&error, MH_ERROR, MH_ERROR_STATE,
                        _("domain '%s' must be paused (started with --paused) to inject "
                          "launch secrets"), name);
            goto fail;
        }
        if (!(xml = virDomainGetXMLDesc(dom, 0))) {
            mhVirtSetError(&error, _("cannot read the domain XML"));
            goto fail;
        }
        if (!mhCmdOwnerCheckDomain(name, xml, local, insecure, &image, &error) ||
            !mhCmdOwnerLibvirtReport(dom, &report, &error))
            goto fail;
    }

    if (!mhCmdOwnerImageDigest(&image, digest, &error) ||
        !mhSevOwnerVerify(tk, &report.build, report.policy, digest, report.measurement,
                          sizeof(report.measurement), &error))
        goto fail;
    if (!mhSevOwnerSeal(tk, report.measurement, sizeof(report.measurement), table->data,
                        table->len, NULL, header, &ciphertext, &error))
        goto fail;
    cp = g_bytes_get_data(ciphertext, &clen);
    header_b64 = g_base64_encode(header, sizeof(header));
    secret_b64 = g_base64_encode(cp, clen);

    if (qmp) {
        if (!mhCmdOwnerQmpInject(qmp, header_b64, secret_b64, gpa_text ? &gpa : NULL, &error))
            goto fail;
    } else {
        if (!mhCmdOwnerLibvirtInject(dom, header_b64, secret_b64, gpa_text ? &gpa : NULL,
                                     &error))
            goto fail;
        if (!keep_paused && virDomainResume(dom) < 0) {
            mhVirtSetError(&error, _("secret injected, but the domain did not resume"));
            goto fail;
        }
    }
    ret = MH_EXIT_OK;
    goto cleanup;

 fail:
    mhCmdPrintError(error);
 cleanup:
    mhCmdOwnerImageClear(&image);
    return ret;
}
