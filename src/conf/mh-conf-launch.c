/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain document fitted for one SEV launch on one host: the guest
 * owner's session for that host's platform in <launchSecurity>, and the
 * owner monitor (a QMP socket of its own) through which the launch is
 * attested and given its secret while libvirt's own monitor is busy with
 * an incoming migration. Used by the libvirt hook on the destination and
 * by "virt-mh start". */
#include "conf/mh-conf.h"
#include "conf/mh-conf-xml.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

static bool
mhConfIsOwnerMonitorArg(xmlNodePtr node)
{
    g_autofree char *value = NULL;

    if (node->type != XML_ELEMENT_NODE || !node->ns ||
        !xmlStrEqual(node->ns->href, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI) ||
        !xmlStrEqual(node->name, (const xmlChar *) "arg"))
        return false;
    value = mhConfXmlGetProp(node, "value");
    return value && (strstr(value, "id=" MH_CONF_OWNER_MONITOR_ID ",") ||
                     strstr(value, "chardev=" MH_CONF_OWNER_MONITOR_ID ","));
}

/* Drop "-chardev ...id=mh-owner,..." and "-mon chardev=mh-owner,...",
 * each with the option before it; add them again for 'socket'. */
static void
mhConfSetOwnerMonitor(xmlNodePtr root, const char *socket)
{
    xmlNodePtr cmdline = NULL;
    xmlNsPtr ns;
    g_autofree char *chardev = NULL;
    g_autofree char *mon = NULL;
    const char *args[4];

    for (xmlNodePtr cur = root->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && cur->ns &&
            xmlStrEqual(cur->ns->href, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI) &&
            xmlStrEqual(cur->name, (const xmlChar *) "commandline"))
            cmdline = cur;
    }
    if (cmdline) {
        xmlNodePtr prev_arg = NULL;

        for (xmlNodePtr cur = cmdline->children, next; cur; cur = next) {
            next = cur->next;
            if (cur->type != XML_ELEMENT_NODE)
                continue;
            if (mhConfIsOwnerMonitorArg(cur)) {
                if (prev_arg) {
                    xmlUnlinkNode(prev_arg);
                    xmlFreeNode(prev_arg);
                }
                xmlUnlinkNode(cur);
                xmlFreeNode(cur);
                prev_arg = NULL;
                continue;
            }
            prev_arg = cur;
        }
    }
    if (!socket)
        return;
    if (!cmdline) {
        if (!(ns = xmlSearchNsByHref(root->doc, root,
                                     (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI)) &&
            !(ns = xmlNewNs(root, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI,
                            (const xmlChar *) MH_CONF_QEMU_NAMESPACE_PREFIX)))
            ns = xmlNewNs(root, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI,
                          (const xmlChar *) "mhqemu");
        cmdline = xmlNewChild(root, ns, (const xmlChar *) "commandline", NULL);
    }
    chardev = g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off",
                              MH_CONF_OWNER_MONITOR_ID, socket);
    mon = g_strdup_printf("chardev=%s,mode=control", MH_CONF_OWNER_MONITOR_ID);
    args[0] = "-chardev";
    args[1] = chardev;
    args[2] = "-mon";
    args[3] = mon;
    for (size_t i = 0; i < G_N_ELEMENTS(args); i++) {
        xmlNodePtr arg = xmlNewChild(cmdline, cmdline->ns, (const xmlChar *) "arg", NULL);

        xmlNewProp(arg, (const xmlChar *) "value", (const xmlChar *) args[i]);
    }
}

static void
mhConfSetChildText(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr child = mhConfXmlChild(parent, name);

    if (!child)
        child = xmlNewChild(parent, NULL, (const xmlChar *) name, NULL);
    xmlNodeSetContent(child, NULL);
    xmlNodeAddContent(child, (const xmlChar *) text);
}

char *
mhConfDomainXMLSetLaunch(const char *xml, const char *dh_cert, const char *session,
                         const char *owner_socket, GError **error)
{
    xmlDocPtr doc = mhConfXmlParseDomain(xml, error);
    xmlNodePtr root, ls;
    g_autofree char *type = NULL;
    char *out = NULL;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!(ls = mhConfXmlChild(root, "launchSecurity")) ||
        !(type = mhConfXmlGetProp(ls, "type")) || strcmp(type, "sev") != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the domain has no <launchSecurity type='sev'>"));
        goto cleanup;
    }
    mhConfSetChildText(ls, "dhCert", dh_cert);
    mhConfSetChildText(ls, "session", session);
    mhConfSetOwnerMonitor(root, owner_socket);
    out = mhConfXmlFormatRoot(doc, error);

 cleanup:
    xmlFreeDoc(doc);
    return out;
}

char *
mhConfDomainXMLOwnerMonitor(const char *xml)
{
    xmlDocPtr doc = mhConfXmlParse(xml, NULL, NULL);
    xmlNodePtr root;
    char *path = NULL;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr cl = root->children; cl && !path; cl = cl->next) {
        if (cl->type != XML_ELEMENT_NODE || !cl->ns ||
            !xmlStrEqual(cl->ns->href, (const xmlChar *) MH_CONF_QEMU_NAMESPACE_URI))
            continue;
        for (xmlNodePtr a = cl->children; a && !path; a = a->next) {
            g_autofree char *value = NULL;
            const char *p, *end;

            if (!mhConfIsOwnerMonitorArg(a) || !(value = mhConfXmlGetProp(a, "value")) ||
                !strstr(value, "id=" MH_CONF_OWNER_MONITOR_ID ",") ||
                !(p = strstr(value, ",path=")))
                continue;
            p += strlen(",path=");
            end = strchr(p, ',');
            path = g_strndup(p, end ? (size_t)(end - p) : strlen(p));
        }
    }
    xmlFreeDoc(doc);
    return path;
}
