/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The owner flow's libvirt back end; see mh-virt-launch.h. */
#include "virt/mh-virt-launch.h"
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

static bool
mhVirtLaunchReport(gpointer data, MhOwnerLaunchReport *report, GError **error)
{
    virDomainPtr dom = data;
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
        ok = mhOwnerParseMeasurement(meas, report->measurement, error);
    }
    virTypedParamsFree(params, nparams);
    return ok;
}

static bool
mhVirtLaunchInject(gpointer data, const char *header, const char *secret,
                   const uint64_t *gpa, GError **error)
{
    virDomainPtr dom = data;
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

const MhOwnerLaunchOps mhVirtLaunchOps = {
    .report = mhVirtLaunchReport,
    .inject = mhVirtLaunchInject,
};
