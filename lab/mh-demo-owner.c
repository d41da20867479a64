/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: the guest owner. It trusts nothing on the hosts: it checks
 * each platform's PDH against its certificate chain, gives every launch
 * (the first one and each migration target) a session of its own, checks
 * the launch measurement against the firmware it expects, and only then
 * seals the migration key for that launch. */
#include "lab/mh-demo.h"
#include "owner/mh-owner-qmp.h"
#include "owner/mh-sev-owner.h"

#include "owner/mh-sev-secret.h"
#include "virt/mh-virt-launch.h"
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#define MH_DEMO_QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
/* The guest owner's extra QMP monitor (docs/demo.md: why a monitor). */
#define MH_DEMO_OWNER_MON_ID "mhowner"
#define MH_DEMO_ATTEST_TIMEOUT_S 120

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* libvirt answers virNodeGetSEVInfo from the host's default QEMU, which
 * on a lab host may be the real QEMU, not the domain's <emulator>: then
 * ask the emulator itself, as libvirt would, through a paused probe
 * domain (query-sev-capabilities). Strings are g_strdup'ed. */
static bool
mhDemoOwnerProbePlatform(MhDemo *demo, MhDemoHost *host, char **pdh, char **chain,
                         GError **error)
{
    g_autofree char *xml = g_markup_printf_escaped(
        "<domain type='qemu'><name>mh-demo-probe</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type>"
        "<loader readonly='yes' type='rom'>%s</loader></os>"
        "<devices><emulator>%s</emulator><memballoon model='none'/></devices>"
        "<launchSecurity type='sev'><cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits>"
        "<policy>0x%04x</policy></launchSecurity></domain>",
        demo->firmware, demo->lab->emulator, MH_DEMO_POLICY);
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *reply = NULL;
    g_autoptr(JsonNode) node = NULL;
    JsonObject *ret;
    bool ok = false;

    if (!(dom = virDomainCreateXML(host->conn, xml, VIR_DOMAIN_START_PAUSED))) {
        mhVirtSetError(error, _("cannot start a probe domain"));
        return false;
    }
    if (virDomainQemuMonitorCommand(dom, "{\"execute\":\"query-sev-capabilities\"}",
                                    &reply, 0) < 0) {
        mhVirtSetError(error, _("query-sev-capabilities failed"));
        goto cleanup;
    }
    if (!(node = json_from_string(reply, error)))
        goto cleanup;
    if (!JSON_NODE_HOLDS_OBJECT(node) ||
        !(ret = json_object_get_object_member(json_node_get_object(node), "return")) ||
        !json_object_has_member(ret, "pdh") || !json_object_has_member(ret, "cert-chain")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("unexpected reply to query-sev-capabilities: %s"), reply);
        goto cleanup;
    }
    *pdh = g_strdup(json_object_get_string_member(ret, "pdh"));
    *chain = g_strdup(json_object_get_string_member(ret, "cert-chain"));
    host->cbitpos = json_object_get_int_member_with_default(ret, "cbitpos", 0);
    host->reduced_phys_bits = json_object_get_int_member_with_default(ret,
                                                                      "reduced-phys-bits", 0);
    ok = *pdh && *chain;

 cleanup:
    virDomainDestroy(dom);
    return ok;
}

bool
mhDemoOwnerReadPlatform(MhDemo *demo, MhDemoHost *host, GError **error)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    const char *v = NULL;
    g_autofree char *pdh_b64 = NULL;
    g_autofree char *chain_b64 = NULL;
    g_autoptr(MhSevCert) pdh = NULL;
    g_autoptr(MhSevCert) pek = NULL;
    g_autoptr(MhSevCert) oca = NULL;
    g_autoptr(MhSevCert) cek = NULL;
    g_autoptr(GBytes) chain = NULL;
    const uint8_t *p;
    gsize n = 0;

    if (virNodeGetSEVInfo(host->conn, &params, &nparams, 0) == 0) {
        if (virTypedParamsGetString(params, nparams, VIR_NODE_SEV_PDH, &v) == 1)
            pdh_b64 = g_strdup(v);
        if (virTypedParamsGetString(params, nparams, VIR_NODE_SEV_CERT_CHAIN, &v) == 1)
            chain_b64 = g_strdup(v);
        virTypedParamsGetUInt(params, nparams, VIR_NODE_SEV_CBITPOS, &host->cbitpos);
        virTypedParamsGetUInt(params, nparams, VIR_NODE_SEV_REDUCED_PHYS_BITS,
                              &host->reduced_phys_bits);
        virTypedParamsFree(params, nparams);
        mhDemoSay(_("host %u: SEV platform from virNodeGetSEVInfo"), host->index);
    } else {
        mhDemoSay(_("host %u: virNodeGetSEVInfo: %s"), host->index, virGetLastErrorMessage());
        mhDemoSay(_("host %u: (libvirt asks the host's default QEMU; the lab runs qemu-mh only "
                    "as a domain's <emulator>) asking qemu-mh through a paused probe domain"),
                  host->index);
        if (!mhDemoOwnerProbePlatform(demo, host, &pdh_b64, &chain_b64, error))
            return false;
    }
    if (!pdh_b64 || !chain_b64 || !host->cbitpos) {
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("the SEV information of host %u lacks the PDH, the certificate chain "
                      "or cbitpos"), host->index);
        return false;
    }
    if (!(pdh = mhSevCertParseBase64("PDH", pdh_b64, error)) ||
        !mhUtilDecodeBase64(_("certificate chain"), chain_b64, &chain, error))
        return false;
    p = g_bytes_get_data(chain, &n);
    if (n != 3 * MH_SEV_CERT_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("certificate chain of host %u: expected PEK, OCA and CEK (%d bytes), "
                      "got %zu"), host->index, 3 * MH_SEV_CERT_SIZE, (size_t)n);
        return false;
    }
    if (!(pek = mhSevCertParse(p, MH_SEV_CERT_SIZE, error)) ||
        !(oca = mhSevCertParse(p + MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE, error)) ||
        !(cek = mhSevCertParse(p + 2 * MH_SEV_CERT_SIZE, MH_SEV_CERT_SIZE, error)) ||
        !mhSevCertVerify(pdh, pek, error) || !mhSevCertVerify(pek, oca, error) ||
        !mhSevCertVerify(pek, cek, error)) {
        mhErrorPrefix(error, _("certificate chain of host %u: "), host->index);
        return false;
    }
    g_clear_pointer(&host->pdh, mhSevCertFree);
    host->pdh = g_steal_pointer(&pdh);
    return true;
}

MhSevOwnerSession *
mhDemoOwnerSession(MhDemo *demo, MhDemoHost *host, char **tk_path, GError **error)
{
    g_autoptr(MhSevOwnerSession) session = NULL;
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;

    if (!(session = mhSevOwnerSessionNew(host->pdh, MH_DEMO_POLICY, error)))
        return NULL;
    name = g_strdup_printf("tk-host%u-%u.bin", host->index, ++demo->seq);
    path = g_build_filename(demo->owner_dir, name, NULL);
    if (!mhUtilWriteFile(path, session->tk->data, session->tk->len, 0600, error))
        return NULL;
    *tk_path = g_steal_pointer(&path);
    return g_steal_pointer(&session);
}

char *
mhDemoOwnerSocketPath(MhDemo *demo, guint host)
{
    g_autofree char *name = g_strdup_printf("owner-h%u-%u.sock", host, ++demo->seq);

    return g_build_filename(demo->dir, "files", name, NULL);
}

static char *
mhDemoOwnerMonitorArg(const char *socket)
{
    return g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off",
                           MH_DEMO_OWNER_MON_ID, socket);
}

char *
mhDemoOwnerDomainXML(MhDemo *demo, const MhDemoHost *host,
                     const MhSevOwnerSession *session, const char *socket)
{
    g_autofree char *godh = mhSevCertToBase64(session->godh);
    g_autofree char *sess = g_base64_encode((const guchar *)&session->session,
                                            MH_SEV_SESSION_SIZE);
    g_autofree char *mon = mhDemoOwnerMonitorArg(socket);
    g_autofree char *mon2 = g_strdup_printf("chardev=%s,mode=control", MH_DEMO_OWNER_MON_ID);

    /* No <nvram>: the firmware is one ROM image (code and variables), all
     * of it measured. The guest is given as <kernel>: Debian's OVMF has no
     * kernel-hashes area, so it is not part of the measurement. */
    return g_markup_printf_escaped(
        "<domain type='qemu' xmlns:qemu='%s'>\n"
        "  <name>%s</name>\n"
        "  <memory unit='MiB'>%u</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64' machine='q35'>hvm</type>\n"
        "    <loader readonly='yes' type='rom'>%s</loader>\n"
        "    <kernel>%s</kernel>\n"
        "    <cmdline>%s</cmdline>\n"
        "  </os>\n"
        "  <features><acpi/></features>\n"
        "  <on_poweroff>destroy</on_poweroff>\n"
        "  <on_reboot>destroy</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n"
        "  <devices>\n"
        "    <emulator>%s</emulator>\n"
        "    <serial type='file'><source path='%s' append='on'/></serial>\n"
        "    <video><model type='none'/></video>\n"
        "    <memballoon model='none'/>\n"
        "  </devices>\n"
        "  <launchSecurity type='sev'>\n"
        "    <cbitpos>%u</cbitpos>\n"
        "    <reducedPhysBits>%u</reducedPhysBits>\n"
        "    <policy>0x%04x</policy>\n"
        "    <dhCert>%s</dhCert>\n"
        "    <session>%s</session>\n"
        "  </launchSecurity>\n"
        "  <qemu:commandline>\n"
        "    <qemu:arg value='-chardev'/>\n"
        "    <qemu:arg value='%s'/>\n"
        "    <qemu:arg value='-mon'/>\n"
        "    <qemu:arg value='%s'/>\n"
        "  </qemu:commandline>\n"
        "</domain>\n",
        MH_DEMO_QEMU_NS, MH_DEMO_DOMAIN, demo->memory_mib, demo->firmware, demo->guest,
        demo->cmdline, demo->lab->emulator, demo->serial_log, host->cbitpos,
        host->reduced_phys_bits, MH_DEMO_POLICY, godh, sess, mon, mon2);
}

static xmlXPathObjectPtr
mhDemoXPath(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);

    if (obj && (obj->type != XPATH_NODESET || !obj->nodesetval ||
                obj->nodesetval->nodeNr < 1)) {
        xmlXPathFreeObject(obj);
        return NULL;
    }
    return obj;
}

char *
mhDemoOwnerRewriteXML(const char *xml, const MhSevOwnerSession *session,
                      const char *socket, GError **error)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
    g_autoptr(xmlXPathContext) ctx = NULL;
    g_autoptr(xmlXPathObject) ls = NULL;
    g_autoptr(xmlXPathObject) mon = NULL;
    g_autofree char *godh = mhSevCertToBase64(session->godh);
    g_autofree char *sess = g_base64_encode((const guchar *)&session->session,
                                            MH_SEV_SESSION_SIZE);
    g_autofree char *arg = mhDemoOwnerMonitorArg(socket);
    g_autofree char *prefix = g_strdup_printf("//qemu:arg[starts-with(@value, 'socket,id=%s,')]",
                                              MH_DEMO_OWNER_MON_ID);
    const char *names[2] = { "dhCert", "session" };
    const char *values[2] = { godh, sess };
    xmlChar *out = NULL;
    int outlen = 0;
    char *ret;

    if (!doc || !(ctx = xmlXPathNewContext(doc)) ||
        xmlXPathRegisterNs(ctx, (const xmlChar *)"qemu", (const xmlChar *)MH_DEMO_QEMU_NS) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("cannot parse the XML of domain '%s'"), MH_DEMO_DOMAIN);
        return NULL;
    }
    if (!(ls = mhDemoXPath(ctx, "/domain/launchSecurity[@type='sev']"))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' has no <launchSecurity type='sev'>"), MH_DEMO_DOMAIN);
        return NULL;
    }
    for (size_t i = 0; i < 2; i++) {
        xmlNodePtr parent = ls->nodesetval->nodeTab[0];
        xmlNodePtr node = NULL;

        for (xmlNodePtr c = parent->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *)names[i]))
                node = c;
        }
        if (!node)
            node = xmlNewChild(parent, NULL, (const xmlChar *)names[i], NULL);
        xmlNodeSetContent(node, (const xmlChar *)values[i]);
    }
    if (!(mon = mhDemoXPath(ctx, prefix))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' has no guest owner's monitor (-chardev socket,id=%s) in "
                      "its <qemu:commandline>"), MH_DEMO_DOMAIN, MH_DEMO_OWNER_MON_ID);
        return NULL;
    }
    xmlSetProp(mon->nodesetval->nodeTab[0], (const xmlChar *)"value", (const xmlChar *)arg);
    xmlDocDumpMemory(doc, &out, &outlen);
    ret = g_strndup((const char *)out, outlen);
    xmlFree(out);
    return ret;
}

static bool
mhDemoOwnerFirmwareDigest(const char *firmware, uint8_t digest[MH_SEV_DIGEST_SIZE],
                          GError **error)
{
    g_autofree char *fw = NULL;
    size_t len = 0;
    g_autoptr(GBytes) bytes = NULL;

    if (!mhUtilReadFile(firmware, &fw, &len, error))
        return false;
    bytes = g_bytes_new_take(g_steal_pointer(&fw), len);
    return mhSevOwnerLaunchDigest(bytes, NULL, digest, error);
}

bool
mhDemoOwnerInject(MhDemo *demo, virDomainPtr dom, const MhSevOwnerSession *session,
                  GError **error)
{
    MhOwnerLaunch launch = { &mhVirtLaunchOps, dom };
    const uint32_t policy = MH_DEMO_POLICY;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) plain = NULL;
    g_autofree char *meas_b64 = NULL;
    MhOwnerLaunchReport report;
    size_t packet_len = 0;

    if (!mhDemoOwnerFirmwareDigest(demo->firmware, digest, error) ||
        !mhSevSecretTableAddMigrationKey(table, demo->key, error) ||
        !(plain = mhSevSecretTableBuild(table, error)) ||
        !mhOwnerAttestInject(&launch, session->tk, digest, &policy, plain, NULL, &report,
                             &packet_len, error))
        return false;
    meas_b64 = g_base64_encode(report.measurement, sizeof(report.measurement));
    mhDemoSay(_("measurement %.16s... matches firmware %s (SEV API %u.%u build %u, "
                "policy 0x%04x)"), meas_b64, demo->firmware, report.build.api_major,
              report.build.api_minor, report.build.build_id, report.policy);
    mhDemoSay(_("(it covers the firmware only: Debian's OVMF has no kernel-hashes area, so the "
                "test guest loaded as <kernel> is not measured)"));
    mhDemoSay(_("migration key 0x%08x sealed for this launch (%zu-byte LAUNCH_SECRET packet) "
                "and injected"), demo->key_id, packet_len);
    return true;
}

/* ---- the incoming target ------------------------------------------------ */

struct _MhDemoAttest {
    GThread *thread;
    char *socket;
    char *tk_path;
    char *firmware;
    char *key_path;
    gint done;
    gint failed;
    gint cancel;
    gint64 injected_us;
    GError *error;
};

/* The target's attestation, as "virt-mh owner inject --qmp" does it:
 * query-sev, query-sev-launch-measure, verify, sev-inject-launch-secret. */
static bool
mhDemoAttestInject(MhDemoAttest *at, GError **error)
{
    g_autoptr(MhOwnerQmp) qmp = NULL;
    g_autoptr(MhSecret) tk = NULL;
    g_autoptr(MhSecret) table = NULL;
    g_autoptr(MhSevSecretTable) entries = mhSevSecretTableNew();
    g_autoptr(MhSecret) key = NULL;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    MhOwnerLaunch launch;

    if (!(tk = mhSevOwnerLoadTk(at->tk_path, error)) ||
        !(key = mhSevMigrationKeyLoad(at->key_path, error)) ||
        !mhSevSecretTableAddMigrationKey(entries, key, error) ||
        !(table = mhSevSecretTableBuild(entries, error)) ||
        !mhDemoOwnerFirmwareDigest(at->firmware, digest, error) ||
        !(qmp = mhOwnerQmpConnect(at->socket, error)))
        return false;
    launch = (MhOwnerLaunch){ &mhOwnerQmpOps, qmp };
    return mhOwnerAttestInject(&launch, tk, digest, NULL, table, NULL, NULL, NULL, error);
}

static gpointer
mhDemoAttestThread(gpointer data)
{
    MhDemoAttest *at = data;
    gint64 deadline = g_get_monotonic_time() + MH_DEMO_ATTEST_TIMEOUT_S * G_USEC_PER_SEC;

    /* libvirt starts the target's emulator during Prepare; its owner
     * monitor appears a moment later. */
    while (!g_file_test(at->socket, G_FILE_TEST_EXISTS)) {
        if (g_atomic_int_get(&at->cancel) || mhDemoInterrupted(NULL)) {
            g_set_error(&at->error, MH_ERROR, MH_ERROR_STATE,
                        _("the target's owner monitor '%s' never appeared"), at->socket);
            g_atomic_int_set(&at->failed, 1);
            goto done;
        }
        if (g_get_monotonic_time() > deadline) {
            g_set_error(&at->error, MH_ERROR, MH_ERROR_STATE,
                        _("the target's owner monitor '%s' did not appear within %d s"),
                        at->socket, MH_DEMO_ATTEST_TIMEOUT_S);
            g_atomic_int_set(&at->failed, 1);
            goto done;
        }
        g_usleep(20 * 1000);
    }
    if (!mhDemoAttestInject(at, &at->error)) {
        g_prefix_error(&at->error, _("the guest owner could not attest the target through "
                                     "'%s': "), at->socket);
        g_atomic_int_set(&at->failed, 1);
        goto done;
    }
    at->injected_us = g_get_monotonic_time();

 done:
    g_atomic_int_set(&at->done, 1);
    return NULL;
}

MhDemoAttest *
mhDemoAttestStart(MhDemo *demo, const char *socket, const char *tk_path)
{
    MhDemoAttest *at = g_new0(MhDemoAttest, 1);

    at->socket = g_strdup(socket);
    at->tk_path = g_strdup(tk_path);
    at->firmware = g_strdup(demo->firmware);
    at->key_path = g_strdup(demo->key_path);
    at->thread = g_thread_new("mh-demo-attest", mhDemoAttestThread, at);
    return at;
}

bool
mhDemoAttestCheck(MhDemoAttest *at, GError **error)
{
    if (!g_atomic_int_get(&at->failed))
        return true;
    if (error)
        *error = g_error_copy(at->error);
    return false;
}

bool
mhDemoAttestFinish(MhDemoAttest *at, GError **error)
{
    /* A migration that failed before Prepare never starts the target. */
    g_atomic_int_set(&at->cancel, 1);
    if (at->thread) {
        g_thread_join(at->thread);
        at->thread = NULL;
    }
    if (at->error) {
        g_propagate_error(error, at->error);
        at->error = NULL;
        return false;
    }
    return true;
}

void
mhDemoAttestFree(MhDemoAttest *at)
{
    if (!at)
        return;
    g_atomic_int_set(&at->cancel, 1);
    if (at->thread)
        g_thread_join(at->thread);
    g_clear_error(&at->error);
    g_free(at->socket);
    g_free(at->tk_path);
    g_free(at->firmware);
    g_free(at->key_path);
    g_free(at);
}
