/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Changes made by others: libvirt's metadata-change and definition events
 * (virsh, "virt-mh enable", another management application) turn into
 * the same PropertiesChanged and HelperChanged that virt-mhd's own
 * methods send; lifecycle events into the live state's PropertiesChanged. libvirt calls back in its event thread; the objects are
 * only touched on the main loop. */
#include "mhd.h"

#include "conf/mh-conf.h"
#include "util/mh-i18n.h"

#include <libvirt/virterror.h>

typedef struct {
    Mhd *mhd;
    char uuid[VIR_UUID_STRING_BUFLEN];
    bool state;                 /* the live state changed, not the setting */
} MhdEvent;

static gpointer
mhdEventsRun(gpointer data)
{
    for (;;) {
        if (virEventRunDefaultImpl() < 0)
            g_usleep(100 * 1000);
    }
    return NULL;
}

void
mhdEventsInit(void)
{
    if (virEventRegisterDefaultImpl() == 0)
        g_thread_unref(g_thread_new("mhd-libvirt-events", mhdEventsRun, NULL));
}

static gboolean
mhdEventDispatch(gpointer data)
{
    MhdEvent *ev = data;
    g_autoptr(GError) err = NULL;
    virConnectPtr conn = mhdConnection(ev->mhd, &err);
    virDomainPtr vdom = conn ? virDomainLookupByUUIDString(conn, ev->uuid) : NULL;
    MhdDomain *dom;

    if (vdom && (dom = mhdDomainGet(ev->mhd, vdom, NULL))) {
        if (ev->state)
            mhdDomainRefreshState(dom);
        else
            mhdDomainRefresh(dom);
    }
    if (vdom)
        virDomainFree(vdom);
    g_free(ev);
    return G_SOURCE_REMOVE;
}

static void
mhdEventQueue(Mhd *mhd, virDomainPtr dom, bool state)
{
    MhdEvent *ev = g_new0(MhdEvent, 1);

    ev->mhd = mhd;
    ev->state = state;
    if (virDomainGetUUIDString(dom, ev->uuid) < 0) {
        g_free(ev);
        return;
    }
    g_idle_add(mhdEventDispatch, ev);
}

static void
mhdEventMetadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                 void *opaque)
{
    if (type == VIR_DOMAIN_METADATA_ELEMENT && g_strcmp0(nsuri, MH_CONF_NAMESPACE_URI) == 0)
        mhdEventQueue(opaque, dom, false);
}

static void
mhdEventLifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    /* A redefinition may add or drop the element without a metadata
     * event (virsh define of an edited XML). */
    if (event == VIR_DOMAIN_EVENT_DEFINED)
        mhdEventQueue(opaque, dom, false);
    /* A start (the handler's first run), an incoming migration ending,
     * a stop: HandlerRunning, KeyId and LastMigration move. */
    else if (event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_RESUMED ||
             event == VIR_DOMAIN_EVENT_STOPPED)
        mhdEventQueue(opaque, dom, true);
}

void
mhdEventsRegister(Mhd *mhd, virConnectPtr conn)
{
    if (virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                         VIR_DOMAIN_EVENT_CALLBACK(mhdEventMetadata), mhd,
                                         NULL) < 0 ||
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(mhdEventLifecycle), mhd,
                                         NULL) < 0)
        g_printerr(_("virt-mhd: libvirt events unavailable: %s\n"), virGetLastErrorMessage());
}
