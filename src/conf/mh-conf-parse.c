/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing a libvirt domain XML document for the mirror-helper feature.
 *
 * The hand-written checks come first because they can name the element and
 * value in a message a user understands; the Relax NG grammar then guards
 * against anything they missed (its messages are reported only when the
 * hand-written checks found nothing, to avoid saying the same thing twice). */
#include "conf/mh-conf.h"
#include "conf/mh-conf-xml.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdarg.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>

#include "config.h"

static void G_GNUC_PRINTF(2, 3)
mhConfProblemAdd(GPtrArray *problems, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_ptr_array_add(problems, g_strdup_vprintf(format, ap));
    va_end(ap);
}

/* Message of a libxml2 error without its trailing newline. */
static char *
mhConfXmlErrorMessage(const xmlError *err)
{
    g_autofree char *msg = g_strdup(err && err->message ? err->message : _("unknown error"));

    return g_strdup(g_strchomp(msg));
}

static void
mhConfXmlIgnoreError(void *opaque, xmlErrorPtr err)
{
    /* libxml2 must not print errors on stderr behind our back; they reach
     * the user through GError. */
}

typedef struct {
    int line;
    char *message;
} MhConfXmlFirstError;

static void
mhConfXmlRecordError(void *opaque, xmlErrorPtr err)
{
    MhConfXmlFirstError *first = opaque;

    /* The first error is the one to show: libxml2's recovery produces
     * follow-up errors ("Premature end of data") that only confuse. */
    if (first->message || !err || err->level < XML_ERR_ERROR)
        return;
    first->line = err->line;
    first->message = mhConfXmlErrorMessage(err);
}

xmlDocPtr
mhConfXmlParse(const char *xml, const char *source, GError **error)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    const char *name = source ? source : _("(domain XML)");
    MhConfXmlFirstError first = { 0, NULL };

    xmlSetStructuredErrorFunc(&first, mhConfXmlRecordError);
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("%s: out of memory"), name);
        goto cleanup;
    }
    /* No network, no entity expansion: the document comes from the user. */
    doc = xmlCtxtReadMemory(ctxt, xml, strlen(xml), source, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *last = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = first.message ? g_strdup(first.message)
                                             : mhConfXmlErrorMessage(last);
        int line = first.message ? first.line : (last ? last->line : 0);

        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("%s:%d: malformed XML: %s"), name, line, msg);
        g_clear_pointer(&doc, xmlFreeDoc);
        goto cleanup;
    }
    if (!xmlDocGetRootElement(doc)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("%s: document is empty"), name);
        g_clear_pointer(&doc, xmlFreeDoc);
    }

 cleanup:
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    xmlSetStructuredErrorFunc(NULL, NULL);
    g_free(first.message);
    return doc;
}

char *
mhConfXmlNodeText(xmlNodePtr node)
{
    xmlChar *content = xmlNodeGetContent(node);
    char *text = g_strdup(content ? (const char *) content : "");

    xmlFree(content);
    return g_strstrip(text);
}

char *
mhConfXmlGetProp(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *) name);
    char *copy = value ? g_strdup((const char *) value) : NULL;

    xmlFree(value);
    return copy;
}

bool
mhConfXmlIsHelper(xmlNodePtr node)
{
    return node->type == XML_ELEMENT_NODE && node->ns &&
        xmlStrEqual(node->ns->href, (const xmlChar *) MH_CONF_NAMESPACE_URI) &&
        xmlStrEqual(node->name, (const xmlChar *) MH_CONF_ELEMENT);
}

xmlNodePtr
mhConfXmlChild(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr cur = parent ? parent->children : NULL; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && !cur->ns &&
            xmlStrEqual(cur->name, (const xmlChar *) name))
            return cur;
    }
    return NULL;
}

/* ---- schema ---------------------------------------------------------- */

G_LOCK_DEFINE_STATIC(mhConfSchema);
/* Loaded once per process and kept: it is read-only after parsing, and
 * validation contexts are per call, so threads may share it. */
static xmlRelaxNGPtr mhConfSchema;

char *
mhConfSchemaFind(void)
{
    const char *env = g_getenv("MH_SCHEMADIR");
    const char *dirs[] = { env, MH_SOURCE_SCHEMADIR, MH_SCHEMADIR };

    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *path = NULL;

        if (!dirs[i] || !*dirs[i])
            continue;
        path = g_build_filename(dirs[i], MH_CONF_SCHEMA_FILE, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            return g_steal_pointer(&path);
        /* An explicit MH_SCHEMADIR that lacks the file is a mistake worth
         * reporting rather than silently falling back. */
        if (i == 0)
            return g_steal_pointer(&path);
    }
    return NULL;
}

static xmlRelaxNGPtr
mhConfSchemaLoad(GError **error)
{
    xmlRelaxNGParserCtxtPtr pctxt;
    g_autofree char *path = NULL;
    xmlRelaxNGPtr schema = NULL;

    G_LOCK(mhConfSchema);
    if (mhConfSchema) {
        schema = mhConfSchema;
        goto out;
    }
    path = mhConfSchemaFind();
    if (!path || !g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot find the schema %s (looked in $MH_SCHEMADIR, %s and %s)"),
                    path ? path : MH_CONF_SCHEMA_FILE, MH_SOURCE_SCHEMADIR, MH_SCHEMADIR);
        goto out;
    }
    xmlSetStructuredErrorFunc(NULL, mhConfXmlIgnoreError);
    pctxt = xmlRelaxNGNewParserCtxt(path);
    if (pctxt) {
        schema = xmlRelaxNGParse(pctxt);
        xmlRelaxNGFreeParserCtxt(pctxt);
    }
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!schema) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("cannot load the schema '%s'"), path);
        goto out;
    }
    mhConfSchema = schema;

 out:
    G_UNLOCK(mhConfSchema);
    return schema;
}

typedef struct {
    GPtrArray *problems;
    const char *what;
} MhConfSchemaErrors;

static void
mhConfSchemaError(void *opaque, xmlErrorPtr err)
{
    MhConfSchemaErrors *errs = opaque;
    g_autofree char *msg = mhConfXmlErrorMessage(err);

    mhConfProblemAdd(errs->problems, _("%s does not match the schema %s: %s"),
                     errs->what, MH_CONF_SCHEMA_FILE, msg);
}

bool
mhConfSchemaValidateNode(xmlNodePtr node, const char *what, GPtrArray *problems)
{
    g_autoptr(GError) error = NULL;
    xmlRelaxNGPtr schema = mhConfSchemaLoad(&error);
    xmlRelaxNGValidCtxtPtr vctxt;
    MhConfSchemaErrors errs = { problems, what };
    xmlDocPtr doc;
    guint before = problems->len;
    int rc;

    if (!schema) {
        g_ptr_array_add(problems, g_strdup(error->message));
        return false;
    }
    /* The grammar describes the element alone, so it is checked in a
     * document of its own. */
    doc = xmlNewDoc((const xmlChar *) "1.0");
    xmlDocSetRootElement(doc, xmlDocCopyNode(node, doc, 1));
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    xmlRelaxNGSetValidStructuredErrors(vctxt, mhConfSchemaError, &errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlFreeDoc(doc);
    if (rc != 0 && problems->len == before)
        mhConfProblemAdd(problems, _("%s does not match the schema %s"), what,
                         MH_CONF_SCHEMA_FILE);
    return rc == 0;
}

/* ---- <mh:helper> ----------------------------------------------------- */

typedef enum {
    MH_CONF_CHILD_VCPUS,
    MH_CONF_CHILD_LIFETIME,
    MH_CONF_CHILD_TRANSPORT,
    MH_CONF_CHILD_FIRMWARE,
    MH_CONF_CHILD_KEY_BROKER,
    MH_CONF_CHILD_LAST
} MhConfChild;

static const char *const mhConfChildNames[MH_CONF_CHILD_LAST] = {
    [MH_CONF_CHILD_VCPUS] = "vcpus",
    [MH_CONF_CHILD_LIFETIME] = "lifetime",
    [MH_CONF_CHILD_TRANSPORT] = "transport",
    [MH_CONF_CHILD_FIRMWARE] = "firmware",
    [MH_CONF_CHILD_KEY_BROKER] = "keyBroker",
};

/* Attributes each child (and the helper itself, index LAST) accepts. */
static const char *const mhConfChildAttrs[MH_CONF_CHILD_LAST + 1][4] = {
    [MH_CONF_CHILD_VCPUS] = { NULL },
    [MH_CONF_CHILD_LIFETIME] = { NULL },
    [MH_CONF_CHILD_TRANSPORT] = { "cipher", NULL },
    [MH_CONF_CHILD_FIRMWARE] = { "mailbox", "entry", "secret", NULL },
    [MH_CONF_CHILD_KEY_BROKER] = { "url", NULL },
    [MH_CONF_CHILD_LAST] = { "mode", NULL },
};

static void
mhConfCheckAttrs(xmlNodePtr node, const char *elem, int kind, GPtrArray *problems)
{
    for (xmlAttrPtr attr = node->properties; attr; attr = attr->next) {
        bool known = false;

        for (size_t i = 0; !attr->ns && mhConfChildAttrs[kind][i]; i++) {
            if (xmlStrEqual(attr->name, (const xmlChar *) mhConfChildAttrs[kind][i]))
                known = true;
        }
        if (!known)
            mhConfProblemAdd(problems, _("<mh:helper>: <%s> has unknown attribute '%s'"),
                             elem, (const char *) attr->name);
    }
}

/* Children carry the mirror-helper namespace when libvirt stored them
 * (virDomainSetMetadata puts every node in it) and none when written by hand
 * as in the documentation; both spellings mean the same. */
static bool
mhConfChildNamespaceOk(xmlNodePtr child)
{
    return !child->ns ||
        xmlStrEqual(child->ns->href, (const xmlChar *) MH_CONF_NAMESPACE_URI);
}

static void
mhConfParseGpa(xmlNodePtr node, const char *attr, bool *has, uint64_t *gpa,
               GPtrArray *problems)
{
    g_autofree char *value = mhConfXmlGetProp(node, attr);
    const char *p;
    guint64 v = 0;

    if (!value)
        return;
    p = value + 2;
    if (!g_str_has_prefix(value, "0x") || !*p || strlen(p) > 16 ||
        !g_ascii_string_to_unsigned(p, 16, 0, G_MAXUINT64, &v, NULL)) {
        mhConfProblemAdd(problems,
                         _("<mh:helper>: <firmware %s='%s'> is not a 0x-prefixed hex "
                           "guest physical address"), attr, value);
        return;
    }
    *has = true;
    *gpa = v;
}

static void
mhConfParseChild(MhConfHelper *helper, MhConfChild kind, xmlNodePtr node,
                 GPtrArray *problems)
{
    g_autofree char *text = NULL;
    g_autofree char *value = NULL;
    int v;

    switch (kind) {
    case MH_CONF_CHILD_VCPUS: {
        guint64 n = 0;

        text = mhConfXmlNodeText(node);
        if (!*text || !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT, &n, NULL)) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: <vcpus> value '%s' is not a number (expected %d..%d)"),
                             text, MH_CONF_VCPUS_MIN, MH_CONF_VCPUS_MAX);
            return;
        }
        /* The range is a semantic rule, checked by mhConfHelperValidate(). */
        helper->vcpus = n;
        return;
    }
    case MH_CONF_CHILD_LIFETIME:
        text = mhConfXmlNodeText(node);
        if ((v = mhConfLifetimeTypeFromString(text)) < 0) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: <lifetime> value '%s' is invalid "
                               "(expected 'on-demand' or 'persistent')"), text);
            return;
        }
        helper->lifetime = v;
        return;
    case MH_CONF_CHILD_TRANSPORT:
        value = mhConfXmlGetProp(node, "cipher");
        if (!value)
            return;
        if ((v = mhConfCipherTypeFromString(value)) < 0) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: <transport cipher='%s'> is invalid "
                               "(expected 'aes-256-gcm', 'aes-256-ocb' or 'chacha20-poly1305')"), value);
            return;
        }
        helper->cipher = v;
        return;
    case MH_CONF_CHILD_FIRMWARE:
        mhConfParseGpa(node, "mailbox", &helper->has_mailbox, &helper->mailbox, problems);
        mhConfParseGpa(node, "entry", &helper->has_entry, &helper->entry, problems);
        mhConfParseGpa(node, "secret", &helper->has_secret, &helper->secret, problems);
        return;
    case MH_CONF_CHILD_KEY_BROKER:
        value = mhConfXmlGetProp(node, "url");
        if (!value) {
            mhConfProblemAdd(problems, _("<mh:helper>: <keyBroker> has no 'url' attribute"));
            return;
        }
        /* Scheme checked by mhConfHelperValidate(), like every other rule
         * that also applies to helpers built from the command line. */
        helper->key_broker = g_steal_pointer(&value);
        return;
    case MH_CONF_CHILD_LAST:
        break;
    }
}

static bool
mhConfHelperChildHasContent(xmlNodePtr node)
{
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE)
            return true;
        if (cur->type == XML_TEXT_NODE || cur->type == XML_CDATA_SECTION_NODE) {
            g_autofree char *t = g_strstrip(g_strdup((const char *) cur->content));
            if (*t)
                return true;
        }
    }
    return false;
}

MhConfHelper *
mhConfHelperParseNode(xmlNodePtr node, GPtrArray *problems)
{
    g_autoptr(MhConfHelper) helper = mhConfHelperNew();
    g_autofree char *mode = mhConfXmlGetProp(node, "mode");
    bool seen[MH_CONF_CHILD_LAST] = { false };
    guint before = problems->len;

    mhConfCheckAttrs(node, "helper", MH_CONF_CHILD_LAST, problems);
    if (mode) {
        int v = mhConfModeTypeFromString(mode);

        if (v < 0)
            mhConfProblemAdd(problems,
                             _("<mh:helper>: attribute mode='%s' is invalid "
                               "(expected 'auto' or 'on-request')"), mode);
        else
            helper->mode = v;
    }
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        int kind = -1;

        if (cur->type == XML_TEXT_NODE || cur->type == XML_CDATA_SECTION_NODE) {
            g_autofree char *t = g_strstrip(g_strdup((const char *) cur->content));
            if (*t)
                mhConfProblemAdd(problems, _("<mh:helper>: unexpected text '%s'"), t);
            continue;
        }
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!mhConfChildNamespaceOk(cur)) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: unknown child element <%s> in namespace '%s'; "
                               "children of <mh:helper> belong to '%s' or to no namespace"),
                             (const char *) cur->name, (const char *) cur->ns->href,
                             MH_CONF_NAMESPACE_URI);
            continue;
        }
        for (int k = 0; k < MH_CONF_CHILD_LAST; k++) {
            if (xmlStrEqual(cur->name, (const xmlChar *) mhConfChildNames[k]))
                kind = k;
        }
        if (kind < 0) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: unknown child element <%s> (expected <vcpus>, "
                               "<lifetime>, <transport>, <firmware> or <keyBroker>)"),
                             (const char *) cur->name);
            continue;
        }
        if (seen[kind]) {
            mhConfProblemAdd(problems,
                             _("<mh:helper>: duplicate element <%s> (line %ld); it may "
                               "appear at most once"),
                             mhConfChildNames[kind], xmlGetLineNo(cur));
            continue;
        }
        seen[kind] = true;
        mhConfCheckAttrs(cur, mhConfChildNames[kind], kind, problems);
        if ((kind == MH_CONF_CHILD_TRANSPORT || kind == MH_CONF_CHILD_FIRMWARE ||
             kind == MH_CONF_CHILD_KEY_BROKER) && mhConfHelperChildHasContent(cur)) {
            mhConfProblemAdd(problems, _("<mh:helper>: <%s> must be empty"),
                             mhConfChildNames[kind]);
        }
        mhConfParseChild(helper, kind, cur, problems);
    }
    /* Value rules (ranges, alignment, overlap) before the grammar, whose
     * messages would only repeat them less clearly. */
    mhConfHelperValidate(helper, NULL, problems);
    if (problems->len == before)
        mhConfSchemaValidateNode(node, "<mh:helper>", problems);
    return g_steal_pointer(&helper);
}

/* ---- the domain ------------------------------------------------------ */

static void
mhConfParseLaunchSecurity(MhConfDomain *dom, xmlNodePtr root, GPtrArray *problems)
{
    xmlNodePtr ls = mhConfXmlChild(root, "launchSecurity");
    xmlNodePtr policy, child;
    g_autofree char *text = NULL;
    const char *p;
    guint64 v = 0;

    if (!ls)
        return;
    dom->launch_security = mhConfXmlGetProp(ls, "type");
    if (!dom->launch_security)
        dom->launch_security = g_strdup("");
    dom->has_sev = strcmp(dom->launch_security, "sev") == 0;
    if (!dom->has_sev)
        return;
    if ((child = mhConfXmlChild(ls, "dhCert")))
        dom->sev_dh_cert = g_strstrip(mhConfXmlNodeText(child));
    if ((child = mhConfXmlChild(ls, "session")))
        dom->sev_session = g_strstrip(mhConfXmlNodeText(child));
    if (!(policy = mhConfXmlChild(ls, "policy")))
        return;
    /* libvirt reads the policy as hex with or without the 0x prefix. */
    text = mhConfXmlNodeText(policy);
    p = text;
    if (g_str_has_prefix(p, "0x") || g_str_has_prefix(p, "0X"))
        p += 2;
    if (!*p || !g_ascii_string_to_unsigned(p, 16, 0, G_MAXUINT32, &v, NULL)) {
        mhConfProblemAdd(problems,
                         _("<launchSecurity>: <policy> value '%s' is not a hex number"), text);
        dom->bad_policy = true;
        return;
    }
    dom->has_policy = true;
    dom->sev_policy = v;
}

static void
mhConfParseMetadata(MhConfDomain *dom, xmlNodePtr root, GPtrArray *problems)
{
    xmlNodePtr metadata = mhConfXmlChild(root, "metadata");
    xmlNodePtr first = NULL;

    for (xmlNodePtr cur = metadata ? metadata->children : NULL; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (mhConfXmlIsHelper(cur)) {
            if (!first)
                first = cur;
            dom->helper_count++;
        } else if (cur->ns && xmlStrEqual(cur->ns->href,
                                          (const xmlChar *) MH_CONF_NAMESPACE_URI)) {
            mhConfProblemAdd(problems,
                             _("<metadata>: unknown element <%s> in the mirror-helper "
                               "namespace (expected <mh:helper>)"), (const char *) cur->name);
        } else if (xmlStrEqual(cur->name, (const xmlChar *) MH_CONF_ELEMENT) &&
                   (!cur->ns || g_str_has_prefix((const char *) cur->ns->href,
                                                 "http://mirror-helper.org/"))) {
            /* Other applications may own a <helper> of their own; only
             * near misses of ours are reported. */
            if (cur->ns)
                mhConfProblemAdd(problems,
                                 _("<metadata>: element <helper> has namespace '%s', "
                                   "expected '%s'"),
                                 (const char *) cur->ns->href, MH_CONF_NAMESPACE_URI);
            else
                mhConfProblemAdd(problems,
                                 _("<metadata>: element <helper> has no namespace, "
                                   "expected '%s'"), MH_CONF_NAMESPACE_URI);
        }
    }
    if (dom->helper_count > 1) {
        mhConfProblemAdd(problems,
                         _("<metadata>: <mh:helper> appears %u times; at most one is allowed"),
                         dom->helper_count);
    }
    if (first) {
        guint before = problems->len;
        g_autoptr(MhConfHelper) helper = mhConfHelperParseNode(first, problems);

        /* A helper with broken values is still checked against the domain,
         * so that one run reports every problem; it is not handed out. */
        mhConfDomainValidate(dom, problems);
        if (problems->len == before)
            dom->helper = g_steal_pointer(&helper);
    }
}

MhConfDomain *
mhConfDomainCheck(const char *xml, const char *source, GPtrArray *problems)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfDomain) dom = NULL;
    g_autofree char *id = NULL;
    gint64 n;
    xmlDocPtr doc;
    xmlNodePtr root;

    if (!(doc = mhConfXmlParse(xml, source, &error))) {
        g_ptr_array_add(problems, g_strdup(error->message));
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (root->ns || !xmlStrEqual(root->name, (const xmlChar *) "domain")) {
        mhConfProblemAdd(problems, _("%s: root element is <%s>, expected <domain>"),
                         source ? source : _("(domain XML)"), (const char *) root->name);
        xmlFreeDoc(doc);
        return NULL;
    }
    dom = g_new0(MhConfDomain, 1);
    dom->qemu_objects = g_ptr_array_new_with_free_func(g_free);
    dom->id = -1;
    if ((id = mhConfXmlGetProp(root, "id")) &&
        g_ascii_string_to_signed(id, 10, 1, G_MAXINT, &n, NULL))
        dom->id = n;
    if (mhConfXmlChild(root, "name"))
        dom->name = mhConfXmlNodeText(mhConfXmlChild(root, "name"));
    if (mhConfXmlChild(root, "uuid"))
        dom->uuid = mhConfXmlNodeText(mhConfXmlChild(root, "uuid"));
    mhConfParseLaunchSecurity(dom, root, problems);
    mhConfParseMetadata(dom, root, problems);
    mhConfQemuArgsCollect(root, dom->qemu_objects);
    mhConfQemuArgsCheck(dom, problems);
    xmlFreeDoc(doc);
    return g_steal_pointer(&dom);
}

MhConfDomain *
mhConfDomainParseString(const char *xml, const char *source, GError **error)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = mhConfDomainCheck(xml, source, problems);

    if (!mhConfProblemsToError(problems, error))
        return NULL;
    return g_steal_pointer(&dom);
}

MhConfHelper *
mhConfHelperParseDomainXML(const char *xml, GError **error)
{
    g_autoptr(MhConfDomain) dom = mhConfDomainParseString(xml, NULL, error);

    if (!dom)
        return NULL;
    return g_steal_pointer(&dom->helper);
}

MhConfHelper *
mhConfHelperParseString(const char *element_xml, GError **error)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfHelper) helper = NULL;
    xmlDocPtr doc;
    xmlNodePtr root;

    if (!(doc = mhConfXmlParse(element_xml, _("(metadata)"), error)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!xmlStrEqual(root->name, (const xmlChar *) MH_CONF_ELEMENT) ||
        (root->ns && !xmlStrEqual(root->ns->href, (const xmlChar *) MH_CONF_NAMESPACE_URI))) {
        mhConfProblemAdd(problems, _("metadata element <%s> is not <mh:helper>"),
                         (const char *) root->name);
    } else {
        /* libvirt hands the element back without its namespace; the grammar
         * wants it, so give it back before checking. */
        if (!root->ns)
            xmlSetNs(root, xmlNewNs(root, (const xmlChar *) MH_CONF_NAMESPACE_URI, NULL));
        helper = mhConfHelperParseNode(root, problems);
    }
    xmlFreeDoc(doc);
    if (!mhConfProblemsToError(problems, error))
        return NULL;
    return g_steal_pointer(&helper);
}
