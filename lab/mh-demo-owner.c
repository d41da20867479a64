/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: the guest owner. It trusts nothing on the hosts: it reads
 * each platform's PDH and certificate chain and tells its key broker to
 * trust exactly those platforms, and enrols the guest with the firmware
 * it expects and a migration key of its own. From then on the broker
 * gives every launch a session of its own and releases the key only for
 * a measurement that verifies (mh-demo-broker.c, docs/key-broker.md). */
#include "lab/mh-demo.h"
#include "owner/mh-sev-chain.h"
#include "owner/mh-sev-owner.h"

#include "conf/mh-conf.h"
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>


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
    g_clear_pointer(&host->chain, mhSevChainFree);
    if (!(host->chain = mhSevChainParse(pdh_b64, chain_b64, error))) {
        mhErrorPrefix(error, _("host %u: "), host->index);
        return false;
    }
    return true;
}

char *
mhDemoOwnerDomainXML(MhDemo *demo, const MhDemoHost *host)
{
    /* No <nvram>: the firmware is one ROM image (code and variables), all
     * of it measured. The guest is given as <kernel>: Debian's OVMF has no
     * kernel-hashes area, so it is not part of the measurement. No session
     * either: the broker makes one for each launch. */
    return g_markup_printf_escaped(
        "<domain type='qemu'>\n"
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
        "  </launchSecurity>\n"
        "</domain>\n",
        MH_DEMO_DOMAIN, demo->memory_mib, demo->firmware, demo->guest,
        demo->cmdline, demo->lab->emulator, demo->serial_log, host->cbitpos,
        host->reduced_phys_bits, MH_DEMO_POLICY);
}

bool
mhDemoOwnerTrust(MhDemo *demo, MhDemoHost *host, GError **error)
{
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autofree char *pdh = mhSevCertToBase64(host->chain->pdh);
    g_autofree char *chain = mhSevChainFormatBase64(host->chain);

    json_object_set_string_member(body, "pdh", pdh);
    json_object_set_string_member(body, "cert_chain", chain);
    if (!(reply = mhDemoBrokerAdmin(demo->broker, "POST", "/admin/v1/platforms", body, error)))
        return false;
    mhDemoSay(_("host %u: platform %.16s (owner %.16s) trusted"), host->index,
              json_object_get_string_member_with_default(reply, "id", "?"),
              json_object_get_string_member_with_default(reply, "oca", "?"));
    return true;
}

bool
mhDemoOwnerEnroll(MhDemo *demo, GError **error)
{
    g_autofree char *fw = NULL;
    g_autofree char *digest_hex = NULL;
    g_autofree char *key_b64 = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    size_t len = 0;

    if (!mhUtilReadFile(demo->firmware, &fw, &len, error))
        return false;
    bytes = g_bytes_new_take(g_steal_pointer(&fw), len);
    if (!mhSevOwnerLaunchDigest(bytes, NULL, digest, error))
        return false;
    digest_hex = mhUtilFormatHex(digest, sizeof(digest));
    key_b64 = g_base64_encode(demo->key->data, demo->key->len);
    json_object_set_string_member(body, "uuid", demo->uuid);
    json_object_set_int_member(body, "policy", MH_DEMO_POLICY);
    json_object_set_string_member(body, "firmware_digest", digest_hex);
    json_object_set_string_member(body, "migration_key", key_b64);
    mhUtilWipe(key_b64, strlen(key_b64));
    if (!(reply = mhDemoBrokerAdmin(demo->broker, "POST", "/admin/v1/guests", body, error)))
        return false;
    mhDemoSay(_("guest %s enrolled: policy 0x%04x, firmware %s (launch digest %.16s...), "
                "migration key 0x%08x"), demo->uuid, MH_DEMO_POLICY, demo->firmware,
              digest_hex, demo->key_id);
    return true;
}
