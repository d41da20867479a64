/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt QEMU hook of mirror-helper, installed as
 * /etc/libvirt/hooks/qemu.d/mirror-helper-hook. libvirt runs it as
 *   mirror-helper-hook DOMAIN OPERATION SUB-OPERATION EXTRA
 * with the domain XML on stdin (docs/hooks.rst). It acts only on domains
 * whose <mh:helper> names a <keyBroker>, and for them only on:
 *   migrate begin  (destination, before QEMU starts): ask the broker for a
 *                  launch bundle for this host's platform, print the
 *                  incoming XML with that session and an owner monitor;
 *   started begin  (QEMU up, the launch paused for its secret): read the
 *                  measurement on the owner monitor, ask the broker for
 *                  the secret, inject it.
 * Everything else is a silent exit 0. It never calls libvirt (the daemon
 * waits for it); it does not even link it. A failure exits 1 with the
 * reason on stderr, which libvirt puts in the error that cancels the
 * incoming migration. */
#include "broker/mh-broker-host.h"
#include "broker/mh-broker-launch.h"
#include "conf/mh-conf.h"
#include "owner/mh-owner-launch.h"
#include "owner/mh-owner-qmp.h"
#include "owner/mh-sev-chain.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

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
        !mhBrokerRequestBundle(client, hook->dom->uuid, chain, &bundle, error))
        return false;
    socket = mhBrokerHostOwnerSocket(hook->conf, hook->dom->uuid);
    ok = mhBrokerHostSaveLaunch(hook->conf, hook->dom->uuid, bundle.launch_id, error) &&
        (*xml_out = mhConfDomainXMLSetLaunch(hook->xml, bundle.godh_b64, bundle.session_b64,
                                             socket, error));
    /* A socket file left by an earlier QEMU would stop the new one. */
    unlink(socket);
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
    return mhBrokerAttestInject(client, launch_id, &launch, &report, error);
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
    bool migrate, started, ok, attested = false;
    gint64 t0;

    if (argc < 4)
        return 0;
    migrate = strcmp(argv[2], "migrate") == 0 && strcmp(argv[3], "begin") == 0;
    started = strcmp(argv[2], "started") == 0 && strcmp(argv[3], "begin") == 0;
    if (!migrate && !started)
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
    ok = mhHookSecret(&hook, &attested, &err);
    if (attested || err)
        mhHookLog(&hook, "started-begin attest", t0, err);
    if (!ok)
        goto fail;
    return 0;

 fail:
    fprintf(stderr, _("mirror-helper hook: domain '%s': %s\n"), argv[1], err->message);
    return 1;
}
