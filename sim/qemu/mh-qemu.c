/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's process side: daemonizing like QEMU, running the real QEMU
 * as a child that dies with us, the monitors, the pidfile, signals, and
 * exiting the way QEMU would so that libvirt cannot tell the difference. */
#include "sim/qemu/mh-qemu.h"
#include "sim/qemu/mh-qemu-migrate.h"
#include "sim/qemu/mh-qmp-handler.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>

/* How long QEMU may take to exit after SIGTERM before it gets SIGKILL. */
#define MH_QEMU_KILL_TIMEOUT_S 10

static const char *mhQemuProgName = "qemu-mh";

void
mhQemuLog(const char *format, ...)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *ts = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, format);
    msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    fprintf(stderr, "%s %s: %s\n", ts, mhQemuProgName, msg);
    fflush(stderr);
}

static void
mhQemuError(const char *message)
{
    fprintf(stderr, "%s: %s\n", mhQemuProgName, message);
    fflush(stderr);
}

/* ---- daemonizing ---- */

/* Tell the waiting parent the outcome (0 = up) and detach stdio, as
 * QEMU's -daemonize does once initialization succeeded. */
static void
mhQemuReportReady(MhQemu *qemu, bool ok)
{
    char c = ok ? 0 : 1;
    int null;

    if (qemu->ready_pipe < 0)
        return;
    if (write(qemu->ready_pipe, &c, 1) < 0) {
        /* The parent is gone; nothing to tell. */
    }
    close(qemu->ready_pipe);
    qemu->ready_pipe = -1;
    if (!ok)
        return;
    if ((null = open("/dev/null", O_RDWR)) >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
}

/* Fork; the parent waits for the child's verdict and exits with it. */
static int
mhQemuDaemonize(void)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid > 0) {
        char c = 1;
        ssize_t n;

        close(p[1]);
        do {
            n = read(p[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 0 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    return p[1];
}

static int
mhQemuWritePidfile(const char *path, GError **error)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    /* Like QEMU: locked while we live, so a second instance fails. */
    if (fd < 0 || lockf(fd, F_TLOCK, 0) < 0 || ftruncate(fd, 0) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create PID file '%s': %s"), path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* ---- monitors ---- */

static int
mhQemuListenUnix(const char *path, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("UNIX socket path '%s' is too long"), path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        goto fail;
    /* QEMU replaces a stale socket file too. */
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0)
        goto fail;
    return fd;

 fail:
    g_set_error(error, MH_ERROR, MH_ERROR_IO,
                _("Failed to bind socket to %s: %s"), path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static void
mhQemuProxyReady(MhQmpProxy *proxy, gpointer data)
{
    MhQemu *qemu = data;

    if (++qemu->ready_count == qemu->args->monitors->len)
        mhQemuReportReady(qemu, true);
}

static void mhQemuMaybeFinish(MhQemu *qemu);

static void
mhQemuProxyUpstreamClosed(MhQmpProxy *proxy, gpointer data)
{
    MhQemu *qemu = data;

    qemu->upstreams_closed++;
    mhQemuMaybeFinish(qemu);
}

static const MhQmpProxyCallbacks mhQemuProxyCallbacks = {
    .ready = mhQemuProxyReady,
    .upstream_closed = mhQemuProxyUpstreamClosed,
};

/* ---- QEMU's life ---- */

static gboolean
mhQemuStderrRelay(gint fd, GIOCondition cond, gpointer data)
{
    MhQemu *qemu = data;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && errno == EINTR)
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        close(fd);
        qemu->stderr_pipe = -1;
        qemu->stderr_watch = 0;
        return G_SOURCE_REMOVE;
    }
    if (write(STDERR_FILENO, buf, n) < 0) {
        /* stderr is gone: drop QEMU's output like /dev/null would. */
    }
    return G_SOURCE_CONTINUE;
}

static void
mhQemuDrainStderr(MhQemu *qemu)
{
    if (qemu->stderr_pipe < 0)
        return;
    g_unix_set_fd_nonblocking(qemu->stderr_pipe, FALSE, NULL);
    while (qemu->stderr_pipe >= 0)
        mhQemuStderrRelay(qemu->stderr_pipe, G_IO_IN, qemu);
    if (qemu->stderr_watch) {
        g_source_remove(qemu->stderr_watch);
        qemu->stderr_watch = 0;
    }
}

static void
mhQemuFinish(MhQemu *qemu)
{
    if (qemu->finish_timer) {
        g_source_remove(qemu->finish_timer);
        qemu->finish_timer = 0;
    }
    /* libvirt learns of QEMU's end as monitor EOF, as it would. */
    for (guint i = 0; i < qemu->proxies->len; i++)
        mhQmpProxyShutdown(g_ptr_array_index(qemu->proxies, i));
    mhQemuReportReady(qemu, false);
    g_main_loop_quit(qemu->loop);
}

static gboolean
mhQemuFinishTimeout(gpointer data)
{
    MhQemu *qemu = data;

    qemu->finish_timer = 0;
    mhQemuFinish(qemu);
    return G_SOURCE_REMOVE;
}

/* Done once QEMU exited and its last words (e.g. the reply to "quit" and
 * the SHUTDOWN event) went through every monitor, i.e. QEMU's ends of the
 * monitors are closed; a dead QEMU's sockets close at once, so the timer
 * is only a safety net. */
static void
mhQemuMaybeFinish(MhQemu *qemu)
{
    if (!qemu->qemu_exited)
        return;
    if (qemu->upstreams_closed >= qemu->proxies->len) {
        mhQemuFinish(qemu);
        return;
    }
    if (!qemu->finish_timer)
        qemu->finish_timer = g_timeout_add_seconds(2, mhQemuFinishTimeout, qemu);
}

static void
mhQemuChildExited(GPid pid, gint status, gpointer data)
{
    MhQemu *qemu = data;

    qemu->qemu_exited = true;
    qemu->qemu_status = status;
    g_spawn_close_pid(pid);
    if (qemu->kill_timer) {
        g_source_remove(qemu->kill_timer);
        qemu->kill_timer = 0;
    }
    mhQemuDrainStderr(qemu);
    mhQemuMaybeFinish(qemu);
}

static gboolean
mhQemuKillTimeout(gpointer data)
{
    MhQemu *qemu = data;

    qemu->kill_timer = 0;
    if (!qemu->qemu_exited)
        kill(qemu->qemu_pid, SIGKILL);
    return G_SOURCE_REMOVE;
}

static gboolean
mhQemuTerminate(gpointer data)
{
    MhQemu *qemu = data;

    /* QEMU handles SIGTERM by shutting down cleanly (exit status 0). */
    if (!qemu->qemu_exited) {
        kill(qemu->qemu_pid, SIGTERM);
        if (!qemu->kill_timer)
            qemu->kill_timer = g_timeout_add_seconds(MH_QEMU_KILL_TIMEOUT_S,
                                                     mhQemuKillTimeout, qemu);
    }
    return G_SOURCE_CONTINUE;
}

static bool
mhQemuSpawn(MhQemu *qemu, GStrv argv, GError **error)
{
    pid_t parent = getpid();
    int errp[2] = { -1, -1 };
    pid_t pid;

    /* A daemon's QEMU may not keep libvirt's stdio pipes open: its output
     * is relayed through qemu-mh, which detaches once QEMU is up. */
    if (qemu->args->daemonize && pipe2(errp, O_CLOEXEC) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO, "pipe: %s", g_strerror(errno));
        return false;
    }
    if ((pid = fork()) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED, _("fork failed: %s"), g_strerror(errno));
        return false;
    }
    if (pid == 0) {
        /* QEMU must not outlive qemu-mh, whatever kills qemu-mh. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        signal(SIGPIPE, SIG_DFL);
        for (guint i = 0; i < qemu->args->monitors->len; i++) {
            MhQemuMonitor *mon = g_ptr_array_index(qemu->args->monitors, i);
            fcntl(mon->qemu_fd, F_SETFD, 0);
        }
        if (errp[1] >= 0) {
            dup2(errp[1], STDOUT_FILENO);
            dup2(errp[1], STDERR_FILENO);
        }
        execv(argv[0], argv);
        fprintf(stderr, "%s: cannot run '%s': %s\n", mhQemuProgName, argv[0], g_strerror(errno));
        _exit(127);
    }
    qemu->qemu_pid = pid;
    if (errp[0] >= 0) {
        close(errp[1]);
        qemu->stderr_pipe = errp[0];
        qemu->stderr_watch = g_unix_fd_add(errp[0], G_IO_IN | G_IO_HUP, mhQemuStderrRelay, qemu);
    }
    for (guint i = 0; i < qemu->args->monitors->len; i++) {
        MhQemuMonitor *mon = g_ptr_array_index(qemu->args->monitors, i);
        close(mon->qemu_fd);
        mon->qemu_fd = -1;
    }
    g_child_watch_add(pid, mhQemuChildExited, qemu);
    return true;
}

/* Everything up to a running QEMU; false with an error otherwise. */
static bool
mhQemuStart(MhQemu *qemu, GPtrArray *created_paths, GError **error)
{
    MhQemuArgs *args = qemu->args;
    g_autoptr(GPtrArray) ours = g_ptr_array_new();
    g_auto(GStrv) argv = NULL;

    if (args->ram_shared) {
        if (!(qemu->ram = mhQemuRamNew(args->ram_backend_id, args->ram_size,
                                       args->machine_type, error)))
            return false;
        args->ram_fd = mhQemuRamGetFd(qemu->ram);
        mhQemuLog("guest RAM: %" G_GUINT64_FORMAT " MiB on %s", args->ram_size >> 20,
                  mhQemuRamGetBacking(qemu->ram));
    }
    if (args->sev && !mhQemuSevLaunch(qemu, error))
        return false;

    for (guint i = 0; i < args->monitors->len; i++) {
        MhQemuMonitor *mon = g_ptr_array_index(args->monitors, i);
        int sp[2];

        if (mon->listen_fd >= 0) {
            if (fcntl(mon->listen_fd, F_GETFD) < 0) {
                g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                            _("monitor '%s': file descriptor %d is not open"),
                            mon->id, mon->listen_fd);
                return false;
            }
            /* libvirt's listening socket stays with qemu-mh only. */
            fcntl(mon->listen_fd, F_SETFD, FD_CLOEXEC);
        } else {
            if ((mon->listen_fd = mhQemuListenUnix(mon->path, error)) < 0)
                return false;
            g_ptr_array_add(created_paths, g_strdup(mon->path));
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_IO, "socketpair: %s", g_strerror(errno));
            return false;
        }
        mon->qemu_fd = sp[1];
        g_ptr_array_add(ours, GINT_TO_POINTER(sp[0]));
    }
    if (!(argv = mhQemuArgsBuild(args, qemu->real_qemu, error)))
        return false;
    if (!mhQemuSpawn(qemu, argv, error))
        return false;

    for (guint i = 0; i < args->monitors->len; i++) {
        MhQemuMonitor *mon = g_ptr_array_index(args->monitors, i);
        MhQmpProxy *proxy = mhQmpProxyNew(mon->id, mon->listen_fd,
                                          GPOINTER_TO_INT(g_ptr_array_index(ours, i)),
                                          mhQemuCommands, qemu, &mhQemuProxyCallbacks,
                                          qemu, error);
        if (!proxy)
            return false;
        mon->listen_fd = -1;    /* the proxy owns it now */
        mhQmpProxyAddEventHook(proxy, mhQemuSevEvent, qemu);
        g_ptr_array_add(qemu->proxies, proxy);
    }
    if (args->monitors->len == 0)
        mhQemuReportReady(qemu, true);
    return true;
}

void
mhQemuClear(MhQemu *qemu)
{
    /* The migration first: its thread talks through the proxies and
     * uses the MH and guest RAM. */
    mhQemuMigrateClear(qemu);
    g_clear_pointer(&qemu->proxies, g_ptr_array_unref);
    /* The MH's vCPUs map guest RAM: they stop before it goes. */
    mhQemuMhClear(qemu);
    g_clear_pointer(&qemu->ram, mhQemuRamFree);
    g_clear_pointer(&qemu->launch, mhSevLaunchFree);
    g_clear_pointer(&qemu->platform, mhSevPlatformFree);
    g_clear_pointer(&qemu->firmware, g_bytes_unref);
    g_clear_pointer(&qemu->loop, g_main_loop_unref);
    g_clear_pointer(&qemu->real_qemu, g_free);
    g_clear_pointer(&qemu->platform_dir, g_free);
    g_clear_pointer(&qemu->args, mhQemuArgsFree);
    g_clear_pointer(&qemu->conf, mhQemuConfFree);
    g_mutex_clear(&qemu->mh_lock);
}

static int
mhQemuVersion(const char *real, const char *option)
{
    const char *argv[] = { real, option, NULL };
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    gint status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                      &status, &err)) {
        fprintf(stderr, "%s: cannot run '%s': %s\n", mhQemuProgName, real, err->message);
        return 1;
    }
    fputs(out ? out : "", stdout);
    printf("qemu-mh (mirror-helper) %s\n", PACKAGE_VERSION);
    return g_spawn_check_wait_status(status, NULL) ? 0 : 1;
}

int
mhQemuMain(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) created_paths = g_ptr_array_new_with_free_func(g_free);
    MhQemu state = { 0 };
    MhQemu *qemu = &state;
    const char *real;
    int pidfd = -1;
    int ret = 1;

    if (argc > 0 && argv[0])
        mhQemuProgName = g_path_get_basename(argv[0]);
    if (!(qemu->conf = mhQemuConfLoad(NULL, &err))) {
        mhQemuError(err->message);
        return 1;
    }
    real = qemu->conf->real_qemu;
    if (!(qemu->args = mhQemuArgsParse(argc - 1, argv + 1, &err))) {
        mhQemuError(err->message);
        return 1;
    }
    /* "-version" alone: QEMU's own lines first (what a caller parses),
     * then qemu-mh's, as libvirt's tools name their package. */
    if (argc == 2 && (strcmp(argv[1], "-version") == 0 || strcmp(argv[1], "--version") == 0)) {
        ret = mhQemuVersion(real, argv[1]);
        mhQemuArgsFree(qemu->args);
        mhQemuConfFree(qemu->conf);
        return ret;
    }
    /* Nothing for qemu-mh to do ("-machine help", ...): be the real QEMU. */
    if (qemu->args->monitors->len == 0 && !qemu->args->sev && !qemu->args->helper) {
        argv[0] = (char *)real;
        mhQemuArgsFree(qemu->args);
        execv(real, argv);
        fprintf(stderr, "%s: cannot run '%s': %s\n", mhQemuProgName, real, g_strerror(errno));
        return 1;
    }

    qemu->real_qemu = g_strdup(real);
    g_mutex_init(&qemu->mh_lock);
    if (qemu->args->helper)
        qemu->on_launch_secret = mhQemuMhOnLaunchSecret;
    qemu->ready_pipe = -1;
    qemu->stderr_pipe = -1;
    qemu->proxies = g_ptr_array_new_with_free_func((GDestroyNotify)mhQmpProxyFree);
    qemu->loop = g_main_loop_new(NULL, FALSE);
    signal(SIGPIPE, SIG_IGN);

    if (qemu->args->daemonize && (qemu->ready_pipe = mhQemuDaemonize()) < 0) {
        mhQemuError(g_strerror(errno));
        return 1;
    }
    if (qemu->args->pidfile && (pidfd = mhQemuWritePidfile(qemu->args->pidfile, &err)) < 0) {
        mhQemuError(err->message);
        mhQemuReportReady(qemu, false);
        return 1;
    }
    g_unix_signal_add(SIGTERM, mhQemuTerminate, qemu);
    g_unix_signal_add(SIGINT, mhQemuTerminate, qemu);
    g_unix_signal_add(SIGHUP, mhQemuTerminate, qemu);

    if (!mhQemuStart(qemu, created_paths, &err)) {
        mhQemuError(err->message);
        if (qemu->qemu_pid > 0 && !qemu->qemu_exited) {
            kill(qemu->qemu_pid, SIGKILL);
            waitpid(qemu->qemu_pid, NULL, 0);
        }
        mhQemuReportReady(qemu, false);
        goto cleanup;
    }
    g_main_loop_run(qemu->loop);

    if (WIFEXITED(qemu->qemu_status))
        ret = WEXITSTATUS(qemu->qemu_status);

 cleanup:
    for (guint i = 0; i < created_paths->len; i++)
        unlink(g_ptr_array_index(created_paths, i));
    if (pidfd >= 0) {
        unlink(qemu->args->pidfile);
        close(pidfd);
    }
    mhQemuClear(qemu);
    if (qemu->qemu_exited && WIFSIGNALED(qemu->qemu_status)) {
        /* Die the way QEMU died. */
        int sig = WTERMSIG(qemu->qemu_status);

        signal(sig, SIG_DFL);
        raise(sig);
    }
    return ret;
}
