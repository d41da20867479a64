/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client of the key broker: JSON over HTTP(S) with libsoup 3, TLS
 * verified against a CA file when one is given (the system's otherwise),
 * every call bounded by a timeout. A refusal is an error whose message is
 * the broker's own reason, so libvirt and the user see why. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

/* Seconds a broker call may take, connection included (docs/key-broker.md). */
#define MH_BROKER_CLIENT_TIMEOUT_S 10

typedef struct _MhBrokerClient MhBrokerClient;

/* 'token_file' (may be NULL) holds the admin token; 'cacert' (may be
 * NULL) the CA certificates for https. */
MhBrokerClient *mhBrokerClientNew(const char *url, const char *cacert, const char *token_file,
                                  guint timeout_s, GError **error);
void mhBrokerClientFree(MhBrokerClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhBrokerClient, mhBrokerClientFree)

/* METHOD PATH with an optional body; the reply object on 2xx. */
JsonObject *mhBrokerClientCall(MhBrokerClient *client, const char *method, const char *path,
                               JsonObject *body, GError **error);
