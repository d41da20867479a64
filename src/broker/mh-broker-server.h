/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key broker's HTTP(S) API on libsoup 3, JSON bodies (json-glib).
 * Routes come from one table; the host API (bundle, secret) needs no
 * credential because it only ever releases what attestation allows, the
 * owner's admin API needs the bearer token of DIR/admin.token. Bodies
 * over MH_BROKER_MAX_BODY are refused before they are read. Errors are
 * {"error": {"status": N, "field": NAME|null, "message": TEXT}}. */
#pragma once

#include "broker/mh-broker-store.h"

#include <glib.h>
#include <stdbool.h>

#define MH_BROKER_MAX_BODY (64 * 1024)

typedef struct _MhBrokerServer MhBrokerServer;

typedef struct {
    const char *listen;         /* HOST:PORT; port 0 picks a free one */
    const char *state_dir;
    const char *tls_cert;       /* PEM files, or both NULL with plain_http */
    const char *tls_key;
    bool plain_http;
} MhBrokerServerOptions;

/* Open the store, write DIR/admin.token on first start, listen. */
MhBrokerServer *mhBrokerServerNew(const MhBrokerServerOptions *opts, GError **error);
void mhBrokerServerFree(MhBrokerServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerServer, mhBrokerServerFree)
/* The URL it listens on, e.g. "https://127.0.0.1:8720/". */
const char *mhBrokerServerGetUrl(MhBrokerServer *server);
