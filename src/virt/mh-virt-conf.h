/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The feature on a live libvirt connection: read the persistent settings of
 * a domain, and change them (enable/disable) all-or-nothing. */
#pragma once

#include "conf/mh-conf.h"

#include <libvirt/libvirt.h>

/* Flags of the definitions these functions read and write: the persistent
 * configuration, with secrets, so that it can be redefined as is. */
#define MH_VIRT_XML_FLAGS (VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE)

/* The domain's persistent definition; an error for transient domains. */
char *mhVirtGetInactiveXML(virDomainPtr dom, GError **error);

/* The helper stored in the persistent configuration (through
 * virDomainGetMetadata), or NULL, without error, when there is none. An
 * element that does not parse is an error. */
MhConfHelper *mhVirtGetHelper(virDomainPtr dom, GError **error);

/* Make the persistent configuration hold exactly 'helper' (NULL: none):
 * the element through virDomainSetMetadata(VIR_DOMAIN_AFFECT_CONFIG), the
 * "-object mirror-helper,..." arguments through a redefinition of the
 * inactive XML. The result is checked before anything changes: when it
 * would not validate, each problem is appended to 'problems', false is
 * returned and the domain is untouched. Other failures set 'error'; a
 * partial change is undone by redefining the original XML. */
bool mhVirtApplyHelper(virDomainPtr dom, const MhConfHelper *helper,
                     GPtrArray *problems, GError **error);
