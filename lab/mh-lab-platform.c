/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Each lab host's SEV platform, set up the way a cloud's hosts are before
 * any guest arrives: one platform owner (OCA) provisioned on every host,
 * so a guest whose policy has DOMAIN may move between them; the platform
 * certificates exported for the hook ("sevctl export --full" on hardware,
 * mh-sevctl here); and the host's host.conf pointing at them. Also the
 * libvirt hook, which libvirt only finds if it is there before a daemon
 * starts. */
#include "lab/mh-lab.h"

#include "owner/mh-sev-cert.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define MH_LAB_HOOK_DIR "/etc/libvirt/hooks/qemu.d"
#define MH_LAB_HOOK_NAME "mirror-helper-hook"

/* The lab's platform owner: DIR/owner-oca/oca.{pem,cert}, made once. */
static bool
mhLabEnsureOca(const MhLab *lab, char **pem, char **cert, GError **error)
{
    g_autofree char *dir = g_build_filename(lab->dir, "owner-oca", NULL);
    g_autoptr(MhSevCert) oca = NULL;
    EVP_PKEY *key = NULL;
    bool ok;

    *pem = g_build_filename(dir, "oca.pem", NULL);
    *cert = g_build_filename(dir, "oca.cert", NULL);
    if (g_file_test(*cert, G_FILE_TEST_EXISTS))
        return true;
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create directory '%s': %s"),
                    dir, g_strerror(errno));
        return false;
    }
    ok = (key = mhSevKeyGenerate(error)) &&
        (oca = mhSevCertNew(MH_SEV_USAGE_OCA, key, 0, 24, error)) &&
        mhSevCertSign(oca, 0, MH_SEV_USAGE_OCA, key, error) &&
        mhSevKeySavePem(key, *pem, error) &&
        mhUtilWriteFile(*cert, mhSevCertGetData(oca), MH_SEV_CERT_SIZE, 0644, error);
    EVP_PKEY_free(key);
    return ok;
}

static bool
mhLabRun(const char *const *argv, const char *qemu_mh_conf, GError **error)
{
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "MH_QEMU_CONF", qemu_mh_conf, TRUE);
    g_autofree char *err_text = NULL;
    gint status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err_text,
                      &status, error))
        return false;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, "%s: %s", argv[0],
                    err_text ? g_strstrip(err_text) : "");
        return false;
    }
    return true;
}

char *
mhLabHostRunDir(const MhLabHost *host)
{
    return g_build_filename(host->dir, "run", "mh", NULL);
}

bool
mhLabWriteHostConf(const MhLabHost *host, const char *cacert, GError **error)
{
    g_autofree char *path = g_build_filename(host->home, ".config", "mirror-helper",
                                             "host.conf", NULL);
    g_autofree char *run = mhLabHostRunDir(host);
    g_autofree char *certs = g_build_filename(host->dir, "platform-certs", NULL);
    g_autofree char *broker = cacert ? g_strdup_printf("[broker]\ncacert=%s\n", cacert) :
        g_strdup("");
    /* libvirtd runs with XDG_CONFIG_HOME=DIR/hostN/config; its hooks do not
     * get that variable. */
    g_autofree char *domains = g_build_filename(host->dir, "config", "libvirt", "qemu", "lib",
                                                NULL);
    g_autofree char *text = g_strdup_printf("# Lab host %u, written by 'virt-mh lab up'.\n"
                                            "%s[platform]\ncerts=%s\n[host]\nrun_dir=%s\n"
                                            "[libvirt]\ndomain_dir=%s\n",
                                            host->index, broker, certs, run, domains);

    return mhUtilWriteFile(path, text, strlen(text), 0644, error);
}

bool
mhLabPrepareHostPlatforms(const MhLab *lab, const char *qemuMh, GError **error)
{
    g_autofree char *pem = NULL, *cert = NULL;
    g_autofree char *bindir = g_path_get_dirname(qemuMh);
    g_autofree char *sevctl = g_build_filename(bindir, "mh-sevctl", NULL);

    if (!g_file_test(sevctl, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("mh-sevctl not found next to qemu-mh ('%s')"), sevctl);
        return false;
    }
    if (!mhLabEnsureOca(lab, &pem, &cert, error))
        return false;
    for (guint i = 0; i < lab->hosts->len; i++) {
        MhLabHost *host = g_ptr_array_index(lab->hosts, i);
        g_autofree char *conf = g_build_filename(host->home, ".config", "mirror-helper",
                                                 "qemu-mh.conf", NULL);
        g_autofree char *pdh = g_build_filename(host->platformDir, "pdh.cert", NULL);
        g_autofree char *certs = g_build_filename(host->dir, "platform-certs", NULL);
        const char *provision[] = { sevctl, "provision", cert, pem, NULL };
        const char *export[] = { sevctl, "export", "--full", certs, NULL };

        if ((!g_file_test(pdh, G_FILE_TEST_EXISTS) && !mhLabRun(provision, conf, error)) ||
            !mhLabRun(export, conf, error) ||
            !mhLabWriteHostConf(host, NULL, error)) {
            mhErrorPrefix(error, _("SEV platform of host %u: "), host->index);
            return false;
        }
    }
    return true;
}

char *
mhLabFindHook(void)
{
    const char *env = g_getenv("MH_HOOK");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = NULL;
    g_autofree char *in_build = NULL;

    if (env && *env)
        return g_strdup(env);
    if (!self)
        return NULL;
    dir = g_path_get_dirname(self);
    in_build = g_build_filename(dir, "..", "mh-hook", MH_LAB_HOOK_NAME, NULL);
    if (g_file_test(in_build, G_FILE_TEST_IS_EXECUTABLE))
        return g_canonicalize_filename(in_build, NULL);
    return NULL;
}

bool
mhLabInstallHook(bool *installed, GError **error)
{
    g_autofree char *dest = g_build_filename(MH_LAB_HOOK_DIR, MH_LAB_HOOK_NAME, NULL);
    g_autofree char *src = mhLabFindHook();
    g_autofree char *want = NULL, *have = NULL;
    size_t want_len = 0, have_len = 0;

    *installed = false;
    /* Installed by "meson install" (or a package): that one is used. */
    if (!src)
        return g_file_test(dest, G_FILE_TEST_IS_EXECUTABLE) ||
            (g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                         _("the libvirt hook is neither installed in %s nor built next to "
                           "virt-mh"), MH_LAB_HOOK_DIR), false);
    if (!mhUtilReadFile(src, &want, &want_len, error))
        return false;
    if (mhUtilReadFile(dest, &have, &have_len, NULL) && have_len == want_len &&
        memcmp(have, want, want_len) == 0)
        return true;
    if (geteuid() != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                    _("libvirt runs hooks only from %s, and the one there is missing or "
                      "differs from this build; install it first: sudo install -D -m 0755 "
                      "%s %s"), MH_LAB_HOOK_DIR, src, dest);
        return false;
    }
    if (g_mkdir_with_parents(MH_LAB_HOOK_DIR, 0755) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create directory '%s': %s"),
                    MH_LAB_HOOK_DIR, g_strerror(errno));
        return false;
    }
    if (!mhUtilWriteFile(dest, want, want_len, 0755, error))
        return false;
    *installed = true;
    return true;
}
