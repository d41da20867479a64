/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh validate / enable / disable / show: the <mh:helper> domain feature.
 * enable and disable change only the persistent configuration, all or
 * nothing (see src/conf/mh-conf-virt.c). */
#include "mh-cmd.h"

#include "conf/mh-conf.h"
#include "virt/mh-virt-conf.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <stdio.h>
#include <string.h>
#include <libvirt/virterror.h>

static void
mhCmdConfPrintProblems(GPtrArray *problems)
{
    for (guint i = 0; i < problems->len; i++)
        mhCmdErrorf("%s", (const char *) g_ptr_array_index(problems, i));
}

static bool
mhCmdConfOneArg(int argc, char **argv, const char *command, const char *what)
{
    if (argc == 2)
        return true;
    if (argc < 2)
        mhCmdErrorf(_("%s: missing argument %s"), command, what);
    else
        mhCmdErrorf(_("%s: unexpected argument '%s'"), command, argv[2]);
    return false;
}

int
mhCmdValidate(MhCmdGlobal *global, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = NULL;
    g_autofree char *xml = NULL;

    if (!mhCmdParseOptions(global, "validate", _("FILE"),
                           N_("Check a domain XML file: well-formedness, libvirt's domain "
                              "schema, the <mh:helper> schema and the feature's rules."),
                           NULL, &argc, &argv) ||
        !mhCmdConfOneArg(argc, argv, "validate", _("FILE")))
        return MH_EXIT_FAIL;
    if (!mhUtilReadFile(argv[1], &xml, NULL, &error)) {
        mhCmdPrintError(error);
        return MH_EXIT_FAIL;
    }
    dom = mhConfDomainCheck(xml, argv[1], problems);
    /* libvirt's grammar is checked only for well-formed documents: for the
     * others the parser's message says it all. */
    if (dom && !mhConfLibvirtSchemaCheck(xml, argv[1], problems, &error)) {
        if (g_error_matches(error, MH_ERROR, MH_ERROR_UNSUPPORTED))
            fprintf(stderr, _("warning: %s; skipped that check\n"), error->message);
        else
            g_ptr_array_add(problems, g_strdup(error->message));
        g_clear_error(&error);
    }
    if (problems->len > 0) {
        mhCmdConfPrintProblems(problems);
        return MH_EXIT_FAIL;
    }
    printf("%s\n", _("valid"));
    return MH_EXIT_OK;
}

static virDomainPtr
mhCmdConfLookup(virConnectPtr conn, const char *name, GError **error)
{
    virDomainPtr dom;
    guint64 id;

    /* Same order as virsh: name, UUID, then numeric ID. */
    if ((dom = virDomainLookupByName(conn, name)))
        return dom;
    if ((dom = virDomainLookupByUUIDString(conn, name)))
        return dom;
    if (g_ascii_string_to_unsigned(name, 10, 0, G_MAXINT, &id, NULL) &&
        (dom = virDomainLookupByID(conn, id)))
        return dom;
    g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT, _("failed to get domain '%s'"), name);
    return NULL;
}

/* Connection, domain and its persistent definition. */
typedef struct {
    virConnectPtr conn;
    virDomainPtr dom;
    char *xml;               /* inactive XML, secure (redefinable as is) */
} MhCmdConfTarget;

static void
mhCmdConfTargetClear(MhCmdConfTarget *t)
{
    g_clear_pointer(&t->xml, g_free);
    g_clear_pointer(&t->dom, virDomainFree);
    g_clear_pointer(&t->conn, virConnectClose);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MhCmdConfTarget, mhCmdConfTargetClear)

static bool
mhCmdConfOpen(MhCmdGlobal *global, const char *name, MhCmdConfTarget *t, GError **error)
{
    if (!(t->conn = mhVirtConnect(global->connect_uri, error)))
        return false;
    if (!(t->dom = mhCmdConfLookup(t->conn, name, error)))
        return false;
    return (t->xml = mhVirtGetInactiveXML(t->dom, error)) != NULL;
}

/* The start shared by enable, disable and show: options, the one DOMAIN
 * argument, then the domain and its persistent definition. Returns the
 * domain name, or NULL after printing the error. */
static const char *
mhCmdConfStart(MhCmdGlobal *global, const char *command, const char *summary,
               const GOptionEntry *entries, int argc, char **argv, MhCmdConfTarget *t)
{
    g_autoptr(GError) error = NULL;

    if (!mhCmdParseOptions(global, command, _("DOMAIN"), summary, entries, &argc, &argv) ||
        !mhCmdConfOneArg(argc, argv, command, _("DOMAIN")))
        return NULL;
    if (!mhCmdConfOpen(global, argv[1], t, &error)) {
        mhCmdPrintError(error);
        return NULL;
    }
    return argv[1];
}

static int
mhCmdConfApply(MhCmdConfTarget *t, const MhConfHelper *helper, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);

    if (mhVirtApplyHelper(t->dom, helper, problems, &error))
        return MH_EXIT_OK;
    if (problems->len > 0) {
        mhCmdConfPrintProblems(problems);
        mhCmdErrorf(_("domain '%s' was not changed"), name);
    } else {
        mhCmdPrintError(error);
    }
    return MH_EXIT_FAIL;
}

/* An enum option: a NULL value (option not given) leaves *out as it is. */
static bool
mhCmdConfSetEnum(const char *option, const char *value, int (*fromString)(const char *),
                 int *out)
{
    int v;

    if (!value)
        return true;
    if ((v = fromString(value)) < 0) {
        mhCmdErrorf(_("enable: invalid value '%s' for %s"), value, option);
        return false;
    }
    *out = v;
    return true;
}

int
mhCmdEnable(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *mode = NULL;
    g_autofree char *vcpus = NULL;
    g_autofree char *lifetime = NULL;
    g_autofree char *cipher = NULL;
    g_autofree char *key_broker = NULL;
    GOptionEntry entries[] = {
        { "mode", 0, 0, G_OPTION_ARG_STRING, &mode,
          N_("auto (every migration uses the helper) or on-request"), N_("MODE") },
        { "vcpus", 0, 0, G_OPTION_ARG_STRING, &vcpus,
          N_("MH vCPUs in the mirror VM, 1..8"), N_("N") },
        { "lifetime", 0, 0, G_OPTION_ARG_STRING, &lifetime,
          N_("on-demand or persistent"), N_("LIFETIME") },
        { "cipher", 0, 0, G_OPTION_ARG_STRING, &cipher,
          N_("page transport AEAD: aes-256-gcm, aes-256-ocb or chacha20-poly1305"), N_("CIPHER") },
        { "key-broker", 0, 0, G_OPTION_ARG_STRING, &key_broker,
          N_("key broker URL (http:// or https://)"), N_("URL") },
        { NULL }
    };
    g_auto(MhCmdConfTarget) t = { NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfHelper) helper = NULL;
    const char *name;
    int mode_v;
    int lifetime_v;
    int cipher_v;
    int rc;

    if (!(name = mhCmdConfStart(global, "enable",
                                N_("Enable the SEV migration helper in a domain's persistent "
                                   "configuration (metadata and QEMU arguments)."),
                                entries, argc, argv, &t)))
        return MH_EXIT_FAIL;
    /* Options change the existing settings; a missing or unusable element
     * starts from the defaults (it is replaced as a whole). */
    if (!(helper = mhVirtGetHelper(t.dom, &error))) {
        if (error)
            fprintf(stderr, _("warning: replacing the unusable <mh:helper>: %s\n"),
                    error->message);
        g_clear_error(&error);
        helper = mhConfHelperNew();
    }
    mode_v = helper->mode;
    lifetime_v = helper->lifetime;
    cipher_v = helper->cipher;
    if (!mhCmdConfSetEnum("--mode", mode, mhConfModeTypeFromString, &mode_v) ||
        !mhCmdConfSetEnum("--lifetime", lifetime, mhConfLifetimeTypeFromString, &lifetime_v) ||
        !mhCmdConfSetEnum("--cipher", cipher, mhConfCipherTypeFromString, &cipher_v))
        return MH_EXIT_FAIL;
    helper->mode = mode_v;
    helper->lifetime = lifetime_v;
    helper->cipher = cipher_v;
    if (vcpus) {
        guint64 n;

        /* The range is left to the feature's rules, which word it. */
        if (!g_ascii_string_to_unsigned(vcpus, 10, 0, G_MAXUINT, &n, NULL)) {
            mhCmdErrorf(_("enable: --vcpus '%s' is not a number"), vcpus);
            return MH_EXIT_FAIL;
        }
        helper->vcpus = n;
    }
    if (key_broker) {
        g_free(helper->key_broker);
        helper->key_broker = g_steal_pointer(&key_broker);
    }
    if ((rc = mhCmdConfApply(&t, helper, name)) != MH_EXIT_OK)
        return rc;
    printf(_("Mirror helper enabled for domain '%s' (persistent configuration).\n"), name);
    if (virDomainIsActive(t.dom) == 1)
        printf(_("The domain is running: the change takes effect at its next start.\n"));
    return MH_EXIT_OK;
}

int
mhCmdDisable(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdConfTarget) t = { NULL };
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = NULL;
    const char *name;
    int rc;

    if (!(name = mhCmdConfStart(global, "disable",
                                N_("Remove the SEV migration helper from a domain's persistent "
                                   "configuration (metadata and QEMU arguments)."),
                                NULL, argc, argv, &t)))
        return MH_EXIT_FAIL;
    dom = mhConfDomainCheck(t.xml, name, problems);
    if (dom && dom->helper_count == 0 && dom->qemu_objects->len == 0) {
        printf(_("Mirror helper is not enabled for domain '%s'; nothing to do.\n"), name);
        return MH_EXIT_OK;
    }
    if ((rc = mhCmdConfApply(&t, NULL, name)) != MH_EXIT_OK)
        return rc;
    printf(_("Mirror helper disabled for domain '%s' (persistent configuration).\n"), name);
    return MH_EXIT_OK;
}

static void
mhCmdConfShowGpa(const char *label, uint64_t gpa, bool overridden)
{
    printf("%-12s 0x%" G_GINT64_MODIFIER "x%s\n", label, (guint64) gpa,
           overridden ? "" : _(" (default)"));
}

int
mhCmdShow(MhCmdGlobal *global, int argc, char **argv)
{
    g_auto(MhCmdConfTarget) t = { NULL };
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = NULL;
    g_autofree char *object = NULL;
    const MhConfHelper *h;
    const char *name;

    if (!(name = mhCmdConfStart(global, "show",
                                N_("Show a domain's effective mirror-helper settings, "
                                   "defaults included."),
                                NULL, argc, argv, &t)))
        return MH_EXIT_FAIL;
    dom = mhConfDomainCheck(t.xml, name, problems);
    if (problems->len > 0) {
        mhCmdConfPrintProblems(problems);
        return MH_EXIT_FAIL;
    }
    printf("%-12s %s\n", _("domain:"), name);
    if (!dom->helper) {
        printf("%-12s %s\n", _("enabled:"), _("no"));
        return MH_EXIT_OK;
    }
    h = dom->helper;
    object = mhConfHelperToQemuObject(h);
    printf("%-12s %s\n", _("enabled:"), _("yes"));
    printf("%-12s %s\n", _("mode:"), mhConfModeTypeToString(h->mode));
    printf("%-12s %u\n", _("vcpus:"), h->vcpus);
    printf("%-12s %s\n", _("lifetime:"), mhConfLifetimeTypeToString(h->lifetime));
    printf("%-12s %s\n", _("cipher:"), mhConfCipherTypeToString(h->cipher));
    mhCmdConfShowGpa(_("mailbox:"), mhConfHelperGetMailbox(h), h->has_mailbox);
    mhCmdConfShowGpa(_("entry:"), mhConfHelperGetEntry(h), h->has_entry);
    mhCmdConfShowGpa(_("secret:"), mhConfHelperGetSecret(h), h->has_secret);
    printf("%-12s %s\n", _("key-broker:"), h->key_broker ? h->key_broker : _("(none)"));
    printf("%-12s 0x%04x\n", _("sev-policy:"), dom->sev_policy);
    printf("%-12s -object %s\n", _("qemu:"), object);
    return MH_EXIT_OK;
}
