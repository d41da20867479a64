/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The domain-level side of the feature: the <qemu:commandline> arguments
 * generated from <mh:helper>, rewriting a domain document for enable and
 * disable, and libvirt's own grammar check. */
#include "conf/mh-conf.h"
#include "conf/mh-conf-xml.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdarg.h>
#include <string.h>
#include <libxml/relaxng.h>

static void G_GNUC_PRINTF(2, 3)
mhConfEditProblem(GPtrArray *problems, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_ptr_array_add(problems, g_strdup_vprintf(format, ap));
    va_end(ap);
}

static bool
mhConfIsQemuArg(xmlNodePtr node)
{
    return node->type == XML_ELEMENT_NODE && node->ns &&
        xmlStrEqual(node->ns->href, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI) &&
        xmlStrEqual(node->name, (const xmlChar *) "arg");
}

static xmlNodePtr
mhConfNextQemuArg(xmlNodePtr node)
{
    for (node = node->next; node; node = node->next) {
        if (node->type == XML_ELEMENT_NODE)
            return mhConfIsQemuArg(node) ? node : NULL;
    }
    return NULL;
}

static xmlNodePtr
mhConfQemuCommandline(xmlNodePtr root)
{
    for (xmlNodePtr cur = root->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && cur->ns &&
            xmlStrEqual(cur->ns->href, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI) &&
            xmlStrEqual(cur->name, (const xmlChar *) "commandline"))
            return cur;
    }
    return NULL;
}

/* Calls 'fn' for each "-object mirror-helper,..." pair: the two <qemu:arg>
 * nodes and the object string. The next node is fetched before the call so
 * that 'fn' may unlink the pair. */
typedef void (*MhConfQemuPairFunc)(xmlNodePtr opt, xmlNodePtr val, const char *object,
                                   void *opaque);

static void
mhConfQemuPairsForeach(xmlNodePtr root, MhConfQemuPairFunc fn, void *opaque)
{
    xmlNodePtr cmdline = mhConfQemuCommandline(root);
    xmlNodePtr cur = cmdline ? cmdline->children : NULL;

    while (cur) {
        xmlNodePtr next = cur->next;
        g_autofree char *opt = NULL;

        if (mhConfIsQemuArg(cur) && (opt = mhConfXmlGetProp(cur, "value")) &&
            strcmp(opt, "-object") == 0) {
            xmlNodePtr val = mhConfNextQemuArg(cur);
            g_autofree char *object = val ? mhConfXmlGetProp(val, "value") : NULL;

            if (object && mhConfIsQemuObject(object)) {
                next = val->next;
                fn(cur, val, object, opaque);
            }
        }
        cur = next;
    }
}

static void
mhConfQemuCollectPair(xmlNodePtr opt, xmlNodePtr val, const char *object, void *opaque)
{
    g_ptr_array_add(opaque, g_strdup(object));
}

void
mhConfQemuArgsCollect(xmlNodePtr root, GPtrArray *objects)
{
    mhConfQemuPairsForeach(root, mhConfQemuCollectPair, objects);
}

void
mhConfQemuArgsCheck(const MhConfDomain *dom, GPtrArray *problems)
{
    g_autofree char *expected = NULL;

    if (dom->helper_count == 0) {
        for (guint i = 0; i < dom->qemu_objects->len; i++) {
            mhConfEditProblem(problems,
                              _("<qemu:commandline>: stale argument '-object %s' but the "
                                "domain has no <mh:helper> in <metadata>; run 'virt-mh "
                                "disable' to remove it"),
                              (const char *) g_ptr_array_index(dom->qemu_objects, i));
        }
        return;
    }
    /* Without a usable helper there is nothing to compare with; its own
     * problems have been reported already. */
    if (!dom->helper)
        return;
    expected = mhConfHelperToQemuObject(dom->helper);
    if (dom->qemu_objects->len == 0) {
        mhConfEditProblem(problems,
                          _("<qemu:commandline>: the '-object %s' argument generated from "
                            "<mh:helper> is missing; run 'virt-mh enable' to regenerate it"),
                          expected);
        return;
    }
    if (dom->qemu_objects->len > 1) {
        mhConfEditProblem(problems,
                          _("<qemu:commandline>: '-object mirror-helper' appears %u times; "
                            "exactly one is generated from <mh:helper>"),
                          dom->qemu_objects->len);
    }
    for (guint i = 0; i < dom->qemu_objects->len; i++) {
        const char *object = g_ptr_array_index(dom->qemu_objects, i);
        g_autoptr(GError) error = NULL;
        g_autoptr(MhConfHelper) args = mhConfHelperFromQemuObject(object, &error);

        if (!args) {
            mhConfEditProblem(problems, _("<qemu:commandline>: argument '-object %s' is "
                                          "invalid: %s"), object, error->message);
        } else if (!mhConfHelperEqual(args, dom->helper)) {
            mhConfEditProblem(problems,
                              _("<qemu:commandline>: argument '-object %s' disagrees with "
                                "<mh:helper> in <metadata> (expected '-object %s'); run "
                                "'virt-mh enable' to regenerate it"),
                              object, expected);
        }
    }
}

static void
mhConfUnlinkFree(xmlNodePtr node)
{
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

static void
mhConfQemuRemovePair(xmlNodePtr opt, xmlNodePtr val, const char *object, void *opaque)
{
    mhConfUnlinkFree(opt);
    mhConfUnlinkFree(val);
}

static bool
mhConfHasElementChild(xmlNodePtr node)
{
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE)
            return true;
    }
    return false;
}

static void
mhConfAddQemuArgs(xmlNodePtr root, const MhConfHelper *helper)
{
    xmlNodePtr cmdline = mhConfQemuCommandline(root);
    g_autofree char *object = mhConfHelperToQemuObject(helper);
    xmlNodePtr arg;
    xmlNsPtr ns;

    if (!cmdline) {
        ns = xmlSearchNsByHref(root->doc, root, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI);
        if (!ns)
            ns = xmlNewNs(root, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI,
                          (const xmlChar *) MH_CONF_QEMU_NAMESPACE_PREFIX);
        if (!ns) {
            /* the prefix "qemu" is taken by another namespace */
            ns = xmlNewNs(root, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI,
                          (const xmlChar *) "mhqemu");
        }
        cmdline = xmlNewChild(root, ns, (const xmlChar *) "commandline", NULL);
    }
    ns = cmdline->ns;
    arg = xmlNewChild(cmdline, ns, (const xmlChar *) "arg", NULL);
    xmlNewProp(arg, (const xmlChar *) "value", (const xmlChar *) "-object");
    arg = xmlNewChild(cmdline, ns, (const xmlChar *) "arg", NULL);
    xmlNewProp(arg, (const xmlChar *) "value", (const xmlChar *) object);
}

static bool
mhConfSetMetadataHelper(xmlNodePtr root, const MhConfHelper *helper, GError **error)
{
    xmlNodePtr metadata = mhConfXmlChild(root, "metadata");
    g_autofree char *text = NULL;
    xmlDocPtr tmp;
    xmlNodePtr copy;

    if (metadata) {
        xmlNodePtr cur = metadata->children;

        while (cur) {
            xmlNodePtr next = cur->next;

            if (mhConfXmlIsHelper(cur))
                mhConfUnlinkFree(cur);
            cur = next;
        }
    }
    if (!helper) {
        if (metadata && !mhConfHasElementChild(metadata))
            mhConfUnlinkFree(metadata);
        return true;
    }
    if (!metadata) {
        /* libvirt's canonical place: after the identity elements */
        static const char *const before[] = { "description", "title", "genid", "uuid", "name" };
        xmlNodePtr anchor = NULL;

        for (size_t i = 0; i < G_N_ELEMENTS(before) && !anchor; i++)
            anchor = mhConfXmlChild(root, before[i]);
        metadata = xmlNewDocNode(root->doc, NULL, (const xmlChar *) "metadata", NULL);
        if (anchor)
            xmlAddNextSibling(anchor, metadata);
        else if (root->children)
            xmlAddPrevSibling(root->children, metadata);
        else
            xmlAddChild(root, metadata);
    }
    text = mhConfHelperFormat(helper, true);
    if (!(tmp = mhConfXmlParse(text, "<mh:helper>", error)))
        return false;
    copy = xmlDocCopyNode(xmlDocGetRootElement(tmp), root->doc, 1);
    xmlFreeDoc(tmp);
    xmlAddChild(metadata, copy);
    return true;
}

char *
mhConfDomainXMLUpdate(const char *xml, const MhConfHelper *helper, GError **error)
{
    xmlDocPtr doc = mhConfXmlParseDomain(xml, error);
    xmlNodePtr root;
    xmlNodePtr cmdline;
    char *out = NULL;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!mhConfSetMetadataHelper(root, helper, error))
        goto cleanup;
    /* Regenerated from scratch so that no stale or duplicate argument can
     * survive; the user's other arguments stay where they are. */
    mhConfQemuPairsForeach(root, mhConfQemuRemovePair, NULL);
    if (helper)
        mhConfAddQemuArgs(root, helper);
    else if ((cmdline = mhConfQemuCommandline(root)) && !mhConfHasElementChild(cmdline))
        mhConfUnlinkFree(cmdline);

    out = mhConfXmlFormatRoot(doc, error);

 cleanup:
    xmlFreeDoc(doc);
    return out;
}

xmlDocPtr
mhConfXmlParseDomain(const char *xml, GError **error)
{
    xmlDocPtr doc = mhConfXmlParse(xml, NULL, error);
    xmlNodePtr root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (root->ns || !xmlStrEqual(root->name, (const xmlChar *) "domain")) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("root element is <%s>, expected <domain>"), (const char *) root->name);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

char *
mhConfXmlFormatRoot(xmlDocPtr doc, GError **error)
{
    xmlBufferPtr buf = xmlBufferCreate();
    char *out = NULL;

    if (xmlNodeDump(buf, doc, xmlDocGetRootElement(doc), 0, 0) < 0)
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("cannot format the domain XML"));
    else
        out = g_strdup_printf("%s\n", (const char *) xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}

/* ---- libvirt's grammar ----------------------------------------------- */

typedef struct {
    GPtrArray *problems;
    const char *source;
} MhConfLibvirtErrors;

static void
mhConfLibvirtSchemaError(void *opaque, xmlErrorPtr err)
{
    MhConfLibvirtErrors *errs = opaque;
    g_autofree char *msg = g_strdup(err && err->message ? err->message : "");

    g_strchomp(msg);
    if (err && err->line > 0)
        mhConfEditProblem(errs->problems,
                          _("%s:%d: does not match libvirt's domain schema: %s"),
                          errs->source, err->line, msg);
    else
        mhConfEditProblem(errs->problems, _("%s: does not match libvirt's domain schema: %s"),
                          errs->source, msg);
}

static void
mhConfLibvirtQuiet(void *opaque, xmlErrorPtr err)
{
}

G_LOCK_DEFINE_STATIC(mhConfLibvirtSchema);
static xmlRelaxNGPtr mhConfLibvirtSchema;

bool
mhConfLibvirtSchemaCheck(const char *xml, const char *source,
                         GPtrArray *problems, GError **error)
{
    const char *dir = g_getenv("MH_LIBVIRT_SCHEMADIR");
    g_autofree char *path = g_build_filename(dir && *dir ? dir : "/usr/share/libvirt/schemas",
                                             "domain.rng", NULL);
    MhConfLibvirtErrors errs = { problems, source ? source : _("(domain XML)") };
    xmlRelaxNGValidCtxtPtr vctxt;
    xmlDocPtr doc;
    guint before = problems->len;
    int rc;

    G_LOCK(mhConfLibvirtSchema);
    if (!mhConfLibvirtSchema) {
        xmlRelaxNGParserCtxtPtr pctxt;

        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            G_UNLOCK(mhConfLibvirtSchema);
            g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                        _("libvirt's domain schema '%s' is not installed"), path);
            return false;
        }
        xmlSetStructuredErrorFunc(NULL, mhConfLibvirtQuiet);
        if ((pctxt = xmlRelaxNGNewParserCtxt(path))) {
            mhConfLibvirtSchema = xmlRelaxNGParse(pctxt);
            xmlRelaxNGFreeParserCtxt(pctxt);
        }
        xmlSetStructuredErrorFunc(NULL, NULL);
    }
    G_UNLOCK(mhConfLibvirtSchema);
    if (!mhConfLibvirtSchema) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("cannot load libvirt's domain schema '%s'"), path);
        return false;
    }
    if (!(doc = mhConfXmlParse(xml, source, error)))
        return false;
    vctxt = xmlRelaxNGNewValidCtxt(mhConfLibvirtSchema);
    xmlRelaxNGSetValidStructuredErrors(vctxt, mhConfLibvirtSchemaError, &errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlFreeDoc(doc);
    if (rc != 0 && problems->len == before)
        mhConfEditProblem(problems, _("%s: does not match libvirt's domain schema"),
                          errs.source);
    return true;
}
