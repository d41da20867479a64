/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes of the lab: the lab user, starting daemons with dropped
 * privileges, and finding everything a lab host left running. */
#include "lab/mh-lab.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MH_LAB_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

bool
mhLabProcEnsureUser(const char *name, uid_t *uid, gid_t *gid, GError **error)
{
    struct passwd *pw = getpwnam(name);

    if (!pw) {
        /* A system user without a home or login: it only ever runs the lab's
         * daemons, whose HOME points into the lab directory. */
        const char *argv[] = {
            "useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
            "--comment", "mirror-helper lab hosts", name, NULL
        };
        g_autofree char *err = NULL;
        g_autoptr(GError) local = NULL;
        int status = 0;

        /* Callers' PATH (sudo, meson) may lack the sbin directories. */
        if (g_file_test("/usr/sbin/useradd", G_FILE_TEST_IS_EXECUTABLE))
            argv[0] = "/usr/sbin/useradd";

        if ((!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                           NULL, NULL, NULL, &err, &status, &local) ||
             !g_spawn_check_wait_status(status, &local)) &&
            !getpwnam(name)) {
            /* (A lab started at the same moment may have created it.) */
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("cannot create the lab user '%s' with useradd: %s %s"),
                        name, local ? local->message : "", err ? g_strstrip(err) : "");
            return false;
        }
        pw = getpwnam(name);
        if (!pw) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("user '%s' still missing after useradd"), name);
            return false;
        }
    }
    if (pw->pw_uid == 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("the lab user '%s' must not be root"), name);
        return false;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return true;
}

/* In a forked child: become uid/gid for good. Only async-signal-safe calls. */
static bool
mhLabProcDropPrivileges(uid_t uid, gid_t gid)
{
    if (geteuid() != 0)
        return getuid() == uid;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return false;
    /* setuid away from root must be irreversible. */
    return setuid(0) < 0;
}

bool
mhLabProcCheckAccess(const char *dir, int mode, uid_t uid, gid_t gid, GError **error)
{
    int status = 0;
    pid_t pid = fork();

    if (pid < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("fork failed: %s"), g_strerror(errno));
        return false;
    }
    if (pid == 0) {
        if (!mhLabProcDropPrivileges(uid, gid))
            _exit(EPERM);
        _exit(access(dir, mode) == 0 ? 0 : errno);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("the lab user (uid %u) cannot use directory '%s': %s; "
                      "choose a directory whose parents are searchable by that user, e.g. under /tmp"),
                    (unsigned)uid, dir,
                    g_strerror(WIFEXITED(status) ? WEXITSTATUS(status) : EINTR));
        return false;
    }
    return true;
}

bool
mhLabProcSpawnDaemon(const char *libvirtd, MhLabHost *host,
                     uid_t uid, gid_t gid, const char *user, GError **error)
{
    const char *const argv[] = { libvirtd, NULL };

    return mhLabProcSpawn(argv, host, uid, gid, user, host->log, &host->pid, error);
}

bool
mhLabProcSpawn(const char *const *argv, MhLabHost *host, uid_t uid, gid_t gid,
               const char *user, const char *log, pid_t *pid_out, GError **error)
{
    g_autofree char *runDir = g_build_filename(host->dir, "run", NULL);
    g_autofree char *confDir = g_build_filename(host->dir, "config", NULL);
    g_autofree char *cacheDir = g_build_filename(host->dir, "cache", NULL);
    g_autofree char *dataDir = g_build_filename(host->dir, "data", NULL);
    g_autofree char *labDir = g_path_get_dirname(host->dir);
    g_autofree char *binDir = g_build_filename(labDir, "bin", NULL);
    g_autoptr(GPtrArray) envp = g_ptr_array_new_with_free_func(g_free);
    int logfd;
    int nullfd;
    int execPipe[2];
    pid_t pid;

    /* A clean environment: nothing of the caller's (XDG dirs, D-Bus address,
     * LIBVIRT_* variables) may leak into a lab host. */
    /* DIR/bin first: libvirt takes the host's default x86_64 emulator (the
     * one virNodeGetSEVInfo and domcapabilities describe) from PATH, and
     * there qemu-system-x86_64 is qemu-mh. */
    g_ptr_array_add(envp, g_strdup_printf("PATH=%s:" MH_LAB_PATH, binDir));
    g_ptr_array_add(envp, g_strdup_printf("HOME=%s", host->home));
    g_ptr_array_add(envp, g_strdup_printf("USER=%s", user));
    g_ptr_array_add(envp, g_strdup_printf("LOGNAME=%s", user));
    g_ptr_array_add(envp, g_strdup_printf("XDG_RUNTIME_DIR=%s", runDir));
    g_ptr_array_add(envp, g_strdup_printf("XDG_CONFIG_HOME=%s", confDir));
    g_ptr_array_add(envp, g_strdup_printf("XDG_CACHE_HOME=%s", cacheDir));
    g_ptr_array_add(envp, g_strdup_printf("XDG_DATA_HOME=%s", dataDir));
    g_ptr_array_add(envp, g_strdup("LC_ALL=C.UTF-8"));
    g_ptr_array_add(envp, NULL);

    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot open log file '%s': %s"),
                    log, g_strerror(errno));
        return false;
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, _("cannot open '%s': %s"),
                    "/dev/null", g_strerror(errno));
        close(logfd);
        return false;
    }

    /* Closed by a successful exec: until then the child is still root
     * with our environment, and a cleanup of a failed "lab up" would not
     * know it for a lab process. */
    if (pipe2(execPipe, O_CLOEXEC) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("pipe failed: %s"), g_strerror(errno));
        close(logfd);
        close(nullfd);
        return false;
    }
    pid = fork();
    if (pid < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("fork failed: %s"), g_strerror(errno));
        close(logfd);
        close(nullfd);
        close(execPipe[0]);
        close(execPipe[1]);
        return false;
    }
    if (pid == 0) {
        sigset_t all;
        static const char dropFailed[] = "virt-mh lab: cannot drop privileges\n";
        static const char execFailed[] = "virt-mh lab: cannot execute the daemon\n";

        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
        /* Its own session: the daemon outlives 'lab up' and no terminal
         * signal of the caller reaches it. */
        setsid();
        if (dup2(nullfd, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
            dup2(logfd, STDERR_FILENO) < 0)
            _exit(126);
        /* dup2 onto itself (caller had fd 0-2 closed) keeps O_CLOEXEC. */
        for (int fd = 0; fd <= 2; fd++)
            fcntl(fd, F_SETFD, 0);
        /* The exec pipe as fd 3, still closed by the exec. */
        if (dup2(execPipe[1], 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
            _exit(126);
        close_range(4, ~0U, 0);
        if (chdir(host->dir) < 0 || !mhLabProcDropPrivileges(uid, gid)) {
            if (write(STDERR_FILENO, dropFailed, sizeof(dropFailed) - 1) < 0) {
                /* nothing more to say */
            }
            _exit(126);
        }
        execve(argv[0], (char **)argv, (char **)envp->pdata);
        if (write(STDERR_FILENO, execFailed, sizeof(execFailed) - 1) < 0 ||
            write(3, "x", 1) < 0) {
            /* nothing more to say */
        }
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    close(execPipe[1]);
    {
        char failed;
        ssize_t n;

        while ((n = read(execPipe[0], &failed, 1)) < 0 && errno == EINTR)
            ;
        close(execPipe[0]);
        if (n > 0) {
            waitpid(pid, NULL, 0);
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("cannot execute '%s' (see '%s')"),
                        argv[0], log);
            return false;
        }
    }
    *pid_out = pid;
    return true;
}

/* Read the NUL-separated list /proc/PID/WHAT; NULL when unreadable. */
static GStrv
mhLabProcReadList(pid_t pid, const char *what)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/%s", (int)pid, what);
    g_autofree char *data = NULL;
    GPtrArray *list;
    gsize len = 0;
    gsize start = 0;

    if (!g_file_get_contents(path, &data, &len, NULL))
        return NULL;
    list = g_ptr_array_new();
    for (gsize i = 0; i < len; i++) {
        if (data[i] == '\0') {
            g_ptr_array_add(list, g_strdup(data + start));
            start = i + 1;
        }
    }
    if (start < len)
        g_ptr_array_add(list, g_strndup(data + start, len - start));
    g_ptr_array_add(list, NULL);
    return (GStrv)g_ptr_array_free(list, FALSE);
}

/* Process state letter from /proc/PID/stat, 0 when gone. */
static char
mhLabProcState(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *data = NULL;
    const char *p;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return 0;
    /* "pid (comm) S ...": comm may contain spaces and parentheses. */
    p = strrchr(data, ')');
    if (!p || p[1] != ' ')
        return 0;
    return p[2];
}

/* The real uid from /proc/PID/status (the owner of /proc/PID is root for
 * non-dumpable processes, so stat() would lie). */
static bool
mhLabProcUid(pid_t pid, uid_t *uid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *data = NULL;
    const char *p;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return false;
    p = strstr(data, "\nUid:");
    if (!p)
        return false;
    *uid = (uid_t)strtoul(p + 5, NULL, 10);
    return true;
}

bool
mhLabProcAlive(pid_t pid)
{
    char state;

    if (pid <= 0)
        return false;
    state = mhLabProcState(pid);
    return state != 0 && state != 'Z' && state != 'X';
}

void
mhLabProcStop(pid_t pid, guint timeoutMs)
{
    if (!mhLabProcAlive(pid))
        return;
    kill(pid, SIGTERM);
    for (guint waited = 0; waited < timeoutMs; waited += 50) {
        if (!mhLabProcAlive(pid))
            return;
        g_usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    for (guint waited = 0; waited < 2000; waited += 50) {
        if (!mhLabProcAlive(pid))
            return;
        g_usleep(50 * 1000);
    }
}

/* Whether process 'pid' belongs to 'host': libvirtd and everything it
 * starts inherit HOME=DIR/hostN/home; QEMU processes also name the host's
 * domain directories on their command line. */
static bool
mhLabProcBelongsTo(pid_t pid, GStrv env, GStrv args, const MhLabHost *host)
{
    g_autofree char *homeEntry = g_strdup_printf("HOME=%s", host->home);
    g_autofree char *domLib = g_build_filename(host->dir, "config", "libvirt", "qemu", "", NULL);
    g_autofree char *domRun = g_build_filename(host->dir, "run", "libvirt", "", NULL);

    for (char **e = env; e && *e; e++) {
        if (strcmp(*e, homeEntry) == 0)
            return true;
    }
    for (char **a = args; a && *a; a++) {
        if (strstr(*a, domLib) || strstr(*a, domRun))
            return true;
    }
    return false;
}

bool
mhLabProcIsHostProcess(pid_t pid, uid_t uid, const MhLabHost *host)
{
    g_auto(GStrv) env = NULL;
    g_auto(GStrv) args = NULL;
    uid_t owner;

    if (!mhLabProcAlive(pid) || !mhLabProcUid(pid, &owner) || owner != uid)
        return false;
    env = mhLabProcReadList(pid, "environ");
    args = mhLabProcReadList(pid, "cmdline");
    return mhLabProcBelongsTo(pid, env, args, host);
}

/* One pass over /proc; returns how many processes were sent SIGKILL. */
static guint
mhLabProcKillPass(const MhLab *lab)
{
    g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
    const char *name;
    pid_t self = getpid();
    guint killed = 0;

    if (!proc)
        return 0;
    while ((name = g_dir_read_name(proc))) {
        char *end = NULL;
        long pid = strtol(name, &end, 10);

        if (pid <= 0 || *end || pid == self)
            continue;
        for (guint i = 0; i < lab->hosts->len; i++) {
            if (mhLabProcIsHostProcess(pid, lab->uid, g_ptr_array_index(lab->hosts, i))) {
                kill(pid, SIGKILL);
                killed++;
                break;
            }
        }
    }
    return killed;
}

guint
mhLabProcKillStrays(const MhLab *lab)
{
    guint total = 0;

    /* Repeat until a pass finds nothing: a dying QEMU front-end might still
     * have forked a child between two passes. */
    for (guint round = 0; round < 50; round++) {
        guint killed = mhLabProcKillPass(lab);

        if (killed == 0)
            break;
        total += killed;
        g_usleep(100 * 1000);
    }
    return total;
}

/* Does 'env' hold HOME=PREFIX<digits>/home, a lab host's home under the
 * lab directory? */
static bool
mhLabProcHomeUnder(GStrv env, const char *prefix)
{
    for (char **e = env; e && *e; e++) {
        const char *rest;

        if (!g_str_has_prefix(*e, prefix))
            continue;
        rest = *e + strlen(prefix);
        if (!g_ascii_isdigit(*rest))
            continue;
        while (g_ascii_isdigit(*rest))
            rest++;
        if (strcmp(rest, "/home") == 0)
            return true;
    }
    return false;
}

typedef bool (*MhLabProcEnvMatch)(GStrv env, const char *what);

/* Every other process whose environment matches; 'act' stops it and says
 * whether it did. Returns how many were stopped. */
static guint
mhLabProcEachMatching(MhLabProcEnvMatch match, const char *what, bool (*act)(pid_t pid))
{
    g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
    const char *name;
    pid_t self = getpid();
    guint done = 0;

    while (proc && (name = g_dir_read_name(proc))) {
        char *end = NULL;
        long pid = strtol(name, &end, 10);
        g_auto(GStrv) env = NULL;

        if (pid <= 0 || *end || pid == self)
            continue;
        env = mhLabProcReadList(pid, "environ");
        if (match(env, what) && act(pid))
            done++;
    }
    return done;
}

static bool
mhLabProcSigkill(pid_t pid)
{
    return kill(pid, SIGKILL) == 0;
}

static bool
mhLabProcTerminate(pid_t pid)
{
    /* Services stop cleanly on SIGTERM (the broker commits). */
    mhLabProcStop(pid, 5000);
    return true;
}

static bool
mhLabProcHasEntry(GStrv env, const char *entry)
{
    return env && g_strv_contains((const char *const *)env, entry);
}

guint
mhLabProcKillOrphans(const char *dir)
{
    g_autofree char *abs = g_canonicalize_filename(dir, NULL);
    g_autofree char *prefix = g_strdup_printf("HOME=%s/host", abs);
    guint total = 0;

    for (guint round = 0; round < 50; round++) {
        guint killed = mhLabProcEachMatching(mhLabProcHomeUnder, prefix, mhLabProcSigkill);

        if (killed == 0)
            break;
        total += killed;
        g_usleep(100 * 1000);
    }
    return total;
}

guint
mhLabProcKillServices(const char *dir)
{
    g_autofree char *abs = g_canonicalize_filename(dir, NULL);
    g_autofree char *tag = g_strdup_printf("%s=%s", MH_LAB_SERVICE_ENV, abs);

    return mhLabProcEachMatching(mhLabProcHasEntry, tag, mhLabProcTerminate);
}

static uid_t mhLabChownUid;
static gid_t mhLabChownGid;

static int
mhLabProcChownOne(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return lchown(path, mhLabChownUid, mhLabChownGid) < 0 ? -1 : 0;
}

bool
mhLabProcChown(const char *path, uid_t uid, gid_t gid, GError **error)
{
    mhLabChownUid = uid;
    mhLabChownGid = gid;
    if (nftw(path, mhLabProcChownOne, 32, FTW_PHYS) != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot hand '%s' to uid %u: %s"), path, (unsigned)uid,
                    g_strerror(errno));
        return false;
    }
    return true;
}
