/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP input splitter: no crash, every value inside the input, and
 * the same values and errors however the input arrives (in one piece, or
 * cut where the first byte says). */
#include "sim/qemu/mh-qmp-split.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed 'data' in pieces of 'step' bytes; the results, one line each. */
static GString *
split(const uint8_t *data, size_t size, size_t step)
{
    MhQmpSplitter s = { 0 };
    GString *buf = g_string_new(NULL);
    GString *out = g_string_new(NULL);

    for (size_t fed = 0;;) {
        size_t start = 0, end = 0;
        const char *error = NULL;
        MhQmpSplitResult r;

        if (fed < size) {
            size_t n = MIN(step, size - fed);
            g_string_append_len(buf, (const char *)data + fed, n);
            fed += n;
        }
        while ((r = mhQmpSplitNext(&s, buf->str, buf->len, &start, &end, &error)) !=
               MH_QMP_SPLIT_MORE) {
            g_assert(end <= buf->len);
            if (r == MH_QMP_SPLIT_VALUE) {
                g_assert(start < end);
                g_string_append_len(out, buf->str + start, end - start);
                g_string_append_c(out, '\n');
            } else {
                g_string_append_printf(out, "error: %s\n", error);
            }
            g_string_erase(buf, 0, end);
            mhQmpSplitConsumed(&s, end);
        }
        g_assert(end <= buf->len);
        g_string_erase(buf, 0, end);
        mhQmpSplitConsumed(&s, end);
        if (fed >= size)
            break;
    }
    g_string_free(buf, TRUE);
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step = size ? data[0] % 17 + 1 : 1;
    GString *whole = split(data, size, size ? size : 1);
    GString *pieces = split(data, size, step);

    if (!g_string_equal(whole, pieces)) {
        /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
        fprintf(stderr, "split differs with pieces of %zu bytes:\n%s\n---\n%s\n", step,
                whole->str, pieces->str);
        abort();
    }
    g_string_free(whole, TRUE);
    g_string_free(pieces, TRUE);
    return 0;
}
