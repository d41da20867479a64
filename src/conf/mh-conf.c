/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <mh:helper> model: enum tables, defaults, semantic rules, canonical
 * formatting. Parsing lives in mh-conf-parse.c, the QEMU side in
 * mh-conf-qemu.c. */
#include "conf/mh-conf.h"
#include "util/mh-enum.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdarg.h>
#include <string.h>

MH_ENUM_IMPL(mhConfMode, MH_CONF_MODE_LAST, "auto", "on-request");
MH_ENUM_IMPL(mhConfLifetime, MH_CONF_LIFETIME_LAST, "on-demand", "persistent");
MH_ENUM_IMPL(mhConfCipher, MH_CONF_CIPHER_LAST, "aes-256-gcm", "chacha20-poly1305", "aes-256-ocb");

MhConfHelper *
mhConfHelperNew(void)
{
    MhConfHelper *helper = g_new0(MhConfHelper, 1);

    helper->mode = MH_CONF_MODE_AUTO;
    helper->vcpus = MH_CONF_VCPUS_DEFAULT;
    helper->lifetime = MH_CONF_LIFETIME_ON_DEMAND;
    helper->cipher = MH_CONF_CIPHER_AES_256_GCM;
    return helper;
}

void
mhConfHelperFree(MhConfHelper *helper)
{
    if (!helper)
        return;
    g_free(helper->key_broker);
    g_free(helper);
}

bool
mhConfHelperEqual(const MhConfHelper *a, const MhConfHelper *b)
{
    return a->mode == b->mode &&
        a->vcpus == b->vcpus &&
        a->lifetime == b->lifetime &&
        a->cipher == b->cipher &&
        a->has_mailbox == b->has_mailbox &&
        (!a->has_mailbox || a->mailbox == b->mailbox) &&
        a->has_entry == b->has_entry &&
        (!a->has_entry || a->entry == b->entry) &&
        a->has_secret == b->has_secret &&
        (!a->has_secret || a->secret == b->secret) &&
        g_strcmp0(a->key_broker, b->key_broker) == 0;
}

uint64_t
mhConfHelperGetMailbox(const MhConfHelper *helper)
{
    return helper->has_mailbox ? helper->mailbox : MH_CONF_MAILBOX_DEFAULT;
}

uint64_t
mhConfHelperGetEntry(const MhConfHelper *helper)
{
    return helper->has_entry ? helper->entry : MH_CONF_ENTRY_DEFAULT;
}

uint64_t
mhConfHelperGetSecret(const MhConfHelper *helper)
{
    return helper->has_secret ? helper->secret : MH_CONF_SECRET_DEFAULT;
}

void
mhConfDomainFree(MhConfDomain *dom)
{
    if (!dom)
        return;
    g_free(dom->name);
    g_free(dom->uuid);
    g_free(dom->launch_security);
    g_free(dom->sev_dh_cert);
    g_free(dom->sev_session);
    mhConfHelperFree(dom->helper);
    if (dom->qemu_objects)
        g_ptr_array_unref(dom->qemu_objects);
    g_free(dom);
}

static void G_GNUC_PRINTF(2, 3)
mhConfProblem(GPtrArray *problems, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_ptr_array_add(problems, g_strdup_vprintf(format, ap));
    va_end(ap);
}

/* One firmware area, for the alignment and overlap rules. */
typedef struct {
    const char *attr;        /* attribute name in <firmware> */
    uint64_t gpa;
    uint64_t size;
    bool overridden;
} MhConfArea;

static void
mhConfValidateAreas(const MhConfHelper *helper, GPtrArray *problems)
{
    MhConfArea areas[] = {
        { "mailbox", mhConfHelperGetMailbox(helper), MH_CONF_MAILBOX_SIZE, helper->has_mailbox },
        { "entry", mhConfHelperGetEntry(helper), MH_CONF_ENTRY_SIZE, helper->has_entry },
        { "secret", mhConfHelperGetSecret(helper), MH_CONF_SECRET_SIZE, helper->has_secret },
    };
    bool aligned = true;

    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++) {
        if (areas[i].gpa % MH_PAGE_SIZE != 0) {
            mhConfProblem(problems,
                          _("<mh:helper>: <firmware %s='0x%llx'> is not "
                            "4 KiB aligned (the mirror VM maps whole pages)"),
                          areas[i].attr, (unsigned long long) areas[i].gpa);
            aligned = false;
        } else if (areas[i].gpa > G_MAXUINT64 - areas[i].size) {
            mhConfProblem(problems,
                          _("<mh:helper>: <firmware %s='0x%llx'> "
                            "runs past the end of the address space"),
                          areas[i].attr, (unsigned long long) areas[i].gpa);
            aligned = false;
        }
    }
    /* Overlap is only meaningful between well-formed areas; a misaligned one
     * has already been reported. */
    if (!aligned)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++) {
        for (size_t j = i + 1; j < G_N_ELEMENTS(areas); j++) {
            const MhConfArea *a = &areas[i];
            const MhConfArea *b = &areas[j];

            if (a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size) {
                /* C formats only: xgettext cannot see through GLib's
                 * format macros. */
                mhConfProblem(problems,
                              _("<mh:helper>: <firmware> %s area 0x%llx-0x%llx%s overlaps "
                                "%s area 0x%llx-0x%llx%s"),
                              a->attr, (unsigned long long) a->gpa,
                              (unsigned long long) (a->gpa + a->size - 1),
                              a->overridden ? "" : _(" (default)"),
                              b->attr, (unsigned long long) b->gpa,
                              (unsigned long long) (b->gpa + b->size - 1),
                              b->overridden ? "" : _(" (default)"));
            }
        }
    }
}

bool
mhConfDomainValidate(const MhConfDomain *dom, GPtrArray *problems)
{
    guint before = problems->len;
    const char *name = dom->name ? dom->name : _("(unnamed)");

    if (!dom->launch_security) {
        mhConfProblem(problems,
                      _("domain '%s': <mh:helper> requires <launchSecurity type='sev'>, "
                        "but the domain has no <launchSecurity>"), name);
        return false;
    }
    if (!dom->has_sev) {
        mhConfProblem(problems,
                      _("domain '%s': <mh:helper> requires <launchSecurity type='sev'>, "
                        "but the domain has <launchSecurity type='%s'>"),
                      name, dom->launch_security);
        return false;
    }
    if (dom->bad_policy)
        return false;
    if (!dom->has_policy) {
        mhConfProblem(problems,
                      _("domain '%s': <launchSecurity type='sev'> has no <policy>; "
                        "the helper needs to know whether the guest owner allows sending"),
                      name);
        return false;
    }
    if (dom->sev_policy & MH_CONF_SEV_POLICY_NOSEND) {
        mhConfProblem(problems,
                      _("domain '%s': <launchSecurity> <policy> 0x%04x has the NOSEND bit "
                        "(0x0008) set: the guest owner said this guest must never be sent "
                        "to another platform, and a migration helper that bypasses the "
                        "PSP must honour that all the more; remove <mh:helper> or launch "
                        "the guest with a policy without NOSEND"),
                      name, dom->sev_policy);
    }
    /* DOMAIN (0x10) and SEV (0x20) are allowed: they restrict the target
     * platform, which the migration checks, not the configuration. */
    return problems->len == before;
}

bool
mhConfHelperValidate(const MhConfHelper *helper, const MhConfDomain *dom,
                     GPtrArray *problems)
{
    guint before = problems->len;

    if (!mhConfModeTypeToString(helper->mode))
        mhConfProblem(problems, _("<mh:helper>: invalid mode %d"), (int) helper->mode);
    if (helper->vcpus < MH_CONF_VCPUS_MIN || helper->vcpus > MH_CONF_VCPUS_MAX) {
        mhConfProblem(problems,
                      _("<mh:helper>: <vcpus> value '%u' is out of range %d..%d"),
                      helper->vcpus, MH_CONF_VCPUS_MIN, MH_CONF_VCPUS_MAX);
    }
    if (!mhConfLifetimeTypeToString(helper->lifetime))
        mhConfProblem(problems, _("<mh:helper>: invalid lifetime %d"), (int) helper->lifetime);
    if (!mhConfCipherTypeToString(helper->cipher))
        mhConfProblem(problems, _("<mh:helper>: invalid cipher %d"), (int) helper->cipher);
    if (helper->key_broker &&
        !g_str_has_prefix(helper->key_broker, "http://") &&
        !g_str_has_prefix(helper->key_broker, "https://")) {
        mhConfProblem(problems,
                      _("<mh:helper>: <keyBroker url='%s'> is not an http:// or https:// URL"),
                      helper->key_broker);
    }
    mhConfValidateAreas(helper, problems);
    if (dom)
        mhConfDomainValidate(dom, problems);
    return problems->len == before;
}

bool
mhConfProblemsToError(GPtrArray *problems, GError **error)
{
    g_autoptr(GString) msg = NULL;

    if (problems->len == 0)
        return true;
    msg = g_string_new(NULL);
    for (guint i = 0; i < problems->len; i++) {
        if (i > 0)
            g_string_append_c(msg, '\n');
        g_string_append(msg, g_ptr_array_index(problems, i));
    }
    g_set_error_literal(error, MH_ERROR, MH_ERROR_INVALID, msg->str);
    return false;
}

char *
mhConfHelperFormat(const MhConfHelper *helper, bool with_namespace)
{
    GString *buf = g_string_new(NULL);
    const char *p = with_namespace ? MH_CONF_NAMESPACE_PREFIX ":" : "";
    const char *mode = mhConfModeTypeToString(helper->mode);
    const char *lifetime = mhConfLifetimeTypeToString(helper->lifetime);
    const char *cipher = mhConfCipherTypeToString(helper->cipher);

    g_string_append_printf(buf, "<%shelper", p);
    if (with_namespace)
        g_string_append_printf(buf, " xmlns:%s=\"%s\"", MH_CONF_NAMESPACE_PREFIX,
                               MH_CONF_NAMESPACE_URI);
    g_string_append_printf(buf, " mode=\"%s\">\n", mode ? mode : "");
    g_string_append_printf(buf, "  <%svcpus>%u</%svcpus>\n", p, helper->vcpus, p);
    g_string_append_printf(buf, "  <%slifetime>%s</%slifetime>\n", p,
                           lifetime ? lifetime : "", p);
    g_string_append_printf(buf, "  <%stransport cipher=\"%s\"/>\n", p, cipher ? cipher : "");
    if (helper->has_mailbox || helper->has_entry || helper->has_secret) {
        g_string_append_printf(buf, "  <%sfirmware", p);
        if (helper->has_mailbox)
            g_string_append_printf(buf, " mailbox=\"0x%" G_GINT64_MODIFIER "x\"",
                                   (guint64) helper->mailbox);
        if (helper->has_entry)
            g_string_append_printf(buf, " entry=\"0x%" G_GINT64_MODIFIER "x\"",
                                   (guint64) helper->entry);
        if (helper->has_secret)
            g_string_append_printf(buf, " secret=\"0x%" G_GINT64_MODIFIER "x\"",
                                   (guint64) helper->secret);
        g_string_append(buf, "/>\n");
    }
    if (helper->key_broker) {
        g_autofree char *url = g_markup_escape_text(helper->key_broker, -1);
        g_string_append_printf(buf, "  <%skeyBroker url=\"%s\"/>\n", p, url);
    }
    g_string_append_printf(buf, "</%shelper>", p);
    return g_string_free(buf, FALSE);
}
