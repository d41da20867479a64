/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Each lab host's D-Bus side: a private bus (dbus-daemon with a config of
 * the lab's own) and virt-mhd on it, connected to that host's libvirtd,
 * as management applications would find them on a real host's system
 * bus. Both run as the lab user with the host's HOME, so "lab down"
 * stops them with the host. */
#include "lab/mh-lab.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static char *
mhLabFindVirtMhd(void)
{
    const char *env = g_getenv("MH_VIRT_MHD");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
    const char *const rel[] = { "../virt-mhd/virt-mhd", "virt-mhd", "../sbin/virt-mhd" };

    if (env && *env)
        return g_strdup(env);
    for (size_t i = 0; dir && i < G_N_ELEMENTS(rel); i++) {
        g_autofree char *p = g_build_filename(dir, rel[i], NULL);

        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            return g_canonicalize_filename(p, NULL);
    }
    return NULL;
}

static bool
mhLabBusConfig(const MhLabHost *host, const char *sock, char **conf, GError **error)
{
    g_autofree char *text = g_markup_printf_escaped(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<!-- Lab host %u, written by 'virt-mh lab up'. -->\n"
        "<busconfig>\n"
        "  <type>session</type>\n"
        "  <listen>unix:path=%s</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <allow send_destination=\"*\"/>\n"
        "    <allow receive_sender=\"*\"/>\n"
        "    <allow send_type=\"signal\"/>\n"
        "    <allow own=\"*\"/>\n"
        "  </policy>\n"
        "</busconfig>\n", host->index, sock);

    *conf = g_build_filename(host->dir, "config", "mhd-bus.conf", NULL);
    return mhUtilWriteFile(*conf, text, strlen(text), 0644, error);
}

static bool
mhLabWaitSocket(const char *path, GError **error)
{
    for (int i = 0; i < 200; i++) {
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return true;
        g_usleep(50 * 1000);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("the bus socket '%s' did not appear"),
                path);
    return false;
}

bool
mhLabUpBuses(MhLab *lab, GError **error)
{
    g_autofree char *dbus = g_find_program_in_path("dbus-daemon");
    g_autofree char *mhd_src = mhLabFindVirtMhd();
    g_autofree char *mhd = NULL;
    g_autofree char *data = NULL;
    size_t len = 0;

    if (!dbus || !mhd_src) {
        g_printerr(_("lab: warning: no D-Bus side for the hosts (%s not found)\n"),
                   !dbus ? "dbus-daemon" : "virt-mhd");
        return true;
    }
    /* The lab user runs it: a copy it can reach, as for qemu-mh. */
    mhd = g_build_filename(lab->dir, "bin", "virt-mhd", NULL);
    if (!mhUtilReadFile(mhd_src, &data, &len, error) ||
        !mhUtilWriteFile(mhd, data, len, 0755, error))
        return false;
    for (guint i = 0; i < lab->hosts->len; i++) {
        MhLabHost *host = g_ptr_array_index(lab->hosts, i);
        g_autofree char *sock = g_build_filename(host->dir, "run", "mhd-bus.sock", NULL);
        g_autofree char *conf = NULL;
        g_autofree char *conf_arg = NULL;
        g_autofree char *addr = g_strdup_printf("unix:path=%s", sock);
        g_autofree char *log = g_build_filename(host->dir, "virt-mhd.log", NULL);
        pid_t pid;

        if (!mhLabBusConfig(host, sock, &conf, error))
            return false;
        conf_arg = g_strdup_printf("--config-file=%s", conf);
        {
            const char *const bus_argv[] = { dbus, conf_arg, "--nofork", NULL };
            const char *const mhd_argv[] = { mhd, "-c", host->uri, "--address", addr, NULL };

            if (!mhLabProcSpawn(bus_argv, host, lab->uid, lab->gid, lab->user, log, &pid,
                                error) ||
                !mhLabWaitSocket(sock, error) ||
                !mhLabProcSpawn(mhd_argv, host, lab->uid, lab->gid, lab->user, log, &pid,
                                error))
                return false;
        }
        g_free(host->bus);
        host->bus = g_steal_pointer(&addr);
    }
    return true;
}
