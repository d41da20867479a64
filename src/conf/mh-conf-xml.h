/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libxml2-level helpers of src/conf, shared between its files (and usable
 * by other areas that already hold a parsed domain document). */
#pragma once

#include "conf/mh-conf.h"

#include <libxml/tree.h>

#define MH_CONF_QEMU_NAMESPACE_URI "http://libvirt.org/schemas/domain/qemu/1.0"
#define MH_CONF_QEMU_NAMESPACE_PREFIX "qemu"

/* Parse a document without network access or entity expansion; the error
 * gives "SOURCE:LINE: malformed XML: libxml2's message". */
xmlDocPtr mhConfXmlParse(const char *xml, const char *source, GError **error);

/* Parse a domain document: as mhConfXmlParse(), and the root must be
 * <domain> (MH_ERROR_INVALID naming it otherwise). */
xmlDocPtr mhConfXmlParseDomain(const char *xml, GError **error);
/* The document's root element as text, with a final newline. */
char *mhConfXmlFormatRoot(xmlDocPtr doc, GError **error);

/* Whitespace-stripped text content of a node. */
char *mhConfXmlNodeText(xmlNodePtr node);
/* Attribute without namespace, or NULL. */
char *mhConfXmlGetProp(xmlNodePtr node, const char *name);
/* First child element with this name and no namespace. */
xmlNodePtr mhConfXmlChild(xmlNodePtr parent, const char *name);
/* Is this node an <mh:helper>? */
bool mhConfXmlIsHelper(xmlNodePtr node);

/* Path of mirror-helper.rng: $MH_SCHEMADIR, the source tree, the installed
 * copy. NULL when none exists. */
char *mhConfSchemaFind(void);
/* Check one element against mirror-helper.rng; 'what' names it in messages. */
bool mhConfSchemaValidateNode(xmlNodePtr node, const char *what, GPtrArray *problems);

/* Parse <mh:helper> (value rules and schema, no domain rules). Always
 * returns a helper; problems are appended. */
MhConfHelper *mhConfHelperParseNode(xmlNodePtr node, GPtrArray *problems);

/* Values of "-object mirror-helper,..." pairs in <qemu:commandline>. */
void mhConfQemuArgsCollect(xmlNodePtr root, GPtrArray *objects);
/* Report arguments that disagree with the domain's <mh:helper>. */
void mhConfQemuArgsCheck(const MhConfDomain *dom, GPtrArray *problems);
