/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh lab relay: the lab relay (lab/mh-lab-relay.h) as a process of
 * its own, recording every byte it carries, both directions, as a host on
 * the path would see them. The demo puts it between the hosts and the key
 * broker, where it must outlive the demo under --keep.
 *   virt-mh lab relay --to ADDR:PORT --record FILE
 * prints "relay on 127.0.0.1:PORT" once it accepts and runs until
 * SIGTERM or SIGINT. */
#include "mh-cmd.h"

#include "lab/mh-lab-relay.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>

static void
mhLabRelayRecord(gpointer data, gpointer *flow, const uint8_t *buf, size_t len)
{
    int fd = GPOINTER_TO_INT(data);

    if (write(fd, buf, len) != (ssize_t)len)
        g_printerr(_("lab relay: cannot record: %s\n"), g_strerror(errno));
}

static gboolean
mhLabRelayQuit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

/* "ADDR:PORT", ADDR numeric IPv4 */
static bool
mhLabRelayParseTo(const char *to, char **addr, guint *port)
{
    const char *colon = to ? strrchr(to, ':') : NULL;
    guint64 n;

    if (!colon || colon == to ||
        !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &n, NULL))
        return false;
    *addr = g_strndup(to, colon - to);
    *port = n;
    return true;
}

int
mhCmdLabRelay(MhCmdGlobal *global, int argc, char **argv)
{
    g_autofree char *to = NULL, *record = NULL, *addr = NULL;
    GOptionEntry entries[] = {
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, N_("where to relay to"), N_("ADDR:PORT") },
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &record,
          N_("file that receives every byte relayed"), N_("FILE") },
        { NULL }
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    MhLabRelay *relay;
    guint port = 0;
    int fd;

    if (!mhCmdParseOptions(global, "lab relay", NULL,
                           N_("Relay TCP to ADDR:PORT, recording every byte."),
                           entries, &argc, &argv))
        return MH_EXIT_FAIL;
    if (!to || !record) {
        mhCmdErrorf(_("lab relay: give --to ADDR:PORT and --record FILE"));
        return MH_EXIT_FAIL;
    }
    if (!mhLabRelayParseTo(to, &addr, &port)) {
        mhCmdErrorf(_("lab relay: --to '%s' is not ADDR:PORT"), to);
        return MH_EXIT_FAIL;
    }
    if ((fd = open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
        mhCmdErrorf(_("lab relay: cannot open '%s': %s"), record, g_strerror(errno));
        return MH_EXIT_FAIL;
    }
    if (!(relay = mhLabRelayStart("127.0.0.1", 0, addr, port, mhLabRelayRecord,
                                  GINT_TO_POINTER(fd), &error))) {
        mhCmdPrintError(error);
        close(fd);
        return MH_EXIT_FAIL;
    }
    printf(_("relay on 127.0.0.1:%u\n"), mhLabRelayGetPort(relay));
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    g_unix_signal_add(SIGTERM, mhLabRelayQuit, loop);
    g_unix_signal_add(SIGINT, mhLabRelayQuit, loop);
    g_main_loop_run(loop);
    mhLabRelayFree(relay);
    fsync(fd);
    close(fd);
    return MH_EXIT_OK;
}
