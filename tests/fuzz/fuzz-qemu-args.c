/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's reading and rewriting of a command line (arguments separated
 * by NUL bytes): parsed or refused with an error, and a parsed one always
 * builds. */
#include "sim/qemu/mh-qemu-args.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    g_autoptr(MhQemuArgs) args = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) out = NULL;

    for (size_t i = 0, start = 0; i <= size; i++) {
        if (i == size || data[i] == '\0') {
            g_ptr_array_add(argv, g_strndup((const char *)data + start, i - start));
            start = i + 1;
        }
    }
    g_ptr_array_set_free_func(argv, g_free);
    args = mhQemuArgsParse(argv->len, (char *const *)argv->pdata, &err);
    if (!args) {
        g_assert(err && err->message);
        return 0;
    }
    for (guint i = 0; i < args->monitors->len; i++)
        ((MhQemuMonitor *)g_ptr_array_index(args->monitors, i))->qemu_fd = 100 + i;
    args->ram_fd = 99;
    out = mhQemuArgsBuild(args, "qemu-system-x86_64", &err);
    g_assert(out || (err && err->message));
    return 0;
}
