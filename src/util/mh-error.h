/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The project's single error path: every failure is a GError in MH_ERROR
 * whose message is already translated, so callers only ever print it. */
#pragma once

#include <glib.h>

#define MH_ERROR (mhErrorQuark())

typedef enum {
    MH_ERROR_FAILED,        /* anything without a better code */
    MH_ERROR_INVALID,       /* bad input: XML, option, value, file content */
    MH_ERROR_IO,            /* a file or socket could not be used */
    MH_ERROR_CRYPTO,        /* a primitive failed inside OpenSSL */
    MH_ERROR_AUTH,          /* a MAC, tag or signature did not verify */
    MH_ERROR_STATE,         /* the operation is not allowed in this state */
    MH_ERROR_LIBVIRT,       /* libvirt reported an error */
    MH_ERROR_UNSUPPORTED,   /* valid but not supported here */
} MhErrorCode;

GQuark mhErrorQuark(void);

/* Prefix an existing error with context ("file.xml: ..."); no-op on NULL. */
void mhErrorPrefix(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);
