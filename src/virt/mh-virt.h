/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt side's common ground: connections, domain lookup, and
 * libvirt's last error as a GError. Everything in src/virt/ reaches
 * libvirt through these; src/conf/ never calls libvirt. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

/* Set *error from libvirt's last error, prefixed with context. */
void mhVirtSetError(GError **error, const char *context);

/* Open a libvirt connection (NULL: libvirt's default URI); libvirt's own
 * error printing is silenced, its errors reach the caller as a GError. */
virConnectPtr mhVirtConnect(const char *uri, GError **error);

/* The domain a DOMAIN argument names: a numeric ID, a UUID, else a name;
 * NULL with *error set (libvirt's reason) when there is none. */
virDomainPtr mhVirtLookupDomain(virConnectPtr conn, const char *what, GError **error);
