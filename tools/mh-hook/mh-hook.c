/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt QEMU hook of mirror-helper, installed as
 * /etc/libvirt/hooks/qemu.d/mirror-helper-hook. libvirt runs it as
 *   mirror-helper-hook DOMAIN OPERATION SUB-OPERATION EXTRA
 * with the domain XML on stdin (docs/hooks.rst). It acts only on domains
 * whose <mh:helper> names a <keyBroker>, and for them only on:
 *   migrate begin  (destination, before QEMU starts): ask the broker for a
 *                  launch bundle for this host's platform, print the
 *                  incoming XML with that session and an owner monitor;
 *   start begin    (QEMU about to start, its command line written): a
 *                  start that no migration prepared and whose session the
 *                  broker says is spent gets a fresh bundle, written over
 *                  the session files libvirt made for QEMU;
 *   started begin  (QEMU up, the launch paused for its secret): read the
 *                  measurement on the owner monitor, ask the broker for
 *                  the secret, inject it.
 * Everything else is a silent exit 0. It never calls libvirt (the daemon
 * waits for it); it does not even link it. A failure exits 1 with the
 * reason on stderr, which libvirt puts in the error that cancels the
 * incoming migration or the start. */
#include "broker/mh-broker-host.h"
#include "broker/mh-broker-launch.h"
#include "conf/mh-conf.h"
#include "owner/mh-owner-launch.h"
#include "owner/mh-owner-qmp.h"
#include "owner/mh-sev-chain.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    MhConfDomain *dom;
    MhBrokerHostConf *conf;
    const char *xml;
} MhHook;

/* One line per action in RUN_DIR/hook.log: what the hook did for which
 * domain and how long it took (it runs inside libvirt's Prepare, so this
 * is what attestation adds to a migration; bench/ reads it). */
static void
mhHookLog(MhHook *hook, const char *what, gint64 t0, const GError *err)
{
    g_autofree char *path = g_build_filename(hook->conf->run_dir, "hook.log", NULL);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format_iso8601(now);
    g_autofree char *line = g_strdup_printf("%s %s %s %s %.1f ms%s%s\n", stamp, hook->dom->uuid,
                                            hook->name, what,
                                            (g_get_monotonic_time() - t0) / 1000.0,
                                            err ? " failed: " : " ok",
                                            err ? err->message : "");
    FILE *f;

    g_mkdir_with_parents(hook->conf->run_dir, 0700);
    if ((f = fopen(path, "a"))) {
        fputs(line, f);
        fclose(f);
    }
}

static MhBrokerClient *
mhHookClient(MhHook *hook, GError **error)
{
    return mhBrokerClientNew(hook->dom->helper->key_broker, hook->conf->cacert, NULL,
                             hook->conf->timeout_s, error);
}

static bool
mhHookBundle(MhHook *hook, char **xml_out, GError **error)
{
    g_autoptr(MhSevChain) chain = NULL;
    g_autoptr(MhBrokerClient) client = NULL;
    g_autofree char *socket = NULL;
    MhBrokerBundle bundle;
    bool ok;

    if (!(chain = mhSevChainLoadDir(hook->conf->platform_certs, error))) {
        g_prefix_error(error, _("this host's SEV platform certificates: "));
        return false;
    }
    if (!(client = mhHookClient(hook, error)) ||
        !mhBrokerRequestBundle(client, hook->dom->uuid, chain, NULL, &bundle, error))
        return false;
    socket = mhBrokerHostOwnerSocket(hook->conf, hook->dom->uuid);
    ok = mhBrokerHostSaveLaunch(hook->conf, hook->dom->uuid, bundle.launch_id,
                                bundle.session_b64, error) &&
        (*xml_out = mhConfDomainXMLSetLaunch(hook->xml, bundle.godh_b64, bundle.session_b64,
                                             socket, error));
    /* A socket file left by an earlier QEMU would stop the new one. */
    unlink(socket);
    mhBrokerBundleClear(&bundle);
    return ok;
}

/* libvirt's private directory of a starting domain: its libDir (host.conf
 * [libvirt] domain_dir) and "domain-" + virDomainDefGetShortName() (the
 * id, the name cut to 20 characters). libvirt has written the session
 * files QEMU reads there. */
static char *
mhHookLibvirtDomainDir(const MhBrokerHostConf *conf, int id, const char *name)
{
    const char *end = g_utf8_strlen(name, -1) > 20 ? g_utf8_offset_to_pointer(name, 20)
                                                   : name + strlen(name);
    g_autofree char *dir = g_strdup_printf("domain-%d-%.*s", id, (int)(end - name), name);

    return g_build_filename(conf->libvirt_domain_dir, dir, NULL);
}

/* Overwrite DIR/WHAT.base64 in place (its owner and labels are libvirt's,
 * for QEMU), but only when it holds what the definition says: anything
 * else means a libvirt whose layout this hook does not know, and the
 * start is refused rather than run with a spent session. */
static bool
mhHookRewriteLaunchFile(const char *dir, const char *what, const char *was, const char *now,
                        GError **error)
{
    g_autofree char *name = g_strdup_printf("%s.base64", what);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    int fd;

    if (!mhUtilReadFile(path, &text, NULL, error))
        return false;
    if (strcmp(g_strstrip(text), was) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("'%s' does not hold the domain's <%s>; cannot give this launch a "
                      "fresh session"), path, strcmp(what, "dh_cert") == 0 ? "dhCert" : what);
        return false;
    }
    if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot write '%s': %s"), path,
                    g_strerror(errno));
        return false;
    }
    for (size_t done = 0, len = strlen(now); done < len;) {
        ssize_t n = write(fd, now + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot write '%s': %s"), path,
                        g_strerror(n < 0 ? errno : EIO));
            close(fd);
            return false;
        }
        done += n;
    }
    if (close(fd) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot write '%s': %s"), path,
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* A start of the domain (not an incoming migration, which "migrate"
 * prepared): the session in its definition was issued for one launch. If
 * the broker says it is spent, or made for another platform, QEMU gets a
 * fresh one in the files libvirt wrote for it (libvirt 9.0 takes no XML
 * from "start"), and "started" attests it through the owner monitor. */
static bool
mhHookStartSession(MhHook *hook, const char **action, GError **error)
{
    const MhConfDomain *dom = hook->dom;
    g_autoptr(MhSevChain) chain = NULL;
    g_autoptr(MhBrokerClient) client = NULL;
    g_autofree char *socket = NULL, *dir = NULL;
    MhBrokerBundle bundle = { 0 };
    bool ok;

    if (!dom->sev_session || !dom->sev_dh_cert || dom->id < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("its <launchSecurity> has no <dhCert> and <session>, so QEMU would "
                      "launch it with a session the key broker never issued; start it "
                      "once with 'virt-mh start'"));
        return false;
    }
    if (mhBrokerHostLaunchPending(hook->conf, dom->uuid, dom->sev_session))
        return true;
    /* The owner monitor QEMU is about to create: its directory may be gone
     * (a reboot emptied /run) and an old socket file would stop it. */
    if ((socket = mhConfDomainXMLOwnerMonitor(hook->xml))) {
        g_autofree char *parent = g_path_get_dirname(socket);

        if (strcmp(parent, hook->conf->run_dir) == 0)
            g_mkdir_with_parents(parent, 0700);
        unlink(socket);
    }
    /* A launch saved for another session (a migration that failed before
     * its QEMU started) is not this one: "started" must not attest it. */
    g_free(mhBrokerHostTakeLaunch(hook->conf, dom->uuid, NULL));
    *action = "start-begin session";
    if (!(chain = mhSevChainLoadDir(hook->conf->platform_certs, error))) {
        g_prefix_error(error, _("this host's SEV platform certificates: "));
        return false;
    }
    if (!(client = mhHookClient(hook, error)) ||
        !mhBrokerRequestBundle(client, dom->uuid, chain, dom->sev_session, &bundle, error))
        return false;
    if (bundle.current) {
        *action = "start-begin session kept";
        return true;
    }
    *action = "start-begin session fresh";
    if (!socket) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("it has no owner monitor to attest its launch through; start it with "
                      "'virt-mh start'"));
        mhBrokerBundleClear(&bundle);
        return false;
    }
    dir = mhHookLibvirtDomainDir(hook->conf, dom->id, hook->name);
    /* Saved first: should QEMU start with the new session, "started"
     * must find the launch it belongs to. */
    ok = mhBrokerHostSaveLaunch(hook->conf, dom->uuid, bundle.launch_id,
                                bundle.session_b64, error) &&
        mhHookRewriteLaunchFile(dir, "dh_cert", dom->sev_dh_cert, bundle.godh_b64, error) &&
        mhHookRewriteLaunchFile(dir, "session", dom->sev_session, bundle.session_b64, error);
    mhBrokerBundleClear(&bundle);
    return ok;
}

static bool
mhHookSecret(MhHook *hook, bool *attested, GError **error)
{
    g_autofree char *launch_id = NULL, *socket = NULL;
    g_autoptr(MhOwnerQmp) qmp = NULL;
    g_autoptr(MhBrokerClient) client = NULL;
    MhOwnerLaunchReport report;
    MhOwnerLaunch launch;

    /* Only a launch this host asked a bundle for waits for a secret from
     * the broker; other starts are not ours to finish. */
    if (!(launch_id = mhBrokerHostTakeLaunch(hook->conf, hook->dom->uuid, error)))
        return !*error;
    if (!(socket = mhConfDomainXMLOwnerMonitor(hook->xml))) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("domain '%s' has no owner monitor to attest its launch through"),
                    hook->name);
        return false;
    }
    if (!(qmp = mhOwnerQmpConnect(socket, error)) || !(client = mhHookClient(hook, error)))
        return false;
    launch = (MhOwnerLaunch){ &mhOwnerQmpOps, qmp };
    *attested = true;
    if (!mhBrokerAttestInject(client, launch_id, &launch, &report, error)) {
        /* libvirt starts the vCPUs before "started" unless told --paused. */
        if (g_error_matches(*error, MH_ERROR, MH_ERROR_STATE))
            g_prefix_error(error, _("start it with 'virsh start --paused' (then resume it) or "
                                    "with 'virt-mh start': "));
        return false;
    }
    return true;
}

static char *
mhHookReadStdin(void)
{
    g_autoptr(GString) in = g_string_new(NULL);
    char buf[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        g_string_append_len(in, buf, n);
    return g_string_free(g_steal_pointer(&in), FALSE);
}

int
main(int argc, char **argv)
{
    g_autofree char *xml = NULL;
    g_autofree char *out = NULL;
    g_autoptr(MhConfDomain) dom = NULL;
    g_autoptr(MhBrokerHostConf) conf = NULL;
    g_autoptr(GError) err = NULL;
    MhHook hook = { 0 };
    bool migrate, start, started, ok, attested = false;
    const char *action = NULL;
    gint64 t0;

    if (argc < 4)
        return 0;
    migrate = strcmp(argv[2], "migrate") == 0 && strcmp(argv[3], "begin") == 0;
    start = strcmp(argv[2], "start") == 0 && strcmp(argv[3], "begin") == 0;
    started = strcmp(argv[2], "started") == 0 && strcmp(argv[3], "begin") == 0;
    if (!migrate && !start && !started)
        return 0;
    /* Read all of stdin: libvirt writes the whole XML before it waits. */
    xml = mhHookReadStdin();
    if (!strstr(xml, "keyBroker"))
        return 0;
    mhI18nInit();
    if (!(dom = mhConfDomainParseString(xml, argv[1], &err)))
        goto fail;
    if (!dom->helper || !dom->helper->key_broker || !dom->uuid || !dom->has_sev)
        return 0;
    if (!(conf = mhBrokerHostConfLoad(&err)))
        goto fail;
    hook = (MhHook){ argv[1], dom, conf, xml };
    t0 = g_get_monotonic_time();
    if (migrate) {
        ok = mhHookBundle(&hook, &out, &err);
        mhHookLog(&hook, "migrate-begin bundle", t0, err);
        if (!ok)
            goto fail;
        fputs(out, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (start) {
        ok = mhHookStartSession(&hook, &action, &err);
        if (action || err)
            mhHookLog(&hook, action ? action : "start-begin session", t0, err);
    } else {
        ok = mhHookSecret(&hook, &attested, &err);
        if (attested || err)
            mhHookLog(&hook, "started-begin attest", t0, err);
    }
    if (!ok)
        goto fail;
    return 0;

 fail:
    fprintf(stderr, _("mirror-helper hook: domain '%s': %s\n"), argv[1], err->message);
    return 1;
}
