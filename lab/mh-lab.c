/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lab: setting up, recording and tearing down local libvirt hosts. */
#include "lab/mh-lab.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* Each host gets its own block of migration ports, so two hosts of one lab
 * never pick the same port for incoming migrations. */
#define MH_LAB_MIGRATION_PORT_BASE 49152
#define MH_LAB_MIGRATION_PORTS_PER_HOST 64

/* How long a freshly started libvirtd may take to answer on its socket. */
#define MH_LAB_START_TIMEOUT_MS (90 * 1000)

/* The longest socket path below DIR for a domain: session mode keeps
 * domain state in $XDG_CONFIG_HOME/libvirt/qemu/lib and truncates the domain
 * name to 20 characters; qemu-mh puts its migration socket into the
 * domain's .cache there (XDG_CACHE_HOME). sun_path limits it. */
#define MH_LAB_LONGEST_SUFFIX \
    "/host16/config/libvirt/qemu/lib/domain-9999-ABCDEFGHIJKLMNOPQRST/.cache/mig.sock"

static void
mhLabHostFree(gpointer data)
{
    MhLabHost *host = data;

    if (!host)
        return;
    g_free(host->dir);
    g_free(host->home);
    g_free(host->socket);
    g_free(host->uri);
    g_free(host->uuid);
    g_free(host->platformDir);
    g_free(host->log);
    g_free(host->bus);
    g_free(host);
}

void
mhLabFree(MhLab *lab)
{
    if (!lab)
        return;
    g_free(lab->dir);
    g_free(lab->user);
    g_free(lab->emulator);
    if (lab->hosts)
        g_ptr_array_unref(lab->hosts);
    g_free(lab);
}

char *
mhLabHostUri(const char *socket)
{
    return g_strdup_printf("qemu+unix:///session?socket=%s", socket);
}

static MhLabHost *
mhLabHostNew(const char *dir, guint index)
{
    MhLabHost *host = g_new0(MhLabHost, 1);
    g_autofree char *name = g_strdup_printf("host%u", index);

    host->index = index;
    host->dir = g_build_filename(dir, name, NULL);
    host->home = g_build_filename(host->dir, "home", NULL);
    host->socket = g_build_filename(host->dir, "run", "libvirt", "libvirt-sock", NULL);
    host->uri = mhLabHostUri(host->socket);
    host->platformDir = g_build_filename(host->dir, "mh-platform", NULL);
    host->log = g_build_filename(host->dir, "libvirtd.log", NULL);
    host->migrationPortMin = MH_LAB_MIGRATION_PORT_BASE +
                             (index - 1) * MH_LAB_MIGRATION_PORTS_PER_HOST;
    host->migrationPortMax = host->migrationPortMin + MH_LAB_MIGRATION_PORTS_PER_HOST - 1;
    return host;
}

static MhLab *
mhLabNew(const char *dir)
{
    MhLab *lab = g_new0(MhLab, 1);

    lab->dir = g_strdup(dir);
    lab->hosts = g_ptr_array_new_with_free_func(mhLabHostFree);
    return lab;
}

static bool
mhLabSave(const MhLab *lab, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = g_build_filename(lab->dir, MH_LAB_STATE_FILE, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;

    g_key_file_set_comment(kf, NULL, NULL,
                           " Written by 'virt-mh lab up'; 'virt-mh lab down' reads it.", NULL);
    g_key_file_set_uint64(kf, "lab", "hosts", lab->hosts->len);
    g_key_file_set_string(kf, "lab", "user", lab->user);
    g_key_file_set_uint64(kf, "lab", "uid", lab->uid);
    g_key_file_set_uint64(kf, "lab", "gid", lab->gid);
    if (lab->emulator)
        g_key_file_set_string(kf, "lab", "emulator", lab->emulator);
    for (guint i = 0; i < lab->hosts->len; i++) {
        const MhLabHost *host = g_ptr_array_index(lab->hosts, i);
        g_autofree char *group = g_strdup_printf("host%u", host->index);

        g_key_file_set_string(kf, group, "uri", host->uri);
        g_key_file_set_string(kf, group, "uuid", host->uuid ? host->uuid : "");
        g_key_file_set_int64(kf, group, "pid", host->pid);
        g_key_file_set_uint64(kf, group, "migration_port_min", host->migrationPortMin);
        g_key_file_set_uint64(kf, group, "migration_port_max", host->migrationPortMax);
        if (host->bus)
            g_key_file_set_string(kf, group, "bus", host->bus);
    }
    data = g_key_file_to_data(kf, &len, NULL);
    return mhUtilWriteFile(path, data, len, 0644, error);
}

MhLab *
mhLabLoad(const char *dir, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *abs = realpath(dir, NULL);
    g_autofree char *path = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(MhLab) lab = NULL;
    guint64 nhosts;

    if (!abs) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("lab directory '%s': %s"),
                    dir, g_strerror(errno));
        return NULL;
    }
    path = g_build_filename(abs, MH_LAB_STATE_FILE, NULL);
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("'%s' is not a lab directory: cannot read '%s': %s"),
                    dir, path, local->message);
        return NULL;
    }
    lab = mhLabNew(abs);
    nhosts = g_key_file_get_uint64(kf, "lab", "hosts", &local);
    if (local || nhosts < 1 || nhosts > MH_LAB_MAX_HOSTS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("'%s': invalid number of hosts"), path);
        return NULL;
    }
    lab->user = g_key_file_get_string(kf, "lab", "user", NULL);
    lab->uid = g_key_file_get_uint64(kf, "lab", "uid", NULL);
    lab->gid = g_key_file_get_uint64(kf, "lab", "gid", NULL);
    lab->emulator = g_key_file_get_string(kf, "lab", "emulator", NULL);
    if (!lab->user) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("'%s': no user recorded"), path);
        return NULL;
    }
    for (guint i = 1; i <= nhosts; i++) {
        MhLabHost *host = mhLabHostNew(abs, i);
        g_autofree char *group = g_strdup_printf("host%u", i);

        g_ptr_array_add(lab->hosts, host);
        host->uuid = g_key_file_get_string(kf, group, "uuid", NULL);
        host->pid = g_key_file_get_int64(kf, group, "pid", NULL);
        host->bus = g_key_file_get_string(kf, group, "bus", NULL);
    }
    return g_steal_pointer(&lab);
}

bool
mhLabHostAlive(const MhLab *lab, const MhLabHost *host)
{
    /* A recorded pid may have been reused by an unrelated process. */
    return host->pid > 0 && mhLabProcIsHostProcess(host->pid, lab->uid, host);
}

static bool
mhLabMkdir(const char *path, int mode, GError **error)
{
    if (g_mkdir_with_parents(path, mode) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create directory '%s': %s"),
                    path, g_strerror(errno));
        return false;
    }
    return true;
}

static bool
mhLabPrepareHost(MhLabHost *host, GError **error)
{
    const char *subdirs[] = { "run", "config/libvirt", "cache", "data", "home/.config/mirror-helper",
                              "mh-platform" };
    g_autofree char *daemonConf = g_build_filename(host->dir, "config", "libvirt",
                                                   "libvirtd.conf", NULL);
    g_autofree char *qemuConf = g_build_filename(host->dir, "config", "libvirt",
                                                 "qemu.conf", NULL);
    /* qemu-mh under a session daemon reads the conf of the daemon's HOME. */
    g_autofree char *qemuMhConf = g_build_filename(host->home, ".config", "mirror-helper",
                                                   "qemu-mh.conf", NULL);
    g_autofree char *daemonText = NULL;
    g_autofree char *qemuText = NULL;
    g_autofree char *qemuMhText = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(subdirs); i++) {
        g_autofree char *p = g_build_filename(host->dir, subdirs[i], NULL);

        if (!mhLabMkdir(p, 0700, error))
            return false;
    }
    /* libvirt refuses to migrate between hosts with the same host UUID. */
    host->uuid = g_uuid_string_random();
    daemonText = g_strdup_printf("# Lab host %u, written by 'virt-mh lab up'.\n"
                                 "host_uuid = \"%s\"\n",
                                 host->index, host->uuid);
    /* stdio_handler "file": QEMU's output goes straight to the domain log,
     * so no session virtlogd is spawned (one process less to clean up).
     * Incoming migrations use this host's own port block (libvirt
     * refuses loopback for migration_address/migration_host, so callers
     * pass tcp://127.0.0.1:PORT as the migration URI). */
    qemuText = g_strdup_printf("# Lab host %u, written by 'virt-mh lab up'.\n"
                               "stdio_handler = \"file\"\n"
                               "migration_port_min = %u\n"
                               "migration_port_max = %u\n",
                               host->index, host->migrationPortMin, host->migrationPortMax);
    qemuMhText = g_strdup_printf("# Lab host %u, written by 'virt-mh lab up'.\n"
                                 "platform_dir = \"%s\"\n",
                                 host->index, host->platformDir);
    if (!mhUtilWriteFile(daemonConf, daemonText, strlen(daemonText), 0644, error) ||
        !mhUtilWriteFile(qemuConf, qemuText, strlen(qemuText), 0644, error) ||
        !mhUtilWriteFile(qemuMhConf, qemuMhText, strlen(qemuMhText), 0644, error))
        return false;
    /* Create the log now so that it is handed to the lab user with the rest. */
    if (!g_file_test(host->log, G_FILE_TEST_EXISTS) &&
        !mhUtilWriteFile(host->log, "", 0, 0644, error))
        return false;
    return true;
}

static bool
mhLabCopyEmulator(MhLab *lab, const char *qemuMh, GError **error)
{
    g_autofree char *binDir = g_build_filename(lab->dir, "bin", NULL);
    g_autofree char *dest = g_build_filename(binDir, "qemu-mh", NULL);
    g_autofree char *alias = g_build_filename(binDir, "qemu-system-x86_64", NULL);
    g_autofree char *data = NULL;
    size_t len = 0;

    if (!mhLabMkdir(binDir, 0755, error) ||
        !mhUtilReadFile(qemuMh, &data, &len, error) ||
        !mhUtilWriteFile(dest, data, len, 0755, error))
        return false;
    /* The hosts' default emulator (found through their PATH) is qemu-mh, as
     * it would be a patched QEMU on an SEV host; qemu-mh itself runs the real
     * QEMU by absolute path. */
    if (unlink(alias) < 0 && errno != ENOENT) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot replace '%s': %s"),
                    alias, g_strerror(errno));
        return false;
    }
    if (symlink("qemu-mh", alias) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot create '%s': %s"),
                    alias, g_strerror(errno));
        return false;
    }
    lab->emulator = g_steal_pointer(&dest);
    return true;
}

static char *
mhLabFindLibvirtd(GError **error)
{
    const char *env = g_getenv("MH_LIBVIRTD");
    char *found;

    if (env && *env)
        return g_strdup(env);
    if ((found = g_find_program_in_path("libvirtd")))
        return found;
    if (g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup("/usr/sbin/libvirtd");
    g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                _("libvirtd not found (install package libvirt-daemon or set MH_LIBVIRTD)"));
    return NULL;
}

static void
mhLabQuietLibvirt(void *opaque, virErrorPtr err)
{
    /* Connection attempts fail while a daemon is starting; stay silent. */
}

/* Last lines of a host's log, to explain why its daemon died. */
static char *
mhLabLogTail(const MhLabHost *host)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    const char *p;
    int lines = 0;

    if (!g_file_get_contents(host->log, &data, &len, NULL) || len == 0)
        return g_strdup("");
    p = data + len;
    while (p > data && lines < 6) {
        p--;
        if (*p == '\n' && p != data + len - 1)
            lines++;
    }
    return g_strdup(lines == 6 ? p + 1 : p);
}

static bool
mhLabWaitHost(const MhLab *lab, const MhLabHost *host, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + MH_LAB_START_TIMEOUT_MS * G_GINT64_CONSTANT(1000);

    virSetErrorFunc(NULL, mhLabQuietLibvirt);
    while (g_get_monotonic_time() < deadline) {
        if (!mhLabProcAlive(host->pid)) {
            g_autofree char *tail = mhLabLogTail(host);

            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("libvirtd of lab host %u (pid %d) exited during start-up; "
                          "end of '%s':\n%s"),
                        host->index, (int)host->pid, host->log, tail);
            return false;
        }
        if (g_file_test(host->socket, G_FILE_TEST_EXISTS)) {
            virConnectPtr conn = virConnectOpen(host->uri);
            unsigned long version = 0;
            bool ok = conn && virConnectGetLibVersion(conn, &version) == 0;

            if (conn)
                virConnectClose(conn);
            if (ok)
                return true;
        }
        g_usleep(100 * 1000);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                _("libvirtd of lab host %u did not answer on '%s' within %d s (log: '%s')"),
                host->index, host->socket, MH_LAB_START_TIMEOUT_MS / 1000, host->log);
    return false;
}

/* DIR ends up in socket paths and URIs: keep it short and plain. */
static bool
mhLabCheckDir(const char *dir, GError **error)
{
    size_t limit = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1 -
                   strlen(MH_LAB_LONGEST_SUFFIX);

    if (strlen(dir) > limit) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("lab directory '%s' is too long (%zu characters, at most %zu): "
                      "libvirt's socket paths below it would not fit"),
                    dir, strlen(dir), limit);
        return false;
    }
    for (const char *p = dir; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("/._-+", *p)) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("lab directory '%s' contains '%c': only letters, digits and "
                          "'/._-+' are allowed (it becomes part of libvirt URIs)"),
                        dir, *p);
            return false;
        }
    }
    return true;
}

static bool
mhLabSetUser(MhLab *lab, GError **error)
{
    if (geteuid() == 0) {
        /* Root's session daemons would still be root; a dedicated user keeps
         * the lab away from the machine's libvirt and devices. */
        const char *name = g_getenv("MH_LAB_USER");

        lab->user = g_strdup(name && *name ? name : MH_LAB_USER);
        return mhLabProcEnsureUser(lab->user, &lab->uid, &lab->gid, error);
    }
    lab->user = g_strdup(g_get_user_name());
    lab->uid = getuid();
    lab->gid = getgid();
    return true;
}

/* The hook must be in place before the daemons start: libvirt looks for
 * hooks once, at its start. Without it only the key broker's automatic
 * attestation is missing, so a failure is a warning. */
static void
mhLabUpHook(void)
{
    g_autoptr(GError) err = NULL;
    bool installed = false;

    if (!mhLabInstallHook(&installed, &err))
        g_printerr(_("lab: warning: %s\n"), err->message);
    else if (installed)
        g_printerr(_("lab: installed this build's libvirt hook in /etc/libvirt/hooks/qemu.d "
                     "(libvirt runs hooks from there only)\n"));
}

static bool
mhLabUpHosts(MhLab *lab, const char *libvirtd, guint nhosts, const char *qemuMh,
             GError **error)
{
    for (guint i = 1; i <= nhosts; i++) {
        MhLabHost *host = mhLabHostNew(lab->dir, i);

        g_ptr_array_add(lab->hosts, host);
        if (!mhLabPrepareHost(host, error))
            return false;
    }
    if (qemuMh && (!mhLabCopyEmulator(lab, qemuMh, error) ||
                   !mhLabPrepareHostPlatforms(lab, qemuMh, error)))
        return false;
    if (!mhLabSave(lab, error))
        return false;
    mhLabUpHook();
    if (geteuid() == 0) {
        if (!mhLabProcChown(lab->dir, lab->uid, lab->gid, error) ||
            !mhLabProcCheckAccess(lab->dir, R_OK | W_OK | X_OK, lab->uid, lab->gid, error))
            return false;
    }
    /* Start all, then wait for all: the daemons initialise in parallel. */
    for (guint i = 0; i < lab->hosts->len; i++) {
        MhLabHost *host = g_ptr_array_index(lab->hosts, i);

        if (!mhLabProcSpawnDaemon(libvirtd, host, lab->uid, lab->gid, lab->user, error))
            return false;
        if (!mhLabSave(lab, error))
            return false;
    }
    for (guint i = 0; i < lab->hosts->len; i++) {
        if (!mhLabWaitHost(lab, g_ptr_array_index(lab->hosts, i), error))
            return false;
    }
    return mhLabUpBuses(lab, error) && mhLabSave(lab, error);
}

MhLab *
mhLabUp(const char *dir, guint nhosts, const char *qemuMh, GError **error)
{
    g_autoptr(MhLab) lab = NULL;
    g_autoptr(MhLab) old = NULL;
    g_autofree char *canon = g_canonicalize_filename(dir, NULL);
    g_autofree char *abs = NULL;
    g_autofree char *statePath = NULL;
    g_autofree char *libvirtd = NULL;

    if (nhosts < 1 || nhosts > MH_LAB_MAX_HOSTS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("number of hosts %u out of range 1..%d"), nhosts, MH_LAB_MAX_HOSTS);
        return NULL;
    }
    /* Everything that can be checked is checked before DIR is created. */
    if (!mhLabCheckDir(canon, error) || !(libvirtd = mhLabFindLibvirtd(error)))
        return NULL;
    lab = mhLabNew(canon);
    if (!mhLabSetUser(lab, error))
        return NULL;
    if (geteuid() == 0) {
        g_autofree char *ancestor = g_path_get_dirname(canon);

        while (!g_file_test(ancestor, G_FILE_TEST_EXISTS)) {
            char *up = g_path_get_dirname(ancestor);

            g_free(ancestor);
            ancestor = up;
        }
        if (!mhLabProcCheckAccess(ancestor, X_OK, lab->uid, lab->gid, error))
            return NULL;
    }
    if (!mhLabMkdir(canon, 0755, error))
        return NULL;
    if (!(abs = realpath(canon, NULL))) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("lab directory '%s': %s"),
                    dir, g_strerror(errno));
        return NULL;
    }
    /* Symlinks may have made it longer. */
    if (!mhLabCheckDir(abs, error))
        return NULL;
    g_free(lab->dir);
    lab->dir = g_strdup(abs);
    statePath = g_build_filename(abs, MH_LAB_STATE_FILE, NULL);
    if (g_file_test(statePath, G_FILE_TEST_EXISTS) && (old = mhLabLoad(abs, NULL))) {
        for (guint i = 0; i < old->hosts->len; i++) {
            if (mhLabHostAlive(old, g_ptr_array_index(old->hosts, i))) {
                g_set_error(error, MH_ERROR, MH_ERROR_STATE,
                            _("a lab is already running in '%s'; run 'virt-mh lab down --dir %s' first"),
                            abs, abs);
                return NULL;
            }
        }
        /* Its daemons are gone, but a QEMU of a crashed host may not be. */
        mhLabProcKillStrays(old);
    }

    if (!mhLabUpHosts(lab, libvirtd, nhosts, qemuMh, error)) {
        /* Leave nothing running behind a failed start. */
        mhLabDown(lab, NULL, NULL);
        return NULL;
    }
    return g_steal_pointer(&lab);
}

bool
mhLabRestartHost(MhLab *lab, guint index, GError **error)
{
    g_autofree char *libvirtd = NULL;
    MhLabHost *host;

    if (index < 1 || index > lab->hosts->len) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID, _("the lab has no host %u"), index);
        return false;
    }
    host = g_ptr_array_index(lab->hosts, index - 1);
    if (!(libvirtd = mhLabFindLibvirtd(error)))
        return false;
    /* Its domains keep running, as on a real host whose libvirtd restarts. */
    if (mhLabHostAlive(lab, host))
        mhLabProcStop(host->pid, 10 * 1000);
    return mhLabProcSpawnDaemon(libvirtd, host, lab->uid, lab->gid, lab->user, error) &&
        mhLabSave(lab, error) && mhLabWaitHost(lab, host, error);
}

static void
mhLabDestroyDomains(const MhLabHost *host)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int n;

    virSetErrorFunc(NULL, mhLabQuietLibvirt);
    if (!(conn = virConnectOpen(host->uri)))
        return;
    n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; i++) {
        /* Whatever fails here is caught by the sweep for stray processes. */
        virDomainDestroy(doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
}

bool
mhLabDown(MhLab *lab, guint *strays, GError **error)
{
    guint killed;

    for (guint i = 0; i < lab->hosts->len; i++) {
        MhLabHost *host = g_ptr_array_index(lab->hosts, i);

        if (mhLabHostAlive(lab, host))
            mhLabDestroyDomains(host);
    }
    for (guint i = 0; i < lab->hosts->len; i++) {
        MhLabHost *host = g_ptr_array_index(lab->hosts, i);

        if (mhLabHostAlive(lab, host))
            mhLabProcStop(host->pid, 10 * 1000);
    }
    /* Domains whose libvirtd had died, helpers of qemu-mh, a daemon that
     * ignored SIGTERM: everything still carrying a host's marks goes. */
    killed = mhLabProcKillStrays(lab);
    mhLabProcKillServices(lab->dir);
    if (strays)
        *strays = killed;
    for (guint i = 0; i < lab->hosts->len; i++)
        ((MhLabHost *)g_ptr_array_index(lab->hosts, i))->pid = 0;
    return mhLabSave(lab, error);
}

char *
mhLabFindQemuMh(char **tried)
{
    const char *env = g_getenv("MH_QEMU_MH");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *selfDir = NULL;
    g_autofree char *inBuild = NULL;
    g_autofree char *sideBySide = NULL;

    if (env && *env) {
        *tried = g_strdup(env);
        return g_file_test(env, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup(env) : NULL;
    }
    if (!self) {
        *tried = g_strdup("/proc/self/exe");
        return NULL;
    }
    selfDir = g_path_get_dirname(self);
    inBuild = g_build_filename(selfDir, "..", "..", "sim", "qemu-mh", "qemu-mh", NULL);
    sideBySide = g_build_filename(selfDir, "qemu-mh", NULL);
    *tried = g_strdup_printf("%s, %s", inBuild, sideBySide);
    if (g_file_test(inBuild, G_FILE_TEST_IS_EXECUTABLE))
        return g_canonicalize_filename(inBuild, NULL);
    if (g_file_test(sideBySide, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer(&sideBySide);
    return NULL;
}
