/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mhd: the mirror helper on D-Bus for management applications, in
 * libvirt-dbus's shape: interfaces from introspection XML (data/), one
 * object per domain (path from its UUID) and per migration job, methods
 * and properties dispatched from tables, every error a named D-Bus error
 * carrying the translated text the CLI prints. */
#pragma once

#include "virt/mh-virt.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>

#define MHD_BUS_NAME "org.mirrorhelper.MirrorHelper1"
#define MHD_PATH "/org/mirrorhelper/MirrorHelper1"
#define MHD_DOMAIN_PATH MHD_PATH "/domain"
#define MHD_JOB_PATH MHD_PATH "/job"
#define MHD_IFACE_MANAGER MHD_BUS_NAME ".Manager"
#define MHD_IFACE_DOMAIN MHD_BUS_NAME ".Domain"
#define MHD_IFACE_JOB MHD_BUS_NAME ".Job"

typedef enum {
    MHD_ERROR_NOT_FOUND,
    MHD_ERROR_INVALID_ARGS,
    MHD_ERROR_REFUSED,
    MHD_ERROR_FAILED,
} MhdError;

#define MHD_ERROR (mhdErrorQuark())
GQuark mhdErrorQuark(void);

typedef struct _MhdDomain MhdDomain;
typedef struct _MhdJob MhdJob;

typedef struct {
    GDBusConnection *bus;
    char *uri;
    virConnectPtr conn;
    GDBusInterfaceInfo *manager_iface;
    GDBusInterfaceInfo *domain_iface;
    GDBusInterfaceInfo *job_iface;
    GHashTable *domains;        /* UUID -> MhdDomain */
    guint next_job;
    bool use_polkit;            /* on the system bus */
} Mhd;

/* The libvirt connection, reopened when libvirtd went away under us. */
virConnectPtr mhdConnection(Mhd *mhd, GError **error);
/* Return a GError (MH_ERROR, MHD_ERROR, a libvirt failure) as the named
 * D-Bus error that fits it. */
void mhdReturnError(GDBusMethodInvocation *inv, const GError *error);
void mhdReturnErrorLiteral(GDBusMethodInvocation *inv, MhdError code, const char *message);
/* polkit on the system bus; elsewhere the bus policy decides (true). */
bool mhdAuthorize(Mhd *mhd, GDBusMethodInvocation *inv, const char *action);

/* Work that may wait on libvirt or the network (a launch, a query that
 * libvirt holds back while a job runs) goes to a thread of its own, so
 * that the main loop keeps answering: 'func' answers 'inv' there (GDBus
 * lets any thread return an invocation), then 'free_data' runs. */
typedef void (*MhdThreadFunc)(GDBusMethodInvocation *inv, gpointer data);
void mhdRunInThread(GDBusMethodInvocation *inv, MhdThreadFunc func, gpointer data,
                    GDestroyNotify free_data);

/* Method and property tables, as libvirt-dbus dispatches them. */
typedef void (*MhdMethodFunc)(gpointer object, GVariant *params, GDBusMethodInvocation *inv);
typedef GVariant *(*MhdPropertyFunc)(gpointer object, GError **error);
typedef struct {
    const char *name;
    MhdMethodFunc func;
} MhdMethod;
typedef struct {
    const char *name;
    MhdPropertyFunc func;
} MhdProperty;

/* Register 'object' at 'path' with an interface served from the tables. */
guint mhdRegister(Mhd *mhd, const char *path, GDBusInterfaceInfo *iface,
                  const MhdMethod *methods, const MhdProperty *properties, gpointer object,
                  GError **error);

/* mhd-manager.c */
bool mhdManagerRegister(Mhd *mhd, GError **error);
void mhdManagerHelperChanged(Mhd *mhd, MhdDomain *dom, bool enabled);

/* mhd-domain.c: the object of a domain (registered on first use). */
struct _MhdDomain {
    Mhd *mhd;
    char *uuid;
    char *path;
    guint reg_id;
    MhdJob *job;                /* the migration in progress, or NULL */
    int enabled;                /* the helper as last announced: -1 unknown */
    /* The handler's last report, for readers while a libvirt job holds
     * the monitor (NULL: none yet, or the domain was not running). */
    JsonObject *handler_info;
    /* libvirt's figures of the last completed migration as last seen: a
     * reader without KEEP_COMPLETED ("virsh domjobinfo --completed")
     * takes libvirt's copy away. */
    GVariant *last_migration;
};


MhdDomain *mhdDomainGet(Mhd *mhd, virDomainPtr dom, GError **error);
const char *mhdDomainPath(const MhdDomain *dom);
const char *mhdDomainUUID(const MhdDomain *dom);
/* The libvirt domain of the object, looked up again (it may have moved). */
virDomainPtr mhdDomainLookup(MhdDomain *dom, GError **error);
void mhdDomainFree(MhdDomain *dom);
void mhdDomainJobEnded(MhdDomain *dom);
/* Re-read the helper setting; announce it (PropertiesChanged, and
 * HelperChanged when it was gained or lost). */
void mhdDomainRefresh(MhdDomain *dom);
/* Re-read the live state (handler, key, last migration) in a thread of its
 * own, since libvirt may hold the query back while a job runs, and
 * announce it from the main loop. */
void mhdDomainRefreshState(MhdDomain *dom);

/* mhd-domain-state.c: the live-state properties. */
GVariant *mhdPropHandlerRunning(gpointer object, GError **error);
GVariant *mhdPropKeyId(gpointer object, GError **error);
GVariant *mhdPropHandlerVcpus(gpointer object, GError **error);
GVariant *mhdPropLastMigration(gpointer object, GError **error);
void mhdDomainClearState(MhdDomain *dom);

/* mhd-events.c: libvirt's events (run in a thread of their own) for
 * changes made by others (virsh, virt-mh enable): call after each
 * (re)connection. */
void mhdEventsInit(void);
void mhdEventsRegister(Mhd *mhd, virConnectPtr conn);
void mhdEmitPropertiesChanged(Mhd *mhd, const char *path, const char *iface,
                              const char *const *names, GVariant *const *values, guint n);

/* mhd-job.c */
/* virDomainGetJobStats as a{sv} (with "type"), or NULL. */
GVariant *mhdReadJobStats(virDomainPtr vdom, unsigned int flags);
typedef struct {
    char *dest_uri;
    char *migrate_uri;
    char *dest_xml;
    char *persist_xml;
    guint64 bandwidth;
    unsigned int flags;
} MhdMigrateArgs;
MhdJob *mhdJobStart(Mhd *mhd, MhdDomain *dom, virDomainPtr vdom, MhdMigrateArgs *args,
                    GError **error);
const char *mhdJobPath(const MhdJob *job);
