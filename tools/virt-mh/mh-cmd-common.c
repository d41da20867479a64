/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mh-cmd.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <stdarg.h>
#include <stdio.h>
#include <libvirt/virterror.h>

void
mhCmdPrintError(const GError *error)
{
    fprintf(stderr, _("error: %s\n"), error ? error->message : _("unknown error"));
}

void
mhCmdErrorf(const char *format, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, format);
    msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    fprintf(stderr, _("error: %s\n"), msg);
}

bool
mhCmdParseOptions(MhCmdGlobal *global, const char *command,
                  const char *params, const char *summary,
                  const GOptionEntry *entries, int *argc, char ***argv)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *prgname = g_strdup_printf("virt-mh %s", command);
    GOptionEntry common[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri,
          N_("libvirt connection URI"), N_("URI") },
        { NULL }
    };

    /* GLib prints "PRGNAME [OPTION…] PARAMS"; make PRGNAME the whole command. */
    g_set_prgname(prgname);
    ctx = g_option_context_new(params);
    g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
    g_option_context_set_summary(ctx, _(summary));
    g_option_context_add_main_entries(ctx, common, GETTEXT_PACKAGE);
    if (entries)
        g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        g_autoptr(GError) wrapped = g_error_new(MH_ERROR, MH_ERROR_INVALID,
                                                "%s: %s", command, error->message);
        mhCmdPrintError(wrapped);
        return false;
    }
    if (uri)
        global->connect_uri = g_steal_pointer(&uri);   /* lives for the process */
    return true;
}

static void
mhCmdFamilyUsage(const MhCmdFamily *family, FILE *out)
{
    fprintf(out, "%s", _(family->usage));
    for (const MhCmd *sub = family->subs; sub->name; sub++)
        fprintf(out, "  %-*s %s\n", family->width, sub->name, _(sub->summary));
}

int
mhCmdFamilyRun(const MhCmdFamily *family, MhCmdGlobal *global, int argc, char **argv)
{
    if (argc < 2) {
        mhCmdFamilyUsage(family, stderr);
        return MH_EXIT_FAIL;
    }
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h")) {
        mhCmdFamilyUsage(family, stdout);
        return MH_EXIT_OK;
    }
    for (const MhCmd *sub = family->subs; sub->name; sub++) {
        if (g_str_equal(sub->name, argv[1]))
            return sub->run(global, argc - 1, argv + 1);
    }
    /* The format is the family's own constant, with exactly one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    mhCmdErrorf(_(family->unknown), argv[1]);
#pragma GCC diagnostic pop
    if (family->usage_on_unknown)
        mhCmdFamilyUsage(family, stderr);
    return MH_EXIT_FAIL;
}
