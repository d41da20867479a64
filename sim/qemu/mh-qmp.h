/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP proxy of qemu-mh: it sits between a QMP client (libvirt) and the
 * real QEMU's monitor. Messages are line-delimited JSON in both
 * directions. QEMU's greeting, replies and events pass through byte for
 * byte; commands found in the command table are answered by qemu-mh and
 * the rest are forwarded to QEMU together with the file descriptors
 * (SCM_RIGHTS) that came with them.
 *
 * One MhQmpProxy serves one monitor: a listening socket that clients
 * connect to (one client at a time, as QEMU's socket chardev does) and one
 * persistent connection to QEMU. Client commands are handled strictly one
 * after the other, so a locally answered command never overtakes a
 * forwarded one; replies from QEMU are matched in order (QEMU answers a
 * monitor's commands in order; out-of-band execution is not used by
 * libvirt). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

typedef struct _MhQmpProxy MhQmpProxy;
typedef struct _MhQmpRequest MhQmpRequest;

/* A locally answered command. The handler must complete the request
 * exactly once, now or later, with mhQmpRequestReturn(),
 * mhQmpRequestError*() or mhQmpRequestForward(). 'opaque' is the pointer
 * given to mhQmpProxyNew(). */
typedef void (*MhQmpHandler)(MhQmpRequest *req, gpointer opaque);

typedef struct {
    const char *name;
    MhQmpHandler handler;
} MhQmpCommand;

/* Called with the whole reply message of a forwarded command. Return FALSE
 * to pass QEMU's reply to the client unchanged; TRUE when the hook has
 * completed (or will complete) the request itself. */
typedef gboolean (*MhQmpReplyHook)(MhQmpRequest *req, JsonObject *reply, gpointer data);

/* Reply to a command qemu-mh sent on its own; 'reply' is the whole
 * message, or NULL when QEMU went away first. */
typedef void (*MhQmpCallback)(MhQmpProxy *proxy, JsonObject *reply, gpointer data);

/* An event from QEMU (after it was passed to the client). */
typedef void (*MhQmpEventHook)(MhQmpProxy *proxy, const char *event,
                               JsonObject *message, gpointer data);

typedef struct {
    /* QEMU's greeting arrived (QEMU's monitor is up). */
    void (*ready)(MhQmpProxy *proxy, gpointer data);
    /* QEMU closed the monitor (normally: QEMU exited). */
    void (*upstream_closed)(MhQmpProxy *proxy, gpointer data);
} MhQmpProxyCallbacks;

/* 'name' labels log lines (the chardev id). 'listen_fd' is a listening
 * socket (taken over); 'upstream_fd' our end of the connection to QEMU's
 * monitor (taken over). 'table' is terminated by a { NULL, NULL } entry
 * and must outlive the proxy. */
MhQmpProxy *mhQmpProxyNew(const char *name, int listen_fd, int upstream_fd,
                          const MhQmpCommand *table, gpointer opaque,
                          const MhQmpProxyCallbacks *callbacks, gpointer cb_data,
                          GError **error);
void mhQmpProxyFree(MhQmpProxy *proxy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQmpProxy, mhQmpProxyFree)

/* Close the client connection (monitor EOF for libvirt) and stop
 * accepting new ones. */
void mhQmpProxyShutdown(MhQmpProxy *proxy);

/* Send a command of qemu-mh's own to QEMU; 'args' may be NULL and is
 * taken over. The reply goes to 'cb' (which may be NULL), never to the
 * client. Queued until QEMU's monitor has been negotiated. */
void mhQmpProxyExecute(MhQmpProxy *proxy, const char *command, JsonObject *args,
                       MhQmpCallback cb, gpointer data);

void mhQmpProxyAddEventHook(MhQmpProxy *proxy, MhQmpEventHook hook, gpointer data);
/* Whether an event from QEMU reaches the client: FALSE drops it (the
 * event hooks still see it). One filter per proxy; NULL removes it.
 * Events of qemu-mh's own (mhQmpProxyEmitEvent) are not filtered. */
typedef gboolean (*MhQmpEventFilter)(MhQmpProxy *proxy, const char *event,
                                     JsonObject *message, gpointer data);
void mhQmpProxySetEventFilter(MhQmpProxy *proxy, MhQmpEventFilter filter, gpointer data);
/* Send an event of qemu-mh's own to the client, in QEMU's format
 * (timestamp added); 'data' may be NULL and is taken over. */
void mhQmpProxyEmitEvent(MhQmpProxy *proxy, const char *event, JsonObject *data);

/* The "arguments" object, or NULL when the command had none. */
JsonObject *mhQmpRequestGetArguments(const MhQmpRequest *req);
MhQmpProxy *mhQmpRequestGetProxy(const MhQmpRequest *req);

/* The file descriptors that came with the command (SCM_RIGHTS), taken
 * over by the caller (an array of int, or NULL when there were none);
 * they are no longer forwarded or closed with the request. */
GArray *mhQmpRequestTakeFds(MhQmpRequest *req);

/* Argument helpers; each reports QEMU's error style on failure and then
 * has completed the request (return false: the handler just returns). */
bool mhQmpRequestGetString(MhQmpRequest *req, const char *name, bool required,
                           const char **value);
bool mhQmpRequestGetUInt(MhQmpRequest *req, const char *name, bool required,
                         bool *present, guint64 *value);

/* Complete with {"return": ret} ('ret' taken over; NULL means {}). */
void mhQmpRequestReturn(MhQmpRequest *req, JsonNode *ret);
/* Complete with {"error": {"class": klass, "desc": ...}}. */
void mhQmpRequestError(MhQmpRequest *req, const char *klass, const char *format, ...)
    G_GNUC_PRINTF(3, 4);
/* GenericError with the GError's message. */
void mhQmpRequestErrorGError(MhQmpRequest *req, const GError *error);
/* Send the command as it came (with its fds) to QEMU; 'hook' may inspect
 * the reply (see MhQmpReplyHook) or be NULL. */
void mhQmpRequestForward(MhQmpRequest *req, MhQmpReplyHook hook, gpointer data);
/* Complete with a reply message built by a hook (taken over; its "id"
 * is set to the client's). */
void mhQmpRequestReply(MhQmpRequest *req, JsonObject *reply);

/* Find a command in a table (NULL if absent); exposed for the tests. */
const MhQmpCommand *mhQmpCommandFind(const MhQmpCommand *table, const char *name);

/* The QMP error class QEMU uses for nearly everything. */
#define MH_QMP_GENERIC_ERROR "GenericError"
#define MH_QMP_COMMAND_NOT_FOUND "CommandNotFound"
