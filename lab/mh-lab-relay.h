/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A TCP relay that stands where a host on the network path would: every
 * byte it passes on, both directions, is shown to a sink first. The demo
 * uses it without privileges, where a packet capture needs root: to
 * record what crosses to the key broker ("virt-mh lab relay") and to
 * search the migration stream as it flows. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _MhLabRelay MhLabRelay;

/* Called with the relay's lock held, before the bytes are passed on.
 * 'flow' is one slot per direction of each connection, NULL at first and
 * g_free'd when the connection ends: room for a sink's running state. */
typedef void (*MhLabRelaySink)(gpointer data, gpointer *flow, const uint8_t *buf, size_t len);

/* Listen on listen_addr:listen_port (port 0: any free one) and relay each
 * connection to to_addr:to_port (numeric IPv4). A connection whose far end
 * cannot be reached is still read to its end, into the sink only. */
MhLabRelay *mhLabRelayStart(const char *listen_addr, guint listen_port, const char *to_addr,
                            guint to_port, MhLabRelaySink sink, gpointer data,
                            GError **error);
guint mhLabRelayGetPort(const MhLabRelay *relay);
/* The sink's state, read or written outside the sink. */
void mhLabRelayLock(MhLabRelay *relay);
void mhLabRelayUnlock(MhLabRelay *relay);
/* Stop accepting and end every connection (joined). */
void mhLabRelayStop(MhLabRelay *relay);
void mhLabRelayFree(MhLabRelay *relay);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhLabRelay, mhLabRelayFree)
