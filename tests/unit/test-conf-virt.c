/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* enable/disable through libvirt's API (src/conf/mh-conf-virt.c), against
 * libvirt's test driver in this process. The test driver keeps metadata and
 * redefinitions but drops <qemu:commandline>; the arguments, and the same
 * commands against a real daemon, are covered by tests/e2e/test-conf-commands.sh. */
#include "virt/mh-virt-conf.h"
#include "util/mh-error.h"

#include <stdio.h>
#include <string.h>
#include <libvirt/virterror.h>

static virConnectPtr conn;

static void
testQuiet(void *opaque, virErrorPtr err)
{
}

static virDomainPtr
testDefine(const char *name, const char *launch_security)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'>\n"
        "  <name>%s</name>\n"
        "  <metadata><app:x xmlns:app='http://example.org/app'>keep</app:x></metadata>\n"
        "  <memory unit='MiB'>256</memory>\n"
        "  <os><type arch='x86_64'>hvm</type></os>\n"
        "%s"
        "</domain>\n", name, launch_security);
    virDomainPtr dom = virDomainDefineXML(conn, xml);

    g_assert_nonnull(dom);
    return dom;
}

static char *
testDump(virDomainPtr dom)
{
    char *xml = virDomainGetXMLDesc(dom, MH_VIRT_XML_FLAGS);

    g_assert_nonnull(xml);
    return xml;
}

#define SEV(policy) \
    "  <launchSecurity type='sev'><cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits>" \
    "<policy>" policy "</policy></launchSecurity>\n"

static void
testEnableDisable(void)
{
    virDomainPtr dom = testDefine("sev-ok", SEV("0x0033"));
    g_autoptr(MhConfHelper) h = mhConfHelperNew();
    g_autoptr(MhConfHelper) got = NULL;
    g_autoptr(MhConfHelper) gone = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *after = NULL;

    g_assert_null(mhVirtGetHelper(dom, &error));
    g_assert_no_error(error);

    h->mode = MH_CONF_MODE_ON_REQUEST;
    h->vcpus = 2;
    h->key_broker = g_strdup("http://127.0.0.1:8720/");
    g_assert_true(mhVirtApplyHelper(dom, h, problems, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(problems->len, ==, 0);
    got = mhVirtGetHelper(dom, &error);
    g_assert_no_error(error);
    g_assert_true(mhConfHelperEqual(got, h));
    xml = testDump(dom);
    g_assert_nonnull(strstr(xml, "<mh:helper xmlns:mh=\"" MH_CONF_NAMESPACE_URI "\""));
    g_assert_nonnull(strstr(xml, "<mh:vcpus>2</mh:vcpus>"));
    g_assert_nonnull(strstr(xml, "keep</app:x>"));

    /* refused: out of range; nothing changes */
    h->vcpus = 9;
    g_assert_false(mhVirtApplyHelper(dom, h, problems, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(problems->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(problems, 0), ==,
                    "<mh:helper>: <vcpus> value '9' is out of range 1..8");
    after = testDump(dom);
    g_assert_cmpstr(after, ==, xml);

    g_assert_true(mhVirtApplyHelper(dom, NULL, problems, &error));
    g_assert_no_error(error);
    gone = mhVirtGetHelper(dom, &error);
    g_assert_no_error(error);
    g_assert_null(gone);
    g_free(after);
    after = testDump(dom);
    g_assert_null(strstr(after, "mirror-helper.org"));
    g_assert_nonnull(strstr(after, "keep</app:x>"));
    virDomainUndefine(dom);
    virDomainFree(dom);
}

static void
testRefused(const void *opaque)
{
    const char *const *c = opaque;    /* { name, launchSecurity, message } */
    virDomainPtr dom = testDefine(c[0], c[1]);
    g_autoptr(MhConfHelper) h = mhConfHelperNew();
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = testDump(dom);
    g_autofree char *after = NULL;

    g_assert_false(mhVirtApplyHelper(dom, h, problems, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(problems->len, ==, 1);
    if (!strstr(g_ptr_array_index(problems, 0), c[2]))
        g_error("got '%s', want '%s'", (char *) g_ptr_array_index(problems, 0), c[2]);
    after = testDump(dom);
    g_assert_cmpstr(after, ==, before);
    virDomainUndefine(dom);
    virDomainFree(dom);
}

static const char *const refusedNosend[] = {
    "nosend", SEV("0x0008"), "has the NOSEND bit (0x0008) set"
};
static const char *const refusedNoSev[] = {
    "no-sev", "", "requires <launchSecurity type='sev'>, but the domain has no <launchSecurity>"
};

static void
testTransient(void)
{
    virDomainPtr dom = virDomainCreateXML(conn,
        "<domain type='test'><name>transient</name><memory>262144</memory>"
        "<os><type>hvm</type></os></domain>", 0);
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;

    g_assert_nonnull(dom);
    xml = mhVirtGetInactiveXML(dom, &error);
    g_assert_null(xml);
    g_assert_error(error, MH_ERROR, MH_ERROR_STATE);
    virDomainDestroy(dom);
    virDomainFree(dom);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, testQuiet);
    conn = virConnectOpen("test:///default");
    if (!conn) {
        printf("1..0 # SKIP libvirt's test driver is not available\n");
        return 77;
    }
    g_test_add_func("/conf/virt/enable-disable", testEnableDisable);
    g_test_add_data_func("/conf/virt/refused/nosend", refusedNosend, testRefused);
    g_test_add_data_func("/conf/virt/refused/no-launch-security", refusedNoSev, testRefused);
    g_test_add_func("/conf/virt/transient", testTransient);
    rc = g_test_run();
    virConnectClose(conn);
    return rc;
}
