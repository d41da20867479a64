/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: what the test guest says about its own memory. The guest
 * verifies every data page against the content it must hold
 * (docs/test-guest.md), so its verdict does not depend on qemu-mh's or the
 * MH's accounting. Two sources: the status block at a fixed GPA (read with
 * HMP "xp" through libvirt) and the "pass"/"INTEGRITY FAILURE" lines on the
 * serial console, which both hosts append to the same log file. */
#include "lab/mh-demo.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <libvirt/libvirt-qemu.h>

#define MH_DEMO_STATUS_WORDS 16

bool
mhDemoGuestStatus(virDomainPtr dom, MhDemoGuestStatus *st, GError **error)
{
    g_autofree char *cmd = g_strdup_printf("xp /%uwx 0x%x", MH_DEMO_STATUS_WORDS,
                                           MH_DEMO_GUEST_STATUS_GPA);
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    uint32_t w[MH_DEMO_STATUS_WORDS];
    guint n = 0;

    if (virDomainQemuMonitorCommand(dom, cmd, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
        mhVirtSetError(error, _("cannot read the guest's status block"));
        return false;
    }
    /* "0000000002000000: 0x5347484d 0x00000001 0x00000002 0x00004000" */
    lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l && n < MH_DEMO_STATUS_WORDS; l++) {
        char *p = strchr(*l, ':');

        if (!p)
            continue;
        p++;
        while (n < MH_DEMO_STATUS_WORDS) {
            char *end;
            unsigned long v = strtoul(p, &end, 16);

            if (end == p)
                break;
            w[n++] = v;
            p = end;
        }
    }
    if (n < MH_DEMO_STATUS_WORDS) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("unexpected reply to '%s': %s"), cmd, out);
        return false;
    }
    st->magic = w[0];
    st->state = w[2];
    st->pages = w[3];
    st->passes = w[4];
    st->errors = w[5];
    st->verified = w[6] | (uint64_t)w[7] << 32;
    st->dirtied = w[8] | (uint64_t)w[9] << 32;
    st->uptime_ms = w[11];
    return true;
}

bool
mhDemoGuestWaitReady(virDomainPtr dom, guint timeout_s, MhDemoGuestStatus *st,
                     GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

    for (;;) {
        if (mhDemoInterrupted(error) || !mhDemoGuestStatus(dom, st, error))
            return false;
        if (st->magic == MH_DEMO_GUEST_MAGIC) {
            if (st->state == MH_DEMO_GUEST_STATE_SETUP_ERROR) {
                g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                            _("the test guest stopped with a setup error (see its serial "
                              "log)"));
                return false;
            }
            if (st->state == MH_DEMO_GUEST_STATE_RUNNING && st->passes >= 1)
                return true;
        }
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("the test guest did not report a completed verify pass within "
                          "%u s (status block magic 0x%08x, state %u)"),
                        timeout_s, st->magic, st->state);
            return false;
        }
        g_usleep(500 * 1000);
    }
}

uint64_t
mhDemoSerialOffset(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Count the guest's lines printed since 'offset'. */
static void
mhDemoSerialScan(const char *path, uint64_t offset, MhDemoIntegrity *res)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_auto(GStrv) lines = NULL;

    res->serial_passes = 0;
    res->serial_failures = 0;
    if (!g_file_get_contents(path, &text, &len, NULL) || offset > len)
        return;
    lines = g_strsplit(text + offset, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *p;

        if ((p = strstr(*l, "mh-guest: INTEGRITY FAILURE")) ||
            (p = strstr(*l, "more integrity failures"))) {
            res->serial_failures++;
        } else if ((p = strstr(*l, "mh-guest: pass "))) {
            res->serial_passes++;
            res->serial_last_pass = strtoul(p + strlen("mh-guest: pass "), NULL, 10);
        }
    }
}

bool
mhDemoGuestIntegrity(virDomainPtr dom, const char *serial_log, uint64_t offset,
                     guint timeout_s, MhDemoIntegrity *res, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
    MhDemoGuestStatus st;

    memset(res, 0, sizeof(*res));
    if (!mhDemoGuestStatus(dom, &st, error))
        return false;
    if (st.magic != MH_DEMO_GUEST_MAGIC) {
        g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                    _("no status block on the new host: the guest's memory did not arrive "
                      "(magic 0x%08x at GPA 0x%x)"), st.magic, MH_DEMO_GUEST_STATUS_GPA);
        return false;
    }
    res->passes_before = st.passes;
    /* Two more passes: every page verified at least once on this host. */
    for (;;) {
        if (mhDemoInterrupted(error) || !mhDemoGuestStatus(dom, &st, error))
            return false;
        res->passes_after = st.passes;
        res->errors = st.errors;
        mhDemoSerialScan(serial_log, offset, res);
        if (st.errors || res->serial_failures || st.state != MH_DEMO_GUEST_STATE_RUNNING)
            return true;
        if (st.passes >= res->passes_before + 2)
            return true;
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                        _("the guest did not complete 2 verify passes on the new host within "
                          "%u s (passes %u -> %u): it is not running properly"),
                        timeout_s, res->passes_before, st.passes);
            return false;
        }
        g_usleep(250 * 1000);
    }
}
