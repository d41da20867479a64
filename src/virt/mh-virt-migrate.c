/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration with a progress bar; see mh-virt-migrate.h. */
#include "virt/mh-virt-migrate.h"

#include "conf/mh-conf.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#define MH_MIGRATE_POLL_MS 200
#define MH_MIGRATE_STATS_MS 500
/* Without a terminal, a progress line at most this often. */
#define MH_MIGRATE_LINE_MS 2000
#define MH_MIGRATE_BAR_WIDTH 30

char *
mhMigrateFormatBytes(uint64_t bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = bytes;
    size_t u = 0;

    while (v >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        v /= 1024;
        u++;
    }
    return u == 0 ? g_strdup_printf("%" PRIu64 " B", bytes)
                  : g_strdup_printf("%.1f %s", v, units[u]);
}

/* ---- the helper ---------------------------------------------------------- */

/* Whether a reply of MH_CONF_QMP_ARM_COMMAND says {"return":{"armed":true}}. */
static bool
mhMigrateArmReplyArmed(const char *reply)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root, *ret;

    if (!json_parser_load_from_data(parser, reply, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(ret = json_object_get_member(json_node_get_object(root), "return")) ||
        !JSON_NODE_HOLDS_OBJECT(ret))
        return false;
    return json_object_get_boolean_member_with_default(json_node_get_object(ret), "armed",
                                                       FALSE);
}

bool
mhMigrateArmHelper(virDomainPtr dom, const char **mode, GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = NULL;
    g_autofree char *result = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) def = NULL;
    const char *cmd = "{\"execute\":\"" MH_CONF_QMP_ARM_COMMAND "\"}";

    if (virDomainIsActive(dom) != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("domain '%s' is not running"), name);
        return false;
    }
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        mhVirtSetError(error, _("cannot read the domain XML"));
        return false;
    }
    def = mhConfDomainCheck(xml, name, problems);
    if (!def || !def->has_sev) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--sev-helper: domain '%s' is not an SEV domain (no <launchSecurity "
                      "type='sev'>); migrate it without --sev-helper"), name);
        return false;
    }
    if (def->helper_count == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--sev-helper: domain '%s' has no mirror helper (no <mh:helper> in "
                      "its <metadata>); enable it with 'virt-mh enable %s' and restart the "
                      "domain"), name, name);
        return false;
    }
    if (!def->helper) {
        mhConfProblemsToError(problems, error);
        mhErrorPrefix(error, _("--sev-helper: the mirror helper of domain '%s' is not "
                               "usable: "), name);
        return false;
    }
    if (!def->qemu_objects || def->qemu_objects->len == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("--sev-helper: the running domain '%s' was started without the "
                      "\"-object %s\" argument, so its QEMU has no migration handler; run "
                      "'virt-mh enable %s' and restart the domain"),
                    name, MH_CONF_QEMU_OBJECT_TYPE, name);
        return false;
    }
    if (mode)
        *mode = mhConfModeTypeToString(def->helper->mode);
    /* mode=auto: every migration uses the helper, nothing to arm. */
    if (def->helper->mode != MH_CONF_MODE_ON_REQUEST)
        return true;
    if (virDomainQemuMonitorCommand(dom, cmd, &result, 0) < 0) {
        g_autofree char *ctx = g_strdup_printf(_("cannot arm the mirror helper of domain "
                                                 "'%s' (QMP %s)"),
                                               name, MH_CONF_QMP_ARM_COMMAND);
        mhVirtSetError(error, ctx);
        return false;
    }
    if (!mhMigrateArmReplyArmed(result)) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("the mirror helper of domain '%s' did not arm: %s"), name, result);
        return false;
    }
    return true;
}

void
mhMigrateDisarmHelper(virDomainPtr dom)
{
    g_autofree char *result = NULL;

    virDomainQemuMonitorCommand(dom, "{\"execute\":\"" MH_CONF_QMP_ARM_COMMAND "\","
                                     "\"arguments\":{\"armed\":false}}", &result, 0);
}

/* ---- statistics ---------------------------------------------------------- */

static bool
mhMigrateReadStats(virDomainPtr dom, unsigned int flags, MhMigrateStats *st, int *type)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned long long v;

    if (virDomainGetJobStats(dom, type, &params, &nparams, flags) < 0)
        return false;
    if (*type == VIR_DOMAIN_JOB_NONE) {
        virTypedParamsFree(params, nparams);
        return false;
    }
#define MH_GET(key, field) \
    if (virTypedParamsGetULLong(params, nparams, key, &v) == 1) \
        st->field = v
    MH_GET(VIR_DOMAIN_JOB_TIME_ELAPSED, time_elapsed_ms);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_TOTAL, memory_total);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_PROCESSED, memory_processed);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_REMAINING, memory_remaining);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_ITERATION, memory_iteration);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_BPS, memory_bps);
    MH_GET(VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, memory_dirty_rate);
    MH_GET(VIR_DOMAIN_JOB_DATA_PROCESSED, data_processed);
#undef MH_GET
    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1) {
        st->downtime_ms = v;
        st->have_downtime = true;
    }
    st->have_stats = true;
    virTypedParamsFree(params, nparams);
    return true;
}

void
mhMigrateStatsPrint(const MhMigrateStats *st, FILE *out)
{
    g_autofree char *total = mhMigrateFormatBytes(st->memory_total);
    g_autofree char *processed = mhMigrateFormatBytes(st->memory_processed);
    g_autofree char *bps = mhMigrateFormatBytes(st->memory_bps);
    double secs = st->time_elapsed_ms ? st->time_elapsed_ms / 1000.0 : st->wall_s;
    g_autofree char *avg = mhMigrateFormatBytes(secs > 0 ? st->memory_processed / secs : 0);

    fprintf(out, _("  time:        %.2f s (migration call %.2f s)\n"), secs, st->wall_s);
    if (!st->have_stats) {
        fprintf(out, _("  (libvirt reported no job statistics)\n"));
        return;
    }
    fprintf(out, _("  memory:      %s processed of %s, %" PRIu64 " iteration(s)\n"),
                 processed, total, st->memory_iteration);
    fprintf(out, _("  throughput:  %s/s average, %s/s last reported\n"), avg, bps);
    if (st->have_downtime)
        fprintf(out, _("  downtime:    %" PRIu64 " ms\n"), st->downtime_ms);
    else
        fprintf(out, _("  downtime:    not reported by libvirt\n"));
    fprintf(out, _("  (%s)\n"), st->completed_stats ? _("libvirt's completed-job statistics")
                                                    : _("last statistics polled during the "
                                                        "migration"));
}

/* ---- the migration call -------------------------------------------------- */

typedef struct {
    virDomainPtr dom;
    const MhMigrateOptions *opts;
    virTypedParameterPtr params;
    int nparams;
    unsigned int flags;
    virDomainPtr ddom;          /* client-managed result */
    gint done;
    bool ok;
    char *error;
} MhMigrateCall;

static gpointer
mhMigrateThread(gpointer data)
{
    MhMigrateCall *call = data;
    int rc;

    if (call->opts->p2p) {
        rc = virDomainMigrateToURI3(call->dom, call->opts->dest_uri, call->params,
                                    call->nparams, call->flags);
    } else {
        call->ddom = virDomainMigrate3(call->dom, call->opts->dconn, call->params,
                                       call->nparams, call->flags);
        rc = call->ddom ? 0 : -1;
    }
    call->ok = rc == 0;
    if (!call->ok) {
        /* libvirt's last error is per thread: read it here. */
        const char *msg = virGetLastErrorMessage();
        call->error = g_strdup(msg ? msg : _("unknown libvirt error"));
    }
    g_atomic_int_set(&call->done, 1);
    return NULL;
}

static void
mhMigrateDrawProgress(const MhMigrateStats *st, bool tty, bool final)
{
    uint64_t total = st->memory_total;
    uint64_t remaining = MIN(st->memory_remaining, total);
    int pct = total ? (int)((total - remaining) * 100 / total) : 0;
    int fill = pct * MH_MIGRATE_BAR_WIDTH / 100;
    char bar[MH_MIGRATE_BAR_WIDTH + 1];
    g_autofree char *done = mhMigrateFormatBytes(st->memory_processed);
    g_autofree char *rate = mhMigrateFormatBytes(st->memory_bps);

    if (final)
        pct = 100, fill = MH_MIGRATE_BAR_WIDTH;
    memset(bar, '#', fill);
    memset(bar + fill, '.', MH_MIGRATE_BAR_WIDTH - fill);
    bar[MH_MIGRATE_BAR_WIDTH] = '\0';
    printf(_("%sMigration: [%s] %3d %%  pass %" PRIu64 ", %s sent, %s/s   %s"),
           tty ? "\r" : "", bar, pct, st->memory_iteration, done, rate, tty ? "" : "\n");
    fflush(stdout);
}

static bool
mhMigrateBuildParams(const MhMigrateOptions *opts, MhMigrateCall *call, GError **error)
{
    int maxparams = 0;

    if ((opts->migrate_uri &&
         virTypedParamsAddString(&call->params, &call->nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_URI, opts->migrate_uri) < 0) ||
        (opts->dest_xml &&
         virTypedParamsAddString(&call->params, &call->nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_DEST_XML, opts->dest_xml) < 0) ||
        (opts->persist_xml &&
         virTypedParamsAddString(&call->params, &call->nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_PERSIST_XML, opts->persist_xml) < 0) ||
        (opts->listen_address &&
         virTypedParamsAddString(&call->params, &call->nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_LISTEN_ADDRESS, opts->listen_address) < 0)) {
        mhVirtSetError(error, _("cannot build the migration parameters"));
        return false;
    }
    call->flags = 0;
    if (opts->p2p)
        call->flags |= VIR_MIGRATE_PEER2PEER;
    if (opts->live)
        call->flags |= VIR_MIGRATE_LIVE;
    if (opts->persistent)
        call->flags |= VIR_MIGRATE_PERSIST_DEST;
    if (opts->undefine_source)
        call->flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
    return true;
}

bool
mhMigrateRun(virDomainPtr dom, const MhMigrateOptions *opts, MhMigrateStats *stats,
             virDomainPtr *ddom, GError **error)
{
    MhMigrateCall call = { .dom = dom, .opts = opts };
    g_autoptr(GError) tick_error = NULL;
    g_autofree char *timeout_msg = NULL;
    GThread *thread;
    gint64 start = g_get_monotonic_time();
    gint64 last_stats = 0, last_line = 0;
    unsigned char uuid[VIR_UUID_BUFLEN];
    bool tty = isatty(STDOUT_FILENO);
    bool aborted = false;
    bool drew = false;
    bool ok = false;
    int type = 0;

    memset(stats, 0, sizeof(*stats));
    if (ddom)
        *ddom = NULL;
    if (!opts->p2p && !opts->dconn) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("a client-managed migration needs a connection to the destination"));
        return false;
    }
    if (virDomainGetUUID(dom, uuid) < 0) {
        mhVirtSetError(error, _("cannot read the domain UUID"));
        return false;
    }
    if (!mhMigrateBuildParams(opts, &call, error))
        goto cleanup;

    thread = g_thread_new("virt-mh-migrate", mhMigrateThread, &call);
    while (!g_atomic_int_get(&call.done)) {
        gint64 now = g_get_monotonic_time();

        g_usleep(MH_MIGRATE_POLL_MS * 1000);
        if (g_atomic_int_get(&call.done))
            break;
        if (!aborted && opts->tick && !opts->tick(opts->tick_data, &tick_error)) {
            aborted = true;
            virDomainAbortJob(dom);
            continue;
        }
        if (!aborted && opts->timeout &&
            now - start > (gint64)opts->timeout * G_USEC_PER_SEC) {
            aborted = true;
            timeout_msg = g_strdup_printf(_("the migration did not finish within %u s "
                                            "(--timeout); aborted"), opts->timeout);
            virDomainAbortJob(dom);
            continue;
        }
        if (now - last_stats >= MH_MIGRATE_STATS_MS * 1000) {
            MhMigrateStats cur = { 0 };

            last_stats = now;
            if (mhMigrateReadStats(dom, 0, &cur, &type) && cur.memory_total) {
                *stats = cur;
                if (opts->progress && (tty || now - last_line >= MH_MIGRATE_LINE_MS * 1000)) {
                    last_line = now;
                    mhMigrateDrawProgress(stats, tty, false);
                    drew = true;
                }
            }
        }
    }
    g_thread_join(thread);
    stats->wall_s = (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;

    if (!call.ok) {
        if (drew && tty)
            printf("\n");
        if (tick_error) {
            g_propagate_prefixed_error(error, g_steal_pointer(&tick_error), "%s",
                                       _("migration aborted: "));
        } else if (timeout_msg) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, "%s (%s)", timeout_msg, call.error);
        } else {
            g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT, _("migration failed: %s"),
                        call.error);
        }
        goto cleanup;
    }

    /* The figures of the whole job: libvirt keeps them on the destination
     * (sent in the migration cookie) and on a source that stays defined. */
    {
        MhMigrateStats done = { 0 };
        virDomainPtr d = call.ddom;
        bool got = false;

        if (!d && opts->dconn)
            d = virDomainLookupByUUID(opts->dconn, uuid);
        if (d)
            got = mhMigrateReadStats(d, VIR_DOMAIN_JOB_STATS_COMPLETED, &done, &type);
        if (!got)
            got = mhMigrateReadStats(dom, VIR_DOMAIN_JOB_STATS_COMPLETED, &done, &type);
        if (got && done.memory_total) {
            done.wall_s = stats->wall_s;
            done.completed_stats = true;
            *stats = done;
        }
        if (ddom)
            *ddom = d;
        else if (d)
            virDomainFree(d);
        call.ddom = NULL;
    }
    if (opts->progress && (drew || stats->have_stats)) {
        mhMigrateDrawProgress(stats, tty, true);
        if (tty)
            printf("\n");
    }
    ok = true;

 cleanup:
    if (call.ddom)
        virDomainFree(call.ddom);
    virTypedParamsFree(call.params, call.nparams);
    g_free(call.error);
    return ok;
}
