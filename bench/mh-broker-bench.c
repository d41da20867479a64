/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key broker under load (issue 14): complete attestations against a
 * running broker, each a real launch of the simulated PSP: bundle for its
 * platform, LAUNCH_START with the bundle's session, measurement, secret,
 * LAUNCH_SECRET opened and the migration key found in it.
 *   mh-broker-bench --url URL --token FILE [--cacert FILE] [--pid PID]
 *                   [--serial N] [--parallel N]
 * N in a row, then N at once (one client each); every error counted; the
 * broker's resident memory and open files read from /proc/PID before,
 * after warm-up and at the end. The baseline, measured in the same run,
 * is the same attestation done by the owner library in-process (session,
 * launch, verify, seal, open; no HTTP, no database), so the ratio is what
 * the broker adds. */
#include "broker/mh-broker-client.h"
#include "broker/mh-broker-launch.h"
#include "owner/mh-sev-owner.h"
#include "owner/mh-sev-secret.h"
#include "sim/psp/mh-sev-platform.h"
#include "util/mh-error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRMWARE "mh-broker-bench firmware image"
#define POLICY 0x0001

typedef struct {
    const char *url, *token, *cacert;
    MhSevPlatform *platform;
    MhSevChain *chain;
    char *uuid;
    gint errors;
} Bench;

typedef struct {
    MhSevLaunch *launch;
    bool key_found;
} SimLaunch;

/* The simulated PSP is one device: its calls are serialized, as the real
 * PSP's are; the broker's requests still run concurrently. */
static GMutex simLock;

static bool
simReport(gpointer data, MhOwnerLaunchReport *report, GError **error)
{
    SimLaunch *l = data;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&simLock);

    report->build = mhSevLaunchGetBuild(l->launch);
    report->policy = mhSevLaunchGetPolicy(l->launch);
    if (!mhSevLaunchGetMeasurement(l->launch, report->measurement))
        return mhSevLaunchMeasure(l->launch, report->measurement, error);
    return true;
}

static bool
simInject(gpointer data, const char *header_b64, const char *secret_b64, const uint64_t *gpa,
          GError **error)
{
    SimLaunch *l = data;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&simLock);
    g_autoptr(GBytes) h = NULL, c = NULL, plain = NULL;
    g_autoptr(MhSecret) key = NULL;
    uint32_t id;

    if (!mhUtilDecodeBase64("header", header_b64, &h, error) ||
        !mhUtilDecodeBase64("secret", secret_b64, &c, error) ||
        !mhSevLaunchSecret(l->launch, h, c, &plain, error) ||
        !mhSevMigrationKeyFind(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), &key,
                               &id, error))
        return false;
    l->key_found = true;
    return true;
}

static const MhOwnerLaunchOps simOps = { simReport, simInject };

/* One attestation through the broker; its duration in ms, < 0 on error. */
static double
attestOnce(Bench *b, MhBrokerClient *client)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) godh = NULL, session = NULL;
    MhBrokerBundle bundle = { 0 };
    SimLaunch sl = { NULL, false };
    MhOwnerLaunch launch = { &simOps, &sl };
    MhOwnerLaunchReport report;
    gint64 t0 = g_get_monotonic_time();
    bool ok;

    ok = mhBrokerRequestBundle(client, b->uuid, b->chain, NULL, &bundle, &err) &&
        mhUtilDecodeBase64("godh", bundle.godh_b64, &godh, &err) &&
        mhUtilDecodeBase64("session", bundle.session_b64, &session, &err);
    if (ok) {
        g_mutex_lock(&simLock);
        ok = (sl.launch = mhSevLaunchStart(b->platform, bundle.policy, godh, session, &err)) &&
            mhSevLaunchUpdateData(sl.launch, FIRMWARE, strlen(FIRMWARE), &err);
        g_mutex_unlock(&simLock);
    }
    ok = ok && mhBrokerAttestInject(client, bundle.launch_id, &launch, &report, &err) &&
        sl.key_found;
    mhBrokerBundleClear(&bundle);
    mhSevLaunchFree(sl.launch);
    if (!ok) {
        g_atomic_int_inc(&b->errors);
        fprintf(stderr, "attestation failed: %s\n", err ? err->message : "no key");
        return -1;
    }
    return (g_get_monotonic_time() - t0) / 1000.0;
}

/* The same attestation with the owner library in-process: the baseline. */
static double
attestInProcess(Bench *b, const MhSecret *key, const uint8_t digest[MH_SEV_DIGEST_SIZE])
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSevOwnerSession) s = NULL;
    g_autoptr(GBytes) godh = NULL, session = NULL, sealed = NULL, plain = NULL, hb = NULL;
    g_autoptr(MhSevLaunch) launch = NULL;
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) built = NULL, found = NULL;
    uint8_t meas[MH_SEV_MEASUREMENT_SIZE], header[MH_SEV_PACKET_HEADER_SIZE];
    MhSevBuild build;
    uint32_t id;
    gint64 t0 = g_get_monotonic_time();

    if (!(s = mhSevOwnerSessionNew(b->chain->pdh, POLICY, &err)))
        goto fail;
    godh = mhSevCertToBytes(s->godh);
    session = g_bytes_new(&s->session, sizeof(s->session));
    if (!(launch = mhSevLaunchStart(b->platform, POLICY, godh, session, &err)) ||
        !mhSevLaunchUpdateData(launch, FIRMWARE, strlen(FIRMWARE), &err) ||
        !mhSevLaunchMeasure(launch, meas, &err))
        goto fail;
    build = mhSevLaunchGetBuild(launch);
    if (!mhSevOwnerVerify(s->tk, &build, POLICY, digest, meas, sizeof(meas), &err) ||
        !mhSevSecretTableAddMigrationKey(table, key, &err) ||
        !(built = mhSevSecretTableBuild(table, &err)) ||
        !mhSevOwnerSeal(s->tk, meas, sizeof(meas), built->data, built->len, NULL, header,
                        &sealed, &err))
        goto fail;
    hb = g_bytes_new(header, sizeof(header));
    if (!mhSevLaunchSecret(launch, hb, sealed, &plain, &err) ||
        !mhSevMigrationKeyFind(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), &found,
                               &id, &err))
        goto fail;
    return (g_get_monotonic_time() - t0) / 1000.0;
 fail:
    fprintf(stderr, "in-process attestation failed: %s\n", err ? err->message : "?");
    exit(1);
}

static void
procFigures(int pid, long *rss_kib, int *fds)
{
    g_autofree char *status = NULL;
    g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
    g_autofree char *fd_dir = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) d = NULL;
    const char *p;

    *rss_kib = -1;
    *fds = -1;
    if (pid <= 0)
        return;
    if (g_file_get_contents(path, &status, NULL, NULL) && (p = strstr(status, "VmRSS:")))
        *rss_kib = strtol(p + 6, NULL, 10);
    if ((d = g_dir_open(fd_dir, 0, NULL))) {
        *fds = 0;
        while (g_dir_read_name(d))
            (*fds)++;
    }
}

static int
cmpDouble(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
printStats(const char *what, double *ms, int n, double baseline)
{
    double sum = 0;

    qsort(ms, n, sizeof(*ms), cmpDouble);
    for (int i = 0; i < n; i++)
        sum += ms[i];
    printf("%-28s n=%-4d median %7.2f ms  p95 %7.2f ms  max %7.2f ms  mean %7.2f ms",
           what, n, ms[n / 2], ms[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1], ms[n - 1],
           sum / n);
    if (baseline > 0)
        printf("  (x%.1f the in-process baseline)", ms[n / 2] / baseline);
    printf("\n");
}

typedef struct {
    Bench *b;
    double ms;
    GMutex *go;
} Worker;

static gpointer
workerRun(gpointer data)
{
    Worker *w = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(MhBrokerClient) client = mhBrokerClientNew(w->b->url, w->b->cacert, NULL, 30, &err);

    /* All start together: the main thread holds 'go' until every worker
     * has its client. */
    g_mutex_lock(w->go);
    g_mutex_unlock(w->go);
    w->ms = client ? attestOnce(w->b, client) : -1;
    if (!client)
        g_atomic_int_inc(&w->b->errors);
    return NULL;
}

static void
setUp(Bench *b, const MhSecret *key, uint8_t digest[MH_SEV_DIGEST_SIZE], char **dir)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhBrokerClient) admin = NULL;
    g_autoptr(JsonObject) body = json_object_new();
    g_autoptr(JsonObject) guest = json_object_new();
    g_autoptr(JsonObject) r1 = NULL, r2 = NULL;
    g_autoptr(GBytes) fw = g_bytes_new_static(FIRMWARE, strlen(FIRMWARE));
    g_autofree char *pdh = NULL, *chain = NULL, *hex = NULL, *key_b64 = NULL;
    uint8_t uuid[16];

    *dir = g_dir_make_tmp("mh-broker-bench-XXXXXX", &err);
    if (!*dir || !(b->platform = mhSevPlatformLoadOrCreate(*dir, &err)) ||
        !(b->chain = mhSevChainParse((pdh = mhSevPlatformGetPdhBase64(b->platform)),
                                     (chain = mhSevPlatformGetCertChainBase64(b->platform)),
                                     &err)) ||
        !(admin = mhBrokerClientNew(b->url, b->cacert, b->token, 30, &err)) ||
        !mhSevOwnerLaunchDigest(fw, NULL, digest, &err) || !mhUtilRandom(uuid, 16, &err)) {
        fprintf(stderr, "setup: %s\n", err->message);
        exit(1);
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    b->uuid = mhUtilGuidFormat(uuid);
    hex = mhUtilFormatHex(digest, MH_SEV_DIGEST_SIZE);
    key_b64 = g_base64_encode(key->data, key->len);
    json_object_set_string_member(body, "pdh", pdh);
    json_object_set_string_member(body, "cert_chain", chain);
    json_object_set_string_member(guest, "uuid", b->uuid);
    json_object_set_int_member(guest, "policy", POLICY);
    json_object_set_string_member(guest, "firmware_digest", hex);
    json_object_set_string_member(guest, "migration_key", key_b64);
    if (!(r1 = mhBrokerClientCall(admin, "POST", "/admin/v1/platforms", body, &err)) ||
        !(r2 = mhBrokerClientCall(admin, "POST", "/admin/v1/guests", guest, &err))) {
        fprintf(stderr, "setup: %s\n", err->message);
        exit(1);
    }
}

int
main(int argc, char **argv)
{
    Bench b = { 0 };
    int serial = 200, parallel = 20, pid = 0;
    GOptionEntry entries[] = {
        { "url", 0, 0, G_OPTION_ARG_STRING, &b.url, "broker URL", "URL" },
        { "token", 0, 0, G_OPTION_ARG_FILENAME, &b.token, "admin token file", "FILE" },
        { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &b.cacert, "CA file", "FILE" },
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid, "the broker's pid (memory, files)", "PID" },
        { "serial", 0, 0, G_OPTION_ARG_INT, &serial, "attestations in a row", "N" },
        { "parallel", 0, 0, G_OPTION_ARG_INT, &parallel, "attestations at once", "N" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- load the key broker");
    g_autoptr(GError) err = NULL;
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autoptr(MhBrokerClient) client = NULL;
    g_autofree char *dir = NULL, *rm = NULL;
    uint8_t digest[MH_SEV_DIGEST_SIZE];
    double base[20], *ms, base_median;
    long rss0, rss1, rss2, rss3;
    int fd0, fd1, fd2, fd3;
    GMutex go;
    gint64 t0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || !b.url || !b.token ||
        serial < 20 || parallel < 1) {
        fprintf(stderr, "usage: mh-broker-bench --url URL --token FILE [--cacert FILE] "
                "[--pid PID] [--serial N>=20] [--parallel N]\n");
        return 2;
    }
    memset(key->data, 0x42, key->len);
    setUp(&b, key, digest, &dir);
    for (int i = 0; i < 20; i++)
        base[i] = attestInProcess(&b, key, digest);
    qsort(base, 20, sizeof(double), cmpDouble);
    base_median = base[10];
    printStats("in-process (baseline)", base, 20, 0);

    client = mhBrokerClientNew(b.url, b.cacert, NULL, 30, &err);
    procFigures(pid, &rss0, &fd0);
    ms = g_new0(double, serial);
    for (int i = 0; i < serial; i++) {
        ms[i] = attestOnce(&b, client);
        if (i == 19)
            procFigures(pid, &rss1, &fd1);
    }
    procFigures(pid, &rss2, &fd2);
    printStats("broker, one at a time", ms, serial, base_median);

    g_mutex_init(&go);
    g_mutex_lock(&go);
    {
        g_autofree Worker *w = g_new0(Worker, parallel);
        g_autofree GThread **t = g_new0(GThread *, parallel);
        double *pm = g_new0(double, parallel);

        for (int i = 0; i < parallel; i++) {
            w[i] = (Worker){ &b, 0, &go };
            t[i] = g_thread_new("attest", workerRun, &w[i]);
        }
        g_usleep(200000);
        t0 = g_get_monotonic_time();
        g_mutex_unlock(&go);
        for (int i = 0; i < parallel; i++) {
            g_thread_join(t[i]);
            pm[i] = w[i].ms;
        }
        printf("%d at once: all done in %.1f ms\n", parallel,
               (g_get_monotonic_time() - t0) / 1000.0);
        printStats("broker, at once", pm, parallel, base_median);
        g_free(pm);
    }
    procFigures(pid, &rss3, &fd3);
    printf("errors: %d\n", g_atomic_int_get(&b.errors));
    if (pid > 0)
        printf("broker pid %d: RSS %ld -> %ld (after 20) -> %ld (after %d) -> %ld KiB "
               "(after %d at once); open files %d -> %d -> %d -> %d\n", pid, rss0, rss1,
               rss2, serial, rss3, parallel, fd0, fd1, fd2, fd3);
    rm = g_strdup_printf("rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    g_free(ms);
    return g_atomic_int_get(&b.errors) ? 1 : 0;
}
