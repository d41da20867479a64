/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mirror-helper domain feature: the <mh:helper> element in a libvirt
 * domain's <metadata>, its semantic rules, its canonical form, and the QEMU
 * object string that carries the same settings to qemu-mh.
 *
 * The metadata is the single source of truth; the QEMU object string is
 * generated from it (virt-mh enable) and parsed back by qemu-mh. */
#pragma once

#include "util/mh-enum.h"
#include "util/mh-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define MH_CONF_NAMESPACE_URI "http://mirror-helper.org/schemas/domain/1.0"
#define MH_CONF_NAMESPACE_PREFIX "mh"           /* metadata key */
#define MH_CONF_ELEMENT "helper"
#define MH_CONF_SCHEMA_FILE "mirror-helper.rng"

/* QEMU side: "-object mirror-helper,id=mh0,..." */
#define MH_CONF_QEMU_OBJECT_TYPE "mirror-helper"
/* The QMP command that arms a helper in mode='on-request' for the next
 * outgoing migration (docs/qemu-interface.md). */
#define MH_CONF_QMP_ARM_COMMAND "arm-migration-handler"
#define MH_CONF_QEMU_OBJECT_ID "mh0"

#define MH_CONF_VCPUS_MIN 1
#define MH_CONF_VCPUS_MAX 8
#define MH_CONF_VCPUS_DEFAULT 1

/* Default firmware layout (OVMF AmdSev build, RFC mailbox), used when the
 * domain does not override it. Sizes are fixed by the mailbox protocol. */
#define MH_CONF_MAILBOX_DEFAULT 0x820000ULL
#define MH_CONF_MAILBOX_SIZE (2 * MH_PAGE_SIZE)
#define MH_CONF_ENTRY_DEFAULT 0x823000ULL
#define MH_CONF_ENTRY_SIZE MH_PAGE_SIZE
#define MH_CONF_SECRET_DEFAULT 0x80c000ULL
#define MH_CONF_SECRET_SIZE MH_PAGE_SIZE

/* SEV guest policy bits (AMD SEV API, table "Guest Policy") */
#define MH_CONF_SEV_POLICY_NODBG    0x0001
#define MH_CONF_SEV_POLICY_NOKS     0x0002
#define MH_CONF_SEV_POLICY_ES       0x0004
#define MH_CONF_SEV_POLICY_NOSEND   0x0008
#define MH_CONF_SEV_POLICY_DOMAIN   0x0010
#define MH_CONF_SEV_POLICY_SEV      0x0020

typedef enum {
    MH_CONF_MODE_AUTO,          /* every migration of the domain uses the helper */
    MH_CONF_MODE_ON_REQUEST,    /* only "virt-mh migrate --sev-helper" arms it */
    MH_CONF_MODE_LAST
} MhConfMode;

typedef enum {
    MH_CONF_LIFETIME_ON_DEMAND,   /* mirror VM started at the first migration */
    MH_CONF_LIFETIME_PERSISTENT,  /* mirror VM started with the guest */
    MH_CONF_LIFETIME_LAST
} MhConfLifetime;

typedef enum {
    MH_CONF_CIPHER_AES_256_GCM,
    MH_CONF_CIPHER_CHACHA20_POLY1305,
    MH_CONF_CIPHER_AES_256_OCB,
    MH_CONF_CIPHER_LAST
} MhConfCipher;

MH_ENUM_DECL(mhConfMode);
MH_ENUM_DECL(mhConfLifetime);
/* The page-record AEAD: the XML's cipher= and the MH's own choice. */
MH_ENUM_DECL(mhConfCipher);

typedef struct {
    MhConfMode mode;
    unsigned int vcpus;
    MhConfLifetime lifetime;
    MhConfCipher cipher;
    /* Firmware GPA overrides; has_* false means "firmware default" (the
     * MH_CONF_*_DEFAULT values, see mhConfHelperGet*()). */
    bool has_mailbox;
    uint64_t mailbox;
    bool has_entry;
    uint64_t entry;
    bool has_secret;
    uint64_t secret;
    char *key_broker;           /* URL or NULL */
} MhConfHelper;

/* A new helper with every default filled in. */
MhConfHelper *mhConfHelperNew(void);
void mhConfHelperFree(MhConfHelper *helper);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhConfHelper, mhConfHelperFree)

bool mhConfHelperEqual(const MhConfHelper *a, const MhConfHelper *b);

/* Effective firmware addresses (override or default). */
uint64_t mhConfHelperGetMailbox(const MhConfHelper *helper);
uint64_t mhConfHelperGetEntry(const MhConfHelper *helper);
uint64_t mhConfHelperGetSecret(const MhConfHelper *helper);

/* The facts of a libvirt domain that the feature depends on. */
typedef struct {
    char *name;
    char *uuid;                 /* NULL when the XML has none */
    int id;                     /* libvirt's domain id; -1 when not running */
    char *launch_security;      /* <launchSecurity type=...> or NULL */
    bool has_sev;               /* launch_security is "sev" */
    char *sev_dh_cert;          /* <launchSecurity><dhCert>, or NULL */
    char *sev_session;          /* <launchSecurity><session>, or NULL */
    bool has_policy;
    unsigned int sev_policy;    /* <launchSecurity><policy>, valid when has_policy */
    bool bad_policy;            /* <policy> present but not a number (reported) */
    unsigned int helper_count;  /* <mh:helper> elements found in <metadata> */
    MhConfHelper *helper;       /* NULL when the domain has no <mh:helper> */
    /* Values of "-object mirror-helper,..." found in <qemu:commandline>
     * (char *), in document order. */
    GPtrArray *qemu_objects;
} MhConfDomain;

void mhConfDomainFree(MhConfDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhConfDomain, mhConfDomainFree)

/* Check a whole domain XML document: well-formedness (with line numbers),
 * the helper's schema, and the semantic rules. Every problem found is
 * appended to 'problems' (translated strings, g_free'd by the array);
 * 'source' names the document in messages (file name or NULL).
 * Returns the parsed domain when the document could be parsed at all
 * (even with problems; its helper is NULL when the helper was unusable),
 * NULL otherwise. A domain without <mh:helper> is valid with no helper. */
MhConfDomain *mhConfDomainCheck(const char *xml, const char *source,
                                GPtrArray *problems);

/* Parse and validate; any problem is an error (MH_ERROR_INVALID) whose
 * message lists all problems, one per line. Returns a domain whose helper is
 * NULL (and no error) when the domain has no <mh:helper>. */
MhConfDomain *mhConfDomainParseString(const char *xml, const char *source,
                                      GError **error);

/* Parse only the helper out of a whole domain XML (NULL without error when
 * the domain has none). Same rules as mhConfDomainParseString(). */
MhConfHelper *mhConfHelperParseDomainXML(const char *xml, GError **error);

/* Parse a bare <helper> element as returned by virDomainGetMetadata()
 * (namespace optional: libvirt strips it). Schema and value checks only; the
 * domain rules need mhConfHelperValidate(). */
MhConfHelper *mhConfHelperParseString(const char *element_xml, GError **error);

/* Semantic rules: vcpus range, GPA alignment and overlap, and (when 'dom' is
 * not NULL) the domain's launch security and policy. Appends one message per
 * problem to 'problems'; returns true when none was found. */
bool mhConfHelperValidate(const MhConfHelper *helper, const MhConfDomain *dom,
                          GPtrArray *problems);
/* Only the domain rules: <launchSecurity type='sev'> with a policy that
 * allows sending. */
bool mhConfDomainValidate(const MhConfDomain *dom, GPtrArray *problems);

/* Canonical XML of the element: defaults filled in, fixed child and
 * attribute order, two-space indent, no trailing newline. With namespace:
 * "<mh:helper xmlns:mh=...>" with mh: children (the form libvirt stores);
 * without: bare "<helper>" as virDomainSetMetadata() wants it. */
char *mhConfHelperFormat(const MhConfHelper *helper, bool with_namespace);

/* QEMU object option string, QEMU opts syntax (commas in values doubled):
 * mirror-helper,id=mh0,mode=auto,vcpus=1,lifetime=on-demand,cipher=aes-256-gcm
 *   [,mailbox=0x820000][,entry=0x823000][,secret=0x80c000][,key-broker=URL]
 * GPAs appear only when overridden. */
char *mhConfHelperToQemuObject(const MhConfHelper *helper);
/* Parse the string back (the part after "-object"); every key is checked,
 * unknown or repeated keys and bad values are errors. */
MhConfHelper *mhConfHelperFromQemuObject(const char *str, GError **error);
/* True when the "-object" argument value is a mirror-helper object. */
bool mhConfIsQemuObject(const char *str);

/* Rewrite a whole domain XML document so that its <metadata> holds exactly
 * 'helper' (or no <mh:helper> when NULL) and its <qemu:commandline> holds the
 * matching "-object mirror-helper,..." pair (or none). Other metadata and
 * other QEMU arguments are kept. The result is not validated: callers check
 * it with mhConfDomainCheck() before using it. */
char *mhConfDomainXMLUpdate(const char *xml, const MhConfHelper *helper,
                            GError **error);

/* libvirt's own grammar (domain.rng) over a whole domain document, as
 * "virsh define --validate" does. Appends libvirt's messages to 'problems';
 * returns false with MH_ERROR_UNSUPPORTED when the grammar is not installed. */
bool mhConfLibvirtSchemaCheck(const char *xml, const char *source,
                              GPtrArray *problems, GError **error);

/* Collect problems into one GError (MH_ERROR_INVALID), one per line.
 * Returns false (and sets the error) when 'problems' is not empty. */
bool mhConfProblemsToError(GPtrArray *problems, GError **error);

/* The QMP monitor of the guest owner (chardev id), next to libvirt's. */
#define MH_CONF_OWNER_MONITOR_ID "mh-owner"

/* The domain document with <launchSecurity type='sev'>'s dhCert and
 * session replaced, and the owner monitor on 'owner_socket' (none when
 * NULL; any earlier one removed). */
char *mhConfDomainXMLSetLaunch(const char *xml, const char *dh_cert, const char *session,
                               const char *owner_socket, GError **error);
/* The owner monitor's socket path in a domain document, or NULL. */
char *mhConfDomainXMLOwnerMonitor(const char *xml);

