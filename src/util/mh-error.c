/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/mh-error.h"

#include <stdarg.h>

GQuark
mhErrorQuark(void)
{
    return g_quark_from_static_string("mirror-helper-error-quark");
}

void
mhErrorPrefix(GError **error, const char *format, ...)
{
    va_list ap;
    g_autofree char *prefix = NULL;

    if (!error || !*error)
        return;

    va_start(ap, format);
    prefix = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_prefix_error(error, "%s", prefix);
}
