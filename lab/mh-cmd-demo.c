/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: the project's main job, end to end on one machine.
 *
 *  1. two lab hosts (src/lab), each with its own libvirtd and a simulated
 *     SEV platform in qemu-mh;
 *  2. the guest owner reads host 1's PDH (virNodeGetSEVInfo), makes a
 *     launch session, and an SEV domain with the mirror helper (src/conf)
 *     and the test guest is defined and started paused on host 1;
 *  3. the owner checks the launch measurement and injects a fresh
 *     migration key (LAUNCH_SECRET); the guest runs;
 *  4. live migration host 1 -> host 2 -> host 1; for each, the target is
 *     launched with a session of its own (destination XML) and the owner
 *     attests it and injects the same key through the target's owner
 *     monitor while libvirt's job holds the domain; tcpdump records the
 *     migration connection;
 *  5. verdicts: integrity (the guest's own checks on the new host),
 *     confidentiality (neither marker nor key on the wire), figures.
 *
 * Any failure: "error: ...", the lab is torn down, exit 1. */
#include "mh-cmd.h"
#include "mh-start.h"
#include "broker/mh-broker-client.h"
#include "lab/mh-demo.h"
#include "virt/mh-virt-migrate.h"

#include "virt/mh-virt-conf.h"
#include "owner/mh-sev-secret.h"
#include "virt/mh-virt.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <inttypes.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glib/gstdio.h>

#define MH_DEMO_DEFAULT_MEMORY 128
#define MH_DEMO_MIN_MEMORY 64
#define MH_DEMO_RATE 2000               /* pages/s the guest rewrites */
#define MH_DEMO_BOOT_TIMEOUT 180
#define MH_DEMO_VERIFY_TIMEOUT 120
#define MH_DEMO_MIGRATE_TIMEOUT 600

static volatile sig_atomic_t mhDemoSignal;

static void
mhDemoOnSignal(int sig)
{
    mhDemoSignal = sig;
}

bool
mhDemoInterrupted(GError **error)
{
    if (!mhDemoSignal)
        return false;
    g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("interrupted by signal %d"),
                (int)mhDemoSignal);
    return true;
}

/* Progress goes out at once: the demo's steps take seconds each. */
static void G_GNUC_PRINTF(2, 0)
mhDemoPrint(const char *prefix, const char *format, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(format, ap);

    printf("%s%s\n", prefix, msg);
    fflush(stdout);
}

void
mhDemoStep(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    mhDemoPrint("==> ", format, ap);
    va_end(ap);
}

void
mhDemoSay(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    mhDemoPrint("    ", format, ap);
    va_end(ap);
}

/* ---- finding the pieces ------------------------------------------------- */

/* A file found from virt-mh's own location: REL (the build tree) or ALT
 * (installed side by side, may be NULL), unless the environment variable
 * ENV names it. */
static char *
mhDemoFindFile(const char *env, const char *rel, const char *alt, char **tried)
{
    const char *e = g_getenv(env);
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
    g_autofree char *in_build = dir ? g_build_filename(dir, rel, NULL) : NULL;
    g_autofree char *beside = dir && alt ? g_build_filename(dir, alt, NULL) : NULL;

    if (e && *e) {
        *tried = g_strdup_printf("$%s=%s", env, e);
        return g_file_test(e, G_FILE_TEST_IS_REGULAR) ? g_strdup(e) : NULL;
    }
    *tried = g_strdup_printf("%s%s%s", in_build ? in_build : "?", beside ? ", " : "",
                             beside ? beside : "");
    if (in_build && g_file_test(in_build, G_FILE_TEST_IS_REGULAR))
        return g_canonicalize_filename(in_build, NULL);
    if (beside && g_file_test(beside, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer(&beside);
    return NULL;
}

static bool
mhDemoPrerequisites(MhDemo *demo, char **qemu_mh, char **guest, GError **error)
{
    g_autofree char *tried = NULL;
    const char *fw = g_getenv("MH_DEMO_FIRMWARE");

    if (!(*qemu_mh = mhLabFindQemuMh(&tried))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("qemu-mh not found (looked for %s); build the project first"), tried);
        return false;
    }
    g_clear_pointer(&tried, g_free);
    if (!(*guest = mhDemoFindFile("MH_GUEST_EFI", "../../tests/guest/mh-guest.efi",
                                  NULL, &tried))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("the test guest mh-guest.efi was not found (looked for %s); it is "
                      "built when gnu-efi is installed (Debian package gnu-efi)"), tried);
        return false;
    }
    /* One image with code and variables, as -bios: all of it is measured,
     * and there is no NVRAM file that the measurement would not cover. */
    demo->firmware = g_strdup(fw && *fw ? fw : "/usr/share/ovmf/OVMF.fd");
    if (!g_file_test(demo->firmware, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("firmware '%s' not found (Debian package ovmf)"), demo->firmware);
        return false;
    }
    return true;
}

/* A free TCP port on 127.0.0.1 in the destination's migration range (the
 * range keeps lab hosts apart; any free port would do). */
static guint
mhDemoFreePort(const MhLabHost *host, GError **error)
{
    for (guint port = host->migrationPortMin; port <= host->migrationPortMax; port++) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rc;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0)
            break;
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
        if (rc == 0)
            return port;
    }
    g_set_error(error, MH_ERROR, MH_ERROR_IO, _("no free TCP port in %u..%u on 127.0.0.1"),
                host->migrationPortMin, host->migrationPortMax);
    return 0;
}

/* ---- set-up -------------------------------------------------------------- */

static bool
mhDemoLabUp(MhDemo *demo, const char *qemu_mh, const char *guest, GError **error)
{
    g_autofree char *files = NULL;
    g_autofree char *guest_copy = NULL;
    g_autofree char *contents = NULL;
    size_t len = 0;

    mhDemoStep(_("Starting two lab hosts in %s"), demo->dir);
    if (!(demo->lab = mhLabUp(demo->dir, 2, qemu_mh, error)))
        return false;
    if (!demo->lab->emulator) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("the lab has no copy of qemu-mh"));
        return false;
    }
    for (guint i = 0; i < 2; i++) {
        MhDemoHost *h = &demo->hosts[i];

        h->index = i + 1;
        h->lab = g_ptr_array_index(demo->lab->hosts, i);
        mhDemoSay(_("host %u: %s (host UUID %s)"), h->index, h->lab->uri, h->lab->uuid);
        if (!(h->conn = virConnectOpen(h->lab->uri))) {
            g_autofree char *ctx = g_strdup_printf(_("failed to connect to host %u"), h->index);
            mhVirtSetError(error, ctx);
            return false;
        }
    }
    mhDemoSay(_("emulator: %s (qemu-mh: real QEMU under TCG plus a software SEV platform)"),
              demo->lab->emulator);

    /* The lab's daemons run as the lab user (as root: mh-lab), which may
     * not read the build tree: the guest goes into the lab. */
    files = g_build_filename(demo->dir, "files", NULL);
    guest_copy = g_build_filename(files, "mh-guest.efi", NULL);
    if (g_mkdir_with_parents(files, 0755) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"), files,
                    g_strerror(errno));
        return false;
    }
    if (!mhUtilReadFile(guest, &contents, &len, error) ||
        !mhUtilWriteFile(guest_copy, contents, len, 0644, error))
        return false;
    if (getuid() == 0 &&
        (!mhLabProcChown(files, demo->lab->uid, demo->lab->gid, error)))
        return false;
    demo->guest = g_steal_pointer(&guest_copy);
    demo->serial_log = g_build_filename(files, "guest-serial.log", NULL);
    mhDemoSay(_("test guest: %s (copied from %s)"), demo->guest, guest);

    /* The guest owner's own files: nothing on the hosts reads them. */
    demo->owner_dir = g_build_filename(demo->dir, "owner", NULL);
    if (g_mkdir(demo->owner_dir, 0700) < 0 && errno != EEXIST) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    demo->owner_dir, g_strerror(errno));
        return false;
    }
    return true;
}

/* The guest owner's key broker, trusted platforms and the hosts' CA. */
static bool
mhDemoBrokerUp(MhDemo *demo, GError **error)
{
    g_autofree char *dir = g_build_filename(demo->dir, "files", "broker", NULL);
    g_autofree char *hook = g_build_filename("/etc/libvirt/hooks/qemu.d",
                                             "mirror-helper-hook", NULL);

    if (!g_file_test(hook, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("the libvirt hook %s is not installed; the hosts cannot reach the key "
                      "broker without it (as root 'virt-mh lab up' installs it; otherwise: "
                      "sudo install -D -m 0755 BUILD/tools/mh-hook/mirror-helper-hook %s)"),
                    hook, hook);
        return false;
    }
    mhDemoStep(_("Guest owner: starting a key broker (TLS on loopback)"));
    if (!(demo->broker = mhDemoBrokerStart(demo->dir, dir, error)))
        return false;
    mhDemoSay(_("broker %s (the hosts reach it through the demo's relay, %s); CA %s"),
              mhDemoBrokerUrl(demo->broker), mhDemoBrokerHostUrl(demo->broker),
              mhDemoBrokerCa(demo->broker));
    for (guint i = 0; i < demo->lab->hosts->len; i++) {
        if (!mhLabWriteHostConf(g_ptr_array_index(demo->lab->hosts, i),
                                mhDemoBrokerCa(demo->broker), error))
            return false;
    }
    mhDemoStep(_("Guest owner: trusting the SEV platforms of both hosts"));
    for (guint i = 0; i < 2; i++) {
        if (!mhDemoOwnerReadPlatform(demo, &demo->hosts[i], error) ||
            !mhDemoOwnerTrust(demo, &demo->hosts[i], error))
            return false;
    }
    return mhDemoBrokerPrintLog(demo->broker, error);
}

static virDomainPtr
mhDemoLaunch(MhDemo *demo, GError **error)
{
    MhDemoHost *h1 = &demo->hosts[0];
    g_autofree char *run_dir = mhLabHostRunDir(h1->lab);
    g_autoptr(MhConfHelper) helper = mhConfHelperNew();
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *xml = NULL;
    MhOwnerLaunchReport report;
    MhDemoGuestStatus st;
    gint64 t0;

    if (!mhDemoBrokerUp(demo, error))
        return NULL;
    mhDemoStep(_("Defining SEV domain '%s' on host 1 (%u MiB, OVMF, the test guest)"),
               MH_DEMO_DOMAIN, demo->memory_mib);
    xml = mhDemoOwnerDomainXML(demo, h1);
    if (!(dom = virDomainDefineXML(h1->conn, xml))) {
        mhVirtSetError(error, _("cannot define the domain on host 1"));
        return NULL;
    }
    virDomainGetUUIDString(dom, demo->uuid);
    mhDemoSay(_("UUID %s; guest command line: %s"), demo->uuid, demo->cmdline);

    mhDemoStep(_("Enabling the mirror helper with the key broker (as 'virt-mh enable "
                 "--key-broker')"));
    helper->mode = demo->helper_mode;
    helper->key_broker = g_strdup(mhDemoBrokerHostUrl(demo->broker));
    if (!mhVirtApplyHelper(dom, helper, problems, error)) {
        if (problems->len)
            mhConfProblemsToError(problems, error);
        return NULL;
    }
    {
        g_autofree char *obj = mhConfHelperToQemuObject(helper);
        mhDemoSay(_("-object %s"), obj);
    }

    mhDemoStep(_("Guest owner: a new migration key, and the guest enrolled with the broker"));
    demo->key_path = g_build_filename(demo->owner_dir, "migration-key.bin", NULL);
    if (!mhSevMigrationKeyCreate(demo->key_path, error) ||
        !(demo->key = mhSevMigrationKeyLoad(demo->key_path, error)) ||
        !mhSevMigrationKeyId(demo->key, &demo->key_id, error) ||
        !mhDemoOwnerEnroll(demo, error) || !mhDemoBrokerPrintLog(demo->broker, error))
        return NULL;

    mhDemoStep(_("Starting '%s' on host 1 through the broker (as 'virt-mh start': bundle, "
                 "start paused, attest, inject, resume)"), MH_DEMO_DOMAIN);
    t0 = g_get_monotonic_time();
    if (!mhStartDomain(h1->conn, dom, mhDemoBrokerCa(demo->broker), run_dir,
                       MH_BROKER_CLIENT_TIMEOUT_S, &report, error) ||
        !mhDemoBrokerPrintLog(demo->broker, error))
        return NULL;
    mhDemoSay(_("launch measured by SEV API %u.%u build %u with policy 0x%04x; the broker "
                "verified it and sealed key 0x%08x for this launch"), report.build.api_major,
              report.build.api_minor, report.build.build_id, report.policy, demo->key_id);
    g_clear_pointer(&dom, virDomainFree);
    if (!(dom = virDomainLookupByName(h1->conn, MH_DEMO_DOMAIN))) {
        mhVirtSetError(error, _("the domain is gone from host 1"));
        return NULL;
    }
    mhDemoStep(_("Waiting for the test guest to fill its memory and verify it"));
    if (!mhDemoGuestWaitReady(dom, MH_DEMO_BOOT_TIMEOUT, &st, error))
        return NULL;
    mhDemoSay(_("guest running after %.1f s: %u data pages, %u verify pass(es), %u error(s), "
                "rewriting %u pages/s"),
              (g_get_monotonic_time() - t0) / 1e6, st.pages, st.passes, st.errors,
              demo->rate);
    return g_steal_pointer(&dom);
}

/* ---- one migration ------------------------------------------------------- */

typedef struct {
    guint from;
    guint to;
    bool p2p;
    MhMigrateStats stats;
    MhDemoIntegrity integrity;
    bool relayed;               /* checked through the demo's relay, not tcpdump */
    MhDemoCaptureResult capture;
    char *why_not;              /* why no packet capture (the relay checks instead) */
} MhDemoLeg;

static bool
mhDemoTick(gpointer data, GError **error)
{
    return !mhDemoInterrupted(error);
}

static void
mhDemoPrintIntegrity(const MhDemoLeg *leg)
{
    const MhDemoIntegrity *in = &leg->integrity;
    bool pass = in->errors == 0 && in->serial_failures == 0 &&
                in->passes_after >= in->passes_before + 2;

    printf(_("    integrity: %s (on host %u the guest verified all its pages %u more time(s), "
             "passes %u -> %u, errors=%u; serial console: %u pass line(s), last pass %u, "
             "%u integrity failure line(s))\n"),
           pass ? "PASS" : "FAIL", leg->to, in->passes_after - in->passes_before,
           in->passes_before, in->passes_after, in->errors, in->serial_passes,
           in->serial_last_pass, in->serial_failures);
}

/* The broker's traffic as the relay carried it during this migration:
 * attestation went by, and neither the key nor the guest's marker. */
static bool
mhDemoBrokerWireCheck(MhDemo *demo, guint64 *bytes)
{
    guint64 b64_hits, key_hits, marker_hits;
    g_autofree char *key_b64 = g_base64_encode(demo->key->data, demo->key->len);

    key_hits = mhDemoBrokerWireCount(demo->broker, demo->key->data, demo->key->len, bytes);
    b64_hits = mhDemoBrokerWireCount(demo->broker, key_b64, strlen(key_b64), bytes);
    marker_hits = mhDemoBrokerWireCount(demo->broker, demo->marker, strlen(demo->marker), bytes);
    mhUtilWipe(key_b64, strlen(key_b64));
    return *bytes > 0 && key_hits + b64_hits + marker_hits == 0;
}

static bool
mhDemoPrintConfidentiality(MhDemo *demo, const MhDemoLeg *leg, guint port)
{
    const MhDemoCaptureResult *c = &leg->capture;
    g_autofree char *bytes = NULL;
    g_autofree char *wire = NULL;
    guint64 wire_bytes = 0;
    bool broker_ok = mhDemoBrokerWireCheck(demo, &wire_bytes);
    bool pass;

    wire = mhMigrateFormatBytes(wire_bytes);
    printf(_("    confidentiality of the broker's traffic: %s (%s through the demo's relay so "
             "far, TLS; migration key and guest marker found 0 times)\n"),
           broker_ok ? "PASS" : "FAIL", wire);
    bytes = mhMigrateFormatBytes(c->payload_bytes);
    /* The control string accounts for exactly one hit. */
    pass = c->marker_hits == 1 && c->key_hits == 0 && c->stream_magic_hits > 0;
    if (leg->relayed)
        printf(_("    confidentiality of the migration stream: %s (%s carried by the demo's "
                 "relay on port %u, %" PRIu64 " reads, MH stream header seen %" PRIu64
                 " time(s), control string found %s: guest marker '%s' found %" PRIu64
                 " time(s), migration key found %" PRIu64 " time(s))\n"),
               pass ? "PASS" : "FAIL", bytes, port, c->packets, c->stream_magic_hits,
               c->marker_hits ? _("yes") : _("NO (the relay cannot be trusted)"), demo->marker,
               c->marker_hits ? c->marker_hits - 1 : 0, c->key_hits);
    else
        printf(_("    confidentiality of the migration stream: %s (%s of TCP payload captured "
                 "on port %u, %" PRIu64 " packets, %" PRIu64 " dropped, MH stream header seen %"
                 PRIu64 " time(s), control string found %s: guest marker '%s' found %" PRIu64
                 " time(s), migration key found %" PRIu64 " time(s))\n"),
               pass ? "PASS" : "FAIL", bytes, port, c->packets, c->dropped,
               c->stream_magic_hits,
               c->marker_hits ? _("yes") : _("NO (the capture cannot be trusted)"),
               demo->marker, c->marker_hits ? c->marker_hits - 1 : 0, c->key_hits);
    return pass && broker_ok;
}

/* Watch the migration connection on 'port': tcpdump where it can run
 * (root), else the demo's relay, which the target's QEMU must then sit
 * behind (listen address 127.0.0.2). Each starts with its positive
 * control. */
static bool
mhDemoWatchStream(MhDemo *demo, MhDemoLeg *leg, guint port, MhDemoCapture **cap,
                  MhDemoRelay **relay, GError **error)
{
    if (demo->relay_only)
        leg->why_not = g_strdup(_("--capture relay"));
    else if ((*cap = mhDemoCaptureStart(demo->dir, port, &leg->why_not))) {
        mhDemoSay(_("capturing the migration connection: tcpdump on lo, TCP port %u"), port);
        if (!mhDemoCaptureProbe(*cap, demo->marker, error))
            return false;
        mhDemoSay(_("control: the marker sent once over port %u, split across two TCP "
                    "segments, before the migration"), port);
        return true;
    }
    mhDemoSay(_("no packet capture (%s): the migration goes through the demo's relay "
                "on 127.0.0.1:%u to host %u's QEMU listening on 127.0.0.2:%u"),
              leg->why_not, port, leg->to, port);
    if (!(*relay = mhDemoRelayStart(port, demo->marker, demo->key, error)) ||
        !mhDemoRelayProbe(*relay, demo->marker, error))
        return false;
    mhDemoSay(_("control: the marker sent once through the relay, split across two TCP "
                "segments, before the migration"));
    return true;
}

static bool
mhDemoMigrate(MhDemo *demo, virDomainPtr *dom, MhDemoLeg *leg, guint number, GError **error)
{
    MhDemoHost *dst = &demo->hosts[leg->to - 1];
    g_autofree char *muri = NULL;
    MhDemoCapture *cap = NULL;
    MhDemoRelay *relay = NULL;
    MhMigrateOptions opts = { NULL };
    virDomainPtr ddom = NULL;
    const char *mode = NULL;
    uint64_t offset;
    guint port;
    bool ok = false;

    mhDemoStep(_("Migration %u: host %u -> host %u (live, %s, through the mirror helper)"),
               number, leg->from, leg->to, leg->p2p ? _("peer-to-peer") : _("client-managed"));
    mhDemoSay(_("plain libvirt migration: no destination XML, nobody acting for the owner; "
                "host %u's libvirt hook gets a session for its platform from the broker and "
                "trades the target's measurement for the key"), leg->to);
    if (!(port = mhDemoFreePort(dst->lab, error)))
        return false;
    muri = g_strdup_printf("tcp://127.0.0.1:%u", port);
    if (!mhDemoWatchStream(demo, leg, port, &cap, &relay, error))
        goto cleanup;
    if (relay)
        opts.listen_address = "127.0.0.2";
    if (!mhMigrateArmHelper(*dom, &mode, error))
        goto cleanup;
    if (g_str_equal(mode, "on-request"))
        mhDemoSay(_("mirror helper: mode on-request, armed for this migration "
                    "(QMP arm-migration-handler); migration URI %s"), muri);
    else
        mhDemoSay(_("mirror helper: mode %s; migration URI %s"), mode, muri);

    opts.dest_uri = dst->lab->uri;
    opts.dconn = dst->conn;
    opts.migrate_uri = muri;
    opts.p2p = leg->p2p;
    opts.live = true;
    opts.persistent = true;
    opts.undefine_source = true;
    opts.timeout = MH_DEMO_MIGRATE_TIMEOUT;
    opts.progress = true;
    opts.tick = mhDemoTick;
    if (!mhMigrateRun(*dom, &opts, &leg->stats, &ddom, error)) {
        mhDemoBrokerPrintLog(demo->broker, NULL);
        goto cleanup;
    }
    offset = mhDemoSerialOffset(demo->serial_log);
    if (!ddom) {
        g_set_error(error, MH_ERROR, MH_ERROR_LIBVIRT,
                    _("the migrated domain is not on host %u"), leg->to);
        goto cleanup;
    }
    if (!mhDemoBrokerPrintLog(demo->broker, error))
        goto cleanup;
    mhDemoSay(_("done: the guest runs on host %u, whose launch the broker attested before "
                "releasing key 0x%08x"), leg->to, demo->key_id);
    if (cap) {
        if (!mhDemoCaptureFinish(cap, demo->marker, demo->key, &leg->capture, error))
            goto cleanup;
    } else {
        mhDemoRelayFinish(relay, &leg->capture);
        leg->relayed = true;
    }
    mhDemoSay(_("waiting for the guest to verify all its memory twice on host %u"), leg->to);
    if (!mhDemoGuestIntegrity(ddom, demo->serial_log, offset, MH_DEMO_VERIFY_TIMEOUT,
                              &leg->integrity, error))
        goto cleanup;
    mhDemoPrintIntegrity(leg);
    if (!mhDemoPrintConfidentiality(demo, leg, port)) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("confidentiality check of migration %u failed"), number);
        goto cleanup;
    }
    printf(_("    figures:\n"));
    mhMigrateStatsPrint(&leg->stats, stdout);
    if (leg->integrity.errors || leg->integrity.serial_failures) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("integrity check of migration %u failed: the guest found corrupted "
                      "memory on host %u"), number, leg->to);
        goto cleanup;
    }
    virDomainFree(*dom);
    *dom = g_steal_pointer(&ddom);
    ok = true;

 cleanup:
    mhDemoCaptureFree(cap);
    mhDemoRelayFree(relay);
    if (ddom)
        virDomainFree(ddom);
    return ok;
}

/* ---- the command --------------------------------------------------------- */

static void
mhDemoTeardown(MhDemo *demo, bool success)
{
    g_autoptr(GError) err = NULL;
    guint strays = 0;

    for (guint i = 0; i < 2; i++) {
        g_clear_pointer(&demo->hosts[i].conn, virConnectClose);
        g_clear_pointer(&demo->hosts[i].chain, mhSevChainFree);
    }
    /* A kept lab keeps its broker: plain virsh migrate still works. */
    if (demo->broker && success && demo->keep)
        mhDemoBrokerDetach(demo->broker);
    g_clear_pointer(&demo->broker, mhDemoBrokerFree);
    if (!demo->lab)
        return;
    if (success && demo->keep) {
        mhDemoStep(_("Keeping the lab (--keep)"));
        for (guint i = 0; i < demo->lab->hosts->len; i++) {
            MhLabHost *h = g_ptr_array_index(demo->lab->hosts, i);
            printf("%s\n", h->uri);
        }
        mhDemoSay(_("e.g. virsh -c '%s' list --all; stop it with: virt-mh lab down --dir %s"),
                  ((MhLabHost *)g_ptr_array_index(demo->lab->hosts, 0))->uri, demo->dir);
        return;
    }
    mhDemoStep(_("Tearing the lab down"));
    if (!mhLabDown(demo->lab, &strays, &err))
        fprintf(stderr, _("warning: lab down: %s\n"), err->message);
    if (success && demo->created_dir) {
        const char *argv[] = { "rm", "-rf", "--", demo->dir, NULL };
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                     NULL, NULL, NULL);
    } else if (!success) {
        mhDemoSay(_("logs kept in %s (hostN/libvirtd.log, "
                    "hostN/cache/libvirt/qemu/log/%s.log, files/guest-serial.log)"),
                  demo->dir, MH_DEMO_DOMAIN);
    }
}

static void
mhDemoClear(MhDemo *demo)
{
    g_clear_pointer(&demo->lab, mhLabFree);
    g_free(demo->dir);
    g_free(demo->firmware);
    g_free(demo->guest);
    g_free(demo->cmdline);
    g_free(demo->marker);
    g_free(demo->serial_log);
    g_free(demo->owner_dir);
    g_free(demo->key_path);
    g_clear_pointer(&demo->key, mhSecretFree);
}

int
mhCmdDemo(MhCmdGlobal *global, int argc, char **argv)
{
    gboolean keep = FALSE;
    g_autofree char *dir = NULL;
    gint memory = MH_DEMO_DEFAULT_MEMORY;
    g_autofree char *mode = NULL;
    g_autofree char *capture = NULL;
    GOptionEntry entries[] = {
        { "keep", 0, 0, G_OPTION_ARG_NONE, &keep,
          N_("leave the lab and the guest running and print the hosts' URIs"), NULL },
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir,
          N_("lab directory (default: a new /tmp/mhdemo.XXXXXX)"), N_("DIR") },
        { "memory", 0, 0, G_OPTION_ARG_INT, &memory,
          N_("guest memory in MiB (default 128)"), N_("MiB") },
        { "helper-mode", 0, 0, G_OPTION_ARG_STRING, &mode,
          N_("the helper's mode: auto (default) or on-request (armed before each "
             "migration, as 'virt-mh migrate --sev-helper' does)"), N_("MODE") },
        { "capture", 0, 0, G_OPTION_ARG_STRING, &capture,
          N_("how to check the migration stream: auto (default: tcpdump as root, else the "
             "demo's relay) or relay"), N_("HOW") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *qemu_mh = NULL;
    g_autofree char *guest = NULL;
    MhDemo demo = { NULL };
    MhDemoLeg legs[2] = {
        { .from = 1, .to = 2, .p2p = true },
        { .from = 2, .to = 1, .p2p = false },
    };
    virDomainPtr dom = NULL;
    gint64 t0 = g_get_monotonic_time();
    bool ok = false;

    if (!mhCmdParseOptions(global, "demo", NULL,
                           N_("Live-migrate an SEV guest between two local lab hosts through "
                              "the mirror helper, and check integrity and confidentiality."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (argc != 1) {
        mhCmdErrorf(_("demo: unexpected argument '%s'"), argv[1]);
        return MH_EXIT_FAIL;
    }
    if (memory < MH_DEMO_MIN_MEMORY || memory > 16384) {
        mhCmdErrorf(_("demo: --memory %d out of range %d..16384 MiB"), memory,
                    MH_DEMO_MIN_MEMORY);
        return MH_EXIT_FAIL;
    }
    demo.keep = keep;
    demo.helper_mode = MH_CONF_MODE_AUTO;
    if (mode && (int)(demo.helper_mode = mhConfModeTypeFromString(mode)) < 0) {
        mhCmdErrorf(_("demo: --helper-mode '%s' is neither 'auto' nor 'on-request'"), mode);
        return MH_EXIT_FAIL;
    }
    if (capture && !g_str_equal(capture, "auto") && !g_str_equal(capture, "relay")) {
        mhCmdErrorf(_("demo: --capture '%s' is neither 'auto' nor 'relay'"), capture);
        return MH_EXIT_FAIL;
    }
    demo.relay_only = capture && g_str_equal(capture, "relay");
    demo.memory_mib = memory;
    /* What the test guest can allocate: OVMF keeps about 54 MiB. */
    demo.guest_mib = memory >= 80 ? memory - 64 : 16;
    demo.rate = MH_DEMO_RATE;
    demo.marker = g_strdup_printf("MH-DEMO-%08x%08x", g_random_int(), g_random_int());
    demo.cmdline = g_strdup_printf("mem=%u rate=%u marker=%s", demo.guest_mib, demo.rate,
                                   demo.marker);

    {
        /* Ctrl-C or a test's timeout: stop at the next wait and tear the
         * lab down instead of leaving it behind. */
        struct sigaction sa = { .sa_handler = mhDemoOnSignal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    mhDemoStep(_("Checking what the demo needs"));
    if (!mhDemoPrerequisites(&demo, &qemu_mh, &guest, &error))
        goto fail;
    mhDemoSay(_("qemu-mh: %s; guest: %s; firmware: %s"), qemu_mh, guest, demo.firmware);
    if (dir) {
        demo.dir = g_canonicalize_filename(dir, NULL);
    } else {
        g_autofree char *tmp = g_strdup("/tmp/mhdemo.XXXXXX");
        if (!g_mkdtemp_full(tmp, 0755)) {
            g_set_error(&error, MH_ERROR, MH_ERROR_IO, _("cannot create a directory in /tmp: %s"),
                        g_strerror(errno));
            goto fail;
        }
        demo.dir = g_steal_pointer(&tmp);
        demo.created_dir = true;
    }
    if (!mhDemoLabUp(&demo, qemu_mh, guest, &error) ||
        !(dom = mhDemoLaunch(&demo, &error)))
        goto fail;
    for (guint i = 0; i < G_N_ELEMENTS(legs); i++) {
        if (mhDemoInterrupted(&error) || !mhDemoMigrate(&demo, &dom, &legs[i], i + 1, &error))
            goto fail;
    }

    mhDemoStep(_("Summary"));
    for (guint i = 0; i < G_N_ELEMENTS(legs); i++) {
        const MhMigrateStats *s = &legs[i].stats;
        double secs = s->time_elapsed_ms ? s->time_elapsed_ms / 1000.0 : s->wall_s;
        g_autofree char *rate = mhMigrateFormatBytes(secs > 0 ? s->memory_processed / secs : 0);
        g_autofree char *down = s->have_downtime ?
            g_strdup_printf("%" PRIu64 " ms", s->downtime_ms) : g_strdup(_("n/a"));

        mhDemoSay(_("migration %u, host %u -> host %u (%s): %.2f s, %s/s, downtime %s; "
                    "integrity PASS; confidentiality PASS"),
                  i + 1, legs[i].from, legs[i].to,
                  legs[i].p2p ? _("peer-to-peer") : _("client-managed"), secs, rate, down);
    }
    mhDemoSay(_("demo completed in %.1f s"), (g_get_monotonic_time() - t0) / 1e6);
    ok = true;
    goto cleanup;

 fail:
    mhCmdPrintError(error);
 cleanup:
    if (dom)
        virDomainFree(dom);
    mhDemoTeardown(&demo, ok);
    for (guint i = 0; i < G_N_ELEMENTS(legs); i++)
        g_free(legs[i].why_not);
    mhDemoClear(&demo);
    return ok ? MH_EXIT_OK : MH_EXIT_FAIL;
}
