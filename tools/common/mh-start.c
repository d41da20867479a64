/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The first launch of a guest enrolled with a key broker, for "virt-mh
 * start" and virt-mhd's Domain.Start: a launch bundle for this host's
 * platform into the persistent definition, start paused, attest and
 * inject through libvirt's SEV API with what the broker releases,
 * resume. On any failure the launch is destroyed: a guest never runs
 * without the secret its owner allowed. */
#include "mh-start.h"

#include "broker/mh-broker-launch.h"
#include "virt/mh-virt-conf.h"
#include "virt/mh-virt-launch.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

static MhSevChain *
mhStartPlatform(virConnectPtr conn, GError **error)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    const char *pdh = NULL, *chain = NULL;
    MhSevChain *out = NULL;

    if (virNodeGetSEVInfo(conn, &params, &nparams, 0) < 0) {
        mhVirtSetError(error, _("cannot read the host's SEV information"));
        return NULL;
    }
    virTypedParamsGetString(params, nparams, VIR_NODE_SEV_PDH, &pdh);
    virTypedParamsGetString(params, nparams, VIR_NODE_SEV_CERT_CHAIN, &chain);
    if (!pdh || !chain)
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("the host's SEV information lacks the PDH or the certificate chain"));
    else
        out = mhSevChainParse(pdh, chain, error);
    virTypedParamsFree(params, nparams);
    return out;
}

/* Put this launch's session into the persistent definition, and an owner
 * monitor: a plain "virsh start --paused" later (Nova's spawn) is attested
 * by the hook through it. One already there stays. A migration with
 * --persistent carries this definition to the next host, so the path
 * must be one the hosts share (host.conf's run_dir, the same on each). */
static virDomainPtr
mhStartDefine(virConnectPtr conn, const char *xml, const char *uuid, const char *run_dir,
              const MhBrokerBundle *bundle, GError **error)
{
    g_autofree char *fitted = NULL;
    g_autofree char *owner = mhConfDomainXMLOwnerMonitor(xml);
    g_autofree char *name = g_strdup_printf("%s.owner", uuid);
    virDomainPtr dom;

    if (!owner && run_dir)
        owner = g_build_filename(run_dir, name, NULL);

    if (!(fitted = mhConfDomainXMLSetLaunch(xml, bundle->godh_b64, bundle->session_b64, owner,
                                            error)))
        return NULL;
    if (!(dom = virDomainDefineXML(conn, fitted)))
        mhVirtSetError(error, _("cannot store the launch session in the domain"));
    return dom;
}

bool
mhStartDomain(virConnectPtr conn, virDomainPtr dom, const char *cacert, const char *run_dir,
              guint timeout_s, MhOwnerLaunchReport *report, GError **error)
{
    g_autoptr(virDomain) defined = NULL;
    g_autoptr(MhConfDomain) conf = NULL;
    g_autoptr(MhSevChain) chain = NULL;
    g_autoptr(MhBrokerClient) client = NULL;
    g_autofree char *xml = NULL;
    const char *name = virDomainGetName(dom);
    MhBrokerBundle bundle = { 0 };
    MhOwnerLaunch launch;
    bool ok = false;

    if (!(xml = mhVirtGetInactiveXML(dom, error)) ||
        !(conf = mhConfDomainParseString(xml, name, error)))
        return false;
    if (!conf->helper || !conf->helper->key_broker || !conf->has_sev) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' is not an SEV domain whose <mh:helper> names a "
                      "<keyBroker>; start it with virsh"), name);
        return false;
    }
    if (virDomainIsActive(dom) == 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE, _("domain '%s' is already running"), name);
        return false;
    }
    if (!(chain = mhStartPlatform(conn, error)) ||
        !(client = mhBrokerClientNew(conf->helper->key_broker, cacert, NULL, timeout_s,
                                     error)) ||
        !mhBrokerRequestBundle(client, conf->uuid, chain, NULL, &bundle, error) ||
        !(defined = mhStartDefine(conn, xml, conf->uuid, run_dir, &bundle, error)))
        goto out;
    if (virDomainCreateWithFlags(defined, VIR_DOMAIN_START_PAUSED) < 0) {
        mhVirtSetError(error, _("cannot start the domain paused"));
        goto out;
    }
    launch = (MhOwnerLaunch){ &mhVirtLaunchOps, defined };
    ok = mhBrokerAttestInject(client, bundle.launch_id, &launch, report, error);
    if (ok && virDomainResume(defined) < 0) {
        mhVirtSetError(error, _("cannot resume the domain"));
        ok = false;
    }
    if (!ok)
        virDomainDestroy(defined);
 out:
    mhBrokerBundleClear(&bundle);
    return ok;
}

