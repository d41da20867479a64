/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource oracles for the fuzz targets that open sockets: every input
 * gives back the file descriptors it took, and memory does not creep up
 * over many inputs (a leak that ASan's leak check cannot see because the
 * memory is still reachable, e.g. a queue that is never emptied). */
#pragma once

#include <dirent.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/allocator_interface.h>
#define MH_FUZZ_HAVE_ASAN 1
#endif
#endif

/* Memory may grow this much over the first measurement (libFuzzer's
 * corpus and GLib's caches included). */
#define MH_FUZZ_MEMORY_SLACK ((size_t)32 << 20)
#define MH_FUZZ_MEMORY_EVERY 1000

/* Open file descriptors of the process (the directory's own included,
 * the same each time). */
static inline int
mhFuzzCountFds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        abort();
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static inline void
mhFuzzCheckFds(int before, const char *what)
{
    int after = mhFuzzCountFds();

    if (after != before) {
        /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
        fprintf(stderr, "%s: %d file descriptors open before the input, %d after\n", what,
                before, after);
        abort();
    }
}

static inline size_t
mhFuzzAllocated(void)
{
#ifdef MH_FUZZ_HAVE_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* Call once per input: every MH_FUZZ_MEMORY_EVERY inputs, compare the
 * heap in use with the first measurement. */
static inline void
mhFuzzCheckMemory(const char *what)
{
    static size_t runs, first;
    size_t now;

    if (++runs % MH_FUZZ_MEMORY_EVERY != 0)
        return;
    now = mhFuzzAllocated();
    if (!first) {
        first = now;
        return;
    }
    if (now > first + MH_FUZZ_MEMORY_SLACK) {
        fprintf(stderr, "%s: %zu bytes in use after %zu inputs, %zu after %d\n", what, now,
                runs, first, MH_FUZZ_MEMORY_EVERY);
        abort();
    }
}
