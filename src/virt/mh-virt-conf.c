/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* enable/disable on a libvirt connection.
 *
 * The element goes in with virDomainSetMetadata(); the <qemu:commandline>
 * arguments generated from it need a redefinition of the inactive XML (there
 * is no API for them). Both are decided on a copy first, and the original
 * definition is put back if the second step fails, so that a refusal or a
 * failure changes nothing. */
#include "virt/mh-virt-conf.h"
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>
#include <libvirt/virterror.h>

char *
mhVirtGetInactiveXML(virDomainPtr dom, GError **error)
{
    const char *name = virDomainGetName(dom);
    int persistent = virDomainIsPersistent(dom);
    char *xml;

    if (persistent < 0) {
        mhVirtSetError(error, name);
        return NULL;
    }
    if (!persistent) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("domain '%s' is transient; the mirror helper is a setting of "
                      "the persistent configuration"), name);
        return NULL;
    }
    if (!(xml = virDomainGetXMLDesc(dom, MH_VIRT_XML_FLAGS))) {
        g_autofree char *ctx = g_strdup_printf(_("domain '%s': cannot get the inactive XML"),
                                               name);
        mhVirtSetError(error, ctx);
    }
    return xml;
}

MhConfHelper *
mhVirtGetHelper(virDomainPtr dom, GError **error)
{
    g_autofree char *element = NULL;
    virErrorPtr err;
    MhConfHelper *helper;

    element = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                   MH_CONF_NAMESPACE_URI, VIR_DOMAIN_AFFECT_CONFIG);
    if (!element) {
        err = virGetLastError();
        if (err && err->code == VIR_ERR_NO_DOMAIN_METADATA) {
            virResetLastError();
            return NULL;
        }
        mhVirtSetError(error, virDomainGetName(dom));
        return NULL;
    }
    if (!(helper = mhConfHelperParseString(element, error)))
        mhErrorPrefix(error, _("domain '%s': "), virDomainGetName(dom));
    return helper;
}

static void
mhVirtRestoreXML(virConnectPtr conn, const char *xml, const char *name, GError **error)
{
    virDomainPtr defined = virDomainDefineXML(conn, xml);

    if (defined) {
        virDomainFree(defined);
        return;
    }
    /* The caller's error stays the main message; this one is added. */
    if (error && *error)
        g_prefix_error(error, _("domain '%s': could not restore the original definition (%s); "),
                       name, virGetLastErrorMessage());
}

/* Step two: regenerate <qemu:commandline> from what libvirt now stores. */
static bool
mhConfVirtRedefine(virDomainPtr dom, const MhConfHelper *helper, GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *current = NULL;
    g_autofree char *updated = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) check = NULL;
    virDomainPtr defined;

    if (!(current = mhVirtGetInactiveXML(dom, error)))
        return false;
    if (!(updated = mhConfDomainXMLUpdate(current, helper, error)))
        return false;
    check = mhConfDomainCheck(updated, name, problems);
    if (!mhConfProblemsToError(problems, error))
        return false;
    if (helper ? !check->helper || !mhConfHelperEqual(check->helper, helper)
               : check->helper_count != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("domain '%s': libvirt did not store <mh:helper> as requested"), name);
        return false;
    }
    if (strcmp(current, updated) == 0)
        return true;
    if (!(defined = virDomainDefineXML(virDomainGetConnect(dom), updated))) {
        g_autofree char *ctx = g_strdup_printf(_("domain '%s': cannot redefine it"), name);
        mhVirtSetError(error, ctx);
        return false;
    }
    virDomainFree(defined);
    return true;
}

bool
mhVirtApplyHelper(virDomainPtr dom, const MhConfHelper *helper,
                GPtrArray *problems, GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *original = NULL;
    g_autofree char *preview = NULL;
    g_autofree char *element = NULL;
    g_autoptr(MhConfDomain) check = NULL;
    guint before = problems->len;

    if (!(original = mhVirtGetInactiveXML(dom, error)))
        return false;
    /* Everything is decided on a copy first: a refusal changes nothing. */
    if (!(preview = mhConfDomainXMLUpdate(original, helper, error)))
        return false;
    check = mhConfDomainCheck(preview, name, problems);
    if (problems->len > before)
        return false;

    element = helper ? mhConfHelperFormat(helper, false) : NULL;
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, element,
                             helper ? MH_CONF_NAMESPACE_PREFIX : NULL,
                             MH_CONF_NAMESPACE_URI, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        g_autofree char *ctx = g_strdup_printf(_("domain '%s': cannot set the metadata"), name);
        mhVirtSetError(error, ctx);
        return false;
    }
    if (!mhConfVirtRedefine(dom, helper, error)) {
        mhVirtRestoreXML(virDomainGetConnect(dom), original, name, error);
        return false;
    }
    return true;
}
