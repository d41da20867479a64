/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP side of MH migration (see mh-qemu-migrate.h): the commands
 * libvirt uses to migrate, answered or rewritten by qemu-mh, the figures
 * it reads back, and the main-loop helpers of the migration threads. */
#include "sim/qemu/mh-qemu-migrate-priv.h"

#include "sim/qemu/mh-qemu-arm.h"
#include "sim/qemu/mh-qemu-fw.h"
#include "sim/qemu/mh-qmp-handler.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <poll.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MH_QEMU_MIGRATE_DEFAULT_DOWNTIME_MS 300
#define MH_QEMU_MIGRATE_DEFAULT_MAX_PASSES 30

MH_ENUM_IMPL(mhQemuMigrateMode, MH_QEMU_MIGRATE_MODE_LAST, "plain", "helper", "blocked");
MH_ENUM_IMPL(mhQemuMigrateStatus, MH_QEMU_MIGRATE_STATUS_LAST, "none", "setup", "active",
             "device", "completed", "failed", "cancelling", "cancelled");

MhQemuMigrate *
mhQemuMigrateGetState(MhQemu *qemu)
{
    if (!qemu->migrate) {
        MhQemuMigrate *mig = g_new0(MhQemuMigrate, 1);

        mig->qemu = qemu;
        g_mutex_init(&mig->lock);
        mig->downtime_limit_ms = MH_QEMU_MIGRATE_DEFAULT_DOWNTIME_MS;
        mig->max_passes = MH_QEMU_MIGRATE_DEFAULT_MAX_PASSES;
        mig->fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        mig->hooked = g_hash_table_new(NULL, NULL);
        qemu->migrate = mig;
    }
    return qemu->migrate;
}

MhQemuMigrateMode
mhQemuMigrateGetMode(MhQemu *qemu)
{
    const MhConfHelper *helper = qemu->args->helper;

    if (!qemu->args->sev)
        return MH_QEMU_MIGRATE_MODE_PLAIN;
    /* mode=on-request is armed per migration (arm-migration-handler,
     * sent by "virt-mh migrate"); unarmed, the guest is as unmigratable
     * as under QEMU 7.2. */
    if (helper && qemu->ram &&
        (helper->mode == MH_CONF_MODE_AUTO || mhQemuMigrateArmed(qemu)))
        return MH_QEMU_MIGRATE_MODE_HELPER;
    return MH_QEMU_MIGRATE_MODE_BLOCKED;
}

static bool
mhQemuMigrateJobActive(const MhQemuMigrateJob *job)
{
    return job && job->status != MH_QEMU_MIGRATE_STATUS_COMPLETED &&
           job->status != MH_QEMU_MIGRATE_STATUS_FAILED &&
           job->status != MH_QEMU_MIGRATE_STATUS_CANCELLED &&
           job->status != MH_QEMU_MIGRATE_STATUS_NONE;
}

/* ---- real QEMU's migration events, for the threads ---- */

static void
mhQemuMigrateEventHook(MhQmpProxy *proxy, const char *event, JsonObject *message,
                       gpointer data)
{
    MhQemuMigrate *mig = data;
    JsonObject *edata;
    const char *status;

    if (!g_str_equal(event, "MIGRATION") || !mig->job || !mig->job->qemu_events)
        return;
    if (!json_object_has_member(message, "data") ||
        !(edata = json_object_get_object_member(message, "data")) ||
        !(status = json_object_get_string_member_with_default(edata, "status", NULL)))
        return;
    g_async_queue_push(mig->job->qemu_events, g_strdup(status));
}

/* On a source, once the real QEMU migrates the device state, its own
 * "setup"/"active" and MIGRATION_PASS (counting from 1 again) would tell
 * libvirt that a second migration began: they are dropped, libvirt has
 * seen ours. Its pre-switchover, device, completed, failed and cancelled
 * pass. */
static gboolean
mhQemuMigrateEventFilter(MhQmpProxy *proxy, const char *event, JsonObject *message,
                         gpointer data)
{
    MhQemuMigrate *mig = data;
    MhQemuMigrateJob *job = mig->job;
    JsonObject *edata;
    const char *status;
    bool device_phase, failing;

    if (!job || job->role != MH_QEMU_MIGRATE_ROLE_SOURCE)
        return TRUE;
    g_mutex_lock(&mig->lock);
    device_phase = job->real_started && mhQemuMigrateJobActive(job);
    /* Ours failed (not a cancel asked for): qemu-mh cancels the real
     * QEMU's migration and reports "failed" with the reason itself. */
    failing = job->real_started && job->error_desc && !g_atomic_int_get(&job->cancel);
    g_mutex_unlock(&mig->lock);
    if (!device_phase && !failing)
        return TRUE;
    if (g_str_equal(event, "MIGRATION_PASS"))
        return FALSE;
    if (!g_str_equal(event, "MIGRATION") ||
        !json_object_has_member(message, "data") ||
        !(edata = json_object_get_object_member(message, "data")) ||
        !(status = json_object_get_string_member_with_default(edata, "status", NULL)))
        return TRUE;
    if (failing)
        return !g_str_equal(status, "cancelling") && !g_str_equal(status, "cancelled") &&
               !g_str_equal(status, "failed");
    return !g_str_equal(status, "setup") && !g_str_equal(status, "active");
}

static void
mhQemuMigrateHook(MhQemuMigrate *mig, MhQmpProxy *proxy)
{
    mig->proxy = proxy;
    if (g_hash_table_contains(mig->hooked, proxy))
        return;
    g_hash_table_add(mig->hooked, proxy);
    mhQmpProxyAddEventHook(proxy, mhQemuMigrateEventHook, mig);
    mhQmpProxySetEventFilter(proxy, mhQemuMigrateEventFilter, mig);
}

/* ---- main-loop helpers for the threads ---- */

typedef struct {
    MhQmpProxy *proxy;
    char *command;
    JsonObject *args;
    JsonObject *reply;
    bool done;
    GMutex m;
    GCond c;
} MhQemuMigrateCall;

static void
mhQemuMigrateCallDone(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    MhQemuMigrateCall *call = data;

    g_mutex_lock(&call->m);
    call->reply = reply ? json_object_ref(reply) : NULL;
    call->done = true;
    g_cond_signal(&call->c);
    g_mutex_unlock(&call->m);
}

static gboolean
mhQemuMigrateCallStart(gpointer data)
{
    MhQemuMigrateCall *call = data;

    mhQmpProxyExecute(call->proxy, call->command, g_steal_pointer(&call->args),
                      mhQemuMigrateCallDone, call);
    return G_SOURCE_REMOVE;
}

bool
mhQemuMigrateQmp(MhQemuMigrateJob *job, const char *command, JsonObject *args,
                 JsonNode **ret, GError **error)
{
    MhQemuMigrateCall call = { .proxy = job->mig->proxy, .command = (char *)command, .args = args };
    JsonObject *err;
    bool ok = false;

    g_mutex_init(&call.m);
    g_cond_init(&call.c);
    g_main_context_invoke(NULL, mhQemuMigrateCallStart, &call);
    g_mutex_lock(&call.m);
    while (!call.done)
        g_cond_wait(&call.c, &call.m);
    g_mutex_unlock(&call.m);

    if (!call.reply) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("QEMU went away during '%s'"), command);
    } else if (json_object_has_member(call.reply, "error") &&
               (err = json_object_get_object_member(call.reply, "error"))) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, "%s: %s", command,
                    json_object_get_string_member_with_default(err, "desc", "?"));
    } else {
        if (ret && json_object_has_member(call.reply, "return"))
            *ret = json_node_copy(json_object_get_member(call.reply, "return"));
        ok = true;
    }
    if (call.reply)
        json_object_unref(call.reply);
    g_mutex_clear(&call.m);
    g_cond_clear(&call.c);
    return ok;
}

typedef struct {
    MhQmpProxy *proxy;
    char *event;
    JsonObject *data;
} MhQemuMigrateEvent;

static gboolean
mhQemuMigrateEmitInMain(gpointer data)
{
    MhQemuMigrateEvent *ev = data;

    mhQmpProxyEmitEvent(ev->proxy, ev->event, ev->data);
    g_free(ev->event);
    g_free(ev);
    return G_SOURCE_REMOVE;
}

void
mhQemuMigrateEmit(MhQemuMigrateJob *job, const char *event, JsonObject *data)
{
    MhQemuMigrateEvent *ev = g_new0(MhQemuMigrateEvent, 1);

    ev->proxy = job->mig->proxy;
    ev->event = g_strdup(event);
    ev->data = data;
    /* Runs at once when called on the main loop, so events keep their
     * order relative to the command replies sent from there. */
    g_main_context_invoke(NULL, mhQemuMigrateEmitInMain, ev);
}

void
mhQemuMigrateSetStatus(MhQemuMigrateJob *job, MhQemuMigrateStatus status)
{
    JsonObject *data;

    g_mutex_lock(&job->mig->lock);
    job->status = status;
    g_mutex_unlock(&job->mig->lock);
    /* Once the real QEMU migrates, it announces the statuses itself, but
     * for a failure of ours, whose cancel of its migration the event
     * filter hides. */
    if (job->real_started && status != MH_QEMU_MIGRATE_STATUS_FAILED)
        return;
    data = json_object_new();
    json_object_set_string_member(data, "status", mhQemuMigrateStatusTypeToString(status));
    mhQemuMigrateEmit(job, "MIGRATION", data);
}

unsigned int
mhQemuMigrateStallTimeout(const MhQemuMigrateJob *job)
{
    return job->mig->qemu->conf->migrate_stall_timeout_s;
}

const char *
mhQemuMigrateWaitQemu(MhQemuMigrateJob *job)
{
    gint64 deadline = g_get_monotonic_time() +
        (gint64)mhQemuMigrateStallTimeout(job) * G_USEC_PER_SEC;

    for (;;) {
        g_autofree char *status = g_async_queue_timeout_pop(job->qemu_events, 200 * 1000);

        if (!status) {
            if (g_atomic_int_get(&job->cancel))
                return "cancelled";
            /* The real QEMU never finished its side: as failed. */
            if (g_get_monotonic_time() >= deadline) {
                mhQemuLog("MH migration: the real QEMU reported no end of its migration "
                          "within %u s", mhQemuMigrateStallTimeout(job));
                return "failed";
            }
            continue;
        }
        if (g_str_equal(status, "completed"))
            return "completed";
        if (g_str_equal(status, "failed"))
            return "failed";
        if (g_str_equal(status, "cancelled"))
            return "cancelled";
    }
}

void
mhQemuMigrateSetErrorDesc(MhQemuMigrateJob *job, const GError *error)
{
    g_mutex_lock(&job->mig->lock);
    g_free(job->error_desc);
    job->error_desc = g_strdup(error->message);
    g_mutex_unlock(&job->mig->lock);
}

void
mhQemuMigrateFinish(MhQemuMigrateJob *job, const GError *error)
{
    MhQemuMigrateStatus status = MH_QEMU_MIGRATE_STATUS_COMPLETED;

    if (error) {
        status = g_atomic_int_get(&job->cancel) ? MH_QEMU_MIGRATE_STATUS_CANCELLED
                                                : MH_QEMU_MIGRATE_STATUS_FAILED;
        mhQemuMigrateSetErrorDesc(job, error);
    }
    g_mutex_lock(&job->mig->lock);
    job->end_us = g_get_monotonic_time();
    g_mutex_unlock(&job->mig->lock);
    if (error)
        mhQemuLog("migration %s: %s", mhQemuMigrateStatusTypeToString(status), error->message);
    mhQemuMigrateSetStatus(job, status);
}

/* ---- guest RAM and the MH ---- */

MhMh *
mhQemuMigrateNewMh(MhQemuMigrateJob *job, GError **error)
{
    MhMh *mh = mhQemuMhForMigration(job->mig->qemu, error);
    MhMhInfo info;

    if (!mh)
        return NULL;
    mhMhQuery(mh, &info);
    job->mh_base_saved = info.pages_saved;
    job->mh_base_restored = info.pages_restored;
    job->mh_base_zero = info.zero_pages;
    job->mh_vcpus = info.vcpus;
    mhMhInfoClear(&info);
    return mh;
}

JsonObject *
mhQemuMigrateIgnoreShared(void)
{
    JsonObject *caps = json_object_new();
    JsonArray *list = json_array_new();
    JsonObject *cap = json_object_new();

    json_object_set_string_member(cap, "capability", "x-ignore-shared");
    json_object_set_boolean_member(cap, "state", TRUE);
    json_array_add_object_element(list, cap);
    json_object_set_array_member(caps, "capabilities", list);
    return caps;
}

/* The socket between qemu-mh and the real QEMU lives in the domain's
 * private directory when libvirt started us: libvirt points XDG_CACHE_HOME
 * into it (DOMAIN_LIB_DIR/.cache) and deletes that directory when the
 * domain stops, also after a kill -9 of qemu-mh, which a directory under
 * /tmp would outlive. Elsewhere (by hand, tests) a private /tmp directory. */
bool
mhQemuMigrateLocalPath(MhQemuMigrateJob *job, GError **error)
{
    const char *cache = g_getenv("XDG_CACHE_HOME");
    g_autoptr(GError) err = NULL;

    if (cache && g_path_is_absolute(cache) &&
        strlen(cache) + strlen("/" MH_QEMU_MIGRATE_SOCKET_NAME) <
            sizeof(((struct sockaddr_un *)NULL)->sun_path) &&
        g_mkdir_with_parents(cache, 0700) == 0) {
        job->local_path = g_build_filename(cache, MH_QEMU_MIGRATE_SOCKET_NAME, NULL);
        /* left over from a qemu-mh of this domain that was killed */
        unlink(job->local_path);
        return true;
    }
    if (!(job->tmpdir = g_dir_make_tmp("qemu-mh-migrate-XXXXXX", &err))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create a private directory for the migration: %s"), err->message);
        return false;
    }
    job->local_path = g_build_filename(job->tmpdir, MH_QEMU_MIGRATE_SOCKET_NAME, NULL);
    return true;
}

int
mhQemuMigrateAccept(MhQemuMigrateJob *job, int lfd, const char *what, GError **error)
{
    for (;;) {
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        int fd;

        if (g_atomic_int_get(&job->cancel)) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("migration canceled"));
            return -1;
        }
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            return fd;
        if (errno != EINTR && errno != EAGAIN) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot accept %s: %s"),
                        what, g_strerror(errno));
            return -1;
        }
    }
}

/* ---- the commands ---- */

/* Post-copy would fault pages in on the target from the source, past the
 * MH; multifd splits QEMU's RAM stream, which the MH replaces. Refused in
 * QEMU's words, before anything moves (libvirt reports "internal error:
 * unable to execute QEMU command 'migrate': ..."). */
static bool
mhQemuMigrateCheckCaps(MhQemuMigrate *mig, MhQmpRequest *req)
{
    const char *cap = NULL;

    g_mutex_lock(&mig->lock);
    if (mig->cap_postcopy)
        cap = "postcopy-ram";
    else if (mig->cap_multifd)
        cap = "multifd";
    g_mutex_unlock(&mig->lock);
    if (!cap)
        return true;
    mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                      "the mirror helper migrates with pre-copy over one connection; "
                      "capability '%s' is not supported for this SEV guest", cap);
    return false;
}

void
mhQemuMigrateJobCancel(MhQemuMigrateJob *job)
{
    g_atomic_int_set(&job->cancel, 1);
    g_mutex_lock(&job->mig->lock);
    if (job->connecting)
        g_cancellable_cancel(job->connecting);
    g_mutex_unlock(&job->mig->lock);
}

static gpointer
mhQemuMigrateThreadMain(gpointer data)
{
    MhQemuMigrateJob *job = data;

    job->body(job);
    g_atomic_int_set(&job->thread_done, 1);
    return NULL;
}

static void
mhQemuMigrateJobFree(MhQemuMigrateJob *job)
{
    if (!job)
        return;
    if (job->thread)
        g_thread_join(job->thread);
    g_async_queue_unref(job->qemu_events);
    g_free(job->error_desc);
    g_free(job->tmpdir);
    g_free(job->local_path);
    g_free(job->connect_to);
    g_free(job);
}

static gboolean
mhQemuMigrateFdClose(gpointer key, gpointer value, gpointer data)
{
    close(GPOINTER_TO_INT(value));
    return TRUE;
}

void
mhQemuMigrateClear(MhQemu *qemu)
{
    MhQemuMigrate *mig = qemu->migrate;
    MhQemuMigrateJob *job;

    if (!mig)
        return;
    if ((job = mig->job) && job->thread) {
        /* The thread may wait for the real QEMU's events or for a QMP
         * reply, which the main loop delivers: cancel it and keep the
         * main context turning until it has ended. */
        mhQemuMigrateJobCancel(job);
        g_async_queue_push(job->qemu_events, g_strdup("cancelled"));
        while (!g_atomic_int_get(&job->thread_done)) {
            while (g_main_context_iteration(NULL, FALSE))
                ;
            g_usleep(10 * 1000);
        }
    }
    mhQemuMigrateJobFree(g_steal_pointer(&mig->job));
    g_hash_table_foreach_remove(mig->fds, mhQemuMigrateFdClose, NULL);
    g_hash_table_unref(mig->fds);
    g_hash_table_unref(mig->hooked);
    g_mutex_clear(&mig->lock);
    g_free(mig);
    qemu->migrate = NULL;
}

static MhQemuMigrateJob *
mhQemuMigrateJobNew(MhQemuMigrate *mig, MhQemuMigrateRole role)
{
    MhQemuMigrateJob *job = g_new0(MhQemuMigrateJob, 1);

    job->mig = mig;
    job->role = role;
    job->fd = -1;
    job->listen_fd = -1;
    job->qemu_events = g_async_queue_new_full(g_free);
    job->start_us = g_get_monotonic_time();
    job->ram_total = mhQemuRamGetSize(mig->qemu->ram);
    job->status = MH_QEMU_MIGRATE_STATUS_SETUP;
    /* The previous job's figures stay readable until a new one starts;
     * its thread has ended by then (status final). */
    mhQemuMigrateJobFree(mig->job);
    mig->job = job;
    return job;
}

void
mhQemuCmdMigrate(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhQemuMigrate *mig = mhQemuMigrateGetState(qemu);
    MhQemuMigrateMode mode = mhQemuMigrateGetMode(qemu);
    MhQemuMigrateJob *job;
    const char *uri;
    gpointer fdp;

    if (mode == MH_QEMU_MIGRATE_MODE_PLAIN) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (mode == MH_QEMU_MIGRATE_MODE_BLOCKED) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "%s", MH_QEMU_MIGRATE_SEV_BLOCKER);
        return;
    }
    if (!mhQmpRequestGetString(req, "uri", true, &uri) || !mhQemuMigrateCheckCaps(mig, req))
        return;
    if (mhQemuMigrateJobActive(mig->job)) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "There's a migration process in progress");
        return;
    }
    mhQemuMigrateHook(mig, mhQmpRequestGetProxy(req));
    /* One arm covers one migration. */
    mhQemuMigrateArmTake(qemu);

    job = mhQemuMigrateJobNew(mig, MH_QEMU_MIGRATE_ROLE_SOURCE);
    if (g_str_has_prefix(uri, "fd:")) {
        if (!g_hash_table_lookup_extended(mig->fds, uri + 3, NULL, &fdp)) {
            job->status = MH_QEMU_MIGRATE_STATUS_NONE;
            /* Tunnelled migration hands QEMU a pipe, which cannot carry
             * the MH handshake's replies. */
            mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                              "File descriptor named '%s' has not been found or is not a "
                              "connected socket (the mirror helper migrates over a direct "
                              "connection, not a tunnelled one)", uri + 3);
            return;
        }
        job->fd = GPOINTER_TO_INT(fdp);
        g_hash_table_remove(mig->fds, uri + 3);
    } else if (g_str_has_prefix(uri, "tcp:")) {
        /* Connected by the migration thread, as QEMU connects
         * asynchronously: the main loop (QMP) never waits for a peer. */
        job->connect_to = g_strdup(uri + 4);
    } else {
        job->status = MH_QEMU_MIGRATE_STATUS_NONE;
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "the mirror helper migrates over 'fd:' or 'tcp:' URIs, not '%s'", uri);
        return;
    }
    if (job->fd >= 0)
        g_unix_set_fd_nonblocking(job->fd, FALSE, NULL);
    /* QEMU emits "setup" before it answers. */
    mhQemuMigrateSetStatus(job, MH_QEMU_MIGRATE_STATUS_SETUP);
    mhQmpRequestReturn(req, NULL);
    job->body = mhQemuMigrateSourceThread;
    job->thread = g_thread_new("mh-migrate-src", mhQemuMigrateThreadMain, job);
}

/* 'uri' is "tcp:HOST:PORT" (migrate-incoming refused anything else). */
static int
mhQemuMigrateListen(const char *uri, GError **error)
{
    g_autoptr(GSocketAddressEnumerator) en = NULL;
    g_autoptr(GSocketConnectable) addr = NULL;
    g_autoptr(GSocketAddress) sa = NULL;
    g_autoptr(GSocket) sock = NULL;

    if (!(addr = g_network_address_parse(uri + 4, 0, error)))
        return -1;
    en = g_socket_connectable_enumerate(addr);
    if (!(sa = g_socket_address_enumerator_next(en, NULL, error)))
        return -1;
    if (!(sock = g_socket_new(g_socket_address_get_family(sa), G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_TCP, error)))
        return -1;
    if (g_socket_address_get_family(sa) == G_SOCKET_FAMILY_IPV6) {
        int off = 0;

        /* "[::]" takes IPv4 connections too, as QEMU's listener does. */
        setsockopt(g_socket_get_fd(sock), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    }
    if (!g_socket_bind(sock, sa, TRUE, error) || !g_socket_listen(sock, error))
        return -1;
    return dup(g_socket_get_fd(sock));
}

static void
mhQemuMigrateIncomingStarted(MhQmpProxy *proxy, JsonObject *reply, gpointer data)
{
    /* Only for ordering: the real QEMU listens before libvirt hears back. */
}

void
mhQemuCmdMigrateIncoming(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhQemuMigrate *mig = mhQemuMigrateGetState(qemu);
    g_autoptr(GError) err = NULL;
    MhQemuMigrateJob *job;
    const char *uri;
    int lfd;

    /* Arming (mode=on-request) is the source's decision: an SEV guest can
     * only ever arrive through the MH, so the target takes that path
     * whenever it has a helper, whatever the mode. */
    if (!qemu->args->sev || !qemu->args->helper || !qemu->ram) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (!mhQmpRequestGetString(req, "uri", true, &uri) || !mhQemuMigrateCheckCaps(mig, req))
        return;
    /* A second one would join the running job's thread on the main loop,
     * which that thread needs for its QMP calls: refused, as QEMU does. */
    if (mhQemuMigrateJobActive(mig->job)) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "The incoming migration has already been started");
        return;
    }
    if (!g_str_has_prefix(uri, "tcp:")) {
        /* libvirt's tunnelled migration hands QEMU a pipe ("fd:N"). */
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "the mirror helper receives migrations over a direct 'tcp:' "
                          "connection, not '%s' (tunnelled migration is not supported)", uri);
        return;
    }
    mhQemuMigrateHook(mig, mhQmpRequestGetProxy(req));
    if ((lfd = mhQemuMigrateListen(uri, &err)) < 0) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR, "Failed to bind socket: %s", err->message);
        return;
    }
    job = mhQemuMigrateJobNew(mig, MH_QEMU_MIGRATE_ROLE_TARGET);
    job->listen_fd = lfd;
    if (!mhQemuMigrateLocalPath(job, &err)) {
        close(lfd);
        job->listen_fd = -1;
        job->status = MH_QEMU_MIGRATE_STATUS_NONE;
        mhQmpRequestErrorGError(req, err);
        return;
    }
    /* The real QEMU takes the device state only; RAM arrives through the
     * MH. It announces "setup" itself when it starts listening. */
    job->real_started = true;
    mhQmpProxyExecute(mhQmpRequestGetProxy(req), "migrate-set-capabilities",
                      mhQemuMigrateIgnoreShared(), NULL, NULL);
    {
        JsonObject *args = json_object_new();
        g_autofree char *luri = g_strdup_printf("unix:%s", job->local_path);

        json_object_set_string_member(args, "uri", luri);
        mhQmpProxyExecute(mhQmpRequestGetProxy(req), "migrate-incoming", args,
                          mhQemuMigrateIncomingStarted, NULL);
    }
    mhQmpRequestReturn(req, NULL);
    job->body = mhQemuMigrateTargetThread;
    job->thread = g_thread_new("mh-migrate-dst", mhQemuMigrateThreadMain, job);
}

void
mhQemuCmdMigrateCancel(MhQmpRequest *req, gpointer opaque)
{
    MhQemuMigrate *mig = mhQemuMigrateGetState(opaque);
    MhQemuMigrateJob *job = mig->job;

    if (!mhQemuMigrateJobActive(job)) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    mhQemuMigrateJobCancel(job);
    if (job->real_started && job->role == MH_QEMU_MIGRATE_ROLE_SOURCE) {
        /* The real QEMU cancels its part and reports it. */
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    mhQemuMigrateSetStatus(job, MH_QEMU_MIGRATE_STATUS_CANCELLING);
    mhQmpRequestReturn(req, NULL);
}

void
mhQemuCmdMigrateSetCapabilities(MhQmpRequest *req, gpointer opaque)
{
    MhQemuMigrate *mig = mhQemuMigrateGetState(opaque);
    JsonObject *args = mhQmpRequestGetArguments(req);
    JsonArray *caps = args && json_object_has_member(args, "capabilities") ?
        json_object_get_array_member(args, "capabilities") : NULL;

    for (guint i = 0; caps && i < json_array_get_length(caps); i++) {
        JsonObject *c = json_array_get_object_element(caps, i);
        const char *name = c && json_object_has_member(c, "capability") ?
            json_object_get_string_member(c, "capability") : NULL;
        bool state = c && json_object_has_member(c, "state") &&
            json_object_get_boolean_member(c, "state");

        g_mutex_lock(&mig->lock);
        if (g_strcmp0(name, "postcopy-ram") == 0)
            mig->cap_postcopy = state;
        else if (g_strcmp0(name, "multifd") == 0)
            mig->cap_multifd = state;
        g_mutex_unlock(&mig->lock);
    }
    /* QEMU checks the rest (and the arguments' shape). */
    mhQmpRequestForward(req, NULL, NULL);
}

void
mhQemuCmdMigrateSetParameters(MhQmpRequest *req, gpointer opaque)
{
    MhQemuMigrate *mig = mhQemuMigrateGetState(opaque);
    guint64 value;
    bool present = false;

    /* Read what the MH phase honours, then let QEMU have them all. */
    if (!mhQmpRequestGetUInt(req, "downtime-limit", false, &present, &value))
        return;
    if (present) {
        g_mutex_lock(&mig->lock);
        mig->downtime_limit_ms = value;
        g_mutex_unlock(&mig->lock);
    }
    present = false;
    if (!mhQmpRequestGetUInt(req, "max-bandwidth", false, &present, &value))
        return;
    if (present) {
        g_mutex_lock(&mig->lock);
        /* libvirt's "unlimited" is INT64_MAX rounded to MiB. */
        mig->max_bandwidth = value >= (G_MAXINT64 / 2) ? 0 : value;
        g_mutex_unlock(&mig->lock);
    }
    mhQmpRequestForward(req, NULL, NULL);
}

/* ---- getfd/closefd: keep libvirt's migration connection ---- */

/* libvirt connects the migration socket itself and hands it over with
 * "getfd migrate": for an MH migration qemu-mh keeps it (the real QEMU
 * never sees it) and answers as QEMU would. */
void
mhQemuCmdGetfd(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhQemuMigrate *mig;
    g_autoptr(GArray) fds = NULL;
    const char *name;
    gpointer old;
    int fd;

    if (mhQemuMigrateGetMode(qemu) != MH_QEMU_MIGRATE_MODE_HELPER) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (!mhQmpRequestGetString(req, "fdname", true, &name))
        return;
    if (!g_str_equal(name, "migrate")) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    fds = mhQmpRequestTakeFds(req);
    if (!fds || fds->len == 0) {
        mhQmpRequestError(req, MH_QMP_GENERIC_ERROR,
                          "No file descriptor supplied via SCM_RIGHTS");
        return;
    }
    /* QEMU keeps the last one of several; so do we. */
    for (guint i = 0; i + 1 < fds->len; i++)
        close(g_array_index(fds, int, i));
    fd = g_array_index(fds, int, fds->len - 1);
    mig = mhQemuMigrateGetState(qemu);
    /* A connection libvirt gave for an earlier attempt that never got
     * its "migrate". */
    if (g_hash_table_lookup_extended(mig->fds, name, NULL, &old))
        close(GPOINTER_TO_INT(old));
    g_hash_table_replace(mig->fds, g_strdup(name), GINT_TO_POINTER(fd));
    mhQmpRequestReturn(req, NULL);
}

/* libvirt closes the named fd when "migrate" failed before using it. */
void
mhQemuCmdClosefd(MhQmpRequest *req, gpointer opaque)
{
    MhQemu *qemu = opaque;
    MhQemuMigrate *mig;
    const char *name;
    gpointer old;

    if (mhQemuMigrateGetMode(qemu) != MH_QEMU_MIGRATE_MODE_HELPER) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    if (!mhQmpRequestGetString(req, "fdname", true, &name))
        return;
    mig = mhQemuMigrateGetState(qemu);
    if (!g_hash_table_lookup_extended(mig->fds, name, NULL, &old)) {
        mhQmpRequestForward(req, NULL, NULL);
        return;
    }
    close(GPOINTER_TO_INT(old));
    g_hash_table_remove(mig->fds, name);
    mhQmpRequestReturn(req, NULL);
}
