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

#include "owner/mh-owner-qmp.h"
#include "owner/mh-sev-owner.h"
#include "virt/mh-virt-launch.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

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
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(MhOwnerQmp) qmp = NULL;
    g_autofree char *xml = NULL;
    MhOwnerLaunch launch;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    const char *name = NULL;
    int ret = MH_EXIT_FAIL;

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
            !(qmp = mhOwnerQmpConnect(qmp_path, &error)))
            goto fail;
        launch = (MhOwnerLaunch){ &mhOwnerQmpOps, qmp };
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
        if (!mhCmdOwnerCheckDomain(name, xml, local, insecure, &image, &error))
            goto fail;
        launch = (MhOwnerLaunch){ &mhVirtLaunchOps, dom };
    }

    if (!mhCmdOwnerImageDigest(&image, digest, &error) ||
        !mhOwnerAttestInject(&launch, tk, digest, NULL, table, gpa_text ? &gpa : NULL,
                             NULL, NULL, &error))
        goto fail;
    if (dom && !keep_paused && virDomainResume(dom) < 0) {
        mhVirtSetError(&error, _("secret injected, but the domain did not resume"));
        goto fail;
    }
    ret = MH_EXIT_OK;
    goto cleanup;

 fail:
    mhCmdPrintError(error);
 cleanup:
    mhCmdOwnerImageClear(&image);
    return ret;
}
